/* sip_txn - RFC 3261 section 17 transactions over sip_transport (UDP, TCP, TLS); see sip_txn.h.
 *
 * Each transaction is one struct in a td_map (seeded td_hash over a
 * text key), with two libevent timers made once in s_txn_new: `retx` for the
 * doubling retransmission intervals (A, E, G, 2xx) and `life` for the fixed
 * ones (B, D, F, H, I, J, K, 64*T1 wait for the 2xx ACK), which use a common
 * timeout queue. Two events rather than one because the two run together in
 * most states and only the fixed one benefits from the common queue.
 *
 * Terminated transactions leave the table at once, go on a dead list and are
 * freed by one reaper event after on_terminated, so no handler further up the
 * stack ever holds a freed pointer.
 *
 * Where sip_txn.h leaves room, this file decides:
 * - the CANCEL that sip_txn_cancel() sends runs in a layer-internal NICT: the
 *   TU hears nothing of it (no on_response/on_timeout/on_terminated); once it
 *   is sent the INVITE gets 64*T1 to end, then on_timeout (RFC 3261 9.1);
 * - an ACK that matches an IST which sent a 2xx (same branch, RFC 2543
 *   style) goes to the TU with txn NULL like any 2xx ACK; INVITE
 *   retransmissions in that state are absorbed, the 2xx timer resends;
 * - responses go to the packet's source address (the `received` value), to
 *   the source port with rport, else to the Via's port (5060); maddr is
 *   ignored. A 400 for an unparsable request goes to the source;
 * - our own requests get ";rport" in their top Via;
 * - stats: `retransmits` counts datagrams we sent again, `live` counts
 *   transactions not yet freed (terminated ones wait for the reaper);
 * - CRLF keep-alives are accepted silently (0, not counted);
 * - a server transaction's key holds a hash of the Call-ID besides the
 *   branch, so two calls that reuse a branch (RFC 4475's messages do) are
 *   two transactions;
 * - the layer may not be destroyed from inside one of its own callbacks. */
#define TD_LOG_SUBSYS TD_LOG_TXN   /* td_log() here: [logging] txn= */
#include "td_clock.h"
#include "td_hash.h"
#include "td_map.h"
#include "td_str.h"
#include "sip_txn.h"
#include "sip_raw.h"
#include "sip_transport.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <osipparser2/osip_parser.h>

#include "td_log.h"

#define MAX_DATAGRAM   SIP_TRANSPORT_MAX
#define KEY_MAX        768
#define MAGIC_COOKIE   "z9hG4bK"

typedef enum {
    ST_TRYING,      /* NIST, NICT */
    ST_CALLING,     /* ICT */
    ST_PROCEEDING,
    ST_COMPLETED,
    ST_CONFIRMED,   /* IST after the ACK for a non-2xx */
    ST_ACCEPTED,    /* IST after a 2xx (RFC 6026) */
    ST_TERMINATED
} txn_state_t;

typedef enum {
    EV_REQUEST,     /* a retransmission of the transaction's request */
    EV_ACK,         /* an ACK matching an IST */
    EV_SEND_1XX, EV_SEND_2XX, EV_SEND_FINAL,   /* the TU responds (server) */
    EV_RECV_1XX, EV_RECV_2XX, EV_RECV_FINAL,   /* a response arrives (client) */
    EV_TIMER_RETX,
    EV_TIMER_LIFE,
    EV_ACKED        /* sip_txn_acked() */
} txn_event_t;

struct sip_txn {
    sip_txn_layer_t *layer;
    td_map_node_t node;         /* in layer->table */
    sip_txn_t *next;            /* the dead list once terminated */
    sip_txn_kind_t kind;
    txn_state_t state;
    int last_status;
    int retx_ms;                /* the current retransmission interval */
    unsigned acked : 1;         /* IST: the TU saw the ACK for our 2xx */
    unsigned cancel_pending : 1;/* ICT: CANCEL waits for a provisional */
    unsigned cancel_sent : 1;
    unsigned internal : 1;      /* the layer's own CANCEL: the TU never hears of it */
    osip_message_t *req;        /* the request, kept for the transaction's life */
    char *out;                  /* what a retransmission sends: last response, request or ACK */
    size_t out_len;
    sip_tp_dest_t dest;         /* where responses/requests go, and on which transport */
    void *owner;
    td_timer_t *retx, *life;    /* on the layer's clock (td_clock.h) */
    char key[];
};

struct sip_txn_layer {
    struct event_base *base;
    sip_transport_t *tp;                     /* owned: the bytes below the layer */
    struct event *reaper;
    td_clock_t *clock;                       /* the timers' clock: own_clock or a test's */
    td_clock_t *own_clock;
    sip_txn_handlers_t h;
    void *arg;
    int t1, t2, t4;
    td_map_t table;                          /* sip_txn_t by key */
    size_t count;                            /* td_map_size(&table) */
    sip_txn_t *dead;
    sip_txn_stats_t stats;
    sip_counts_t counts;                     /* by method and code, for metrics */
    void (*remap)(void *arg, const struct sockaddr_in *to, struct sockaddr_in *inout);
    void *remap_arg;
    int force_rport;                         /* [general] nat=force_rport */
    int (*admit)(void *arg);                 /* admission control, or NULL */
    void *admit_arg;
    int admitted;                            /* this datagram was admitted before parsing */
    size_t max_txn;                          /* [security] max_transactions (0: none) */
    sip_txn_screen_t screen;                 /* bans and scanners (sip_ban.h), or zeros */
    void *screen_arg;
    char tx[MAX_DATAGRAM + 256];
    char fix[MAX_DATAGRAM + 1];             /* a datagram mended for the parser */
};

static void s_fsm(sip_txn_t *t, txn_event_t ev, osip_message_t *msg);

/* ---- small helpers ------------------------------------------------------ */

