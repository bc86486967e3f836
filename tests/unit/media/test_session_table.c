/* test_session_table - sessions by call id: insert, find, remove, growth,
 * sweep, and that the table owns (destroys) what it holds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "session_table.h"
#include "td_log.h"

#define CALLS 100                /* more than the initial 64 buckets */

typedef struct {
    struct event_base *base;
    port_pool_t *pool;
    struct in_addr lo;
} fixture_t;

static int setup(void **state)
{
    static fixture_t fx;
    fx.base = event_base_new();
    /* 4 ports a call, plus slack for ports other programs hold. */
    uint16_t start = (uint16_t)(12000 + (getpid() % 12) * 640);
    fx.pool = port_pool_new(start, (uint16_t)(start + 639));
    fx.lo.s_addr = htonl(INADDR_LOOPBACK);
    *state = &fx;
    return fx.base && fx.pool ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    /* Everything went back: ports to the pool, events off the loop. */
    assert_int_equal(port_pool_free_count(fx->pool), port_pool_size(fx->pool));
    assert_int_equal(event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED), 0);
    port_pool_destroy(&fx->pool);
    event_base_free(fx->base);
    return 0;
}

static session_t *s_session(fixture_t *fx, const char *call_id)
{
    int err;
    session_t *s = session_new(fx->base, fx->pool, &fx->lo, call_id, &err);
    if (!s)
        fail_msg("session_new(%s): %d", call_id, err);
    return s;
}

static void test_insert_find_remove(void **state)
{
    fixture_t *fx = *state;
    session_table_t *table = session_table_new();
    char id[32];
    for (int i = 0; i < CALLS; i++) {
        snprintf(id, sizeof id, "sig-1-%x-%x", 0x6565, i);
        session_t *s = s_session(fx, id);
        assert_int_equal(session_table_insert(table, &s), 0);
        assert_null(s);                             /* the table owns it now */
    }
    assert_int_equal(session_table_size(table), CALLS);

    /* Same call id twice: refused, the caller keeps its session. */
    session_t *dup = s_session(fx, "sig-1-6565-7");
    assert_int_equal(session_table_insert(table, &dup), -1);
    assert_non_null(dup);
    session_destroy(&dup);

    for (int i = 0; i < CALLS; i++) {
        snprintf(id, sizeof id, "sig-1-%x-%x", 0x6565, i);
        session_t *s = session_table_find(table, id);
        assert_non_null(s);
        assert_string_equal(session_call_id(s), id);
    }
    assert_null(session_table_find(table, "sig-1-6565-"));
    assert_null(session_table_find(table, ""));

    for (int i = 0; i < CALLS; i += 2) {
        snprintf(id, sizeof id, "sig-1-%x-%x", 0x6565, i);
        assert_int_equal(session_table_remove(table, id), 0);
        assert_int_equal(session_table_remove(table, id), -1);
        assert_null(session_table_find(table, id));
    }
    assert_int_equal(session_table_size(table), CALLS / 2);
    assert_non_null(session_table_find(table, "sig-1-6565-1"));
    /* Destroying the table destroys what is left (teardown checks the ports). */
    session_table_destroy(&table);
    assert_null(table);
    session_table_destroy(&table);
}

/* Remove the calls with an odd number ("call-7"). */
static int s_odd_call(session_t *session, void *arg)
{
    int *calls = arg;
    (*calls)++;
    int n = 0;
    sscanf(session_call_id(session), "call-%d", &n);
    return n % 2;
}

static void test_sweep(void **state)
{
    fixture_t *fx = *state;
    session_table_t *table = session_table_new();
    char id[32];
    int odd = 20;
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "call-%d", i);
        session_t *s = s_session(fx, id);
        assert_int_equal(session_table_insert(table, &s), 0);
    }
    int calls = 0;
    assert_int_equal(session_table_sweep(table, s_odd_call, &calls), (uint32_t)odd);
    assert_int_equal(calls, 40);
    assert_int_equal(session_table_size(table), 40 - odd);
    assert_null(session_table_find(table, "call-7"));
    assert_non_null(session_table_find(table, "call-8"));
    calls = 0;
    assert_int_equal(session_table_sweep(table, s_odd_call, &calls), 0);
    assert_int_equal(calls, 40 - odd);
    session_table_destroy(&table);
}

int main(void)
{
    td_log_init("test", LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_find_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
