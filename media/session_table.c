/* session_table - sessions by call id; see session_table.h.
 * A td_map (seeded hash, chained, doubling) of one small node per session
 * (session_t is opaque here, so the node holds it rather than embedding). */
#include "td_hash.h"
#include "td_map.h"
#include "session_table.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_node {
    session_t *session;        /* owned */
    td_map_node_t link;        /* in map */
} s_node_t;

struct session_table {
    td_map_t map;              /* s_node_t by call id */
    uint32_t size;
    session_stats_t closed;    /* both sides of every session destroyed */
    session_table_quality_t quality;  /* of the sessions destroyed (jitter_* unused) */
};

/* The buckets of the end-of-session histograms: MOS as ITU-T P.800's bands
 * read it (4.3+ excellent/toll quality, 4.0 good, 3.6 fair, 3.1 poor, below
 * 2.6 bad), and jitter around what a 20-60 ms jitter buffer absorbs. */
static const double s_mos_bounds[] = { 1, 2, 2.6, 3.1, 3.6, 4, 4.3, 4.5 };
static const double s_jitter_bounds[] = { 0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1 };

/* Quality counters of a session's sides added to sum; with closing, the
 * session ends: its MOS and jitter go into the histograms, else (a live
 * session) its sides' jitter into the live figures. */
static void s_add_quality(session_table_quality_t *sum, const session_t *session, int closing)
{
    int carried = 0;
    double mos = 4.5, jitter_s = 0.0;
    for (int side = SESSION_A; side <= SESSION_B; side++) {
        const rtp_stats_t *q = session_quality(session, (session_side_t)side);
        uint64_t expected = rtp_stats_expected(q);
        int64_t lost = rtp_stats_lost(q);
        sum->expected += expected;
        sum->lost += lost > 0 ? (uint64_t)lost : 0;
        sum->rtcp_packets += q->rtcp_packets;
        if (!expected)
            continue;
        carried = 1;
        double j = rtp_stats_jitter_ms(q) / 1000.0;
        double m = rtp_stats_side_mos(q);
        if (m < mos)
            mos = m;
        if (j > jitter_s)
            jitter_s = j;
        if (!closing && q->jitter_started) {
            sum->jitter_sides++;
            sum->jitter_sum_s += j;
            if (j > sum->jitter_max_s)
                sum->jitter_max_s = j;
        }
    }
    if (closing && carried) {
        td_histogram_observe(&sum->mos, mos);
        td_histogram_observe(&sum->jitter_s, jitter_s);
    }
}

static void s_add(session_stats_t *sum, const session_t *session)
{
    for (int side = SESSION_A; side <= SESSION_B; side++) {
        const session_stats_t *st = session_stats(session, (session_side_t)side);
        sum->rx_packets += st->rx_packets;
        sum->rx_bytes += st->rx_bytes;
        sum->tx_packets += st->tx_packets;
        sum->tx_bytes += st->tx_bytes;
        sum->dropped += st->dropped;
        sum->relatches += st->relatches;
        sum->transcoded += st->transcoded;
        sum->srtp_failed += st->srtp_failed;
        sum->strict_dropped += st->strict_dropped;
    }
}

/* Destroy a node's session, its counters kept in the totals. */
static void s_node_free(session_table_t *self, s_node_t *node)
{
    s_add(&self->closed, node->session);
    s_add_quality(&self->quality, node->session, 1);
    session_destroy(&node->session);
    free(node);
}

#define S_INITIAL_BUCKETS 64

static int s_eq(const td_map_node_t *n, const void *key)
{
    return strcmp(session_call_id(TD_MAP_ENTRY(n, s_node_t, link)->session), key) == 0;
}

#define S_NODE(n) TD_MAP_ENTRY(n, s_node_t, link)

session_table_t *session_table_new(void)
{
    session_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (td_map_init(&self->map, S_INITIAL_BUCKETS, s_eq) < 0) {
        free(self);
        return NULL;
    }
    td_histogram_init(&self->quality.mos, s_mos_bounds,
                      sizeof s_mos_bounds / sizeof s_mos_bounds[0]);
    td_histogram_init(&self->quality.jitter_s, s_jitter_bounds,
                      sizeof s_jitter_bounds / sizeof s_jitter_bounds[0]);
    return self;
}

void session_table_destroy(session_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    session_table_t *self = *self_p;
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->map, &cur), *next; n; n = next) {
        next = td_map_next(&self->map, n, &cur);
        s_node_t *node = S_NODE(n);
        session_destroy(&node->session);
        free(node);
    }
    td_map_fini(&self->map);
    free(self);
    *self_p = NULL;
}

int session_table_insert(session_table_t *self, session_t **session_p)
{
    const char *call_id = session_call_id(*session_p);
    uint64_t hash = td_hash_str(call_id);
    if (td_map_find(&self->map, hash, call_id))
        return -1;
    s_node_t *node = malloc(sizeof *node);
    if (!node)
        return -1;
    node->session = *session_p;
    td_map_insert(&self->map, &node->link, hash);
    *session_p = NULL;
    self->size++;
    return 0;
}

session_t *session_table_find(session_table_t *self, const char *call_id)
{
    td_map_node_t *n = td_map_find(&self->map, td_hash_str(call_id), call_id);
    return n ? S_NODE(n)->session : NULL;
}

int session_table_remove(session_table_t *self, const char *call_id)
{
    td_map_node_t *n = td_map_take(&self->map, td_hash_str(call_id), call_id);
    if (!n)
        return -1;
    s_node_free(self, S_NODE(n));
    self->size--;
    return 0;
}

uint32_t session_table_size(const session_table_t *self)
{
    return self->size;
}

void session_table_totals(const session_table_t *self, session_stats_t *out)
{
    *out = self->closed;
    size_t cur;
    for (const td_map_node_t *n = td_map_first(&self->map, &cur); n;
         n = td_map_next(&self->map, n, &cur))
        s_add(out, S_NODE(n)->session);
}

void session_table_quality(const session_table_t *self, session_table_quality_t *out)
{
    *out = self->quality;
    size_t cur;
    for (const td_map_node_t *n = td_map_first(&self->map, &cur); n;
         n = td_map_next(&self->map, n, &cur))
        s_add_quality(out, S_NODE(n)->session, 0);
}

const session_table_quality_t *session_table_closed_quality(const session_table_t *self)
{
    return &self->quality;
}

uint32_t session_table_sweep(session_table_t *self, session_table_fn *fn, void *arg)
{
    uint32_t removed = 0;
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->map, &cur), *next; n; n = next) {
        next = td_map_next(&self->map, n, &cur);
        s_node_t *node = S_NODE(n);
        if (fn(node->session, arg)) {
            td_map_remove(&self->map, n);
            s_node_free(self, node);
            self->size--;
            removed++;
        }
    }
    return removed;
}