static uint64_t s_random64(void)
{
    static uint64_t state;
    if (state == 0) {
        if (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state || state == 0)
            state = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
    }
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

/* Every branch this process makes starts with MAGIC_COOKIE and this stamp,
 * so a 2xx that matches no transaction can be told apart: ours (a
 * retransmission after the ICT ended: the TU ACKs it again) or a stray that
 * was never ours (RFC 4475 3.1.1.12, 3.3.10: dropped, never ACKed). */
static const char *s_branch_stamp(void)
{
    static char stamp[9];
    if (!stamp[0])
        snprintf(stamp, sizeof stamp, "%08x", (unsigned)(s_random64() >> 32) | 0x10000000u);
    return stamp;
}

char *sip_txn_branch(char *buf, size_t len)
{
    static unsigned counter;
    if (!buf || len == 0)
        return NULL;
    snprintf(buf, len, MAGIC_COOKIE "%s%016llx%x", s_branch_stamp(),
             (unsigned long long)s_random64(), ++counter);
    return buf;
}

/* A To tag for a stateless answer: the random part of a fresh branch. */
static char *s_tag(char *buf, size_t len)
{
    snprintf(buf, len, "%016llx", (unsigned long long)s_random64());
    return buf;
}

/* The To tag of a 503 from admission control: SHED_TAG and a counter, so
 * that the ACK to it is known without any state. */
#define SHED_TAG "td503x"
static char *s_shed_tag(char *buf, size_t len)
{
    static unsigned counter;
    snprintf(buf, len, SHED_TAG "%x", ++counter);
    return buf;
}

static int s_branch_is_ours(const char *branch)
{
    return branch && strncmp(branch, MAGIC_COOKIE, 7) == 0
        && strncmp(branch + 7, s_branch_stamp(), 8) == 0;
}

static void s_set_timer(td_timer_t *timer, int ms)
{
    td_timer_start(timer, (uint32_t)ms);
}

static void s_stop_timers(sip_txn_t *t)
{
    td_timer_stop(t->retx);
    td_timer_stop(t->life);
}

static const char *s_param(osip_list_t *params, const char *name)
{
    osip_generic_param_t *p = NULL;
    if (osip_generic_param_get_byname(params, (char *)name, &p) != 0 || !p)
        return NULL;
    return p->gvalue ? p->gvalue : "";
}

static osip_via_t *s_top_via(const osip_message_t *msg)
{
    return (osip_via_t *)osip_list_get(&msg->vias, 0);
}

static const char *s_branch(osip_via_t *via)
{
    return via ? s_param(&via->via_params, "branch") : NULL;
}

static int s_port_of(const char *s, int dflt)
{
    if (!s || !*s)
        return dflt;
    char *end;
    long p = strtol(s, &end, 10);
    return (*end || p <= 0 || p > 65535) ? dflt : (int)p;
}

static int s_is_digits(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* ---- hash table --------------------------------------------------------- */

static int s_table_eq(const td_map_node_t *node, const void *key)
{
    return strcmp(TD_MAP_ENTRY(node, sip_txn_t, node)->key, key) == 0;
}

static sip_txn_t *s_table_find(sip_txn_layer_t *self, const char *key)
{
    td_map_node_t *n = td_map_find(&self->table, td_hash_str(key), key);
    return n ? TD_MAP_ENTRY(n, sip_txn_t, node) : NULL;
}

static void s_table_insert(sip_txn_layer_t *self, sip_txn_t *t)
{
    td_map_insert(&self->table, &t->node, td_hash_str(t->key));
    self->count++;
}

static void s_table_remove(sip_txn_layer_t *self, sip_txn_t *t)
{
    td_map_remove(&self->table, &t->node);
    self->count--;
}

/* ---- keys (RFC 3261 17.1.3 and 17.2.3) ---------------------------------- */

/* A server key: branch + sent-by + method, ACK folded into INVITE; for a
 * branch without the magic cookie (or with nothing after it: RFC 4475 3.2.1,
 * handled the RFC 2543 way), Call-ID + CSeq + From-tag + sent-by. The
 * Call-ID goes into the branch key too: RFC 4475's messages (and careless
 * clients) reuse one branch across calls, and a new request must not be
 * taken for a retransmission of another call's (a retransmission, CANCEL or
 * ACK always carries its INVITE's Call-ID). Variable-length parts are hashed
 * so that no value, however long, makes a request unkeyable. `method`
 * overrides the request's own (find_invite). -1 if unusable. */
/* Does a From, To or Contact URI carry "?headers"? libosip2 takes them
 * whether or not the URI is inside <>; only then is the raw text looked at
 * (sip_raw_bare_uri_headers), so an ordinary request costs no extra scan. */
static int s_has_uri_headers(const osip_message_t *msg)
{
    if (msg->from && msg->from->url && !osip_list_eol(&msg->from->url->url_headers, 0))
        return 1;
    if (msg->to && msg->to->url && !osip_list_eol(&msg->to->url->url_headers, 0))
        return 1;
    for (int i = 0; !osip_list_eol(&msg->contacts, i); i++) {
        const osip_contact_t *c = osip_list_get(&msg->contacts, i);
        if (c && c->url && !osip_list_eol(&c->url->url_headers, 0))
            return 1;
    }
    return 0;
}

/* The key's digest of its variable-length parts is the seeded td_hash, so
 * that no one can craft two requests (of two calls) with one digest. */

/* The key of a request with an RFC 3261 branch, from its parts (spans, so
 * that sip_raw_head's can be used before any parsing): see s_server_key. */
static int s_key_cookie(const char *host, size_t host_n, const char *port, size_t port_n,
                        const char *cid, size_t cid_n, const char *cid_host, size_t cid_host_n,
                        const char *branch, size_t branch_n, const char *method,
                        char *buf, size_t len)
{
    td_hash_t hs;
    td_hash_begin(&hs);
    td_hash_add_lower(&hs, host, host_n);
    td_hash_add(&hs, "|", 1);
    td_hash_add(&hs, cid, cid_n);
    td_hash_add(&hs, "@", 1);
    td_hash_add(&hs, cid_host, cid_host_n);
    td_hash_add(&hs, "|", 1);
    td_hash_add(&hs, branch, branch_n);
    td_hash_add(&hs, "|", 1);
    td_hash_add_str(&hs, method);           /* the key shows at most 32 of its characters */
    uint64_t h = td_hash_end(&hs);
    char lhost[65];
    size_t n = host_n < sizeof lhost - 1 ? host_n : sizeof lhost - 1;
    for (size_t i = 0; i < n; i++)
        lhost[i] = (char)tolower((unsigned char)host[i]);
    lhost[n] = '\0';
    if (!port)
        port = "5060", port_n = 4;
    int w = snprintf(buf, len, "S|%016llx|%s:%.*s|%.32s", (unsigned long long)h, lhost,
                     (int)(port_n < 16 ? port_n : 16), port, method);
    return (w < 0 || (size_t)w >= len) ? -1 : 0;
}

static int s_server_key(const osip_message_t *req, const char *method, char *buf, size_t len)
{
    osip_via_t *via = s_top_via(req);
    if (!via || !via->host || !req->call_id)
        return -1;
    if (!method)
        method = req->sip_method;
    if (!method)
        return -1;
    if (strcmp(method, "ACK") == 0)
        method = "INVITE";
    const char *branch = s_branch(via);
    const char *cid = req->call_id->number ? req->call_id->number : "";
    const char *cid_host = req->call_id->host ? req->call_id->host : "";
    if (branch && strncmp(branch, MAGIC_COOKIE, 7) == 0 && branch[7])
        return s_key_cookie(via->host, strlen(via->host), via->port,
                            via->port ? strlen(via->port) : 0, cid, strlen(cid),
                            cid_host, strlen(cid_host), branch, strlen(branch), method,
                            buf, len);
    if (!req->cseq || !req->from)
        return -1;
    /* The sent-by host, compared case-blind: hashed whole (however long),
     * its first 64 characters shown in the key. */
    td_hash_t hs;
    td_hash_begin(&hs);
    td_hash_add_lower(&hs, via->host, strlen(via->host));
    char host[65];
    snprintf(host, sizeof host, "%s", via->host);
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *port = via->port ? via->port : "5060";
    td_hash_add(&hs, "|", 1);
    td_hash_add_str(&hs, cid);
    td_hash_add(&hs, "@", 1);
    td_hash_add_str(&hs, cid_host);
    const char *from_tag = s_param(&req->from->gen_params, "tag");
    td_hash_add(&hs, "|", 1);
    td_hash_add_str(&hs, req->cseq->number);
    td_hash_add(&hs, "|", 1);
    td_hash_add_str(&hs, from_tag);
    td_hash_add(&hs, "|", 1);
    td_hash_add_str(&hs, method);
    uint64_t h = td_hash_end(&hs);
    int n = snprintf(buf, len, "L|%016llx|%s:%.16s|%.32s", (unsigned long long)h,
                     host, port, method);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

static int s_client_key(const char *branch, const char *method, char *buf, size_t len)
{
    if (!branch || !method)
        return -1;
    int n = snprintf(buf, len, "C|%s|%s", branch, method);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

/* ---- sending ------------------------------------------------------------ */

/* 0, or -1 on a transport error worth reporting (not a full buffer). */
static int s_send_raw(sip_txn_layer_t *self, const char *buf, size_t len, sip_tp_dest_t *to)
{
    if (sip_transport_send(self->tp, buf, len, to) != 0)
        return -1;
    self->stats.tx++;
    return 0;
}

/* Over TCP or TLS our Contact says so (";transport=tcp|tls"), so the far
 * end's requests in the dialog come back the same way. Every Contact in a
 * message we send is ours except in a REGISTER response (the registered
 * ones) and in a 3xx; a Contact that names a transport is left alone. */
static void s_mark_contacts(osip_message_t *msg, sip_tp_t tp)
{
    if (!MSG_IS_REQUEST(msg)
        && ((msg->cseq && msg->cseq->method && strcmp(msg->cseq->method, "REGISTER") == 0)
            || (msg->status_code >= 300 && msg->status_code < 400)))
        return;
    for (int i = 0; !osip_list_eol(&msg->contacts, i); i++) {
        osip_contact_t *c = osip_list_get(&msg->contacts, i);
        osip_uri_param_t *p = NULL;
        if (!c || !c->url || (c->url->scheme && strcasecmp(c->url->scheme, "sips") == 0)
            || (osip_uri_uparam_get_byname(c->url, "transport", &p) == 0 && p))
            continue;
        osip_uri_uparam_add(c->url, osip_strdup("transport"),
                            osip_strdup(sip_transport_param(tp)));
    }
}

/* Count a message received (in) or sent: a request by its method, a
 * response by its CSeq's method and its code. */
static void s_count(sip_counts_t *c, const osip_message_t *msg, int in)
{
    if (MSG_IS_REQUEST(msg)) {
        sip_method_t m = sip_method_index(msg->sip_method);
        if (in)
            c->requests_in[m]++;
        else
            c->requests_out[m]++;
        return;
    }
    int code = msg->status_code;
    if (code < SIP_CODE_MIN || code >= SIP_CODE_MIN + SIP_CODE_COUNT)
        return;
    sip_method_t m = sip_method_index(msg->cseq ? msg->cseq->method : NULL);
    if (in)
        c->responses_in[m][code - SIP_CODE_MIN]++;
    else
        c->responses_out[m][code - SIP_CODE_MIN]++;
}

/* Serialize msg and send it; when out is given, the text replaces *out
 * (malloc'd, exact size: osip's own buffer is at least 8 KB). */
static int s_send_msg(sip_txn_layer_t *self, osip_message_t *msg,
                      sip_tp_dest_t *to, char **out, size_t *out_len)
{
    char *text = NULL, *copy = NULL;
    size_t len = 0;
    if (to->tp != SIP_TP_UDP)
        s_mark_contacts(msg, to->tp);
    osip_message_force_update(msg);
    if (osip_message_to_str(msg, &text, &len) != 0 || !text)
        return -1;
    osip_free(msg->message);                 /* osip caches a copy of the text: drop it */
    msg->message = NULL;
    msg->message_length = 0;
    osip_message_force_update(msg);
    if (out && (copy = malloc(len + 1)) == NULL) {
        osip_free(text);
        return -1;
    }
    int rc = s_send_raw(self, text, len, to);
    if (rc == 0)
        s_count(&self->counts, msg, 0);
    if (out) {
        memcpy(copy, text, len + 1);
        free(*out);
        *out = copy;
        *out_len = len;
    }
    osip_free(text);
    return rc;
}

static void s_resend(sip_txn_t *t)
{
    if (!t->out)
        return;
    t->layer->stats.retransmits++;
    t->layer->counts.retransmits_out++;
    s_send_raw(t->layer, t->out, t->out_len, &t->dest);
}

void sip_txn_layer_local_addr(sip_txn_layer_t *self, const struct sockaddr_in *to,
                              struct sockaddr_in *out)
{
    sip_transport_local_addr(self->tp, to, sip_transport_choose(self->tp, to), out);
    if (self->remap && to)
        self->remap(self->remap_arg, to, out);
}

void sip_txn_layer_set_nat(sip_txn_layer_t *self, int force_rport,
                           void (*remap)(void *arg, const struct sockaddr_in *to,
                                         struct sockaddr_in *inout), void *arg)
{
    self->force_rport = force_rport;
    self->remap = remap;
    self->remap_arg = arg;
}

/* The transport of a request's next hop (RFC 3263 4.1, without DNS): the
 * top Route's URI when there is one, else the Request-URI; sips: or
 * ;transport=tls is TLS, ;transport=tcp TCP, ;transport=udp UDP; a URI
 * that names none leaves the choice to sip_transport_choose (an open
 * connection to that address, the peer's transport=, else UDP). A response
 * or a request whose URI is unusable goes the same way as no URI. */
static void s_route(sip_txn_layer_t *self, const osip_message_t *msg,
                    const struct sockaddr_in *to, sip_tp_dest_t *d)
{
    d->addr = *to;
    d->conn = 0;
    const osip_uri_t *uri = NULL;
    if (MSG_IS_REQUEST(msg)) {
        const osip_route_t *r = osip_list_get(&msg->routes, 0);
        uri = r && r->url ? r->url : msg->req_uri;
    }
    const char *tp = NULL;
    if (uri) {
        osip_uri_param_t *p = NULL;
        if (osip_uri_uparam_get_byname((osip_uri_t *)uri, "transport", &p) == 0 && p && p->gvalue)
            tp = p->gvalue;
        if (uri->scheme && strcasecmp(uri->scheme, "sips") == 0)
            tp = "tls";
    }
    if (tp && strcasecmp(tp, "tls") == 0)
        d->tp = SIP_TP_TLS;
    else if (tp && strcasecmp(tp, "tcp") == 0)
        d->tp = SIP_TP_TCP;
    else if (tp && strcasecmp(tp, "udp") == 0)
        d->tp = SIP_TP_UDP;
    else
        d->tp = sip_transport_choose(self->tp, to);
}

/* Fill the top Via of an outgoing request when its sent-by is unset. */
static void s_fill_via(sip_txn_layer_t *self, osip_message_t *req, const sip_tp_dest_t *to)
{
    osip_via_t *via = s_top_via(req);
    if (!via)
        return;
    struct sockaddr_in me;                   /* externaddr may bring its own port */
    sip_transport_local_addr(self->tp, &to->addr, to->tp, &me);
    if (self->remap)
        self->remap(self->remap_arg, &to->addr, &me);
    const char *proto = sip_transport_name(to->tp);
    if (!via->protocol || strcasecmp(via->protocol, proto) != 0) {
        osip_free(via->protocol);
        via->protocol = osip_strdup(proto);
    }
    int fill_host = !via->host || !*via->host || strcmp(via->host, "0.0.0.0") == 0;
    if (fill_host) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &me.sin_addr, ip, sizeof ip);
        osip_free(via->host);
        via->host = osip_strdup(ip);
    }
    if ((fill_host && !via->port) || (via->port && strcmp(via->port, "0") == 0)) {
        char port[8];
        snprintf(port, sizeof port, "%d", ntohs(me.sin_port));
        osip_free(via->port);
        via->port = osip_strdup(port);
    }
}

/* RFC 3261 18.2.2 and RFC 3581: mark the request's top Via with where it
 * came from and work out where responses go. */
static void s_fix_via(osip_message_t *req, const struct sockaddr_in *from, struct sockaddr_in *peer,
                      int force_rport)
{
    osip_via_t *via = s_top_via(req);
    char ip[INET_ADDRSTRLEN], port[8];
    inet_ntop(AF_INET, &from->sin_addr, ip, sizeof ip);
    snprintf(port, sizeof port, "%d", ntohs(from->sin_port));
    *peer = *from;
    if (!via)
        return;
    osip_generic_param_t *rport = NULL, *received = NULL;
    osip_generic_param_get_byname(&via->via_params, "rport", &rport);
    osip_generic_param_get_byname(&via->via_params, "received", &received);
    if (!rport && force_rport) {    /* chan_sip's copy_via_headers: received and rport
                                     * as if asked, and the answer goes to the source */
        osip_generic_param_add(&via->via_params, osip_strdup("rport"), NULL);
        osip_generic_param_get_byname(&via->via_params, "rport", &rport);
    }
    int need_received = rport || !via->host || strcmp(via->host, ip) != 0;
    if (need_received) {
        if (received) {
            osip_free(received->gvalue);
            received->gvalue = osip_strdup(ip);
        } else {
            osip_via_set_received(via, osip_strdup(ip));
        }
    }
    if (rport) {
        osip_free(rport->gvalue);
        rport->gvalue = osip_strdup(port);
    } else {
        peer->sin_port = htons((uint16_t)s_port_of(via->port, 5060));
    }
    osip_message_force_update(req);
}

/* A response to req with the headers 8.2.6.2 names; reason NULL = standard. */
static osip_message_t *s_build_response(const osip_message_t *req, int status,
                                        const char *reason, const char *to_tag)
{
    osip_message_t *r = NULL;
    if (!req || status < 100 || status > 699 || osip_message_init(&r) != 0)
        return NULL;
    const char *std = osip_message_get_reason(status);
    osip_message_set_version(r, osip_strdup("SIP/2.0"));
    osip_message_set_status_code(r, status);
    osip_message_set_reason_phrase(r, osip_strdup(reason ? reason : std ? std : "Unknown"));
    int bad = osip_list_clone(&req->vias, &r->vias, (int (*)(void *, void **))osip_via_clone) < 0;
    if (req->from)
        bad |= osip_from_clone(req->from, &r->from) != 0;
    if (req->to) {
        bad |= osip_to_clone(req->to, &r->to) != 0;
        if (!bad && to_tag && !s_param(&r->to->gen_params, "tag"))
            osip_to_set_tag(r->to, osip_strdup(to_tag));
    }
    if (req->call_id)
        bad |= osip_call_id_clone(req->call_id, &r->call_id) != 0;
    if (req->cseq)
        bad |= osip_cseq_clone(req->cseq, &r->cseq) != 0;
    if (status > 100 && status < 300)
        bad |= osip_list_clone(&req->record_routes, &r->record_routes,
                               (int (*)(void *, void **))osip_record_route_clone) < 0;
    if (bad) {
        osip_message_free(r);
        return NULL;
    }
    return r;
}

/* ---- transactions: life cycle ------------------------------------------- */

static void s_on_retx(void *arg)
{
    s_fsm(arg, EV_TIMER_RETX, NULL);
}

static void s_on_life(void *arg)
{
    s_fsm(arg, EV_TIMER_LIFE, NULL);
}

/* Takes ownership of req. NULL if out of memory (req freed). */
static sip_txn_t *s_txn_new(sip_txn_layer_t *self, sip_txn_kind_t kind, const char *key,
                            osip_message_t *req, const sip_tp_dest_t *dest, void *owner)
{
    size_t klen = strlen(key);
    sip_txn_t *t = calloc(1, sizeof *t + klen + 1);
    if (!t) {
        osip_message_free(req);
        return NULL;
    }
    t->layer = self;
    t->kind = kind;
    t->state = kind == SIP_TXN_ICT ? ST_CALLING
             : kind == SIP_TXN_IST ? ST_PROCEEDING : ST_TRYING;
    t->req = req;
    t->dest = *dest;
    t->owner = owner;
    t->retx_ms = self->t1;
    memcpy(t->key, key, klen + 1);
    t->retx = td_timer_new(self->clock, s_on_retx, t);
    t->life = td_timer_new(self->clock, s_on_life, t);
    if (!t->retx || !t->life) {
        td_timer_destroy(&t->retx);
        td_timer_destroy(&t->life);
        osip_message_free(req);
        free(t);
        return NULL;
    }
    s_table_insert(self, t);
    self->stats.live++;
    return t;
}

static void s_txn_free(sip_txn_t *t)
{
    td_timer_destroy(&t->retx);
    td_timer_destroy(&t->life);
    osip_message_free(t->req);
    free(t->out);
    t->layer->stats.live--;
    free(t);
}

/* Out of the table now, freed by the reaper after on_terminated. */
static void s_terminate(sip_txn_t *t)
{
    sip_txn_layer_t *self = t->layer;
    if (t->state == ST_TERMINATED)
        return;
    t->state = ST_TERMINATED;
    s_stop_timers(t);
    s_table_remove(self, t);
    t->next = self->dead;
    self->dead = t;
    event_active(self->reaper, EV_TIMEOUT, 0);
}

static void s_on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sip_txn_layer_t *self = arg;
    sip_txn_t *t = self->dead;
    self->dead = NULL;                  /* handlers may terminate more: next round */
    while (t) {
        sip_txn_t *next = t->next;
        if (!t->internal && self->h.on_terminated)
            self->h.on_terminated(self->arg, t);
        s_txn_free(t);
        t = next;
    }
}

/* ---- the state machines ------------------------------------------------- */

static void s_tu_response(sip_txn_t *t, osip_message_t *msg)
{
    if (msg)
        t->last_status = msg->status_code;
    if (!t->internal && t->layer->h.on_response)
        t->layer->h.on_response(t->layer->arg, t, msg);
}

static void s_tu_timeout(sip_txn_t *t)
{
    if (!t->internal && t->layer->h.on_timeout)
        t->layer->h.on_timeout(t->layer->arg, t);
}

static void s_retx_double(sip_txn_t *t, int cap)
{
    s_resend(t);
    t->retx_ms *= 2;
    if (cap && t->retx_ms > cap)
        t->retx_ms = cap;
    s_set_timer(t->retx, t->retx_ms);
}

/* Once a transaction only absorbs retransmissions (its last message is in
 * t->out and its key in t->key), the parsed request is dead weight: a
 * completed NIST lives 32 s (Timer J), so at a thousand calls a second
 * freeing it early is most of the layer's memory. */
static void s_drop_request(sip_txn_t *t)
{
    osip_message_free(t->req);
    t->req = NULL;
}

static void s_ict_send_ack(sip_txn_t *t, osip_message_t *resp);
static void s_ict_send_cancel(sip_txn_t *t);

static void s_ist(sip_txn_t *t, txn_event_t ev)
{
    sip_txn_layer_t *self = t->layer;
    switch (t->state) {
    case ST_PROCEEDING:
        if (ev == EV_REQUEST)
            s_resend(t);
        else if (ev == EV_SEND_2XX || ev == EV_SEND_FINAL) {
            t->state = ev == EV_SEND_2XX ? ST_ACCEPTED : ST_COMPLETED;
            t->retx_ms = self->t1;
            if (!sip_transport_reliable(t->dest.tp))        /* as chan_sip: none on a stream */
                s_set_timer(t->retx, t->retx_ms);           /* G, or the 2xx resend */
            s_set_timer(t->life, 64 * self->t1);              /* H, or the ACK wait */
        }
        break;                                              /* 1xx: sent already */
    case ST_COMPLETED:
        if (ev == EV_REQUEST)
            s_resend(t);
        else if (ev == EV_ACK) {
            t->state = ST_CONFIRMED;
            s_stop_timers(t);
            s_set_timer(t->life, self->t4);                /* I */
            s_drop_request(t);
        } else if (ev == EV_TIMER_RETX)
            s_retx_double(t, self->t2);
        else if (ev == EV_TIMER_LIFE)
            s_terminate(t);                                 /* H: no ACK came */
        break;
    case ST_CONFIRMED:
        if (ev == EV_TIMER_LIFE)
            s_terminate(t);
        break;                                              /* absorb the rest */
    case ST_ACCEPTED:
        if (ev == EV_TIMER_RETX && !t->acked)
            s_retx_double(t, self->t2);
        else if (ev == EV_ACKED) {
            t->acked = 1;
            td_timer_stop(t->retx);
            s_drop_request(t);
        } else if (ev == EV_TIMER_LIFE) {
            if (!t->acked && self->h.on_ack_timeout)
                self->h.on_ack_timeout(self->arg, t);
            s_terminate(t);
        }
        break;                                              /* INVITE again: absorb */
    default:
        break;
    }
}

static void s_nist(sip_txn_t *t, txn_event_t ev)
{
    switch (t->state) {
    case ST_TRYING:
    case ST_PROCEEDING:
        if (ev == EV_REQUEST && t->state == ST_PROCEEDING)
            s_resend(t);
        else if (ev == EV_SEND_1XX)
            t->state = ST_PROCEEDING;
        else if (ev == EV_SEND_2XX || ev == EV_SEND_FINAL) {
            t->state = ST_COMPLETED;
            s_set_timer(t->life, 64 * t->layer->t1);          /* J */
            s_drop_request(t);
        }
        break;
    case ST_COMPLETED:
        if (ev == EV_REQUEST)
            s_resend(t);
        else if (ev == EV_TIMER_LIFE)
            s_terminate(t);
        break;
    default:
        break;
    }
}

static void s_ict(sip_txn_t *t, txn_event_t ev, osip_message_t *msg)
{
    sip_txn_layer_t *self = t->layer;
    switch (t->state) {
    case ST_CALLING:
    case ST_PROCEEDING:
        if (ev == EV_TIMER_RETX && t->state == ST_CALLING)
            s_retx_double(t, 0);                            /* A */
        else if (ev == EV_TIMER_LIFE) {                     /* B, or no answer to CANCEL */
            s_terminate(t);
            s_tu_timeout(t);
        } else if (ev == EV_RECV_1XX) {
            if (t->state == ST_CALLING) {
                t->state = ST_PROCEEDING;
                s_stop_timers(t);
            }
            if (t->cancel_pending)
                s_ict_send_cancel(t);
            s_tu_response(t, msg);
        } else if (ev == EV_RECV_2XX) {
            s_terminate(t);
            s_tu_response(t, msg);
        } else if (ev == EV_RECV_FINAL) {
            t->state = ST_COMPLETED;
            t->cancel_pending = 0;
            s_stop_timers(t);
            s_ict_send_ack(t, msg);
            s_set_timer(t->life, 64 * self->t1);              /* D */
            s_tu_response(t, msg);
            s_drop_request(t);
        }
        break;
    case ST_COMPLETED:
        if (ev == EV_RECV_FINAL)
            s_resend(t);                                    /* the ACK again */
        else if (ev == EV_TIMER_LIFE)
            s_terminate(t);
        break;
    default:
        break;
    }
}

static void s_nict(sip_txn_t *t, txn_event_t ev, osip_message_t *msg)
{
    sip_txn_layer_t *self = t->layer;
    switch (t->state) {
    case ST_TRYING:
    case ST_PROCEEDING:
        if (ev == EV_TIMER_RETX && t->state == ST_TRYING)
            s_retx_double(t, self->t2);                     /* E */
        else if (ev == EV_TIMER_RETX) {                     /* E, at T2 once proceeding */
            s_resend(t);
            t->retx_ms = self->t2;
            s_set_timer(t->retx, t->retx_ms);
        } else if (ev == EV_TIMER_LIFE) {                   /* F */
            s_terminate(t);
            s_tu_timeout(t);
        } else if (ev == EV_RECV_1XX) {
            t->state = ST_PROCEEDING;
            s_tu_response(t, msg);
        } else if (ev == EV_RECV_2XX || ev == EV_RECV_FINAL) {
            t->state = ST_COMPLETED;
            s_stop_timers(t);
            s_set_timer(t->life, self->t4);                /* K */
            s_tu_response(t, msg);
            s_drop_request(t);
        }
        break;
    case ST_COMPLETED:
        if (ev == EV_TIMER_LIFE)
            s_terminate(t);
        break;                                              /* absorb responses */
    default:
        break;
    }
}

static void s_fsm(sip_txn_t *t, txn_event_t ev, osip_message_t *msg)
{
    switch (t->kind) {
    case SIP_TXN_IST:  s_ist(t, ev); break;
    case SIP_TXN_NIST: s_nist(t, ev); break;
    case SIP_TXN_ICT:  s_ict(t, ev, msg); break;
    case SIP_TXN_NICT: s_nict(t, ev, msg); break;
    }
}

/* ---- client side: requests the layer builds (ACK, CANCEL) ---------------- */

/* An ACK or CANCEL for req (17.1.1.3, 9.1): same Request-URI, Call-ID, From,
 * top Via and CSeq number, `to` as To, and req's Route set. */
static osip_message_t *s_build_sibling(const osip_message_t *req, const char *method,
                                       const osip_to_t *to)
{
    osip_message_t *m = NULL;
    osip_via_t *via = s_top_via(req), *via2 = NULL;
    if (!req->req_uri || !via || !req->call_id || !req->from || !to || !req->cseq
        || !req->cseq->number || osip_message_init(&m) != 0)
        return NULL;
    osip_message_set_version(m, osip_strdup("SIP/2.0"));
    osip_message_set_method(m, osip_strdup(method));
    int bad = osip_uri_clone(req->req_uri, &m->req_uri) != 0
           || osip_via_clone(via, &via2) != 0
           || osip_list_add(&m->vias, via2, -1) < 0
           || osip_call_id_clone(req->call_id, &m->call_id) != 0
           || osip_from_clone(req->from, &m->from) != 0
           || osip_to_clone(to, &m->to) != 0
           || osip_cseq_init(&m->cseq) != 0
           || osip_list_clone(&req->routes, &m->routes,
                              (int (*)(void *, void **))osip_route_clone) < 0
           || osip_message_set_max_forwards(m, "70") != 0;
    if (!bad) {
        osip_cseq_set_number(m->cseq, osip_strdup(req->cseq->number));
        osip_cseq_set_method(m->cseq, osip_strdup(method));
    }
    if (bad) {
        osip_message_free(m);
        return NULL;
    }
    return m;
}

static void s_ict_send_ack(sip_txn_t *t, osip_message_t *resp)
{
    osip_message_t *ack = s_build_sibling(t->req, "ACK", resp && resp->to ? resp->to : t->req->to);
    if (!ack) {
        td_log(LOG_WARNING, "sip_txn: cannot build ACK for %d", resp ? resp->status_code : 0);
        return;
    }
    s_send_msg(t->layer, ack, &t->dest, &t->out, &t->out_len);  /* out: resent on retransmits */
    osip_message_free(ack);
}

static sip_txn_t *s_client_start(sip_txn_layer_t *self, osip_message_t *msg,
                                 const sip_tp_dest_t *to, void *owner, int internal);

static void s_ict_send_cancel(sip_txn_t *t)
{
    t->cancel_pending = 0;
    t->cancel_sent = 1;
    osip_message_t *cancel = s_build_sibling(t->req, "CANCEL", t->req->to);
    if (!cancel || !s_client_start(t->layer, cancel, &t->dest, NULL, 1)) {
        td_log(LOG_WARNING, "sip_txn: cannot send CANCEL");
        return;
    }
    if (t->state == ST_PROCEEDING)          /* 9.1: no final in 64*T1 -> give up */
        s_set_timer(t->life, 64 * t->layer->t1);
}

/* Takes ownership of msg; starts an ICT or NICT. */
static sip_txn_t *s_client_start(sip_txn_layer_t *self, osip_message_t *msg,
                                 const sip_tp_dest_t *to, void *owner, int internal)
{
    char key[KEY_MAX];
    osip_via_t *via = msg ? s_top_via(msg) : NULL;
    const char *branch = s_branch(via);
    if (!self || !to || !via || !MSG_IS_REQUEST(msg) || !msg->sip_method || !msg->req_uri
        || strcmp(msg->sip_method, "ACK") == 0 || !msg->cseq || !msg->cseq->method
        || !branch || strncmp(branch, MAGIC_COOKIE, 7) != 0
        || s_client_key(branch, msg->cseq->method, key, sizeof key) != 0) {
        td_log(LOG_WARNING, "sip_txn: refusing a request without method, CSeq or z9hG4bK branch");
        osip_message_free(msg);
        return NULL;
    }
    if (s_table_find(self, key)) {
        td_log(LOG_WARNING, "sip_txn: branch %s already in use", branch);
        osip_message_free(msg);
        return NULL;
    }
    s_fill_via(self, msg, to);
    if (!s_param(&via->via_params, "rport"))
        osip_generic_param_add(&via->via_params, osip_strdup("rport"), NULL);
    sip_txn_kind_t kind = strcmp(msg->sip_method, "INVITE") == 0 ? SIP_TXN_ICT : SIP_TXN_NICT;
    sip_txn_t *t = s_txn_new(self, kind, key, msg, to, owner);
    if (!t)
        return NULL;
    t->internal = internal;
    int rc = s_send_msg(self, t->req, &t->dest, &t->out, &t->out_len);
    if (!t->out) {                          /* could not even serialize it */
        s_table_remove(self, t);
        s_txn_free(t);
        return NULL;
    }
    if (!sip_transport_reliable(t->dest.tp))
        s_set_timer(t->retx, t->retx_ms);                   /* A or E (none on TCP/TLS) */
    s_set_timer(t->life, 64 * self->t1);                      /* B or F */
    if (rc != 0) {                          /* transport error: time out at once */
        s_stop_timers(t);
        s_set_timer(t->life, 0);            /* on the next turn of the loop */
    }
    return t;
}

/* ---- input -------------------------------------------------------------- */

/* The reason a parsed request cannot be served, or NULL. */
static const char *s_check_request(const osip_message_t *m)
{
    if (!m->req_uri)
        return "Bad Request-URI";
    if (!m->call_id || !m->call_id->number || !*m->call_id->number)
        return "Missing Call-ID Header";
    if (!m->from)
        return "Missing From Header";
    if (!m->to)
        return "Missing To Header";
    if (!m->cseq || !m->cseq->method || !m->cseq->number)
        return "Missing CSeq Header";
    /* RFC 3261 8.1.1.5: the number is less than 2**31 (RFC 4475 3.1.2.4) */
    if (!s_is_digits(m->cseq->number) || strtoull(m->cseq->number, NULL, 10) > 0x7fffffffULL)
        return "Bad CSeq Number";
    /* A CSeq method that differs from the request's is the TU's to answer:
     * 501 if it does not know the method at all, else 400 (RFC 4475
     * 3.1.2.17, 3.1.2.18). Only an ACK, which gets no answer, stops here. */
    if (strcmp(m->cseq->method, m->sip_method) != 0 && strcmp(m->sip_method, "ACK") == 0)
        return "CSeq Method Mismatch";
    return NULL;
}

static void s_reply_stateless(sip_txn_layer_t *self, osip_message_t *req, int status,
                              const char *reason, const sip_tp_dest_t *from)
{
    sip_tp_dest_t peer = *from;
    char tag[40];
    s_fix_via(req, &from->addr, &peer.addr, self->force_rport);
    osip_message_t *r = s_build_response(req, status, reason, s_tag(tag, sizeof tag));
    if (r) {
        s_send_msg(self, r, &peer, NULL, NULL);
        osip_message_free(r);
    }
}

/* The table is full (max_transactions): a stateless 503 with Retry-After,
 * tagged as a shed INVITE's so its ACK is dropped; counted, and logged at
 * most once a minute. */
static void s_refuse_full(sip_txn_layer_t *self, osip_message_t *req, const sip_tp_dest_t *src)
{
    char tag[24];
    sip_tp_dest_t peer = *src;
    self->stats.capped++;
    td_logs_every(TD_LOG_TXN, LOG_WARNING, 60, "sip_txn: %zu transactions, the most "
                  "max_transactions allows: new requests answered 503 (%lu so far; last %s "
                  "from %s)", self->count, self->stats.capped, req->sip_method,
                  inet_ntoa(src->addr.sin_addr));
    s_fix_via(req, &src->addr, &peer.addr, self->force_rport);
    osip_message_t *r = s_build_response(req, 503, "Service Unavailable",
                                         s_shed_tag(tag, sizeof tag));
    if (r) {
        osip_message_set_header(r, "Retry-After", "5");
        s_send_msg(self, r, &peer, NULL, NULL);
        osip_message_free(r);
    }
}

static int s_on_request(sip_txn_layer_t *self, osip_message_t *msg, const sip_tp_dest_t *src,
                        const char *text, size_t len)
{
    char key[KEY_MAX];
    const struct sockaddr_in *from = &src->addr;
    osip_via_t *via = s_top_via(msg);
    int is_ack = strcmp(msg->sip_method, "ACK") == 0;
    if (!via || !via->host || !*via->host) {
        td_logs_limited(TD_LOG_TXN, LOG_NOTICE, 5, "sip_txn: %s from %s without a Via, dropped",
                       msg->sip_method, inet_ntoa(from->sin_addr));
        goto drop;
    }
    const char *reason = s_check_request(msg);
    if (!reason && s_has_uri_headers(msg) && sip_raw_bare_uri_headers(text, len))
        reason = "URI Headers Outside <>";
    if (reason) {
        td_logs_limited(TD_LOG_TXN, LOG_NOTICE, 5, "sip_txn: %s from %s: %s", msg->sip_method,
                       inet_ntoa(from->sin_addr), reason);
        if (is_ack)
            goto drop;
        s_reply_stateless(self, msg, 400, reason, src);
        self->stats.bad_requests++;
        osip_message_free(msg);
        return 0;
    }
    if (s_server_key(msg, NULL, key, sizeof key) != 0)
        goto drop;

    sip_txn_t *t = s_table_find(self, key);
    if (t && !(is_ack && t->kind == SIP_TXN_IST && t->state == ST_ACCEPTED)) {
        if (!is_ack)
            self->counts.retransmits_in++;
        s_fsm(t, is_ack ? EV_ACK : EV_REQUEST, NULL);   /* a retransmission, or ACK to non-2xx */
        osip_message_free(msg);
        return 0;
    }
    if (is_ack && msg->to) {                            /* the ACK to a shed INVITE's 503 */
        const char *tt = s_param(&msg->to->gen_params, "tag");
        if (tt && strncmp(tt, SHED_TAG, sizeof SHED_TAG - 1) == 0) {
            self->stats.shed_acks++;
            osip_message_free(msg);
            return 0;
        }
    }
    if (is_ack) {                                       /* ACK for a 2xx: the TU's */
        if (self->h.on_request)
            self->h.on_request(self->arg, NULL, msg, from);
        osip_message_free(msg);
        return 0;
    }
    if (self->screen.request) {                         /* bans, scanners */
        int verdict = self->screen.request(self->screen_arg, msg, from);
        if (verdict == 403) {
            s_reply_stateless(self, msg, 403, "Forbidden", src);
            osip_message_free(msg);
            return 0;
        }
        if (verdict != 0)
            goto drop;
    }
    int invite = strcmp(msg->sip_method, "INVITE") == 0;
    if (invite && self->admit && !self->admitted && msg->to
        && !s_param(&msg->to->gen_params, "tag")) {
        int retry = self->admit(self->admit_arg);
        if (retry > 0) {                                /* shed: stateless 503 */
            char extra[32], tag[24];
            snprintf(extra, sizeof extra, "%d", retry);
            sip_tp_dest_t peer = *src;
            s_fix_via(msg, from, &peer.addr, self->force_rport);
            osip_message_t *r = s_build_response(msg, 503, "Service Unavailable",
                                                 s_shed_tag(tag, sizeof tag));
            if (r) {
                osip_message_set_header(r, "Retry-After", extra);
                s_send_msg(self, r, &peer, NULL, NULL);
                osip_message_free(r);
            }
            self->stats.shed++;
            osip_message_free(msg);
            return 0;
        }
    }
    if (self->max_txn && self->count >= self->max_txn) {
        s_refuse_full(self, msg, src);       /* issue 12: see sip_txn_layer_set_max */
        osip_message_free(msg);
        return 0;
    }
    sip_tp_dest_t peer = *src;               /* a stream response goes back on its connection */
    s_fix_via(msg, from, &peer.addr, self->force_rport);
    t = s_txn_new(self, invite ? SIP_TXN_IST : SIP_TXN_NIST, key, msg, &peer, NULL);
    if (!t) {
        self->stats.dropped++;
        return -1;
    }
    if (invite)
        sip_txn_reply(t, 100, NULL);
    if (self->h.on_request)
        self->h.on_request(self->arg, t, t->req, from);
    return 0;
drop:
    self->stats.dropped++;
    osip_message_free(msg);
    return -1;
}

static int s_on_response(sip_txn_layer_t *self, osip_message_t *msg)
{
    char key[KEY_MAX];
    int status = msg->status_code;
    const char *branch = s_branch(s_top_via(msg));
    if (status < 100 || status > 699 || !msg->cseq || !msg->cseq->method
        || s_client_key(branch, msg->cseq->method, key, sizeof key) != 0) {
        td_logs_limited(TD_LOG_TXN, LOG_NOTICE, 5, "sip_txn: unusable %d response, dropped", status);
        goto drop;
    }
    sip_txn_t *t = s_table_find(self, key);
    if (!t) {
        /* A 2xx to an INVITE of ours whose transaction has ended goes up to
         * be ACKed again; one whose branch we never made (RFC 4475 3.1.1.12,
         * 3.3.10: a stray, or aimed at a broadcast second Via) is dropped:
         * never ACKed, never forwarded (RFC 3261 18.1.2). */
        if (status >= 200 && status < 300 && strcmp(msg->cseq->method, "INVITE") == 0
            && s_branch_is_ours(branch)) {
            if (self->h.on_response)
                self->h.on_response(self->arg, NULL, msg);  /* a 2xx again: the TU ACKs */
            osip_message_free(msg);
            return 0;
        }
        td_logs_limited(TD_LOG_TXN, LOG_INFO, 5, "sip_txn: %d response to %s matching no transaction, dropped",
                       status, msg->cseq->method);
        goto drop;
    }
    s_fsm(t, status < 200 ? EV_RECV_1XX : status < 300 ? EV_RECV_2XX : EV_RECV_FINAL, msg);
    osip_message_free(msg);
    return 0;
drop:
    self->stats.dropped++;
    osip_message_free(msg);
    return -1;
}

/* The parser refused the datagram: answer it from its raw lines if it is a
 * request that can be answered (sip_raw_answer), else drop it. */
static int s_on_unparsable(sip_txn_layer_t *self, const char *buf, size_t len,
                           const sip_tp_dest_t *src)
{
    const struct sockaddr_in *from = &src->addr;
    sip_tp_dest_t to = *src;
    char tag[40];
    int status = 0;
    size_t n = sip_raw_answer(buf, len, s_tag(tag, sizeof tag), self->tx, sizeof self->tx,
                              &status);
    if (!n) {
        td_logs_limited(TD_LOG_TXN, LOG_NOTICE, 5, "sip_txn: %zu unparsable bytes from %s, dropped",
                       len, inet_ntoa(from->sin_addr));
        self->stats.dropped++;
        return -1;
    }
    td_logs_limited(TD_LOG_TXN, LOG_NOTICE, 5, "sip_txn: unparsable request from %s, %d sent",
                   inet_ntoa(from->sin_addr), status);
    if (status >= SIP_CODE_MIN && status < SIP_CODE_MIN + SIP_CODE_COUNT)
        self->counts.responses_out[SIP_METHOD_OTHER][status - SIP_CODE_MIN]++;
    self->stats.bad_requests++;
    s_send_raw(self, self->tx, n, &to);      /* its Via could not be trusted: to the source */
    return 0;
}

/* Admission control before parsing, for a datagram simple enough for
 * sip_raw_head: a new INVITE (no To tag) that no live transaction
 * absorbs is admitted (self->admitted, so it is not asked again after
 * parsing) or shed with a stateless 503 from its raw lines; the ACK to
 * such a 503 is dropped. 0 when the datagram is dealt with, -1 when it goes
 * on to the parser. */
static int s_admit_raw(sip_txn_layer_t *self, const char *buf, size_t len,
                       const sip_tp_dest_t *src)
{
    int ack = len > 4 && memcmp(buf, "ACK ", 4) == 0;
    if (!ack && (len < 7 || memcmp(buf, "INVITE ", 7) != 0))
        return -1;
    sip_raw_head_t head;
    if (memchr(buf, '\0', len) || sip_raw_head(buf, len, &head) != 0)
        return -1;
    if (ack) {
        if (head.to_tag.p && head.to_tag.n >= sizeof SHED_TAG - 1
            && memcmp(head.to_tag.p, SHED_TAG, sizeof SHED_TAG - 1) == 0) {
            self->stats.shed_acks++;
            return 0;
        }
        return -1;
    }
    if (head.to_tag.p)
        return -1;                           /* a re-INVITE: never shed */
    char key[KEY_MAX];
    if (s_key_cookie(head.host.p, head.host.n, head.port.p, head.port.n,
                     head.callid_number.p, head.callid_number.n,
                     head.callid_host.p ? head.callid_host.p : "", head.callid_host.n,
                     head.branch.p, head.branch.n, "INVITE", key, sizeof key) != 0
        || s_table_find(self, key))
        return -1;                           /* a retransmission: its transaction answers */
    int retry = self->admit(self->admit_arg);
    if (retry <= 0) {
        self->admitted = 1;
        return -1;
    }
    char extra[32], tag[24];
    snprintf(extra, sizeof extra, "Retry-After: %d", retry);
    size_t n = sip_raw_reply(&head, 503, "Service Unavailable", extra,
                             s_shed_tag(tag, sizeof tag), self->tx, sizeof self->tx);
    if (!n)
        return -1;
    /* RFC 3261 18.2.2: to the source address; over UDP to the sent-by
     * port unless rport asks for the source port */
    sip_tp_dest_t to = *src;
    if (src->tp == SIP_TP_UDP && !head.rport && !self->force_rport) {
        int port = 0;
        for (size_t i = 0; i < head.port.n; i++)
            port = port * 10 + (head.port.p[i] - '0');
        to.addr.sin_port = htons((uint16_t)(head.port.p && port > 0 && port < 65536 ? port : 5060));
    }
    s_send_raw(self, self->tx, n, &to);
    self->stats.shed++;
    return 0;
}

static int s_input(sip_txn_layer_t *self, const char *buf, size_t len, const sip_tp_dest_t *from)
{
    self->stats.rx++;
    if (!buf || len == 0 || len > MAX_DATAGRAM) {
        self->stats.dropped++;
        return -1;
    }
    size_t i = 0;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n' || buf[i] == ' '))
        i++;
    if (i == len)
        return 0;                            /* CRLF keep-alive (RFC 5626) */

    if (self->screen.source && self->screen.source(self->screen_arg, &from->addr)) {
        self->stats.dropped++;               /* a banned source: not even parsed */
        return 0;
    }
    self->admitted = 0;
    if (self->admit && s_admit_raw(self, buf, len, from) == 0)
        return 0;                            /* shed, or the ACK to a shed INVITE's 503 */
    const char *text = sip_raw_mend(buf, len, self->fix);
    osip_message_t *msg = NULL;
    if (osip_message_init(&msg) != 0) {
        self->stats.dropped++;
        return -1;
    }
    if (!text || osip_message_parse(msg, text, len) != 0) {
        osip_message_free(msg);
        return s_on_unparsable(self, text ? text : buf, len, from);
    }
    if (msg->call_id && msg->call_id->number)
        td_log_set_context(msg->call_id->number);
    s_count(&self->counts, msg, 1);
    int rc;
    if (MSG_IS_REQUEST(msg) && msg->sip_method)
        rc = s_on_request(self, msg, from, text, len);
    else if (!MSG_IS_REQUEST(msg))
        rc = s_on_response(self, msg);
    else {
        osip_message_free(msg);
        self->stats.dropped++;
        rc = -1;
    }
    td_log_set_context(NULL);
    return rc;
}

int sip_txn_layer_input(sip_txn_layer_t *self, const char *buf, size_t len,
                        const struct sockaddr_in *from)
{
    if (!self)
        return -1;
    if (!from) {
        self->stats.rx++;
        self->stats.dropped++;
        return -1;
    }
    sip_tp_dest_t d = { .addr = *from, .tp = SIP_TP_UDP, .conn = 0 };
    return s_input(self, buf, len, &d);
}

static void s_on_transport_input(void *arg, const char *buf, size_t len, const sip_tp_dest_t *from)
{
    s_input(arg, buf, len, from);
}

/* A stream connection is gone: a client transaction still waiting for its
 * final response on it will not get one (RFC 3261 8.1.3.1, a transport
 * error): its Timer B/F fires now, from the loop, so the TU hears a
 * timeout. Server transactions stay: their next response reconnects.
 * This walks the table, once per closed connection, which is rare next to
 * messages. */
static void s_on_conn_closed(void *arg, uint32_t conn)
{
    sip_txn_layer_t *self = arg;
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->table, &cur); n;
         n = td_map_next(&self->table, n, &cur)) {
        sip_txn_t *t = TD_MAP_ENTRY(n, sip_txn_t, node);
        if (t->dest.conn == conn && (t->kind == SIP_TXN_ICT || t->kind == SIP_TXN_NICT)
                && (t->state == ST_CALLING || t->state == ST_TRYING
                    || t->state == ST_PROCEEDING)) {
                td_timer_stop(t->retx);
                s_set_timer(t->life, 0);            /* on the next turn of the loop */
            }
    }
}

