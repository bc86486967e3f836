/* adopt: calls another router process answered, finished from the cluster
 * store. Against a real redis-server (forked on a free port, no persistence)
 * and the bus fake: a Hangup of a call the store has ends the other leg at
 * its node, releases the media, writes one CDR line and deletes the key; one
 * it does not have gets the router's unknown-call answer; messages held
 * while the store answers are handled in order; at start the calls this
 * identity owned are loaded (and counted), another owner's are not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "adopt.h"
#include "journal.h"
#include "td_bus_fake.h"
#include "td_log.h"
#include "test_util.h"
#include "../lib/redis_server.h"

/* A plain blocking client: the test's own look at Redis. */
static long long s_cli_int(const char *fmt, const char *arg)
{
    redisContext *c = redisConnect("127.0.0.1", g_port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, fmt, arg);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

typedef struct {
    struct event_base *base;
    td_store_t *store;
    td_bus_t *bus;
    cdr_t *cdr;
    call_counts_t counts;
    adopt_t *adopt;
    char dir[64];
    int unknown, unknown_reply, live;
} s_t;

static void s_unknown(void *arg, const td_bus_hdr_t *hdr, const char *what, int reply)
{
    (void)hdr;
    (void)what;
    s_t *t = arg;
    t->unknown++;
    t->unknown_reply = reply;
}

static int s_live(void *arg, const char *call_id)
{
    (void)call_id;
    return ((s_t *)arg)->live;
}

static void s_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Run the loop until cond(t) holds, 3 s at most. */
static int s_until(s_t *t, int (*cond)(s_t *t))
{
    for (int i = 0; i < 300 && !cond(t); i++) {
        struct event *ev = evtimer_new(t->base, s_on_timeout, t->base);
        struct timeval tv = { 0, 10000 };
        evtimer_add(ev, &tv);
        event_base_dispatch(t->base);
        event_free(ev);
    }
    return cond(t);
}

static int s_store_up(s_t *t) { return td_store_up(t->store); }

static void s_adopt_new(s_t *t, const char *identity)
{
    adopt_env_t env = {
        .base = t->base, .bus = t->bus, .store = t->store, .cdr = t->cdr, .counts = &t->counts,
        .identity = identity, .unknown = s_unknown, .live = s_live, .arg = t,
    };
    t->adopt = adopt_new(&env);
    assert_non_null(t->adopt);
}

static int s_setup(void **state)
{
    s_t *t = calloc(1, sizeof *t);
    t->base = event_base_new();
    td_store_conf_t conf = { .enabled = 1, .port = g_port };
    snprintf(conf.host, sizeof conf.host, "127.0.0.1");
    t->store = td_store_new(t->base, &conf, "test");
    td_bus_handlers_t h = { 0 };
    t->bus = td_bus_new(t->base, TD_BUS_BIND, "inproc://x", "router-a", "router", 0, &h, t);
    test_tmpdir(t->dir, sizeof t->dir);
    t->cdr = cdr_new(t->dir);
    td_bus_fake_reset();
    assert_true(s_until(t, s_store_up));
    redisContext *c = redisConnect("127.0.0.1", g_port);
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    redisFree(c);
    *state = t;
    return 0;
}

static int s_teardown(void **state)
{
    s_t *t = *state;
    adopt_close(t->adopt);
    td_store_destroy(&t->store);
    adopt_destroy(&t->adopt);
    td_bus_destroy(&t->bus);
    cdr_destroy(&t->cdr);
    test_rmdir(t->dir);
    event_base_free(t->base);
    td_bus_fake_reset();
    free(t);
    return 0;
}

/* call:<id> as call_save writes it: caller on sig-1, callee leg 3 on sig-2. */
static void s_put_call(s_t *t, const char *id, const char *owner)
{
    cdr_record_t r = {
        .uniqueid = id, .start = { 1700000000, 0 }, .answer = { 1700000002, 0 },
        .disposition = "ANSWERED", .accountcode = "", .src = "1001", .dst = "1002",
        .dcontext = "internal", .clid = "\"Alice\" <1001>", .channel = "SIP/1001-00000001",
        .dstchannel = "SIP/1002-00000002", .lastapp = "Dial", .lastdata = "SIP/1002,20",
        .userfield = "", .amaflags = "DOCUMENTATION",
    };
    const char *names[5 + JOURNAL_FIELDS] = { "owner", "sig0", "sig1", "leg1", "worker" };
    const char *values[5 + JOURNAL_FIELDS] = { owner, "sig-1", "sig-2", "3", "media-1" };
    char start[48], answer[48];
    journal_fields(&r, start, answer, values + 5);
    for (int i = 0; i < JOURNAL_FIELDS; i++)
        names[5 + i] = journal_field_names[i];
    char key[128];
    snprintf(key, sizeof key, "call:%s", id);
    assert_int_equal(td_store_hset(t->store, key, 0, 5 + JOURNAL_FIELDS, names, values), 0);
}

static int s_sent_two(s_t *t) { (void)t; return td_bus_fake_count() >= 2; }

static size_t s_cdr_lines(const char *dir)
{
    char path[128], buf[8192];
    snprintf(path, sizeof path, "%s/Master.csv", dir);
    if (!test_read(path, buf, sizeof buf))
        return 0;
    size_t n = 0;
    for (char *p = buf; (p = strstr(p, "\"DOCUMENTATION\"")); p++)
        n++;
    return n;
}

static void s_message(s_t *t, const char *peer, const char *id, uint32_t leg, adopt_event_t ev,
                      uint32_t cause)
{
    td_bus_hdr_t hdr = { peer, id, leg };
    adopt_on_message(t->adopt, &hdr, ev, cause, "Hangup", 0);
}

static int s_key_gone(s_t *t)
{
    (void)t;
    return s_cli_int("EXISTS tandem:call:%s", "c1") == 0;
}

/* The caller hangs up a call router-b answered: the callee gets its Hangup
 * at sig-2, media-1 a MediaRelease, Master.csv one ANSWERED line, and the
 * key goes. */
static void test_hangup_adopts(void **state)
{
    s_t *t = *state;
    s_put_call(t, "c1", "router-b");
    s_adopt_new(t, "router-a");
    s_message(t, "sig-1", "c1", 0, ADOPT_HANGUP, 16);
    assert_int_equal(adopt_waiting(t->adopt), 1);
    assert_true(s_until(t, s_sent_two));
    assert_int_equal(t->unknown, 0);
    const td_bus_fake_sent_t *h = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_string_equal(h->peer, "sig-2");
    assert_string_equal(h->env->call_id, "c1");
    assert_int_equal(h->env->leg, 3);
    assert_int_equal(h->env->hangup->cause, 16);
    const td_bus_fake_sent_t *m = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_RELEASE);
    assert_string_equal(m->peer, "media-1");
    assert_int_equal(td_bus_fake_count(), 2);
    assert_int_equal(s_cdr_lines(t->dir), 1);
    assert_int_equal(t->counts.ended[CALL_DISP_ANSWERED], 1);
    assert_int_equal(t->counts.cdrs_written, 1);
    assert_int_equal(adopt_count(t->adopt, NULL), 0);
    assert_int_equal(adopt_waiting(t->adopt), 0);
    assert_true(s_until(t, s_key_gone));
    /* The callee's Hangup coming back: the store has nothing now. */
    s_message(t, "sig-2", "c1", 3, ADOPT_HANGUP, 16);
    for (int i = 0; i < 20 && !t->unknown; i++)
        event_base_loop(t->base, EVLOOP_ONCE);
    assert_int_equal(t->unknown, 1);
    assert_int_equal(t->unknown_reply, 0);
    assert_int_equal(s_cdr_lines(t->dir), 1);
}

