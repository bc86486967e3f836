/* cdr_pgsql - CDRs into a PostgreSQL table, as Asterisk's cdr_pgsql.
 *
 * Configured by cdr_pgsql.conf's [global] (hostname, port, dbname, user,
 * password, appname, table, encoding, timezone; schema as cel_pgsql), and
 * active only when that file has a [global] section. At every connect it
 * reads the table's columns from the catalog and inserts, by name, only the
 * columns it has a value for (calldate or start, clid, src, dst, dcontext,
 * channel, dstchannel, lastapp, lastdata, answer, end, duration, billsec,
 * disposition, amaflags, accountcode, peeraccount, uniqueid, linkedid,
 * userfield, sequence), typed as the column is (an int start is epoch
 * seconds, an int disposition is Asterisk's number), as cdr_pgsql.c does.
 *
 * Unlike Asterisk it never blocks: libpq's asynchronous calls are driven by
 * libevent events on the connection's socket (a hostname that is a name is
 * resolved with evdns first), and every value is a query parameter.
 * Records wait in a bounded memory queue; while the database is away (or
 * the queue is full) they go to a spool file (cdr_spool), which is replayed
 * in order once the connection is back (reconnect with backoff) and on the
 * next start. An INSERT whose answer was lost with the
 * connection is replayed with "WHERE NOT EXISTS (same uniqueid)", so the
 * table gets each record once. A record the database refuses for its data
 * (SQLSTATE class 22 or 23) goes to <spool>.rejected and is logged. */
#ifndef CDR_PGSQL_H
#define CDR_PGSQL_H

#include <stddef.h>
#include <event2/event.h>

#include "cdr.h"

typedef struct cdr_pgsql cdr_pgsql_t;

typedef struct {
    char hostname[256];     /* "": the default unix socket */
    char port[16];          /* 5432 */
    char dbname[128];       /* asteriskcdrdb */
    char user[128];         /* asterisk */
    char password[128];     /* "" */
    char appname[128];      /* "": application_name not sent */
    char table[256];        /* cdr; "schema.table" names the schema */
    char schema[128];       /* "": current_schema() */
    char encoding[64];      /* LATIN9 */
    char timezone[64];      /* "": local time */
} cdr_pgsql_conf_t;

/* Read cdr_pgsql.conf at path into conf, with Asterisk's defaults for what
 * is missing. 1: the module is on; 0: no file, or no [global] (off, as
 * Asterisk declines to load); -1: unreadable (reason in err). */
int cdr_pgsql_conf_read(cdr_pgsql_conf_t *conf, const char *path, char *err, size_t errlen);

/* Start connecting (asynchronously) and open the spool at spool_path,
 * replaying what a previous run left in it. NULL on failure (logged). */
cdr_pgsql_t *cdr_pgsql_new(struct event_base *base, const cdr_pgsql_conf_t *conf,
                           const char *spool_path);
/* Records still queued or in flight go to the spool (synced) for the next
 * start; then the connection is closed. */
void cdr_pgsql_destroy(cdr_pgsql_t **self_p);

/* Queue one record (copied). Never blocks on the database. */
void cdr_pgsql_write(cdr_pgsql_t *self, const cdr_record_t *rec);
/* The same, as a cdr_backend_fn (arg is the cdr_pgsql_t). */
void cdr_pgsql_backend(void *arg, const cdr_record_t *rec);

/* "cdr show pgsql status": connection state and counts, into buf. */
size_t cdr_pgsql_status(const cdr_pgsql_t *self, char *buf, size_t len);
/* Records waiting (memory and spool) and written since start. */
size_t cdr_pgsql_pending(const cdr_pgsql_t *self);
unsigned long cdr_pgsql_written(const cdr_pgsql_t *self);

#endif
