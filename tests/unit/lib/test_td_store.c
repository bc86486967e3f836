/* Unit tests for td_store against a real redis-server (forked on a free
 * port, its own folder, no persistence): writes and reads through the
 * libevent loop, TTLs, SCAN, PUBLISH/SUBSCRIBE, and outages: a killed Redis
 * (writes kept, last one per key winning, replayed after a restart on the
 * same port, the outage counted once, reads answering ok = 0 at once) and a
 * hung one (SIGSTOP: noticed by the missing PING answer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "redis_server.h"

#include <event2/buffer.h>

#include "td_log.h"
#include "td_metrics.h"
#include "td_store.h"
#include "td_store_metrics.h"

/* A plain blocking client, to look at what the store wrote. */
static redisReply *s_cli(const char *fmt, const char *arg)
{
    redisContext *c = redisConnect("127.0.0.1", g_port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *r = redisCommand(c, fmt, arg);
    redisFree(c);
    return r;
}

typedef struct {
    struct event_base *base;
    td_store_t *store;
    int ups;
    int got, got_ok;
    char value[256];
    int hash_n;
    char hash[512];
    int scanned, scan_done, scan_ok;
    int msgs, msgs2;
    char msg[256], msg_channel[64];
} t_state_t;

static void s_on_up(void *arg)
{
    ((t_state_t *)arg)->ups++;
}

static void s_on_get(void *arg, int ok, const char *key, const void *value, size_t len)
{
    t_state_t *t = arg;
    (void)key;
    t->got++;
    t->got_ok = ok;
    if (!value) {
        snprintf(t->value, sizeof t->value, "(null)");
        return;
    }
    len = len < sizeof t->value - 1 ? len : sizeof t->value - 1;
    memcpy(t->value, value, len);             /* binary safe */
    t->value[len] = '\0';
}

static void s_on_hash(void *arg, int ok, const char *key, size_t n, const char *const *f,
                      const char *const *v)
{
    t_state_t *t = arg;
    (void)key;
    t->got++;
    t->got_ok = ok;
    t->hash_n = (int)n;
    t->hash[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(t->hash);
        snprintf(t->hash + l, sizeof t->hash - l, "%s=%s;", f[i], v[i]);
    }
}

static void s_on_scan_value(void *arg, int ok, const char *key, const void *value, size_t len)
{
    t_state_t *t = arg;
    assert_true(ok);
    assert_int_equal(strncmp(key, "s:", 2), 0);
    assert_int_equal(len, 1);
    assert_memory_equal(value, "v", 1);
    t->scanned++;
}

static void s_on_scan_hash(void *arg, int ok, const char *key, size_t n, const char *const *f,
                           const char *const *v)
{
    t_state_t *t = arg;
    (void)f;
    (void)v;
    assert_true(ok);
    assert_int_equal(strncmp(key, "h:", 2), 0);
    assert_int_equal(n, 2);
    t->scanned++;
}

static void s_on_scan_done(void *arg, int ok)
{
    t_state_t *t = arg;
    t->scan_done++;
    t->scan_ok = ok;
}

static void s_on_msg(void *arg, const char *channel, const void *msg, size_t len)
{
    t_state_t *t = arg;
    t->msgs++;
    snprintf(t->msg_channel, sizeof t->msg_channel, "%s", channel);
    snprintf(t->msg, sizeof t->msg, "%.*s", (int)len, (const char *)msg);
}

static void s_on_msg2(void *arg, const char *channel, const void *msg, size_t len)
{
    (void)channel;
    (void)msg;
    (void)len;
    ((t_state_t *)arg)->msgs2++;
}

/* Run the loop until *flag reaches want or ms pass; 0 when it did. */
static int s_run_until(t_state_t *t, const int *flag, int want, int ms)
{
    struct timeval slice = { 0, 20000 };
    for (int waited = 0; waited < ms; waited += 20) {
        if (*flag >= want)
            return 0;
        event_base_loopexit(t->base, &slice);
        event_base_dispatch(t->base);
    }
    return *flag >= want ? 0 : -1;
}

static void s_run_for(t_state_t *t, int ms)
{
    int never = 0;
    s_run_until(t, &never, 1, ms);
}

static int s_setup(void **state)
{
    t_state_t *t = calloc(1, sizeof *t);
    t->base = event_base_new();
    td_store_conf_t conf = { .enabled = 1, .port = g_port };
    snprintf(conf.host, sizeof conf.host, "127.0.0.1");
    t->store = td_store_new(t->base, &conf, "test");
    assert_non_null(t->store);
    td_store_on_up(t->store, s_on_up, t);
    assert_int_equal(s_run_until(t, &t->ups, 1, 5000), 0);
    assert_true(td_store_up(t->store));
    *state = t;
    return 0;
}

static int s_teardown(void **state)
{
    t_state_t *t = *state;
    td_store_destroy(&t->store);
    assert_null(t->store);
    event_base_free(t->base);
    free(t);
    return 0;
}

static void s_get(t_state_t *t, const char *key)
{
    int want = t->got + 1;
    assert_int_equal(td_store_get(t->store, key, s_on_get, t), 0);
    assert_int_equal(s_run_until(t, &t->got, want, 3000), 0);
}

static void s_hgetall(t_state_t *t, const char *key)
{
    int want = t->got + 1;
    assert_int_equal(td_store_hgetall(t->store, key, s_on_hash, t), 0);
    assert_int_equal(s_run_until(t, &t->got, want, 3000), 0);
}

static void test_set_get_del(void **state)
{
    t_state_t *t = *state;
    assert_int_equal(td_store_set(t->store, "t:a", "hello", 5, 0), 0);
    s_get(t, "t:a");
    assert_true(t->got_ok);
    assert_string_equal(t->value, "hello");
    redisReply *r = s_cli("GET %s", "tandem:t:a");           /* the prefix */
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "hello");
    freeReplyObject(r);
    assert_int_equal(td_store_set(t->store, "t:bin", "a\0b", 3, 0), 0);   /* binary safe */
    s_get(t, "t:bin");
    assert_memory_equal(t->value, "a\0b", 3);
    assert_int_equal(td_store_del(t->store, "t:a"), 0);
    s_get(t, "t:a");
    assert_true(t->got_ok);
    assert_string_equal(t->value, "(null)");
    s_get(t, "t:never");
    assert_true(t->got_ok);
    assert_string_equal(t->value, "(null)");
}