static int s_unknown_seen(s_t *t) { return t->unknown > 0; }

/* No hash: the message gets the router's unknown-call answer, nothing else. */
static void test_no_record(void **state)
{
    s_t *t = *state;
    s_adopt_new(t, "router-a");
    td_bus_hdr_t hdr = { "media-1", "nope", 0 };
    adopt_on_message(t->adopt, &hdr, ADOPT_OTHER, 0, "MediaPlayed", 1);
    assert_true(s_until(t, s_unknown_seen));
    assert_int_equal(t->unknown_reply, 1);
    assert_int_equal(td_bus_fake_count(), 0);
    assert_int_equal(s_cdr_lines(t->dir), 0);
}

static int s_one_adopted(s_t *t) { return adopt_count(t->adopt, NULL) == 1; }

/* At start: router-a's own call is loaded (2 channels), router-b's is not.
 * A re-INVITE on it gets 488; the worker's rtptimeout ends both legs with
 * cause 44. */
static void test_scan_and_media_end(void **state)
{
    s_t *t = *state;
    s_put_call(t, "c1", "router-a");
    s_put_call(t, "c2", "router-b");
    s_adopt_new(t, "router-a");
    assert_true(s_until(t, s_one_adopted));
    size_t channels = 0;
    assert_int_equal(adopt_count(t->adopt, &channels), 1);
    assert_int_equal(channels, 2);
    s_message(t, "sig-2", "c1", 3, ADOPT_REINVITE, 0);
    const td_bus_fake_sent_t *a = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_REINVITE_ANSWER);
    assert_string_equal(a->peer, "sig-2");
    assert_int_equal(a->env->reinvite_answer->status, 488);
    td_bus_fake_reset();
    s_message(t, "media-2", "c1", 0, ADOPT_MEDIA_END, 44);   /* not its worker: ignored */
    assert_int_equal(td_bus_fake_count(), 0);
    s_message(t, "media-1", "c1", 0, ADOPT_MEDIA_END, 44);
    assert_int_equal(td_bus_fake_count(), 3);
    const td_bus_fake_sent_t *h0 = td_bus_fake_get(0), *h1 = td_bus_fake_get(1);
    assert_string_equal(h0->peer, "sig-1");
    assert_int_equal(h0->env->leg, 0);
    assert_int_equal(h0->env->hangup->cause, 44);
    assert_string_equal(h1->peer, "sig-2");
    assert_int_equal(h1->env->leg, 3);
    assert_int_equal(h1->env->hangup->cause, 44);
    assert_int_equal(s_cdr_lines(t->dir), 1);
    assert_int_equal(adopt_count(t->adopt, NULL), 0);
}

