/* Unit tests for cli_relay: `sip ...` lines passed from a ctl peer to the
 * live signaling processes (the bus fake lists them) and their answers
 * joined into one CliReply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli_relay.h"
#include "td_bus_fake.h"
#include "td_log.h"

typedef struct {
    struct event_base *base;
    td_bus_t *bus;
    cli_relay_t *relay;
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    td_log_init("test", LOG_ERR);
    td_bus_fake_reset();
    td_bus_fake_set_fail(0);
    fx->base = event_base_new();
    td_bus_handlers_t h = { 0 };
    fx->bus = td_bus_new(fx->base, TD_BUS_BIND, "inproc://x", "router", "router", 0, &h, fx);
    fx->relay = cli_relay_new(fx->base, fx->bus);
    assert_non_null(fx->relay);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    cli_relay_destroy(&fx->relay);
    assert_null(fx->relay);
    assert_int_equal(event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED), 0);
    td_bus_destroy(&fx->bus);
    event_base_free(fx->base);
    td_bus_fake_reset();
    free(fx);
    return 0;
}

static void s_reply(fx_t *fx, const char *peer, uint32_t id, const char *text, uint32_t status)
{
    Tandem__CliReply r = TANDEM__CLI_REPLY__INIT;
    r.id = id;
    r.text = (char *)text;
    r.status = status;
    td_bus_hdr_t hdr = { peer, "", 0 };
    cli_relay_reply(fx->relay, &hdr, &r);
}

static void test_wants(void **state)
{
    (void)state;
    assert_true(cli_relay_wants("sip show peers"));
    assert_true(cli_relay_wants("  SIP reload"));
    assert_true(cli_relay_wants("sip"));
    assert_false(cli_relay_wants("sip show channelstats"));     /* the router's own */
    assert_false(cli_relay_wants("sip show locations"));        /* so is this */
    assert_false(cli_relay_wants("core show channels"));
    assert_false(cli_relay_wants("sipx show peers"));
    assert_false(cli_relay_wants(""));
}

static void test_no_signaling(void **state)
{
    fx_t *fx = *state;
    td_bus_fake_add_peer("media-1", "media", 1);
    td_bus_fake_add_peer("sig-1", "signaling", 0);              /* down */
    assert_int_equal(cli_relay_forward(fx->relay, "ctl-1", 5, "sip show peers"), -1);
    assert_int_equal(td_bus_fake_count(), 0);
}

static void test_two_signaling(void **state)
{
    fx_t *fx = *state;
    td_bus_fake_add_peer("sig-2", "signaling", 1);
    td_bus_fake_add_peer("media-1", "media", 1);
    td_bus_fake_add_peer("sig-1", "signaling", 1);
    assert_int_equal(cli_relay_forward(fx->relay, "ctl-9", 7, "sip show peers"), 0);
    assert_int_equal(td_bus_fake_count(), 2);
    const td_bus_fake_sent_t *a = td_bus_fake_get(0), *b = td_bus_fake_get(1);
    assert_string_equal(a->peer, "sig-1");
    assert_string_equal(b->peer, "sig-2");
    assert_string_equal(a->env->cli_request->command, "sip show peers");
    uint32_t id = a->env->cli_request->id;
    assert_int_equal(b->env->cli_request->id, id);
    s_reply(fx, "sig-2", id, "two\n", 0);
    s_reply(fx, "sig-2", id, "again\n", 2);                     /* a duplicate: ignored */
    assert_int_equal(td_bus_fake_count(), 2);
    s_reply(fx, "sig-1", id, "one\n", 1);
    assert_int_equal(td_bus_fake_count(), 3);
    const td_bus_fake_sent_t *r = td_bus_fake_get(2);
    assert_string_equal(r->peer, "ctl-9");
    assert_int_equal(r->env->body_case, TANDEM__ENVELOPE__BODY_CLI_REPLY);
    assert_int_equal(r->env->cli_reply->id, 7);
    assert_string_equal(r->env->cli_reply->text, "-- sig-1 --\none\n-- sig-2 --\ntwo\n");
    assert_int_equal(r->env->cli_reply->status, 1);
    s_reply(fx, "sig-1", id, "late\n", 0);                      /* answered already */
    assert_int_equal(td_bus_fake_count(), 3);
}

static void test_one_signaling_and_no_answer(void **state)
{
    fx_t *fx = *state;
    td_bus_fake_add_peer("sig-1", "signaling", 1);
    assert_int_equal(cli_relay_forward(fx->relay, "ctl-1", 3, "sip reload"), 0);
    uint32_t id = td_bus_fake_get(0)->env->cli_request->id;
    s_reply(fx, "sig-1", id, "Reloaded\n", 0);
    const td_bus_fake_sent_t *r = td_bus_fake_last(TANDEM__ENVELOPE__BODY_CLI_REPLY);
    assert_non_null(r);
    assert_string_equal(r->env->cli_reply->text, "Reloaded\n");       /* no "-- sig-1 --" */
    assert_int_equal(r->env->cli_reply->status, 0);
    /* a request still waiting when the relay goes is answered: status 2 */
    assert_int_equal(cli_relay_forward(fx->relay, "ctl-1", 4, "sip show peers"), 0);
    cli_relay_destroy(&fx->relay);
    r = td_bus_fake_last(TANDEM__ENVELOPE__BODY_CLI_REPLY);
    assert_int_equal(r->env->cli_reply->id, 4);
    assert_int_equal(r->env->cli_reply->status, 2);
    assert_non_null(strstr(r->env->cli_reply->text, "No answer from signaling process sig-1"));
}

static void test_send_fails(void **state)
{
    fx_t *fx = *state;
    td_bus_fake_add_peer("sig-1", "signaling", 1);
    td_bus_fake_set_fail(1);
    assert_int_equal(cli_relay_forward(fx->relay, "ctl-1", 8, "sip show peers"), 0);
    td_bus_fake_set_fail(0);
    event_base_loop(fx->base, EVLOOP_NONBLOCK);             /* answered at once */
    const td_bus_fake_sent_t *r = td_bus_fake_last(TANDEM__ENVELOPE__BODY_CLI_REPLY);
    assert_non_null(r);
    assert_int_equal(r->env->cli_reply->id, 8);
    assert_int_equal(r->env->cli_reply->status, 2);
    assert_string_equal(r->env->cli_reply->text, "Cannot reach this signaling process\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wants),
        cmocka_unit_test_setup_teardown(test_no_signaling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_signaling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_signaling_and_no_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
