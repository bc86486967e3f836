/* td_metrics - see td_metrics.h. */
#include "td_metrics.h"
#include "td_log.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

typedef struct {
    td_metric_type_t type;
    const char *name, *help;
    unsigned flags;
    /* kept by the owner */
    const uint64_t *values;
    td_metric_label_t l0, l1;          /* .name NULL: no such label */
    /* or reported at scrape time */
    td_metrics_collect_fn *fn;
    void *arg;
    const char *fn_label[2];
    /* or a histogram the owner keeps */
    const td_histogram_t *histogram;
} s_family_t;

struct td_metrics_out {
    struct evbuffer *buf;
    const s_family_t *family;
    int failed;
};

struct td_metrics {
    s_family_t families[TD_METRICS_MAX_FAMILIES];
    size_t n;
    char role[16], identity[64];
    struct evhttp *http;
    uint16_t port;
    td_metrics_health_fn *health;
    void *health_arg;
    long clock_ticks, page_size;
    double boot_time;                  /* /proc/stat btime */
};

static void s_info(void *arg, td_metrics_out_t *out)
{
    td_metrics_t *self = arg;
    td_metrics_sample(out, self->role, self->identity, 1);
}

td_metrics_t *td_metrics_new(const char *role, const char *identity)
{
    td_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->role, sizeof self->role, "%s", role ? role : "");
    snprintf(self->identity, sizeof self->identity, "%s", identity ? identity : "");
    td_metrics_add_fn(self, TD_METRIC_GAUGE, "tandem_process_info",
                      "This Tandem process: its role and its identity on the bus (always 1).",
                      "role", "identity", s_info, self);
    return self;
}

void td_metrics_destroy(td_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    td_metrics_t *self = *self_p;
    if (self->http)
        evhttp_free(self->http);
    free(self);
    *self_p = NULL;
}

static s_family_t *s_add(td_metrics_t *self, td_metric_type_t type, const char *name,
                         const char *help)
{
    if (self->n >= TD_METRICS_MAX_FAMILIES) {
        td_log(LOG_ERR, "metrics: no room for %s (TD_METRICS_MAX_FAMILIES)", name);
        return NULL;
    }
    s_family_t *f = &self->families[self->n++];
    memset(f, 0, sizeof *f);
    f->type = type;
    f->name = name;
    f->help = help;
    return f;
}

int td_metrics_add_u64(td_metrics_t *self, td_metric_type_t type, const char *name,
                       const char *help, unsigned flags, const td_metric_label_t *l0,
                       const td_metric_label_t *l1, const uint64_t *values)
{
    s_family_t *f = s_add(self, type, name, help);
    if (!f)
        return -1;
    f->flags = flags;
    f->values = values;
    if (l0)
        f->l0 = *l0;
    if (l0 && l1)
        f->l1 = *l1;
    return 0;
}

int td_metrics_add_fn(td_metrics_t *self, td_metric_type_t type, const char *name,
                      const char *help, const char *label0, const char *label1,
                      td_metrics_collect_fn *fn, void *arg)
{
    s_family_t *f = s_add(self, type, name, help);
    if (!f)
        return -1;
    f->fn = fn;
    f->arg = arg;
    f->fn_label[0] = label0;
    f->fn_label[1] = label0 ? label1 : NULL;
    return 0;
}

void td_histogram_init(td_histogram_t *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->n = n < TD_HISTOGRAM_MAX_BUCKETS ? n : TD_HISTOGRAM_MAX_BUCKETS;
}

