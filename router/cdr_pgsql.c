/* cdr_pgsql - see cdr_pgsql.h.
 *
 * One connection, one statement at a time, records strictly in order:
 * the record in flight (cur), then the memory queue, then the spool. A
 * record enters the memory queue only while the spool holds nothing
 * pending, so everything in memory is older than everything spooled. When
 * the connection goes, cur and the memory queue are put in front of the
 * spool (appended when it is empty, else the spool is rewritten), so the
 * spool alone holds the whole backlog in order.
 *
 * Connection states: DOWN (retry timer armed) -> CONNECTING (PQconnectPoll)
 * -> COLUMNS (the catalog query) -> READY <-> INSERTING; any failure goes
 * back to DOWN, with the retry delay doubling from S_BACKOFF_MIN_MS to
 * S_BACKOFF_MAX_MS. */
#include "cdr_pgsql.h"
#include "cdr_spool.h"
#include "td_conf.h"
#include "td_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_QUEUE_MAX       1000        /* records in memory; the rest spool */
#define S_LINE_MAX        CDR_SPOOL_LINE_MAX
#define S_BACKOFF_MIN_MS  500
#define S_BACKOFF_MAX_MS  5000
#define S_CONNECT_TIMEOUT_S 10        /* connect and catalog query, together */
#define S_INSERT_TIMEOUT_S  10        /* an INSERT unanswered this long: the link is dead */

typedef enum { S_DOWN, S_RESOLVING, S_CONNECTING, S_COLUMNS, S_READY, S_INSERTING } s_state_t;

/* What a column is filled from (ast_cdr_format_var's names). */
typedef enum {
    F_OTHER, F_START, F_ANSWER, F_END, F_CLID, F_SRC, F_DST, F_DCONTEXT, F_CHANNEL,
    F_DSTCHANNEL, F_LASTAPP, F_LASTDATA, F_DURATION, F_BILLSEC, F_DISPOSITION, F_AMAFLAGS,
    F_ACCOUNTCODE, F_PEERACCOUNT, F_UNIQUEID, F_LINKEDID, F_USERFIELD, F_SEQUENCE
} s_field_t;

static const struct { const char *name; s_field_t field; } s_fields[] = {
    { "calldate", F_START }, { "start", F_START }, { "answer", F_ANSWER }, { "end", F_END },
    { "clid", F_CLID }, { "src", F_SRC }, { "dst", F_DST }, { "dcontext", F_DCONTEXT },
    { "channel", F_CHANNEL }, { "dstchannel", F_DSTCHANNEL }, { "lastapp", F_LASTAPP },
    { "lastdata", F_LASTDATA }, { "duration", F_DURATION }, { "billsec", F_BILLSEC },
    { "disposition", F_DISPOSITION }, { "amaflags", F_AMAFLAGS },
    { "accountcode", F_ACCOUNTCODE }, { "peeraccount", F_PEERACCOUNT },
    { "uniqueid", F_UNIQUEID }, { "linkedid", F_LINKEDID }, { "userfield", F_USERFIELD },
    { "sequence", F_SEQUENCE },
};

typedef struct {
    char *name;                 /* as the catalog has it */
    Oid type;                   /* the parameter's type: the column's */
    char typname[64];
    int maxchars;               /* varchar(n)/char(n): n; else 0 */
    int notnull, hasdefault;
    s_field_t field;
} s_column_t;

struct cdr_pgsql {
    struct event_base *base;
    cdr_pgsql_conf_t conf;
    char schema[128], table[256];   /* table split from "schema.table" */
    PGconn *conn;
    s_state_t state;
    struct event *io;           /* PQsocket, re-assigned when fd or interest changes */
    evutil_socket_t io_fd;
    short io_what;
    struct event *retry;        /* DOWN: next attempt; RESOLVING..COLUMNS: timeout */
    struct evdns_base *dns;     /* made at the first hostname that is a name */
    struct evdns_getaddrinfo_request *dns_req;
    char hostaddr[256];         /* hostname's addresses, "a,b"; "": libpq's own */
    char hostlist[1100];        /* hostname as often as hostaddr has addresses */
    int backoff_ms;
    int down_logged;            /* "lost/cannot connect" said for this outage */
    time_t connected_at;
    s_column_t *cols;
    size_t ncols;
    int uniqueid_col;           /* index in cols, -1: none */
    /* memory queue: a ring of malloc'd lines */
    char *q[S_QUEUE_MAX];
    size_t qhead, qlen;
    /* the record in flight */
    char cur[S_LINE_MAX];
    size_t cur_len;             /* 0: none */
    off_t cur_off;              /* its spool offset; -1: it came from memory */
    char work[S_LINE_MAX];      /* cur decoded */
    char *arena;                /* the statement's values */
    size_t arena_len, arena_used;
    const char **values;
    Oid *types;
    char *sql;
    size_t sqlcap;
    PGresult *res;              /* the statement's result, until the end of it */
    cdr_spool_t *spool;
    unsigned long sequence, written, rejected;
};

static void s_kick(cdr_pgsql_t *self);
static void s_arm_retry(cdr_pgsql_t *self, int ms);
static void s_go_down(cdr_pgsql_t *self, int uncertain, const char *why);

