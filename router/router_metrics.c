/* router_metrics - see router_metrics.h. */
#include "router_metrics.h"
#include "td_bus_metrics.h"
#include "td_store_metrics.h"
#include "td_log.h"

#include <stdio.h>
#include <string.h>

static const char *s_disp_names[CALL_DISP_COUNT];

static void s_count_state(void *arg, call_t *call)
{
    size_t *by_state = arg;
    call_state_t st = call_state(call);
    if (st <= CALL_DONE)
        by_state[st]++;
}

static void s_calls(void *arg, td_metrics_out_t *out)
{
    size_t by_state[CALL_DONE + 1] = { 0 };
    router_calls_foreach(arg, s_count_state, by_state);
    for (int st = 0; st < CALL_DONE; st++)       /* DONE calls have left the table */
        td_metrics_sample(out, call_state_name((call_state_t)st), NULL, (double)by_state[st]);
}

static void s_started(void *arg, td_metrics_out_t *out)
{
    td_metrics_sample(out, NULL, NULL, (double)router_calls_processed(arg));
}

static void s_reloads(void *arg, td_metrics_out_t *out)
{
    uint64_t done, refused;
    router_reload_counts(arg, &done, &refused);
    td_metrics_sample(out, "ok", NULL, (double)done);
    td_metrics_sample(out, "refused", NULL, (double)refused);
}

typedef struct {
    td_metrics_out_t *out;
    int what;                   /* 0 up, 1 capacity, 2 calls */
} s_worker_walk_t;

static void s_each_worker(void *arg, const worker_ref_t *w)
{
    s_worker_walk_t *walk = arg;
    double v = walk->what == 0 ? (worker_ref_alive(w) && !worker_ref_draining(w) ? 1 : 0)
             : walk->what == 1 ? (double)worker_ref_capacity(w)
             : (double)worker_ref_assigned(w);
    td_metrics_sample(walk->out, worker_ref_identity(w), NULL, v);
}

static void s_workers(router_t *router, td_metrics_out_t *out, int what)
{
    s_worker_walk_t walk = { out, what };
    workers_foreach(router_workers(router), s_each_worker, &walk);
}

static void s_worker_up(void *arg, td_metrics_out_t *out) { s_workers(arg, out, 0); }
static void s_worker_capacity(void *arg, td_metrics_out_t *out) { s_workers(arg, out, 1); }
static void s_worker_calls(void *arg, td_metrics_out_t *out) { s_workers(arg, out, 2); }

typedef struct {
    int signaling, media;
} s_alive_t;

static void s_each_peer(void *arg, const char *identity, const char *role, int alive,
                        uint32_t capacity, uint32_t load, uint64_t silent_ms)
{
    (void)identity, (void)capacity, (void)load, (void)silent_ms;
    s_alive_t *a = arg;
    if (!alive)
        return;
    if (strcmp(role, "signaling") == 0)
        a->signaling++;
    else if (strcmp(role, "media") == 0)
        a->media++;
}

/* /healthz: calls need a signaling process and a media worker. */
static const char *s_health(void *arg)
{
    s_alive_t a = { 0, 0 };
    td_bus_peers_foreach(router_bus(arg), s_each_peer, &a);
    if (!a.signaling)
        return "no signaling process alive on the bus";
    if (!a.media)
        return "no media worker alive on the bus";
    return NULL;
}

int router_metrics_start(struct event_base *base, router_t *router,
                         const td_settings_t *settings, td_metrics_t **out)
{
    *out = NULL;
    if (!settings->has_metrics)
        return 0;
    for (int d = 0; d < CALL_DISP_COUNT; d++)
        s_disp_names[d] = call_disp_name((call_disp_t)d);
    td_metrics_t *m = td_metrics_new("router", settings->identity);
    if (!m) {
        td_log(LOG_ERR, "metrics: out of memory");
        return -1;
    }
    const call_counts_t *c = router_call_counts(router);
    td_metric_label_t disp = { "disposition", s_disp_names, CALL_DISP_COUNT };
    int rc = 0;
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_calls",
                            "Calls in progress, by state.", "state", NULL, s_calls, router);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_calls_started_total",
                            "Calls taken into the dialplan since start.", NULL, NULL, s_started,
                            router);
    rc |= td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_calls_ended_total",
                             "Calls ended, by the CDR's disposition.", 0, &disp, NULL, c->ended);
    rc |= td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_cdrs_written_total",
                             "CDR records written to Master.csv.", 0, NULL, NULL,
                             &c->cdrs_written);
    rc |= td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_cdr_write_failures_total",
                             "CDR records that could not be written.", 0, NULL, NULL,
                             &c->cdr_failures);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_dialplan_reloads_total",
                            "Dialplan reloads (SIGHUP, dialplan reload), by result.", "result",
                            NULL, s_reloads, router);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_worker_up",
                            "1 if the router gives the media worker new calls (alive, not "
                            "draining), else 0.", "worker", NULL, s_worker_up, router);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_worker_capacity",
                            "Calls the media worker said it takes.", "worker", NULL,
                            s_worker_capacity, router);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_worker_calls",
                            "Calls the router has placed on the media worker.", "worker", NULL,
                            s_worker_calls, router);
    rc |= td_bus_metrics_add(m, router_bus(router));
    if (router_store(router))                  /* cluster mode */
        rc |= td_store_metrics_add(m, router_store(router));
    rc |= td_metrics_add_process(m);
    if (rc || td_metrics_listen(m, base, settings->metrics_addr, settings->metrics_port,
                                s_health, router) < 0) {
        td_metrics_destroy(&m);
        return -1;
    }
    *out = m;
    return 0;
}
