/* sip_metrics - see sip_metrics.h. */
#include "sip_metrics.h"
#include "sip_legs.h"
#include "sip_counts.h"
#include "sip_registrar.h"
#include "sip_txn.h"
#include "td_bus_metrics.h"
#include "td_log.h"

#include <stdio.h>

static char s_code_text[SIP_CODE_COUNT][4];
static const char *s_codes[SIP_CODE_COUNT];
static const char *s_methods[SIP_METHOD_COUNT];

static void s_labels_init(void)
{
    for (int i = 0; i < SIP_CODE_COUNT; i++) {
        snprintf(s_code_text[i], sizeof s_code_text[i], "%d", SIP_CODE_MIN + i);
        s_codes[i] = s_code_text[i];
    }
    for (int m = 0; m < SIP_METHOD_COUNT; m++)
        s_methods[m] = sip_method_name((sip_method_t)m);
}

static void s_transactions(void *arg, td_metrics_out_t *out)
{
    sip_txn_stats_t st;
    sip_txn_layer_stats(sip_core_layer(arg), &st);
    td_metrics_sample(out, NULL, NULL, (double)st.live);
}

static void s_dropped(void *arg, td_metrics_out_t *out)
{
    sip_txn_stats_t st;
    sip_txn_layer_stats(sip_core_layer(arg), &st);
    td_metrics_sample(out, NULL, NULL, (double)st.dropped);
}

static void s_bad(void *arg, td_metrics_out_t *out)
{
    sip_txn_stats_t st;
    sip_txn_layer_stats(sip_core_layer(arg), &st);
    td_metrics_sample(out, NULL, NULL, (double)st.bad_requests);
}

static void s_legs(void *arg, td_metrics_out_t *out)
{
    sip_legs_stats_t st;
    sip_legs_stats(sip_core_legs(arg), &st);
    td_metrics_sample(out, NULL, NULL, (double)st.legs);
}

static void s_calls(void *arg, td_metrics_out_t *out)
{
    sip_legs_stats_t st;
    sip_legs_stats(sip_core_legs(arg), &st);
    td_metrics_sample(out, NULL, NULL, (double)st.calls);
}

static void s_calls_in(void *arg, td_metrics_out_t *out)
{
    sip_legs_stats_t st;
    sip_legs_stats(sip_core_legs(arg), &st);
    td_metrics_sample(out, "in", NULL, (double)st.calls_in);
    td_metrics_sample(out, "out", NULL, (double)st.legs_out);
}

static void s_capped(void *arg, td_metrics_out_t *out)
{
    sip_txn_stats_t ts;
    sip_legs_stats_t ls;
    sip_txn_layer_stats(sip_core_layer(arg), &ts);
    sip_legs_stats(sip_core_legs(arg), &ls);
    td_metrics_sample(out, "transactions", NULL, (double)ts.capped);
    td_metrics_sample(out, "sdp", NULL, (double)ls.sdp_capped);
    td_metrics_sample(out, "session", NULL, (double)ls.session_capped);
}

static void s_registrations(void *arg, td_metrics_out_t *out)
{
    td_metrics_sample(out, NULL, NULL, (double)sip_registrar_count(sip_core_registrar(arg)));
}

static void s_conns(void *arg, td_metrics_out_t *out)
{
    sip_transport_stats_t st;
    sip_transport_stats(sip_txn_layer_transport(sip_core_layer(arg)), &st);
    td_metrics_sample(out, NULL, NULL, (double)st.conns);
}

/* /healthz: the router must be alive on the bus (calls go nowhere without it). */
static const char *s_health(void *arg)
{
    return td_bus_peer_alive(sip_core_bus(arg), NULL) ? NULL : "router is down (bus silent)";
}

int sip_metrics_start(struct event_base *base, sip_core_t *core, const td_settings_t *settings,
                      td_metrics_t **out)
{
    *out = NULL;
    if (!settings->has_metrics)
        return 0;
    s_labels_init();
    td_metrics_t *m = td_metrics_new("signaling", settings->identity);
    if (!m) {
        td_log(LOG_ERR, "metrics: out of memory");
        return -1;
    }
    const sip_counts_t *c = sip_txn_layer_counts(sip_core_layer(core));
    td_metric_label_t method = { "method", s_methods, SIP_METHOD_COUNT };
    td_metric_label_t code = { "code", s_codes, SIP_CODE_COUNT };
    int rc = 0;
    rc |= td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_sip_requests_received_total",
                             "SIP requests received, by method (retransmissions included).", 0,
                             &method, NULL, c->requests_in);
    rc |= td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_sip_requests_sent_total",
                             "SIP requests sent, by method (retransmissions not included).", 0,
                             &method, NULL, c->requests_out);
    rc |= td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_sip_responses_received_total",
                             "SIP responses received, by the CSeq's method and the code.",
                             TD_METRIC_SPARSE, &method, &code, &c->responses_in[0][0]);
    rc |= td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_sip_responses_sent_total",
                             "SIP responses sent, by the CSeq's method and the code "
                             "(retransmissions not included).",
                             TD_METRIC_SPARSE, &method, &code, &c->responses_out[0][0]);
    rc |= td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_sip_retransmissions_sent_total",
                             "SIP requests and responses sent again by a transaction's timers "
                             "or for a retransmitted request.", 0, NULL, NULL,
                             &c->retransmits_out);
    rc |= td_metrics_add_u64(m, TD_METRIC_COUNTER, "tandem_sip_retransmissions_received_total",
                             "SIP requests received again for a transaction in progress.", 0,
                             NULL, NULL, &c->retransmits_in);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_sip_messages_dropped_total",
                            "SIP datagrams or messages dropped (unparsable and unanswerable, "
                            "no Via, stray responses).", NULL, NULL, s_dropped, core);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_sip_bad_requests_total",
                            "SIP requests answered 400 (malformed).", NULL, NULL, s_bad, core);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_sip_transactions",
                            "SIP transactions in progress.", NULL, NULL, s_transactions, core);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_sip_legs",
                            "Call legs (dialogs) signaling holds, including ended ones not yet "
                            "reaped.", NULL, NULL, s_legs, core);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_sip_calls",
                            "Incoming calls in progress (the load reported to the router).",
                            NULL, NULL, s_calls, core);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_sip_legs_started_total",
                            "Call legs started: in (a phone's INVITE), out (an INVITE to a "
                            "callee).", "direction", NULL, s_calls_in, core);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_sip_capped_total",
                            "Remote input refused at a memory cap ([security] in tandem.conf): "
                            "transactions (max_transactions, 503), sdp (max_sdp), session (a call's "
                            "session data past 1 MiB, 500).", "cap", NULL,
                            s_capped, core);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_sip_registrations",
                            "Registered contacts (bindings) in the registrar.", NULL, NULL,
                            s_registrations, core);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_sip_connections",
                            "Open SIP TCP and TLS connections.", NULL, NULL, s_conns, core);
    rc |= td_bus_metrics_add(m, sip_core_bus(core));
    rc |= td_metrics_add_process(m);
    if (rc || td_metrics_listen(m, base, settings->metrics_addr, settings->metrics_port,
                                s_health, core) < 0) {
        td_metrics_destroy(&m);
        return -1;
    }
    *out = m;
    return 0;
}
