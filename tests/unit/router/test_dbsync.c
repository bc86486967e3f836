/* Unit tests for dbsync: two routers' DB() caches and globals shared
 * through a real redis-server (tests/unit/lib/redis_server.h): a change on
 * one reaches Redis and the other at once, deletes too, a router's own
 * messages do not undo its later writes, a router started later loads
 * everything, and after a hung Redis (SIGSTOP) the writes made meanwhile
 * (before the outage was noticed, and after) are replayed and the other
 * router reloads (dropping a key Redis lacks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "../lib/redis_server.h"

#include "astdb.h"
#include "chanvars.h"
#include "dbsync.h"
#include "td_log.h"
#include "td_store.h"

typedef struct {
    td_store_t *store;
    astdb_t *db;
    chanvars_t *globals;
    dbsync_t *sync;
} t_router_t;

static struct event_base *g_base;

static void s_router_new(t_router_t *r, const char *identity)
{
    td_store_conf_t conf = { .enabled = 1, .port = g_port };
    snprintf(conf.host, sizeof conf.host, "127.0.0.1");
    r->db = astdb_open(NULL);
    r->globals = chanvars_new();
    r->store = td_store_new(g_base, &conf, identity);
    assert_non_null(r->db);
    assert_non_null(r->store);
    r->sync = dbsync_new(r->store, r->db, &r->globals, identity);
    assert_non_null(r->sync);
}

static void s_router_destroy(t_router_t *r)
{
    td_store_destroy(&r->store);
    dbsync_destroy(&r->sync);
    chanvars_destroy(&r->globals);
    astdb_close(&r->db);
}

static void s_run_ms(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_base_loopexit(g_base, &tv);
    event_base_dispatch(g_base);
}

/* Run until db has key = want (NULL: has no key), 5 s at most. */
static int s_wait_db(t_router_t *r, const char *key, const char *want)
{
    for (int i = 0; i < 250; i++) {
        const char *v = astdb_find(r->db, key);
        if (want ? v && !strcmp(v, want) : !v)
            return 0;
        s_run_ms(20);
    }
    return -1;
}

static int s_wait_global(t_router_t *r, const char *name, const char *want)
{
    for (int i = 0; i < 250; i++) {
        const char *v = chanvars_get(r->globals, name);
        if (v && !strcmp(v, want))
            return 0;
        s_run_ms(20);
    }
    return -1;
}

/* Both up, loaded, subscribed. */
static void s_wait_ready(t_router_t *a, t_router_t *b)
{
    for (int i = 0; i < 250; i++) {
        if (td_store_up(a->store) && td_store_up(b->store) && dbsync_counts(a->sync)->reloads
            && dbsync_counts(b->sync)->reloads)
            break;
        s_run_ms(20);
    }
    assert_true(td_store_up(a->store) && td_store_up(b->store));
    s_run_ms(1500);               /* the subscriber connections come on the next tick */
}