/* --- configuration --------------------------------------------------------- */

static void s_copy(char *dst, size_t len, const char *v, const char *dflt)
{
    snprintf(dst, len, "%s", v ? v : dflt);
}

int cdr_pgsql_conf_read(cdr_pgsql_conf_t *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    struct stat st;
    if (stat(path, &st) < 0)
        return 0;
    td_conf_t *conf = td_conf_load(path, err, errlen);
    if (!conf)
        return -1;
    td_conf_log_warnings(conf);
    td_conf_section_t *g = td_conf_section(conf, "global");
    if (!g || !g->vars) {
        /* ast_variable_browse(cfg, "global") NULL: also an empty [global] */
        td_log(LOG_INFO, "cdr_pgsql: %s has no [global] settings; CDRs not sent to PostgreSQL",
               path);
        td_conf_destroy(&conf);
        return 0;
    }
    /* The defaults of cdr_pgsql.c's config_module (it warns for each). */
    s_copy(c->hostname, sizeof c->hostname, td_conf_get(g, "hostname"), "");
    s_copy(c->port, sizeof c->port, td_conf_get(g, "port"), "5432");
    s_copy(c->dbname, sizeof c->dbname, td_conf_get(g, "dbname"), "asteriskcdrdb");
    s_copy(c->user, sizeof c->user, td_conf_get(g, "user"), "asterisk");
    s_copy(c->password, sizeof c->password, td_conf_get(g, "password"), "");
    s_copy(c->appname, sizeof c->appname, td_conf_get(g, "appname"), "");
    s_copy(c->table, sizeof c->table, td_conf_get(g, "table"), "cdr");
    s_copy(c->encoding, sizeof c->encoding, td_conf_get(g, "encoding"), "LATIN9");
    s_copy(c->timezone, sizeof c->timezone, td_conf_get(g, "timezone"), "");
    /* cdr_pgsql.c has no schema key (table=schema.table names one);
     * cel_pgsql.c reads schema=, and so do we when table has no dot. */
    s_copy(c->schema, sizeof c->schema, td_conf_get(g, "schema"), "");
    td_conf_destroy(&conf);
    return 1;
}

/* Everything not yet written (cur, then the memory queue) goes in front of
 * the spool's pending lines. uncertain: cur may have reached the table. */
static void s_spool_backlog(cdr_pgsql_t *self, int uncertain)
{
    char *head[S_QUEUE_MAX + 1];
    size_t nhead = 0;
    if (self->cur_len) {
        if (self->cur_off >= 0) {
            /* cur is the spool's first pending line: mark it in place */
            if (uncertain)
                cdr_spool_mark(self->spool, self->cur_off, 'U');
        } else {
            if (uncertain)
                self->cur[0] = 'U';
            head[nhead++] = self->cur;
        }
        self->cur_len = 0;
    }
    for (size_t i = 0; i < self->qlen; i++)
        head[nhead++] = self->q[(self->qhead + i) % S_QUEUE_MAX];
    cdr_spool_put_front(self->spool, head, nhead);
    for (size_t i = 0; i < self->qlen; i++)
        free(self->q[(self->qhead + i) % S_QUEUE_MAX]);
    self->qhead = self->qlen = 0;
}

/* cur is in the table (or refused for good): forget it. */
static void s_done(cdr_pgsql_t *self)
{
    if (self->cur_len && self->cur_off >= 0)
        cdr_spool_done(self->spool, self->cur_off, self->cur_len);
    self->cur_len = 0;
}

static void s_reject(cdr_pgsql_t *self, const char *why)
{
    char path[1100];
    snprintf(path, sizeof path, "%s.rejected", cdr_spool_path(self->spool));
    td_log(LOG_WARNING, "cdr_pgsql: the database refused a CDR (%s); kept in %s", why, path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0) {
        if (write(fd, self->cur, self->cur_len) < 0)
            td_log(LOG_ERR, "cdr_pgsql: cannot write %s: %s", path, strerror(errno));
        close(fd);
    }
    self->rejected++;
    s_done(self);
}

/* --- values and the statement --------------------------------------------- */

static char *s_arena(cdr_pgsql_t *self, size_t n)
{
    if (self->arena_used + n > self->arena_len)
        return NULL;
    char *p = self->arena + self->arena_used;
    self->arena_used += n;
    return p;
}

static int s_is_utc(const char *tz)
{
    return !strcasecmp(tz, "UTC") || !strcasecmp(tz, "GMT") || !strcasecmp(tz, "UTC0") ||
           !strcasecmp(tz, "Etc/UTC") || !strcasecmp(tz, "Etc/GMT") || !strcasecmp(tz, "Z");
}

