/* cdr_spool - see cdr_spool.h. */
#include "cdr_spool.h"
#include "td_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cdr_spool {
    char path[1024];
    int fd;
    off_t end;                  /* the file's length */
    off_t read;                 /* no pending line before this */
    size_t pending;             /* 'P' and 'U' lines */
    int dirty;                  /* appended since the last fdatasync */
    struct event *sync;
    char rbuf[CDR_SPOOL_LINE_MAX];
};

/* --- spool lines ----------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, n;
} s_out_t;

static void s_put(s_out_t *o, char c)
{
    if (o->n + 1 < o->len)
        o->p[o->n] = c;
    o->n++;
}

static void s_put_field(s_out_t *o, const char *s)
{
    s_put(o, '\t');
    size_t n = s ? strlen(s) : 0;
    if (n > CDR_SPOOL_FIELD_MAX) {
        n = CDR_SPOOL_FIELD_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;                /* not inside a UTF-8 character */
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            s_put(o, '\\');
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        s_put(o, c);
    }
}

static void s_put_text(s_out_t *o, const char *s)
{
    for (; *s; s++)
        s_put(o, *s);
}

#define S_TEXT_FIELDS(r) \
    &(r)->accountcode, &(r)->src, &(r)->dst, &(r)->dcontext, &(r)->clid, &(r)->channel, \
    &(r)->dstchannel, &(r)->lastapp, &(r)->lastdata, &(r)->disposition, &(r)->amaflags, \
    &(r)->uniqueid, &(r)->userfield

size_t cdr_spool_encode(const cdr_record_t *r, unsigned long sequence, char *buf, size_t len)
{
    s_out_t o = { buf, len, 0 };
    char num[128];
    snprintf(num, sizeof num, "P\t%lu\t%lld.%06ld\t%lld.%06ld\t%lld.%06ld", sequence,
             (long long)r->start.tv_sec, (long)r->start.tv_usec,
             (long long)r->answer.tv_sec, (long)r->answer.tv_usec,
             (long long)r->end.tv_sec, (long)r->end.tv_usec);
    s_put_text(&o, num);
    const char *const *fields[] = { S_TEXT_FIELDS(r) };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        s_put_field(&o, *fields[i]);
    s_put(&o, '\n');
    if (len)
        buf[o.n < len ? o.n : len - 1] = '\0';
    return o.n;
}

static int s_parse_tv(const char *s, struct timeval *tv)
{
    char *end;
    long long sec = strtoll(s, &end, 10);
    if (*end != '.')
        return -1;
    long usec = strtol(end + 1, &end, 10);
    if (*end || usec < 0 || usec > 999999)
        return -1;
    tv->tv_sec = (time_t)sec;
    tv->tv_usec = usec;
    return 0;
}

/* Undo s_put_field's escapes in place. */
static void s_unescape(char *s)
{
    char *w = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *w++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

int cdr_spool_decode(char *line, cdr_record_t *r, unsigned long *sequence)
{
    memset(r, 0, sizeof *r);
    size_t n = strlen(line);
    if (n && line[n - 1] == '\n')
        line[--n] = '\0';
    char *part[18];
    size_t np = 0;
    for (char *p = line;; p++) {
        if (np == sizeof part / sizeof part[0])
            return -1;
        part[np++] = p;
        p = strchr(p, '\t');
        if (!p)
            break;
        *p = '\0';
    }
    const char **fields[] = { S_TEXT_FIELDS(r) };
    size_t nf = sizeof fields / sizeof fields[0];
    if (np != 5 + nf || strlen(part[0]) != 1 || !strchr("PUD", part[0][0]))
        return -1;
    char *end;
    *sequence = strtoul(part[1], &end, 10);
    if (*end || !*part[1])
        return -1;
    if (s_parse_tv(part[2], &r->start) < 0 || s_parse_tv(part[3], &r->answer) < 0 ||
        s_parse_tv(part[4], &r->end) < 0)
        return -1;
    for (size_t i = 0; i < nf; i++) {
        s_unescape(part[5 + i]);
        *fields[i] = part[5 + i];
    }
    return 0;
}

/* --- the spool file ------------------------------------------------------- */

static void s_on_sync(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cdr_spool_t *self = arg;
    if (self->dirty && self->fd >= 0 && fdatasync(self->fd) < 0)
        td_log_limited(LOG_ERR, 1, "cdr_spool: fdatasync %s: %s", self->path,
                       strerror(errno));
    self->dirty = 0;
}

static void s_dirty(cdr_spool_t *self)
{
    if (self->dirty)
        return;
    self->dirty = 1;
    struct timeval tv = { CDR_SPOOL_SYNC_MS / 1000, (CDR_SPOOL_SYNC_MS % 1000) * 1000 };
    evtimer_add(self->sync, &tv);
}

static int s_write_all(int fd, const char *p, size_t n, off_t at)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        at += w;
    }
    return 0;
}

