/* media_metrics - see media_metrics.h.
 *
 * The RTP counters are the sessions' own (session_stats_t, bumped per packet
 * in session.c); nothing is added to the packet path: a scrape sums the live
 * sessions and what the table kept of the closed ones.
 *
 * Loss and jitter: the worker does not measure them yet. When sessions
 * compute them (RTP sequence gaps, RFC 3550 interarrival jitter), add them
 * here the same way: counters summed over sessions (packets lost) through
 * session_table_totals, and a gauge over the live sessions (e.g. the
 * largest jitter, in seconds). */
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
      "SRTP packets that failed authentication or the replay check.")

enum {
#define S_X_ENUM(field, name, help) S_RTP_##field,
    S_RTP_FAMILIES(S_X_ENUM)
#undef S_X_ENUM
    S_RTP_COUNT
};

static s_rtp_t s_rtp_args[S_RTP_COUNT];

int media_metrics_start(struct event_base *base, worker_t *worker,
                        const td_settings_t *settings, td_metrics_t **out)
{
    *out = NULL;
    if (!settings->has_metrics)
        return 0;
    td_metrics_t *m = td_metrics_new("media", settings->identity);
    if (!m) {
        td_log(LOG_ERR, "metrics: out of memory");
        return -1;
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
    rc |= td_bus_metrics_add(m, worker_bus(worker));
    rc |= td_metrics_add_process(m);
    if (rc || td_metrics_listen(m, base, settings->metrics_addr, settings->metrics_port,
                                s_health, worker) < 0) {
        td_metrics_destroy(&m);
        return -1;
    }
    *out = m;
    return 0;
}
