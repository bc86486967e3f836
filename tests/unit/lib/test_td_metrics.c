/* Unit tests for td_metrics: the text format 0.0.4 of counters and gauges
 * with no, one and two labels, sparse families, label and help escaping,
 * values from functions, histograms, the process_* families, and the HTTP endpoints
 * (/metrics, /healthz 200 and 503, 404) over a real socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "td_log.h"
#include "td_metrics.h"

/* The whole exposition as a NUL-terminated string (caller frees). */
static char *s_text(td_metrics_t *m)
{
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    assert_int_equal(td_metrics_write(m, b), 0);
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);
    evbuffer_remove(b, s, n);
    s[n] = '\0';
    evbuffer_free(b);
    return s;
}

/* The exposition after tandem_process_info's three lines. */
static const char *s_after_info(const char *text)
{
    const char *p = strstr(text, "tandem_process_info{");
    assert_non_null(p);
    p = strchr(p, '\n');
    assert_non_null(p);
    return p + 1;
}

static void test_info(void **state)
{
    (void)state;
    td_metrics_t *m = td_metrics_new("media", "media-\"2\"");
    char *t = s_text(m);
    assert_string_equal(t,
        "# HELP tandem_process_info This Tandem process: its role and its identity on the bus "
        "(always 1).\n"
        "# TYPE tandem_process_info gauge\n"
        "tandem_process_info{role=\"media\",identity=\"media-\\\"2\\\"\"} 1\n");
    free(t);
    td_metrics_destroy(&m);
    assert_null(m);
    td_metrics_destroy(&m);
}

static void test_counters(void **state)
{
    (void)state;
    td_metrics_t *m = td_metrics_new("signaling", "sig-1");
    static const char *const methods[] = { "INVITE", "BYE", "OTHER" };
    static const char *const codes[] = { "100", "180", "200" };
    td_metric_label_t lm = { "method", methods, 3 }, lc = { "code", codes, 3 };
    uint64_t plain = 0, by_method[3] = { 0 }, by_both[3][3] = { { 0 } };
    assert_int_equal(td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_plain_total",
                                        "Plain.", 0, NULL, NULL, &plain), 0);
    assert_int_equal(td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_requests_total",
                                        "By method.", 0, &lm, NULL, by_method), 0);
    assert_int_equal(td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_responses_total",
                                        "By method and code.", TD_METRIC_SPARSE, &lm, &lc,
                                        &by_both[0][0]), 0);
    plain += 3;
    by_method[0]++;
    by_method[2] += 2;
    by_both[0][1]++;
    by_both[0][2] += 5;
    by_both[1][2]++;
    char *t = s_text(m);
    assert_string_equal(s_after_info(t),
        "# HELP tandem_plain_total Plain.\n"
        "# TYPE tandem_plain_total counter\n"
        "tandem_plain_total 3\n"
        "# HELP tandem_requests_total By method.\n"
        "# TYPE tandem_requests_total counter\n"
        "tandem_requests_total{method=\"INVITE\"} 1\n"
        "tandem_requests_total{method=\"BYE\"} 0\n"
        "tandem_requests_total{method=\"OTHER\"} 2\n"
        "# HELP tandem_responses_total By method and code.\n"
        "# TYPE tandem_responses_total counter\n"
        "tandem_responses_total{method=\"INVITE\",code=\"180\"} 1\n"
        "tandem_responses_total{method=\"INVITE\",code=\"200\"} 5\n"
        "tandem_responses_total{method=\"BYE\",code=\"200\"} 1\n");
    free(t);
    td_metrics_destroy(&m);
}

typedef struct {
    int calls;
} t_collect_t;

static void s_collect(void *arg, td_metrics_out_t *out)
{
    t_collect_t *c = arg;
    c->calls++;
    td_metrics_sample(out, "a\\b", "line\nbreak", 0.25);
    td_metrics_sample(out, "big", "x", 12345678901234.0);
    td_metrics_sample(out, "nan", "x", NAN);
    td_metrics_sample(out, "inf", "x", INFINITY);
}

static void s_collect_plain(void *arg, td_metrics_out_t *out)
{
    (void)arg;
    td_metrics_sample(out, "ignored", NULL, 7);
}

