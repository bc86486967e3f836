/* dbsync - see dbsync.h. */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "dbsync.h"
#include "strmap.h"
#include "td_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DBSYNC_CHANNEL "dbsync"

typedef struct {
    char *value;
    char key[];                  /* "family/key", the map's key */
} s_kv_t;

struct dbsync {
    td_store_t *store;
    astdb_t *db;
    chanvars_t **globals;
    char origin[96];             /* identity/pid.random: unique per process */
    char mark[128];              /* mark:db:<identity>: Redis did not lose our writes */
    int scans;                   /* reload scans still running */
    int reload_again;            /* an R came during a reload */
    int wrote_while_down;        /* publish failed: ask the others to reload */
    uint64_t changes;            /* local changes since the last on_up */
    uint64_t ups;                /* on_up calls */
    strmap_t *loaded;            /* db reload: key -> s_kv_t (owned) */
    strmap_t *touched;           /* keys changed during a reload (owned keys) */
    dbsync_counts_t counts;
};

static void s_free_kv(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    s_kv_t *kv = value;
    free(kv->value);
    free(kv);
}

static void s_free_key(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    free(value);
}

/* A change while a reload runs: the reload must not undo it. */
static void s_touch(dbsync_t *self, const char *key)
{
    if (!self->scans || !self->touched || strmap_get(self->touched, key))
        return;
    char *k = strdup(key);
    if (k && strmap_put(self->touched, k, k) < 0)
        free(k);
}

static void s_publish(dbsync_t *self, char op, const char *key, const char *value)
{
    size_t kl = key ? strlen(key) : 0, vl = value ? strlen(value) : 0;
    size_t cap = 4 + strlen(self->origin) + kl + vl;
    char stack[512], *msg = cap <= sizeof stack ? stack : malloc(cap);
    if (!msg)
        return;
    int n = snprintf(msg, cap, "%c %s%s%s", op, self->origin, key ? " " : "", key ? key : "");
    size_t len = (size_t)n;
    if (value) {
        msg[len++] = '\n';
        memcpy(msg + len, value, vl);
        len += vl;
    }
    if (td_store_publish(self->store, DBSYNC_CHANNEL, msg, len) < 0)
        self->wrote_while_down = 1;
    else
        self->counts.published++;
    if (msg != stack)
        free(msg);
}

/* Write one change through to Redis and tell the other routers. */
static void s_share(dbsync_t *self, const char *prefix, const char *name, const char *value)
{
    size_t pl = strlen(prefix), nl = strlen(name);
    char stack[256], *key = pl + nl + 1 <= sizeof stack ? stack : malloc(pl + nl + 1);
    if (!key)
        return;
    memcpy(key, prefix, pl);
    memcpy(key + pl, name, nl + 1);
    self->changes++;
    if (value)
        td_store_set(self->store, key, value, strlen(value), 0);
    else
        td_store_del(self->store, key);
    s_publish(self, value ? 'P' : 'D', key, value);
    if (key != stack)
        free(key);
}

static void s_on_db_change(void *arg, const char *key, const char *value)
{
    dbsync_t *self = arg;
    char k[8 + 256];
    snprintf(k, sizeof k, "db:%s", key);
    s_touch(self, k);
    s_share(self, "db:", key, value);
}

void dbsync_global_changed(void *arg, const char *name, const char *value)
{
    dbsync_t *self = arg;
    if (!self)
        return;
    char k[16 + 256];
    snprintf(k, sizeof k, "global:%s", name);
    s_touch(self, k);
    s_share(self, "global:", name, value ? value : "");
}

/* A key ("db:..." or "global:...") set (value) or deleted (NULL) elsewhere. */
static void s_apply(dbsync_t *self, const char *key, const char *value)
{
    if (!strncmp(key, "db:", 3)) {
        const char *old = astdb_find(self->db, key + 3);
        if (value ? !old || strcmp(old, value) : old != NULL)
            astdb_apply(self->db, key + 3, value);
    } else if (!strncmp(key, "global:", 7) && *self->globals && key[7]) {
        if (value)
            chanvars_put(*self->globals, key + 7, value);
        else
            chanvars_set(*self->globals, key + 7, NULL);
    }
}

/* ---- reload ---- */

static void s_reload(dbsync_t *self);

