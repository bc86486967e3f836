/* quality - see quality.h. */
#include "quality.h"
#include "cdr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td_log.h"

struct quality {
    FILE *fp;
    char path[1024];
};

static const char s_header[] =
    "uniqueid,linkedid,end,worker,"
    "a_remote,a_rx_packets,a_tx_packets,a_lost,a_loss_pct,a_jitter_ms,a_far_lost,"
    "a_far_loss_pct,a_far_jitter_ms,a_rtt_ms,a_mos,"
    "b_remote,b_rx_packets,b_tx_packets,b_lost,b_loss_pct,b_jitter_ms,b_far_lost,"
    "b_far_loss_pct,b_far_jitter_ms,b_rtt_ms,b_mos,mos\n";

const char *quality_header(void)
{
    return s_header;
}

quality_t *quality_new(const char *dir)
{
    quality_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->path, sizeof self->path, "%s/quality.csv", dir);
    self->fp = fopen(self->path, "a");
    if (!self->fp) {
        td_log(LOG_ERR, "quality: cannot open %s: %s", self->path, strerror(errno));
        free(self);
        return NULL;
    }
    if (ftell(self->fp) == 0) {
        fputs(s_header, self->fp);
        fflush(self->fp);
    }
    return self;
}

void quality_destroy(quality_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fclose((*self_p)->fp);
    free(*self_p);
    *self_p = NULL;
}

typedef struct {
    char *buf;
    size_t len, used;
} s_line_t;

static void s_add(s_line_t *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = l->used < l->len ? l->len - l->used : 0;
    int n = vsnprintf(room ? l->buf + l->used : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->used += (size_t)n;
}

/* A string column, quoted as Master.csv's (cdr.h: inner quotes doubled,
 * control characters escaped, so a line never splits). */
static void s_quoted(s_line_t *l, const char *v)
{
    v = v ? v : "";
    s_add(l, "\"");
    for (const char *p = v; *p; p++) {
        char esc[5];
        size_t n = cdr_csv_char(*p, esc);
        if (*p == '"')
            s_add(l, "\"\"");
        else
            s_add(l, "%.*s", (int)n, esc);
    }
    s_add(l, "\",");
}

/* A side's columns; returns its MOS (0: it carried no RTP). */
static double s_side(s_line_t *l, const Tandem__MediaSideStats *s)
{
    static const Tandem__MediaSideStats none = TANDEM__MEDIA_SIDE_STATS__INIT;
    if (!s)
        s = &none;
    int64_t lost = s->lost > 0 ? s->lost : 0;
    double loss = s->expected ? 100.0 * (double)lost / (double)s->expected : 0.0;
    s_quoted(l, s->remote);
    s_add(l, "%llu,%llu,%lld,%.2f,%.2f,", (unsigned long long)s->rx_packets,
          (unsigned long long)s->tx_packets, (long long)lost, loss, s->jitter_us / 1000.0);
    if (s->far_valid) {
        int32_t far = s->far_lost > 0 ? s->far_lost : 0;
        s_add(l, "%d,%.2f,%.2f,", far, s->tx_packets ? 100.0 * far / (double)s->tx_packets : 0.0,
              s->far_jitter_us / 1000.0);
    } else {
        s_add(l, ",,,");
    }
    if (s->rtt_us)
        s_add(l, "%.1f,", s->rtt_us / 1000.0);
    else
        s_add(l, ",");
    if (!s->rx_packets || !s->mos_x100) {
        s_add(l, ",");
        return 0;
    }
    s_add(l, "%.2f,", s->mos_x100 / 100.0);
    return s->mos_x100 / 100.0;
}

size_t quality_format(const char *worker, time_t end, const Tandem__MediaSessionStats *s,
                      char *buf, size_t len)
{
    s_line_t l = { buf, len, 0 };
    if (len)
        buf[0] = '\0';
    char when[32];
    struct tm tm;
    localtime_r(&end, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    s_quoted(&l, s->call_id);
    s_quoted(&l, s->call_id);
    s_quoted(&l, when);
    s_quoted(&l, worker);
    double a = s_side(&l, s->a), b = s_side(&l, s->b);
    double mos = a && b ? (a < b ? a : b) : a ? a : b;
    if (mos)
        s_add(&l, "%.2f\n", mos);
    else
        s_add(&l, "\n");
    return l.used;
}

int quality_write(quality_t *self, const char *worker, const Tandem__MediaSessionStats *s)
{
    char line[2048];
    size_t n = quality_format(worker, time(NULL), s, line, sizeof line);
    if (n >= sizeof line) {
        td_log(LOG_WARNING, "quality: line too long for %s: not written", self->path);
        return -1;
    }
    if (fputs(line, self->fp) == EOF || fflush(self->fp) == EOF) {
        td_log(LOG_WARNING, "quality: cannot write %s: %s", self->path, strerror(errno));
        return -1;
    }
    return 0;
}