void td_histogram_observe(td_histogram_t *h, double value)
{
    size_t i = 0;
    while (i < h->n && value > h->bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += value;
}

int td_metrics_add_histogram(td_metrics_t *self, const char *name, const char *help,
                             const td_histogram_t *h)
{
    s_family_t *f = s_add(self, TD_METRIC_HISTOGRAM, name, help);
    if (!f)
        return -1;
    f->histogram = h;
    return 0;
}

/* ---- the text format ----------------------------------------------------- */

/* text with '\\' and '\n' escaped, and '"' too inside a label value. */
static void s_escaped(struct evbuffer *buf, const char *text, int quote)
{
    const char *run = text;
    for (const char *p = text; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n"
                        : (quote && *p == '"') ? "\\\"" : NULL;
        if (!esc)
            continue;
        evbuffer_add(buf, run, (size_t)(p - run));
        evbuffer_add(buf, esc, 2);
        run = p + 1;
    }
    evbuffer_add(buf, run, strlen(run));
}

static void s_labels(struct evbuffer *buf, const char *n0, const char *v0, const char *n1,
                     const char *v1)
{
    if (!n0 || !v0)
        return;
    evbuffer_add_printf(buf, "{%s=\"", n0);
    s_escaped(buf, v0, 1);
    if (n1 && v1) {
        evbuffer_add_printf(buf, "\",%s=\"", n1);
        s_escaped(buf, v1, 1);
    }
    evbuffer_add(buf, "\"}", 2);
}

void td_metrics_sample(td_metrics_out_t *out, const char *v0, const char *v1, double value)
{
    const s_family_t *f = out->family;
    evbuffer_add(out->buf, f->name, strlen(f->name));
    s_labels(out->buf, f->fn_label[0], v0, f->fn_label[1], v1);
    /* Go's float syntax: integers as integers, NaN and +Inf by name. */
    int rc;
    if (isnan(value))
        rc = evbuffer_add_printf(out->buf, " NaN\n");
    else if (isinf(value))
        rc = evbuffer_add_printf(out->buf, value > 0 ? " +Inf\n" : " -Inf\n");
    else if (value == floor(value) && fabs(value) < 9007199254740992.0)
        rc = evbuffer_add_printf(out->buf, " %.0f\n", value);
    else
        rc = evbuffer_add_printf(out->buf, " %.15g\n", value);
    if (rc < 0)
        out->failed = 1;
}

/* A number in Go's float syntax (shortest exact form for the usual ones). */
static int s_number(struct evbuffer *buf, double value)
{
    if (isnan(value))
        return evbuffer_add_printf(buf, "NaN");
    if (isinf(value))
        return evbuffer_add_printf(buf, value > 0 ? "+Inf" : "-Inf");
    if (value == floor(value) && fabs(value) < 9007199254740992.0)
        return evbuffer_add_printf(buf, "%.0f", value);
    return evbuffer_add_printf(buf, "%.15g", value);
}

static void s_write_histogram(struct evbuffer *buf, const s_family_t *f)
{
    const td_histogram_t *h = f->histogram;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h->n; i++) {
        cumulative += h->counts[i];
        evbuffer_add_printf(buf, "%s_bucket{le=\"", f->name);
        s_number(buf, h->bounds[i]);
        evbuffer_add_printf(buf, "\"} %" PRIu64 "\n", cumulative);
    }
    evbuffer_add_printf(buf, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum ", f->name, h->count,
                        f->name);
    s_number(buf, h->sum);
    evbuffer_add_printf(buf, "\n%s_count %" PRIu64 "\n", f->name, h->count);
}

static void s_write_u64(struct evbuffer *buf, const s_family_t *f)
{
    size_t n0 = f->l0.name ? f->l0.n : 1, n1 = f->l1.name ? f->l1.n : 1;
    for (size_t i = 0; i < n0; i++) {
        for (size_t j = 0; j < n1; j++) {
            uint64_t v = f->values[i * n1 + j];
            if (v == 0 && (f->flags & TD_METRIC_SPARSE))
                continue;
            evbuffer_add(buf, f->name, strlen(f->name));
            s_labels(buf, f->l0.name, f->l0.name ? f->l0.values[i] : NULL,
                     f->l1.name, f->l1.name ? f->l1.values[j] : NULL);
            evbuffer_add_printf(buf, " %" PRIu64 "\n", v);
        }
    }
}