/* ---- the layer ---------------------------------------------------------- */

static void s_on_osip_trace(const char *file, int line, osip_trace_level_t level,
                            const char *fmt, va_list ap)
{
    (void)level;
    if (LOG_DEBUG > td_log_levels[TD_LOG_TXN])
        return;
    char text[256];
    vsnprintf(text, sizeof text, fmt, ap);
    text[strcspn(text, "\r\n")] = '\0';
    td_logs_limited(TD_LOG_TXN, LOG_DEBUG, 10, "osip %s:%d: %s", file, line, text);
}

sip_txn_layer_t *sip_txn_layer_new(struct event_base *base, int fd,
                                   const sip_txn_handlers_t *handlers, void *arg)
{
    static int osip_ready;
    if (!osip_ready) {
        parser_init();
        osip_trace_initialize_func(OSIP_INFO1, s_on_osip_trace);   /* fatal..warning */
        osip_ready = 1;
    }
    if (!base || fd < 0)
        return NULL;
    sip_txn_layer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    if (handlers)
        self->h = *handlers;
    self->arg = arg;
    int table_ok = td_map_init(&self->table, 1024, s_table_eq) == 0;
    self->reaper = event_new(base, -1, 0, s_on_reap, self);
    self->clock = self->own_clock = td_clock_new(base);
    sip_transport_handlers_t th = {
        .on_input = s_on_transport_input, .on_conn_closed = s_on_conn_closed,
    };
    self->tp = sip_transport_new(base, fd, &th, self);
    if (!table_ok || !self->reaper || !self->clock || !self->tp) {
        td_log(LOG_ERR, "sip_txn: cannot set up the transaction layer on fd %d", fd);
        sip_txn_layer_destroy(&self);
        return NULL;
    }
    sip_txn_layer_set_t1(self, 500);
    return self;
}

