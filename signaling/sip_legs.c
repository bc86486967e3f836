/* sip_legs - see sip_legs.h.
 *
 * Leg states (one screen each way):
 *
 *   incoming (UAS)   INVITING --18x--> EARLY --200--> UP --BYE either way--> ENDED
 *                    INVITING/EARLY --final 3xx-6xx, CANCEL, BYE--> ENDED
 *   outgoing (UAC)   INVITING --1xx--> EARLY --2xx+ACK--> UP --BYE--> ENDED
 *                    INVITING/EARLY --Hangup or ring timeout: CANCEL--> CANCELLING
 *                    CANCELLING --final--> ENDED (a 2xx: ACK, then BYE)
 *                    any --3xx-6xx, timeout--> ENDED
 *
 * `router_done` says the router has let go of the leg (it sent Hangup, or we
 * did): after that nothing more about the leg goes on the bus. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "td_hash.h"
#include "td_map.h"
#include "td_str.h"
#include "sip_legs.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <osipparser2/osip_parser.h>

#include "sdp.h"
#include "sip_auth.h"
#include "sip_cause.h"
#include "sip_dialog.h"
#include "sip_msg.h"
#include "sip_refer.h"
#include "sip_state.h"
#include "td_log.h"

#define OFFER_MAX       8192           /* an offer cut for a callee (the worker's WORKER_SDP_MAX) */
#define LEG_SPACE       1536           /* inline arena: tags, URIs, a small SDP */
#define TIMER_C_MS      180000         /* RFC 3261 Timer C: > 3 minutes of ringing */

typedef enum { LEG_INVITING, LEG_EARLY, LEG_UP, LEG_CANCELLING, LEG_ENDED } leg_state_t;

static const char *const s_state_name[] = { "inviting", "early", "up", "cancelling", "ended" };

typedef struct sip_leg sip_leg_t;

/* call-limit: the calls in and out of one sip.conf section at once (chan_sip's
 * peer->inuse). One entry per section that has a limit, made the first time
 * it is counted and kept (by name, so a sip.conf reload keeps the counts). */
typedef struct s_inuse {
    td_map_node_t node;            /* in inuse, by name */
    int n;
    char name[80];
} s_inuse_t;

/* chan_sip's MAX_AUTHTRIES: challenges answered on one dialog's requests in a row. */
#define MAX_AUTHTRIES 3

struct sip_leg {
    sip_legs_t *call;
    const char *bus_id;            /* the router's call id */
    const char *router;            /* the router that owns the call (the bus's string, valid
                                    * for its life; td_bus.h): every bus message of this leg
                                    * goes there; NULL until known (s_router) */
    uint32_t no;                   /* leg number: 0 = the caller */
    int outgoing;
    leg_state_t state;
    unsigned router_done : 1;      /* no more bus messages about this leg */
    unsigned counted_up : 1;       /* incoming, answered: in stats.calls_up */
    unsigned timed_out : 1;        /* our ring timer cancelled it */
    unsigned need_ack : 1;         /* incoming: 2xx sent, its ACK not seen yet */
    unsigned bye_after_ack : 1;    /* hung up before that ACK: the BYE waits for it
                                    * (RFC 3261 15: not before the ACK or timer H) */
    unsigned linked : 1;           /* in both tables */
    unsigned reaping : 1;
    unsigned comedia : 1;          /* nat=comedia (or auto_comedia behind NAT): the worker
                                    * latches this leg's RTP (ChannelNew/Progress/Answer) */
    sip_dialog_t dlg;
    sip_txn_t *invite;             /* our IST or ICT, while it matters */
    sip_txn_t *reinvite;           /* the last re-INVITE's IST, until it is ACKed */
    uint32_t reinvite_cseq;
    sip_txn_t *reinvite_in;        /* a re-INVITE (or UPDATE) from the phone the router has
                                    * not answered */
    unsigned in_update : 1;        /* reinvite_in is an UPDATE (no ACK follows its 200) */
    unsigned nosdp_cseq_valid : 1; /* `reinvite` was a re-INVITE without SDP: its ACK has
                                    * the phone's answer */
    const char *remote_sdp;        /* the phone's last SDP on this leg */
    const char *remote_offer;      /* the offer of reinvite_in */
    sip_txn_t *reinvite_out;       /* our re-INVITE (the router's), until its final response */
    uint32_t reinvite_out_cseq;
    uint32_t ack_cseq;             /* CSeq of our last re-INVITE answered with a 2xx */
    const char *reoffer;           /* the router's offer, kept for a 491 retry */
    struct event *retry;           /* RFC 3261 14.1: re-INVITE again after a 491 */
    sip_codec_order_t allow;       /* the peer's allow= list (re-offers are cut to it) */
    uint32_t rtptimeout, rtpholdtimeout;   /* the peer's (sip.conf), for the router */
    /* RFC 4028 session timer (incoming legs whose INVITE asked for one) */
    int st_interval;               /* seconds; 0: none */
    unsigned st_us : 1;            /* we refresh (refresher=uas); else the phone does */
    unsigned st_refreshing : 1;    /* reinvite_out is our refresh, not the router's */
    unsigned st_peer : 1;          /* the phone runs timers too: our requests and 2xx carry
                                    * Session-Expires (chan_sip's st_active_peer_ua) */
    unsigned st_422 : 1;           /* outgoing: our INVITE got a 422 once already */
    int st_min;                    /* outgoing: the callee's Min-SE from its 422; 0 none */
    struct event *st_timer;
    const char *last_sdp;          /* what we last sent on this leg */
    const char *channel;
    const char *contact_user;      /* user part of our Contact on this leg */
    const char *peer;              /* outgoing: the sip.conf section called (looked up again
                                    * when it challenges us) */
    unsigned authtries;            /* outgoing: challenges to our INVITE answered (and, from
                                    * 0 again once it is answered, to our in-dialog ones) */
    sip_txn_t *bye;                /* our BYE, until its final response (a trunk may
                                    * challenge it) */
    struct event *timer;           /* outgoing: ring timeout */
    td_map_node_t bus_node, sip_node;   /* in by_bus, by_sip (while linked) */
    sip_leg_t *reap_next;
    sip_arena_t arena;
    char space[LEG_SPACE];
    /* transfer (REFER; the end of this file, sip_refer.c) */
    unsigned refer_pending : 1;    /* our Transfer waits for the router's TransferResult */
    unsigned xfer_media : 1;       /* transferee: the new call's first SDP goes out in a
                                    * re-INVITE (the dialog is up already) */
    unsigned xfer_reinvite : 1;    /* reinvite_out is that re-INVITE: its answer stays here */
    unsigned xfer_tell : 1;        /* ... and goes to the router as Reinvite(no_answer) */
    unsigned replacing : 1;        /* an INVITE with Replaces: its offer went to the router as
                                    * a re-INVITE of the leg it took over */
    uint32_t refer_cseq;           /* the REFER's CSeq: Event: refer;id= */
    const char *xfer_sdp;          /* transferee: the new session, waiting for our re-INVITE
                                    * in progress to end */
    const char *cid_num, *cid_name;    /* incoming: the caller ID of its ChannelNew */
    struct event *xfer_timer;      /* transferor: BYE if it does not hang up itself */
    s_inuse_t *inuse;              /* counted against its section's call-limit until it ends */
    /* the cluster store (sip_state.h) */
    unsigned stored : 1;           /* dlg:<bus_id>:<no> is written: delete it at the end */
    unsigned restored : 1;         /* read back at start */
    sip_tp_t tp;                   /* the transport its INVITE came in or went out on */
};

/* A Hangup kept for the router (cluster mode). */
typedef struct {
    char bus_id[96];
    uint32_t leg, cause, sip_code;
} s_unsent_t;

struct sip_legs {
    sip_legs_env_t env;
    s_unsent_t *unsent;            /* a ring of SIP_LEGS_UNSENT_MAX, allocated on first use */
    size_t unsent_head, nunsent;
    td_map_t by_bus;               /* sip_leg_t by (bus call id, leg number) */
    td_map_t by_sip;               /* sip_leg_t by (Call-ID, local tag) */
    sip_leg_t *reap_list;
    struct event *reaper;
    long start;                    /* process start time, in call ids */
    unsigned counter;              /* call ids */
    unsigned channels;             /* channel name suffixes */
    sip_legs_stats_t stats;
    td_map_t inuse;                /* s_inuse_t by section name */
};

/* ---- tables ---------------------------------------------------------------- */

typedef struct {
    const char *call_id;
    uint32_t no;
} s_bus_key_t;

typedef struct {
    const char *call_id, *tag;
} s_sip_key_t;

static uint64_t s_bus_hash(const char *call_id, uint32_t leg)
{
    td_hash_t h;
    td_hash_begin(&h);
    td_hash_add(&h, &leg, sizeof leg);
    td_hash_add_str(&h, call_id);
    return td_hash_end(&h);
}

static uint64_t s_sip_hash(const char *call_id, const char *tag)
{
    td_hash_t h;
    td_hash_begin(&h);
    td_hash_add_str(&h, call_id);
    td_hash_add(&h, "", 1);                /* the NUL between them */
    td_hash_add_str(&h, tag);
    return td_hash_end(&h);
}

static int s_bus_eq(const td_map_node_t *n, const void *key)
{
    const sip_leg_t *l = TD_MAP_ENTRY(n, sip_leg_t, bus_node);
    const s_bus_key_t *k = key;
    return l->no == k->no && strcmp(l->bus_id, k->call_id) == 0;
}

static int s_sip_eq(const td_map_node_t *n, const void *key)
{
    const sip_leg_t *l = TD_MAP_ENTRY(n, sip_leg_t, sip_node);
    const s_sip_key_t *k = key;
    return strcmp(l->dlg.local_tag, k->tag) == 0 && strcmp(l->dlg.call_id, k->call_id) == 0;
}

static void s_link(sip_leg_t *leg)
{
    sip_legs_t *self = leg->call;
    td_map_insert(&self->by_bus, &leg->bus_node, s_bus_hash(leg->bus_id, leg->no));
    td_map_insert(&self->by_sip, &leg->sip_node, s_sip_hash(leg->dlg.call_id, leg->dlg.local_tag));
    leg->linked = 1;
    ++self->stats.legs;
}

static void s_unlink(sip_leg_t *leg)
{
    sip_legs_t *self = leg->call;
    if (!leg->linked)
        return;
    td_map_remove(&self->by_bus, &leg->bus_node);
    td_map_remove(&self->by_sip, &leg->sip_node);
    leg->linked = 0;
    self->stats.legs--;
}

static sip_leg_t *s_find_bus(sip_legs_t *self, const char *call_id, uint32_t no)
{
    s_bus_key_t k = { call_id, no };
    td_map_node_t *n = td_map_find(&self->by_bus, s_bus_hash(call_id, no), &k);
    return n ? TD_MAP_ENTRY(n, sip_leg_t, bus_node) : NULL;
}

/* Router `peer` owns the leg's call from now on: the bus's copy of its
 * name, or one in the leg's arena if the bus does not know it (no
 * allocation when the owner does not change). */
static void s_set_router(sip_leg_t *leg, const char *peer)
{
    if (!peer || !*peer || (leg->router && strcmp(leg->router, peer) == 0))
        return;
    const char *name = td_bus_peer_name(leg->call->env.bus, peer);
    if (!name)
        name = sip_arena_strdup(&leg->arena, peer);
    if (name)
        leg->router = name;
}

/* The leg a router's message is about; that router owns its call from now
 * on (an adopting router speaks for a call it took over). */
static sip_leg_t *s_find_hdr(sip_legs_t *self, const td_bus_hdr_t *hdr)
{
    sip_leg_t *leg = s_find_bus(self, hdr->call_id, hdr->leg);
    if (leg)
        s_set_router(leg, hdr->peer);
    return leg;
}

/* Where this leg's bus messages go: the router that owns its call. A new
 * call's owner, and the owner again once the old one is declared dead, is
 * the live router that rendezvous hashing picks for the call id
 * (td_bus_pick_router): every signaling node picks the same, and with one
 * router it is that one. With none alive the old owner stays (the send
 * fails as it always did). */
static const char *s_router(sip_leg_t *leg)
{
    td_bus_t *bus = leg->call->env.bus;
    if (leg->router && td_bus_peer_alive(bus, leg->router))
        return leg->router;
    const char *owner = td_bus_pick_router(bus, leg->bus_id);
    if (owner && leg->router && strcmp(owner, leg->router) != 0)
        td_log(LOG_NOTICE, "%s: router %s is down: the call goes to %s",
               leg->channel ? leg->channel : leg->bus_id, leg->router, owner);
    if (owner)
        leg->router = owner;
    return leg->router;
}

static sip_leg_t *s_find_sip(sip_legs_t *self, const char *call_id, const char *tag)
{
    if (!call_id || !tag)
        return NULL;
    s_sip_key_t k = { call_id, tag };
    td_map_node_t *n = td_map_find(&self->by_sip, s_sip_hash(call_id, tag), &k);
    return n ? TD_MAP_ENTRY(n, sip_leg_t, sip_node) : NULL;
}

/* ---- leg life cycle -------------------------------------------------------- */

static void s_on_ring_timeout(evutil_socket_t fd, short what, void *arg);
static void s_reinvite_response(sip_leg_t *leg, osip_message_t *resp);
static void s_reinvite_result(sip_leg_t *leg, unsigned status, const char *sdp);
static void s_st_headers(const sip_leg_t *leg, osip_message_t *r);
static void s_st_arm(sip_leg_t *leg);
static void s_xfer_media(sip_leg_t *leg, const char *sdp);
static int s_xfer_answered(sip_leg_t *leg, osip_message_t *resp);
static void s_on_refer(sip_leg_t *leg, sip_txn_t *txn, osip_message_t *req);
static int s_replaces(sip_leg_t *leg, sip_txn_t *txn, osip_message_t *invite);

static sip_leg_t *s_leg_new(sip_legs_t *self, int outgoing)
{
    sip_leg_t *leg = calloc(1, sizeof *leg);
    if (!leg)
        return NULL;
    leg->call = self;
    leg->outgoing = outgoing;
    leg->state = LEG_INVITING;
    sip_arena_init(&leg->arena, leg->space, sizeof leg->space);
    if (outgoing) {
        leg->timer = event_new(self->env.base, -1, 0, s_on_ring_timeout, leg);
        if (!leg->timer) {
            free(leg);
            return NULL;
        }
    }
    return leg;
}

static void s_inuse_give(sip_leg_t *leg);

static void s_leg_free(sip_leg_t *leg)
{
    s_inuse_give(leg);
    if (leg->invite)
        sip_txn_set_owner(leg->invite, NULL);
    if (leg->reinvite)
        sip_txn_set_owner(leg->reinvite, NULL);
    if (leg->reinvite_in)
        sip_txn_set_owner(leg->reinvite_in, NULL);
    if (leg->reinvite_out)
        sip_txn_set_owner(leg->reinvite_out, NULL);
    if (leg->bye)
        sip_txn_set_owner(leg->bye, NULL);
    if (leg->timer)
        event_free(leg->timer);
    if (leg->retry)
        event_free(leg->retry);
    if (leg->st_timer)
        event_free(leg->st_timer);
    if (leg->xfer_timer)
        event_free(leg->xfer_timer);
    sip_arena_release(&leg->arena);
    free(leg);
}

static void s_detach(sip_txn_t **txn)
{
    if (*txn)
        sip_txn_set_owner(*txn, NULL);
    *txn = NULL;
}

/* Free the leg later if it is over and no transaction needs it. */
static void s_maybe_reap(sip_leg_t *leg)
{
    if (leg->state != LEG_ENDED || leg->invite || leg->reinvite || leg->reinvite_in
        || leg->reinvite_out || leg->bye || leg->reaping)
        return;
    sip_legs_t *self = leg->call;
    s_unlink(leg);
    leg->reaping = 1;
    leg->reap_next = self->reap_list;
    self->reap_list = leg;
    event_active(self->reaper, EV_TIMEOUT, 0);
}

static void s_on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sip_legs_t *self = arg;
    sip_leg_t *leg = self->reap_list;
    self->reap_list = NULL;
    while (leg) {
        sip_leg_t *next = leg->reap_next;
        s_leg_free(leg);
        leg = next;
    }
}

static void s_keep_hangup(sip_legs_t *self, const char *bus_id, uint32_t no, unsigned cause,
                          unsigned sip_code);

static void s_send_hangup(sip_leg_t *leg, unsigned cause, unsigned sip_code)
{
    if (leg->router_done)
        return;
    leg->router_done = 1;
    Tandem__Hangup h = TANDEM__HANGUP__INIT;
    h.cause = cause;
    h.sip_code = sip_code;
    leg->call->stats.hangups_out++;
    if (td_bus_send_hangup(leg->call->env.bus, s_router(leg), leg->bus_id, leg->no, &h) < 0
        && leg->call->env.cluster)
        s_keep_hangup(leg->call, leg->bus_id, leg->no, cause, sip_code);
}