static void test_ttl(void **state)
{
    t_state_t *t = *state;
    assert_int_equal(td_store_set(t->store, "t:ttl", "x", 1, 100), 0);
    const char *f[] = { "a" }, *v[] = { "1" };
    assert_int_equal(td_store_hset(t->store, "t:httl", 50, 1, f, v), 0);
    s_get(t, "t:ttl");                          /* both written by now */
    redisReply *r = s_cli("TTL %s", "tandem:t:ttl");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer > 90 && r->integer <= 100);
    freeReplyObject(r);
    r = s_cli("TTL %s", "tandem:t:httl");
    assert_true(r->integer > 40 && r->integer <= 50);
    freeReplyObject(r);
    r = s_cli("TTL %s", "tandem:t:bin");        /* no ttl: none */
    freeReplyObject(r);
}

static void test_hash(void **state)
{
    t_state_t *t = *state;
    const char *f[] = { "a", "b" }, *v[] = { "1", "2" };
    assert_int_equal(td_store_hset(t->store, "t:h", 0, 2, f, v), 0);
    s_hgetall(t, "t:h");
    assert_true(t->got_ok);
    assert_int_equal(t->hash_n, 2);
    assert_string_equal(t->hash, "a=1;b=2;");
    const char *f2[] = { "b", "c" }, *v2[] = { "3", "4" };
    assert_int_equal(td_store_hupdate(t->store, "t:h", 2, f2, v2), 0);
    s_hgetall(t, "t:h");
    assert_int_equal(t->hash_n, 3);
    assert_string_equal(t->hash, "a=1;b=3;c=4;");
    /* hset replaces the whole hash */
    const char *f3[] = { "z" }, *v3[] = { "9" };
    assert_int_equal(td_store_hset(t->store, "t:h", 0, 1, f3, v3), 0);
    s_hgetall(t, "t:h");
    assert_string_equal(t->hash, "z=9;");
    s_hgetall(t, "t:nohash");
    assert_true(t->got_ok);
    assert_int_equal(t->hash_n, 0);
}