int td_metrics_write(td_metrics_t *self, struct evbuffer *out)
{
    size_t before = evbuffer_get_length(out);
    td_metrics_out_t o = { .buf = out };
    for (size_t i = 0; i < self->n; i++) {
        const s_family_t *f = &self->families[i];
        evbuffer_add_printf(out, "# HELP %s ", f->name);
        s_escaped(out, f->help ? f->help : "", 0);
        evbuffer_add_printf(out, "\n# TYPE %s %s\n", f->name,
                            f->type == TD_METRIC_COUNTER ? "counter"
                            : f->type == TD_METRIC_HISTOGRAM ? "histogram" : "gauge");
        if (f->histogram) {
            s_write_histogram(out, f);
        } else if (f->fn) {
            o.family = f;
            f->fn(f->arg, &o);
        } else {
            s_write_u64(out, f);
        }
    }
    /* evbuffer_add only fails on ENOMEM: an empty answer would say so too. */
    return o.failed || evbuffer_get_length(out) == before ? -1 : 0;
}

/* ---- process_* from /proc/self ----------------------------------------------- */

typedef struct {
    double utime, stime, starttime, vsize, rss;
} s_stat_t;

/* /proc/self/stat's fields after "(comm)": 14 utime, 15 stime, 22
 * starttime, 23 vsize, 24 rss (man 5 proc). */
static int s_read_stat(s_stat_t *st)
{
    char buf[1024];
    FILE *fp = fopen("/proc/self/stat", "r");
    if (!fp)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    unsigned long long f[25] = { 0 };
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok && field <= 24; tok = strtok_r(NULL, " ", &save))
        f[field++] = strtoull(tok, NULL, 10);
    if (field <= 24)
        return -1;
    st->utime = (double)f[14];
    st->stime = (double)f[15];
    st->starttime = (double)f[22];
    st->vsize = (double)f[23];
    st->rss = (double)f[24];
    return 0;
}

static void s_proc_cpu(void *arg, td_metrics_out_t *out)
{
    td_metrics_t *self = arg;
    s_stat_t st;
    if (s_read_stat(&st) == 0)
        td_metrics_sample(out, NULL, NULL, (st.utime + st.stime) / (double)self->clock_ticks);
}

static void s_proc_rss(void *arg, td_metrics_out_t *out)
{
    td_metrics_t *self = arg;
    s_stat_t st;
    if (s_read_stat(&st) == 0)
        td_metrics_sample(out, NULL, NULL, st.rss * (double)self->page_size);
}

static void s_proc_vsize(void *arg, td_metrics_out_t *out)
{
    (void)arg;
    s_stat_t st;
    if (s_read_stat(&st) == 0)
        td_metrics_sample(out, NULL, NULL, st.vsize);
}

static void s_proc_start(void *arg, td_metrics_out_t *out)
{
    td_metrics_t *self = arg;
    s_stat_t st;
    if (self->boot_time > 0 && s_read_stat(&st) == 0)
        td_metrics_sample(out, NULL, NULL,
                          self->boot_time + st.starttime / (double)self->clock_ticks);
}

static void s_proc_fds(void *arg, td_metrics_out_t *out)
{
    (void)arg;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    long n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    td_metrics_sample(out, NULL, NULL, (double)(n - 1));   /* not the one reading it */
}