/* Cluster mode: no router heard the Hangup; keep it for the next one. */
static void s_keep_hangup(sip_legs_t *self, const char *bus_id, uint32_t no, unsigned cause,
                          unsigned sip_code)
{
    if (strlen(bus_id) >= sizeof self->unsent[0].bus_id)
        return;
    if (!self->unsent) {
        self->unsent = calloc(SIP_LEGS_UNSENT_MAX, sizeof *self->unsent);
        if (!self->unsent)
            return;
    }
    if (self->nunsent == SIP_LEGS_UNSENT_MAX) {
        td_log_limited(LOG_WARNING, 1, "%d Hangups kept for the router: the oldest dropped",
                       SIP_LEGS_UNSENT_MAX);
        self->unsent_head = (self->unsent_head + 1) % SIP_LEGS_UNSENT_MAX;
        self->nunsent--;
    }
    s_unsent_t *u = &self->unsent[(self->unsent_head + self->nunsent++) % SIP_LEGS_UNSENT_MAX];
    snprintf(u->bus_id, sizeof u->bus_id, "%s", bus_id);
    u->leg = no;
    u->cause = cause;
    u->sip_code = sip_code;
    td_log(LOG_NOTICE, "no router to tell leg %u is gone: kept until one is up", no);
}

size_t sip_legs_resend_hangups(sip_legs_t *self)
{
    size_t sent = 0;
    while (self->nunsent) {
        s_unsent_t *u = &self->unsent[self->unsent_head];
        Tandem__Hangup h = TANDEM__HANGUP__INIT;
        h.cause = u->cause;
        h.sip_code = u->sip_code;
        /* The call's owner among the live routers, the one that adopts it
         * (NULL: any live one; none: the send fails). */
        const char *router = td_bus_pick_router(self->env.bus, u->bus_id);
        td_log_set_context(u->bus_id);
        int rc = td_bus_send_hangup(self->env.bus, router, u->bus_id, u->leg, &h);
        td_log_set_context(NULL);
        if (rc < 0)
            break;              /* kept for the next router up */
        self->unsent_head = (self->unsent_head + 1) % SIP_LEGS_UNSENT_MAX;
        self->nunsent--;
        sent++;
    }
    if (sent)
        td_log(LOG_NOTICE, "%zu Hangup(s) kept while no router was up sent now", sent);
    return sent;
}

/* ---- the cluster store (sip_state.h) ------------------------------------------ */

static int s_store_key(const sip_leg_t *leg, char *key, size_t len)
{
    int w = snprintf(key, len, "dlg:%s:%u", leg->bus_id, leg->no);
    return w > 0 && (size_t)w < len ? 0 : -1;
}

/* The SDPs, which a re-INVITE without SDP from the phone needs (our last
 * one) and a later ACK compares with (theirs); left out when too big. */
static void s_store_sdps(const sip_leg_t *leg, sip_state_hash_t *h)
{
    sip_state_hash_add_opt(h, "last_sdp", leg->last_sdp);
    sip_state_hash_add_opt(h, "remote_sdp", leg->remote_sdp);
}

/* Write the whole dlg: hash of a confirmed leg (one MULTI: DEL, HSET,
 * EXPIRE). Its fields are what sip_legs_restore reads back. */
static void s_store_put(sip_leg_t *leg)
{
    sip_legs_t *self = leg->call;
    char key[300];
    if (!self->env.store || !leg->bus_id || s_store_key(leg, key, sizeof key) != 0)
        return;
    sip_state_hash_t h;
    sip_state_hash_init(&h);
    sip_state_hash_add(&h, "node", self->env.identity);
    sip_state_hash_add(&h, "router", leg->router ? leg->router : "");
    sip_state_hash_add(&h, "call", leg->bus_id);
    sip_state_hash_addf(&h, "leg", "%u", leg->no);
    sip_state_hash_add(&h, "outgoing", leg->outgoing ? "1" : "0");
    sip_state_hash_add(&h, "channel", leg->channel);
    sip_state_hash_add(&h, "peer", leg->peer);
    sip_state_hash_add(&h, "contact_user", leg->contact_user);
    sip_state_hash_add(&h, "transport", sip_transport_param(leg->tp));
    sip_state_hash_add(&h, "comedia", leg->comedia ? "1" : "0");
    sip_state_hash_addf(&h, "allow", "%u", leg->allow.n > 0 ? leg->allow.pt[0] : 255u);
    sip_state_hash_addf(&h, "allow2", "%u", leg->allow.n > 1 ? leg->allow.pt[1] : 255u);
    sip_state_hash_addf(&h, "rtptimeout", "%u", leg->rtptimeout);
    sip_state_hash_addf(&h, "rtpholdtimeout", "%u", leg->rtpholdtimeout);
    sip_state_hash_add(&h, "cid_num", leg->cid_num);
    sip_state_hash_add(&h, "cid_name", leg->cid_name);
    sip_state_hash_addf(&h, "st_interval", "%d", leg->st_interval);
    sip_state_hash_addf(&h, "st_flags", "%u", (leg->st_us ? 1u : 0u) | (leg->st_peer ? 2u : 0u));
    sip_dialog_save(&leg->dlg, &h);
    s_store_sdps(leg, &h);
    if (h.overflow) {
        td_log(LOG_WARNING, "%s: dialog too large for the cluster store: not kept", leg->channel);
        return;
    }
    td_store_hset(self->env.store, key, SIP_STATE_DLG_TTL, h.n, h.fields, h.values);
    leg->stored = 1;
}

/* A stored leg's CSeqs, remote target and SDPs changed (a re-INVITE either
 * way, a target refresh): those fields only. Requests that change nothing
 * (a BYE ends the leg anyway, INFO, OPTIONS) write nothing. */
static void s_store_update(sip_leg_t *leg)
{
    char key[300];
    if (!leg->stored || !leg->call->env.store || s_store_key(leg, key, sizeof key) != 0)
        return;
    sip_state_hash_t h;
    sip_state_hash_init(&h);
    sip_dialog_save_changes(&leg->dlg, &h);
    s_store_sdps(leg, &h);
    if (!h.overflow)
        td_store_hupdate(leg->call->env.store, key, h.n, h.fields, h.values);
}

static void s_store_del(sip_leg_t *leg)
{
    char key[300];
    if (!leg->stored)
        return;
    leg->stored = 0;
    if (leg->call->env.store && s_store_key(leg, key, sizeof key) == 0)
        td_store_del(leg->call->env.store, key);
}

/* ---- call-limit ------------------------------------------------------------- */

static int s_inuse_eq(const td_map_node_t *n, const void *key)
{
    return strcmp(TD_MAP_ENTRY(n, s_inuse_t, node)->name, key) == 0;
}

static s_inuse_t *s_inuse_find(sip_legs_t *self, const char *name, int make)
{
    uint64_t h = td_hash_str(name);
    td_map_node_t *n = td_map_find(&self->inuse, h, name);
    if (n)
        return TD_MAP_ENTRY(n, s_inuse_t, node);
    if (!make)
        return NULL;
    s_inuse_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    snprintf(e->name, sizeof e->name, "%s", name);
    td_map_insert(&self->inuse, &e->node, h);
    return e;
}

/* chan_sip's update_call_counter(INC_CALL_LIMIT / INC_CALL_RINGING): a peer
 * with call-limit=N takes no (N+1)th call, in or out. 0 counted (or no limit),
 * -1 at the limit. */
static int s_inuse_take(sip_legs_t *self, sip_leg_t *leg, const sip_peer_t *peer)
{
    if (!peer || peer->call_limit <= 0)
        return 0;
    s_inuse_t *e = s_inuse_find(self, peer->name, 1);
    if (!e)
        return 0;
    if (e->n >= peer->call_limit) {
        td_log(LOG_NOTICE, "Call %s peer '%s' rejected due to usage limit of %d",
               leg && leg->outgoing ? "to" : "from", peer->name, peer->call_limit);
        return -1;
    }
    if (leg) {
        e->n++;
        leg->inuse = e;
    }
    return 0;
}

static void s_inuse_give(sip_leg_t *leg)
{
    if (leg->inuse && leg->inuse->n > 0)
        leg->inuse->n--;
    leg->inuse = NULL;
}

int sip_legs_inuse(sip_legs_t *self, const char *peer)
{
    const s_inuse_t *e = s_inuse_find(self, peer, 0);
    return e ? e->n : 0;
}

/* The dialog is over: tell the router (unless it already knows), stop the
 * timer, let go of transactions that no longer matter, and reap. */
static void s_store_del(sip_leg_t *leg);

static void s_end(sip_leg_t *leg, int tell_router, unsigned cause, unsigned sip_code)
{
    s_inuse_give(leg);
    s_store_del(leg);
    if (tell_router)
        s_send_hangup(leg, cause, sip_code);
    leg->router_done = 1;
    if (leg->state != LEG_ENDED && !leg->outgoing)
        leg->call->stats.calls--;
    if (leg->counted_up) {
        leg->counted_up = 0;
        leg->call->stats.calls_up--;
    }
    leg->state = LEG_ENDED;
    if (leg->timer)
        event_del(leg->timer);
    if (leg->retry)
        event_del(leg->retry);
    if (leg->st_timer)
        event_del(leg->st_timer);
    if (leg->xfer_timer)
        event_del(leg->xfer_timer);
    if (leg->reinvite_in)
        sip_msg_reply(leg->reinvite_in, 487, leg->dlg.local_tag, NULL, NULL, NULL);
    s_detach(&leg->reinvite_in);
    s_detach(&leg->reinvite_out);
    if (!leg->need_ack || leg->outgoing)
        s_detach(&leg->invite);
    s_detach(&leg->reinvite);
    s_maybe_reap(leg);
}

static void s_send_bye(sip_leg_t *leg)
{
    osip_message_t *bye = sip_dialog_request(&leg->dlg, "BYE", ++leg->dlg.local_cseq);
    /* An outgoing leg keeps its BYE: a trunk may challenge it (s_indialog_auth). */
    sip_txn_t *t = bye ? sip_txn_request(leg->call->env.layer, &bye, &leg->dlg.peer,
                                         leg->outgoing ? leg : NULL) : NULL;
    if (!t) {
        if (bye)
            osip_message_free(bye);
        td_log(LOG_WARNING, "%s: cannot send BYE", leg->channel);
        return;
    }
    td_log(LOG_DEBUG, "%s: BYE sent", leg->channel);
    if (leg->outgoing) {
        s_detach(&leg->bye);
        leg->bye = t;
    }
}

/* ACK the 2xx to our INVITE with CSeq cseq (0: the dialog's first). */
static void s_send_ack(sip_leg_t *leg, uint32_t cseq)
{
    osip_message_t *ack = sip_dialog_request(&leg->dlg, "ACK", cseq ? cseq : leg->dlg.invite_cseq);
    if (!ack || sip_txn_layer_send(leg->call->env.layer, ack, &leg->dlg.peer) != 0)
        td_log(LOG_WARNING, "%s: cannot send ACK", leg->channel);
    if (ack)
        osip_message_free(ack);
}

/* Our address toward the leg's peer. */
static void s_local(sip_leg_t *leg, struct sockaddr_in *out)
{
    leg->call->env.local_addr(leg->call->env.arg, &leg->dlg.peer, out);
}

/* Set sdp as m's body as the leg's peer must see it (externaddr, sip_extern). */
static int s_set_sdp(sip_leg_t *leg, osip_message_t *m, const char *sdp)
{
    const sip_legs_env_t *env = &leg->call->env;
    if (env->sdp_for && sdp && *sdp)
        sdp = env->sdp_for(env->arg, &leg->dlg.peer, sdp);
    return sip_msg_set_sdp(m, sdp);
}

/* Log lines name the SIP Call-ID the way the transaction layer does (without
 * "@host"); bus handlers keep the router's call id instead. */
static void s_context(sip_leg_t *leg)
{
    char id[128];
    const char *at = strchr(leg->dlg.call_id, '@');
    size_t n = at ? (size_t)(at - leg->dlg.call_id) : strlen(leg->dlg.call_id);
    snprintf(id, sizeof id, "%.*s", (int)(n < sizeof id ? n : sizeof id - 1), leg->dlg.call_id);
    td_log_set_context(id);
}

/* ---- the class ------------------------------------------------------------- */

void sip_legs_set_conf(sip_legs_t *self, const sip_conf_t *conf)
{
    self->env.conf = conf;
}

sip_legs_t *sip_legs_new(const sip_legs_env_t *env)
{
    sip_legs_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->env = *env;
    int maps_ok = td_map_init(&self->by_bus, 1024, s_bus_eq) == 0;
    maps_ok &= td_map_init(&self->by_sip, 1024, s_sip_eq) == 0;
    maps_ok &= td_map_init(&self->inuse, 64, s_inuse_eq) == 0;
    self->reaper = event_new(env->base, -1, 0, s_on_reap, self);
    self->start = (long)time(NULL);
    if (!maps_ok || !self->reaper) {
        sip_legs_destroy(&self);
        return NULL;
    }
    return self;
}

void sip_legs_destroy(sip_legs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_legs_t *self = *self_p;
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->by_bus, &cur), *next; n; n = next) {
        next = td_map_next(&self->by_bus, n, &cur);
        sip_leg_t *leg = TD_MAP_ENTRY(n, sip_leg_t, bus_node);
        s_unlink(leg);
        s_leg_free(leg);
    }
    s_on_reap(-1, 0, self);
    if (self->reaper)
        event_free(self->reaper);
    td_map_fini(&self->by_bus);
    td_map_fini(&self->by_sip);
    free(self->unsent);
    for (td_map_node_t *n = td_map_first(&self->inuse, &cur), *next; n; n = next) {
        next = td_map_next(&self->inuse, n, &cur);
        free(TD_MAP_ENTRY(n, s_inuse_t, node));
    }
    td_map_fini(&self->inuse);
    free(self);
    *self_p = NULL;
}

void sip_legs_stats(const sip_legs_t *self, sip_legs_stats_t *out)
{
    *out = self->stats;
}

int sip_legs_sdp_capped(sip_legs_t *self, size_t len, const char *what)
{
    size_t max = self->env.max_sdp ? self->env.max_sdp : 16384;
    if (len <= max)
        return 0;
    self->stats.sdp_capped++;
    td_log_every(LOG_WARNING, 60, "an SDP of %zu bytes (max_sdp=%zu) in %s: not taken (%lu "
                 "so far)", len, max, what, self->stats.sdp_capped);
    return 1;
}

/* m's body, or NULL (len 0) when it has none or it is over max_sdp. */
static const char *s_body(sip_leg_t *leg, const osip_message_t *m, size_t *len)
{
    const char *body = sip_msg_body(m, len);
    char what[160];
    if (body && *len > (leg->call->env.max_sdp ? leg->call->env.max_sdp : 16384)) {
        if (m->status_code)
            snprintf(what, sizeof what, "a %d on %s", m->status_code,
                     leg->channel ? leg->channel : "?");
        else
            snprintf(what, sizeof what, "an %s on %s", m->sip_method ? m->sip_method : "?",
                     leg->channel ? leg->channel : "?");
        sip_legs_sdp_capped(leg->call, *len, what);
        *len = 0;
        return NULL;
    }
    return body;
}

/* ---- incoming calls -------------------------------------------------------- */

/* A display name or user without the characters that would break a quoted
 * string, into buf. */
static char *s_clean(const char *in, char *buf, size_t len)
{
    size_t n = 0;
    for (; in && *in && n + 1 < len; in++)
        if (*in != '"' && *in != '\\' && *in != '\r' && *in != '\n')
            buf[n++] = *in;
    buf[n] = '\0';
    return buf;
}

static void s_unescape_user(const char *user, char *buf, size_t len)
{
    snprintf(buf, len, "%s", user ? user : "");
    __osip_uri_unescape(buf);
}

/* ---- session timers (RFC 4028; chan_sip's session-timers=accept) ---------- */

/* Does the comma-separated list hdr have token tok? */
static int s_has_token(const char *hdr, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = hdr; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        if ((size_t)(e - p) == n && strncasecmp(p, tok, n) == 0)
            return 1;
        p = e;
    }
    return 0;
}

/* "<seconds>[;refresher=uac|uas][;...]": the seconds, *uac 1/0/-1 (absent). */
static long s_st_parse(const char *v, int *uac)
{
    char *end;
    *uac = -1;
    while (*v == ' ')
        v++;
    if (*v < '0' || *v > '9')
        return -1;
    long n = strtol(v, &end, 10);
    if (n <= 0 || n > 86400 * 7)
        return -1;
    const char *r = strcasestr(end, "refresher=");
    if (r) {
        r += 10;
        *uac = strncasecmp(r, "uac", 3) == 0 ? 1 : strncasecmp(r, "uas", 3) == 0 ? 0 : -1;
    }
    return n;
}

/* The caller's INVITE asks for a session timer (Supported: timer and maybe
 * Session-Expires / Min-SE): take the interval and the refresher as chan_sip's
 * handle_request_invite_st does in accept mode. 0 (with or without a timer),
 * -1: Session-Expires below our Min-SE (422), -2: a malformed header (400). */
