/* router_metrics - the router's /metrics and /healthz (td_metrics.h): calls
 * by state, calls ended by disposition, CDRs, dialplan reloads, the media
 * workers as the router sees them, the bus, the process. Healthy while at
 * least one signaling process and one media worker are alive on the bus. */
#ifndef ROUTER_METRICS_H
#define ROUTER_METRICS_H

#include <event2/event.h>
#include "router.h"
#include "td_metrics.h"
#include "td_settings.h"

/* Serve on settings' metrics address (*out NULL when metrics are off). The
 * router is borrowed: destroy *out before it. 0, or -1 (logged). */
int router_metrics_start(struct event_base *base, router_t *router,
                         const td_settings_t *settings, td_metrics_t **out);

#endif