/* max_call_duration: an adopted call older than it ends (both legs, CDR). */
static void test_expire(void **state)
{
    s_t *t = *state;
    s_put_call(t, "c1", "router-a");        /* started 1700000000 */
    s_adopt_new(t, "router-a");
    assert_true(s_until(t, s_one_adopted));
    assert_int_equal(adopt_expire(t->adopt, 0), 0);          /* no limit */
    assert_int_equal(adopt_expire(t->adopt, 3600), 1);
    assert_int_equal(td_bus_fake_count(), 3);
    assert_int_equal(td_bus_fake_get(0)->env->hangup->cause, 16);
    assert_int_equal(s_cdr_lines(t->dir), 1);
    assert_int_equal(adopt_count(t->adopt, NULL), 0);
}

/* Messages that come while the store is asked wait, and go in order. */
static void test_held_in_order(void **state)
{
    s_t *t = *state;
    s_put_call(t, "c2", "router-b");
    s_adopt_new(t, "router-a");
    s_message(t, "sig-1", "c2", 0, ADOPT_REINVITE, 0);
    s_message(t, "sig-1", "c2", 0, ADOPT_HANGUP, 16);
    assert_int_equal(adopt_waiting(t->adopt), 2);
    assert_int_equal(td_bus_fake_count(), 0);
    assert_true(s_until(t, s_sent_two));
    assert_int_equal(td_bus_fake_get(0)->env->body_case, TANDEM__ENVELOPE__BODY_REINVITE_ANSWER);
    assert_int_equal(td_bus_fake_get(1)->env->body_case, TANDEM__ENVELOPE__BODY_HANGUP);
    assert_int_equal(adopt_waiting(t->adopt), 0);
}

/* A call that started here meanwhile is not adopted. */
static void test_live_not_adopted(void **state)
{
    s_t *t = *state;
    s_put_call(t, "c2", "router-b");
    s_adopt_new(t, "router-a");
    t->live = 1;
    s_message(t, "sig-1", "c2", 0, ADOPT_HANGUP, 16);
    for (int i = 0; i < 50 && adopt_waiting(t->adopt); i++)
        event_base_loop(t->base, EVLOOP_ONCE);
    assert_int_equal(adopt_waiting(t->adopt), 0);
    assert_int_equal(td_bus_fake_count(), 0);
    assert_int_equal(t->unknown, 0);
    assert_int_equal(adopt_count(t->adopt, NULL), 0);
}

int main(void)
{
    td_log_init("test", LOG_ERR);
    if (s_redis_setup("test_adopt") < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hangup_adopts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_record, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scan_and_media_end, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_expire, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_held_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_live_not_adopted, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (s_redis_teardown() < 0)
        rc = rc ? rc : 1;
    return rc;
}