/* tv as "%Y-%m-%d %T" in the configured timezone (ast_localtime with tz). */
static void s_time(const cdr_pgsql_t *self, struct timeval tv, char *buf, size_t len)
{
    struct tm tm;
    time_t t = tv.tv_sec;
    const char *tz = self->conf.timezone;
    if (!*tz) {
        localtime_r(&t, &tm);
    } else if (s_is_utc(tz)) {
        gmtime_r(&t, &tm);
    } else {
        /* Any other zone: TZ for the one conversion (one CDR, one thread). */
        const char *old = getenv("TZ");
        char saved[256] = "";
        if (old)
            snprintf(saved, sizeof saved, "%s", old);
        setenv("TZ", tz, 1);
        tzset();
        localtime_r(&t, &tm);
        if (old)
            setenv("TZ", saved, 1);
        else
            unsetenv("TZ");
        tzset();
    }
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int s_is_int(const s_column_t *c)
{
    return strncmp(c->typname, "int", 3) == 0;
}

static int s_is_float(const s_column_t *c)
{
    return strncmp(c->typname, "float", 5) == 0;
}

static double s_span(struct timeval a, struct timeval b)
{
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

/* Asterisk's numbers for -raw- disposition and amaflags (cdr.h, channel.h). */
static long s_disposition_num(const char *d)
{
    static const struct { const char *s; long n; } m[] = {
        { "NO ANSWER", 0 }, { "FAILED", 2 }, { "BUSY", 4 }, { "ANSWERED", 8 },
        { "CONGESTION", 16 },
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(d, m[i].s))
            return m[i].n;
    return 1;   /* AST_CDR_NULL */
}

static long s_amaflags_num(const char *a)
{
    if (!strcasecmp(a, "OMIT"))
        return 1;
    if (!strcasecmp(a, "BILLING"))
        return 2;
    if (!strcasecmp(a, "DOCUMENTATION"))
        return 3;
    return 0;
}

/* The value for column c as cdr_pgsql.c's pgsql_log picks it; NULL: leave
 * the column out of the INSERT (the field is empty). */
static const char *s_value(cdr_pgsql_t *self, const s_column_t *c, const cdr_record_t *r,
                           unsigned long seq)
{
    char *num = s_arena(self, 64);
    if (!num)
        return NULL;
    const char *text = NULL;
    switch (c->field) {
    case F_START:
    case F_ANSWER:
    case F_END: {
        struct timeval tv = c->field == F_START ? r->start : c->field == F_ANSWER ? r->answer
                                                                                  : r->end;
        if (!tv.tv_sec)
            return NULL;
        if (s_is_int(c))
            snprintf(num, 64, "%lld", (long long)tv.tv_sec);
        else if (s_is_float(c))
            snprintf(num, 64, "%f", (double)tv.tv_sec + (double)tv.tv_usec / 1e6);
        else
            s_time(self, tv, num, 64);
        return num;
    }
    case F_DURATION:
    case F_BILLSEC: {
        int dur = c->field == F_DURATION;
        if (c->typname[0] == 'i') {
            snprintf(num, 64, "%ld", dur ? cdr_duration(r) : cdr_billsec(r));
        } else {
            int answered = r->answer.tv_sec || r->answer.tv_usec;
            struct timeval from = dur ? r->start : answered ? r->answer : r->end;
            snprintf(num, 64, "%f", s_span(from, r->end));
        }
        return num;
    }
    case F_DISPOSITION:
    case F_AMAFLAGS: {
        const char *v = c->field == F_DISPOSITION ? r->disposition : r->amaflags;
        if (s_is_int(c)) {
            snprintf(num, 64, "%ld", c->field == F_DISPOSITION ? s_disposition_num(v ? v : "")
                                                               : s_amaflags_num(v ? v : ""));
            return num;
        }
        text = v;
        break;
    }
    case F_SEQUENCE:
        snprintf(num, 64, "%lu", seq);
        text = num;
        break;
    case F_CLID: text = r->clid; break;
    case F_SRC: text = r->src; break;
    case F_DST: text = r->dst; break;
    case F_DCONTEXT: text = r->dcontext; break;
    case F_CHANNEL: text = r->channel; break;
    case F_DSTCHANNEL: text = r->dstchannel; break;
    case F_LASTAPP: text = r->lastapp; break;
    case F_LASTDATA: text = r->lastdata; break;
    case F_ACCOUNTCODE: text = r->accountcode; break;
    case F_PEERACCOUNT: text = NULL; break;   /* not kept by the router */
    case F_UNIQUEID: text = r->uniqueid; break;
    /* One call, one record: the call's own id links it (Asterisk's
     * linkedid is the first channel's uniqueid). */
    case F_LINKEDID: text = r->uniqueid; break;
    case F_USERFIELD: text = r->userfield; break;
    case F_OTHER: text = NULL; break;        /* a CDR variable: none kept */
    }
    if (!text || !*text)
        return NULL;
    if (s_is_int(c)) {
        long long v;
        snprintf(num, 64, "%lld", sscanf(text, "%30lld", &v) == 1 ? v : 0LL);
        return num;
    }
    if (s_is_float(c)) {
        double v;
        snprintf(num, 64, "%f", sscanf(text, "%30lf", &v) == 1 ? v : 0.0);
        return num;
    }
    if (!c->maxchars)
        return text;
    /* Cut to the column's width (in characters) rather than have the
     * INSERT refused ("value too long"), which Asterisk does. */
    size_t bytes = 0;
    int chars = 0;
    while (text[bytes] && chars < c->maxchars) {
        bytes++;
        while (((unsigned char)text[bytes] & 0xC0) == 0x80)
            bytes++;
        chars++;
    }
    if (!text[bytes])
        return text;
    char *cut = s_arena(self, bytes + 1);
    if (!cut)
        return NULL;
    memcpy(cut, text, bytes);
    cut[bytes] = '\0';
    return cut;
}

static int s_sql(cdr_pgsql_t *self, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_sql(cdr_pgsql_t *self, size_t *used, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(self->sql + *used, self->sqlcap - *used, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if (*used + (size_t)n < self->sqlcap) {
            *used += (size_t)n;
            return 0;
        }
        size_t cap = (self->sqlcap + (size_t)n) * 2;
        char *p = realloc(self->sql, cap);
        if (!p)
            return -1;
        self->sql = p;
        self->sqlcap = cap;
    }
}

/* A quoted identifier ("a""b") into the statement. */
static int s_sql_ident(cdr_pgsql_t *self, size_t *used, const char *name)
{
    if (s_sql(self, used, "\"") < 0)
        return -1;
    for (const char *p = name; *p; p++)
        if (s_sql(self, used, *p == '"' ? "\"\"" : "%c", *p) < 0)
            return -1;
    return s_sql(self, used, "\"");
}

static int s_sql_table(cdr_pgsql_t *self, size_t *used)
{
    if (*self->schema && (s_sql_ident(self, used, self->schema) < 0 ||
                          s_sql(self, used, ".") < 0))
        return -1;
    return s_sql_ident(self, used, self->table);
}

/* Send cur. 0, or -1 (cur refused or the connection gone: handled). */
static int s_send(cdr_pgsql_t *self)
{
    memcpy(self->work, self->cur, self->cur_len + 1);
    cdr_record_t r;
    unsigned long seq;
    if (cdr_spool_decode(self->work, &r, &seq) < 0) {
        s_reject(self, "not a spool line");
        return -1;
    }
    int guarded = self->cur[0] == 'U' && self->uniqueid_col >= 0;
    self->arena_used = 0;
    size_t used = 0;
    int n = 0, uniq = 0;
    int rc = s_sql(self, &used, "INSERT INTO ");
    rc |= s_sql_table(self, &used);
    rc |= s_sql(self, &used, " (");
    for (size_t i = 0; i < self->ncols; i++) {
        const s_column_t *c = &self->cols[i];
        const char *v = s_value(self, c, &r, seq);
        if (!v) {
            if (!c->notnull || c->hasdefault)
                continue;
            v = "";   /* NOT NULL without a default: '' as Asterisk */
        }
        if ((int)i == self->uniqueid_col)
            uniq = n + 1;
        self->values[n] = v;
        self->types[n] = c->type;
        rc |= s_sql(self, &used, "%s", n ? ", " : "");
        rc |= s_sql_ident(self, &used, c->name);
        n++;
    }
    if (!uniq)
        guarded = 0;
    rc |= s_sql(self, &used, guarded ? ") SELECT " : ") VALUES (");
    for (int i = 0; i < n; i++)
        rc |= s_sql(self, &used, "%s$%d", i ? ", " : "", i + 1);
    if (guarded) {
        /* its answer was lost with a connection: maybe it is in already */
        rc |= s_sql(self, &used, " WHERE NOT EXISTS (SELECT 1 FROM ");
        rc |= s_sql_table(self, &used);
        rc |= s_sql(self, &used, " WHERE ");
        rc |= s_sql_ident(self, &used, self->cols[self->uniqueid_col].name);
        rc |= s_sql(self, &used, " = $%d)", uniq);
    } else {
        rc |= s_sql(self, &used, ")");
    }
    if (rc) {
        s_go_down(self, 0, "out of memory");
        return -1;
    }
    if (!n) {
        s_reject(self, "no column of the table takes a value");
        return -1;
    }
    td_log(LOG_DEBUG, "cdr_pgsql: %s", self->sql);
    if (!PQsendQueryParams(self->conn, self->sql, n, self->types, self->values, NULL, NULL, 0)) {
        s_go_down(self, 0, PQerrorMessage(self->conn));
        return -1;
    }
    self->state = S_INSERTING;
    evtimer_del(self->retry);
    s_arm_retry(self, S_INSERT_TIMEOUT_S * 1000);
    return 0;
}

/* --- the connection ------------------------------------------------------- */

static void s_on_io(evutil_socket_t fd, short what, void *arg);

/* Wait for what (EV_READ, EV_WRITE) on the connection's socket. */
static void s_watch(cdr_pgsql_t *self, short what)
{
    evutil_socket_t fd = PQsocket(self->conn);
    if (fd == self->io_fd && what == self->io_what)
        return;
    event_del(self->io);
    self->io_fd = fd;
    self->io_what = what;
    if (fd < 0)
        return;
    event_assign(self->io, self->base, fd, what | EV_PERSIST, s_on_io, self);
    event_add(self->io, NULL);
}

static void s_unwatch(cdr_pgsql_t *self)
{
    event_del(self->io);
    self->io_fd = -1;
    self->io_what = 0;
}

/* After a send: flush what libpq could not write yet. */
static void s_flush(cdr_pgsql_t *self)
{
    int r = PQflush(self->conn);
    if (r < 0)
        s_go_down(self, 1, PQerrorMessage(self->conn));
    else
        s_watch(self, r ? EV_READ | EV_WRITE : EV_READ);
}

static void s_arm_retry(cdr_pgsql_t *self, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(self->retry, &tv);
}

static const char *s_where(const cdr_pgsql_t *self, char *buf, size_t len)
{
    snprintf(buf, len, "%s@%s:%s", self->conf.dbname,
             *self->conf.hostname ? self->conf.hostname : "(socket)", self->conf.port);
    return buf;
}

/* The connection failed or went away: put the backlog in the spool, close,
 * and try again later. uncertain: cur may have been inserted. */
static void s_go_down(cdr_pgsql_t *self, int uncertain, const char *why)
{
    char where[512];
    char reason[512];
    snprintf(reason, sizeof reason, "%s", why && *why ? why : "unknown");
    size_t rl = strlen(reason);
    while (rl && (reason[rl - 1] == '\n' || reason[rl - 1] == ' '))
        reason[--rl] = '\0';
    /* libpq's messages are several lines, tab-indented: one line here */
    char *w = reason;
    for (char *p = reason; *p; p++) {
        char c = *p == '\n' || *p == '\t' ? ' ' : *p;
        if (c != ' ' || (w > reason && w[-1] != ' '))
            *w++ = c;
    }
    *w = '\0';
    s_spool_backlog(self, uncertain);
    if (self->dns_req) {
        evdns_getaddrinfo_cancel(self->dns_req);   /* its callback ignores the cancel */
        self->dns_req = NULL;
    }
    if (!self->down_logged) {
        td_log(LOG_WARNING, "cdr_pgsql: %s %s (%s); spooling CDRs to %s",
               self->connected_at ? "lost the connection to" : "cannot connect to",
               s_where(self, where, sizeof where), reason, cdr_spool_path(self->spool));
        self->down_logged = 1;
    } else {
        td_log(LOG_DEBUG, "cdr_pgsql: %s: %s", s_where(self, where, sizeof where), reason);
    }
    s_unwatch(self);
    PQclear(self->res);
    self->res = NULL;
    if (self->conn)
        PQfinish(self->conn);
    self->conn = NULL;
    self->connected_at = 0;
    self->state = S_DOWN;
    evtimer_del(self->retry);
    s_arm_retry(self, self->backoff_ms);
    self->backoff_ms = self->backoff_ms * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS
                                                                : self->backoff_ms * 2;
}

static void s_on_notice(void *arg, const char *message)
{
    (void)arg;
    td_log(LOG_DEBUG, "cdr_pgsql: server says: %s", message);
}

static const char s_columns_sql[] =
    "SELECT a.attname, t.typname, a.attlen, a.attnotnull,"
    " pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.atttypmod, a.atttypid"
    " FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
    " AND NOT a.attisdropped"
    " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    " LEFT JOIN pg_catalog.pg_attrdef d ON a.atthasdef AND d.adrelid = a.attrelid"
    " AND d.adnum = a.attnum"
    " WHERE c.relname::text = $1"
    " AND n.nspname::text = COALESCE(NULLIF($2, ''), current_schema()::text)"
    " ORDER BY a.attnum";

static void s_connected(cdr_pgsql_t *self)
{
    PQsetnonblocking(self->conn, 1);
    PQsetNoticeProcessor(self->conn, s_on_notice, self);
    const char *params[2] = { self->table, self->schema };
    if (!PQsendQueryParams(self->conn, s_columns_sql, 2, NULL, params, NULL, NULL, 0)) {
        s_go_down(self, 0, PQerrorMessage(self->conn));
        return;
    }
    self->state = S_COLUMNS;
    s_flush(self);
}

static void s_columns_free(cdr_pgsql_t *self)
{
    for (size_t i = 0; i < self->ncols; i++)
        free(self->cols[i].name);
    free(self->cols);
    free(self->values);
    free(self->types);
    free(self->arena);
    self->cols = NULL;
    self->values = NULL;
    self->types = NULL;
    self->arena = NULL;
    self->ncols = 0;
}

/* The catalog's answer: the table's columns, as config_module reads them. */
static int s_columns(cdr_pgsql_t *self, PGresult *res)
{
    s_columns_free(self);
    int rows = PQntuples(res);
    self->cols = calloc((size_t)rows, sizeof *self->cols);
    self->values = calloc((size_t)rows, sizeof *self->values);
    self->types = calloc((size_t)rows, sizeof *self->types);
    self->arena_len = S_LINE_MAX + (size_t)rows * 64;
    self->arena = malloc(self->arena_len);
    if (!self->cols || !self->values || !self->types || !self->arena)
        return -1;
    self->uniqueid_col = -1;
    for (int i = 0; i < rows; i++) {
        s_column_t *c = &self->cols[self->ncols];
        c->name = strdup(PQgetvalue(res, i, 0));
        if (!c->name)
            return -1;
        snprintf(c->typname, sizeof c->typname, "%s", PQgetvalue(res, i, 1));
        c->notnull = PQgetvalue(res, i, 3)[0] == 't';
        c->hasdefault = PQgetvalue(res, i, 4)[0] != '\0';
        int typmod = atoi(PQgetvalue(res, i, 5));
        if ((!strcmp(c->typname, "varchar") || !strcmp(c->typname, "bpchar")) && typmod > 4)
            c->maxchars = typmod - 4;
        c->type = (Oid)strtoul(PQgetvalue(res, i, 6), NULL, 10);
        c->field = F_OTHER;
        for (size_t f = 0; f < sizeof s_fields / sizeof s_fields[0]; f++)
            if (!strcasecmp(c->name, s_fields[f].name))
                c->field = s_fields[f].field;
        if (c->field == F_UNIQUEID && self->uniqueid_col < 0)
            self->uniqueid_col = (int)self->ncols;
        self->ncols++;
    }
    return 0;
}

/* A query's results are all in: act on them. */
static void s_on_result(cdr_pgsql_t *self, PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : "no result";
    char where[512];
    if (self->state == S_COLUMNS) {
        if (st != PGRES_TUPLES_OK) {
            s_go_down(self, 0, msg);
            return;
        }
        if (PQntuples(res) == 0) {
            /* "does the table exist?" Retried: it may be made later. */
            s_go_down(self, 0, "the table has no columns; does it exist?");
            return;
        }
        if (s_columns(self, res) < 0) {
            s_go_down(self, 0, "out of memory");
            return;
        }
        evtimer_del(self->retry);           /* the connect timeout */
        self->state = S_READY;
        self->backoff_ms = S_BACKOFF_MIN_MS;
        self->connected_at = time(NULL);
        size_t backlog = cdr_spool_pending(self->spool) + self->qlen;
        td_log(self->down_logged ? LOG_NOTICE : LOG_INFO,
               "cdr_pgsql: connected to %s, table %s%s%s (%zu columns); %zu CDR(s) to replay",
               s_where(self, where, sizeof where), self->schema, *self->schema ? "." : "",
               self->table, self->ncols, backlog);
        self->down_logged = 0;
        s_watch(self, EV_READ);
        s_kick(self);
        return;
    }
    /* S_INSERTING */
    evtimer_del(self->retry);           /* the INSERT's timeout */
    if (st == PGRES_COMMAND_OK) {
        self->written++;
        s_done(self);
        self->state = S_READY;
        s_kick(self);
        return;
    }
    if (!state || !*state) {
        /* no SQLSTATE: libpq's own error (the connection broke) */
        s_go_down(self, 1, msg);
        return;
    }
    if (!strcmp(state, "23505")) {
        /* unique_violation: the table has this record already */
        self->written++;
        s_done(self);
        self->state = S_READY;
        s_kick(self);
        return;
    }
    if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2)) {
        /* data exception, integrity constraint: retrying will not help */
        char why[600];
        snprintf(why, sizeof why, "SQLSTATE %s: %s", state, msg);
        size_t l = strlen(why);
        while (l && why[l - 1] == '\n')
            why[--l] = '\0';
        s_reject(self, why);
        self->state = S_READY;
        s_kick(self);
        return;
    }
    /* the server refused the statement (the table changed, shutting down,
     * out of space...): not inserted; reconnect, re-read the columns */
    s_go_down(self, 0, msg);
}

static void s_on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    cdr_pgsql_t *self = arg;
    if (self->state == S_CONNECTING) {
        switch (PQconnectPoll(self->conn)) {
        case PGRES_POLLING_READING: s_watch(self, EV_READ); break;
        case PGRES_POLLING_WRITING: s_watch(self, EV_WRITE); break;
        case PGRES_POLLING_OK: s_connected(self); break;
        default: s_go_down(self, 0, PQerrorMessage(self->conn)); break;
        }
        return;
    }
    if (what & EV_WRITE) {
        s_flush(self);
        if (self->state == S_DOWN)
            return;
    }
    if (!(what & EV_READ))
        return;
    if (!PQconsumeInput(self->conn)) {
        s_go_down(self, self->state == S_INSERTING, PQerrorMessage(self->conn));
        return;
    }
    if (self->state == S_READY) {
        /* nothing asked: the server closing (a restart) or a notice */
        PGresult *res;
        while (!PQisBusy(self->conn) && (res = PQgetResult(self->conn)))
            PQclear(res);
        if (PQstatus(self->conn) == CONNECTION_BAD)
            s_go_down(self, 0, PQerrorMessage(self->conn));
        return;
    }
    /* COLUMNS or INSERTING: collect until PQgetResult says the end (it
     * may take more reads). One statement gives one result; should there
     * be more, an error wins. */
    for (;;) {
        if (PQisBusy(self->conn))
            return;
        PGresult *res = PQgetResult(self->conn);
        if (!res)
            break;
        if (!self->res) {
            self->res = res;
        } else if (PQresultStatus(res) == PGRES_FATAL_ERROR &&
                   PQresultStatus(self->res) != PGRES_FATAL_ERROR) {
            PQclear(self->res);
            self->res = res;
        } else {
            PQclear(res);
        }
    }
    PGresult *res = self->res;
    self->res = NULL;
    s_on_result(self, res);
    PQclear(res);
}