static char *s_redis_get(const char *key)
{
    redisContext *c = redisConnect("127.0.0.1", g_port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "GET %s", key);
    char *v = r && r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

static void test_share(void **state)
{
    (void)state;
    t_router_t a, b;
    s_router_new(&a, "router-a");
    s_router_new(&b, "router-b");
    s_wait_ready(&a, &b);

    assert_int_equal(astdb_put(a.db, "fam", "k", "v1"), 0);
    assert_int_equal(s_wait_db(&b, "fam/k", "v1"), 0);
    char *v = s_redis_get("tandem:db:fam/k");
    assert_non_null(v);
    assert_string_equal(v, "v1");
    free(v);

    chanvars_put(a.globals, "g", "x");
    dbsync_global_changed(a.sync, "g", "x");
    assert_int_equal(s_wait_global(&b, "g", "x"), 0);
    v = s_redis_get("tandem:global:g");
    assert_string_equal(v, "x");
    free(v);

    assert_int_equal(astdb_del(a.db, "fam", "k"), 0);
    assert_int_equal(s_wait_db(&b, "fam/k", NULL), 0);
    assert_null(s_redis_get("tandem:db:fam/k"));

    /* quick successive writes: the echo of the first must not win */
    for (int i = 0; i < 20; i++) {
        char n[8];
        snprintf(n, sizeof n, "%d", i);
        astdb_put(b.db, "fam", "seq", n);
    }
    s_run_ms(300);
    assert_string_equal(astdb_find(b.db, "fam/seq"), "19");
    assert_int_equal(s_wait_db(&a, "fam/seq", "19"), 0);

    /* a router started now loads what is there */
    t_router_t c;
    s_router_new(&c, "router-c");
    assert_int_equal(s_wait_db(&c, "fam/seq", "19"), 0);
    assert_int_equal(s_wait_global(&c, "g", "x"), 0);
    s_router_destroy(&c);

    s_router_destroy(&a);
    s_router_destroy(&b);
}

static void test_hung_redis(void **state)
{
    (void)state;
    t_router_t a, b;
    s_router_new(&a, "router-a");
    s_router_new(&b, "router-b");
    s_wait_ready(&a, &b);
    astdb_put(a.db, "fam", "before", "1");
    assert_int_equal(s_wait_db(&b, "fam/before", "1"), 0);

    kill(g_redis, SIGSTOP);
    /* written before the stores notice: its message goes into a dead
     * connection and is lost, the write itself is replayed */
    assert_int_equal(astdb_put(a.db, "fam", "early", "3"), 0);
    for (int i = 0; i < 300 && (td_store_up(a.store) || td_store_up(b.store)); i++)
        s_run_ms(20);
    assert_false(td_store_up(a.store));
    assert_false(td_store_up(b.store));
    /* written on a while Redis is away: kept, replayed; b must reload */
    assert_int_equal(astdb_put(a.db, "fam", "during", "2"), 0);
    assert_string_equal(astdb_find(a.db, "fam/during"), "2");   /* reads go on */
    /* something b holds that Redis does not: dropped by b's reload */
    astdb_apply(b.db, "fam/stale", "x");
    kill(g_redis, SIGCONT);

    assert_int_equal(s_wait_db(&b, "fam/during", "2"), 0);
    assert_int_equal(s_wait_db(&b, "fam/early", "3"), 0);
    assert_int_equal(s_wait_db(&b, "fam/stale", NULL), 0);
    assert_string_equal(astdb_find(b.db, "fam/before"), "1");
    char *v = s_redis_get("tandem:db:fam/during");
    assert_string_equal(v, "2");
    free(v);
    assert_int_equal(td_store_counts(a.store)->outages, 1);

    s_router_destroy(&a);
    s_router_destroy(&b);
}

/* A Redis killed and started again empty (no persistence): the routers'
 * caches are what is left of the shared DB; they write it back instead of
 * emptying themselves on the reload, and a change made while it was away
 * is there too. */
static void test_redis_restarted_empty(void **state)
{
    (void)state;
    t_router_t a, b;
    s_router_new(&a, "router-a");
    s_router_new(&b, "router-b");
    s_wait_ready(&a, &b);
    astdb_put(a.db, "fam", "kept", "1");
    assert_int_equal(s_wait_db(&b, "fam/kept", "1"), 0);

    s_redis_kill();
    for (int i = 0; i < 300 && (td_store_up(a.store) || td_store_up(b.store)); i++)
        s_run_ms(20);
    assert_false(td_store_up(a.store));
    assert_int_equal(astdb_put(b.db, "fam", "during", "2"), 0);
    assert_int_equal(s_redis_start(), 0);

    uint64_t pushed = dbsync_counts(a.sync)->pushed;
    for (int i = 0; i < 250 && dbsync_counts(a.sync)->pushed == pushed; i++)
        s_run_ms(20);
    assert_true(dbsync_counts(a.sync)->pushed > pushed);
    assert_int_equal(s_wait_db(&a, "fam/during", "2"), 0);
    s_run_ms(300);
    assert_string_equal(astdb_find(a.db, "fam/kept"), "1");
    assert_string_equal(astdb_find(b.db, "fam/kept"), "1");
    char *v = s_redis_get("tandem:db:fam/kept");
    assert_string_equal(v, "1");
    free(v);

    s_router_destroy(&a);
    s_router_destroy(&b);
}

int main(void)
{
    td_log_init("test", LOG_ERR);
    if (s_redis_setup("test_dbsync") < 0)
        return 1;
    g_base = event_base_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_hung_redis),
        cmocka_unit_test(test_redis_restarted_empty),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    event_base_free(g_base);
    if (s_redis_teardown() < 0 && !rc)
        rc = 1;
    return rc;
}
