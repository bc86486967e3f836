/* sip_registrar - see sip_registrar.h. */
#include "td_str.h"
#include "sip_registrar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_aor {
    struct s_aor *next;
    uint64_t hash;
    size_t n;
    sip_binding_t b[SIP_REGISTRAR_MAX_CONTACTS];
    char name[];
} s_aor_t;

struct sip_registrar {
    s_aor_t **buckets;
    size_t nbuckets;        /* power of two */
    size_t naors, nbindings;
};

sip_registrar_t *sip_registrar_new(void)
{
    sip_registrar_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->nbuckets = 1024;
    self->buckets = calloc(self->nbuckets, sizeof *self->buckets);
    if (!self->buckets) {
        free(self);
        return NULL;
    }
    return self;
}

void sip_registrar_destroy(sip_registrar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_registrar_t *self = *self_p;
    for (size_t i = 0; i < self->nbuckets; i++)
        while (self->buckets[i]) {
            s_aor_t *a = self->buckets[i];
            self->buckets[i] = a->next;
            free(a);
        }
    free(self->buckets);
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
    a->b[i] = a->b[--a->n];
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

int sip_registrar_update(sip_registrar_t *self, const char *aor, const char *contact,
                         const struct sockaddr_in *dest, int expires, long now,
                         const char *call_id, unsigned cseq)
{
    if (!self || !aor || !contact || strlen(contact) >= sizeof ((sip_binding_t *)0)->uri)
        return -1;
    if (!call_id)
        call_id = "";
    uint64_t h = td_str_hash(aor);
    s_aor_t **pp = s_slot(self, aor, h), *a = *pp;
    size_t i = 0;
    if (a)
        for (i = 0; i < a->n && strcmp(a->b[i].uri, contact) != 0; i++)
            ;
    if (a && i < a->n && strcmp(a->b[i].call_id, call_id) == 0 && cseq <= a->b[i].cseq)
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
                if (a->b[k].expires_at < a->b[first].expires_at)
                    first = k;
            i = first;
        } else {
            a->n++;
            self->nbindings++;
        }
        memset(&a->b[i], 0, sizeof a->b[i]);
        strcpy(a->b[i].uri, contact);
    }
    sip_binding_t *b = &a->b[i];
    if (dest)
        b->dest = *dest;
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
    return 0;
}

void sip_registrar_remove_all(sip_registrar_t *self, const char *aor)
{
    if (!self || !aor)
        return;
    s_aor_t **pp = s_slot(self, aor, td_str_hash(aor));
    if (!*pp)
        return;
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
        if (a->b[i].expires_at > now)
            out[n++] = &a->b[i];
    return n;
}

const sip_binding_t *sip_registrar_lookup(sip_registrar_t *self, const char *aor, long now)
{
    if (!self || !aor)
        return NULL;
    s_aor_t *a = *s_slot(self, aor, td_str_hash(aor));
    const sip_binding_t *best = NULL;
    for (size_t i = 0; a && i < a->n; i++)
        if (a->b[i].expires_at > now && (!best || a->b[i].updated_at >= best->updated_at))
            best = &a->b[i];
    return best;
}

size_t sip_registrar_expire(sip_registrar_t *self, long now)
{
    size_t dropped = 0;
    for (size_t k = 0; self && k < self->nbuckets; k++) {
        s_aor_t **pp = &self->buckets[k];
        while (*pp) {
            s_aor_t *a = *pp;
            for (size_t i = a->n; i-- > 0; )
                if (a->b[i].expires_at <= now) {
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

size_t sip_registrar_count(const sip_registrar_t *self)
{
    return self ? self->nbindings : 0;
}

size_t sip_registrar_aors(const sip_registrar_t *self)
{
    return self ? self->naors : 0;
}
