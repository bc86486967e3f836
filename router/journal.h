/* journal - the router's crash-safe record of its live calls, so that a
 * router killed with calls up (kill -9, OOM, a crash) still gets a CDR line
 * written for each of them when it starts again.
 *
 * An append-only text file, <cdrdir>/calls.journal, one line per record:
 *   U <tab> the CDR fields so far (cdr_record_t, end excepted)  - a call's
 *                                  newest state; the last U of an id wins
 *   E <tab> uniqueid                                           - it ended
 * Fields are escaped (\\, \t, \n, \r), times are "sec.usec". Records are
 * buffered and written with one write(2) per event-loop pass, or at once
 * with journal_flush (the caller does after a CDR line) (never fsync:
 * the page cache outlives the process, and a host crash loses the CDRs of
 * calls that also lost their phones' dialogs). The file is emptied whenever
 * no call is live, and rewritten with the live calls only once it passes
 * JOURNAL_MAX_BYTES.
 *
 * On start, journal_new reads what the previous run left: each call with a U
 * and no E never ended, and gets the CDR line Asterisk would have written
 * had it hung up at this restart (end = now, disposition as the call stood:
 * ANSWERED if it was answered, else what its Dial had come to). */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stddef.h>
#include <event2/event.h>
#include "cdr.h"

#define JOURNAL_MAX_BYTES (16u << 20)

/* The CDR fields a record holds (cdr_record_t, end excepted), in this order:
 * uniqueid start answer disposition accountcode src dst dcontext clid channel
 * dstchannel lastapp lastdata userfield amaflags. The cluster store's call:<id>
 * hash (call.c, adopt.c) keeps the same fields under these names. */
#define JOURNAL_FIELDS 15
extern const char *const journal_field_names[JOURNAL_FIELDS];
/* rec's fields as text into out (borrowed from rec, times formatted into
 * start and answer, "sec.usec"). */
void journal_fields(const cdr_record_t *rec, char start[48], char answer[48],
                    const char *out[JOURNAL_FIELDS]);
/* The reverse: rec's fields point into f (end left zero). */
void journal_record(const char *const f[JOURNAL_FIELDS], cdr_record_t *rec);

typedef struct journal journal_t;

/* Open <dir>/calls.journal, write a CDR line to cdr (if not NULL) for every
 * call of the previous run that never ended (their count in *recovered, if
 * not NULL), and start an empty journal. NULL on failure (logged). */
journal_t *journal_new(struct event_base *base, const char *dir, cdr_t *cdr,
                       size_t *recovered);
/* The same; answered_elsewhere: calls of the previous run that were answered
 * get no CDR line here (cluster mode: the store has them, the router that
 * adopts each one writes its line when it ends); the others do. */
journal_t *journal_open(struct event_base *base, const char *dir, cdr_t *cdr,
                        int answered_elsewhere, size_t *recovered);
/* Write what is buffered and close. */
void journal_destroy(journal_t **self_p);

/* A live call's state now (rec's end is ignored). rec is borrowed. */
void journal_update(journal_t *self, const cdr_record_t *rec);
/* The call with this uniqueid ended (its CDR is written). */
void journal_end(journal_t *self, const char *uniqueid);

/* No call is live: empty the file. */
void journal_clear(journal_t *self);
/* Has the file grown past JOURNAL_MAX_BYTES? Then: journal_rewrite_begin,
 * journal_update for every live call, journal_rewrite_end (the new file
 * replaces the old one by rename, so a crash meanwhile loses nothing). */
int journal_too_big(const journal_t *self);
int journal_rewrite_begin(journal_t *self);
int journal_rewrite_end(journal_t *self);

/* Bytes in the file, buffered ones included (for tests). */
size_t journal_size(const journal_t *self);
/* Write what is buffered now (the loop does it once a pass; for tests). */
void journal_flush(journal_t *self);

#endif