static int s_st_incoming(sip_leg_t *leg, const osip_message_t *inv, const sip_general_t *g)
{
    const char *sup = sip_msg_header(inv, "supported");
    if (!g->session_timers || !(s_has_token(sup, "timer")
                                || s_has_token(sip_msg_header(inv, "k"), "timer")))
        return 0;
    const char *se = sip_msg_header(inv, "session-expires");
    if (!se)
        se = sip_msg_header(inv, "x");
    const char *mse = sip_msg_header(inv, "min-se");
    long uac_se = -1, uac_min = -1;
    int uac = -1, ignored;
    if (se && (uac_se = s_st_parse(se, &uac)) < 0)
        return -2;
    if (mse && (uac_min = s_st_parse(mse, &ignored)) < 0)
        return -2;
    if (uac_se > 0 && uac_se < g->session_minse)
        return -1;
    long max_se = g->session_expires, interval;
    if (uac_se > 0)
        interval = max_se >= uac_min ? (uac_se < max_se ? uac_se : max_se) : uac_se;
    else if (uac_min > 0)
        interval = uac_min > max_se ? uac_min : max_se;
    else
        interval = max_se;
    leg->st_interval = (int)interval;
    leg->st_peer = 1;
    /* unsaid: session-refresher= decides (uas, chan_sip's default: us) */
    leg->st_us = uac == 1 ? 0 : uac == 0 ? 1 : g->session_refresher_uas != 0;
    return 0;
}

/* An INVITE to a callee (chan_sip's transmit_invite): Supported: timer
 * unless session-timers=refuse; with originate, Session-Expires (ours, no
 * refresher: the callee chooses) and Min-SE; with accept, Min-SE only when
 * it is not the default 90. */
static void s_st_offer(const sip_leg_t *leg, osip_message_t *inv, const sip_general_t *g)
{
    char v[16];
    if (!g->session_timers)
        return;
    int minse = leg->st_min > g->session_minse ? leg->st_min : g->session_minse;
    int se = minse > g->session_expires ? minse : g->session_expires;
    osip_message_set_header(inv, "Supported", "timer");
    if (g->session_timers == 2) {
        snprintf(v, sizeof v, "%d", se);
        osip_message_set_header(inv, "Session-Expires", v);
    }
    if (g->session_timers == 2 || minse != 90) {
        snprintf(v, sizeof v, "%d", minse);
        osip_message_set_header(inv, "Min-SE", v);
    }
}

/* The callee's 2xx (chan_sip's handle_response_invite): a Session-Expires
 * starts the timer with its interval and refresher (uac: us); none, under
 * originate, makes us the refresher with our interval toward a callee that
 * knows nothing of timers (our refreshes then carry no timer headers).
 * Returns -1 when the interval is below our Min-SE or unreadable (chan_sip
 * then hangs up), else 0. */
static int s_st_answered(sip_leg_t *leg, const osip_message_t *resp, const sip_general_t *g)
{
    if (!g->session_timers)
        return 0;
    const char *se = sip_msg_header(resp, "session-expires");
    if (!se)
        se = sip_msg_header(resp, "x");
    if (!se) {
        if (g->session_timers == 2) {
            leg->st_interval = g->session_expires;
            leg->st_us = 1;
            leg->st_peer = 0;
        }
        return 0;
    }
    int uac;
    long n = s_st_parse(se, &uac);
    if (n < 0 || n < g->session_minse)
        return -1;
    leg->st_interval = (int)n;
    leg->st_us = uac != 0;                  /* uac (or unsaid: chan_sip warns) is us */
    leg->st_peer = 1;
    return 0;
}

/* Require: timer and Session-Expires on a 2xx to an INVITE or UPDATE. */
static void s_st_headers(const sip_leg_t *leg, osip_message_t *r)
{
    if (!leg->st_interval || !leg->st_peer)
        return;
    char v[48];
    snprintf(v, sizeof v, "%d;refresher=%s", leg->st_interval, leg->st_us ? "uas" : "uac");
    osip_message_set_header(r, "Require", "timer");
    osip_message_set_header(r, "Session-Expires", v);
}

static void s_on_st(evutil_socket_t fd, short what, void *arg);

/* (Re)start the session timer: half the interval when we refresh; else the
 * interval less min(32 s, a third) (RFC 4028 section 10), then BYE. */
static void s_st_arm(sip_leg_t *leg)
{
    if (!leg->st_interval || leg->state != LEG_UP)
        return;
    if (!leg->st_timer)
        leg->st_timer = evtimer_new(leg->call->env.base, s_on_st, leg);
    if (!leg->st_timer)
        return;
    long ms = leg->st_interval * 1000L;
    if (leg->st_us)
        ms /= 2;
    else
        ms -= ms / 3 < 32000 ? ms / 3 : 32000;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(leg->st_timer, &tv);
}

static int s_send_reinvite(sip_leg_t *leg, sip_auth_remote_t *ch);
static int s_creds(sip_leg_t *leg, const char **user, const char **secret);

static void s_on_st(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sip_leg_t *leg = arg;
    if (leg->state != LEG_UP)
        return;
    s_context(leg);
    if (!leg->st_us) {
        td_log(LOG_WARNING, "%s: session timer expired (no refresh in %d s): BYE", leg->channel,
               leg->st_interval);
        s_send_bye(leg);
        s_end(leg, 1, SIP_CAUSE_NORMAL_CLEARING, 0);
        td_log_set_context(NULL);
        return;
    }
    s_st_arm(leg);
    if (leg->reinvite_out || leg->reinvite_in || !leg->last_sdp
        || (leg->retry && evtimer_pending(leg->retry, NULL))) {
        td_log_set_context(NULL);
        return;                             /* an offer in progress refreshes it anyway */
    }
    leg->reoffer = leg->last_sdp;           /* unchanged: the same o= version */
    leg->st_refreshing = 1;
    if (s_send_reinvite(leg, NULL) != 0) {
        leg->st_refreshing = 0;
        td_log(LOG_WARNING, "%s: cannot send the session refresh", leg->channel);
    } else
        td_log(LOG_INFO, "%s: session refresh (re-INVITE)", leg->channel);
    td_log_set_context(NULL);
}

void sip_legs_incoming(sip_legs_t *self, sip_txn_t *txn, osip_message_t *invite,
                       const struct sockaddr_in *from, const sip_peer_t *peer)
{
    const sip_general_t *g = sip_conf_general(self->env.conf);
    if (s_inuse_take(self, NULL, peer) < 0) {
        /* handle_request_invite: "Failed to place call for device %s, too many calls" */
        char tag0[SIP_MSG_TOKEN_LEN + 1];
        osip_message_t *r = sip_txn_make_response(txn, 480, sip_msg_token(tag0, sizeof tag0));
        if (r) {
            /* osip_message_set_reason_phrase does not free the standard one */
            osip_free(r->reason_phrase);
            r->reason_phrase = osip_strdup("Temporarily Unavailable (Call limit)");
            sip_txn_respond(txn, &r);
        }
        return;
    }
    sip_leg_t *leg = s_leg_new(self, 0);
    char tag[SIP_MSG_TOKEN_LEN + 1], id[128], name[96], num[96], exten[96], src[32], chan[160];
    if (!leg) {
        sip_msg_reply(txn, 500, NULL, "out of memory", NULL, NULL);
        return;
    }
    s_inuse_take(self, leg, peer);
    sip_msg_token(tag, sizeof tag);
    struct sockaddr_in target;
    osip_contact_t *contact = osip_list_get(&invite->contacts, 0);
    int natted = sip_msg_target(invite, contact ? contact->url : NULL, from,
                                peer ? peer->nat : sip_conf_general(self->env.conf)->nat,
                                &target);
    if (sip_dialog_uas(&leg->dlg, &leg->arena, invite, tag, &target) != 0) {
        sip_msg_reply(txn, 500, tag, "cannot hold the dialog", NULL, NULL);
        s_leg_free(leg);
        return;
    }
    if (natted) {                 /* chan_sip: force_rport sends to the source, routes or not */
        leg->dlg.pinned = 1;
        leg->dlg.peer = target;
    }
    sip_comedia_t comedia = peer ? peer->comedia : g->comedia;
    leg->comedia = comedia == SIP_COMEDIA_YES
                || (comedia == SIP_COMEDIA_AUTO && sip_msg_behind_nat(invite, from));
    int st = s_st_incoming(leg, invite, g);
    if (st < 0) {
        char minse[16];
        snprintf(minse, sizeof minse, "%d", g->session_minse);
        if (st == -1)
            sip_msg_reply(txn, 422, tag, "Session Interval Too Small", "Min-SE", minse);
        else
            sip_msg_reply(txn, 400, tag, "Session-Expires Invalid Syntax", NULL, NULL);
        s_leg_free(leg);
        return;
    }
    snprintf(id, sizeof id, "%s-%lx-%x", self->env.identity, self->start, ++self->counter);
    leg->bus_id = sip_arena_strdup(&leg->arena, id);
    leg->no = 0;
    sip_msg_addr(from, src, sizeof src);
    if (peer)
        snprintf(chan, sizeof chan, "SIP/%s-%08x", peer->name, ++self->channels);
    else
        snprintf(chan, sizeof chan, "SIP/%s-%08x", inet_ntoa(from->sin_addr), ++self->channels);
    leg->channel = sip_arena_strdup(&leg->arena, chan);

    osip_uri_t *fu = invite->from ? invite->from->url : NULL;
    char dn[96];
    snprintf(dn, sizeof dn, "%s", invite->from && invite->from->displayname
                                  ? invite->from->displayname : "");
    size_t dl = strlen(dn);
    if (dl >= 2 && dn[0] == '"' && dn[dl - 1] == '"') {
        memmove(dn, dn + 1, dl - 2);
        dn[dl - 2] = '\0';
    }
    /* chan_sip: check_user_full takes the caller ID from the From header
     * (display name, user); check_peer_ok then puts the matched peer's
     * callerid= number and name over it, each only when set (trustrpid,
     * which would let Remote-Party-ID/P-Asserted-Identity win, is not read).
     * A guest keeps the From's. The context is the peer's, else [general]'s. */
    if (peer && peer->cid_num[0]) {
        s_clean(peer->cid_num, num, sizeof num);
        s_clean(peer->cid_name[0] ? peer->cid_name : dn, name, sizeof name);
    } else {
        s_unescape_user(fu ? fu->username : NULL, num, sizeof num);
        s_clean(peer && peer->cid_name[0] ? peer->cid_name : dn, name, sizeof name);
    }
    s_unescape_user(invite->req_uri ? invite->req_uri->username : NULL, exten, sizeof exten);
    if (!exten[0])
        strcpy(exten, "s");                 /* as chan_sip: no user part -> "s" */
    leg->contact_user = sip_arena_strdup(&leg->arena, exten);
    leg->cid_num = sip_arena_strdup(&leg->arena, num);
    leg->cid_name = sip_arena_strdup(&leg->arena, name);
    if (peer)
        leg->peer = sip_arena_strdup(&leg->arena, peer->name);

    leg->invite = txn;
    sip_txn_set_owner(txn, leg);
    s_link(leg);
    self->stats.calls++;
    self->stats.calls_in++;

    size_t sdp_len = 0;
    const char *sdp = sip_msg_body(invite, &sdp_len);
    char *sdp_copy = sip_arena_strndup(&leg->arena, sdp ? sdp : "", sdp_len);
    leg->remote_sdp = sdp_copy;
    Tandem__ChannelNew m = TANDEM__CHANNEL_NEW__INIT;
    m.channel = (char *)leg->channel;
    m.caller_num = num;
    m.caller_name = name;
    m.exten = exten;
    m.context = (char *)(peer && peer->context[0] ? peer->context : g->context);
    m.sdp = sdp_copy ? sdp_copy : "";
    m.sip_legs_id = (char *)leg->dlg.call_id;
    m.peer = (char *)(peer ? peer->name : "");
    m.source = src;
    const sip_codec_order_t *allow = peer ? &peer->codec_order : &g->codec_order;
    leg->allow = *allow;
    uint32_t codecs[2];
    for (size_t i = 0; i < allow->n; i++)
        codecs[i] = allow->pt[i];
    m.codecs = codecs;
    m.n_codecs = allow->n;
    m.rtp_timeout = (uint32_t)(peer ? peer->rtptimeout : g->rtptimeout);
    m.rtp_hold_timeout = (uint32_t)(peer ? peer->rtpholdtimeout : g->rtpholdtimeout);
    m.comedia = leg->comedia;
    if (s_replaces(leg, txn, invite))
        return;                             /* RFC 3891: it takes over a dialog instead */
    td_log(LOG_INFO, "%s: call %s from %s <%s> (%s) to %s@%s", leg->channel, leg->bus_id,
           name, num, src, exten, m.context);
    if (td_bus_send_channel_new(self->env.bus, s_router(leg), leg->bus_id, 0, &m) != 0) {
        sip_msg_reply(txn, 503, leg->dlg.local_tag, "the router cannot be reached", NULL, NULL);
        leg->router_done = 1;
        s_end(leg, 0, 0, 0);
    }
}

/* ---- router -> signaling ------------------------------------------------- */

static void s_reply_unknown(sip_legs_t *self, const td_bus_hdr_t *hdr, const char *what)
{
    td_log(LOG_DEBUG, "%s for unknown leg %s/%u: answered with Hangup", what, hdr->call_id,
           hdr->leg);
    Tandem__Hangup h = TANDEM__HANGUP__INIT;
    h.cause = SIP_CAUSE_NORMAL_CLEARING;
    td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &h);
}

/* Send a 1xx/2xx with our Contact (and SDP) on an incoming leg's INVITE. */
static int s_respond_invite(sip_leg_t *leg, int status, const char *sdp)
{
    struct sockaddr_in me;
    osip_message_t *r = sip_txn_make_response(leg->invite, status, leg->dlg.local_tag);
    if (!r)
        return -1;
    s_local(leg, &me);
    sip_msg_add_contact(r, leg->contact_user, &me);
    if (status >= 200)
        osip_message_set_header(r, "Allow", SIP_MSG_ALLOW);
    if (status >= 200 && status < 300)
        s_st_headers(leg, r);
    if (sdp && *sdp) {
        s_set_sdp(leg, r, sdp);
        const char *kept = sip_arena_strdup(&leg->arena, sdp);
        if (kept)
            leg->last_sdp = kept;
    }
    return sip_txn_respond(leg->invite, &r);
}

void sip_legs_on_progress(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Progress *msg)
{
    sip_leg_t *leg = s_find_hdr(self, hdr);
    if (!leg) {
        s_reply_unknown(self, hdr, "Progress");
        return;
    }
    if (leg->xfer_media) {
        s_xfer_media(leg, msg->sdp);
        return;
    }
    if (leg->outgoing || !leg->invite || (leg->state != LEG_INVITING && leg->state != LEG_EARLY)) {
        td_log(LOG_DEBUG, "%s: Progress ignored (leg %s)", leg->channel, s_state_name[leg->state]);
        return;
    }
    int code = (int)msg->code;
    if (code <= 100 || code >= 200)
        code = msg->sdp && *msg->sdp ? 183 : 180;
    if (s_respond_invite(leg, code, msg->sdp) == 0)
        leg->state = LEG_EARLY;
}

void sip_legs_on_answer(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Answer *msg)
{
    sip_leg_t *leg = s_find_hdr(self, hdr);
    if (!leg) {
        s_reply_unknown(self, hdr, "Answer");
        return;
    }
    if (leg->xfer_media) {
        s_xfer_media(leg, msg->sdp);
        return;
    }
    if (leg->outgoing || !leg->invite || (leg->state != LEG_INVITING && leg->state != LEG_EARLY)) {
        td_log(LOG_DEBUG, "%s: Answer ignored (leg %s)", leg->channel, s_state_name[leg->state]);
        return;
    }
    if (s_respond_invite(leg, 200, msg->sdp) != 0) {
        td_log(LOG_WARNING, "%s: cannot send 200 OK", leg->channel);
        s_end(leg, 1, SIP_CAUSE_FAILURE, 0);
        return;
    }
    leg->state = LEG_UP;
    leg->need_ack = 1;
    leg->counted_up = 1;
    leg->call->stats.calls_up++;
    s_st_arm(leg);
    leg->tp = sip_txn_transport(leg->invite);
    s_store_put(leg);                       /* leg->router: s_find_hdr */
    td_log(LOG_INFO, "%s: answered", leg->channel);
}

void sip_legs_on_hangup(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Hangup *msg)
{
    sip_leg_t *leg = s_find_hdr(self, hdr);
    if (!leg) {
        td_log(LOG_DEBUG, "Hangup for unknown leg %s/%u", hdr->call_id, hdr->leg);
        return;
    }
    self->stats.hangups_in++;
    leg->router_done = 1;
    switch (leg->state) {
    case LEG_INVITING:
    case LEG_EARLY:
        if (!leg->outgoing) {
            int status = sip_cause_to_status(msg->cause);
            char why[64];
            snprintf(why, sizeof why, "the router hung up with cause %u", msg->cause);
            sip_msg_reply(leg->invite, status, leg->dlg.local_tag, why, NULL, NULL);
            s_end(leg, 0, 0, 0);
        } else if (leg->invite && sip_txn_cancel(leg->invite) == 0) {
            td_log(LOG_DEBUG, "%s: CANCEL (cause %u)", leg->channel, msg->cause);
            leg->state = LEG_CANCELLING;
            event_del(leg->timer);
        } else
            s_end(leg, 0, 0, 0);
        break;
    case LEG_UP:
        if (leg->reinvite_in) {   /* its final response before our BYE */
            sip_msg_reply(leg->reinvite_in, 487, leg->dlg.local_tag, NULL, NULL, NULL);
            s_detach(&leg->reinvite_in);
        }
        if (!leg->outgoing && leg->need_ack) {
            leg->bye_after_ack = 1;
            td_log(LOG_DEBUG, "%s: hung up before the ACK of our 200: BYE once it comes",
                   leg->channel);
        } else {
            s_send_bye(leg);
        }
        s_end(leg, 0, 0, 0);
        break;
    case LEG_CANCELLING:
    case LEG_ENDED:
        break;
    }
}

