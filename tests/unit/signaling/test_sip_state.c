/* Unit tests for sip_state: the hashes signaling writes to the cluster
 * store (built without allocation, too-large values refused or left out),
 * and the load at start against a real redis-server (forked on a free port,
 * no persistence): only this node's reg:* and dlg:* come back, and a store
 * that does not answer gives up within the timeout. */
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

#include "sip_state.h"
#include "td_log.h"
#include "../lib/redis_server.h"

static void s_cmd(const char *cmd)
{
    redisContext *c = redisConnect("127.0.0.1", g_port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, cmd);
    assert_non_null(r);
    freeReplyObject(r);
    redisFree(c);
}

static void test_hash(void **state)
{
    (void)state;
    sip_state_hash_t h;
    sip_state_hash_init(&h);
    sip_state_hash_add(&h, "a", "1");
    sip_state_hash_add(&h, "b", NULL);
    sip_state_hash_addf(&h, "c", "%u:%s", 7u, "x");
    assert_int_equal(h.n, 3);
    assert_int_equal(h.overflow, 0);
    assert_string_equal(sip_state_field(h.n, h.fields, h.values, "b"), "");
    assert_string_equal(sip_state_field(h.n, h.fields, h.values, "c"), "7:x");
    assert_null(sip_state_field(h.n, h.fields, h.values, "d"));
    static char big[SIP_STATE_SPACE];
    memset(big, 'x', sizeof big - 1);
    sip_state_hash_add_opt(&h, "sdp", big);        /* left out, the hash still goes */
    assert_int_equal(h.n, 3);
    assert_int_equal(h.overflow, 0);
    sip_state_hash_add(&h, "must", big);           /* refused: the hash is not written */
    assert_int_equal(h.overflow, 1);

    struct sockaddr_in a;
    assert_int_equal(sip_state_addr("10.0.0.9:5062", &a), 0);
    assert_int_equal(ntohs(a.sin_port), 5062);
    assert_int_equal(a.sin_addr.s_addr, inet_addr("10.0.0.9"));
    assert_int_equal(sip_state_addr("10.0.0.9", &a), -1);
    assert_int_equal(sip_state_addr("10.0.0.9:0", &a), -1);
    assert_int_equal(sip_state_addr("10.0.0.9:5x", &a), -1);
    assert_int_equal(sip_state_addr("host:5060", &a), -1);
    assert_int_equal(sip_state_addr(NULL, &a), -1);
}

typedef struct {
    size_t n;
    char keys[8][64];
} s_seen_t;

static void s_each(void *arg, const char *key, size_t n, const char *const *fields,
                   const char *const *values)
{
    s_seen_t *s = arg;
    assert_string_equal(sip_state_field(n, fields, values, "node"), "sig-1");
    if (s->n < 8)
        snprintf(s->keys[s->n++], sizeof s->keys[0], "%s", key);
}

static void test_load(void **state)
{
    (void)state;
    s_cmd("FLUSHALL");
    s_cmd("HSET tandem:reg:1001 node sig-1 contact sip:1001@127.0.0.1:5061");
    s_cmd("HSET tandem:reg:1002 node sig-2 contact sip:1002@127.0.0.1:5062");
    s_cmd("HSET tandem:dlg:sig-1-1-1:0 node sig-1 call sig-1-1-1");
    s_cmd("HSET tandem:dlg:sig-2-1-1:0 node sig-2 call sig-2-1-1");
    s_cmd("SET tandem:other x");
    struct event_base *base = event_base_new();
    td_store_conf_t conf = { .enabled = 1, .port = g_port };
    snprintf(conf.host, sizeof conf.host, "127.0.0.1");
    sip_state_t *st = sip_state_new(base, &conf, "sig-1");
    assert_non_null(st);
    assert_string_equal(sip_state_node(st), "sig-1");
    assert_int_equal(sip_state_load(st, base, 3000), 0);
    s_seen_t regs = { 0 }, dlgs = { 0 };
    assert_int_equal(sip_state_each(st, "reg:", s_each, &regs), 1);
    assert_string_equal(regs.keys[0], "reg:1001");
    assert_int_equal(sip_state_each(st, "dlg:", s_each, &dlgs), 1);
    assert_string_equal(dlgs.keys[0], "dlg:sig-1-1-1:0");
    sip_state_forget(st);
    assert_int_equal(sip_state_each(st, "reg:", s_each, &regs), 0);
    sip_state_destroy(&st);
    assert_null(st);
    event_base_free(base);
}

static void test_load_no_store(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    td_store_conf_t conf = { .enabled = 1, .port = s_free_port() };   /* nobody there */
    snprintf(conf.host, sizeof conf.host, "127.0.0.1");
    sip_state_t *st = sip_state_new(base, &conf, "sig-1");
    assert_non_null(st);
    time_t t0 = time(NULL);
    assert_int_equal(sip_state_load(st, base, 300), -1);
    assert_true(time(NULL) - t0 <= 2);
    s_seen_t none = { 0 };
    assert_int_equal(sip_state_each(st, NULL, s_each, &none), 0);
    sip_state_destroy(&st);
    event_base_free(base);
}

int main(void)
{
    td_log_init("test", LOG_CRIT);
    if (s_redis_setup("test_sip_state") < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_no_store),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (s_redis_teardown() < 0)
        rc = rc ? rc : 1;
    return rc;
}