void sip_txn_layer_destroy(sip_txn_layer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_txn_layer_t *self = *self_p;
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->table, &cur), *next; n; n = next) {
        next = td_map_next(&self->table, n, &cur);
        td_map_remove(&self->table, n);
        s_txn_free(TD_MAP_ENTRY(n, sip_txn_t, node));
    }
    while (self->dead) {
        sip_txn_t *t = self->dead;
        self->dead = t->next;
        s_txn_free(t);
    }
    if (self->reaper)
        event_free(self->reaper);
    sip_transport_destroy(&self->tp);
    td_clock_destroy(&self->own_clock);
    td_map_fini(&self->table);
    free(self);
    *self_p = NULL;
}

void sip_txn_layer_set_t1(sip_txn_layer_t *self, int t1_ms)
{
    if (!self)
        return;
    if (t1_ms <= 0)
        t1_ms = 500;
    /* 500 ms gives RFC 3261's T2 = 4 s, T4 = 5 s, D = 32 s; shorter T1s scale. */
    self->t1 = t1_ms;
    self->t2 = 8 * t1_ms;
    self->t4 = 10 * t1_ms;
    /* thousands of transactions wait 64*T1 (B, F, H, J) or T4 (I, K) */
    td_clock_common(self->clock, (uint32_t)(64 * t1_ms));
    td_clock_common(self->clock, (uint32_t)self->t4);
}

