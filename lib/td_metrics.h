/* td_metrics - a process's Prometheus metrics and its health, over HTTP.
 *
 * A registry of metric families, filled once at start and read at each
 * scrape. The numbers themselves live where they are counted: a family
 * either points at the owner's uint64_t counters (incremented on the hot
 * path with a plain add: no allocation, no lock; each Tandem process is one
 * thread), or names a function that reports its samples at scrape time (a
 * table's size, a peer list, /proc). Labels are small fixed sets (a SIP
 * method, a response code) given as arrays of values, so a counter is an
 * array element.
 *
 * Exposition is Prometheus' text format 0.0.4: "# HELP", "# TYPE", then
 * one line per sample, families in registration order. Counter names end in
 * "_total", units are seconds and bytes.
 *
 * td_metrics_listen() serves, on one evhttp server in the process's loop:
 *   GET /metrics  200, the text format
 *   GET /healthz  200 "OK" when the health function says so, else 503 and
 *                 its reason (a container's health check)
 *   other paths   404; other methods 405. */
#ifndef TD_METRICS_H
#define TD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

struct evbuffer;

typedef struct td_metrics td_metrics_t;
typedef struct td_metrics_out td_metrics_out_t;

typedef enum { TD_METRIC_COUNTER, TD_METRIC_GAUGE, TD_METRIC_HISTOGRAM } td_metric_type_t;

#define TD_METRICS_MAX_FAMILIES 96

/* A fixed label: its name and its n values (borrowed for the registry's
 * life). The family's values are indexed by the label value's position. */
typedef struct {
    const char *name;
    const char *const *values;
    size_t n;
} td_metric_label_t;

/* Flags of td_metrics_add_u64. */
#define TD_METRIC_SPARSE 1    /* leave out samples that are 0 (wide label sets) */

/* A registry for process role ("signaling", "router", "media") and bus
 * identity: both appear in tandem_process_info. NULL on ENOMEM. */
td_metrics_t *td_metrics_new(const char *role, const char *identity);
/* Stops the HTTP server if it runs. */
void td_metrics_destroy(td_metrics_t **self_p);

/* A family of counters or gauges the caller keeps: values (borrowed for the
 * registry's life) holds one uint64_t without labels, l0->n with one label,
 * l0->n * l1->n (row-major: values[i0 * l1->n + i1]) with two. name and help
 * are borrowed (string literals). 0, or -1 when the registry is full. */
int td_metrics_add_u64(td_metrics_t *self, td_metric_type_t type, const char *name,
                       const char *help, unsigned flags, const td_metric_label_t *l0,
                       const td_metric_label_t *l1, const uint64_t *values);

/* A family whose samples fn reports at scrape time with td_metrics_sample();
 * label0/label1 name its labels (NULL: fewer). 0, or -1 when full. */
typedef void td_metrics_collect_fn(void *arg, td_metrics_out_t *out);
int td_metrics_add_fn(td_metrics_t *self, td_metric_type_t type, const char *name,
                      const char *help, const char *label0, const char *label1,
                      td_metrics_collect_fn *fn, void *arg);
/* One sample of the family being collected: its label values (escaped
 * here; NULL for a family without that label) and its value. */
void td_metrics_sample(td_metrics_out_t *out, const char *v0, const char *v1, double value);

/* A histogram its owner keeps (no labels): observations counted per
 * bucket, as Prometheus' client libraries do. bounds are the buckets' upper
 * bounds ("le"), ascending, borrowed for the histogram's life (a static
 * array); counts[i] holds the observations <= bounds[i] and > bounds[i-1],
 * counts[n] those above the last bound. td_histogram_observe() is a few
 * compares and adds: no allocation. */
#define TD_HISTOGRAM_MAX_BUCKETS 12
typedef struct {
    const double *bounds;
    size_t n;
    uint64_t counts[TD_HISTOGRAM_MAX_BUCKETS + 1];
    uint64_t count;
    double sum;
} td_histogram_t;

/* Empty, with n (<= TD_HISTOGRAM_MAX_BUCKETS) bounds. */
void td_histogram_init(td_histogram_t *h, const double *bounds, size_t n);
void td_histogram_observe(td_histogram_t *h, double value);

/* A histogram family: name_bucket{le=...} (cumulative, then le="+Inf"),
 * name_sum and name_count, read from *h (borrowed for the registry's life)
 * at each scrape. 0, or -1 when full. */
int td_metrics_add_histogram(td_metrics_t *self, const char *name, const char *help,
                             const td_histogram_t *h);

/* The standard process_* families from /proc/self: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds. */
int td_metrics_add_process(td_metrics_t *self);

/* Every family, in the text format, appended to out. 0, or -1 on ENOMEM. */
int td_metrics_write(td_metrics_t *self, struct evbuffer *out);

/* NULL when healthy, else why not (borrowed until the next call). */
typedef const char *td_metrics_health_fn(void *arg);

/* Serve /metrics and /healthz on addr:port (IPv4; port 0: one the kernel
 * picks, see td_metrics_port) from base. health NULL: always healthy.
 * 0, or -1 (logged). */
int td_metrics_listen(td_metrics_t *self, struct event_base *base, const char *addr,
                      uint16_t port, td_metrics_health_fn *health, void *arg);
/* The port served (0 when not listening). */
uint16_t td_metrics_port(const td_metrics_t *self);

#endif
