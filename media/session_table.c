/* session_table - sessions by call id; see session_table.h.
 * Separate chaining; the bucket array doubles when the table holds more
 * sessions than buckets. */
#include "td_str.h"
#include "session_table.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_node {
    session_t *session;        /* owned */
    uint32_t hash;
    struct s_node *next;
} s_node_t;

struct session_table {
    s_node_t **buckets;
    uint32_t mask;             /* buckets - 1; a power of two minus one */
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

session_table_t *session_table_new(void)
{
    session_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->buckets = calloc(S_INITIAL_BUCKETS, sizeof *self->buckets);
    if (!self->buckets) {
        free(self);
        return NULL;
    }
    self->mask = S_INITIAL_BUCKETS - 1;
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
    for (uint32_t i = 0; i <= self->mask; i++) {
        s_node_t *node = self->buckets[i];
        while (node) {
            s_node_t *next = node->next;
            session_destroy(&node->session);
            free(node);
            node = next;
        }
    }
    free(self->buckets);
    free(self);
    *self_p = NULL;
}

static s_node_t **s_slot(session_table_t *self, const char *call_id, uint32_t hash)
{
    s_node_t **slot = &self->buckets[hash & self->mask];
    while (*slot && ((*slot)->hash != hash ||
                     strcmp(session_call_id((*slot)->session), call_id) != 0))
        slot = &(*slot)->next;
    return slot;
}

/* Double the buckets; on failure keep the old ones (chains just get longer). */
static void s_grow(session_table_t *self)
{
    uint32_t buckets = (self->mask + 1) * 2;
    s_node_t **grown = calloc(buckets, sizeof *grown);
    if (!grown)
        return;
    for (uint32_t i = 0; i <= self->mask; i++) {
        s_node_t *node = self->buckets[i];
        while (node) {
            s_node_t *next = node->next;
            node->next = grown[node->hash & (buckets - 1)];
            grown[node->hash & (buckets - 1)] = node;
            node = next;
        }
    }
    free(self->buckets);
    self->buckets = grown;
    self->mask = buckets - 1;
}

int session_table_insert(session_table_t *self, session_t **session_p)
{
    const char *call_id = session_call_id(*session_p);
    uint32_t hash = (uint32_t)td_str_hash(call_id);
    s_node_t **slot = s_slot(self, call_id, hash);
    if (*slot)
        return -1;
    s_node_t *node = malloc(sizeof *node);
    if (!node)
        return -1;
    node->session = *session_p;
    node->hash = hash;
    node->next = NULL;
    *slot = node;
    *session_p = NULL;
    if (++self->size > self->mask + 1)
        s_grow(self);
    return 0;
}

session_t *session_table_find(session_table_t *self, const char *call_id)
{
    s_node_t *node = *s_slot(self, call_id, (uint32_t)td_str_hash(call_id));
    return node ? node->session : NULL;
}

int session_table_remove(session_table_t *self, const char *call_id)
{
    s_node_t **slot = s_slot(self, call_id, (uint32_t)td_str_hash(call_id));
    s_node_t *node = *slot;
    if (!node)
        return -1;
    *slot = node->next;
    s_node_free(self, node);
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
    for (uint32_t i = 0; i <= self->mask; i++)
        for (const s_node_t *node = self->buckets[i]; node; node = node->next)
            s_add(out, node->session);
}

void session_table_quality(const session_table_t *self, session_table_quality_t *out)
{
    *out = self->quality;
    for (uint32_t i = 0; i <= self->mask; i++)
        for (const s_node_t *node = self->buckets[i]; node; node = node->next)
            s_add_quality(out, node->session, 0);
}

const session_table_quality_t *session_table_closed_quality(const session_table_t *self)
{
    return &self->quality;
}

uint32_t session_table_sweep(session_table_t *self, session_table_fn *fn, void *arg)
{
    uint32_t removed = 0;
    for (uint32_t i = 0; i <= self->mask; i++) {
        s_node_t **slot = &self->buckets[i];
        while (*slot) {
            s_node_t *node = *slot;
            if (fn(node->session, arg)) {
                *slot = node->next;
                s_node_free(self, node);
                self->size--;
                removed++;
            } else {
                slot = &node->next;
            }
        }
    }
    return removed;
}
