/* sip_registrar - see sip_registrar.h. */
#include "td_str.h"
#include "sip_registrar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct s_aor;

/* A link in one of the two address indexes. pprev points at the previous
 * link's next (or the chain head), so a binding unlinks itself in O(1). */
typedef struct s_link {
    struct s_bind *next;
    struct s_bind **pprev;
} s_link_t;

typedef struct s_bind {
    sip_binding_t pub;              /* first: what sip_registrar_bindings hands out */
    struct s_aor *aor;              /* the owner; AORs never move */
    int any_port;                   /* also indexed by IP alone (insecure=port) */
    s_link_t link[2];               /* S_EXACT, S_IP */
} s_bind_t;

typedef struct s_aor {
    struct s_aor *next;
    uint64_t hash;
    size_t n;
    s_bind_t b[SIP_REGISTRAR_MAX_CONTACTS];
    char name[];
} s_aor_t;

enum { S_EXACT, S_IP };

/* A chain keeps its tail so that a REGISTER appends in O(1): the order of a
 * chain is the order chan_sip's ao2 container walks (link at the end). */
typedef struct {
    s_bind_t *head;
    s_bind_t **tailp;
} s_chain_t;

typedef struct {
    s_chain_t *chains;
    size_t n;                       /* power of two */
    size_t count;                   /* bindings linked in (what sizes it) */
} s_addrix_t;

struct sip_registrar {
    s_aor_t **buckets;
    size_t nbuckets;        /* power of two */
    size_t naors, nbindings;
    s_addrix_t ix[2];       /* S_EXACT: dest ip:port; S_IP: dest ip, any_port bindings */
};

/* ---- the address indexes ------------------------------------------------------ */

static uint64_t s_key(const struct sockaddr_in *a, int which)
{
    uint64_t k = a->sin_addr.s_addr;
    if (which == S_EXACT)
        k = (k << 16) | a->sin_port;
    return k * 0x9e3779b97f4a7c15ull;
}

static int s_ix_init(s_addrix_t *ix, size_t n)
{
    ix->chains = calloc(n, sizeof *ix->chains);
    if (!ix->chains)
        return -1;
    ix->n = n;
    ix->count = 0;
    for (size_t i = 0; i < n; i++)
        ix->chains[i].tailp = &ix->chains[i].head;
    return 0;
}

static s_chain_t *s_chain(s_addrix_t *ix, const s_bind_t *b, int which)
{
    return &ix->chains[(s_key(&b->pub.dest, which) >> 20) & (ix->n - 1)];
}

static void s_ix_append(sip_registrar_t *self, s_bind_t *b, int which)
{
    s_chain_t *c = s_chain(&self->ix[which], b, which);
    s_link_t *l = &b->link[which];
    l->next = NULL;
    l->pprev = c->tailp;
    *c->tailp = b;
    c->tailp = &l->next;
    self->ix[which].count++;
}

