/* cdr - see cdr.h. */
#define TD_LOG_SUBSYS TD_LOG_CDR   /* td_log() here: [logging] cdr= */
#include "cdr.h"
#include "td_conf.h"
#include "td_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct cdr {
    FILE *fp;
    char path[1024];
    int log_uniqueid, log_userfield;   /* cdr.conf [csv] */
    int disabled;                      /* cdr.conf [general] enable=no */
    cdr_backend_fn *backend;
    void *backend_arg;
};

static int s_mkdir_p(const char *dir)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

cdr_t *cdr_new(const char *dir)
{
    cdr_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (s_mkdir_p(dir) < 0) {
        td_log(LOG_ERR, "cdr: cannot create %s: %s", dir, strerror(errno));
        free(self);
        return NULL;
    }
    snprintf(self->path, sizeof self->path, "%s/Master.csv", dir);
    self->fp = fopen(self->path, "a");
    if (!self->fp) {
        td_log(LOG_ERR, "cdr: cannot open %s: %s", self->path, strerror(errno));
        free(self);
        return NULL;
    }
    return self;
}

void cdr_destroy(cdr_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->fp)
        fclose((*self_p)->fp);
    free(*self_p);
    *self_p = NULL;
}

typedef struct {
    char *p;
    size_t len, n;     /* n may pass len: then only counted */
} s_line_t;

static void s_char(s_line_t *l, char c)
{
    if (l->n + 1 < l->len)
        l->p[l->n] = c;
    l->n++;
}

size_t cdr_csv_char(char c, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u != 0x7f) {
        out[0] = c;
        return 1;
    }
    out[0] = '\\';
    out[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
    if (out[1])
        return 2;
    out[1] = 'x';
    out[2] = hex[u >> 4];
    out[3] = hex[u & 15];
    return 4;
}

static void s_quoted(s_line_t *l, const char *s, int comma)
{
    s_char(l, '"');
    for (; s && *s; s++) {
        char esc[5];
        size_t n = cdr_csv_char(*s, esc);
        if (*s == '"')
            s_char(l, '"');
        for (size_t i = 0; i < n; i++)
            s_char(l, esc[i]);
    }
    s_char(l, '"');
    if (comma)
        s_char(l, ',');
}

static void s_text(s_line_t *l, const char *s)
{
    for (; *s; s++)
        s_char(l, *s);
}

static void s_time(s_line_t *l, struct timeval tv)
{
    char buf[32] = "";
    if (tv.tv_sec || tv.tv_usec) {
        struct tm tm;
        time_t t = tv.tv_sec;
        localtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    }
    s_quoted(l, buf, 1);
}

/* Whole seconds from a to b, rounded. */
static long s_seconds(struct timeval a, struct timeval b)
{
    long long ms = (long long)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_usec - a.tv_usec) / 1000;
    if (ms < 0)
        return 0;
    return (long)((ms + 500) / 1000);
}

long cdr_duration(const cdr_record_t *r)
{
    return s_seconds(r->start, r->end);
}

long cdr_billsec(const cdr_record_t *r)
{
    int answered = r->answer.tv_sec || r->answer.tv_usec;
    return answered ? s_seconds(r->answer, r->end) : 0L;
}

size_t cdr_format(const cdr_record_t *r, char *buf, size_t len)
{
    return cdr_format_columns(r, 0, 0, buf, len);
}

size_t cdr_format_columns(const cdr_record_t *r, int uniqueid, int userfield, char *buf,
                          size_t len)
{
    s_line_t l = { buf, len, 0 };
    s_quoted(&l, r->accountcode, 1);
    s_quoted(&l, r->src, 1);
    s_quoted(&l, r->dst, 1);
    s_quoted(&l, r->dcontext, 1);
    s_quoted(&l, r->clid, 1);
    s_quoted(&l, r->channel, 1);
    s_quoted(&l, r->dstchannel, 1);
    s_quoted(&l, r->lastapp, 1);
    s_quoted(&l, r->lastdata, 1);
    s_time(&l, r->start);
    s_time(&l, r->answer);
    s_time(&l, r->end);
    char num[64];
    snprintf(num, sizeof num, "%ld,%ld,", cdr_duration(r), cdr_billsec(r));
    s_text(&l, num);
    s_quoted(&l, r->disposition, 1);
    s_quoted(&l, r->amaflags, uniqueid || userfield);
    if (uniqueid)
        s_quoted(&l, r->uniqueid, userfield);
    if (userfield)
        s_quoted(&l, r->userfield, 0);
    s_char(&l, '\n');
    if (len)
        buf[l.n < len ? l.n : len - 1] = '\0';
    return l.n;
}

int cdr_enabled(const cdr_t *self)
{
    return !self->disabled;
}

void cdr_set_backend(cdr_t *self, cdr_backend_fn *fn, void *arg)
{
    self->backend = fn;
    self->backend_arg = arg;
}

int cdr_write(cdr_t *self, const cdr_record_t *rec)
{
    if (self->disabled)
        return 0;
    char line[4096];
    int u = self->log_uniqueid, f = self->log_userfield;
    size_t n = cdr_format_columns(rec, u, f, line, sizeof line);
    char *p = line;
    char *big = NULL;
    if (n >= sizeof line) {
        if (!(big = malloc(n + 1)))
            return -1;
        cdr_format_columns(rec, u, f, big, n + 1);
        p = big;
    }
    int rc = 0;
    if (fwrite(p, 1, n, self->fp) != n || fflush(self->fp) != 0) {
        td_log_limited(LOG_ERR, 1, "cdr: cannot write %s: %s", self->path, strerror(errno));
        clearerr(self->fp);
        rc = -1;
    }
    free(big);
    if (self->backend)
        self->backend(self->backend_arg, rec);
    return rc;
}

int cdr_configure(cdr_t *self, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0;
    char err[512];
    td_conf_t *conf = td_conf_load(path, err, sizeof err);
    if (!conf) {
        td_log(LOG_WARNING, "cdr: %s", err);
        return -1;
    }
    td_conf_log_warnings(conf);
    td_conf_section_t *general = td_conf_section(conf, "general");
    const char *enable = general ? td_conf_get(general, "enable") : NULL;
    /* An aco OPT_BOOL_T in main/cdr.c: ast_true, so anything but a yes
     * word turns CDRs off. */
    self->disabled = enable && td_conf_bool(enable) != 1;
    td_conf_section_t *csv = td_conf_section(conf, "csv");
    const char *u = csv ? td_conf_get(csv, "loguniqueid") : NULL;
    const char *f = csv ? td_conf_get(csv, "loguserfield") : NULL;
    self->log_uniqueid = u && td_conf_bool(u) == 1;
    self->log_userfield = f && td_conf_bool(f) == 1;
    td_conf_destroy(&conf);
    return 0;
}

char *cdr_clid(const char *name, const char *num, char *buf, size_t len)
{
    int has_name = name && *name, has_num = num && *num;
    if (has_name && has_num)
        snprintf(buf, len, "\"%s\" <%s>", name, num);
    else
        snprintf(buf, len, "%s", has_name ? name : has_num ? num : "");
    return buf;
}
