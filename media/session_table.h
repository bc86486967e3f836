/* session_table - the worker's sessions by call id, O(1) on average.
 *
 * The table owns its sessions: removing one (or destroying the table)
 * destroys it. Keys are the sessions' own call ids. */
#ifndef SESSION_TABLE_H
#define SESSION_TABLE_H

#include <stdint.h>
#include "session.h"

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

/* Call fn on every session; where it returns non-zero the session is
 * removed (destroyed) after fn returns. fn must not touch the table.
 * Returns how many were removed. */
typedef int (session_table_fn)(session_t *session, void *arg);
uint32_t session_table_sweep(session_table_t *self, session_table_fn *fn, void *arg);

#endif