void sip_legs_on_other(sip_legs_t *self, const td_bus_hdr_t *hdr)
{
    if (!s_find_bus(self, hdr->call_id, hdr->leg))
        s_reply_unknown(self, hdr, "message");
}

/* End a leg still being set up: a caller gets 503 (Retry-After: retry), a
 * callee a CANCEL; tell_router: the router hears the leg is gone. */
static void s_end_setup(sip_leg_t *leg, const char *why, const char *retry, int tell_router)
{
    if (!leg->outgoing) {
        sip_msg_reply(leg->invite, 503, leg->dlg.local_tag, why, "Retry-After", retry);
        s_end(leg, tell_router, SIP_CAUSE_FAILURE, 503);
    } else if (leg->invite && sip_txn_cancel(leg->invite) == 0) {
        if (tell_router)
            s_send_hangup(leg, SIP_CAUSE_FAILURE, 0);
        leg->router_done = 1;
        leg->state = LEG_CANCELLING;
        event_del(leg->timer);
    } else {
        s_end(leg, tell_router, SIP_CAUSE_FAILURE, 0);
    }
}

/* End every leg still being set up (503 with why to callers, CANCEL to
 * callees), the router not told. Returns how many. */
static size_t s_end_setups(sip_legs_t *self, const char *router, const char *why)
{
    size_t ended = 0;
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->by_bus, &cur), *next; n; n = next) {
        next = td_map_next(&self->by_bus, n, &cur);      /* s_end may unlink leg */
        sip_leg_t *leg = TD_MAP_ENTRY(n, sip_leg_t, bus_node);
        /* router: that router's calls (it restarted); NULL: the dead routers' */
        int its = router ? !leg->router || strcmp(leg->router, router) == 0
                         : !leg->router || !td_bus_peer_alive(self->env.bus, leg->router);
        if ((leg->state == LEG_INVITING || leg->state == LEG_EARLY) && its) {
            s_context(leg);
            if (why)
                td_log(LOG_NOTICE, "%s leg %u still being set up: %s", leg->outgoing
                       ? "CANCEL to the callee of" : "503 to the caller of", leg->no, why);
            s_end_setup(leg, why, "5", 0);
            ended++;
        }
    }
    td_log_set_context(NULL);
    return ended;
}

void sip_legs_router_down(sip_legs_t *self)
{
    size_t ended = s_end_setups(self, NULL, NULL);
    if (ended)
        td_log(LOG_WARNING, "router down: %zu call leg(s) being set up were ended", ended);
}

size_t sip_legs_router_lost(sip_legs_t *self, const char *router, const char *why)
{
    return s_end_setups(self, router, why);
}

/* End every leg the way SIP ends it (only router's, unless NULL), and tell
 * the router; why: the 503's reason phrase, retry its Retry-After. */
static size_t s_end_all(sip_legs_t *self, const char *router, const char *why,
                        const char *retry)
{
    size_t ended = 0;
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->by_bus, &cur), *next; n; n = next) {
        next = td_map_next(&self->by_bus, n, &cur);      /* s_end may unlink leg */
        sip_leg_t *leg = TD_MAP_ENTRY(n, sip_leg_t, bus_node);
        if (router && leg->router && strcmp(leg->router, router) != 0) {
            continue;                            /* another router's call */
            continue;
        }
        s_context(leg);
        switch (leg->state) {
        case LEG_INVITING:
        case LEG_EARLY:
            s_end_setup(leg, why, retry, 1);
            ended++;
            break;
        case LEG_UP:
            if (!leg->outgoing && leg->need_ack)
                leg->bye_after_ack = 1;      /* RFC 3261 15: after its ACK */
            else
                s_send_bye(leg);
            s_end(leg, 1, SIP_CAUSE_NORMAL_CLEARING, 0);
            ended++;
            break;
        default:
            break;
        }
    }
    td_log_set_context(NULL);
    return ended;
}

size_t sip_legs_shutdown(sip_legs_t *self)
{
    return s_end_all(self, NULL, "shutting down", "30");
}

size_t sip_legs_router_restarted(sip_legs_t *self, const char *router)
{
    /* The new router may know a call placed since it came up: the Hangups
     * let it end those, and it ignores the others. */
    return s_end_all(self, router, "the router restarted", "5");
}

/* ---- restored legs (the cluster store) ---------------------------------- */

int sip_legs_restore(sip_legs_t *self, const char *key, size_t n, const char *const *fields,
                     const char *const *values)
{
#define S_F(name) sip_state_field(n, fields, values, name)
    const char *bus_id = S_F("call"), *no = S_F("leg"), *out = S_F("outgoing");
    if (!bus_id || !*bus_id || !no || !out) {
        td_log(LOG_WARNING, "stored dialog %s: no call id or leg: dropped", key);
        return -1;
    }
    uint32_t legno = (uint32_t)strtoul(no, NULL, 10);
    if (s_find_bus(self, bus_id, legno))
        return 0;
    int outgoing = strcmp(out, "1") == 0;
    sip_leg_t *leg = s_leg_new(self, outgoing);
    if (!leg)
        return -1;
    if (sip_dialog_load(&leg->dlg, &leg->arena, n, fields, values) != 0) {
        td_log(LOG_WARNING, "stored dialog %s: unusable: dropped", key);
        s_leg_free(leg);
        return -1;
    }
    leg->state = LEG_UP;
    leg->restored = 1;
    leg->stored = 1;
    leg->bus_id = sip_arena_strdup(&leg->arena, bus_id);
    leg->no = legno;
    const char *peer = S_F("peer"), *chan = S_F("channel");
    leg->channel = sip_arena_strdup(&leg->arena, chan && *chan ? chan : key);
    leg->peer = peer && *peer ? sip_arena_strdup(&leg->arena, peer) : NULL;
    leg->contact_user = sip_arena_strdup(&leg->arena, S_F("contact_user"));
    leg->router = sip_arena_strdup(&leg->arena, S_F("router"));
    const char *cn = S_F("cid_num"), *cm = S_F("cid_name");
    leg->cid_num = cn && *cn ? sip_arena_strdup(&leg->arena, cn) : NULL;
    leg->cid_name = cm && *cm ? sip_arena_strdup(&leg->arena, cm) : NULL;
    const char *sdp = S_F("last_sdp"), *rsdp = S_F("remote_sdp");
    leg->last_sdp = sdp && *sdp ? sip_arena_strdup(&leg->arena, sdp) : NULL;
    leg->remote_sdp = rsdp && *rsdp ? sip_arena_strdup(&leg->arena, rsdp) : NULL;
    const char *tp = S_F("transport"), *comedia = S_F("comedia");
    leg->tp = tp && strcmp(tp, "tcp") == 0 ? SIP_TP_TCP
            : tp && strcmp(tp, "tls") == 0 ? SIP_TP_TLS : SIP_TP_UDP;
    leg->comedia = comedia && strcmp(comedia, "1") == 0;
    const char *a1 = S_F("allow"), *a2 = S_F("allow2");
    unsigned pt1 = a1 ? (unsigned)strtoul(a1, NULL, 10) : 255;
    unsigned pt2 = a2 ? (unsigned)strtoul(a2, NULL, 10) : 255;
    if (pt1 < 128) {
        leg->allow.pt[leg->allow.n++] = (uint8_t)pt1;
        if (pt2 < 128)
            leg->allow.pt[leg->allow.n++] = (uint8_t)pt2;
    }
    const char *sti = S_F("st_interval"), *stf = S_F("st_flags");
    leg->st_interval = sti ? (int)strtol(sti, NULL, 10) : 0;
    unsigned flags = stf ? (unsigned)strtoul(stf, NULL, 10) : 0;
    leg->st_us = (flags & 1u) != 0;
    leg->st_peer = (flags & 2u) != 0;
    const char *rt = S_F("rtptimeout"), *rht = S_F("rtpholdtimeout");
    leg->rtptimeout = rt ? (uint32_t)strtoul(rt, NULL, 10) : 0;
    leg->rtpholdtimeout = rht ? (uint32_t)strtoul(rht, NULL, 10) : 0;
    if (!leg->bus_id || !leg->channel || !leg->contact_user || !leg->router) {
        s_leg_free(leg);
        return -1;
    }
    /* call-limit: the call counts again against its section (never refused:
     * it is up already) */
    const sip_peer_t *p = leg->peer ? sip_conf_peer(self->env.conf, leg->peer) : NULL;
    if (p && p->call_limit > 0) {
        s_inuse_t *e = s_inuse_find(self, p->name, 1);
        if (e) {
            e->n++;
            leg->inuse = e;
        }
    }
    /* New channels get names past the restored ones ("SIP/1001-0000002a"). */
    const char *dash = strrchr(leg->channel, '-');
    unsigned long suffix = dash ? strtoul(dash + 1, NULL, 16) : 0;
    if (!outgoing && suffix > self->channels && suffix < 0xffffffffUL)
        self->channels = (unsigned)suffix;
    sip_transport_remember(sip_txn_layer_transport(self->env.layer), leg->tp, &leg->dlg.peer);
    s_link(leg);
    if (!outgoing) {
        self->stats.calls++;
        self->stats.calls_up++;
        leg->counted_up = 1;
    }
    s_st_arm(leg);                          /* the session timer counts from now */
    char where[32];
    td_log(LOG_INFO, "%s: dialog restored: call %s/%u, %s %s (%s), local CSeq %u", leg->channel,
           leg->bus_id, leg->no, outgoing ? "callee" : "caller",
           sip_msg_addr(&leg->dlg.peer, where, sizeof where), sip_transport_name(leg->tp),
           leg->dlg.local_cseq);
    return 0;
#undef S_F
}

size_t sip_legs_announce_restored(sip_legs_t *self)
{
    size_t n = 0;
    size_t cur;
    for (td_map_node_t *nd = td_map_first(&self->by_bus, &cur); nd;
         nd = td_map_next(&self->by_bus, nd, &cur)) {
        sip_leg_t *leg = TD_MAP_ENTRY(nd, sip_leg_t, bus_node);
        if (!leg->restored)
            continue;
        leg->restored = 0;
        if (leg->state != LEG_UP || leg->router_done)
            continue;
        Tandem__DialogRestored m = TANDEM__DIALOG_RESTORED__INIT;
        m.channel = (char *)leg->channel;
        td_bus_send_dialog_restored(self->env.bus, s_router(leg), leg->bus_id, leg->no, &m);
        n++;
    }
    return n;
}

size_t sip_legs_store_all(sip_legs_t *self)
{
    size_t n = 0;
    if (!self->env.store)
        return 0;
    size_t cur;
    for (td_map_node_t *nd = td_map_first(&self->by_bus, &cur); nd;
         nd = td_map_next(&self->by_bus, nd, &cur)) {
        sip_leg_t *leg = TD_MAP_ENTRY(nd, sip_leg_t, bus_node);
        if (leg->stored && leg->state == LEG_UP) {
            s_store_put(leg);
            n++;
        }
    }
    return n;
}

/* ---- outgoing legs ------------------------------------------------------- */

/* The Request-URI for a registered contact, with its user part replaced by
 * number when the dialplan gave one. */
static int s_contact_target(const char *contact, const char *number, char *buf, size_t len)
{
    if (!number || !*number) {
        snprintf(buf, len, "%s", contact);
        return 0;
    }
    osip_uri_t *u = NULL;
    char *text = NULL;
    if (osip_uri_init(&u) != 0)
        return -1;
    if (osip_uri_parse(u, contact) != 0) {
        osip_uri_free(u);
        return -1;
    }
    osip_free(u->username);
    u->username = osip_strdup(number);
    int rc = osip_uri_to_str(u, &text);
    osip_uri_free(u);
    if (rc != 0 || !text)
        return -1;
    snprintf(buf, len, "%s", text);
    osip_free(text);
    return 0;
}

/* 1 when a binding's destination is not its Contact's host:port: the REGISTER
 * came through NAT (auto_comedia's test for the legs we place to it). */
static int s_binding_natted(const sip_binding_t *b)
{
    osip_uri_t *u = NULL;
    if (osip_uri_init(&u) != 0)
        return 0;
    struct in_addr a;
    int natted = osip_uri_parse(u, b->uri) == 0 && u->host
              && (inet_pton(AF_INET, u->host, &a) != 1 || a.s_addr != b->dest.sin_addr.s_addr
                  || (u->port ? atoi(u->port) : 5060) != ntohs(b->dest.sin_port));
    osip_uri_free(u);
    return natted;
}

static int s_valid_user(const char *s)
{
    return s && *s && strlen(s) < 64 && strpbrk(s, "<>\"@: ;?\r\n") == NULL;
}

/* The worker's offer cut to the formats peer's allow= list permits, in its
 * order: out, or sdp itself if it does not parse (or out is too small).
 * NULL when none of its codecs is allowed. */
static const char *s_offer_for(const sip_peer_t *peer, const char *sdp, char *out,
                               size_t outlen)
{
    sdp_media_t m;
    char err[128];
    uint8_t keep[3];
    size_t len = strlen(sdp);
    if (sdp_parse(sdp, len, &m, err, sizeof err) < 0) {
        td_log(LOG_WARNING, "the media worker's offer does not parse (%s): sent as it is", err);
        return sdp;
    }
    size_t n = sdp_keep(&m, peer->codec_order.pt, peer->codec_order.n, peer->codec_order.n, keep);
    if (n == 0)
        return NULL;
    char cut[OFFER_MAX], line[SDP_CRYPTO_LINE_MAX];
    int cutlen = sdp_filter(sdp, len, keep, n, cut, sizeof cut, err, sizeof err);
    if (cutlen < 0) {
        td_log(LOG_WARNING, "cannot cut the media worker's offer (%s): sent as it is", err);
        return sdp;
    }
    /* SRTP: the worker's offer carries its key for the callee under RTP/AVP;
     * an encryption=yes peer gets RTP/SAVP and that key with the suite of its
     * encryption_taglen=, the others no a=crypto (as chan_sip's add_sdp). */
    int secure = peer->encryption && m.crypto_ok;
    if (secure) {
        sdp_crypto_t c = m.crypto;
        c.taglen = (uint8_t)peer->srtp_taglen;
        secure = sdp_crypto_format(&c, line, sizeof line) > 0;
    }
    if (peer->encryption && !secure)
        td_log(LOG_WARNING, "%s has encryption=yes but the media worker offered no SRTP key",
               peer->name);
    if (sdp_set_crypto(cut, (size_t)cutlen, secure, secure ? line : NULL, out, outlen) < 0) {
        td_log(LOG_WARNING, "cannot set SRTP in the media worker's offer: sent as it is");
        return sdp;
    }
    return out;
}

/* SRTP in an outgoing leg's answer (or early media SDP), as chan_sip takes
 * it (sdp_crypto_answer_status): 0 and *sdp as the worker should see it
 * (a=crypto dropped when the peer was not offered SRTP: chan_sip ignores
 * them), or -1 when chan_sip would refuse it. */
static int s_answer_srtp(sip_leg_t *leg, char **sdp)
{
    const sip_peer_t *peer = leg->peer ? sip_conf_peer(leg->call->env.conf, leg->peer) : NULL;
    int offered = peer && peer->encryption;
    sdp_media_t m;
    char err[128];
    if (!*sdp || sdp_parse(*sdp, strlen(*sdp), &m, err, sizeof err) < 0)
        return 0;                      /* the worker refuses it, as before */
    if (sdp_crypto_answer_status(&m, offered) < 0) {
        td_log(LOG_NOTICE, "%s: %s", leg->channel, offered
               ? "Failed to receive SDP offer/answer with required SRTP crypto attributes"
               : "secure (RTP/SAVP) answer to an offer without SRTP");
        return -1;
    }
    if (!offered && m.ncrypto) {
        td_log(LOG_NOTICE, "%s: Ignoring unexpected crypto attribute in SDP answer", leg->channel);
        size_t len = strlen(*sdp);
        char *plain = malloc(len + 1);  /* then back in place: it only shrinks */
        if (plain && sdp_set_crypto(*sdp, len, 0, NULL, plain, len + 1) >= 0)
            memcpy(*sdp, plain, strlen(plain) + 1);
        free(plain);
    }
    return 0;
}