static void test_scan(void **state)
{
    t_state_t *t = *state;
    char key[32];
    for (int i = 0; i < 2500; i++) {            /* more than one SCAN page */
        snprintf(key, sizeof key, "s:%d", i);
        td_store_set(t->store, key, "v", 1, 0);
    }
    const char *f[] = { "a", "b" }, *v[] = { "1", "2" };
    td_store_hset(t->store, "h:1", 0, 2, f, v);
    td_store_hset(t->store, "h:2", 0, 2, f, v);
    td_store_hset(t->store, "s:hash", 0, 2, f, v);   /* another type: skipped */
    assert_int_equal(td_store_scan(t->store, "s:*", NULL, s_on_scan_value, s_on_scan_done, t), 0);
    assert_int_equal(s_run_until(t, &t->scan_done, 1, 5000), 0);
    assert_true(t->scan_ok);
    assert_int_equal(t->scanned, 2500);
    t->scanned = 0;
    assert_int_equal(td_store_scan(t->store, "h:*", s_on_scan_hash, NULL, s_on_scan_done, t), 0);
    assert_int_equal(s_run_until(t, &t->scan_done, 2, 5000), 0);
    assert_true(t->scan_ok);
    assert_int_equal(t->scanned, 2);
}

static void test_publish_subscribe(void **state)
{
    t_state_t *t = *state;
    assert_int_equal(td_store_subscribe(t->store, "chan", s_on_msg, t), 0);
    assert_int_equal(td_store_subscribe(t->store, "chan", s_on_msg2, t), 0);   /* both hear */
    /* the subscriber connects and subscribes on its own; publish until heard */
    for (int i = 0; i < 50 && !t->msgs; i++) {
        td_store_publish(t->store, "chan", "hi", 2);
        s_run_for(t, 100);
    }
    assert_true(t->msgs >= 1);
    assert_string_equal(t->msg_channel, "chan");
    assert_string_equal(t->msg, "hi");
    assert_int_equal(t->msgs2, t->msgs);
    const td_store_counts_t *c = td_store_counts(t->store);
    assert_true(c->commands > 0 && c->replies > 0);
    assert_int_equal(c->outages, 0);
}

/* Redis killed: the store notices, reads answer ok = 0 at once, writes are
 * kept (last per key wins) and replayed once Redis is back; resubscribed. */
static void test_outage_killed(void **state)
{
    t_state_t *t = *state;
    assert_int_equal(td_store_subscribe(t->store, "chan", s_on_msg, t), 0);
    s_run_for(t, 1500);
    s_redis_kill();
    for (int i = 0; i < 100 && td_store_up(t->store); i++)
        s_run_for(t, 20);
    assert_false(td_store_up(t->store));
    int got = t->got;
    assert_int_equal(td_store_get(t->store, "t:a", s_on_get, t), 0);
    assert_int_equal(t->got, got + 1);           /* at once, before the loop runs */
    assert_false(t->got_ok);
    got = t->got;
    assert_int_equal(td_store_hgetall(t->store, "t:h", s_on_hash, t), 0);
    assert_int_equal(t->got, got + 1);
    assert_false(t->got_ok);
    assert_int_equal(td_store_set(t->store, "t:later", "x", 1, 0), 0);
    assert_int_equal(td_store_set(t->store, "t:later", "y", 1, 0), 0);   /* last wins */
    assert_int_equal(td_store_set(t->store, "t:other", "o", 1, 0), 0);
    assert_int_equal(td_store_del(t->store, "t:other"), 0);
    const char *f[] = { "a" }, *v[] = { "1" };
    assert_int_equal(td_store_hset(t->store, "t:kh", 0, 1, f, v), 0);
    const char *f2[] = { "b" }, *v2[] = { "2" };
    assert_int_equal(td_store_hupdate(t->store, "t:kh", 1, f2, v2), 0);   /* keeps a */
    s_run_for(t, 1500);                          /* a failed reconnect or two */
    assert_int_equal(s_redis_start(), 0);
    int ups = t->ups;
    assert_int_equal(s_run_until(t, &t->ups, ups + 1, 5000), 0);
    s_get(t, "t:later");
    assert_true(t->got_ok);
    assert_string_equal(t->value, "y");
    s_get(t, "t:other");
    assert_string_equal(t->value, "(null)");
    s_hgetall(t, "t:kh");
    assert_string_equal(t->hash, "a=1;b=2;");
    const td_store_counts_t *c = td_store_counts(t->store);
    assert_int_equal(c->outages, 1);
    assert_int_equal(c->kept, 6);
    assert_int_equal(c->dropped, 0);
    int msgs = t->msgs;
    for (int i = 0; i < 50 && t->msgs == msgs; i++) {
        td_store_publish(t->store, "chan", "again", 5);
        s_run_for(t, 100);
    }
    assert_string_equal(t->msg, "again");
}