static void test_functions_and_escaping(void **state)
{
    (void)state;
    td_metrics_t *m = td_metrics_new("router", "router");
    t_collect_t c = { 0 };
    assert_int_equal(td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_thing_seconds",
                                       "Help with \\ and\nnewline \"quoted\".", "peer", "what",
                                       s_collect, &c), 0);
    assert_int_equal(td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_plain", "P.", NULL, NULL,
                                       s_collect_plain, NULL), 0);
    char *t = s_text(m);
    assert_string_equal(s_after_info(t),
        "# HELP tandem_thing_seconds Help with \\\\ and\\nnewline \"quoted\".\n"
        "# TYPE tandem_thing_seconds gauge\n"
        "tandem_thing_seconds{peer=\"a\\\\b\",what=\"line\\nbreak\"} 0.25\n"
        "tandem_thing_seconds{peer=\"big\",what=\"x\"} 12345678901234\n"
        "tandem_thing_seconds{peer=\"nan\",what=\"x\"} NaN\n"
        "tandem_thing_seconds{peer=\"inf\",what=\"x\"} +Inf\n"
        "# HELP tandem_plain P.\n"
        "# TYPE tandem_plain gauge\n"
        "tandem_plain 7\n");
    assert_int_equal(c.calls, 1);
    free(t);
    td_metrics_destroy(&m);
}

/* A histogram: cumulative buckets in bound order, +Inf, sum and count;
 * a value on a bound falls in that bound's bucket (le). */
static void test_histogram(void **state)
{
    (void)state;
    static const double bounds[] = { 0.005, 0.02, 1 };
    td_metrics_t *m = td_metrics_new("media", "media-1");
    td_histogram_t h;
    td_histogram_init(&h, bounds, 3);
    assert_int_equal(td_metrics_add_histogram(m, "tandem_wait_seconds", "W.", &h), 0);
    char *t = s_text(m);
    assert_string_equal(s_after_info(t),
        "# HELP tandem_wait_seconds W.\n"
        "# TYPE tandem_wait_seconds histogram\n"
        "tandem_wait_seconds_bucket{le=\"0.005\"} 0\n"
        "tandem_wait_seconds_bucket{le=\"0.02\"} 0\n"
        "tandem_wait_seconds_bucket{le=\"1\"} 0\n"
        "tandem_wait_seconds_bucket{le=\"+Inf\"} 0\n"
        "tandem_wait_seconds_sum 0\n"
        "tandem_wait_seconds_count 0\n");
    free(t);
    td_histogram_observe(&h, 0.001);
    td_histogram_observe(&h, 0.02);
    td_histogram_observe(&h, 0.5);
    td_histogram_observe(&h, 2.5);
    t = s_text(m);
    assert_string_equal(s_after_info(t),
        "# HELP tandem_wait_seconds W.\n"
        "# TYPE tandem_wait_seconds histogram\n"
        "tandem_wait_seconds_bucket{le=\"0.005\"} 1\n"
        "tandem_wait_seconds_bucket{le=\"0.02\"} 2\n"
        "tandem_wait_seconds_bucket{le=\"1\"} 3\n"
        "tandem_wait_seconds_bucket{le=\"+Inf\"} 4\n"
        "tandem_wait_seconds_sum 3.021\n"
        "tandem_wait_seconds_count 4\n");
    free(t);
    td_metrics_destroy(&m);
}

static void test_full(void **state)
{
    (void)state;
    td_metrics_t *m = td_metrics_new("router", "router");
    uint64_t v = 0;
    int added = 1;                      /* tandem_process_info */
    while (td_metrics_add_u64(m, TD_METRIC_GAUGE, "tandem_x", "X.", 0, NULL, NULL, &v) == 0)
        added++;
    assert_int_equal(added, TD_METRICS_MAX_FAMILIES);
    td_metrics_destroy(&m);
}

/* The value of the first sample line starting with name + ' '. */
static double s_value(const char *text, const char *name)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s ", name);
    const char *p = strstr(text, pat);
    assert_non_null(p);
    return strtod(p + strlen(pat), NULL);
}

