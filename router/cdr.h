/* cdr - call detail records, one line per call appended to <dir>/Master.csv
 * in the column order of Asterisk's cdr_csv:
 *   "accountcode","src","dst","dcontext","clid","channel","dstchannel",
 *   "lastapp","lastdata","start","answer","end",duration,billsec,
 *   "disposition","amaflags"[,"uniqueid"][,"userfield"]
 * (the last two when cdr.conf's [csv] says loguniqueid / loguserfield,
 * as cdr_csv.c; Debian's stock cdr.conf turns both on, the code's default
 * is off). Strings are quoted with inner quotes doubled (cdr_csv's
 * append_string does only that, so a newline in CALLERID(num) splits its
 * line); here a control character (below 0x20, or 0x7f) is also written as
 * \n, \r, \t or \xNN, as td_log writes it, so one call is always one line
 * whatever a remote party put in a field (issue 12). Times are local
 * "YYYY-MM-DD HH:MM:SS" ("" when not answered); durations are whole seconds.
 * The file stays open and each line is flushed as it is written. */
#ifndef CDR_H
#define CDR_H

#include <stddef.h>
#include <sys/time.h>

typedef struct cdr cdr_t;

typedef struct {
    const char *accountcode, *src, *dst, *dcontext, *clid;
    const char *channel, *dstchannel, *lastapp, *lastdata;
    struct timeval start, answer, end;   /* answer all zero: never answered */
    const char *disposition;             /* ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION */
    const char *amaflags;                /* DOCUMENTATION */
    const char *uniqueid, *userfield;    /* written if the options say so */
} cdr_record_t;

/* Create dir (and its parents) if need be and open Master.csv for append.
 * NULL on failure (logged). */
cdr_t *cdr_new(const char *dir);
void cdr_destroy(cdr_t **self_p);

/* Read [general] enable and [csv] loguniqueid and loguserfield from
 * cdr.conf at path. A missing file leaves CDRs on and both columns off;
 * enable=no turns every CDR off (Master.csv and the backend), as Asterisk's
 * main/cdr.c. 0, or -1 if the file is there but unreadable (logged; the
 * options stay as they were). */
int cdr_configure(cdr_t *self, const char *path);
/* 0 when cdr.conf said [general] enable=no, else 1. */
int cdr_enabled(const cdr_t *self);

/* A second backend (cdr_pgsql): cdr_write hands it every record after the
 * Master.csv line, borrowed until fn returns. One at most; fn NULL removes it. */
typedef void (cdr_backend_fn)(void *arg, const cdr_record_t *rec);
void cdr_set_backend(cdr_t *self, cdr_backend_fn *fn, void *arg);

/* Append one record. 0, or -1 if it could not be written (logged). */
int cdr_write(cdr_t *self, const cdr_record_t *rec);

/* The line for rec (with its '\n') into buf; returns its length, or the
 * length it would need if buf is too small (as snprintf). */
size_t cdr_format(const cdr_record_t *rec, char *buf, size_t len);
/* As cdr_format, with the uniqueid and userfield columns if asked. */
size_t cdr_format_columns(const cdr_record_t *rec, int uniqueid, int userfield, char *buf,
                          size_t len);

/* The record's duration (start to end) and billsec (answer to end, 0 when
 * not answered) in whole seconds, rounded, as Master.csv writes them. */
long cdr_duration(const cdr_record_t *rec);
long cdr_billsec(const cdr_record_t *rec);

/* How a CSV string column writes byte c: into out (room for 5), its
 * length (1 for any byte but a control character). */
size_t cdr_csv_char(char c, char *out);

/* Caller ID as Asterisk merges it: "\"name\" <num>", name, num or "". */
char *cdr_clid(const char *name, const char *num, char *buf, size_t len);

#endif
