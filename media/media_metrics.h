/* media_metrics - a media worker's /metrics and /healthz (td_metrics.h):
 * sessions, RTP port pairs, RTP packets and bytes in and out, dropped,
 * re-latches, transcoded, SRTP failures, RTP loss (expected and lost by
 * sequence numbers), jitter (live sides; a histogram of ended sessions),
 * RTCP packets, MOS of ended sessions, the bus, the process. Healthy while
 * the router is alive on the bus. Each worker serves its own: per-worker
 * numbers are per-target in Prometheus (and tandem_process_info names it). */
#ifndef MEDIA_METRICS_H
#define MEDIA_METRICS_H

#include <event2/event.h>
#include "td_metrics.h"
#include "td_settings.h"
#include "worker.h"

/* The registry alone, not served (tests; media_metrics_start). The worker
 * is borrowed: destroy the registry before it. NULL on failure (logged).
 * One registry per process: the counters' state is file-static. */
td_metrics_t *media_metrics_new(worker_t *worker, const char *identity);
/* Serve on settings' metrics address (*out NULL when metrics are off). The
 * worker is borrowed: destroy *out before it. 0, or -1 (logged). */
int media_metrics_start(struct event_base *base, worker_t *worker,
                        const td_settings_t *settings, td_metrics_t **out);

#endif
