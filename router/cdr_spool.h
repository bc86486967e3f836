/* cdr_spool - CDRs kept on disk, in order, until a backend (cdr_pgsql) has
 * written them: one line per record, appended; read back from the oldest
 * pending; each line's first byte is its state, rewritten in place:
 *   'P' pending, 'U' pending but maybe written already (its INSERT's answer
 *   was lost with the connection), 'D' done.
 * When no line is pending the file is truncated; past CDR_SPOOL_COMPACT
 * bytes of done lines it is rewritten without them. Appends reach the disk
 * (fdatasync) within CDR_SPOOL_SYNC_MS, from a timer; a rewrite is synced
 * before it replaces the file. A file left by an earlier run is taken up
 * (a torn last line, from a crash in the middle of a write, is dropped). */
#ifndef CDR_SPOOL_H
#define CDR_SPOOL_H

#include <stddef.h>
#include <sys/types.h>
#include <event2/event.h>

#include "cdr.h"

typedef struct cdr_spool cdr_spool_t;

#define CDR_SPOOL_FIELD_MAX 1024         /* bytes of one text field in a line */
#define CDR_SPOOL_LINE_MAX  32768        /* > 14 fields * 2 * CDR_SPOOL_FIELD_MAX */
#define CDR_SPOOL_SYNC_MS   1000
#define CDR_SPOOL_COMPACT   (4 << 20)

/* Open (or create) the spool at path and count what is pending in it.
 * NULL on failure (logged). */
cdr_spool_t *cdr_spool_new(struct event_base *base, const char *path);
/* Sync and close; pending lines stay for the next cdr_spool_new. */
void cdr_spool_destroy(cdr_spool_t **self_p);

/* Append one line (a cdr_spool_encode line, with its '\n'). 0 or -1 (logged). */
int cdr_spool_append(cdr_spool_t *self, const char *line, size_t n);
/* Put n lines ('\n'-terminated strings, borrowed) in front of the pending
 * ones, in their order: appended when nothing is pending, else the file is
 * rewritten. 0, or -1 (logged; they were appended instead). */
int cdr_spool_put_front(cdr_spool_t *self, char **lines, size_t n);
/* The oldest pending line (with its '\n'; borrowed until the next call),
 * its offset and length; NULL when nothing is pending. */
const char *cdr_spool_first(cdr_spool_t *self, off_t *off, size_t *len);
/* Set the state byte of the line at off ('U'). */
void cdr_spool_mark(cdr_spool_t *self, off_t off, char state);
/* The line at off (cdr_spool_first's) is written: mark it done, truncate or
 * compact the file as it allows. */
void cdr_spool_done(cdr_spool_t *self, off_t off, size_t len);

size_t cdr_spool_pending(const cdr_spool_t *self);
const char *cdr_spool_path(const cdr_spool_t *self);

/* The line for rec: the state byte ('P'), then sequence, start, answer, end
 * (seconds.microseconds) and the text fields, separated by tabs, with '\\',
 * tab, CR and LF escaped; each text field cut at CDR_SPOOL_FIELD_MAX bytes
 * (not inside a UTF-8 character). Returns the length (with the '\n'), or
 * what it would need if len is too small (as snprintf). */
size_t cdr_spool_encode(const cdr_record_t *rec, unsigned long sequence, char *buf, size_t len);
/* Parse such a line in place (line is changed; rec's strings point into it).
 * 0, or -1 if it is not such a line. */
int cdr_spool_decode(char *line, cdr_record_t *rec, unsigned long *sequence);

#endif
