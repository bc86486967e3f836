/* Unit tests for sip_load: the estimator's and the admission's arithmetic,
 * on made-up times (no clock, no timing assertions). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sip_load.h"

#define MS 1000ULL

/* Run `ms` of 10 ms samples from *now with this lag and queue delay, the
 * CPU advancing busy_pct of wall time, offering cps new calls a second
 * (spread evenly over each sample). Counts admitted calls into *admitted
 * and events into started / ended. */
typedef struct {
    sip_load_t *load;
    uint64_t now, cpu;
    int started, ended;
    uint64_t admitted, shed;
    int retry_min, retry_max;
} run_t;

static void s_run(run_t *r, unsigned ms, uint64_t lag_us, uint64_t queue_us, unsigned busy_pct,
                  unsigned cps)
{
    for (unsigned t = 0; t < ms; t += 10) {
        unsigned calls = cps / 100;
        for (unsigned i = 0; i < calls; i++) {
            int retry = sip_load_admit(r->load, r->now + i * (10 * MS / calls));
            if (retry == 0)
                r->admitted++;
            else {
                r->shed++;
                if (!r->retry_min || retry < r->retry_min)
                    r->retry_min = retry;
                if (retry > r->retry_max)
                    r->retry_max = retry;
            }
        }
        r->now += 10 * MS;
        r->cpu += 10 * MS * busy_pct / 100;
        sip_load_event_t ev = sip_load_sample(r->load, r->now, lag_us, queue_us, r->cpu);
        r->started += ev == SIP_LOAD_STARTED;
        r->ended += ev == SIP_LOAD_ENDED;
    }
}

static run_t s_start(uint32_t lag_ms, uint32_t max_cps)
{
    sip_load_opts_t o = { .lag_ms = lag_ms, .max_cps = max_cps };
    run_t r = { .now = 1000000 * MS, .cpu = 5 * MS };
    r.load = sip_load_new(&o, r.now, r.cpu);
    assert_non_null(r.load);
    return r;
}

static void test_no_load_admits_everything(void **state)
{
    (void)state;
    run_t r = s_start(20, 0);
    s_run(&r, 2000, 1 * MS, 2 * MS, 50, 1000);
    assert_int_equal(r.admitted, 2000);
    assert_int_equal(r.shed, 0);
    assert_int_equal(r.started, 0);
    sip_load_stats_t st;
    sip_load_stats(r.load, &st);
    assert_int_equal(st.offered, 2000);
    assert_int_equal(st.admitted, 2000);
    assert_int_equal(st.limit_cps, 0);
    assert_int_equal(st.overloaded, 0);
    assert_int_equal(st.busy_pct, 50);
    assert_int_equal(st.queue_us, 2 * MS);
    assert_true(st.lag_us <= 1 * MS);
    sip_load_destroy(&r.load);
    assert_null(r.load);
    sip_load_destroy(&r.load);              /* NULL is fine */
}

/* max_cps is a token bucket a tenth of a second deep: one call every 100 ms
 * at max_cps=10, the first at once. */
static void test_max_cps_token_bucket(void **state)
{
    (void)state;
    run_t r = s_start(0, 10);
    s_run(&r, 1000, 0, 0, 10, 100);
    assert_int_equal(r.admitted, 10);
    assert_int_equal(r.shed, 90);
    assert_int_equal(r.started, 0);         /* a fixed limit is no load episode */
    assert_true(r.retry_min >= 1 && r.retry_max <= 4 && r.retry_min < r.retry_max);
    sip_load_stats_t st;
    sip_load_stats(r.load, &st);
    assert_int_equal(st.limit_cps, 10);
    assert_int_equal(st.shed, 90);
    sip_load_destroy(&r.load);
}

/* A smoothed lag of about 40 ms against a 20 ms target: the first window
 * cuts the admitted rate by target / delay (about half); the episode is
 * reported once, and ends 20 calm windows after the load is gone. */
static void test_lag_episode(void **state)
{
    (void)state;
    run_t r = s_start(20, 0);
    s_run(&r, 100, 40 * MS, 0, 50, 1000);
    assert_int_equal(r.started, 0);         /* one late window is not enough */
    s_run(&r, 100, 40 * MS, 0, 50, 1000);
    assert_int_equal(r.started, 1);
    assert_int_equal(r.admitted, 200);     /* the first two windows let everything in */
    sip_load_stats_t st;
    sip_load_stats(r.load, &st);
    assert_true(st.overloaded);
    /* EWMA of 40 ms over twenty samples from 0: 39.9 ms; 1000/s * 20/39.9 */
    assert_true(st.limit_cps >= 500 && st.limit_cps <= 560);
    uint32_t first = st.limit_cps;
    s_run(&r, 500, 40 * MS, 0, 50, 1000);
    sip_load_stats(r.load, &st);
    assert_int_equal(r.started, 1);
    assert_true(st.limit_cps < first);      /* still late: cut again, never below 50 */
    assert_true(st.limit_cps >= 50);
    assert_true(r.shed > 0);
    /* the lag is gone and so are the calls: 20 windows, then no limit */
    s_run(&r, 1900, 0, 0, 5, 0);
    assert_int_equal(r.ended, 0);
    s_run(&r, 200, 0, 0, 5, 0);
    assert_int_equal(r.ended, 1);
    sip_load_stats(r.load, &st);
    assert_false(st.overloaded);
    assert_int_equal(st.limit_cps, 0);
    assert_int_equal(st.episodes, 1);
    uint64_t before = r.admitted;
    s_run(&r, 100, 0, 0, 5, 1000);
    assert_int_equal(r.admitted - before, 100);
    sip_load_destroy(&r.load);
}