static void s_on_db_value(void *arg, int ok, const char *key, const void *value, size_t len)
{
    dbsync_t *self = arg;
    if (!ok || strncmp(key, "db:", 3) || !self->loaded)
        return;
    size_t kl = strlen(key + 3);
    s_kv_t *kv = malloc(sizeof *kv + kl + 1);
    char *v = malloc(len + 1);
    if (!kv || !v) {
        free(kv);
        free(v);
        return;
    }
    memcpy(kv->key, key + 3, kl + 1);
    memcpy(v, value, len);
    v[len] = '\0';
    kv->value = v;
    s_kv_t *old = strmap_get(self->loaded, kv->key);
    if (strmap_put(self->loaded, kv->key, kv) < 0) {
        s_free_kv(NULL, NULL, kv);
        return;
    }
    if (old)
        s_free_kv(NULL, NULL, old);
}

typedef struct {
    dbsync_t *self;
    char **gone;
    size_t n, cap;
} s_sweep_t;

static void s_find_gone(void *arg, const char *key, const char *value)
{
    (void)value;
    s_sweep_t *s = arg;
    char k[8 + 256];
    snprintf(k, sizeof k, "db:%s", key);
    if (strmap_get(s->self->loaded, key) || strmap_get(s->self->touched, k))
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **g = realloc(s->gone, cap * sizeof *g);
        if (!g)
            return;
        s->gone = g;
        s->cap = cap;
    }
    if ((s->gone[s->n] = strdup(key)))
        s->n++;
}

static void s_take_loaded(void *arg, const char *key, void *value)
{
    dbsync_t *self = arg;
    char k[8 + 256];
    snprintf(k, sizeof k, "db:%s", key);
    if (!strmap_get(self->touched, k))
        s_apply(self, k, ((s_kv_t *)value)->value);
}

static void s_reload_end(dbsync_t *self)
{
    if (--self->scans > 0)
        return;
    strmap_foreach(self->touched, s_free_key, NULL);
    strmap_destroy(&self->touched);
    td_log(LOG_INFO, "dbsync: %zu DB key(s) and %zu global(s) loaded from Redis",
           self->counts.loaded_db, self->counts.loaded_globals);
    if (self->reload_again) {
        self->reload_again = 0;
        s_reload(self);
    }
}

static void s_on_db_done(void *arg, int ok)
{
    dbsync_t *self = arg;
    if (ok) {
        /* keys Redis no longer has go (unless changed since), then the rest */
        s_sweep_t s = { self, NULL, 0, 0 };
        astdb_foreach(self->db, s_find_gone, &s);
        for (size_t i = 0; i < s.n; i++) {
            astdb_apply(self->db, s.gone[i], NULL);
            free(s.gone[i]);
        }
        free(s.gone);
        strmap_foreach(self->loaded, s_take_loaded, self);
        self->counts.loaded_db = strmap_size(self->loaded);
    }
    strmap_foreach(self->loaded, s_free_kv, NULL);
    strmap_destroy(&self->loaded);
    s_reload_end(self);
}

static void s_on_global_value(void *arg, int ok, const char *key, const void *value, size_t len)
{
    dbsync_t *self = arg;
    if (!ok || strncmp(key, "global:", 7) || strmap_get(self->touched, key))
        return;
    char stack[512], *v = len < sizeof stack ? stack : malloc(len + 1);
    if (!v)
        return;
    memcpy(v, value, len);
    v[len] = '\0';
    s_apply(self, key, v);
    self->counts.loaded_globals++;
    if (v != stack)
        free(v);
}

static void s_on_global_done(void *arg, int ok)
{
    (void)ok;
    s_reload_end(arg);
}

static void s_reload(dbsync_t *self)
{
    if (self->scans) {
        self->reload_again = 1;
        return;
    }
    self->loaded = strmap_new(64);
    self->touched = strmap_new(16);
    if (!self->loaded || !self->touched) {
        strmap_destroy(&self->loaded);
        strmap_destroy(&self->touched);
        return;
    }
    self->counts.reloads++;
    self->counts.loaded_db = self->counts.loaded_globals = 0;
    self->scans = 2;
    td_store_scan(self->store, "db:*", NULL, s_on_db_value, s_on_db_done, self);
    td_store_scan(self->store, "global:*", NULL, s_on_global_value, s_on_global_done, self);
}

static void s_push_db(void *arg, const char *key, const char *value)
{
    dbsync_t *self = arg;
    char k[8 + 256];
    if (snprintf(k, sizeof k, "db:%s", key) < (int)sizeof k)
        td_store_set(self->store, k, value, strlen(value), 0);
    self->counts.pushed++;
}