void sip_legs_on_originate(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Originate *msg)
{
    const sip_conf_t *conf = self->env.conf;
    const sip_peer_t *peer = sip_conf_peer(conf, msg->user);
    Tandem__Hangup fail = TANDEM__HANGUP__INIT;
    char target[512], host[300], buf[700];
    const char *path = NULL;           /* the binding's Path (supportpath=yes), or NULL */
    struct sockaddr_in to, me;
    int natted = 0;                    /* the binding came through NAT */

    if (s_find_bus(self, hdr->call_id, hdr->leg)) {
        td_log(LOG_WARNING, "Originate for leg %s/%u, which exists already: ignored",
               hdr->call_id, hdr->leg);
        return;
    }
    const char *number = msg->number && *msg->number ? msg->number : NULL;
    if (number && !s_valid_user(number)) {
        td_log(LOG_NOTICE, "%s: bad number '%s' to dial", msg->channel, number);
        fail.cause = SIP_CAUSE_INVALID_NUMBER_FORMAT;
        td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
        return;
    }
    if (!peer || peer->type == SIP_PEER_USER) {
        td_log(LOG_NOTICE, "%s: no peer '%s' to call in sip.conf", msg->channel, msg->user);
        fail.cause = SIP_CAUSE_SUBSCRIBER_ABSENT;
        td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
        return;
    }
    if (self->env.usable && !self->env.usable(self->env.arg, peer)) {
        /* chan_sip: create_addr fails, "target device not registered" */
        td_log(LOG_INFO, "%s: %s is not reachable (qualify)", msg->channel, peer->name);
        fail.cause = SIP_CAUSE_SUBSCRIBER_ABSENT;
        td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
        return;
    }
    if (peer->dynamic) {
        const sip_binding_t *b = sip_registrar_lookup(self->env.registrar, peer->name,
                                                      (long)time(NULL));
        if (!b) {
            td_log(LOG_INFO, "%s: %s is not registered", msg->channel, peer->name);
            fail.cause = SIP_CAUSE_SUBSCRIBER_ABSENT;
            td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
            return;
        }
        if (s_contact_target(b->uri, number, target, sizeof target) != 0) {
            td_log(LOG_WARNING, "%s: unusable contact '%s' for %s", msg->channel, b->uri,
                   peer->name);
            fail.cause = SIP_CAUSE_SUBSCRIBER_ABSENT;
            td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
            return;
        }
        to = b->dest;
        natted = s_binding_natted(b);
        /* supportpath: the contact is reached through its Path (chan_sip's
         * create_addr_from_peer: the route set from peer->path, the first hop
         * as the address) */
        if (b->path[0]) {
            char space[sizeof b->path + 64];
            sip_arena_t a;
            sip_dialog_t hop = { .peer = to };
            sip_arena_init(&a, space, sizeof space);
            if (sip_dialog_set_routes(&hop, &a, b->path) == 0 && hop.nroutes > 0) {
                path = b->path;
                to = hop.peer;
            }
            sip_arena_release(&a);
        }
    } else {
        to = peer->addr;
        if (ntohs(to.sin_port) == 5060)
            snprintf(host, sizeof host, "%s", peer->host);
        else
            snprintf(host, sizeof host, "%s:%d", peer->host, ntohs(to.sin_port));
        /* chan_sip's initreqprep for a peer without a registered contact:
         * the dialled number, else the peer's defaultuser, else no user
         * part at all ("sip:host"). */
        const char *ruser = number                            ? number
                          : s_valid_user(peer->defaultuser) ? peer->defaultuser
                                                            : NULL;
        if (ruser)
            snprintf(target, sizeof target, "sip:%s@%s", ruser, host);
        else
            snprintf(target, sizeof target, "sip:%s", host);
    }

    /* outboundproxy=: every request to the peer goes to the proxy, with the
     * peer still in the Request-URI (chan_sip's obproxy_get). */
    if (peer->has_proxy)
        to = peer->proxy;

    /* The worker offers PCMU, PCMA and telephone-event: the peer gets those
     * its allow= list permits, in its order. None: the leg is unavailable
     * (cause 58, Dial's CHANUNAVAIL). */
    char offer[OFFER_MAX];
    const char *sdp = msg->sdp && *msg->sdp ? msg->sdp : NULL;
    if (sdp && !(sdp = s_offer_for(peer, sdp, offer, sizeof offer))) {
        td_log(LOG_NOTICE, "%s: %s allows neither ulaw nor alaw: no codec to offer",
               msg->channel, peer->name);
        fail.cause = SIP_CAUSE_BEARERCAPABILITY_NOTAVAIL;
        td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
        return;
    }

    sip_leg_t *leg = s_leg_new(self, 1);
    if (!leg) {
        fail.cause = SIP_CAUSE_FAILURE;
        td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
        return;
    }
    s_set_router(leg, hdr->peer);           /* the call's owner: the Originate's sender */
    if (s_inuse_take(self, leg, peer) < 0) {
        /* sip_call: update_call_counter(INC_CALL_RINGING) fails, cause
         * USER_BUSY, and ast_call fails: Dial never rang it */
        s_leg_free(leg);
        fail.cause = SIP_CAUSE_USER_BUSY;
        fail.not_called = 1;
        td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
        return;
    }
    self->env.local_addr(self->env.arg, &to, &me);
    char myip[INET_ADDRSTRLEN], tag[SIP_MSG_TOKEN_LEN + 1], cid[SIP_MSG_TOKEN_LEN + 1];
    char name[96], local_uri[400], remote_uri[600], call_id[160];
    inet_ntop(AF_INET, &me.sin_addr, myip, sizeof myip);
    const char *from_user = peer->fromuser[0] ? peer->fromuser
                          : s_valid_user(msg->caller_num) ? msg->caller_num : "anonymous";
    const char *from_host = peer->fromdomain[0] ? peer->fromdomain : myip;
    s_clean(msg->caller_name, name, sizeof name);
    if (name[0])
        snprintf(local_uri, sizeof local_uri, "\"%s\" <sip:%s@%s>", name, from_user, from_host);
    else
        snprintf(local_uri, sizeof local_uri, "<sip:%s@%s>", from_user, from_host);
    snprintf(remote_uri, sizeof remote_uri, "<%s>", target);
    /* create_addr_from_peer: with fromdomain= the Call-ID ends "@fromdomain" */
    snprintf(call_id, sizeof call_id, "%s@%s", sip_msg_token(cid, sizeof cid), from_host);
    sip_msg_token(tag, sizeof tag);
    leg->bus_id = sip_arena_strdup(&leg->arena, hdr->call_id);
    leg->no = hdr->leg;
    leg->channel = sip_arena_strdup(&leg->arena, msg->channel && *msg->channel ? msg->channel
                                                                               : msg->user);
    leg->contact_user = sip_arena_strdup(&leg->arena, from_user);
    leg->peer = sip_arena_strdup(&leg->arena, peer->name);
    leg->last_sdp = sdp ? sip_arena_strdup(&leg->arena, sdp) : NULL;
    leg->allow = peer->codec_order;
    leg->rtptimeout = (uint32_t)peer->rtptimeout;
    leg->rtpholdtimeout = (uint32_t)peer->rtpholdtimeout;
    osip_message_t *inv = NULL;
    if (!leg->bus_id || !leg->channel
        || sip_dialog_uac(&leg->dlg, &leg->arena, call_id, tag, local_uri, remote_uri,
                          target, &to) != 0
        || (path && sip_dialog_set_routes(&leg->dlg, &leg->arena, path) != 0)
        || !(inv = sip_dialog_request(&leg->dlg, "INVITE", leg->dlg.invite_cseq))) {
        td_log(LOG_WARNING, "%s: cannot build the INVITE to %s", msg->channel, target);
        s_leg_free(leg);
        fail.cause = SIP_CAUSE_FAILURE;
        td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
        return;
    }
    leg->dlg.peer = to;                   /* the Path's first hop; outboundproxy= still wins */
    leg->dlg.pinned = peer->nat == SIP_NAT_FORCE && !path;   /* chan_sip: force_rport
                                                              * ignores routes */
    leg->comedia = peer->comedia == SIP_COMEDIA_YES
                || (peer->comedia == SIP_COMEDIA_AUTO && natted);
    sip_msg_add_contact(inv, leg->contact_user, &me);
    osip_message_set_header(inv, "Allow", SIP_MSG_ALLOW);
    s_st_offer(leg, inv, sip_conf_general(conf));
    s_set_sdp(leg, inv, sdp ? sdp : "");
    leg->invite = sip_txn_request(self->env.layer, &inv, &to, leg);
    if (!leg->invite) {
        td_log(LOG_WARNING, "%s: cannot send the INVITE to %s", msg->channel, target);
        s_leg_free(leg);
        fail.cause = SIP_CAUSE_FAILURE;
        td_bus_send_hangup(self->env.bus, hdr->peer, hdr->call_id, hdr->leg, &fail);
        return;
    }
    s_link(leg);
    self->stats.legs_out++;
    uint32_t ms = msg->timeout_ms ? msg->timeout_ms : TIMER_C_MS;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_add(leg->timer, &tv);
    td_log(LOG_INFO, "%s: INVITE %s (%s) for call %s/%u", leg->channel, target,
           sip_msg_addr(&to, buf, sizeof buf), leg->bus_id, leg->no);
}

static void s_on_ring_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sip_leg_t *leg = arg;
    s_context(leg);
    if (leg->state == LEG_INVITING || leg->state == LEG_EARLY) {
        td_log(LOG_INFO, "%s: no answer in time, CANCEL", leg->channel);
        leg->timed_out = 1;
        if (leg->invite && sip_txn_cancel(leg->invite) == 0)
            leg->state = LEG_CANCELLING;
        else
            s_end(leg, 1, SIP_CAUSE_NO_ANSWER, 0);
    }
    td_log_set_context(NULL);
}


/* Send the leg's INVITE again in the same dialog (CSeq+1, the same Call-ID
 * and From tag, a new branch, their tag forgotten as chan_sip does), with
 * credentials for ch when not NULL. 0 when sent, else -1 (logged). */
static int s_invite_again(sip_leg_t *leg, sip_auth_remote_t *ch, const char *user,
                          const char *secret)
{
    sip_legs_t *self = leg->call;
    uint32_t cseq = ++leg->dlg.local_cseq;
    leg->dlg.remote_tag = NULL;              /* chan_sip forgets their tag */
    osip_message_t *inv = sip_dialog_request(&leg->dlg, "INVITE", cseq);
    struct sockaddr_in me;
    s_local(leg, &me);
    if (!inv || sip_msg_add_contact(inv, leg->contact_user, &me) != 0
        || (ch && sip_auth_remote_answer(ch, inv, user, secret) != 0)) {
        if (inv)
            osip_message_free(inv);
        td_log(LOG_WARNING, "%s: cannot build the INVITE again", leg->channel);
        return -1;
    }
    osip_message_set_header(inv, "Allow", SIP_MSG_ALLOW);
    s_st_offer(leg, inv, sip_conf_general(self->env.conf));
    s_set_sdp(leg, inv, leg->last_sdp ? leg->last_sdp : "");
    leg->dlg.invite_cseq = cseq;
    leg->invite = sip_txn_request(self->env.layer, &inv, &leg->dlg.peer, leg);
    if (!leg->invite) {
        td_log(LOG_WARNING, "%s: cannot send the INVITE again", leg->channel);
        return -1;
    }
    leg->state = LEG_INVITING;
    return 0;
}

/* A 401/407 to our INVITE (the layer has ACKed it): send the INVITE again
 * with credentials, as chan_sip's do_proxy_auth; user the peer's
 * defaultuser (else its name), secret its remotesecret (else secret). 0 when
 * sent; -1 when the leg is to end (no usable challenge, or MAX_AUTHTRIES
 * answered already). */
static int s_invite_auth(sip_leg_t *leg, osip_message_t *resp)
{
    sip_legs_t *self = leg->call;
    const sip_peer_t *peer = leg->peer ? sip_conf_peer(self->env.conf, leg->peer) : NULL;
    sip_auth_remote_t ch;
    if (!peer || leg->authtries >= MAX_AUTHTRIES || sip_auth_remote_read(resp, &ch) < 0) {
        td_log(LOG_NOTICE, "%s: Failed to authenticate on INVITE to '%s'", leg->channel,
               leg->dlg.local_uri);
        return -1;
    }
    leg->authtries++;
    const char *user = peer->defaultuser[0] ? peer->defaultuser : peer->name;
    const char *secret = peer->remotesecret[0] ? peer->remotesecret : peer->secret;
    if (s_invite_again(leg, &ch, user, secret) != 0)
        return -1;
    td_log(LOG_INFO, "%s: %d %s: INVITE again with %s as '%s' (try %u)", leg->channel,
           resp->status_code, resp->reason_phrase ? resp->reason_phrase : "",
           ch.proxy ? "Proxy-Authorization" : "Authorization", user, leg->authtries);
    return 0;
}

/* A 422 (Session Interval Too Small) to our INVITE: once, INVITE again with
 * its Min-SE as our Min-SE and (under originate) as the least
 * Session-Expires, as chan_sip's proc_422_rsp (which retries without a
 * limit). 0 when sent, else -1. */
static int s_invite_422(sip_leg_t *leg, osip_message_t *resp)
{
    int ignored;
    const char *mse = sip_msg_header(resp, "min-se");
    long n = mse ? s_st_parse(mse, &ignored) : -1;
    if (leg->st_422 || n <= 0) {
        td_log(LOG_NOTICE, "%s: 422 %s", leg->channel,
               leg->st_422 ? "again" : "without a usable Min-SE");
        return -1;
    }
    leg->st_422 = 1;
    leg->st_min = (int)n;
    if (s_invite_again(leg, NULL, NULL, NULL) != 0)
        return -1;
    td_log(LOG_INFO, "%s: 422: INVITE again with Min-SE %ld", leg->channel, n);
    return 0;
}

/* A 2xx whose transaction is gone: ACK it again. */
static void s_ack_stray(sip_legs_t *self, osip_message_t *resp)
{
    char cid[256];
    sip_leg_t *leg = s_find_sip(self, sip_msg_call_id(resp, cid, sizeof cid),
                                sip_msg_from_tag(resp));
    if (leg && (leg->outgoing || leg->ack_cseq) && leg->dlg.remote_tag && resp->cseq) {
        s_send_ack(leg, (uint32_t)strtoul(resp->cseq->number, NULL, 10));
        return;
    }
    struct sockaddr_in to;
    osip_message_t *ack = sip_dialog_ack_from_2xx(resp, &to);
    if (ack) {
        sip_txn_layer_send(self->env.layer, ack, &to);
        osip_message_free(ack);
    } else
        td_log_limited(LOG_NOTICE, 5, "cannot ACK a stray 2xx (no usable Contact)");
}

/* The final response to our BYE: a 401/407 from the peer (a trunk) is
 * answered with a new BYE with credentials, as chan_sip's handle_response
 * (do_proxy_auth with SIP_BYE); anything else ends it. */
static void s_bye_response(sip_leg_t *leg, osip_message_t *resp)
{
    int status = resp->status_code;
    if (status < 200)
        return;
    s_detach(&leg->bye);
    const char *user = NULL, *secret = NULL;
    sip_auth_remote_t ch;
    if ((status == 401 || status == 407) && s_creds(leg, &user, &secret) == 0
        && sip_auth_remote_read(resp, &ch) == 0) {
        osip_message_t *bye = sip_dialog_request(&leg->dlg, "BYE", ++leg->dlg.local_cseq);
        if (bye && sip_auth_remote_answer(&ch, bye, user, secret) == 0) {
            leg->bye = sip_txn_request(leg->call->env.layer, &bye, &leg->dlg.peer, leg);
            if (leg->bye) {
                leg->authtries++;
                td_log(LOG_INFO, "%s: %d to our BYE: again with credentials (try %u)",
                       leg->channel, status, leg->authtries);
                return;
            }
        }
        if (bye)
            osip_message_free(bye);
    }
    if (status == 401 || status == 407)
        td_log(LOG_NOTICE, "%s: Failed to authenticate on BYE", leg->channel);
    s_maybe_reap(leg);
}

