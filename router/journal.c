/* journal - see journal.h. */
#include "journal.h"
#include "strmap.h"
#include "td_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define S_FIELDS JOURNAL_FIELDS     /* after the record type */

struct journal {
    struct event_base *base;
    char path[1024], tmp[1040];
    int fd;
    int old_fd;                 /* during a rewrite: the file being replaced */
    size_t size;                /* bytes written to fd */
    char *buf;                  /* records not written yet */
    size_t len, cap;
    struct event *flush;        /* fired once a loop pass while buf holds records */
    strmap_t *pending;          /* previous run's unended calls: id -> s_pending_t */
};

const char *const journal_field_names[JOURNAL_FIELDS] = {
    "uniqueid", "start", "answer", "disposition", "accountcode", "src", "dst", "dcontext",
    "clid", "channel", "dstchannel", "lastapp", "lastdata", "userfield", "amaflags",
};

typedef struct {
    char *line;                 /* owns the text the fields point into */
    char *f[S_FIELDS];
} s_pending_t;

/* --- writing ----------------------------------------------------------------- */

static void s_write_all(journal_t *self)
{
    size_t off = 0;
    while (off < self->len) {
        ssize_t n = write(self->fd, self->buf + off, self->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            td_log_limited(LOG_ERR, 1, "journal: cannot write %s: %s (a router crash now "
                           "would lose the CDRs of live calls)", self->path, strerror(errno));
            break;
        }
        off += (size_t)n;
        self->size += (size_t)n;
    }
    self->len = 0;
}

void journal_flush(journal_t *self)
{
    if (self && self->len)
        s_write_all(self);
}

static void s_on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    journal_flush(arg);
}

static int s_reserve(journal_t *self, size_t more)
{
    if (self->len + more <= self->cap)
        return 0;
    size_t cap = self->cap ? self->cap : 8192;
    while (cap < self->len + more)
        cap *= 2;
    char *b = realloc(self->buf, cap);
    if (!b)
        return -1;
    self->buf = b;
    self->cap = cap;
    return 0;
}

static void s_put(journal_t *self, char c)
{
    self->buf[self->len++] = c;
}

/* Append s escaped, then sep. Room was reserved (at most 2 bytes a char + 1). */
static void s_field(journal_t *self, const char *s, char sep)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '\\': s_put(self, '\\'); s_put(self, '\\'); break;
        case '\t': s_put(self, '\\'); s_put(self, 't'); break;
        case '\n': s_put(self, '\\'); s_put(self, 'n'); break;
        case '\r': s_put(self, '\\'); s_put(self, 'r'); break;
        default: s_put(self, *s); break;
        }
    }
    s_put(self, sep);
}

static size_t s_need(const char *s)
{
    return s ? 2 * strlen(s) + 1 : 1;
}

static void s_queued(journal_t *self)
{
    if (self->flush && !event_pending(self->flush, EV_TIMEOUT, NULL))
        event_active(self->flush, EV_TIMEOUT, 0);
}

void journal_fields(const cdr_record_t *r, char start[48], char answer[48],
                    const char *f[JOURNAL_FIELDS])
{
    snprintf(start, 48, "%lld.%06ld", (long long)r->start.tv_sec, (long)r->start.tv_usec);
    snprintf(answer, 48, "%lld.%06ld", (long long)r->answer.tv_sec, (long)r->answer.tv_usec);
    const char *v[JOURNAL_FIELDS] = {
        r->uniqueid, start, answer, r->disposition, r->accountcode, r->src, r->dst,
        r->dcontext, r->clid, r->channel, r->dstchannel, r->lastapp, r->lastdata,
        r->userfield, r->amaflags,
    };
    for (int i = 0; i < JOURNAL_FIELDS; i++)
        f[i] = v[i] ? v[i] : "";
}

void journal_update(journal_t *self, const cdr_record_t *r)
{
    if (!self)
        return;
    char start[48], answer[48];
    const char *f[S_FIELDS];
    journal_fields(r, start, answer, f);
    size_t need = 2;
    for (int i = 0; i < S_FIELDS; i++)
        need += s_need(f[i]);
    if (s_reserve(self, need) < 0) {
        td_log_limited(LOG_ERR, 1, "journal: out of memory");
        return;
    }
    s_field(self, "U", '\t');
    for (int i = 0; i < S_FIELDS; i++)
        s_field(self, f[i], i == S_FIELDS - 1 ? '\n' : '\t');
    s_queued(self);
}