void sip_txn_layer_set_clock(sip_txn_layer_t *self, td_clock_t *clock)
{
    if (!self || self->count || self->dead)
        return;
    self->clock = clock ? clock : self->own_clock;
    sip_txn_layer_set_t1(self, self->t1);
}

int sip_txn_layer_send(sip_txn_layer_t *self, osip_message_t *msg, const struct sockaddr_in *to)
{
    if (!self || !msg || !to)
        return -1;
    sip_tp_dest_t d;
    s_route(self, msg, to, &d);
    if (MSG_IS_REQUEST(msg))
        s_fill_via(self, msg, &d);
    return s_send_msg(self, msg, &d, NULL, NULL);
}

void sip_txn_layer_set_max(sip_txn_layer_t *self, size_t max)
{
    if (self)
        self->max_txn = max;
}

void sip_txn_layer_set_admit(sip_txn_layer_t *self, int (*admit)(void *arg), void *arg)
{
    if (!self)
        return;
    self->admit = admit;
    self->admit_arg = arg;
}

void sip_txn_layer_set_screen(sip_txn_layer_t *self, const sip_txn_screen_t *screen, void *arg)
{
    if (!self)
        return;
    if (screen)
        self->screen = *screen;
    else
        memset(&self->screen, 0, sizeof self->screen);
    self->screen_arg = arg;
}