void sip_legs_response(sip_legs_t *self, sip_txn_t *txn, osip_message_t *resp)
{
    if (!txn) {
        s_ack_stray(self, resp);
        return;
    }
    sip_leg_t *leg = sip_txn_owner(txn);
    if (leg && txn == leg->reinvite_out) {
        s_reinvite_response(leg, resp);
        return;
    }
    if (leg && txn == leg->bye) {
        s_bye_response(leg, resp);
        return;
    }
    if (!leg || txn != leg->invite)
        return;
    int status = resp->status_code;
    if (status == 100)
        return;
    size_t sdp_len = 0;
    const char *body = s_body(leg, resp, &sdp_len);
    if (status < 200) {
        sip_dialog_update_uac(&leg->dlg, &leg->arena, resp);
        if (leg->state == LEG_INVITING)
            leg->state = LEG_EARLY;
        if (!leg->router_done && leg->state == LEG_EARLY) {
            /* an early SDP goes on to the router and is not kept: a callee
             * looping 183s costs nothing that lasts (issue 12) */
            char *sdp = body ? strndup(body, sdp_len) : NULL;
            char *early = sdp;
            Tandem__Progress p = TANDEM__PROGRESS__INIT;
            if (s_answer_srtp(leg, &early) < 0)
                early = NULL;          /* early media the worker could not use */
            p.code = (uint32_t)status;
            p.sdp = early ? early : "";
            p.comedia = leg->comedia;
            td_bus_send_progress(self->env.bus, s_router(leg), leg->bus_id, leg->no, &p);
            free(sdp);
        }
        return;
    }
    char *sdp = body ? sip_arena_strndup(&leg->arena, body, sdp_len) : NULL;
    s_detach(&leg->invite);
    if (status < 300) {
        sip_dialog_update_uac(&leg->dlg, &leg->arena, resp);
        s_send_ack(leg, 0);
        if (leg->router_done || leg->timed_out || leg->state == LEG_CANCELLING) {
            td_log(LOG_INFO, "%s: answered after it was given up: BYE", leg->channel);
            s_send_bye(leg);
            s_end(leg, 1, SIP_CAUSE_NO_ANSWER, 0);
            return;
        }
        if (s_answer_srtp(leg, &sdp) < 0) {
            /* chan_sip: "This 200 OK's SDP is not acceptable, so we need to
             * ack, then hangup", cause 58 */
            s_send_bye(leg);
            s_end(leg, 1, SIP_CAUSE_BEARERCAPABILITY_NOTAVAIL, 0);
            return;
        }
        leg->state = LEG_UP;
        leg->authtries = 0;                 /* in-dialog challenges count afresh */
        leg->remote_sdp = sdp;
        event_del(leg->timer);
        if (s_st_answered(leg, resp, sip_conf_general(self->env.conf)) != 0) {
            td_log(LOG_WARNING, "%s: Session-Expires in the 200 below our Min-SE (or "
                   "unreadable): BYE", leg->channel);
            s_send_bye(leg);
            s_end(leg, 1, SIP_CAUSE_NORMAL_CLEARING, 0);
            return;
        }
        s_st_arm(leg);
        leg->tp = sip_txn_transport(txn);
        s_store_put(leg);
        td_log(LOG_INFO, "%s: answered", leg->channel);
        Tandem__Answer a = TANDEM__ANSWER__INIT;
        a.sdp = sdp ? sdp : "";
        a.rtp_timeout = leg->rtptimeout;
        a.rtp_hold_timeout = leg->rtpholdtimeout;
        a.comedia = leg->comedia;
        td_bus_send_answer(self->env.bus, s_router(leg), leg->bus_id, leg->no, &a);
        return;
    }
    unsigned cause = leg->timed_out ? SIP_CAUSE_NO_ANSWER : sip_cause_from_status(status);
    if (status == 422 && leg->outgoing && !leg->timed_out && !leg->router_done
        && leg->state != LEG_CANCELLING && s_invite_422(leg, resp) == 0)
        return;
    if ((status == 401 || status == 407) && leg->outgoing && !leg->timed_out
        && !leg->router_done && leg->state != LEG_CANCELLING) {
        if (s_invite_auth(leg, resp) == 0)
            return;
        /* chan_sip queues AST_CONTROL_CONGESTION: Dial's CONGESTION */
        cause = SIP_CAUSE_CONGESTION;
    }
    td_log(LOG_INFO, "%s: %d %s (cause %u)", leg->channel, status,
           resp->reason_phrase ? resp->reason_phrase : "", cause);
    s_end(leg, 1, cause, (unsigned)status);
}

void sip_legs_timeout(sip_legs_t *self, sip_txn_t *txn)
{
    (void)self;
    sip_leg_t *leg = sip_txn_owner(txn);
    if (leg && txn == leg->reinvite_out) {
        s_detach(&leg->reinvite_out);
        leg->xfer_reinvite = 0;
        td_log(LOG_INFO, "%s: no response to our re-INVITE", leg->channel);
        if (leg->st_refreshing) {
            leg->st_refreshing = 0;
            s_send_bye(leg);                /* RFC 4028 section 10 */
            s_end(leg, 1, SIP_CAUSE_NORMAL_CLEARING, 408);
            return;
        }
        /* chan_sip's retrans_pkt: no reply to a critical packet hangs the
         * call up with NO_USER_RESPONSE and no BYE (SIP_ALREADYGONE). */
        td_log(LOG_NOTICE, "%s: hanging up: no reply to our re-INVITE", leg->channel);
        s_end(leg, 1, SIP_CAUSE_NO_USER_RESPONSE, 408);
        return;
    }
    if (leg && txn == leg->bye) {
        s_detach(&leg->bye);
        s_maybe_reap(leg);
        return;
    }
    if (!leg || txn != leg->invite)
        return;
    s_context(leg);
    s_detach(&leg->invite);
    td_log(LOG_INFO, "%s: no response to INVITE", leg->channel);
    s_end(leg, 1, leg->timed_out ? SIP_CAUSE_NO_ANSWER : SIP_CAUSE_NO_USER_RESPONSE, 408);
}

void sip_legs_ack_timeout(sip_legs_t *self, sip_txn_t *txn)
{
    (void)self;
    sip_leg_t *leg = sip_txn_owner(txn);
    if (!leg)
        return;
    if (txn == leg->reinvite) {
        s_detach(&leg->reinvite);
        s_maybe_reap(leg);
        return;
    }
    if (txn != leg->invite)
        return;
    s_context(leg);
    leg->need_ack = 0;
    s_detach(&leg->invite);
    if (leg->state == LEG_UP || leg->bye_after_ack) {
        td_log(LOG_NOTICE, "%s: no ACK for our 200 OK: BYE", leg->channel);
        leg->bye_after_ack = 0;
        s_send_bye(leg);
    }
    s_end(leg, 1, SIP_CAUSE_NORMAL_CLEARING, 408);
}

void sip_legs_terminated(sip_legs_t *self, sip_txn_t *txn)
{
    (void)self;
    sip_leg_t *leg = sip_txn_owner(txn);
    if (!leg)
        return;
    if (txn == leg->reinvite)
        leg->reinvite = NULL;
    if (txn == leg->reinvite_in)
        leg->reinvite_in = NULL;
    if (txn == leg->bye)
        leg->bye = NULL;
    if (txn == leg->reinvite_out) {
        leg->reinvite_out = NULL;
        if (!leg->st_refreshing)
            s_reinvite_result(leg, 500, NULL);
        leg->st_refreshing = 0;
    }
    if (txn == leg->invite) {
        leg->invite = NULL;
        leg->need_ack = 0;
        if (leg->state != LEG_UP && leg->state != LEG_ENDED) {
            s_context(leg);
            td_log(LOG_WARNING, "%s: INVITE transaction ended without an outcome",
                   leg->channel);
            s_end(leg, 1, SIP_CAUSE_FAILURE, 0);
        }
    }
    s_maybe_reap(leg);
}

/* ---- SIP requests on existing dialogs ------------------------------------ */

void sip_legs_cancel(sip_legs_t *self, sip_txn_t *txn, osip_message_t *cancel)
{
    sip_txn_t *inv = sip_txn_find_invite(self->env.layer, cancel);
    char tag[SIP_MSG_TOKEN_LEN + 1];
    if (!inv) {
        sip_msg_reply(txn, 481, sip_msg_token(tag, sizeof tag), "no INVITE to cancel", NULL, NULL);
        return;
    }
    sip_leg_t *leg = sip_txn_owner(inv);
    const char *ltag = leg ? leg->dlg.local_tag : sip_msg_token(tag, sizeof tag);
    sip_msg_reply(txn, 200, ltag, NULL, NULL, NULL);
    if (sip_txn_last_status(inv) >= 200)
        return;                             /* too late: the INVITE has its answer */
    sip_msg_reply(inv, 487, ltag, NULL, NULL, NULL);
    if (leg && inv == leg->reinvite_in) {
        /* A cancelled re-INVITE leaves the call up (RFC 3261 section 9.2);
         * the router's answer to it, when it comes, is dropped. */
        td_log(LOG_INFO, "%s: re-INVITE cancelled", leg->channel);
        s_detach(&leg->reinvite_in);
        return;
    }
    if (leg && !leg->outgoing) {
        td_log(LOG_INFO, "%s: cancelled by the caller", leg->channel);
        s_detach(&leg->invite);
        s_end(leg, 1, SIP_CAUSE_NORMAL_CLEARING, 487);
    }
}

/* Pass a leg's new session description to the router (Reinvite), with the
 * leg's allow= codecs; no_answer: it came in an ACK, nobody waits for an
 * answer. */
static void s_reinvite_to_router(sip_leg_t *leg, const char *sdp, int no_answer)
{
    Tandem__Reinvite m = TANDEM__REINVITE__INIT;
    uint32_t codecs[2];
    for (size_t i = 0; i < leg->allow.n && i < 2; i++)
        codecs[i] = leg->allow.pt[i];
    m.sdp = (char *)sdp;
    m.codecs = codecs;
    m.n_codecs = leg->allow.n < 2 ? leg->allow.n : 2;
    m.no_answer = no_answer ? 1 : 0;
    td_bus_send_reinvite(leg->call->env.bus, s_router(leg), leg->bus_id, leg->no, &m);
}

/* Is body (len bytes) the phone's last SDP on this leg, byte for byte? */
static int s_same_as_remote(const sip_leg_t *leg, const char *body, size_t len)
{
    return leg->remote_sdp && strlen(leg->remote_sdp) == len
        && memcmp(leg->remote_sdp, body, len) == 0;
}

/* Issue 12: 1 (counted, logged at most once a minute) when the leg has
 * kept SIP_LEG_HEAP_MAX of the phone's session data: a new offer is not
 * taken. */
static int s_heap_used_up(sip_leg_t *leg, const char *what)
{
    if (leg->arena.heap < SIP_LEG_HEAP_MAX)
        return 0;
    leg->call->stats.session_capped++;
    td_log_every(LOG_WARNING, 60, "%s: a %s after %zu bytes of this call's session data (the "
                 "most kept is %d): refused, the session stays (%lu so far)", leg->channel, what,
                 leg->arena.heap, SIP_LEG_HEAP_MAX, leg->call->stats.session_capped);
    return 1;
}

/* The ACK to our 200 for a re-INVITE without SDP carries the phone's
 * answer to the session we offered (the one we last sent). Unchanged, it
 * needs nothing; changed (a new port, hold), it goes to the router as an
 * offer that wants no answer, so the other leg follows. */
static void s_ack_answer(sip_leg_t *leg, osip_message_t *ack)
{
    size_t len = 0;
    const char *body = s_body(leg, ack, &len);
    if (!body || !len || leg->router_done || leg->state != LEG_UP)
        return;
    if (s_same_as_remote(leg, body, len))
        return;
    if (s_heap_used_up(leg, "new session in an ACK"))
        return;
    char *sdp = sip_arena_strndup(&leg->arena, body, len);
    if (!sdp)
        return;
    leg->remote_sdp = sdp;
    s_reinvite_to_router(leg, sdp, 1);
    td_log(LOG_INFO, "%s: a new session in the ACK: to the router", leg->channel);
}

static void s_on_ack(sip_legs_t *self, osip_message_t *ack)
{
    char cid[256];
    sip_leg_t *leg = s_find_sip(self, sip_msg_call_id(ack, cid, sizeof cid), sip_msg_to_tag(ack));
    if (!leg)
        return;                             /* an ACK is never answered */
    uint32_t cseq = (uint32_t)strtoul(ack->cseq->number, NULL, 10);
    if (leg->reinvite && cseq == leg->reinvite_cseq) {
        sip_txn_acked(leg->reinvite);
        s_detach(&leg->reinvite);
        if (leg->nosdp_cseq_valid)
            s_ack_answer(leg, ack);
        leg->nosdp_cseq_valid = 0;
    } else if (leg->invite && !leg->outgoing && leg->need_ack && cseq == leg->dlg.invite_cseq) {
        sip_txn_acked(leg->invite);
        leg->need_ack = 0;
        if (leg->bye_after_ack) {
            leg->bye_after_ack = 0;
            s_send_bye(leg);
        }
        if (leg->state == LEG_ENDED)
            s_detach(&leg->invite);
    }
    s_maybe_reap(leg);
}

static void s_on_bye(sip_leg_t *leg, sip_txn_t *txn)
{
    sip_msg_reply(txn, 200, leg->dlg.local_tag, NULL, NULL, NULL);
    td_log(LOG_INFO, "%s: BYE from the %s", leg->channel, leg->outgoing ? "callee" : "caller");
    if (!leg->outgoing && leg->invite && (leg->state == LEG_INVITING || leg->state == LEG_EARLY)) {
        sip_msg_reply(leg->invite, 487, leg->dlg.local_tag, NULL, NULL, NULL);
        s_detach(&leg->invite);
    }
    if (leg->outgoing && leg->invite && leg->state != LEG_UP)
        sip_txn_cancel(leg->invite);
    s_end(leg, 1, SIP_CAUSE_NORMAL_CLEARING, 0);
}

/* A re-INVITE without SDP (RFC 3264 section 5, RFC 3261 14.2): our 200
 * repeats the session we last sent (unchanged, so its o= version too), and
 * the phone's answer comes in the ACK. */
static void s_reinvite_no_sdp(sip_leg_t *leg, sip_txn_t *txn)
{
    struct sockaddr_in me;
    osip_message_t *r = sip_txn_make_response(txn, 200, leg->dlg.local_tag);
    if (!r)
        return;
    s_local(leg, &me);
    sip_msg_add_contact(r, leg->contact_user, &me);
    osip_message_set_header(r, "Allow", SIP_MSG_ALLOW);
    s_st_headers(leg, r);
    s_set_sdp(leg, r, leg->last_sdp);
    if (sip_txn_respond(txn, &r) != 0)
        return;
    s_detach(&leg->reinvite);
    leg->reinvite = txn;
    leg->reinvite_cseq = leg->dlg.remote_cseq;
    leg->nosdp_cseq_valid = 1;
    sip_txn_set_owner(txn, leg);
    td_log(LOG_DEBUG, "%s: re-INVITE without SDP answered with the current session",
           leg->channel);
}

/* A re-INVITE or UPDATE in an early dialog (the INVITE not answered yet).
 * Tandem answers the first offer only in the 200 (no reliable provisionals),
 * so the INVITE's offer/answer is never complete here:
 *  - on a caller's leg (we are the INVITE's UAS, its offer unanswered): a
 *    second INVITE gets 500 with Retry-After (RFC 3261 14.2), so does an
 *    UPDATE with an offer (RFC 3311 5.2);
 *  - on a callee's leg (our INVITE is in progress, our offer unanswered):
 *    491 for either (RFC 3261 14.2, RFC 3311 5.2);
 *  - an UPDATE without a body (a session refresh, RFC 4028) gets 200.
 * chan_sip answers every UPDATE 501 (it takes them only for connected-line
 * updates) and a second INVITE 491/500 as above; we follow the RFCs for
 * UPDATE, which Tandem supports once the call is up. The Retry-After is 0-10
 * s at random, as 14.2 says. */
static void s_early_offer(sip_leg_t *leg, sip_txn_t *txn, osip_message_t *req, int update)
{
    size_t len = 0;
    if (update && !sip_msg_body(req, &len)) {
        sip_msg_reply(txn, 200, leg->dlg.local_tag, NULL, NULL, NULL);
        return;
    }
    if (leg->outgoing) {
        sip_msg_reply(txn, 491, leg->dlg.local_tag, "offer while our INVITE is in progress",
                      NULL, NULL);
        return;
    }
    char after[8];
    snprintf(after, sizeof after, "%ld", random() % 11);
    sip_msg_reply(txn, 500, leg->dlg.local_tag, "offer before the INVITE is answered",
                  "Retry-After", after);
}

/* A re-INVITE (RFC 3261 14.2) on an established leg. With SDP, the offer
 * goes to the router (Reinvite); its ReinviteAnswer answers it. A re-INVITE
 * while one of ours is pending on the dialog (or waits to be sent again
 * after a 491) is glare: 491; while the phone's previous one is
 * unanswered: 500 with Retry-After. */
static void s_on_reinvite(sip_leg_t *leg, sip_txn_t *txn, osip_message_t *req, int update)
{
    if (leg->state != LEG_UP) {
        s_early_offer(leg, txn, req, update);
        return;
    }
    if (leg->reinvite_out || (leg->retry && evtimer_pending(leg->retry, NULL))) {
        td_log(LOG_INFO, "%s: re-INVITE while ours is pending: 491", leg->channel);
        sip_msg_reply(txn, 491, leg->dlg.local_tag, NULL, NULL, NULL);
        return;
    }
    if (leg->reinvite_in) {
        sip_msg_reply(txn, 500, leg->dlg.local_tag, "a previous INVITE is in progress",
                      "Retry-After", "1");
        return;
    }
    if (s_heap_used_up(leg, update ? "UPDATE" : "re-INVITE")) {
        sip_msg_reply(txn, 500, leg->dlg.local_tag, "this call's session memory is used up",
                      NULL, NULL);
        return;
    }
    const char *target = leg->dlg.remote_target;
    sip_dialog_refresh(&leg->dlg, &leg->arena, req);
    if (target != leg->dlg.remote_target && (!target || !leg->dlg.remote_target
                                             || strcmp(target, leg->dlg.remote_target) != 0))
        s_store_update(leg);                /* a new remote target */
    s_st_arm(leg);                          /* any re-INVITE or UPDATE refreshes the session */
    size_t sdp_len = 0;
    const char *body = sip_msg_body(req, &sdp_len);
    if (!body || !sdp_len) {
        if (update) {                       /* a refresh */
            osip_message_t *r = sip_txn_make_response(txn, 200, leg->dlg.local_tag);
            if (r) {
                s_st_headers(leg, r);
                sip_txn_respond(txn, &r);
            }
        }
        else if (!leg->last_sdp)
            sip_msg_reply(txn, 488, leg->dlg.local_tag, "no session description to offer",
                          NULL, NULL);
        else
            s_reinvite_no_sdp(leg, txn);
        return;
    }
    /* A session refresh repeats the phone's last SDP (RFC 4028): its copy
     * serves again, so refreshes do not add to what the call keeps. */
    const char *sdp = leg->router_done ? NULL
                    : s_same_as_remote(leg, body, sdp_len) ? leg->remote_sdp
                    : sip_arena_strndup(&leg->arena, body, sdp_len);
    if (!sdp) {
        sip_msg_reply(txn, leg->router_done ? 488 : 500, leg->dlg.local_tag, NULL, NULL, NULL);
        return;
    }
    leg->reinvite_in = txn;
    leg->in_update = update ? 1 : 0;
    leg->remote_offer = sdp;
    if (!update)
        leg->reinvite_cseq = leg->dlg.remote_cseq;
    sip_txn_set_owner(txn, leg);
    s_reinvite_to_router(leg, sdp, 0);
    td_log(LOG_INFO, "%s: %s from the %s: offer to the router", leg->channel,
           update ? "UPDATE" : "re-INVITE", leg->outgoing ? "callee" : "caller");
}

