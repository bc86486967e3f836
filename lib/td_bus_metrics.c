/* td_bus_metrics - the bus's families in a process's metrics (td_metrics.h):
 * frames in and out by message, failed sends, undecodable frames, and each
 * peer's liveness and silence. The bus has no timestamped ping (Hello is
 * one-way), so the latency it can show is how long ago each peer was last
 * heard: with heartbeats every TD_BUS_HEARTBEAT_MS, a value well above that
 * is a peer (or a loop) falling behind. Its own file so that the real bus
 * and the unit tests' fake share it. */
#include "td_bus_metrics.h"

static void s_frames(const uint64_t *by_case, td_metrics_out_t *out)
{
    for (int c = 0; c < TD_BUS_MAX_CASE; c++)
        if (by_case[c])
            td_metrics_sample(out, td_bus_msg_name(c), NULL, (double)by_case[c]);
}

static void s_rx(void *arg, td_metrics_out_t *out)
{
    s_frames(td_bus_counts(arg)->rx, out);
}

static void s_tx(void *arg, td_metrics_out_t *out)
{
    s_frames(td_bus_counts(arg)->tx, out);
}

static void s_failed(void *arg, td_metrics_out_t *out)
{
    td_metrics_sample(out, NULL, NULL, (double)td_bus_counts(arg)->tx_failed);
}

static void s_bad(void *arg, td_metrics_out_t *out)
{
    td_metrics_sample(out, NULL, NULL, (double)td_bus_counts(arg)->rx_bad);
}

static void s_refused(void *arg, td_metrics_out_t *out)
{
    td_metrics_sample(out, NULL, NULL, (double)td_bus_counts(arg)->peers_refused);
}

static void s_each_up(void *arg, const char *identity, const char *role, int alive,
                      uint32_t capacity, uint32_t load, uint64_t silent_ms)
{
    (void)capacity, (void)load, (void)silent_ms;
    td_metrics_sample(arg, identity, role, alive ? 1 : 0);
}

static void s_each_silent(void *arg, const char *identity, const char *role, int alive,
                          uint32_t capacity, uint32_t load, uint64_t silent_ms)
{
    (void)capacity, (void)load, (void)alive;
    td_metrics_sample(arg, identity, role, (double)silent_ms / 1000.0);
}

static void s_up(void *arg, td_metrics_out_t *out)
{
    td_bus_peers_foreach(arg, s_each_up, out);
}

static void s_silent(void *arg, td_metrics_out_t *out)
{
    td_bus_peers_foreach(arg, s_each_silent, out);
}

int td_bus_metrics_add(td_metrics_t *m, td_bus_t *bus)
{
    int rc = 0;
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_bus_frames_received_total",
                            "Bus frames received, by message (hello: heartbeats).", "message",
                            NULL, s_rx, bus);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_bus_frames_sent_total",
                            "Bus frames sent, by message (hello: heartbeats).", "message", NULL,
                            s_tx, bus);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_bus_send_failures_total",
                            "Bus frames that could not be queued (peer not connected, queue "
                            "full).", NULL, NULL, s_failed, bus);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_bus_frames_undecodable_total",
                            "Bus frames dropped because they did not decode.", NULL, NULL, s_bad,
                            bus);
    rc |= td_metrics_add_fn(m, TD_METRIC_COUNTER, "tandem_bus_peers_refused_total",
                            "Hellos of new bus peers refused: 1024 peers were alive.", NULL,
                            NULL, s_refused, bus);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_bus_peer_up",
                            "1 if the bus peer is alive (heard within the dead time), else 0.",
                            "peer", "role", s_up, bus);
    rc |= td_metrics_add_fn(m, TD_METRIC_GAUGE, "tandem_bus_peer_silence_seconds",
                            "Seconds since the bus peer was last heard (heartbeats every 0.25 s).",
                            "peer", "role", s_silent, bus);
    return rc ? -1 : 0;
}