static void s_push_global(void *arg, const char *name, const char *value)
{
    dbsync_t *self = arg;
    char k[16 + 256];
    if (snprintf(k, sizeof k, "global:%s", name) < (int)sizeof k)
        td_store_set(self->store, k, value ? value : "", value ? strlen(value) : 0, 0);
    self->counts.pushed++;
}

/* Redis answered whether it still has our mark (s_on_up). */
static void s_on_checked(void *arg, int lost)
{
    dbsync_t *self = arg;
    if (lost) {
        /* A Redis that restarted empty: our cache is what is left of the
         * shared DB; it goes back in before the reload, which would else
         * empty the cache as well (a fresh Redis: the cache is empty). */
        uint64_t before = self->counts.pushed;
        astdb_foreach(self->db, s_push_db, self);
        if (*self->globals)
            chanvars_foreach(*self->globals, s_push_global, self);
        if (self->counts.pushed > before)
            td_log(LOG_NOTICE, "dbsync: Redis lost the shared DB: %llu DB key(s) and global(s) "
                   "written back from this router's cache",
                   (unsigned long long)(self->counts.pushed - before));
    }
    /* The others missed our messages if a publish failed, or may have if
     * we changed anything since the last time up (a message sent into a
     * connection that then hung is lost; the write itself was replayed). */
    if (self->wrote_while_down || (self->ups && self->changes))
        s_publish(self, 'R', NULL, NULL);
    self->wrote_while_down = 0;
    self->changes = 0;
    self->ups++;
    s_reload(self);
}

static void s_on_up(void *arg)
{
    dbsync_t *self = arg;
    td_store_if_lost(self->store, self->mark, s_on_checked, self);
}

/* ---- messages ---- */

static void s_on_message(void *arg, const char *channel, const void *data, size_t len)
{
    (void)channel;
    dbsync_t *self = arg;
    char stack[1024], *msg = len < sizeof stack ? stack : malloc(len + 1);
    if (!msg)
        return;
    memcpy(msg, data, len);
    msg[len] = '\0';
    char *nl = memchr(msg, '\n', len), *value = NULL;
    if (nl) {
        *nl = '\0';
        value = nl + 1;
    }
    /* "<op> <origin>[ <key>]" */
    char op = msg[0], *origin = msg + 2, *key = NULL;
    if (len < 3 || msg[1] != ' ' || (op != 'P' && op != 'D' && op != 'R'))
        goto bad;
    char *sp = strchr(origin, ' ');
    if (sp) {
        *sp = '\0';
        key = sp + 1;
    }
    if (!strcmp(origin, self->origin))
        goto done;
    if (op == 'R') {
        s_reload(self);
    } else {
        if (!key || !*key || (op == 'P' && !value))
            goto bad;
        s_touch(self, key);
        s_apply(self, key, op == 'P' ? value : NULL);
    }
    self->counts.applied++;
    goto done;
bad:
    td_log(LOG_NOTICE, "dbsync: ignored a malformed message (%zu bytes)", len);
done:
    if (msg != stack)
        free(msg);
}

/* ---- public ---- */

dbsync_t *dbsync_new(td_store_t *store, astdb_t *db, chanvars_t **globals, const char *identity)
{
    dbsync_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->db = db;
    self->globals = globals;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(self->origin, sizeof self->origin, "%s/%ld.%ld", identity, (long)getpid(),
             (long)(ts.tv_nsec ^ (ts.tv_sec << 8)) & 0xffffff);
    snprintf(self->mark, sizeof self->mark, "mark:db:%s", identity);
    for (char *p = self->origin; *p; p++)
        if (*p == ' ' || *p == '\n')
            *p = '_';
    if (td_store_on_up(store, s_on_up, self) < 0
        || td_store_subscribe(store, DBSYNC_CHANNEL, s_on_message, self) < 0) {
        free(self);
        return NULL;
    }
    astdb_on_change(db, s_on_db_change, self);
    return self;
}

void dbsync_destroy(dbsync_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dbsync_t *self = *self_p;
    astdb_on_change(self->db, NULL, NULL);
    if (self->loaded)
        strmap_foreach(self->loaded, s_free_kv, NULL);
    strmap_destroy(&self->loaded);
    if (self->touched)
        strmap_foreach(self->touched, s_free_key, NULL);
    strmap_destroy(&self->touched);
    free(self);
    *self_p = NULL;
}

const dbsync_counts_t *dbsync_counts(const dbsync_t *self)
{
    return &self->counts;
}