/* Connect to hostaddr if set (the resolved hostname), else as libpq would. */
static void s_connect_addr(cdr_pgsql_t *self)
{
    const char *kw[13], *val[13];
    int n = 0;
    const cdr_pgsql_conf_t *c = &self->conf;
#define S_KW(k, v) do { if (*(v)) { kw[n] = (k); val[n] = (v); n++; } } while (0)
    S_KW("host", *self->hostaddr ? self->hostlist : c->hostname);
    S_KW("hostaddr", self->hostaddr);
    S_KW("port", c->port);
    S_KW("dbname", c->dbname);
    S_KW("user", c->user);
    S_KW("password", c->password);
    S_KW("application_name", c->appname);
    /* client_encoding at connect: PQsetClientEncoding would block */
    S_KW("client_encoding", c->encoding);
    /* a peer gone without a word (a cable, a firewall) is noticed in ~1 min
     * rather than the kernel's 2 h */
    S_KW("keepalives_idle", "30");
    S_KW("keepalives_interval", "10");
    S_KW("keepalives_count", "3");
#undef S_KW
    kw[n] = val[n] = NULL;
    self->conn = PQconnectStartParams(kw, val, 0);
    if (!self->conn) {
        s_go_down(self, 0, "out of memory");
        return;
    }
    if (PQstatus(self->conn) == CONNECTION_BAD) {
        s_go_down(self, 0, PQerrorMessage(self->conn));
        return;
    }
    self->state = S_CONNECTING;
    s_watch(self, EV_WRITE);
}