static void test_process(void **state)
{
    (void)state;
    td_metrics_t *m = td_metrics_new("media", "media-1");
    assert_int_equal(td_metrics_add_process(m), 0);
    char *t = s_text(m);
    assert_non_null(strstr(t, "# TYPE process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(t, "# TYPE process_resident_memory_bytes gauge\n"));
    assert_true(s_value(t, "process_cpu_seconds_total") >= 0);
    assert_true(s_value(t, "process_resident_memory_bytes") > 1024 * 1024);
    assert_true(s_value(t, "process_virtual_memory_bytes") > 1024 * 1024);
    assert_true(s_value(t, "process_open_fds") >= 3);
    assert_true(s_value(t, "process_max_fds") >= 64);
    double start = s_value(t, "process_start_time_seconds");
    assert_true(start > 1.6e9 && start <= (double)time(NULL) + 1);
    free(t);
    td_metrics_destroy(&m);
}

/* ---- HTTP: a real client on the same loop ----------------------------------- */

typedef struct {
    struct event_base *base;
    int code;
    char body[4096];
    char ctype[128];
    const char *why;          /* what the health function answers */
    int health_calls;
} t_http_t;

static const char *s_health(void *arg)
{
    t_http_t *h = arg;
    h->health_calls++;
    return h->why;
}

static void s_on_done(struct evhttp_request *req, void *arg)
{
    t_http_t *h = arg;
    h->code = req ? evhttp_request_get_response_code(req) : -1;
    h->body[0] = h->ctype[0] = '\0';
    if (req) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(b);
        if (n >= sizeof h->body)
            n = sizeof h->body - 1;
        evbuffer_remove(b, h->body, n);
        h->body[n] = '\0';
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req),
                                            "Content-Type");
        snprintf(h->ctype, sizeof h->ctype, "%s", ct ? ct : "");
    }
    event_base_loopbreak(h->base);
}

static void s_on_limit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    t_http_t *h = arg;
    h->code = -2;                       /* no answer in 5 s */
    event_base_loopbreak(h->base);
}

static void s_get(t_http_t *h, uint16_t port, const char *path)
{
    struct evhttp_connection *c = evhttp_connection_base_new(h->base, NULL, "127.0.0.1", port);
    assert_non_null(c);
    struct evhttp_request *req = evhttp_request_new(s_on_done, h);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    h->code = 0;
    assert_int_equal(evhttp_make_request(c, req, EVHTTP_REQ_GET, path), 0);
    /* A timer of its own, not event_base_loopexit's (which stays added). */
    struct event *limit = evtimer_new(h->base, s_on_limit, h);
    struct timeval tv = { 5, 0 };
    evtimer_add(limit, &tv);
    event_base_dispatch(h->base);
    event_free(limit);
    evhttp_connection_free(c);
}

static void test_http(void **state)
{
    (void)state;
    t_http_t h = { .base = event_base_new() };
    assert_non_null(h.base);
    td_metrics_t *m = td_metrics_new("signaling", "sig-1");
    uint64_t invites = 41;
    td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_invites_total", "I.", 0, NULL, NULL,
                       &invites);
    assert_int_equal(td_metrics_listen(m, h.base, "127.0.0.1", 0, s_health, &h), 0);
    uint16_t port = td_metrics_port(m);
    assert_true(port > 0);

    invites++;
    s_get(&h, port, "/metrics");
    assert_int_equal(h.code, 200);
    assert_string_equal(h.ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(h.body, "\ntandem_invites_total 42\n"));

    s_get(&h, port, "/healthz");
    assert_int_equal(h.code, 200);
    assert_string_equal(h.body, "OK\n");
    h.why = "router is down";
    s_get(&h, port, "/healthz");
    assert_int_equal(h.code, 503);
    assert_string_equal(h.body, "router is down\n");
    assert_int_equal(h.health_calls, 2);

    s_get(&h, port, "/other");
    assert_int_equal(h.code, 404);
    s_get(&h, port, "/metrics?x=1");
    assert_int_equal(h.code, 200);

    /* A second server on the same port is refused, and says so. */
    td_metrics_t *m2 = td_metrics_new("signaling", "sig-2");
    assert_int_equal(td_metrics_listen(m2, h.base, "127.0.0.1", port, NULL, NULL), -1);
    assert_int_equal(td_metrics_port(m2), 0);
    td_metrics_destroy(&m2);

    td_metrics_destroy(&m);
    /* libevent 2.1 finalizes freed bufferevents from the loop. */
    event_base_loop(h.base, EVLOOP_NONBLOCK);
    assert_int_equal(event_base_get_num_events(h.base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(h.base);
}

int main(void)
{
    td_log_init("test", LOG_CRIT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_functions_and_escaping),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_process),
        cmocka_unit_test(test_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
