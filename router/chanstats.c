/* chanstats - see chanstats.h. */
#include "chanstats.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "td_bus.h"
#include "td_log.h"
#include "td_strbuf.h"
#include "workers.h"

typedef struct s_ask s_ask_t;

struct s_ask {
    chanstats_t *owner;
    s_ask_t *next;
    uint32_t id;                /* of our MediaStatsRequest */
    uint32_t cli_id;            /* tandemctl's CliRequest */
    char peer[64];              /* tandemctl's identity */
    char waiting[32][64];       /* workers yet to answer (the first 32) */
    int nwaiting;
    td_strbuf_t rows;           /* the table so far */
    int count;                  /* rows */
    struct event *timer;
};

struct chanstats {
    struct event_base *base;    /* borrowed */
    router_t *router;           /* borrowed: owns us */
    s_ask_t *asks;
    uint32_t next_id;
};

/* chan_sip's sip_show_channelstats / show_chanstats_cb layout */
#define S_FORMAT2 "%-15.15s  %-11.11s  %-8.8s %-10.10s  %-10.10s (     %%) %-6.6s %-10.10s  " \
                  "%-10.10s (     %%) %-6.6s\n"
#define S_FORMAT  "%-15.15s  %-11.11s  %-8.8s %-10.10u%-1.1s %-10.10u (%5.2f%%) %-6.4lf " \
                  "%-10.10u%-1.1s %-10.10u (%5.2f%%) %-6.4lf\n"

#define s_add(a, ...) td_strbuf_printf(&(a)->rows, __VA_ARGS__)

chanstats_t *chanstats_new(struct event_base *base, router_t *router)
{
    chanstats_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->router = router;
    return self;
}

static void s_ask_free(s_ask_t *a)
{
    if (a->timer)
        event_free(a->timer);
    free(a->rows.buf);
    free(a);
}

void chanstats_destroy(chanstats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chanstats_t *self = *self_p;
    while (self->asks) {
        s_ask_t *a = self->asks;
        self->asks = a->next;
        s_ask_free(a);
    }
    free(self);
    *self_p = NULL;
}

int chanstats_handles(const char *command)
{
    char w[3][32];
    return sscanf(command, " %31s %31s %31s", w[0], w[1], w[2]) >= 3 &&
           !strcasecmp(w[0], "sip") && !strcasecmp(w[1], "show") &&
           !strcasecmp(w[2], "channelstats");
}

/* Counts above 100000 are shown in thousands with a K, as chan_sip. */
static unsigned s_k(uint64_t n)
{
    return (unsigned)(n > 100000 ? n / 1000 : n);
}

size_t chanstats_row(char *buf, size_t len, size_t used, const char *call_id,
                     const char *duration, const Tandem__MediaSideStats *s)
{
    char peer[64];
    snprintf(peer, sizeof peer, "%s", s->remote ? s->remote : "");
    char *colon = strrchr(peer, ':');
    if (colon)
        *colon = '\0';             /* the address only (ast_sockaddr_stringify_addr) */
    uint64_t rx = s->rx_packets, tx = s->tx_packets;
    uint64_t lost = s->lost > 0 ? (uint64_t)s->lost : 0;
    uint64_t far = s->far_valid && s->far_lost > 0 ? (uint64_t)s->far_lost : 0;
    /* Recv: what we received from the phone, our loss and jitter. Send:
     * what we sent it, the loss and jitter its RTCP reports. (Asterisk 20's
     * res_rtp_asterisk fills rxjitter from the far end's report and
     * txjitter from its own measure, the other way round from the column
     * names; we print each under the direction it measures.) Jitter in
     * seconds, as chan_sip. */
    int n = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, S_FORMAT,
                     peer, call_id, duration, s_k(rx), rx > 100000 ? "K" : " ", (unsigned)lost,
                     rx + lost ? (double)lost / (double)(rx + lost) * 100.0 : 0.0,
                     s->jitter_us / 1e6, s_k(tx), tx > 100000 ? "K" : " ", (unsigned)far,
                     tx ? (double)far / (double)tx * 100.0 : 0.0,
                     s->far_valid ? s->far_jitter_us / 1e6 : 0.0);
    return used + (n > 0 ? (size_t)n : 0);
}