static void s_on_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
    cdr_pgsql_t *self = arg;
    if (result == EVUTIL_EAI_CANCEL)
        return;                 /* gone down or destroyed meanwhile */
    self->dns_req = NULL;
    if (result || !ai) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s: %s", self->conf.hostname,
                 evutil_gai_strerror(result));
        if (ai)
            evutil_freeaddrinfo(ai);
        s_go_down(self, 0, why);
        return;
    }
    /* every address (up to 4), libpq tries them in turn: host and hostaddr
     * are lists of the same length */
    size_t na = 0, hl = 0, al = 0;
    self->hostaddr[0] = self->hostlist[0] = '\0';
    for (struct evutil_addrinfo *p = ai; p && na < 4; p = p->ai_next) {
        char ip[64];
        const void *a = p->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr;
        if ((p->ai_family != AF_INET && p->ai_family != AF_INET6) ||
            !evutil_inet_ntop(p->ai_family, a, ip, sizeof ip))
            continue;
        int n1 = snprintf(self->hostaddr + al, sizeof self->hostaddr - al, "%s%s",
                          na ? "," : "", ip);
        int n2 = snprintf(self->hostlist + hl, sizeof self->hostlist - hl, "%s%s",
                          na ? "," : "", self->conf.hostname);
        if (n1 < 0 || n2 < 0 || al + (size_t)n1 >= sizeof self->hostaddr ||
            hl + (size_t)n2 >= sizeof self->hostlist) {
            self->hostaddr[al] = self->hostlist[hl] = '\0';
            break;
        }
        al += (size_t)n1;
        hl += (size_t)n2;
        na++;
    }
    evutil_freeaddrinfo(ai);
    s_connect_addr(self);
}

