/* sip_registrar - see sip_registrar.h. */
#include "td_hash.h"
#include "td_map.h"
#include "sip_registrar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct s_aor;

typedef struct s_bind {
    sip_binding_t pub;              /* first: what sip_registrar_bindings hands out */
    struct s_aor *aor;              /* the owner; AORs never move */
    int any_port;                   /* also indexed by IP alone (insecure=port) */
    td_map_node_t link[2];          /* in ix[S_EXACT], ix[S_IP] */
    unsigned char linked[2];        /* ...when set */
} s_bind_t;

typedef struct s_aor {
    td_map_node_t node;             /* in aors, by name */
    size_t n;
    s_bind_t b[SIP_REGISTRAR_MAX_CONTACTS];
    char name[];
} s_aor_t;

enum { S_EXACT, S_IP };

/* Both address indexes append (td_map_append), so the bindings of one
 * address are walked in the order chan_sip's ao2 container walks (link at
 * the end). Keys are the seeded td_hash of the address (and port), so a
 * /16 of registering phones does not share a chain. */
struct sip_registrar {
    td_map_t aors;          /* s_aor_t by name */
    size_t naors, nbindings;
    td_map_t ix[2];         /* S_EXACT: dest ip:port; S_IP: dest ip, any_port bindings */
    sip_registrar_gone_fn *on_gone;     /* an AOR lost its last binding (expire, prune) */
    void *gone_arg;
};

/* ---- the address indexes ------------------------------------------------------ */

static uint64_t s_key(const struct sockaddr_in *a, int which)
{
    td_hash_t h;
    td_hash_begin(&h);
    td_hash_add(&h, &a->sin_addr.s_addr, sizeof a->sin_addr.s_addr);
    if (which == S_EXACT)
        td_hash_add(&h, &a->sin_port, sizeof a->sin_port);
    return td_hash_end(&h);
}

static s_bind_t *s_bind_of(const td_map_node_t *n, int which)
{
    return which == S_EXACT ? TD_MAP_ENTRY(n, s_bind_t, link[S_EXACT])
                            : TD_MAP_ENTRY(n, s_bind_t, link[S_IP]);
}

static int s_exact_eq(const td_map_node_t *n, const void *key)
{
    const struct sockaddr_in *d = &s_bind_of(n, S_EXACT)->pub.dest, *k = key;
    return d->sin_addr.s_addr == k->sin_addr.s_addr && d->sin_port == k->sin_port;
}

static int s_ip_eq(const td_map_node_t *n, const void *key)
{
    const struct sockaddr_in *d = &s_bind_of(n, S_IP)->pub.dest, *k = key;
    return d->sin_addr.s_addr == k->sin_addr.s_addr;
}

static int s_aor_eq(const td_map_node_t *n, const void *key)
{
    return strcmp(TD_MAP_ENTRY(n, s_aor_t, node)->name, key) == 0;
}

static void s_ix_append(sip_registrar_t *self, s_bind_t *b, int which)
{
    td_map_append(&self->ix[which], &b->link[which], s_key(&b->pub.dest, which));
    b->linked[which] = 1;
}

static void s_ix_remove(sip_registrar_t *self, s_bind_t *b, int which)
{
    if (!b->linked[which])
        return;
    td_map_remove(&self->ix[which], &b->link[which]);
    b->linked[which] = 0;
}

/* Put b in the indexes it belongs to, at the end of its chains. */
static void s_index(sip_registrar_t *self, s_bind_t *b)
{
    s_ix_append(self, b, S_EXACT);
    if (b->any_port)
        s_ix_append(self, b, S_IP);
}

static void s_unindex(sip_registrar_t *self, s_bind_t *b)
{
    s_ix_remove(self, b, S_EXACT);
    s_ix_remove(self, b, S_IP);
}

/* The binding at *from moved (struct copy) to *to: repoint its chains. */
static void s_relocate(sip_registrar_t *self, const s_bind_t *from, s_bind_t *to)
{
    for (int w = S_EXACT; w <= S_IP; w++)
        if (to->linked[w])
            td_map_moved(&self->ix[w], &from->link[w], &to->link[w]);
}

/* ---- the AOR table ------------------------------------------------------------ */

sip_registrar_t *sip_registrar_new(void)
{
    sip_registrar_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (td_map_init(&self->aors, 1024, s_aor_eq) < 0
        || td_map_init(&self->ix[S_EXACT], 1024, s_exact_eq) < 0
        || td_map_init(&self->ix[S_IP], 64, s_ip_eq) < 0) {
        sip_registrar_destroy(&self);
        return NULL;
    }
    return self;
}