static void s_ix_remove(sip_registrar_t *self, s_bind_t *b, int which)
{
    s_link_t *l = &b->link[which];
    if (!l->pprev)
        return;
    self->ix[which].count--;
    *l->pprev = l->next;
    if (l->next)
        l->next->link[which].pprev = l->pprev;
    else
        s_chain(&self->ix[which], b, which)->tailp = l->pprev;
    l->next = NULL;
    l->pprev = NULL;
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

/* The binding at *from moved (struct copy) to *to: repoint its neighbours. */
static void s_relocate(sip_registrar_t *self, s_bind_t *to)
{
    for (int w = S_EXACT; w <= S_IP; w++) {
        s_link_t *l = &to->link[w];
        if (!l->pprev)
            continue;
        *l->pprev = to;
        if (l->next)
            l->next->link[w].pprev = &l->next;
        else
            s_chain(&self->ix[w], to, w)->tailp = &l->next;
    }
}

/* Double an index once it holds twice as many bindings as chains; the order
 * within a chain is kept (it is walked head to tail). */
static void s_ix_grow(sip_registrar_t *self, int which)
{
    s_addrix_t old = self->ix[which];
    if (s_ix_init(&self->ix[which], old.n * 2) < 0) {
        self->ix[which] = old;              /* longer chains, still correct */
        return;
    }
    for (size_t i = 0; i < old.n; i++)
        for (s_bind_t *b = old.chains[i].head, *next; b; b = next) {
            next = b->link[which].next;
            s_ix_append(self, b, which);
        }
    free(old.chains);
}

/* ---- the AOR table ------------------------------------------------------------ */

sip_registrar_t *sip_registrar_new(void)
{
    sip_registrar_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->nbuckets = 1024;
    self->buckets = calloc(self->nbuckets, sizeof *self->buckets);
    if (!self->buckets || s_ix_init(&self->ix[S_EXACT], 1024) < 0
        || s_ix_init(&self->ix[S_IP], 64) < 0) {
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
    for (size_t i = 0; self->buckets && i < self->nbuckets; i++)
        while (self->buckets[i]) {
            s_aor_t *a = self->buckets[i];
            self->buckets[i] = a->next;
            free(a);
        }
    free(self->buckets);
    free(self->ix[S_EXACT].chains);
    free(self->ix[S_IP].chains);
    free(self);
    *self_p = NULL;
}

static s_aor_t **s_slot(sip_registrar_t *self, const char *aor, uint64_t h)
{
    s_aor_t **pp = &self->buckets[h & (self->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && strcmp((*pp)->name, aor) == 0))
        pp = &(*pp)->next;
    return pp;
}

static void s_grow(sip_registrar_t *self)
{
    size_t n = self->nbuckets * 2;
    s_aor_t **b = calloc(n, sizeof *b);
    if (!b)
        return;                             /* longer chains, still correct */
    for (size_t i = 0; i < self->nbuckets; i++)
        while (self->buckets[i]) {
            s_aor_t *a = self->buckets[i];
            self->buckets[i] = a->next;
            a->next = b[a->hash & (n - 1)];
            b[a->hash & (n - 1)] = a;
        }
    free(self->buckets);
    self->buckets = b;
    self->nbuckets = n;
}

static void s_drop(sip_registrar_t *self, s_aor_t *a, size_t i)
{
    s_unindex(self, &a->b[i]);
    if (i != --a->n) {
        a->b[i] = a->b[a->n];
        s_relocate(self, &a->b[i]);
    }
    self->nbindings--;
}

/* Unlink and free the AOR at *pp if it has no binding left. */
static void s_reap(sip_registrar_t *self, s_aor_t **pp)
{
    s_aor_t *a = *pp;
    if (a && a->n == 0) {
        *pp = a->next;
        free(a);
        self->naors--;
    }
}

sip_binding_t *sip_registrar_find(sip_registrar_t *self, const char *aor, const char *contact)
{
    if (!self || !aor || !contact)
        return NULL;
    s_aor_t *a = *s_slot(self, aor, td_str_hash(aor));
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
    s_aor_t *a = *s_slot(self, aor, td_str_hash(aor));
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
    uint64_t h = td_str_hash(aor);
    s_aor_t **pp = s_slot(self, aor, h), *a = *pp;
    size_t i = 0;
    if (a)
        for (i = 0; i < a->n && strcmp(a->b[i].pub.uri, contact) != 0; i++)
            ;
    if (a && i < a->n && strcmp(a->b[i].pub.call_id, call_id) == 0 && cseq <= a->b[i].pub.cseq)
        return 1;                           /* an older REGISTER arriving late */
    if (expires <= 0) {
        if (a && i < a->n) {
            s_drop(self, a, i);
            s_reap(self, pp);
        }
        return 0;
    }
    if (!a) {
        size_t len = strlen(aor);
        a = calloc(1, sizeof *a + len + 1);
        if (!a)
            return -1;
        memcpy(a->name, aor, len + 1);
        a->hash = h;
        a->next = self->buckets[h & (self->nbuckets - 1)];
        self->buckets[h & (self->nbuckets - 1)] = a;
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
    if (self->naors > self->nbuckets * 2)
        s_grow(self);
    for (int w = S_EXACT; w <= S_IP; w++)
        if (self->ix[w].count > self->ix[w].n * 2)
            s_ix_grow(self, w);
    return 0;
}

void sip_registrar_remove_all(sip_registrar_t *self, const char *aor)
{
    if (!self || !aor)
        return;
    s_aor_t **pp = s_slot(self, aor, td_str_hash(aor));
    if (!*pp)
        return;
    for (size_t i = 0; i < (*pp)->n; i++)
        s_unindex(self, &(*pp)->b[i]);
    self->nbindings -= (*pp)->n;
    (*pp)->n = 0;
    s_reap(self, pp);
}

size_t sip_registrar_bindings(sip_registrar_t *self, const char *aor, long now,
                              const sip_binding_t **out, size_t max)
{
    if (!self || !aor)
        return 0;
    s_aor_t *a = *s_slot(self, aor, td_str_hash(aor));
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
    s_aor_t *a = *s_slot(self, aor, td_str_hash(aor));
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
    s_bind_t probe;
    probe.pub.dest = *src;
    size_t n = 0;
    for (s_bind_t *b = s_chain(&self->ix[w], &probe, w)->head; b && n < max;
         b = b->link[w].next) {
        const struct sockaddr_in *d = &b->pub.dest;
        if (d->sin_addr.s_addr != src->sin_addr.s_addr || b->pub.expires_at <= now
            || (!ip_only && d->sin_port != src->sin_port))
            continue;
        size_t k = 0;
        while (k < n && out[k] != b->aor->name)     /* one AOR, several contacts there */
            k++;
        if (k == n)
            out[n++] = b->aor->name;
    }
    return n;
}

size_t sip_registrar_expire(sip_registrar_t *self, long now)
{
    size_t dropped = 0;
    for (size_t k = 0; self && k < self->nbuckets; k++) {
        s_aor_t **pp = &self->buckets[k];
        while (*pp) {
            s_aor_t *a = *pp;
            for (size_t i = a->n; i-- > 0; )
                if (a->b[i].pub.expires_at <= now) {
                    s_drop(self, a, i);
                    dropped++;
                }
            if (a->n == 0)
                s_reap(self, pp);
            else
                pp = &a->next;
        }
    }
    return dropped;
}

size_t sip_registrar_prune(sip_registrar_t *self, int (*keep)(void *arg, const char *aor),
                           void *arg)
{
    size_t dropped = 0;
    for (size_t k = 0; self && k < self->nbuckets; k++) {
        s_aor_t **pp = &self->buckets[k];
        while (*pp) {
            s_aor_t *a = *pp;
            if (keep(arg, a->name)) {
                pp = &a->next;
                continue;
            }
            for (size_t i = a->n; i-- > 0; ) {
                s_drop(self, a, i);
                dropped++;
            }
            s_reap(self, pp);
        }
    }
    return dropped;
}

size_t sip_registrar_count(const sip_registrar_t *self)
{
    return self ? self->nbindings : 0;
}

size_t sip_registrar_aors(const sip_registrar_t *self)
{
    return self ? self->naors : 0;
}
