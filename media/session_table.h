/* session_table - the worker's sessions by call id, O(1) on average.
 *
 * The table owns its sessions: removing one (or destroying the table)
 * destroys it. Keys are the sessions' own call ids. */
#ifndef SESSION_TABLE_H
#define SESSION_TABLE_H

#include <stdint.h>
#include "session.h"
#include "td_metrics.h"

typedef struct session_table session_table_t;

session_table_t *session_table_new(void);
/* Destroys every session still in the table. */
void session_table_destroy(session_table_t **self_p);

/* Take ownership of *session_p (nulled). Returns 0, or -1 if a session with
 * that call id is already there or memory ran out (*session_p untouched). */
int session_table_insert(session_table_t *self, session_t **session_p);
/* The session of call_id, borrowed; NULL if none. */
session_t *session_table_find(session_table_t *self, const char *call_id);
/* Destroy the session of call_id. Returns 0, or -1 if there was none. */
int session_table_remove(session_table_t *self, const char *call_id);
uint32_t session_table_size(const session_table_t *self);
/* RTP counters (session_stats_t, both sides added) of every session the
 * table has held: the ones it destroyed and the ones it holds now. For
 * metrics; walks the table. */
void session_table_totals(const session_table_t *self, session_stats_t *out);

/* Call quality (rtp_stats.h) for metrics. Counters cover every session the
 * table has held (closed ones kept when it destroys them, live ones walked
 * at each call); the jitter figures are of the live sessions' sides whose
 * phone has sent audio; the histograms count the closed sessions that
 * carried RTP, once each, at their end. Nothing is added per packet. */
typedef struct {
    uint64_t expected;          /* RTP packets expected by sequence numbers, both sides */
    uint64_t lost;              /* expected - received, each side never below 0 */
    uint64_t rtcp_packets;      /* RTCP compound packets received from the phones */
    uint32_t jitter_sides;      /* live sides with a jitter */
    double jitter_sum_s;        /* their RFC 3550 interarrival jitter added, seconds */
    double jitter_max_s;        /* the largest of them */
    td_histogram_t mos;         /* closed sessions: the worse side's MOS (1 .. 4.5) */
    td_histogram_t jitter_s;    /* closed sessions: the larger side's jitter, seconds */
} session_table_quality_t;
void session_table_quality(const session_table_t *self, session_table_quality_t *out);
/* The closed sessions' part alone (its histograms are the whole ones),
 * borrowed for the table's life. */
const session_table_quality_t *session_table_closed_quality(const session_table_t *self);

/* Call fn on every session; where it returns non-zero the session is
 * removed (destroyed) after fn returns. fn must not touch the table.
 * Returns how many were removed. */
typedef int (session_table_fn)(session_t *session, void *arg);
uint32_t session_table_sweep(session_table_t *self, session_table_fn *fn, void *arg);

#endif
