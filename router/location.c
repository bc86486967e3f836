/* location - see location.h. */
#include "location.h"
#include "strmap.h"
#include "td_log.h"

#include <stdlib.h>
#include <string.h>

#define S_NAME_MAX 64           /* peer and node names kept (sip.conf sections, identities) */

typedef struct {
    char peer[S_NAME_MAX];      /* the map's key */
    char node[S_NAME_MAX];
    time_t expires_at;
} s_entry_t;

struct location {
    strmap_t *map;              /* peer -> s_entry_t, owned */
};

location_t *location_new(void)
{
    location_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->map = strmap_new(256);
    if (!self->map) {
        free(self);
        return NULL;
    }
    return self;
}

static void s_free_one(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    free(value);
}

void location_destroy(location_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    location_t *self = *self_p;
    strmap_foreach(self->map, s_free_one, NULL);
    strmap_destroy(&self->map);
    free(self);
    *self_p = NULL;
}

static void s_drop(location_t *self, s_entry_t *e)
{
    strmap_remove(self->map, e->peer);
    free(e);
}

int location_update(location_t *self, const char *peer, const char *node, uint32_t expires,
                    time_t now)
{
    if (!peer || !*peer || !node || !*node || strlen(peer) >= S_NAME_MAX
        || strlen(node) >= S_NAME_MAX) {
        td_log(LOG_WARNING, "Location of '%s' at '%s': no name, or a name too long: ignored",
               peer ? peer : "", node ? node : "");
        return -1;
    }
    s_entry_t *e = strmap_get(self->map, peer);
    if (!expires) {
        /* Only the node that holds it lets it go: a phone that moved to
         * another node has its entry there now. */
        if (e && strcmp(e->node, node) == 0)
            s_drop(self, e);
        return 0;
    }
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e)
            return -1;
        memcpy(e->peer, peer, strlen(peer) + 1);
        if (strmap_put(self->map, e->peer, e) < 0) {
            free(e);
            td_log(LOG_ERR, "Location of '%s': out of memory", peer);
            return -1;
        }
    }
    memcpy(e->node, node, strlen(node) + 1);
    e->expires_at = now + (time_t)expires;
    return 0;
}

typedef struct {
    const char *node;
    s_entry_t **list;
    size_t n, cap;
} s_collect_t;

static void s_collect_one(void *arg, const char *key, void *value)
{
    (void)key;
    s_collect_t *c = arg;
    s_entry_t *e = value;
    if (strcmp(e->node, c->node) != 0)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        s_entry_t **l = realloc(c->list, cap * sizeof *l);
        if (!l)
            return;
        c->list = l;
        c->cap = cap;
    }
    c->list[c->n++] = e;
}

size_t location_reset(location_t *self, const char *node)
{
    s_collect_t c = { node, NULL, 0, 0 };
    strmap_foreach(self->map, s_collect_one, &c);
    for (size_t i = 0; i < c.n; i++)
        s_drop(self, c.list[i]);
    free(c.list);
    return c.n;
}

const char *location_node(location_t *self, const char *peer, time_t now)
{
    s_entry_t *e = peer ? strmap_get(self->map, peer) : NULL;
    if (!e)
        return NULL;
    if (e->expires_at <= now) {
        s_drop(self, e);
        return NULL;
    }
    return e->node;
}

typedef struct {
    location_fn *fn;
    void *arg;
} s_each_t;

static void s_each_one(void *arg, const char *key, void *value)
{
    (void)key;
    s_each_t *each = arg;
    const s_entry_t *e = value;
    each->fn(each->arg, e->peer, e->node, e->expires_at);
}

void location_foreach(const location_t *self, location_fn *fn, void *arg)
{
    s_each_t each = { fn, arg };
    strmap_foreach(self->map, s_each_one, &each);
}

size_t location_count(const location_t *self)
{
    return strmap_size(self->map);
}