/* router -> signaling: the answer to the phone's pending re-INVITE. */
void sip_legs_on_reinvite_answer(sip_legs_t *self, const td_bus_hdr_t *hdr,
                                 const Tandem__ReinviteAnswer *msg)
{
    sip_leg_t *leg = s_find_hdr(self, hdr);
    if (!leg) {
        s_reply_unknown(self, hdr, "ReinviteAnswer");
        return;
    }
    sip_txn_t *txn = leg->reinvite_in;
    if (!txn) {
        td_log(LOG_DEBUG, "%s: ReinviteAnswer without a re-INVITE: ignored", leg->channel);
        return;
    }
    leg->reinvite_in = NULL;
    unsigned status = msg->status ? msg->status : 500;
    const char *what = leg->in_update ? "UPDATE" : "re-INVITE";
    if (status < 200 || status >= 300 || !msg->sdp || !*msg->sdp) {
        if (status < 300)
            status = 500;
        td_log(LOG_INFO, "%s: %s refused: %u", leg->channel, what, status);
        sip_msg_reply(txn, (int)status, leg->dlg.local_tag, NULL, NULL, NULL);
        sip_txn_set_owner(txn, NULL);
        if (leg->replacing) {               /* the leg it took over is gone already */
            leg->replacing = 0;
            s_end(leg, 1, sip_cause_from_status((int)status), status);
            return;
        }
        s_maybe_reap(leg);
        return;
    }
    int put = 0;
    if (leg->replacing) {
        leg->replacing = 0;
        leg->state = LEG_UP;
        leg->tp = sip_txn_transport(txn);
        s_set_router(leg, hdr->peer);
        put = 1;
        td_log(LOG_INFO, "%s: answered (it replaces a dialog)", leg->channel);
    }
    struct sockaddr_in me;
    osip_message_t *r = sip_txn_make_response(txn, 200, leg->dlg.local_tag);
    if (!r) {
        sip_txn_set_owner(txn, NULL);
        return;
    }
    s_local(leg, &me);
    sip_msg_add_contact(r, leg->contact_user, &me);
    osip_message_set_header(r, "Allow", SIP_MSG_ALLOW);
    s_st_headers(leg, r);
    s_set_sdp(leg, r, msg->sdp);
    const char *kept = leg->last_sdp && msg->sdp && strcmp(leg->last_sdp, msg->sdp) == 0
                     ? leg->last_sdp : sip_arena_strdup(&leg->arena, msg->sdp);
    if (kept)
        leg->last_sdp = kept;
    if (sip_txn_respond(txn, &r) != 0) {
        sip_txn_set_owner(txn, NULL);
        return;
    }
    leg->remote_sdp = leg->remote_offer;
    if (put)
        s_store_put(leg);
    else
        s_store_update(leg);
    td_log(LOG_INFO, "%s: %s answered", leg->channel, what);
    if (leg->in_update) {
        sip_txn_set_owner(txn, NULL);       /* a non-INVITE transaction: no ACK */
        return;
    }
    s_detach(&leg->reinvite);
    leg->reinvite = txn;                    /* until its ACK */
    leg->nosdp_cseq_valid = 0;
}

/* Tell the router how our re-INVITE ended. */
static void s_reinvite_result(sip_leg_t *leg, unsigned status, const char *sdp)
{
    if (leg->router_done)
        return;
    Tandem__ReinviteAnswer a = TANDEM__REINVITE_ANSWER__INIT;
    a.status = status;
    a.sdp = (char *)(sdp ? sdp : "");
    td_bus_send_reinvite_answer(leg->call->env.bus, s_router(leg), leg->bus_id, leg->no, &a);
    if (leg->xfer_sdp && !leg->reinvite_out) {     /* a transferee's new session waited */
        const char *next = leg->xfer_sdp;
        leg->xfer_sdp = NULL;
        s_xfer_media(leg, next);
    }
}

/* The credentials for an outgoing leg's peer (chan_sip's do_proxy_auth:
 * defaultuser or the section name, remotesecret or secret). 0, or -1 when
 * the leg has no such peer or has answered MAX_AUTHTRIES challenges. */
static int s_creds(sip_leg_t *leg, const char **user, const char **secret)
{
    const sip_peer_t *peer = leg->outgoing && leg->peer
                           ? sip_conf_peer(leg->call->env.conf, leg->peer) : NULL;
    if (!peer || leg->authtries >= MAX_AUTHTRIES)
        return -1;
    *user = peer->defaultuser[0] ? peer->defaultuser : peer->name;
    *secret = peer->remotesecret[0] ? peer->remotesecret : peer->secret;
    return 0;
}

/* Send the router's offer in a re-INVITE on the leg's dialog, answering the
 * challenge ch when not NULL. 0 or -1. */
static int s_send_reinvite(sip_leg_t *leg, sip_auth_remote_t *ch)
{
    struct sockaddr_in me;
    const char *user = NULL, *secret = NULL;
    if (ch && s_creds(leg, &user, &secret) != 0)
        return -1;
    osip_message_t *inv = sip_dialog_request(&leg->dlg, "INVITE", ++leg->dlg.local_cseq);
    if (!inv)
        return -1;
    if (ch && sip_auth_remote_answer(ch, inv, user, secret) != 0) {
        osip_message_free(inv);
        return -1;
    }
    s_local(leg, &me);
    sip_msg_add_contact(inv, leg->contact_user, &me);
    osip_message_set_header(inv, "Allow", SIP_MSG_ALLOW);
    if (leg->st_interval && leg->st_peer) {
        char v[48];
        snprintf(v, sizeof v, "%d;refresher=%s", leg->st_interval, leg->st_us ? "uac" : "uas");
        osip_message_set_header(inv, "Supported", "timer");
        osip_message_set_header(inv, "Session-Expires", v);
    }
    s_set_sdp(leg, inv, leg->reoffer);
    leg->reinvite_out = sip_txn_request(leg->call->env.layer, &inv, &leg->dlg.peer, leg);
    if (!leg->reinvite_out)
        return -1;
    leg->reinvite_out_cseq = leg->dlg.local_cseq;
    s_store_update(leg);                    /* the local CSeq moved */
    td_log(LOG_INFO, "%s: re-INVITE sent", leg->channel);
    return 0;
}

static void s_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sip_leg_t *leg = arg;
    if (leg->state != LEG_UP)
        return;
    if (leg->reinvite_in || s_send_reinvite(leg, NULL) != 0)
        s_reinvite_result(leg, 491, NULL);
}

/* router -> signaling: re-INVITE this leg with the worker's offer. */
void sip_legs_on_reinvite(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Reinvite *msg)
{
    sip_leg_t *leg = s_find_hdr(self, hdr);
    if (!leg) {
        s_reply_unknown(self, hdr, "Reinvite");
        return;
    }
    if (leg->state != LEG_UP || leg->router_done) {
        s_reinvite_result(leg, 481, NULL);
        return;
    }
    if (leg->reinvite_out || leg->reinvite_in) {
        td_log(LOG_INFO, "%s: the router's re-INVITE meets one in progress: 491", leg->channel);
        s_reinvite_result(leg, 491, NULL);
        return;
    }
    const char *sdp = msg->sdp ? msg->sdp : "";
    char cut[OFFER_MAX];
    if (leg->allow.n) {
        sip_peer_t p;
        memset(&p, 0, sizeof p);
        p.codec_order = leg->allow;
        const char *o = s_offer_for(&p, sdp, cut, sizeof cut);
        if (o)
            sdp = o;
    }
    leg->reoffer = sip_arena_strdup(&leg->arena, sdp);
    if (!leg->reoffer || s_send_reinvite(leg, NULL) != 0) {
        td_log(LOG_WARNING, "%s: cannot send the re-INVITE", leg->channel);
        s_reinvite_result(leg, 500, NULL);
    }
}

/* The phone answered our re-INVITE. */
static void s_reinvite_response(sip_leg_t *leg, osip_message_t *resp)
{
    int status = resp->status_code;
    if (status < 200)
        return;
    s_detach(&leg->reinvite_out);
    sip_auth_remote_t ch;
    if ((status == 401 || status == 407) && leg->state == LEG_UP
        && sip_auth_remote_read(resp, &ch) == 0 && s_send_reinvite(leg, &ch) == 0) {
        leg->authtries++;                   /* chan_sip's do_proxy_auth on a re-INVITE */
        td_log(LOG_INFO, "%s: %d to our re-INVITE: again with credentials (try %u)",
               leg->channel, status, leg->authtries);
        return;
    }
    if (status == 401 || status == 407)
        td_log(LOG_NOTICE, "%s: Failed to authenticate on re-INVITE", leg->channel);
    else
        leg->authtries = 0;
    if (s_xfer_answered(leg, resp))
        return;
    if (leg->st_refreshing) {
        leg->st_refreshing = 0;
        if (status < 300) {
            leg->ack_cseq = leg->reinvite_out_cseq;
            s_send_ack(leg, leg->ack_cseq);
            td_log(LOG_DEBUG, "%s: session refreshed", leg->channel);
        } else if (status == 408 || status == 481) {
            td_log(LOG_NOTICE, "%s: session refresh answered %d: BYE", leg->channel, status);
            s_send_bye(leg);                /* RFC 4028 section 10 */
            s_end(leg, 1, SIP_CAUSE_NORMAL_CLEARING, (unsigned)status);
        } else {
            td_log(LOG_NOTICE, "%s: session refresh answered %d", leg->channel, status);
            s_maybe_reap(leg);
        }
        return;
    }
    if (status < 300) {
        leg->ack_cseq = leg->reinvite_out_cseq;
        s_send_ack(leg, leg->ack_cseq);
        size_t sdp_len = 0;
        const char *body = s_body(leg, resp, &sdp_len);
        char *sdp = body ? sip_arena_strndup(&leg->arena, body, sdp_len) : NULL;
        if (sdp) {
            leg->last_sdp = leg->reoffer;
            leg->remote_sdp = sdp;
            s_store_update(leg);
            td_log(LOG_INFO, "%s: our re-INVITE answered", leg->channel);
            s_reinvite_result(leg, 200, sdp);
        } else {
            td_log(LOG_NOTICE, "%s: 2xx to our re-INVITE without SDP", leg->channel);
            s_reinvite_result(leg, 488, NULL);
        }
        return;
    }
    if (status == 491 && leg->state == LEG_UP) {
        /* RFC 3261 14.1: the owner of the Call-ID (the dialog's UAC: our
         * outgoing legs) waits 2.1-4 s, the other side 0-2 s, in 10 ms units. */
        if (!leg->retry)
            leg->retry = evtimer_new(leg->call->env.base, s_on_retry, leg);
        if (leg->retry) {
            unsigned ms = leg->outgoing ? 2100 + (unsigned)(random() % 191) * 10
                                        : (unsigned)(random() % 201) * 10;
            struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
            evtimer_add(leg->retry, &tv);
            td_log(LOG_INFO, "%s: 491 to our re-INVITE: again in %u ms", leg->channel, ms);
            return;
        }
    }
    if (status == 481 || status == 408) {
        /* RFC 5057 section 5.1: both end the dialog usage. chan_sip's
         * handle_response_invite queues a hangup with hangup_sip2cause
         * (481: INTERWORKING, 408: NO_USER_RESPONSE). No BYE after a 481,
         * whose dialog is gone; a BYE after a 408, as chan_sip's hangup. */
        td_log(LOG_NOTICE, "%s: our re-INVITE answered %d: hanging up", leg->channel, status);
        if (status == 408)
            s_send_bye(leg);
        s_end(leg, 1, sip_cause_from_status(status), (unsigned)status);
        return;
    }
    td_log(LOG_INFO, "%s: our re-INVITE refused: %d", leg->channel, status);
    s_reinvite_result(leg, (unsigned)status, NULL);
    s_maybe_reap(leg);
}

void sip_legs_in_dialog(sip_legs_t *self, sip_txn_t *txn, osip_message_t *req)
{
    const char *method = req->sip_method;
    if (!txn) {
        if (strcmp(method, "ACK") == 0)
            s_on_ack(self, req);
        return;
    }
    char cid[256];
    sip_leg_t *leg = s_find_sip(self, sip_msg_call_id(req, cid, sizeof cid), sip_msg_to_tag(req));
    if (!leg || leg->state == LEG_ENDED
        || (leg->dlg.remote_tag && sip_msg_from_tag(req)
            && strcmp(leg->dlg.remote_tag, sip_msg_from_tag(req)) != 0)) {
        sip_msg_reply(txn, 481, NULL, "no such dialog", NULL, NULL);
        return;
    }
    uint32_t cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
    if (cseq < leg->dlg.remote_cseq) {
        sip_msg_reply(txn, 500, NULL, "CSeq lower than the last one in this dialog",
                      "Retry-After", "1");
        return;
    }
    leg->dlg.remote_cseq = cseq;
    if (leg->dlg.pinned)          /* nat=force_rport: answers go where the dialog's requests go */
        sip_txn_force_rport(txn, &leg->dlg.peer);
    if (strcmp(method, "BYE") == 0)
        s_on_bye(leg, txn);
    else if (strcmp(method, "INVITE") == 0)
        s_on_reinvite(leg, txn, req, 0);
    else if (strcmp(method, "UPDATE") == 0)
        s_on_reinvite(leg, txn, req, 1);
    else if (strcmp(method, "REFER") == 0)
        s_on_refer(leg, txn, req);
    else if (strcmp(method, "INFO") == 0 || strcmp(method, "OPTIONS") == 0)
        sip_msg_reply(txn, 200, NULL, NULL, NULL, NULL);
    else
        sip_msg_reply(txn, 501, NULL, "method not supported in a dialog", NULL, NULL);
}

/* ---- transfer (REFER) ------------------------------------------------------
 *
 * Blind transfer, as chan_sip's handle_request_refer: checks (603 for a
 * REFER from a leg that is not up or whose peer has allowtransfer=no, 491
 * while one is pending, 400/603 from sip_refer_parse), then 202 Accepted,
 * a NOTIFY "100 Trying" (RFC 3515 2.4.4; chan_sip sends only the final
 * one), and Transfer to the router, which checks the extension and answers
 * with TransferResult. On 200 the transferee's dialog becomes leg 0 of a
 * new call (ChannelNew; its media follows in a re-INVITE with the new
 * session, s_xfer_media), the transferor gets NOTIFY "200 OK" and is
 * expected to hang up: chan_sip sets SIP_DEFER_BYE_ON_TRANSFER and sends no
 * BYE of its own. Unlike chan_sip, which forgets the dialog silently after
 * 32 s, a transferor still up then gets a BYE, so it does not stay in a
 * call without media. */

#define XFER_BYE_MS 32000          /* chan_sip: sip_scheddestroy(DEFAULT_TRANS_TIMEOUT) */

static void s_reply_reason(sip_leg_t *leg, sip_txn_t *txn, int status, const char *reason)
{
    osip_message_t *r = sip_txn_make_response(txn, status, leg->dlg.local_tag);
    if (!r)
        return;
    if (reason) {
        osip_free(r->reason_phrase);
        r->reason_phrase = osip_strdup(reason);
    }
    if (status >= 300)
        td_log(LOG_INFO, "%s: REFER refused: %d %s", leg->channel, status, reason ? reason : "");
    sip_txn_respond(txn, &r);
}

static void s_notify(sip_leg_t *leg, const char *status, int terminated)
{
    struct sockaddr_in me;
    s_local(leg, &me);
    osip_message_t *n = sip_refer_notify(&leg->dlg, leg->refer_cseq, status, terminated,
                                         leg->contact_user, &me);
    if (!n || !sip_txn_request(leg->call->env.layer, &n, &leg->dlg.peer, NULL))
        td_log(LOG_WARNING, "%s: cannot send NOTIFY (%s)", leg->channel, status);
    else
        td_log(LOG_DEBUG, "%s: NOTIFY %s", leg->channel, status);
}

void sip_legs_refer_outside(sip_legs_t *self, sip_txn_t *txn)
{
    (void)self;
    char tag[SIP_MSG_TOKEN_LEN + 1];
    osip_message_t *r = sip_txn_make_response(txn, 603, sip_msg_token(tag, sizeof tag));
    if (!r)
        return;
    osip_free(r->reason_phrase);
    r->reason_phrase = osip_strdup("Declined (No dialog)");
    td_log(LOG_INFO, "REFER outside a dialog: 603");
    sip_txn_respond(txn, &r);
}

static void s_refer_attended(sip_leg_t *leg, const sip_replaces_t *rep);

