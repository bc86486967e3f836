/* media_metrics - a media worker's /metrics and /healthz (td_metrics.h):
 * sessions, RTP port pairs, RTP packets and bytes in and out, dropped,
 * re-latches, transcoded, SRTP failures, the bus, the process. Healthy while
 * the router is alive on the bus. Each worker serves its own: per-worker
 * numbers are per-target in Prometheus (and tandem_process_info names it). */
#ifndef MEDIA_METRICS_H
#define MEDIA_METRICS_H

#include <event2/event.h>
#include "td_metrics.h"
#include "td_settings.h"
#include "worker.h"

/* Serve on settings' metrics address (*out NULL when metrics are off). The
 * worker is borrowed: destroy *out before it. 0, or -1 (logged). */
int media_metrics_start(struct event_base *base, worker_t *worker,
                        const td_settings_t *settings, td_metrics_t **out);

#endif