void sip_registrar_destroy(sip_registrar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_registrar_t *self = *self_p;
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->aors, &cur), *next; n; n = next) {
        next = td_map_next(&self->aors, n, &cur);
        free(TD_MAP_ENTRY(n, s_aor_t, node));
    }
    td_map_fini(&self->aors);
    td_map_fini(&self->ix[S_EXACT]);
    td_map_fini(&self->ix[S_IP]);
    free(self);
    *self_p = NULL;
}

static s_aor_t *s_find(sip_registrar_t *self, const char *aor)
{
    td_map_node_t *n = td_map_find(&self->aors, td_hash_str(aor), aor);
    return n ? TD_MAP_ENTRY(n, s_aor_t, node) : NULL;
}

static void s_drop(sip_registrar_t *self, s_aor_t *a, size_t i)
{
    s_unindex(self, &a->b[i]);
    if (i != --a->n) {
        a->b[i] = a->b[a->n];
        s_relocate(self, &a->b[a->n], &a->b[i]);
    }
    self->nbindings--;
}

/* Unlink and free the AOR a if it has no binding left. */
static void s_reap(sip_registrar_t *self, s_aor_t *a)
{
    if (a && a->n == 0) {
        td_map_remove(&self->aors, &a->node);
        free(a);
        self->naors--;
    }
}

sip_binding_t *sip_registrar_find(sip_registrar_t *self, const char *aor, const char *contact)
{
    if (!self || !aor || !contact)
        return NULL;
    s_aor_t *a = s_find(self, aor);
    for (size_t i = 0; a && i < a->n; i++)
        if (strcmp(a->b[i].pub.uri, contact) == 0)
            return &a->b[i].pub;
    return NULL;
}

int sip_registrar_set_path(sip_registrar_t *self, const char *aor, const char *contact,
                           const char *path)
{
    if (!self || !aor || !contact)
        return -1;
    s_aor_t *a = s_find(self, aor);
    for (size_t i = 0; a && i < a->n; i++) {
        sip_binding_t *b = &a->b[i].pub;
        if (strcmp(b->uri, contact) != 0)
            continue;
        size_t len = path ? strlen(path) : 0;
        if (len >= sizeof b->path) {
            b->path[0] = '\0';
            return -1;
        }
        memcpy(b->path, path ? path : "", len + 1);
        return 0;
    }
    return -1;
}

int sip_registrar_update(sip_registrar_t *self, const char *aor, const char *contact,
                         const struct sockaddr_in *dest, int expires, long now,
                         const char *call_id, unsigned cseq, int any_port)
{
    if (!self || !aor || !contact || strlen(contact) >= sizeof ((sip_binding_t *)0)->uri)
        return -1;
    if (!call_id)
        call_id = "";
    s_aor_t *a = s_find(self, aor);
    size_t i = 0;
    if (a)
        for (i = 0; i < a->n && strcmp(a->b[i].pub.uri, contact) != 0; i++)
            ;
    if (a && i < a->n && strcmp(a->b[i].pub.call_id, call_id) == 0 && cseq <= a->b[i].pub.cseq)
        return 1;                           /* an older REGISTER arriving late */
    if (expires <= 0) {
        if (a && i < a->n) {
            s_drop(self, a, i);
            s_reap(self, a);
        }
        return 0;
    }
    if (!a) {
        size_t len = strlen(aor);
        a = calloc(1, sizeof *a + len + 1);
        if (!a)
            return -1;
        memcpy(a->name, aor, len + 1);
        td_map_insert(&self->aors, &a->node, td_hash_str(a->name));
        self->naors++;
        i = 0;
    }
    if (i == a->n) {
        if (a->n == SIP_REGISTRAR_MAX_CONTACTS) {
            size_t first = 0;
            for (size_t k = 1; k < a->n; k++)
                if (a->b[k].pub.expires_at < a->b[first].pub.expires_at)
                    first = k;
            i = first;
            s_unindex(self, &a->b[i]);
        } else {
            a->n++;
            self->nbindings++;
        }
        memset(&a->b[i], 0, sizeof a->b[i]);
        strcpy(a->b[i].pub.uri, contact);
        a->b[i].aor = a;
    }
    s_bind_t *sb = &a->b[i];
    sip_binding_t *b = &sb->pub;
    /* As chan_sip relinks the peer on every REGISTER: out of the address
     * indexes, then back in at the end with the new address. */
    s_unindex(self, sb);
    if (dest)
        b->dest = *dest;
    sb->any_port = any_port;
    s_index(self, sb);
    b->expires_at = now + expires;
    b->updated_at = now;
    size_t cl = strlen(call_id);
    if (cl >= sizeof b->call_id)
        cl = sizeof b->call_id - 1;
    memcpy(b->call_id, call_id, cl);
    b->call_id[cl] = '\0';
    b->cseq = cseq;
    return 0;
}