sip_transport_t *sip_txn_layer_transport(sip_txn_layer_t *self)
{
    return self ? self->tp : NULL;
}

void sip_txn_layer_stats(sip_txn_layer_t *self, sip_txn_stats_t *out)
{
    if (self && out)
        *out = self->stats;
}

const sip_counts_t *sip_txn_layer_counts(const sip_txn_layer_t *self)
{
    return &self->counts;
}

sip_method_t sip_method_index(const char *method)
{
    static const char *const names[] = {
#define SIP_X_NAME(name) #name,
        SIP_METHODS(SIP_X_NAME)
#undef SIP_X_NAME
    };
    if (!method)
        return SIP_METHOD_OTHER;
    for (int i = 0; i < SIP_METHOD_OTHER; i++)
        if (method[0] == names[i][0] && strcmp(method, names[i]) == 0)
            return (sip_method_t)i;
    return SIP_METHOD_OTHER;
}

const char *sip_method_name(sip_method_t m)
{
    static const char *const names[] = {
#define SIP_X_NAME(name) #name,
        SIP_METHODS(SIP_X_NAME)
#undef SIP_X_NAME
    };
    return (unsigned)m < SIP_METHOD_COUNT ? names[m] : "OTHER";
}

/* ---- transactions: the TU's side ---------------------------------------- */