/* libpq resolves a host name with getaddrinfo inside PQconnectPoll, which
 * blocks; so a hostname that is a name (not an address, not a socket
 * directory) is resolved here with evdns first and handed over as hostaddr
 * (host stays, for TLS and the password file). */
static void s_connect(cdr_pgsql_t *self)
{
    const char *h = self->conf.hostname;
    unsigned char bin[16];
    self->hostaddr[0] = self->hostlist[0] = '\0';
    s_arm_retry(self, S_CONNECT_TIMEOUT_S * 1000);   /* the connect timeout */
    if (!*h || *h == '/' || strchr(h, ',') || inet_pton(AF_INET, h, bin) == 1 ||
        inet_pton(AF_INET6, h, bin) == 1) {
        s_connect_addr(self);
        return;
    }
    if (!self->dns)
        self->dns = evdns_base_new(self->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!self->dns) {
        s_connect_addr(self);   /* no resolver: libpq's own */
        return;
    }
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    self->state = S_RESOLVING;
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(self->dns, h, NULL, &hints, s_on_resolved, self);
    if (self->state == S_RESOLVING)   /* else answered already (/etc/hosts) */
        self->dns_req = req;
}

static void s_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cdr_pgsql_t *self = arg;
    if (self->state == S_DOWN)
        s_connect(self);
    else if (self->state == S_RESOLVING || self->state == S_CONNECTING ||
             self->state == S_COLUMNS)
        s_go_down(self, 0, "timed out");
    else if (self->state == S_INSERTING)
        s_go_down(self, 1, "no answer to an INSERT");
}