void sip_registrar_remove_all(sip_registrar_t *self, const char *aor)
{
    if (!self || !aor)
        return;
    s_aor_t *a = s_find(self, aor);
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        s_unindex(self, &a->b[i]);
    self->nbindings -= a->n;
    a->n = 0;
    s_reap(self, a);
}

size_t sip_registrar_bindings(sip_registrar_t *self, const char *aor, long now,
                              const sip_binding_t **out, size_t max)
{
    if (!self || !aor)
        return 0;
    s_aor_t *a = s_find(self, aor);
    size_t n = 0;
    for (size_t i = 0; a && i < a->n && n < max; i++)
        if (a->b[i].pub.expires_at > now)
            out[n++] = &a->b[i].pub;
    return n;
}

const sip_binding_t *sip_registrar_lookup(sip_registrar_t *self, const char *aor, long now)
{
    if (!self || !aor)
        return NULL;
    s_aor_t *a = s_find(self, aor);
    const sip_binding_t *best = NULL;
    for (size_t i = 0; a && i < a->n; i++)
        if (a->b[i].pub.expires_at > now && (!best || a->b[i].pub.updated_at >= best->updated_at))
            best = &a->b[i].pub;
    return best;
}

size_t sip_registrar_at(sip_registrar_t *self, const struct sockaddr_in *src, int ip_only,
                        long now, const char **out, size_t max)
{
    if (!self || !src || !max)
        return 0;
    int w = ip_only ? S_IP : S_EXACT;
    td_map_t *ix = &self->ix[w];
    size_t n = 0;
    for (td_map_node_t *nd = td_map_find(ix, s_key(src, w), src); nd && n < max;
         nd = td_map_find_next(ix, nd, src)) {
        const s_bind_t *b = s_bind_of(nd, w);
        if (b->pub.expires_at <= now)
            continue;
        size_t k = 0;
        while (k < n && out[k] != b->aor->name)     /* one AOR, several contacts there */
            k++;
        if (k == n)
            out[n++] = b->aor->name;
    }
    return n;
}

/* One walk over the AORs for both: without keep, the bindings expired at
 * now go; with it, every binding of an AOR that keep refuses. An AOR left
 * with none is reported gone and freed. */
static size_t s_sweep(sip_registrar_t *self, long now,
                      int (*keep)(void *arg, const char *aor), void *arg)
{
    size_t dropped = 0;
    if (!self)
        return 0;
    size_t cur;
    for (td_map_node_t *nd = td_map_first(&self->aors, &cur), *next; nd; nd = next) {
        next = td_map_next(&self->aors, nd, &cur);
        s_aor_t *a = TD_MAP_ENTRY(nd, s_aor_t, node);
        int all = keep && !keep(arg, a->name);
        if (keep && !all)
            continue;
        for (size_t i = a->n; i-- > 0; )
            if (all || a->b[i].pub.expires_at <= now) {
                s_drop(self, a, i);
                dropped++;
            }
        if (a->n == 0) {
            if (self->on_gone)
                self->on_gone(self->gone_arg, a->name);
            s_reap(self, a);
        }
    }
    return dropped;
}

size_t sip_registrar_expire(sip_registrar_t *self, long now)
{
    return s_sweep(self, now, NULL, NULL);
}

size_t sip_registrar_prune(sip_registrar_t *self, int (*keep)(void *arg, const char *aor),
                           void *arg)
{
    return s_sweep(self, 0, keep, arg);
}

void sip_registrar_set_on_gone(sip_registrar_t *self, sip_registrar_gone_fn *fn, void *arg)
{
    self->on_gone = fn;
    self->gone_arg = arg;
}

long sip_registrar_expiry(sip_registrar_t *self, const char *aor, long now)
{
    if (!self || !aor)
        return 0;
    s_aor_t *a = s_find(self, aor);
    long latest = 0;
    for (size_t i = 0; a && i < a->n; i++)
        if (a->b[i].pub.expires_at > now && a->b[i].pub.expires_at > latest)
            latest = a->b[i].pub.expires_at;
    return latest;
}

void sip_registrar_foreach(sip_registrar_t *self, long now, sip_registrar_aor_fn *fn, void *arg)
{
    if (!self)
        return;
    size_t cur;
    for (td_map_node_t *nd = td_map_first(&self->aors, &cur); nd;
         nd = td_map_next(&self->aors, nd, &cur)) {
        const s_aor_t *a = TD_MAP_ENTRY(nd, s_aor_t, node);
        long e = sip_registrar_expiry(self, a->name, now);
        if (e)
            fn(arg, a->name, e);
    }
}

size_t sip_registrar_count(const sip_registrar_t *self)
{
    return self ? self->nbindings : 0;
}

size_t sip_registrar_aors(const sip_registrar_t *self)
{
    return self ? self->naors : 0;
}