void journal_end(journal_t *self, const char *uniqueid)
{
    if (!self)
        return;
    if (s_reserve(self, 2 + s_need(uniqueid)) < 0) {
        td_log_limited(LOG_ERR, 1, "journal: out of memory");
        return;
    }
    s_field(self, "E", '\t');
    s_field(self, uniqueid, '\n');
    s_queued(self);
}

void journal_clear(journal_t *self)
{
    if (!self || self->old_fd >= 0)
        return;
    self->len = 0;              /* only records of calls that ended */
    if (self->size && ftruncate(self->fd, 0) == 0)
        self->size = 0;
}

int journal_too_big(const journal_t *self)
{
    return self && self->old_fd < 0 && journal_size(self) > JOURNAL_MAX_BYTES;
}

int journal_rewrite_begin(journal_t *self)
{
    if (!self || self->old_fd >= 0)
        return -1;
    journal_flush(self);
    int fd = open(self->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        td_log_limited(LOG_ERR, 1, "journal: cannot create %s: %s", self->tmp, strerror(errno));
        return -1;
    }
    self->old_fd = self->fd;
    self->fd = fd;
    self->size = 0;
    return 0;
}

int journal_rewrite_end(journal_t *self)
{
    if (!self || self->old_fd < 0)
        return -1;
    journal_flush(self);
    int rc = rename(self->tmp, self->path);
    if (rc < 0) {
        /* Keep appending to the old file, which still holds everything. */
        td_log_limited(LOG_ERR, 1, "journal: cannot rename %s: %s", self->tmp, strerror(errno));
        close(self->fd);
        unlink(self->tmp);
        self->fd = self->old_fd;
        struct stat st;
        self->size = fstat(self->fd, &st) == 0 ? (size_t)st.st_size : 0;
    } else {
        close(self->old_fd);
    }
    self->old_fd = -1;
    return rc;
}

size_t journal_size(const journal_t *self)
{
    return self ? self->size + self->len : 0;
}

/* --- reading what the previous run left ------------------------------------ */

static void s_unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s != '\\' || !s[1]) {
            *o++ = *s;
            continue;
        }
        s++;
        *o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
    }
    *o = '\0';
}

static void s_pending_free(s_pending_t *p)
{
    if (p) {
        free(p->line);
        free(p);
    }
}

/* One line (without its '\n'): U replaces the call's state, E forgets it. */
static void s_read_line(journal_t *self, const char *line, size_t n)
{
    if (n < 3 || line[1] != '\t' || (line[0] != 'U' && line[0] != 'E'))
        return;                 /* a torn last line, or garbage: skipped */
    char *copy = strndup(line + 2, n - 2);
    if (!copy)
        return;
    if (line[0] == 'E') {
        s_unescape(copy);
        s_pending_free(strmap_remove(self->pending, copy));
        free(copy);
        return;
    }
    s_pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        free(copy);
        return;
    }
    p->line = copy;
    int k = 0;
    for (char *s = copy; k < S_FIELDS; k++) {
        p->f[k] = s;
        char *tab = strchr(s, '\t');
        if (!tab)
            break;
        *tab = '\0';
        s = tab + 1;
    }
    if (k != S_FIELDS - 1) {
        s_pending_free(p);      /* torn: the call's previous state stands */
        return;
    }
    for (k = 0; k < S_FIELDS; k++)
        s_unescape(p->f[k]);
    s_pending_t *old = strmap_remove(self->pending, p->f[0]);
    s_pending_free(old);
    if (strmap_put(self->pending, p->f[0], p) < 0)
        s_pending_free(p);
}

static void s_read(journal_t *self)
{
    FILE *fp = fopen(self->path, "r");
    if (!fp)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        if (line[n - 1] != '\n')
            break;              /* the last record was torn by the crash */
        s_read_line(self, line, (size_t)n - 1);
    }
    free(line);
    fclose(fp);
}

