/* td_clock - time and timers behind one interface, so a test can run them on
 * a clock it advances by hand (libuv's test-timer.c idea: assert the exact
 * sequence of callbacks, never sleep).
 *
 * The real clock runs each timer as a libevent timer event on the base (and
 * the durations named with td_clock_common() as libevent common timeouts,
 * for the thousands of equal SIP Timer B/F/J). The fake clock keeps its
 * timers in a list and fires them only in td_clock_advance(), in order of
 * due time (equal times: in the order they were started), with now() set to
 * each one's due time as it runs.
 *
 *   td_clock_t *c = td_clock_new(base);          // or td_clock_new_fake()
 *   td_timer_t *t = td_timer_new(c, s_on_timer_b, txn);
 *   td_timer_start(t, 32000);                    // (re)arm: fires once
 *   td_timer_stop(t);
 *   td_timer_destroy(&t);
 *
 * A timer belongs to the object that made it and must be destroyed before
 * its clock. Callbacks may start, stop or destroy any timer, their own
 * included. */
#ifndef TD_CLOCK_H
#define TD_CLOCK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct td_clock td_clock_t;
typedef struct td_timer td_timer_t;
typedef void (td_timer_fn)(void *arg);

/* A clock on base's loop (real time); NULL on failure. */
td_clock_t *td_clock_new(struct event_base *base);

/* A clock that moves only in td_clock_advance(); now() starts at 0. */
td_clock_t *td_clock_new_fake(void);

/* Destroys the clock; every timer must already be destroyed. */
void td_clock_destroy(td_clock_t **self_p);

/* Milliseconds on a monotonic clock (the fake's own count). */
uint64_t td_clock_now_ms(td_clock_t *self);

/* Name a duration many timers share: the real clock then uses one libevent
 * common timeout for it (O(1) insertion). 0, or -1 if the table is full (the
 * duration still works, as a plain timer). The fake ignores it. */
int td_clock_common(td_clock_t *self, uint32_t ms);

td_timer_t *td_timer_new(td_clock_t *clock, td_timer_fn *cb, void *arg);
void td_timer_destroy(td_timer_t **self_p);

/* Fire once, ms from now (0: on the next turn of the loop, or the next
 * td_clock_advance); restarting a pending timer moves it. */
void td_timer_start(td_timer_t *self, uint32_t ms);
void td_timer_stop(td_timer_t *self);
int td_timer_pending(td_timer_t *self);

/* Fake clock only: fire every timer due within ms from now, in order, then
 * set now to now + ms. Returns how many fired. */
size_t td_clock_advance(td_clock_t *self, uint64_t ms);

/* Fake clock only: the due time (absolute ms) of the next pending timer; -1
 * if none is pending. */
int td_clock_next_due(td_clock_t *self, uint64_t *due);

/* Timers alive on the clock (both kinds), for teardown checks. */
size_t td_clock_timers(td_clock_t *self);

#endif
