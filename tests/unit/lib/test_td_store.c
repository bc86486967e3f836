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

#include "td_log.h"
#include "td_store.h"

static uint16_t g_port;
static pid_t g_redis;
static char g_dir[] = "/tmp/td-store-test-XXXXXX";

static uint16_t s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0
        || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return 0;
    close(fd);
    return ntohs(a.sin_port);
}

static int s_port_open(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Start redis-server on g_port; 0 once it accepts connections. */
static int s_redis_start(void)
{
    char port[16];
    snprintf(port, sizeof port, "%u", g_port);
    g_redis = fork();
    if (g_redis == 0) {
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--dir", g_dir, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        int status;
        if (waitpid(g_redis, &status, WNOHANG) == g_redis) {
            g_redis = 0;
            return -1;
        }
        if (s_port_open(g_port))
            return 0;
        s_sleep_ms(50);
    }
    return -1;
}

static void s_redis_kill(void)
{
    if (g_redis > 0) {
        kill(g_redis, SIGCONT);
        kill(g_redis, SIGKILL);
        waitpid(g_redis, NULL, 0);
    }
    g_redis = 0;
}

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
    int msgs;
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
    /* the subscriber connects and subscribes on its own; publish until heard */
    for (int i = 0; i < 50 && !t->msgs; i++) {
        td_store_publish(t->store, "chan", "hi", 2);
        s_run_for(t, 100);
    }
    assert_true(t->msgs >= 1);
    assert_string_equal(t->msg_channel, "chan");
    assert_string_equal(t->msg, "hi");
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
    td_store_destroy(&s);
    event_base_free(base);
}

int main(void)
{
    td_log_init("test", LOG_ERR);
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_td_store: redis-server is not installed (apt-get install "
                        "redis-server; `make test` installs it via tools/deps.sh)\n");
        return 1;
    }
    if (!mkdtemp(g_dir) || !(g_port = s_free_port()) || s_redis_start() < 0) {
        fprintf(stderr, "test_td_store: cannot start redis-server on port %u: %s\n", g_port,
                strerror(errno));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_del, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ttl, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scan, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_publish_subscribe, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_outage_killed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_outage_hung, s_setup, s_teardown),
        cmocka_unit_test(test_never_up),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    s_redis_kill();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