static int s_lost_n, s_lost_last;

static void s_on_lost(void *arg, int lost)
{
    (void)arg;
    s_lost_n++;
    s_lost_last = lost;
}

/* td_store_if_lost: the mark is missing the first time (set then), there
 * the next, and missing again once a Redis restarted empty. */
static void test_if_lost(void **state)
{
    t_state_t *t = *state;
    s_lost_n = 0;
    assert_int_equal(td_store_if_lost(t->store, "mark:t", s_on_lost, t), 0);
    assert_int_equal(s_run_until(t, &s_lost_n, 1, 3000), 0);
    assert_int_equal(s_lost_last, 1);
    assert_int_equal(td_store_if_lost(t->store, "mark:t", s_on_lost, t), 0);
    assert_int_equal(s_run_until(t, &s_lost_n, 2, 3000), 0);
    assert_int_equal(s_lost_last, 0);
    s_redis_kill();
    for (int i = 0; i < 100 && td_store_up(t->store); i++)
        s_run_for(t, 20);
    assert_false(td_store_up(t->store));
    assert_int_equal(td_store_if_lost(t->store, "mark:t", s_on_lost, t), 0);
    s_run_for(t, 100);
    assert_int_equal(s_lost_n, 2);               /* away: nothing runs */
    assert_int_equal(s_redis_start(), 0);
    int ups = t->ups;
    assert_int_equal(s_run_until(t, &t->ups, ups + 1, 5000), 0);
    assert_int_equal(td_store_if_lost(t->store, "mark:t", s_on_lost, t), 0);
    assert_int_equal(s_run_until(t, &s_lost_n, 3, 3000), 0);
    assert_int_equal(s_lost_last, 1);             /* the new Redis is empty */
}

/* Redis hung (SIGSTOP): the connection stays open but nothing answers; the
 * store declares the outage after a few seconds, and what was written
 * meanwhile (sent into the dead socket) is written again after SIGCONT. */
static void test_outage_hung(void **state)
{
    t_state_t *t = *state;
    kill(g_redis, SIGSTOP);
    assert_int_equal(td_store_set(t->store, "t:hung", "1", 1, 0), 0);   /* in flight */
    for (int i = 0; i < 300 && td_store_up(t->store); i++)
        s_run_for(t, 20);
    assert_false(td_store_up(t->store));
    assert_int_equal(td_store_set(t->store, "t:hung2", "2", 1, 0), 0);  /* kept */
    kill(g_redis, SIGCONT);
    int ups = t->ups;
    assert_int_equal(s_run_until(t, &t->ups, ups + 1, 6000), 0);
    s_get(t, "t:hung");
    assert_string_equal(t->value, "1");
    s_get(t, "t:hung2");
    assert_string_equal(t->value, "2");
    assert_int_equal(td_store_counts(t->store)->outages, 1);
}

/* password= (AUTH) and db= (SELECT): a wrong password never comes up; the
 * right one does, and writes land in the database named. */
