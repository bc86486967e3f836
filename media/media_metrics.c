/* media_metrics - see media_metrics.h.
 *
 * The RTP counters are the sessions' own (session_stats_t, bumped per packet
 * in session.c); nothing is added to the packet path: a scrape sums the live
 * sessions and what the table kept of the closed ones.
 *
 * Loss and jitter (rtp_stats.h, measured per packet by the sessions for
 * the CDR's quality.csv): a scrape adds up the live sessions' sides, and
 * the session table keeps the sums of the closed ones and, when a session
 * closes, puts its MOS and jitter in two histograms
 * (session_table_quality). */
#include "media_metrics.h"
#include "td_bus_metrics.h"
#include "td_log.h"

#include <stddef.h>

/* One RTP counter family: the offset of its field in session_stats_t. */
typedef struct {
    worker_t *worker;
    size_t offset;
} s_rtp_t;

static void s_rtp(void *arg, td_metrics_out_t *out)
{
    const s_rtp_t *r = arg;
    session_stats_t st;
    worker_rtp_totals(r->worker, &st);
    td_metrics_sample(out, NULL, NULL, (double)*(const uint64_t *)((const char *)&st + r->offset));
}

static void s_sessions(void *arg, td_metrics_out_t *out)
{
    td_metrics_sample(out, NULL, NULL, (double)worker_session_count(arg));
}

static void s_capacity(void *arg, td_metrics_out_t *out)
{
    td_metrics_sample(out, NULL, NULL, (double)worker_capacity(arg));
}

static void s_pairs_in_use(void *arg, td_metrics_out_t *out)
{
    uint32_t in_use, all;
    worker_port_pairs(arg, &in_use, &all);
    td_metrics_sample(out, NULL, NULL, (double)in_use);
}

static void s_pairs(void *arg, td_metrics_out_t *out)
{
    uint32_t in_use, all;
    worker_port_pairs(arg, &in_use, &all);
    td_metrics_sample(out, NULL, NULL, (double)all);
}

static const char *s_health(void *arg)
{
    return td_bus_peer_alive(worker_bus(arg), NULL) ? NULL : "router is down (bus silent)";
}

#define S_RTP_FAMILIES(X) \
    X(rx_packets, "tandem_rtp_packets_received_total", \
      "RTP and RTCP packets received on the worker's ports.") \
    X(rx_bytes, "tandem_rtp_bytes_received_total", \
      "RTP and RTCP bytes received on the worker's ports (UDP payload).") \
    X(tx_packets, "tandem_rtp_packets_sent_total", \
      "RTP and RTCP packets sent from the worker's ports.") \
    X(tx_bytes, "tandem_rtp_bytes_sent_total", \
      "RTP and RTCP bytes sent from the worker's ports (UDP payload).") \
    X(dropped, "tandem_rtp_packets_dropped_total", \
      "Packets received with nowhere to go, or whose send failed (SRTP failures included).") \
    X(relatches, "tandem_rtp_relatches_total", \
      "Times a phone's RTP source address changed and the worker followed it.") \
    X(transcoded, "tandem_rtp_transcoded_packets_total", \
      "Packets rewritten for the other side's codec.") \
    X(srtp_failed, "tandem_srtp_failures_total", \
      "SRTP packets that failed authentication or the replay check.") \
    X(strict_dropped, "tandem_rtp_strict_dropped_total", \
      "RTP/RTCP packets dropped because they came from a source other than the learned one (strictrtp).")

enum {
#define S_X_ENUM(field, name, help) S_RTP_##field,
    S_RTP_FAMILIES(S_X_ENUM)
#undef S_X_ENUM
    S_RTP_COUNT
};

static s_rtp_t s_rtp_args[S_RTP_COUNT];

/* ---- call quality ---------------------------------------------------------- */

/* A quality counter: its field in session_table_quality_t, and the value
 * last reported. A live side's loss shrinks when a late packet fills its
 * hole; a counter must not go down (Prometheus would take it for a reset),
 * so a scrape reports at least what it reported before. */
typedef struct {
    worker_t *worker;
    size_t offset;
    uint64_t reported;
} s_quality_t;

static void s_quality(void *arg, td_metrics_out_t *out)
{
    s_quality_t *r = arg;
    session_table_quality_t q;
    worker_rtp_quality(r->worker, &q);
    uint64_t v = *(const uint64_t *)((const char *)&q + r->offset);
    if (v > r->reported)
        r->reported = v;
    td_metrics_sample(out, NULL, NULL, (double)r->reported);
}

static void s_jitter_mean(void *arg, td_metrics_out_t *out)
{
    session_table_quality_t q;
    worker_rtp_quality(arg, &q);
    td_metrics_sample(out, NULL, NULL, q.jitter_sides ? q.jitter_sum_s / q.jitter_sides : 0.0);
}

static void s_jitter_max(void *arg, td_metrics_out_t *out)
{
    session_table_quality_t q;
    worker_rtp_quality(arg, &q);
    td_metrics_sample(out, NULL, NULL, q.jitter_max_s);
}