/* Append one line (with its '\n') at the end of the spool. */
int cdr_spool_append(cdr_spool_t *self, const char *line, size_t n)
{
    if (s_write_all(self->fd, line, n, self->end) < 0) {
        td_log_limited(LOG_ERR, 1, "cdr_spool: cannot write %s: %s; a CDR is only in Master.csv",
                       self->path, strerror(errno));
        return -1;
    }
    self->end += (off_t)n;
    self->pending++;
    s_dirty(self);
    return 0;
}

/* The next line at or after *off whose state is not 'D': into rbuf, its
 * length (with '\n') in *len; *off moves to it. 0, or -1 at the end. */
static int s_next(cdr_spool_t *self, off_t *off, size_t *len)
{
    while (*off < self->end) {
        size_t want = sizeof self->rbuf - 1;
        if ((off_t)want > self->end - *off)
            want = (size_t)(self->end - *off);
        ssize_t n = pread(self->fd, self->rbuf, want, *off);
        if (n <= 0)
            return -1;
        self->rbuf[n] = '\0';
        char *nl = memchr(self->rbuf, '\n', (size_t)n);
        if (!nl) {
            /* no line fits the buffer: not ours; skip it (to rejected would
             * need the whole of it) */
            td_log(LOG_ERR, "cdr_spool: %s: an over-long line at offset %lld skipped",
                   self->path, (long long)*off);
            *off += n;
            continue;
        }
        size_t l = (size_t)(nl - self->rbuf) + 1;
        if (self->rbuf[0] != 'D') {
            nl[1] = '\0';
            *len = l;
            return 0;
        }
        *off += (off_t)l;
    }
    return -1;
}

/* Read what a previous run left: count the pending lines, drop a torn last
 * line, and truncate a file with nothing pending. */