/* With the load gone but calls still offered above the limit, the limit
 * grows by 1/16 a window; the episode lasts while calls are shed. */
static void test_limit_grows_back(void **state)
{
    (void)state;
    run_t r = s_start(20, 0);
    s_run(&r, 200, 40 * MS, 0, 50, 1000);
    sip_load_stats_t st;
    sip_load_stats(r.load, &st);
    uint32_t cut = st.limit_cps;
    s_run(&r, 100, 0, 0, 50, 1000);
    sip_load_stats(r.load, &st);
    assert_int_equal(st.limit_cps, cut + cut / 16);
    s_run(&r, 1000, 0, 0, 50, 1000);
    sip_load_stats(r.load, &st);
    assert_true(st.overloaded);
    assert_int_equal(r.ended, 0);
    sip_load_destroy(&r.load);
}

/* A queue delay above the target (the socket's standing queue), or a core
 * busy 90% or more, is overload even when the timer is on time; the
 * smallest queue delay of a window counts, not the largest. */
static void test_queue_and_busy(void **state)
{
    (void)state;
    run_t r = s_start(20, 0);
    s_run(&r, 200, 0, 30 * MS, 50, 1000);
    assert_int_equal(r.started, 1);
    sip_load_stats_t st;
    sip_load_stats(r.load, &st);
    assert_int_equal(st.queue_us, 30 * MS);
    sip_load_destroy(&r.load);

    r = s_start(20, 0);
    s_run(&r, 200, 0, 0, 95, 1000);
    assert_int_equal(r.started, 1);
    sip_load_stats(r.load, &st);
    assert_int_equal(st.busy_pct, 95);
    assert_int_equal(st.limit_cps, 900);    /* busy alone: cut by a tenth */
    sip_load_destroy(&r.load);

    r = s_start(20, 0);                     /* late windows apart start nothing */
    for (int i = 0; i < 5; i++) {
        s_run(&r, 100, 0, 30 * MS, 50, 1000);
        s_run(&r, 100, 0, 1 * MS, 50, 1000);
    }
    assert_int_equal(r.started, 0);
    assert_int_equal(r.shed, 0);
    sip_load_destroy(&r.load);

    r = s_start(20, 0);
    for (int i = 0; i < 10; i++) {          /* one slow datagram, the rest quick */
        r.now += 10 * MS;
        r.started += sip_load_sample(r.load, r.now, 0, i == 3 ? 500 * MS : 1 * MS, r.cpu)
                     == SIP_LOAD_STARTED;
    }
    assert_int_equal(r.started, 0);
    sip_load_destroy(&r.load);
}

/* A late loop with no calls coming in (timers expiring after a burst, a
 * busy host) starts no episode: it would only throttle the next calls. */
static void test_late_but_idle(void **state)
{
    (void)state;
    run_t r = s_start(20, 0);
    s_run(&r, 1000, 60 * MS, 0, 95, 0);
    assert_int_equal(r.started, 0);
    s_run(&r, 1000, 60 * MS, 0, 95, 100);  /* a few calls: the host's lag, not theirs */
    assert_int_equal(r.started, 0);
    assert_int_equal(r.shed, 0);
    s_run(&r, 200, 60 * MS, 0, 95, 1000);
    assert_int_equal(r.started, 1);         /* calls came: now it is theirs */
    sip_load_destroy(&r.load);
}

/* overload_lag_ms=0: never shed by load, however late. */
static void test_lag_zero_is_off(void **state)
{
    (void)state;
    run_t r = s_start(0, 0);
    s_run(&r, 1000, 500 * MS, 500 * MS, 100, 1000);
    assert_int_equal(r.started, 0);
    assert_int_equal(r.shed, 0);
    sip_load_destroy(&r.load);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_load_admits_everything),
        cmocka_unit_test(test_max_cps_token_bucket),
        cmocka_unit_test(test_lag_episode),
        cmocka_unit_test(test_limit_grows_back),
        cmocka_unit_test(test_queue_and_busy),
        cmocka_unit_test(test_late_but_idle),
        cmocka_unit_test(test_lag_zero_is_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