/* --- the queue ------------------------------------------------------------ */

/* Connected and idle: send the oldest record, if any. */
static void s_kick(cdr_pgsql_t *self)
{
    while (self->state == S_READY && !self->cur_len) {
        if (self->qlen) {
            char *line = self->q[self->qhead];
            self->qhead = (self->qhead + 1) % S_QUEUE_MAX;
            self->qlen--;
            size_t n = strlen(line);
            memcpy(self->cur, line, n + 1);
            free(line);
            self->cur_len = n;
            self->cur_off = -1;
        } else if (cdr_spool_pending(self->spool)) {
            off_t off;
            size_t len;
            const char *line = cdr_spool_first(self->spool, &off, &len);
            if (!line)
                return;
            memcpy(self->cur, line, len + 1);
            self->cur_len = len;
            self->cur_off = off;
        } else {
            return;
        }
        if (s_send(self) == 0) {
            s_flush(self);
            return;
        }
        /* refused (loop for the next) or gone down (the loop ends) */
    }
}

void cdr_pgsql_write(cdr_pgsql_t *self, const cdr_record_t *rec)
{
    char line[S_LINE_MAX];
    size_t n = cdr_spool_encode(rec, self->sequence++, line, sizeof line);
    if (n >= sizeof line)
        return;     /* cannot happen: fields are cut at CDR_PGSQL_FIELD_MAX */
    if (self->state != S_DOWN && !cdr_spool_pending(self->spool) && self->qlen < S_QUEUE_MAX) {
        char *copy = strdup(line);
        if (copy) {
            self->q[(self->qhead + self->qlen) % S_QUEUE_MAX] = copy;
            self->qlen++;
            s_kick(self);
            return;
        }
    }
    cdr_spool_append(self->spool, line, n);
    s_kick(self);
}