int sip_txn_respond(sip_txn_t *t, osip_message_t **resp)
{
    osip_message_t *msg = resp ? *resp : NULL;
    if (resp)
        *resp = NULL;
    if (!msg)
        return -1;
    int status = msg->status_code;
    txn_event_t ev = status < 200 ? EV_SEND_1XX : status < 300 ? EV_SEND_2XX : EV_SEND_FINAL;
    int ok = t && status >= 100 && status <= 699
        && ((t->kind == SIP_TXN_IST && (t->state == ST_PROCEEDING
                                        || (t->state == ST_ACCEPTED && ev == EV_SEND_2XX)))
            || (t->kind == SIP_TXN_NIST && (t->state == ST_TRYING || t->state == ST_PROCEEDING)));
    if (!ok) {
        td_log(LOG_WARNING, "sip_txn: %d not sent: the transaction is past that", status);
        osip_message_free(msg);
        return -1;
    }
    char *old = t->out;
    t->out = NULL;
    s_send_msg(t->layer, msg, &t->dest, &t->out, &t->out_len);
    osip_message_free(msg);
    if (!t->out) {                           /* could not serialize: keep the old one */
        t->out = old;
        return -1;
    }
    free(old);
    t->last_status = status;
    s_fsm(t, ev, NULL);
    return 0;
}