static void s_on_refer(sip_leg_t *leg, sip_txn_t *txn, osip_message_t *req)
{
    sip_legs_t *self = leg->call;
    const sip_peer_t *peer = leg->peer ? sip_conf_peer(self->env.conf, leg->peer) : NULL;
    const sip_general_t *g = sip_conf_general(self->env.conf);
    if (leg->state != LEG_UP || leg->router_done) {
        s_reply_reason(leg, txn, 603, "Declined (No dialog)");
        return;
    }
    if (!(peer ? peer->allowtransfer : g->allowtransfer)) {
        s_reply_reason(leg, txn, 603, "Declined (policy)");
        return;
    }
    if (leg->refer_pending) {
        s_reply_reason(leg, txn, 491, "Request pending");
        return;
    }
    sip_refer_t r;
    int st = sip_refer_parse(req, &r);
    if (st == 603) {
        s_reply_reason(leg, txn, 603, "Declined (Non sip: uri)");
        return;
    }
    if (st) {
        s_reply_reason(leg, txn, 400, "Bad Request (Refer-to missing or malformed)");
        return;
    }
    leg->refer_cseq = leg->dlg.remote_cseq;
    if (r.attended) {
        s_reply_reason(leg, txn, 202, "Accepted");
        s_notify(leg, "100 Trying", 0);
        s_refer_attended(leg, &r.replaces);
        return;
    }
    s_reply_reason(leg, txn, 202, "Accepted");
    s_notify(leg, "100 Trying", 0);
    leg->refer_pending = 1;
    Tandem__Transfer m = TANDEM__TRANSFER__INIT;
    m.exten = r.exten;
    m.context = (char *)(peer && peer->context[0] ? peer->context : g->context);
    m.referred_by = r.referred_by;
    td_log(LOG_INFO, "%s: REFER to %s@%s: to the router", leg->channel, r.exten, r.domain);
    td_bus_send_transfer(self->env.bus, s_router(leg), leg->bus_id, leg->no, &m);
}

static void s_on_xfer_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sip_leg_t *leg = arg;
    s_context(leg);
    if (leg->state == LEG_UP) {
        td_log(LOG_INFO, "%s: transferred and still up after %d s: BYE", leg->channel,
               XFER_BYE_MS / 1000);
        s_send_bye(leg);
        s_end(leg, 0, 0, 0);
    }
    td_log_set_context(NULL);
}

/* The transfer succeeded: NOTIFY 200 to the transferor, which is expected
 * to hang up itself (chan_sip's SIP_DEFER_BYE_ON_TRANSFER); if it is still
 * up XFER_BYE_MS later, our BYE. */
static void s_xfer_done(sip_leg_t *leg)
{
    s_notify(leg, "200 OK", 1);
    if (!leg->xfer_timer)
        leg->xfer_timer = evtimer_new(leg->call->env.base, s_on_xfer_timer, leg);
    if (leg->xfer_timer) {
        struct timeval tv = { XFER_BYE_MS / 1000, (XFER_BYE_MS % 1000) * 1000 };
        evtimer_add(leg->xfer_timer, &tv);
    }
}

/* The transferee's dialog becomes leg 0 of a new call in (context, exten). */
static void s_xfer_start(sip_leg_t *leg, const char *exten, const char *context)
{
    sip_legs_t *self = leg->call;
    char id[128], num[96], name[96], src[32], sdp[OFFER_MAX];
    const sip_peer_t *peer = leg->peer ? sip_conf_peer(self->env.conf, leg->peer) : NULL;
    s_unlink(leg);
    int stored = leg->stored;
    s_store_del(leg);                       /* kept again under its new call id */
    snprintf(id, sizeof id, "%s-%lx-%x", self->env.identity, self->start, ++self->counter);
    const char *old = leg->bus_id;
    leg->bus_id = sip_arena_strdup(&leg->arena, id);
    if (!leg->bus_id)
        leg->bus_id = old;
    leg->no = 0;
    leg->router = NULL;                     /* a new call: its own owner (s_router) */
    s_link(leg);
    if (stored)
        s_store_put(leg);
    if (leg->cid_num) {                     /* the caller: its caller ID as it called */
        snprintf(num, sizeof num, "%s", leg->cid_num);
        snprintf(name, sizeof name, "%s", leg->cid_name ? leg->cid_name : "");
    } else {                                /* a callee: its peer's callerid, else its name */
        snprintf(num, sizeof num, "%s", peer && peer->cid_num[0] ? peer->cid_num
                                        : leg->peer ? leg->peer : "");
        snprintf(name, sizeof name, "%s", peer ? peer->cid_name : "");
    }
    if (!leg->remote_sdp || sip_refer_sendrecv(leg->remote_sdp, sdp, sizeof sdp) < 0)
        snprintf(sdp, sizeof sdp, "%s", leg->remote_sdp ? leg->remote_sdp : "");
    sip_msg_addr(&leg->dlg.peer, src, sizeof src);
    if (leg->reinvite_in) {
        /* the phone's own offer went to the old call, which will not answer
         * it: RFC 3261 14.1, it may try again (on the new call) */
        sip_msg_reply(leg->reinvite_in, 491, leg->dlg.local_tag, "the call was transferred",
                      NULL, NULL);
        s_detach(&leg->reinvite_in);
    }
    leg->xfer_media = 1;
    Tandem__ChannelNew m = TANDEM__CHANNEL_NEW__INIT;
    m.channel = (char *)leg->channel;
    m.caller_num = num;
    m.caller_name = name;
    m.exten = (char *)exten;
    m.context = (char *)context;
    m.sdp = sdp;
    m.sip_legs_id = (char *)leg->dlg.call_id;
    m.peer = (char *)(leg->peer ? leg->peer : "");
    m.source = src;
    uint32_t codecs[2];
    size_t nc = leg->allow.n < 2 ? leg->allow.n : 2;
    for (size_t i = 0; i < nc; i++)
        codecs[i] = leg->allow.pt[i];
    m.codecs = codecs;
    m.n_codecs = nc;
    td_log(LOG_INFO, "%s: transferred: call %s to %s@%s", leg->channel, leg->bus_id, exten,
           context);
    if (td_bus_send_channel_new(self->env.bus, s_router(leg), leg->bus_id, 0, &m) != 0) {
        s_send_bye(leg);
        s_end(leg, 0, 0, 0);
    }
}

void sip_legs_on_transfer_result(sip_legs_t *self, const td_bus_hdr_t *hdr,
                                 const Tandem__TransferResult *msg)
{
    sip_leg_t *leg = s_find_hdr(self, hdr);
    if (!leg || !leg->refer_pending) {
        /* The transferor hung up meanwhile: the router has let go of the
         * call all the same, and the transferee still goes on. */
        sip_leg_t *t = msg->status == 200 ? s_find_bus(self, hdr->call_id, msg->transferee)
                                          : NULL;
        td_log(LOG_INFO, "TransferResult %u for %s/%u, whose REFER is gone", msg->status,
               hdr->call_id, hdr->leg);
        if (t && t->state == LEG_UP && !t->router_done)
            s_xfer_start(t, msg->exten ? msg->exten : "", msg->context ? msg->context : "");
        return;
    }
    leg->refer_pending = 0;
    if (msg->status != 200) {
        const char *frag = msg->status == 404 ? "404 Not found"
                         : msg->status == 503 ? "503 Service Unavailable (can't handle one-legged xfers)"
                         : msg->status == 403 ? "403 Forbidden" : "500 Internal Server Error";
        td_log(LOG_INFO, "%s: transfer failed: %s", leg->channel, frag);
        if (leg->state == LEG_UP)
            s_notify(leg, frag, 1);
        return;
    }
    sip_leg_t *t = s_find_bus(self, hdr->call_id, msg->transferee);
    /* The router let go of both legs: the transferor is ours to release. */
    leg->router_done = 1;
    if (leg->state == LEG_UP) {
        s_xfer_done(leg);
    }
    if (!t || t->state != LEG_UP) {
        /* (or on another signaling node, which the router told too) */
        td_log(LOG_INFO, "%s: transferee leg %u is not here", leg->channel, msg->transferee);
        if (t)
            t->router_done = 1;
        return;
    }
    s_xfer_start(t, msg->exten ? msg->exten : "", msg->context ? msg->context : "");
}

/* The new call's first SDP for a transferee: a re-INVITE on its dialog
 * (o= continuing the dialog's, RFC 3264 8). Later Answer/Progress pass. */
static void s_xfer_media(sip_leg_t *leg, const char *sdp)
{
    if (!sdp || !*sdp || leg->state != LEG_UP)
        return;
    leg->xfer_media = 0;
    char out[OFFER_MAX];
    if (sip_refer_restamp(leg->last_sdp, sdp, out, sizeof out) < 0)
        snprintf(out, sizeof out, "%s", sdp);
    if (leg->reinvite_out) {
        /* the old call's re-INVITE (a relayed hold, say) is still out: ours
         * goes when it ends (s_reinvite_result) */
        leg->xfer_sdp = sip_arena_strdup(&leg->arena, sdp);
        td_log(LOG_INFO, "%s: the transferee's new session waits for a re-INVITE in progress",
               leg->channel);
        return;
    }
    leg->reoffer = sip_arena_strdup(&leg->arena, out);
    leg->xfer_reinvite = 1;
    if (!leg->reoffer || s_send_reinvite(leg, NULL) != 0) {
        leg->xfer_reinvite = 0;
        td_log(LOG_WARNING, "%s: cannot re-INVITE the transferee", leg->channel);
    }
}

/* A final response to the transferee's re-INVITE: 1 when it was that. */
static int s_xfer_answered(sip_leg_t *leg, osip_message_t *resp)
{
    if (!leg->xfer_reinvite)
        return 0;
    leg->xfer_reinvite = 0;
    leg->xfer_tell = leg->xfer_tell && resp->status_code < 300;
    int status = resp->status_code;
    if (status < 300) {
        leg->ack_cseq = leg->reinvite_out_cseq;
        s_send_ack(leg, leg->ack_cseq);
        size_t len = 0;
        const char *body = s_body(leg, resp, &len);
        char *sdp = body ? sip_arena_strndup(&leg->arena, body, len) : NULL;
        leg->last_sdp = leg->reoffer;
        if (sdp)
            leg->remote_sdp = sdp;
        td_log(LOG_INFO, "%s: transferee's media moved", leg->channel);
        if (leg->xfer_tell && sdp && !leg->router_done)
            s_reinvite_to_router(leg, sdp, 1);  /* the worker learns where it is */
    } else
        td_log(LOG_NOTICE, "%s: transferee refused the new session: %d", leg->channel, status);
    s_maybe_reap(leg);
    return 1;
}

/* ---- attended transfer (REFER with Replaces) and INVITE with Replaces -------
 *
 * Both come down to one move: a dialog takes the place of another in the
 * router's call. The router is not asked: the new dialog gets the old one's
 * (call id, leg) on the bus, the old one a BYE, and the media worker learns
 * the new phone's address and codec from a re-offer on that leg, which the
 * router relays to the other party as any re-INVITE. */

/* The dialog a Replaces names (RFC 3891 section 3: the to-tag is our local
 * tag, the from-tag the remote one; the remote tag is not checked on an
 * early dialog, whose forks may differ), or NULL. */
static sip_leg_t *s_replaced(sip_legs_t *self, const sip_replaces_t *rep)
{
    sip_leg_t *l = s_find_sip(self, rep->call_id, rep->to_tag);
    if (!l || l->state == LEG_ENDED)
        return l;
    if (l->dlg.remote_tag && l->state == LEG_UP && strcmp(l->dlg.remote_tag, rep->from_tag) != 0)
        return NULL;
    return l;
}

/* leg takes old's (call id, leg number) on the bus; old is released with a
 * BYE and forgotten by both tables. */
static void s_take_place(sip_leg_t *leg, sip_leg_t *old)
{
    s_unlink(old);
    s_unlink(leg);
    const char *id = sip_arena_strdup(&leg->arena, old->bus_id);
    if (id)
        leg->bus_id = id;
    leg->no = old->no;
    leg->router_done = 0;
    s_link(leg);
    old->router_done = 1;
    if (old->state == LEG_UP)
        s_send_bye(old);
    s_end(old, 0, 0, 0);
}

/* The other live leg of leg's call (the bridged party), or NULL. */
static sip_leg_t *s_other_leg(sip_leg_t *leg)
{
    if (leg->no != 0) {
        sip_leg_t *l = s_find_bus(leg->call, leg->bus_id, 0);
        return l && l->state == LEG_UP && !l->router_done ? l : NULL;
    }
    for (uint32_t k = 1; k <= 64; k++) {
        sip_leg_t *l = s_find_bus(leg->call, leg->bus_id, k);
        if (l && l->state == LEG_UP && !l->router_done)
            return l;
    }
    return NULL;
}

/* chan_sip's local_attended_transfer: the transferee (the other party of
 * the REFER's call) takes the place of the dialog Replaces names, the
 * transferor's other call; the transferor gets NOTIFY 200 and hangs up (as
 * for a blind transfer), the replaced dialog a BYE, and the REFER's call
 * ends on the router (Hangup of the transferor's leg: nothing is sent to the
 * transferee, which has moved). */
static void s_refer_attended(sip_leg_t *leg, const sip_replaces_t *rep)
{
    sip_legs_t *self = leg->call;
    sip_leg_t *target = s_replaced(self, rep);
    if (target == leg) {
        /* get_refer_info: "Got an attempt to replace own Call-ID": 404 */
        s_notify(leg, "404 Not found", 1);
        return;
    }
    if (!target || target->state == LEG_ENDED || target->router_done) {
        s_notify(leg, "481 Call leg/transaction does not exist", 1);
        return;
    }
    sip_leg_t *t = s_other_leg(leg);
    if (!t || target->state != LEG_UP || t == target) {
        /* no bridged transferee, or a target still ringing (Asterisk would
         * hand the ringing call over; not here) */
        s_notify(leg, "503 Service Unavailable", 1);
        return;
    }
    const char *sdp = target->last_sdp;
    td_log(LOG_INFO, "%s: attended transfer: %s takes the place of %s in call %s/%u",
           leg->channel, t->channel, target->channel, target->bus_id, target->no);
    /* The REFER's call is over for the router: the transferor "hangs up". */
    s_send_hangup(leg, SIP_CAUSE_NORMAL_CLEARING, 0);
    s_take_place(t, target);                /* out of the old call before the router's Hangup */
    s_xfer_done(leg);
    /* The transferee's media: the session the replaced phone had. */
    if (sdp && *sdp) {
        t->xfer_tell = 1;
        s_xfer_media(t, sdp);
    }
}

/* An incoming INVITE (leg, linked, no ChannelNew sent yet) with Replaces
 * (RFC 3891, chan_sip's handle_invite_replaces): 0 when it has none (a new
 * call as any), else 1 and it was answered or it took the named dialog's
 * place, its offer going to the router as a re-offer of that leg. */
static int s_replaces(sip_leg_t *leg, sip_txn_t *txn, osip_message_t *invite)
{
    sip_legs_t *self = leg->call;
    sip_replaces_t rep;
    int rc = sip_refer_invite_replaces(invite, &rep);
    if (rc == 1)
        return 0;
    sip_leg_t *old = rc == 0 ? s_replaced(self, &rep) : NULL;
    int status = 0;
    const char *why = NULL;
    if (rc)
        status = 400, why = "Bad Request (Replaces)";
    else if (!old)
        status = 481, why = "Call Leg Does Not Exist (Replaces)";
    else if (old->state == LEG_ENDED || old->state == LEG_CANCELLING || old->router_done)
        status = 603, why = "Declined (Replaces)";  /* RFC 3891 3: already terminated */
    else if (old->state == LEG_UP && rep.early_only)
        status = 486, why = "Busy Here";    /* RFC 3891 3: early-only, but confirmed */
    else if (old->state != LEG_UP && old->outgoing)
        status = 481, why = "Call Leg Does Not Exist (Replaces)";  /* RFC 3891 3: our early dialog */
    else if (old->state != LEG_UP)
        status = 603, why = "Declined (Replaces)";  /* a ringing caller: no pickup here */
    if (status) {
        osip_message_t *r = sip_txn_make_response(txn, status, leg->dlg.local_tag);
        if (r) {
            osip_free(r->reason_phrase);
            r->reason_phrase = osip_strdup(why);
            sip_txn_respond(txn, &r);
        }
        td_log(LOG_INFO, "%s: INVITE with Replaces refused: %d %s", leg->channel, status, why);
        leg->invite = NULL;
        sip_txn_set_owner(txn, NULL);
        leg->router_done = 1;
        s_end(leg, 0, 0, 0);
        return 1;
    }
    td_log(LOG_INFO, "%s: INVITE with Replaces: takes the place of %s in call %s/%u",
           leg->channel, old->channel, old->bus_id, old->no);
    s_take_place(leg, old);
    leg->invite = NULL;                     /* the INVITE is answered as a re-INVITE is */
    leg->reinvite_in = txn;
    leg->in_update = 0;
    leg->remote_offer = leg->remote_sdp;
    leg->reinvite_cseq = leg->dlg.remote_cseq;
    leg->replacing = 1;
    s_reinvite_to_router(leg, leg->remote_sdp ? leg->remote_sdp : "", 0);
    return 1;
}