void cdr_pgsql_backend(void *arg, const cdr_record_t *rec)
{
    cdr_pgsql_write(arg, rec);
}

size_t cdr_pgsql_pending(const cdr_pgsql_t *self)
{
    return self->qlen + cdr_spool_pending(self->spool) +
           (self->cur_len && self->cur_off < 0 ? 1 : 0);
}

unsigned long cdr_pgsql_written(const cdr_pgsql_t *self)
{
    return self->written;
}

size_t cdr_pgsql_status(const cdr_pgsql_t *self, char *buf, size_t len)
{
    char where[512];
    s_where(self, where, sizeof where);
    int n;
    if (self->state == S_READY || self->state == S_INSERTING)
        n = snprintf(buf, len, "Connected to %s using table %s%s%s for %ld seconds\n"
                     "  Wrote %lu records since start; %zu waiting (%zu in the spool %s); "
                     "%lu rejected\n",
                     where, self->schema, *self->schema ? "." : "", self->table,
                     (long)(time(NULL) - self->connected_at), self->written,
                     cdr_pgsql_pending(self), cdr_spool_pending(self->spool),
                     cdr_spool_path(self->spool), self->rejected);
    else
        n = snprintf(buf, len, "Not currently connected to a PgSQL server (%s).\n"
                     "  Wrote %lu records since start; %zu waiting (%zu in the spool %s); "
                     "%lu rejected\n",
                     where, self->written, cdr_pgsql_pending(self),
                     cdr_spool_pending(self->spool), cdr_spool_path(self->spool),
                     self->rejected);
    return n < 0 ? 0 : (size_t)n;
}

/* --- lifecycle ------------------------------------------------------------ */

cdr_pgsql_t *cdr_pgsql_new(struct event_base *base, const cdr_pgsql_conf_t *conf,
                           const char *spool_path)
{
    cdr_pgsql_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->conf = *conf;
    self->io_fd = -1;
    self->uniqueid_col = -1;
    self->backoff_ms = S_BACKOFF_MIN_MS;
    const char *dot = strchr(conf->table, '.');
    if (dot) {
        snprintf(self->schema, sizeof self->schema, "%.*s", (int)(dot - conf->table),
                 conf->table);
        snprintf(self->table, sizeof self->table, "%s", dot + 1);
    } else {
        snprintf(self->schema, sizeof self->schema, "%s", conf->schema);
        snprintf(self->table, sizeof self->table, "%s", conf->table);
    }
    self->io = event_new(base, -1, 0, s_on_io, self);
    self->retry = evtimer_new(base, s_on_retry, self);
    self->sqlcap = 1024;
    self->sql = malloc(self->sqlcap);
    self->spool = cdr_spool_new(base, spool_path);
    if (!self->io || !self->retry || !self->sql || !self->spool) {
        cdr_pgsql_destroy(&self);
        return NULL;
    }
    s_connect(self);
    return self;
}

void cdr_pgsql_destroy(cdr_pgsql_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cdr_pgsql_t *self = *self_p;
    if (self->spool) {
        s_spool_backlog(self, self->state == S_INSERTING);
        if (cdr_spool_pending(self->spool))
            td_log(LOG_NOTICE, "cdr_pgsql: %zu CDR(s) left in %s for the next start",
                   cdr_spool_pending(self->spool), cdr_spool_path(self->spool));
        cdr_spool_destroy(&self->spool);
    }
    for (size_t i = 0; i < self->qlen; i++)
        free(self->q[(self->qhead + i) % S_QUEUE_MAX]);
    PQclear(self->res);
    if (self->conn)
        PQfinish(self->conn);
    if (self->dns_req)
        evdns_getaddrinfo_cancel(self->dns_req);
    if (self->dns)
        evdns_base_free(self->dns, 0);
    if (self->io)
        event_free(self->io);
    if (self->retry)
        event_free(self->retry);
    s_columns_free(self);
    free(self->sql);
    free(self);
    *self_p = NULL;
}
