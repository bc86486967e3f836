/* sip_load - how loaded signaling's one core is, and whether a new call may
 * come in (admission control, issue 11 "overload that degrades gracefully").
 *
 * Measured, not counted: the core feeds it samples every few milliseconds
 * (sip_load_sample) of
 *   - the event loop's lag: how late a periodic timer ran (smoothed);
 *   - the queue delay: the smallest time a UDP datagram waited in the
 *     socket before we read it, over the sample (the kernel's receive
 *     timestamp, sip_transport); a standing queue is what makes a call's
 *     setup slow, CoDel's "sojourn time";
 *   - the process's CPU time, for the busy fraction (CPU / wall time);
 * and asks it for every new dialog-creating INVITE (sip_load_admit), which
 * is also how the offered and admitted rates are counted.
 *
 * The control law, every CONTROL_US (100 ms): overloaded when the delay
 * (the larger of the smoothed lag and the smallest queue delay) is above
 * opts.lag_ms, or the busy fraction is at BUSY_PCT or more, in HOT_WINDOWS
 * (2) windows in a row to start an episode, in any one window during it. While
 * overloaded the admitted rate is cut multiplicatively (at an episode's
 * start what was admitted, later the limit itself, times lag_ms / delay,
 * between 0.5 and 0.9); while not, it grows by 1/16 a window, up to twice
 * the offered rate, never below MIN_CPS (50). An episode starts only
 * while START_CPS (200) new calls a second or more come in: a late loop
 * with few calls is the host's doing, not theirs to pay for. An episode ends after
 * CALM_WINDOWS windows in a row without shedding; then there is no limit
 * again. opts.max_cps is a fixed limit on top (0: none). Admission is a
 * token bucket at the smaller limit, a tenth of a second deep.
 *
 * Pure arithmetic on the times it is given (microseconds of a monotonic
 * clock): no clock, no allocation after _new, so the unit tests drive it. */
#ifndef SIP_LOAD_H
#define SIP_LOAD_H

#include <stdint.h>

typedef struct sip_load sip_load_t;

typedef struct {
    uint32_t lag_ms;        /* tandem.conf [signaling] overload_lag_ms (20); 0: never shed by load */
    uint32_t max_cps;       /* [signaling] max_cps: new calls a second at most (0: no fixed limit) */
} sip_load_opts_t;

typedef enum {
    SIP_LOAD_SAME = 0,
    SIP_LOAD_STARTED,       /* an overload episode began with this sample */
    SIP_LOAD_ENDED          /* it ended: no call shed for CALM_WINDOWS windows */
} sip_load_event_t;

typedef struct {
    uint32_t lag_us;        /* the smoothed loop lag */
    uint32_t queue_us;      /* the smallest queue delay of the last window */
    uint32_t busy_pct;      /* CPU time / wall time over the last window */
    uint32_t limit_cps;     /* the admitted rate now (0: no load limit) */
    int overloaded;         /* in an episode */
    uint64_t offered, admitted, shed;   /* new INVITEs since start */
    uint64_t episodes;
    uint64_t episode_shed;  /* shed in the current (or the last) episode */
} sip_load_stats_t;

sip_load_t *sip_load_new(const sip_load_opts_t *opts, uint64_t now_us, uint64_t cpu_us);
void sip_load_destroy(sip_load_t **self_p);

/* One sample, at now_us: lag_us how late the sampling timer ran, queue_us
 * the smallest queue delay of the datagrams read since the last sample (0
 * when none was read), cpu_us the process's CPU time so far. Returns what
 * changed, so the caller logs once per episode. */
sip_load_event_t sip_load_sample(sip_load_t *self, uint64_t now_us, uint64_t lag_us,
                                 uint64_t queue_us, uint64_t cpu_us);

/* A new dialog-creating INVITE (never a retransmission, nor any other
 * request) at now_us: 0 to take it, else the seconds for Retry-After of
 * the 503 that sheds it (1 to 4, spread so that shed callers do not all
 * come back at once). */
int sip_load_admit(sip_load_t *self, uint64_t now_us);

void sip_load_stats(const sip_load_t *self, sip_load_stats_t *out);

#endif
