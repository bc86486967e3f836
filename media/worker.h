/* worker - the media worker process object: the bus, the port pool and the
 * sessions, and the handlers for the router's media requests.
 *
 *   MediaOffer(sdp)   -> open the call's session (or reuse it) and reply
 *                        MediaOffered{sdp rewritten for side A, for side B}
 *   MediaAnswer(sdp)  -> learn side B; reply MediaAnswered{sdp for side A}
 *   MediaEcho         -> reflect side A's RTP to itself
 *   MediaRelease      -> log the counters, reply MediaStats{final: the
 *                        session's quality, for quality.csv}, close it
 *   MediaStatsRequest -> MediaStats{id, the quality of the envelope's
 *                        session, or of every one for call id ""}
 *   MediaPlay         -> play prompts to the caller; MediaPlayed when done
 *   MediaRecord       -> record the caller; MediaRecorded when done
 *   MediaStop         -> end either (reported as stopped)
 *   (caller's keys)   -> MediaDtmf, unprompted (see ivr.h)
 * Failures reply MediaError: cause 58 (bad SDP), 34 (no ports, over
 * capacity), 41 (no session for the call). Replies go to the sender, with
 * the request's call id and leg. */
#ifndef WORKER_H
#define WORKER_H

#include <stdint.h>
#include <event2/event.h>

#include "rtp_conf.h"
#include "session.h"
#include "session_table.h"
#include "td_bus.h"
#include "td_settings.h"

typedef struct worker worker_t;

/* Q.850 causes the worker answers with. */
#define WORKER_CAUSE_NO_CIRCUIT   34   /* no free ports, over capacity */
#define WORKER_CAUSE_TEMPORARY    41   /* no session for this call */
#define WORKER_CAUSE_BAD_SDP      58   /* bearer capability not available */

/* Orphans: a session whose call the router may have forgotten (the router
 * fell silent after the session's last request: it restarted, or it took
 * this worker for dead and hung the call up) is closed once no packet has
 * arrived on it for WORKER_ORPHAN_IDLE_S, with a MediaError(41) to the
 * router in case it still knows the call. Sessions the router has spoken
 * about since it came back are never closed for idleness (calls on hold). */
#define WORKER_TICK_S        10
#define WORKER_ORPHAN_IDLE_S 60

/* Biggest SDP the worker writes (bigger input is answered with cause 58). */
#define WORKER_SDP_MAX 8192

/* Connect to the router at settings->endpoint as settings->identity and
 * serve sessions on ports from rtp. settings->media_address is put in every
 * SDP and bound ("" means this host's address); if it is not a local address
 * (a NAT's public one) the sockets bind 0.0.0.0. Returns NULL on failure
 * (logged). */
worker_t *worker_new(struct event_base *base, const td_settings_t *settings,
                     const rtp_conf_t *rtp);
/* Close every session and the bus. */
void worker_destroy(worker_t **self_p);

td_bus_t *worker_bus(worker_t *self);
/* The prompts/keys/recordings part the sessions share (tests set its clock). */
struct ivr_env;
struct ivr_env *worker_ivr_env(worker_t *self);
/* The housekeeping tick (every WORKER_TICK_S); public so tests can fire it. */
void worker_tick(worker_t *self);
uint32_t worker_session_count(const worker_t *self);
/* For metrics: RTP counters of every session this worker has had (both
 * sides added; session_table_totals), and its RTP port pairs in use and in
 * all (rtp.conf's range). */
void worker_rtp_totals(const worker_t *self, session_stats_t *out);
/* For metrics: call quality, loss and jitter (session_table_quality). */
void worker_rtp_quality(const worker_t *self, session_table_quality_t *out);
/* The closed sessions' quality (session_table_closed_quality), borrowed
 * for the worker's life: the end-of-session histograms. */
const session_table_quality_t *worker_rtp_closed_quality(const worker_t *self);
void worker_port_pairs(const worker_t *self, uint32_t *in_use, uint32_t *all);
uint32_t worker_capacity(const worker_t *self);
/* Drain (SIGUSR1): tell the router (MediaDrain, every second) to give this
 * worker no new calls and to move its calls away; once no session is left
 * (and at least a second has passed, for offers already on their way) the
 * event loop is left and the process exits. */
void worker_drain(worker_t *self);
/* The session of call_id, borrowed; NULL if none. */
session_t *worker_session(worker_t *self, const char *call_id);
/* Sessions that play or record now (tests). */
uint32_t worker_ivr_active(const worker_t *self);

#endif