static void s_jitter_sides(void *arg, td_metrics_out_t *out)
{
    session_table_quality_t q;
    worker_rtp_quality(arg, &q);
    td_metrics_sample(out, NULL, NULL, (double)q.jitter_sides);
}

#define S_QUALITY_FAMILIES(X) \
    X(expected, "tandem_media_rtp_expected_packets_total", \
      "RTP packets the phones' sequence numbers say were sent to this worker (RFC 3550 A.3: " \
      "highest minus first, plus one, per stream), over live and closed sessions.") \
    X(lost, "tandem_media_rtp_lost_packets_total", \
      "RTP packets from the phones that never arrived: expected minus received, per side " \
      "never below 0, over live and closed sessions. Loss ratio: " \
      "rate(lost) / rate(expected).") \
    X(rtcp_packets, "tandem_media_rtcp_packets_total", \
      "RTCP compound packets (SR/RR) received from the phones.")

enum {
#define S_X_ENUM(field, name, help) S_Q_##field,
    S_QUALITY_FAMILIES(S_X_ENUM)
#undef S_X_ENUM
    S_Q_COUNT
};

static s_quality_t s_quality_args[S_Q_COUNT];

/* The families of a worker's call quality. */
static int s_add_quality(td_metrics_t *m, worker_t *worker)
{
    int rc = 0;
#define S_X_ADD(field, name, help) \
    s_quality_args[S_Q_##field] = \
        (s_quality_t){ worker, offsetof(session_table_quality_t, field), 0 }; \
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, name, help, NULL, NULL, s_quality, \
                            &s_quality_args[S_Q_##field]);
    S_QUALITY_FAMILIES(S_X_ADD)
#undef S_X_ADD
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_rtp_jitter_seconds",
                            "Mean RFC 3550 interarrival jitter of the RTP the phones send, over "
                            "the live sessions' sides that have sent audio (0 when none); see "
                            "tandem_media_rtp_jitter_max_seconds for the worst one.",
                            NULL, NULL, s_jitter_mean, worker);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_rtp_jitter_max_seconds",
                            "Largest RFC 3550 interarrival jitter among the live sessions' sides "
                            "(0 when none).", NULL, NULL, s_jitter_max, worker);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_rtp_jitter_sides",
                            "Live sessions' sides counted in tandem_media_rtp_jitter_seconds.",
                            NULL, NULL, s_jitter_sides, worker);
    const session_table_quality_t *closed = worker_rtp_closed_quality(worker);
    rc |= td_metrics_add_histogram(m, "tandem_media_session_jitter_seconds",
                                   "Jitter of each ended session that carried RTP: the larger "
                                   "of its two sides' RFC 3550 interarrival jitter at its end.",
                                   &closed->jitter_s);
    rc |= td_metrics_add_histogram(m, "tandem_media_mos",
                                   "MOS estimate (1 to 4.5, ITU-T G.107 E-model for G.711) of each "
                                   "ended session that carried RTP: its worse side, from the loss "
                                   "and jitter the worker saw and those the phones' RTCP reported. "
                                   "Below 3.6 callers notice; below 3.1 they complain.",
                                   &closed->mos);
    return rc;
}

td_metrics_t *media_metrics_new(worker_t *worker, const char *identity)
{
    td_metrics_t *m = td_metrics_new("media", identity);
    if (!m) {
        td_log(LOG_ERR, "metrics: out of memory");
        return NULL;
    }
    int rc = 0;
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_sessions",
                            "Media sessions (calls) on this worker.", NULL, NULL, s_sessions,
                            worker);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_capacity",
                            "Calls this worker takes.", NULL, NULL, s_capacity, worker);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_port_pairs_in_use",
                            "RTP/RTCP port pairs in use (two per call).", NULL, NULL,
                            s_pairs_in_use, worker);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_media_port_pairs",
                            "RTP/RTCP port pairs in rtp.conf's range.", NULL, NULL, s_pairs,
                            worker);
#define S_X_ADD(field, name, help) \
    s_rtp_args[S_RTP_##field] = (s_rtp_t){ worker, offsetof(session_stats_t, field) }; \
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, name, help, NULL, NULL, s_rtp, \
                            &s_rtp_args[S_RTP_##field]);
    S_RTP_FAMILIES(S_X_ADD)
#undef S_X_ADD
    rc |= s_add_quality(m, worker);
    rc |= td_bus_metrics_add(m, worker_bus(worker));
    rc |= td_metrics_add_process(m);
    if (rc)
        td_metrics_destroy(&m);
    return m;
}

int media_metrics_start(struct event_base *base, worker_t *worker,
                        const td_settings_t *settings, td_metrics_t **out)
{
    *out = NULL;
    if (!settings->has_metrics)
        return 0;
    td_metrics_t *m = media_metrics_new(worker, settings->identity);
    if (!m || td_metrics_listen(m, base, settings->metrics_addr, settings->metrics_port,
                                s_health, worker) < 0) {
        td_metrics_destroy(&m);
        return -1;
    }
    *out = m;
    return 0;
}
