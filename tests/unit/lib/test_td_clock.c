/* Unit tests for td_clock: the fake fires in exact order at exact times
 * (libuv test-timer.c style: count callbacks, no sleeping), and the real
 * clock runs the same timers on a libevent loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <event2/event.h>

#include "td_clock.h"

typedef struct {
    td_clock_t *clock;
    td_timer_t *timer;
    int id;
    int fired;
    uint64_t at[8];           /* now() at each firing */
    int repeat_ms;            /* > 0: restart itself with this */
    int destroy_self;
    int *order, *norder;      /* shared: ids in firing order */
} probe_t;

static void s_on_timer(void *arg)
{
    probe_t *p = arg;
    if (p->fired < 8)
        p->at[p->fired] = td_clock_now_ms(p->clock);
    p->fired++;
    if (p->order)
        p->order[(*p->norder)++] = p->id;
    if (p->repeat_ms)
        td_timer_start(p->timer, (uint32_t)p->repeat_ms);
    if (p->destroy_self)
        td_timer_destroy(&p->timer);
}

static void s_probe(probe_t *p, td_clock_t *c, int id, int *order, int *norder)
{
    *p = (probe_t){ .clock = c, .id = id, .order = order, .norder = norder };
    p->timer = td_timer_new(c, s_on_timer, p);
    assert_non_null(p->timer);
}

static void test_fake_order_and_times(void **state)
{
    (void)state;
    td_clock_t *c = td_clock_new_fake();
    assert_non_null(c);
    int order[16], n = 0;
    probe_t a, b, d;
    s_probe(&a, c, 1, order, &n);
    s_probe(&b, c, 2, order, &n);
    s_probe(&d, c, 3, order, &n);
    td_timer_start(a.timer, 30);
    td_timer_start(b.timer, 10);
    td_timer_start(d.timer, 30);              /* same due time as a, started later */
    uint64_t due;
    assert_int_equal(td_clock_next_due(c, &due), 0);
    assert_int_equal(due, 10);
    assert_int_equal(td_clock_advance(c, 9), 0);
    assert_int_equal(td_clock_now_ms(c), 9);
    assert_int_equal(td_clock_advance(c, 1), 1);
    assert_int_equal(b.at[0], 10);
    td_timer_start(a.timer, 5);               /* restart moves it: now due at 15 */
    assert_int_equal(td_clock_advance(c, 100), 2);
    assert_int_equal(a.at[0], 15);
    assert_int_equal(d.at[0], 30);
    assert_int_equal(n, 3);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 3);
    assert_int_equal(td_clock_now_ms(c), 110);
    assert_int_equal(td_clock_next_due(c, &due), -1);
    /* stop */
    td_timer_start(a.timer, 1);
    assert_true(td_timer_pending(a.timer));
    td_timer_stop(a.timer);
    assert_false(td_timer_pending(a.timer));
    assert_int_equal(td_clock_advance(c, 10), 0);
    td_timer_destroy(&a.timer);
    td_timer_destroy(&b.timer);
    td_timer_destroy(&d.timer);
    assert_null(a.timer);
    assert_int_equal(td_clock_timers(c), 0);
    td_clock_destroy(&c);
    assert_null(c);
}

/* A timer restarting itself from its callback: exact period, within one
 * advance; one destroying itself. */
static void test_fake_repeat_and_destroy_in_callback(void **state)
{
    (void)state;
    td_clock_t *c = td_clock_new_fake();
    probe_t r, once;
    s_probe(&r, c, 1, NULL, NULL);
    s_probe(&once, c, 2, NULL, NULL);
    r.repeat_ms = 20;
    once.destroy_self = 1;
    td_timer_start(r.timer, 20);
    td_timer_start(once.timer, 0);
    assert_int_equal(td_clock_advance(c, 0), 1);      /* 0 ms: the next advance */
    assert_null(once.timer);
    assert_int_equal(td_clock_advance(c, 100), 5);
    assert_int_equal(r.fired, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(r.at[i], 20 * (i + 1));
    assert_true(td_timer_pending(r.timer));
    td_timer_destroy(&r.timer);
    assert_int_equal(td_clock_timers(c), 0);
    td_clock_destroy(&c);
}

/* The real clock: the same timers as libevent events on a base. */
static void test_real_clock(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    td_clock_t *c = td_clock_new(base);
    assert_non_null(c);
    assert_int_equal(td_clock_common(c, 5), 0);
    assert_int_equal(td_clock_common(c, 5), 0);
    probe_t a, b;
    int order[4], n = 0;
    s_probe(&a, c, 1, order, &n);
    s_probe(&b, c, 2, order, &n);
    uint64_t t0 = td_clock_now_ms(c);
    td_timer_start(a.timer, 5);               /* a common timeout */
    td_timer_start(b.timer, 1);
    assert_true(td_timer_pending(a.timer));
    assert_int_equal(event_base_dispatch(base), 1);   /* 1: no events left */
    assert_int_equal(a.fired, 1);
    assert_int_equal(b.fired, 1);
    assert_int_equal(order[0], 2);
    assert_true(a.at[0] >= t0 + 4);
    assert_false(td_timer_pending(a.timer));
    td_timer_start(a.timer, 1000);
    td_timer_stop(a.timer);
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    td_timer_destroy(&a.timer);
    td_timer_destroy(&b.timer);
    td_clock_destroy(&c);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_order_and_times),
        cmocka_unit_test(test_fake_repeat_and_destroy_in_callback),
        cmocka_unit_test(test_real_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