static void s_proc_max_fds(void *arg, td_metrics_out_t *out)
{
    (void)arg;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        td_metrics_sample(out, NULL, NULL,
                          rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
}

int td_metrics_add_process(td_metrics_t *self)
{
    self->clock_ticks = sysconf(_SC_CLK_TCK);
    if (self->clock_ticks <= 0)
        self->clock_ticks = 100;
    self->page_size = sysconf(_SC_PAGESIZE);
    if (self->page_size <= 0)
        self->page_size = 4096;
    FILE *fp = fopen("/proc/stat", "r");
    if (fp) {
        char line[256];
        unsigned long long btime;
        while (fgets(line, sizeof line, fp))
            if (sscanf(line, "btime %llu", &btime) == 1)
                self->boot_time = (double)btime;
        fclose(fp);
    }
    int rc = 0;
    rc |= td_metrics_add_fn(self, TD_METRIC_COUNTER, "process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.", NULL, NULL,
                            s_proc_cpu, self);
    rc |= td_metrics_add_fn(self, TD_METRIC_GAUGE, "process_resident_memory_bytes",
                            "Resident memory size in bytes.", NULL, NULL, s_proc_rss, self);
    rc |= td_metrics_add_fn(self, TD_METRIC_GAUGE, "process_virtual_memory_bytes",
                            "Virtual memory size in bytes.", NULL, NULL, s_proc_vsize, self);
    rc |= td_metrics_add_fn(self, TD_METRIC_GAUGE, "process_open_fds",
                            "Number of open file descriptors.", NULL, NULL, s_proc_fds, self);
    rc |= td_metrics_add_fn(self, TD_METRIC_GAUGE, "process_max_fds",
                            "Maximum number of open file descriptors.", NULL, NULL,
                            s_proc_max_fds, self);
    rc |= td_metrics_add_fn(self, TD_METRIC_GAUGE, "process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.", NULL, NULL,
                            s_proc_start, self);
    return rc ? -1 : 0;
}

/* ---- HTTP ------------------------------------------------------------------- */

static void s_reply_text(struct evhttp_request *req, int code, const char *reason,
                         const char *text)
{
    struct evbuffer *body = evbuffer_new();
    if (!body) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evbuffer_add_printf(body, "%s\n", text);
    evhttp_send_reply(req, code, reason, body);
    evbuffer_free(body);
}

static void s_on_request(struct evhttp_request *req, void *arg)
{
    td_metrics_t *self = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        s_reply_text(req, 405, "Method Not Allowed", "only GET");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path)
        path = "/";
    if (strcmp(path, "/metrics") == 0) {
        struct evbuffer *body = evbuffer_new();
        if (!body || td_metrics_write(self, body) < 0) {
            if (body)
                evbuffer_free(body);
            evhttp_send_error(req, HTTP_INTERNAL, NULL);
            return;
        }
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; version=0.0.4; charset=utf-8");
        evhttp_send_reply(req, HTTP_OK, "OK", body);
        evbuffer_free(body);
    } else if (strcmp(path, "/healthz") == 0) {
        const char *why = self->health ? self->health(self->health_arg) : NULL;
        if (why)
            s_reply_text(req, 503, "Service Unavailable", why);
        else
            s_reply_text(req, HTTP_OK, "OK", "OK");
    } else {
        s_reply_text(req, HTTP_NOTFOUND, "Not Found", "not found: try /metrics or /healthz");
    }
}

int td_metrics_listen(td_metrics_t *self, struct event_base *base, const char *addr,
                      uint16_t port, td_metrics_health_fn *health, void *arg)
{
    if (self->http) {
        evhttp_free(self->http);
        self->http = NULL;
        self->port = 0;
    }
    self->health = health;
    self->health_arg = arg;
    self->http = evhttp_new(base);
    if (!self->http) {
        td_log(LOG_ERR, "metrics: cannot create the HTTP server");
        return -1;
    }
    evhttp_set_timeout(self->http, 10);
    evhttp_set_max_headers_size(self->http, 8192);
    evhttp_set_max_body_size(self->http, 1024);
    evhttp_set_gencb(self->http, s_on_request, self);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(self->http, addr, port);
    if (!bs) {
        td_log(LOG_ERR, "metrics: cannot listen on %s:%u (in use? set metrics= in "
               "tandem.conf, -m or TANDEM_METRICS: ADDR:PORT, port 0 for any, or off)",
               addr, (unsigned)port);
        evhttp_free(self->http);
        self->http = NULL;
        return -1;
    }
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len) == 0)
        self->port = ntohs(sin.sin_port);
    td_log(LOG_NOTICE, "metrics: http://%s:%u/metrics and /healthz", addr,
           (unsigned)self->port);
    return 0;
}

uint16_t td_metrics_port(const td_metrics_t *self)
{
    return self ? self->port : 0;
}
