/* chanstats - tandemctl's `sip show channelstats`, answered by the router in
 * chan_sip's layout from the media workers' live counts: the router asks
 * every live worker (MediaStatsRequest, call id "": all its sessions),
 * collects their MediaStats for up to CHANSTATS_WAIT_MS, then replies to
 * tandemctl (CliReply) with one row per phone of each call (side A the
 * caller, side B the callee). A worker that does not answer in time is
 * named under the table. Not a hot path: each request is malloc'd. */
#ifndef CHANSTATS_H
#define CHANSTATS_H

#include <stdint.h>
#include <event2/event.h>

#include "router.h"

#define CHANSTATS_WAIT_MS 1000

typedef struct chanstats chanstats_t;

chanstats_t *chanstats_new(struct event_base *base, router_t *router);
/* Drops the requests in flight (tandemctl gets no reply). */
void chanstats_destroy(chanstats_t **self_p);

/* Is command one chanstats answers ("sip show channelstats")? */
int chanstats_handles(const char *command);
/* Start answering command for tandemctl `peer`, CliRequest `cli_id`. */
void chanstats_ask(chanstats_t *self, const char *peer, uint32_t cli_id, const char *command);
/* A worker's MediaStats that is not final: the answer to one of our asks. */
void chanstats_on_stats(chanstats_t *self, const char *worker, const Tandem__MediaStats *msg);

/* One row of chan_sip's table for a side (tests): peer address, call id,
 * duration ("" unknown). Appends to buf (len total), returns the new length. */
size_t chanstats_row(char *buf, size_t len, size_t used, const char *call_id,
                     const char *duration, const Tandem__MediaSideStats *s);

#endif