osip_message_t *sip_txn_make_response(sip_txn_t *t, int status, const char *to_tag)
{
    if (!t || (t->kind != SIP_TXN_IST && t->kind != SIP_TXN_NIST))
        return NULL;
    if (!t->req)
        return NULL;                /* completed: nothing more to answer */
    return s_build_response(t->req, status, NULL, to_tag);
}

int sip_txn_reply(sip_txn_t *t, int status, const char *to_tag)
{
    osip_message_t *r = sip_txn_make_response(t, status, to_tag);
    return r ? sip_txn_respond(t, &r) : -1;
}

void sip_txn_acked(sip_txn_t *t)
{
    if (t && t->kind == SIP_TXN_IST)
        s_fsm(t, EV_ACKED, NULL);
}

sip_txn_t *sip_txn_find_invite(sip_txn_layer_t *self, osip_message_t *cancel)
{
    char key[KEY_MAX];
    if (!self || !cancel || s_server_key(cancel, "INVITE", key, sizeof key) != 0)
        return NULL;
    sip_txn_t *t = s_table_find(self, key);
    return t && t->kind == SIP_TXN_IST ? t : NULL;
}

sip_txn_t *sip_txn_request(sip_txn_layer_t *self, osip_message_t **req,
                           const struct sockaddr_in *to, void *owner)
{
    osip_message_t *msg = req ? *req : NULL;
    if (req)
        *req = NULL;
    if (!msg)
        return NULL;
    if (!self) {
        osip_message_free(msg);
        return NULL;
    }
    if (!to) {
        osip_message_free(msg);
        return NULL;
    }
    sip_tp_dest_t d;
    s_route(self, msg, to, &d);
    return s_client_start(self, msg, &d, owner, 0);
}

int sip_txn_cancel(sip_txn_t *t)
{
    if (!t || t->kind != SIP_TXN_ICT
        || (t->state != ST_CALLING && t->state != ST_PROCEEDING))
        return -1;                           /* a final response came already */
    if (t->cancel_pending || t->cancel_sent)
        return 0;
    if (t->state == ST_CALLING)
        t->cancel_pending = 1;               /* 9.1: wait for a provisional */
    else
        s_ict_send_cancel(t);
    return 0;
}

sip_txn_kind_t sip_txn_kind(const sip_txn_t *t) { return t->kind; }
osip_message_t *sip_txn_request_msg(sip_txn_t *t) { return t ? t->req : NULL; }
void sip_txn_force_rport(sip_txn_t *t, const struct sockaddr_in *src)
{
    osip_via_t *via = t && t->req ? s_top_via(t->req) : NULL;
    if (!via || (t->kind != SIP_TXN_IST && t->kind != SIP_TXN_NIST)
        || s_param(&via->via_params, "rport"))
        return;                 /* rport asked: s_fix_via has done it all */
    char port[8];
    snprintf(port, sizeof port, "%d", ntohs(src->sin_port));
    osip_generic_param_add(&via->via_params, osip_strdup("rport"), osip_strdup(port));
    t->dest.addr = *src;
}

const struct sockaddr_in *sip_txn_peer(const sip_txn_t *t) { return t ? &t->dest.addr : NULL; }
sip_tp_t sip_txn_transport(const sip_txn_t *t) { return t ? t->dest.tp : SIP_TP_UDP; }
void *sip_txn_owner(const sip_txn_t *t) { return t ? t->owner : NULL; }
void sip_txn_set_owner(sip_txn_t *t, void *owner) { if (t) t->owner = owner; }
int sip_txn_last_status(const sip_txn_t *t) { return t ? t->last_status : 0; }
