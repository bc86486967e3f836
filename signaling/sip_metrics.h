/* sip_metrics - signaling's /metrics and /healthz (td_metrics.h): SIP
 * messages by method and code, retransmissions, transactions, legs and
 * calls, registrations, TCP/TLS connections, the bus, the process. Healthy
 * while the router is alive on the bus. */
#ifndef SIP_METRICS_H
#define SIP_METRICS_H

#include <event2/event.h>
#include "sip_core.h"
#include "td_metrics.h"
#include "td_settings.h"

/* Serve on settings' metrics address (*out NULL when metrics are off). The
 * core is borrowed: destroy *out before it. 0, or -1 (logged). */
int sip_metrics_start(struct event_base *base, sip_core_t *core, const td_settings_t *settings,
                      td_metrics_t **out);

#endif