static void test_auth_db(void **state)
{
    (void)state;
    redisContext *c = redisConnect("127.0.0.1", g_port);
    assert_non_null(c);
    freeReplyObject(redisCommand(c, "CONFIG SET requirepass secret"));
    t_state_t t = { .base = event_base_new() };
    td_store_conf_t conf = { .enabled = 1, .port = g_port, .db = 3 };
    snprintf(conf.host, sizeof conf.host, "127.0.0.1");
    snprintf(conf.password, sizeof conf.password, "wrong");
    td_store_t *s = td_store_new(t.base, &conf, "test");
    td_store_on_up(s, s_on_up, &t);
    s_run_for(&t, 1500);
    assert_false(td_store_up(s));
    assert_int_equal(t.ups, 0);
    td_store_destroy(&s);
    snprintf(conf.password, sizeof conf.password, "secret");
    s = td_store_new(t.base, &conf, "test");
    td_store_on_up(s, s_on_up, &t);
    assert_int_equal(s_run_until(&t, &t.ups, 1, 3000), 0);
    t.store = s;
    td_store_set(s, "t:db3", "three", 5, 0);
    s_get(&t, "t:db3");
    assert_string_equal(t.value, "three");
    td_store_destroy(&s);
    redisReply *r = redisCommand(c, "AUTH secret");
    freeReplyObject(r);
    r = redisCommand(c, "SELECT 3");
    freeReplyObject(r);
    r = redisCommand(c, "GET tandem:t:db3");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "three");
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "CONFIG SET requirepass %s", ""));
    redisFree(c);
    event_base_free(t.base);
}

/* The families td_store_metrics adds, as scraped. */
static void test_metrics(void **state)
{
    t_state_t *t = *state;
    td_store_set(t->store, "t:m", "1", 1, 0);
    s_get(t, "t:m");
    td_metrics_t *m = td_metrics_new("test", "test");
    assert_non_null(m);
    assert_int_equal(td_store_metrics_add(m, t->store), 0);
    struct evbuffer *buf = evbuffer_new();
    assert_int_equal(td_metrics_write(m, buf), 0);
    evbuffer_add(buf, "", 1);
    const char *text = (const char *)evbuffer_pullup(buf, -1);
    assert_non_null(strstr(text, "\ntandem_store_up 1\n"));
    assert_non_null(strstr(text, "\ntandem_store_pending_writes 0\n"));
    assert_non_null(strstr(text, "\ntandem_store_outages_total 0\n"));
    assert_non_null(strstr(text, "# TYPE tandem_store_commands_total counter"));
    evbuffer_free(buf);
    td_metrics_destroy(&m);
}

/* No Redis at all: td_store_new still succeeds, nothing is up, writes are
 * kept and reads fail at once. */
static void test_never_up(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    td_store_conf_t conf = { .enabled = 1, .port = s_free_port() };
    snprintf(conf.host, sizeof conf.host, "127.0.0.1");
    td_store_t *s = td_store_new(base, &conf, "test");
    assert_non_null(s);
    struct timeval tv = { 0, 200000 };
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    assert_false(td_store_up(s));
    assert_int_equal(td_store_set(s, "k", "v", 1, 0), 0);
    assert_int_equal(td_store_counts(s)->kept, 1);
    assert_int_equal(td_store_set(s, "k", "w", 1, 0), 0);   /* last wins: still one */
    assert_int_equal(td_store_pending(s), 1);
    /* bounded: past TD_STORE_MAX_PENDING keys the oldest go, counted */
    char key[32];
    for (int i = 0; i < TD_STORE_MAX_PENDING + 9; i++) {
        snprintf(key, sizeof key, "b:%d", i);
        td_store_set(s, key, "x", 1, 0);
    }
    assert_int_equal(td_store_pending(s), TD_STORE_MAX_PENDING);
    assert_int_equal(td_store_counts(s)->dropped, 10);
    td_store_destroy(&s);
    event_base_free(base);
}

int main(void)
{
    td_log_init("test", LOG_ERR);
    if (s_redis_setup("test_td_store") < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_del, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ttl, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scan, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_publish_subscribe, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_outage_killed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_if_lost, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_outage_hung, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_metrics, s_setup, s_teardown),
        cmocka_unit_test(test_auth_db),
        cmocka_unit_test(test_never_up),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (s_redis_teardown() < 0 && !rc)
        rc = 1;
    return rc;
}