static int s_open(cdr_spool_t *self)
{
    self->fd = open(self->path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (self->fd < 0) {
        td_log(LOG_ERR, "cdr_spool: cannot open %s: %s", self->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(self->fd, &st) < 0)
        return -1;
    self->end = st.st_size;
    off_t off = 0, last_end = 0, first = -1;
    size_t len;
    self->pending = 0;
    while (off < self->end) {
        ssize_t want = (ssize_t)sizeof self->rbuf;
        if (want > self->end - off)
            want = (ssize_t)(self->end - off);
        ssize_t n = pread(self->fd, self->rbuf, (size_t)want, off);
        if (n <= 0)
            break;
        char *nl = memchr(self->rbuf, '\n', (size_t)n);
        if (!nl) {
            if (n < (ssize_t)sizeof self->rbuf)
                break;              /* a torn last line */
            off += n;
            last_end = off;
            continue;
        }
        len = (size_t)(nl - self->rbuf) + 1;
        if (self->rbuf[0] != 'D') {
            self->pending++;
            if (first < 0)
                first = off;
        }
        off += (off_t)len;
        last_end = off;
    }
    if (last_end < self->end) {
        td_log(LOG_WARNING, "cdr_spool: %s: dropping a torn last line (%lld bytes)",
               self->path, (long long)(self->end - last_end));
        self->end = last_end;
    }
    if (!self->pending)
        self->end = 0;
    if (ftruncate(self->fd, self->end) < 0)
        td_log(LOG_WARNING, "cdr_spool: truncate %s: %s", self->path, strerror(errno));
    self->read = first < 0 ? 0 : first;
    if (self->pending)
        td_log(LOG_NOTICE, "cdr_spool: %zu CDR(s) spooled in %s by an earlier run, to replay",
               self->pending, self->path);
    return 0;
}

/* Replace the spool with: head (nhead lines) + the pending lines of the
 * old one, synced, renamed over it. Used when records in memory must go in
 * front of a spool with pending lines, and to compact. 0 or -1 (logged;
 * the old spool then stays and head is appended instead). */
static int s_rewrite(cdr_spool_t *self, char **head, size_t nhead)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", self->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    off_t at = 0;
    size_t pending = 0;
    int ok = fd >= 0;
    for (size_t i = 0; ok && i < nhead; i++) {
        size_t n = strlen(head[i]);
        ok = s_write_all(fd, head[i], n, at) == 0;
        at += (off_t)n;
        pending++;
    }
    off_t off = self->read;
    size_t len;
    while (ok && s_next(self, &off, &len) == 0) {
        ok = s_write_all(fd, self->rbuf, len, at) == 0;
        at += (off_t)len;
        off += (off_t)len;
        pending++;
    }
    if (ok)
        ok = fdatasync(fd) == 0 && rename(tmp, self->path) == 0;
    if (!ok) {
        td_log(LOG_ERR, "cdr_spool: cannot rewrite %s: %s", self->path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        for (size_t i = 0; i < nhead; i++)
            cdr_spool_append(self, head[i], strlen(head[i]));
        return -1;
    }
    close(self->fd);
    self->fd = fd;
    /* the new file was opened write-only: reopen it for reading too */
    int rw = open(self->path, O_RDWR | O_CLOEXEC);
    if (rw >= 0) {
        close(fd);
        self->fd = rw;
    }
    self->end = at;
    self->read = 0;
    self->pending = pending;
    return 0;
}


int cdr_spool_put_front(cdr_spool_t *self, char **lines, size_t n)
{
    if (!n)
        return 0;
    if (self->pending)
        return s_rewrite(self, lines, n);
    self->read = self->end;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        rc |= cdr_spool_append(self, lines[i], strlen(lines[i]));
    return rc;
}

const char *cdr_spool_first(cdr_spool_t *self, off_t *off, size_t *len)
{
    if (!self->pending)
        return NULL;
    *off = self->read;
    if (s_next(self, off, len) < 0) {
        td_log(LOG_ERR, "cdr_spool: %s: %zu pending record(s) not found; spool reset",
               self->path, self->pending);
        self->pending = 0;
        if (ftruncate(self->fd, 0) == 0)
            self->end = self->read = 0;
        return NULL;
    }
    self->read = *off;
    return self->rbuf;
}

void cdr_spool_mark(cdr_spool_t *self, off_t off, char state)
{
    if (s_write_all(self->fd, &state, 1, off) == 0)
        s_dirty(self);
}

void cdr_spool_done(cdr_spool_t *self, off_t off, size_t len)
{
    cdr_spool_mark(self, off, 'D');
    self->read = off + (off_t)len;
    if (self->pending)
        self->pending--;
    if (!self->pending) {
        if (ftruncate(self->fd, 0) == 0) {
            self->end = self->read = 0;
            td_log(LOG_NOTICE, "cdr_spool: spool replayed; %s emptied", self->path);
        }
    } else if (self->read > CDR_SPOOL_COMPACT) {
        s_rewrite(self, NULL, 0);
    }
}

size_t cdr_spool_pending(const cdr_spool_t *self)
{
    return self->pending;
}

const char *cdr_spool_path(const cdr_spool_t *self)
{
    return self->path;
}

cdr_spool_t *cdr_spool_new(struct event_base *base, const char *path)
{
    cdr_spool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    snprintf(self->path, sizeof self->path, "%s", path);
    self->sync = evtimer_new(base, s_on_sync, self);
    if (!self->sync || s_open(self) < 0) {
        cdr_spool_destroy(&self);
        return NULL;
    }
    return self;
}

void cdr_spool_destroy(cdr_spool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cdr_spool_t *self = *self_p;
    if (self->fd >= 0) {
        if (fdatasync(self->fd) < 0)
            td_log(LOG_ERR, "cdr_spool: fdatasync %s: %s", self->path, strerror(errno));
        close(self->fd);
    }
    if (self->sync)
        event_free(self->sync);
    free(self);
    *self_p = NULL;
}