static struct timeval s_tv(const char *s)
{
    struct timeval tv = { 0, 0 };
    char *end;
    tv.tv_sec = (time_t)strtoll(s, &end, 10);
    if (*end == '.')
        tv.tv_usec = strtol(end + 1, NULL, 10);
    return tv;
}

void journal_record(const char *const f[JOURNAL_FIELDS], cdr_record_t *rec)
{
    *rec = (cdr_record_t) {
        .uniqueid = f[0], .start = s_tv(f[1]), .answer = s_tv(f[2]), .disposition = f[3],
        .accountcode = f[4], .src = f[5], .dst = f[6], .dcontext = f[7], .clid = f[8],
        .channel = f[9], .dstchannel = f[10], .lastapp = f[11], .lastdata = f[12],
        .userfield = f[13], .amaflags = f[14],
    };
}

typedef struct {
    cdr_t *cdr;
    struct timeval now;
    size_t n;
    int answered_elsewhere;
} s_recover_t;

static void s_recover_one(void *arg, const char *key, void *value)
{
    (void)key;
    s_recover_t *r = arg;
    s_pending_t *p = value;
    cdr_record_t rec;
    journal_record((const char *const *)p->f, &rec);
    rec.end = r->now;
    td_log_set_context(p->f[0]);
    if (r->answered_elsewhere && rec.answer.tv_sec) {
        td_log(LOG_NOTICE, "'%s' was up when the router stopped: the cluster store has it, "
               "its CDR is written by the router that adopts it", p->f[9]);
        td_log_set_context(NULL);
        return;
    }
    td_log(LOG_NOTICE, "'%s' was live when the router stopped without hanging it up: its CDR "
           "(%s, ended now)", p->f[9], p->f[3]);
    td_log_set_context(NULL);
    if (r->cdr && cdr_write(r->cdr, &rec) == 0)
        r->n++;
}

static void s_free_one(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    s_pending_free(value);
}

/* --- lifecycle ----------------------------------------------------------------- */

journal_t *journal_new(struct event_base *base, const char *dir, cdr_t *cdr, size_t *recovered)
{
    return journal_open(base, dir, cdr, 0, recovered);
}

journal_t *journal_open(struct event_base *base, const char *dir, cdr_t *cdr,
                        int answered_elsewhere, size_t *recovered)
{
    if (recovered)
        *recovered = 0;
    journal_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->fd = self->old_fd = -1;
    snprintf(self->path, sizeof self->path, "%s/calls.journal", dir);
    snprintf(self->tmp, sizeof self->tmp, "%s.tmp", self->path);
    self->pending = strmap_new(64);
    self->flush = base ? event_new(base, -1, 0, s_on_flush, self) : NULL;
    if (!self->pending || (base && !self->flush)) {
        journal_destroy(&self);
        return NULL;
    }
    unlink(self->tmp);          /* a rewrite the crash interrupted: the file stands */
    s_read(self);
    /* The CDRs first, then the journal is emptied: a crash in between
     * writes them again rather than never. */
    s_recover_t r = { cdr, { 0, 0 }, 0, answered_elsewhere };
    gettimeofday(&r.now, NULL);
    strmap_foreach(self->pending, s_recover_one, &r);
    strmap_foreach(self->pending, s_free_one, NULL);
    strmap_destroy(&self->pending);
    if (r.n)
        td_log(LOG_WARNING, "journal: %zu call(s) of the previous run never ended: CDR "
               "written for each", r.n);
    if (recovered)
        *recovered = r.n;
    self->fd = open(self->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (self->fd < 0) {
        td_log(LOG_ERR, "journal: cannot open %s: %s", self->path, strerror(errno));
        journal_destroy(&self);
        return NULL;
    }
    return self;
}

void journal_destroy(journal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    journal_t *self = *self_p;
    if (self->fd >= 0) {
        journal_flush(self);
        close(self->fd);
    }
    if (self->old_fd >= 0)
        close(self->old_fd);
    if (self->flush)
        event_free(self->flush);
    strmap_destroy(&self->pending);
    free(self->buf);
    free(self);
    *self_p = NULL;
}