static void s_reply(s_ask_t *a)
{
    chanstats_t *self = a->owner;
    for (s_ask_t **p = &self->asks; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    char head[256];
    snprintf(head, sizeof head, S_FORMAT2, "Peer", "Call ID", "Duration", "Recv: Pack", "Lost",
             "Jitter", "Send: Pack", "Lost", "Jitter");
    size_t hl = strlen(head);
    s_add(a, "%d active SIP channel%s\n", a->count, a->count == 1 ? "" : "s");
    for (int i = 0; i < a->nwaiting; i++)
        s_add(a, "(media worker %s did not answer)\n", a->waiting[i]);
    char *text = malloc(hl + a->rows.len + 1);
    Tandem__CliReply r = TANDEM__CLI_REPLY__INIT;
    r.id = a->cli_id;
    r.status = text ? 0 : 2;
    if (text) {
        memcpy(text, head, hl);
        memcpy(text + hl, a->rows.buf ? a->rows.buf : "", a->rows.len);
        text[hl + a->rows.len] = '\0';
    }
    r.text = text ? text : "out of memory\n";
    td_bus_send_cli_reply(router_bus(self->router), a->peer, "", 0, &r);
    free(text);
    s_ask_free(a);
}

static void s_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_reply(arg);
}

typedef struct {
    chanstats_t *self;
    s_ask_t *ask;
} s_send_t;

static void s_ask_worker(void *arg, const worker_ref_t *w)
{
    s_send_t *s = arg;
    if (!worker_ref_alive(w))
        return;
    Tandem__MediaStatsRequest m = TANDEM__MEDIA_STATS_REQUEST__INIT;
    m.id = s->ask->id;
    if (td_bus_send_media_stats_request(router_bus(s->self->router), worker_ref_identity(w), "", 0,
                                        &m) < 0)
        return;
    if (s->ask->nwaiting < 32)
        snprintf(s->ask->waiting[s->ask->nwaiting++], sizeof s->ask->waiting[0], "%s",
                 worker_ref_identity(w));
}

void chanstats_ask(chanstats_t *self, const char *peer, uint32_t cli_id, const char *command)
{
    (void)command;
    s_ask_t *a = calloc(1, sizeof *a);
    if (!a) {
        Tandem__CliReply r = TANDEM__CLI_REPLY__INIT;
        r.id = cli_id;
        r.status = 2;
        r.text = "out of memory\n";
        td_bus_send_cli_reply(router_bus(self->router), peer, "", 0, &r);
        return;
    }
    a->owner = self;
    a->id = ++self->next_id;
    a->cli_id = cli_id;
    snprintf(a->peer, sizeof a->peer, "%s", peer);
    a->next = self->asks;
    self->asks = a;
    s_send_t s = { self, a };
    workers_foreach(router_workers(self->router), s_ask_worker, &s);
    struct timeval tv = { CHANSTATS_WAIT_MS / 1000, (CHANSTATS_WAIT_MS % 1000) * 1000 };
    a->timer = evtimer_new(self->base, s_on_timeout, a);
    if (!a->nwaiting || !a->timer || evtimer_add(a->timer, &tv) < 0)
        s_reply(a);
}

static void s_rows(s_ask_t *a, router_t *router, const Tandem__MediaSessionStats *s)
{
    const char *id = s->call_id ? s->call_id : "";
    char dur[16] = "";
    call_t *call = router_call(router, id);
    if (call) {
        call_desc_t d;
        call_describe(call, &d);
        snprintf(dur, sizeof dur, "%02u:%02u:%02u", d.seconds / 3600, d.seconds / 60 % 60,
                 d.seconds % 60);
    }
    const Tandem__MediaSideStats *sides[2] = { s->a, s->b };
    for (int i = 0; i < 2; i++) {
        const Tandem__MediaSideStats *side = sides[i];
        if (!side || (!side->rx_packets && !side->tx_packets && !(side->remote && *side->remote)))
            continue;              /* a side no phone ever came to */
        char row[512];
        chanstats_row(row, sizeof row, 0, id, dur, side);
        s_add(a, "%s", row);
        a->count++;
    }
}

void chanstats_on_stats(chanstats_t *self, const char *worker, const Tandem__MediaStats *msg)
{
    s_ask_t *a = self->asks;
    while (a && a->id != msg->id)
        a = a->next;
    if (!a)
        return;                    /* late: its reply is gone */
    int k = 0;
    while (k < a->nwaiting && strcmp(a->waiting[k], worker) != 0)
        k++;
    if (k == a->nwaiting)
        return;                    /* answered twice */
    memmove(a->waiting[k], a->waiting[k + 1], (size_t)(a->nwaiting - k - 1) * sizeof a->waiting[0]);
    a->nwaiting--;
    for (size_t i = 0; i < msg->n_sessions; i++)
        s_rows(a, self->router, msg->sessions[i]);
    if (!a->nwaiting)
        s_reply(a);
}
