/* sip_core - see sip_core.h. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "sip_core.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <malloc.h>
#include <unistd.h>
#include <osipparser2/osip_parser.h>

#include "sdp.h"
#include "sip_auth.h"
#include "sip_legs.h"
#include "sip_cli.h"
#include "sip_extern.h"
#include "sip_ident.h"
#include "sip_listen.h"
#include "sip_load.h"
#include "sip_location.h"
#include "sip_msg.h"
#include "sip_outreg.h"
#include "sip_options.h"
#include "sip_qualify.h"
#include "sip_state.h"
#include "td_bus.h"
#include "td_log.h"

#define STATS_EVERY 60             /* ticks between counter lines */
#define ROUTER_GRACE_S 30          /* a silent router's pending calls wait this long */
#define SAMPLE_BUSY_MS 10          /* load samples while datagrams come in */
#define SAMPLE_IDLE_MS 100         /* ... and while none do */
#define TXN_BOUND 200000           /* live transactions past which every new call is shed */
#define TRIM_MIN_TXNS 2000         /* malloc_trim once transactions fall below half a peak this big */

struct sip_core {
    struct event_base *base;
    const sip_conf_t *conf;        /* in force: the caller's, or `owned` after a reload */
    sip_conf_t *owned;             /* the last reload's conf, NULL before one */
    sip_core_opts_t opts;
    char identity[64];
    char conf_path[600];           /* "" : sip reload cannot work */
    sip_txn_layer_t *layer;
    td_bus_t *bus;
    sip_auth_t *auth;
    sip_registrar_t *registrar;
    sip_state_t *state;            /* [cluster]: registrations and dialogs in the store;
                                    * NULL on a single host */
    sip_location_t *location;      /* tells the routers which peers registered here */
    sip_legs_t *call;
    sip_outreg_t *outreg;          /* register => lines */
    sip_qualify_t *qualify;        /* qualify= keepalives */
    sip_options_t *options;        /* out-of-dialog OPTIONS waiting for the dialplan */
    sip_extern_t *ext;             /* externaddr / localnet */
    struct event *tick;
    struct sockaddr_in bound;      /* the socket's own address */
    unsigned long ticks;
    long router_down_since;        /* 0: up (or never seen) */
    int stopping;                  /* SIGTERM: new calls get 503 */
    sip_load_t *load;              /* admission control */
    struct event *sampler;         /* its samples: a timer whose lateness is the loop's lag */
    uint64_t sample_due_us;
    unsigned long txn_peak;        /* live transactions' peak since the last malloc_trim */
    sip_ban_t *ban;                /* failed authentications per source, bans, scanners */
};

/* ---- load and admission control (sip_load.h) --------------------------- */

static uint64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t s_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The layer asks about each new INVITE before it makes a transaction. */
static int s_admit(void *arg)
{
    sip_core_t *self = arg;
    /* Signaling's memory is mostly transactions, which outlive their calls
     * by 32 s (64*T1): bound them, whatever the measured load says. */
    sip_txn_stats_t ts;
    sip_txn_layer_stats(self->layer, &ts);
    if (ts.live >= TXN_BOUND) {
        td_log_limited(LOG_WARNING, 1, "%lu transactions live: new calls get 503", ts.live);
        return 5;
    }
    int retry = sip_load_admit(self->load, s_now_us());
    if (retry > 0 && self->opts.max_cps) {
        sip_load_stats_t st;
        sip_load_stats(self->load, &st);
        if (!st.overloaded)                 /* load episodes are logged once each */
            td_log_limited(LOG_NOTICE, 1, "new call over max_cps=%u: 503", self->opts.max_cps);
    }
    return retry;
}

static void s_sample_arm(sip_core_t *self, int ms)
{
    struct timeval tv = { 0, ms * 1000 };
    self->sample_due_us = s_now_us() + (uint64_t)ms * 1000;
    event_add(self->sampler, &tv);
}

static void s_on_sample(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sip_core_t *self = arg;
    uint64_t now = s_now_us();
    uint64_t lag = now > self->sample_due_us ? now - self->sample_due_us : 0;
    uint64_t queue = sip_transport_queue_delay(sip_txn_layer_transport(self->layer));
    sip_load_event_t ev = sip_load_sample(self->load, now, lag, queue, s_cpu_us());
    sip_load_stats_t st;
    if (ev != SIP_LOAD_SAME)
        sip_load_stats(self->load, &st);
    if (ev == SIP_LOAD_STARTED)
        td_log(LOG_WARNING, "overload: loop lag %u ms, queue delay %u ms, busy %u%%: new calls "
               "limited to %u/s, the others get 503 with Retry-After", st.lag_us / 1000,
               st.queue_us / 1000, st.busy_pct, st.limit_cps);
    else if (ev == SIP_LOAD_ENDED)
        td_log(LOG_NOTICE, "overload over: %llu new call(s) shed with 503 (%llu in all)",
               (unsigned long long)st.episode_shed, (unsigned long long)st.shed);
    sip_load_stats(self->load, &st);
    if (st.overloaded)
        td_log_limited(LOG_DEBUG, 10, "load: lag %u ms, queue delay %u ms, busy %u%%, limit %u/s; "
                       "new calls admitted %llu, shed %llu", st.lag_us / 1000, st.queue_us / 1000,
                       st.busy_pct, st.limit_cps, (unsigned long long)st.admitted,
                       (unsigned long long)st.shed);
    s_sample_arm(self, queue || st.overloaded ? SAMPLE_BUSY_MS : SAMPLE_IDLE_MS);
}


/* ---- our address ------------------------------------------------------------ */

static void s_local_addr(void *arg, const struct sockaddr_in *to, struct sockaddr_in *out)
{
    sip_core_t *self = arg;
    sip_txn_layer_local_addr(self->layer, to, out);   /* the one cache, in the transport */
}

/* The layer's hook: externaddr toward peers outside localnet. */
static void s_remap(void *arg, const struct sockaddr_in *to, struct sockaddr_in *inout)
{
    sip_core_t *self = arg;
    sip_extern_remap(self->ext, to, inout);
}

static const char *s_sdp_for(void *arg, const struct sockaddr_in *to, const char *sdp)
{
    sip_core_t *self = arg;
    return sip_extern_sdp(self->ext, to, sdp);
}

static int s_usable(void *arg, const sip_peer_t *peer)
{
    sip_core_t *self = arg;
    return !self->qualify || sip_qualify_usable(self->qualify, peer);
}

/* ---- checks that apply to every request ----------------------------------- */

static int s_digits(const char *s)
{
    if (!s)
        return 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return 0;
    while (isdigit((unsigned char)*s))
        s++;
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

static int s_is(const char *method, const char *name)
{
    return strcmp(method, name) == 0;
}

/* The option tags of every Require header (libosip2 splits comma lists into
 * one header each) that we do not support, comma-joined into buf; 0 if
 * none. We support "replaces" (RFC 3891, sip_refer.h), as chan_sip. */
static int s_required(const osip_message_t *req, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int pos = 0; ; pos++) {
        osip_header_t *h = NULL;
        pos = osip_message_header_get_byname(req, "require", pos, &h);
        if (pos < 0 || !h)
            break;
        if (!h->hvalue || !*h->hvalue || osip_strcasecmp(h->hvalue, "replaces") == 0)
            continue;
        int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", h->hvalue);
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
    }
    return n > 0;
}

/* The methods this switch knows (answers or refuses as not allowed here);
 * any other gets 501 (RFC 3261 8.2.1). */
static int s_known_method(const char *m)
{
    static const char *const known[] = {
        "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "SUBSCRIBE",
        "NOTIFY", "PUBLISH", "MESSAGE", "REFER", "UPDATE", "PRACK",
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return 1;
    return 0;
}

/* An unsigned decimal with any number of leading zeros ("0068" is 68,
 * RFC 4475 3.1.1.1); -1 if not all digits or above max. */
static long s_number(const char *s, long max)
{
    if (!s_digits(s))
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    long v = 0;
    for (; isdigit((unsigned char)*s); s++)
        if ((v = v * 10 + (*s - '0')) > max)
            return -1;
    return v;
}

/* Whether an INVITE's Accept headers (if any) let an SDP body through: RFC
 * 3261 20.1, a media range application/sdp, application/ * or * / *. No
 * Accept at all means application/sdp. */
static int s_accepts_sdp(const osip_message_t *req)
{
    int n = osip_list_size(&req->accepts), any = 0;
    for (int i = 0; i < n; i++) {
        const osip_accept_t *a = osip_list_get(&req->accepts, i);
        if (!a || !a->type)
            continue;                       /* an empty Accept: nothing said */
        any = 1;
        if ((strcmp(a->type, "*") == 0 && a->subtype && strcmp(a->subtype, "*") == 0)
            || (osip_strcasecmp(a->type, "application") == 0 && a->subtype
                && (strcmp(a->subtype, "*") == 0 || osip_strcasecmp(a->subtype, "sdp") == 0)))
            return 1;
    }
    return !any;
}

static int s_sip_scheme(const osip_uri_t *u)
{
    return u && u->scheme && (osip_strcasecmp(u->scheme, "sip") == 0
                              || osip_strcasecmp(u->scheme, "sips") == 0);
}

/* Answer what is wrong with req, if anything; 0 when it may go on. The
 * order is RFC 3261 8.2's: method, then headers, then content. */
static int s_check(sip_core_t *self, sip_txn_t *txn, osip_message_t *req)
{
    const char *m = req->sip_method;
    char buf[256];
    if (!req->sip_version || strcmp(req->sip_version, "SIP/2.0") != 0) {
        snprintf(buf, sizeof buf, "version %s", req->sip_version ? req->sip_version : "?");
        sip_msg_reply(txn, 505, NULL, buf, NULL, NULL);
        return -1;
    }
    if (!s_known_method(m)) {               /* RFC 4475 3.1.1.2, 3.1.1.5, 3.1.2.18 */
        sip_msg_reply(txn, 501, NULL, "unknown method", NULL, NULL);
        return -1;
    }
    if (strcmp(req->cseq->method, m) != 0) {  /* RFC 4475 3.1.2.17 */
        sip_msg_reply(txn, 400, NULL, "CSeq method differs from the request's", NULL, NULL);
        return -1;
    }
    if (!req->req_uri->scheme || osip_strcasecmp(req->req_uri->scheme, "sip") != 0) {
        snprintf(buf, sizeof buf, "Request-URI scheme '%s'",
                 req->req_uri->scheme ? req->req_uri->scheme : "");
        sip_msg_reply(txn, 416, NULL, buf, NULL, NULL);
        return -1;
    }
    /* RFC 3261 19.1.5: headers have no place in a Request-URI. RFC 4475
     * 3.1.2.11 lets an element ignore them or answer 400; 400 it is, as for
     * every other malformed Request-Line. */
    if (osip_list_size(&req->req_uri->url_headers) > 0) {
        sip_msg_reply(txn, 400, NULL, "Request-URI with headers", NULL, NULL);
        return -1;
    }
    if (!req->from->url || !req->to->url) {
        sip_msg_reply(txn, 400, NULL, "From or To without a URI", NULL, NULL);
        return -1;
    }
    const char *ctl = sip_msg_control_chars(req);  /* issue 12: see sip_msg.h */
    if (ctl) {
        snprintf(buf, sizeof buf, "control character in the %s", ctl);
        /* what was refused, for whoever debugs a phone: td_log escapes the
         * control characters, so this line forges nothing either */
        td_log(LOG_DEBUG, "%s refused with 400: %s (From user '%s', To user '%s')", m, buf,
               req->from->url->username ? req->from->url->username : "",
               req->to->url->username ? req->to->url->username : "");
        sip_msg_reply(txn, 400, NULL, buf, NULL, NULL);
        return -1;
    }
    if (s_is(m, "CANCEL"))
        return 0;
    const char *mf = sip_msg_header(req, "max-forwards");
    /* RFC 3261 25.1: Max-Forwards is 1*DIGIT and, being a hop count kept
     * in one octet by every proxy, above 255 is nonsense (RFC 4475 3.1.2.4);
     * leading zeros are fine (3.1.1.1). */
    long hops = mf ? s_number(mf, 255) : 70;
    if (hops < 0) {
        sip_msg_reply(txn, 400, NULL, "bad Max-Forwards", NULL, NULL);
        return -1;
    }
    /* 483 where we would forward: a new INVITE (or other request) that starts
     * a call leg. OPTIONS and REGISTER end here; dialog requests too. */
    if (hops == 0 && !s_is(m, "OPTIONS") && !s_is(m, "REGISTER")
        && !sip_msg_to_tag(req)) {
        sip_msg_reply(txn, 483, NULL, "Max-Forwards is 0", NULL, NULL);
        return -1;
    }
    const char *cl = req->content_length ? req->content_length->value : NULL;
    size_t body_len = 0;
    const char *body = sip_msg_body(req, &body_len);
    if (cl && !s_digits(cl)) {
        sip_msg_reply(txn, 400, NULL, "bad Content-Length", NULL, NULL);
        return -1;
    }
    if (cl && atol(cl) > 0 && !body) {
        sip_msg_reply(txn, 400, NULL, "a body without Content-Type", NULL, NULL);
        return -1;
    }
    if (body) {                             /* issue 12: [security] max_sdp */
        char what[64], src[32];
        snprintf(what, sizeof what, "%s from %s", m,
                 sip_msg_addr(sip_txn_peer(txn), src, sizeof src));
        if (sip_legs_sdp_capped(self->call, body_len, what)) {
            sip_msg_reply(txn, 413, NULL, "body over max_sdp", NULL, NULL);
            return -1;
        }
    }
    if (s_required(req, buf, sizeof buf)) {
        char why[300];
        snprintf(why, sizeof why, "Require: %s", buf);
        sip_msg_reply(txn, 420, NULL, why, "Unsupported", buf);
        return -1;
    }
    /* RFC 4475 3.3.4: an address of record is a SIP or SIPS URI. */
    if (s_is(m, "REGISTER") && !s_sip_scheme(req->to->url)) {
        snprintf(buf, sizeof buf, "REGISTER of a '%s' URI", req->to->url->scheme
                 ? req->to->url->scheme : "");
        sip_msg_reply(txn, 400, NULL, buf, NULL, NULL);
        return -1;
    }
    if (s_is(m, "INVITE") && osip_list_size(&req->contacts) == 0) {
        /* RFC 2543 did not require a Contact: its requests come back to the
         * From address, and RFC 4475 3.4.1 asks that such an INVITE be
         * taken. An RFC 3261 client (magic-cookie branch) gets 400 later. */
        osip_via_t *via = osip_list_get(&req->vias, 0);
        const char *br = via ? sip_msg_param(&via->via_params, "branch") : NULL;
        char *from_uri = NULL;
        if (!(br && strncmp(br, "z9hG4bK", 7) == 0)
            && osip_uri_to_str(req->from->url, &from_uri) == 0 && from_uri) {
            if (strlen(from_uri) + 3 <= sizeof buf) {
                snprintf(buf, sizeof buf, "<%s>", from_uri);
                osip_message_set_contact(req, buf);
            }
            osip_free(from_uri);
        }
    }
    if (s_is(m, "INVITE") && !s_accepts_sdp(req)) {
        /* RFC 4475 3.3.15: our answers to an INVITE carry SDP. */
        char warn[160];
        snprintf(warn, sizeof warn, "399 %s \"Only application/sdp bodies are sent\"",
                 self->identity);
        sip_msg_reply(txn, 406, NULL, "Accept leaves out application/sdp", "Warning", warn);
        return -1;
    }
    if (body) {
        const char *enc = sip_msg_header(req, "content-encoding");
        if (enc && osip_strcasecmp(enc, "identity") != 0) {
            sip_msg_reply(txn, 415, NULL, "Content-Encoding", "Accept-Encoding", "identity");
            return -1;
        }
        const osip_content_type_t *ct = req->content_type;
        if (s_is(m, "INVITE") && (!ct || !ct->type || !ct->subtype
                                  || osip_strcasecmp(ct->type, "application") != 0
                                  || osip_strcasecmp(ct->subtype, "sdp") != 0)) {
            sip_msg_reply(txn, 415, NULL, "INVITE body is not application/sdp",
                          "Accept", "application/sdp");
            return -1;
        }
    }
    return 0;
}

/* ---- REGISTER ---------------------------------------------------------------- */

/* 401 Unauthorized with WWW-Authenticate, for every method: chan_sip
 * challenges INVITE as it does REGISTER, never with 407 (check_auth). */
static void s_challenge(sip_core_t *self, sip_txn_t *txn, const struct sockaddr_in *from,
                        const sip_peer_t *peer, int stale, const char *why)
{
    /* auth_algorithms_uas, less SHA-256 for a peer that has only an
     * md5secret (no SHA-256 HA1 to check an answer against) */
    const unsigned char *conf_algs = sip_conf_general(self->conf)->auth_algs;
    unsigned char algs[SIP_AUTH_ALGS_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; conf_algs[i] && n < SIP_AUTH_ALGS_MAX; i++)
        if (conf_algs[i] != SIP_AUTH_SHA256 || !peer || peer->ha1_sha256[0])
            algs[n++] = conf_algs[i];
    if (!n)
        algs[n++] = SIP_AUTH_MD5;
    algs[n] = 0;
    char tag[SIP_MSG_TOKEN_LEN + 1];
    osip_message_t *r = sip_txn_make_response(txn, 401, sip_msg_token(tag, sizeof tag));
    if (!r)
        return;
    sip_auth_challenge(self->auth, r, from, stale, (long)time(NULL), algs);
    td_logs_limited(TD_LOG_SIP, LOG_DEBUG, 10, "401: %s", why);
    sip_txn_respond(txn, &r);
}

/* Every failed authentication ends here, with its source: wrong answers
 * from sip_auth_verify (unknown user, wrong password, digest uri not the
 * Request-URI, a wrong answer to a stale nonce) and the refusals decided
 * before any digest check (sip_auth_on_failure). The hook point for
 * counting failures per source (the ban part of issue 12); never per user,
 * which would lock a real phone out. */
static void s_on_auth_failure(void *arg, const struct sockaddr_in *from, const char *user,
                              const char *method, const char *why)
{
    (void)arg;
    char src[32];
    sip_msg_addr(from, src, sizeof src);
    td_logs_limited(TD_LOG_SIP, LOG_DEBUG, 10, "auth failed: %s for '%s' from %s: %s", method,
                    user, src, why);
}

/* A new sip_auth's settings: the nonce lifetime and the failure hook. */
static void s_auth_setup(sip_core_t *self, sip_auth_t *auth)
{
    if (!auth)
        return;
    sip_auth_set_lifetime(auth, self->opts.nonce_lifetime);
    sip_auth_set_on_failure(auth, s_on_auth_failure, self);
}

/* The answer to credentials that did not pass: a new challenge while the
 * nonce is not current (stale=true when the answer itself was right), else
 * 403 Forbidden, as chan_sip's check_auth and send_check_user_failure_response
 * (or register_verify's AUTH_SECRET_FAILED) answer. */
static void s_auth_failed(sip_core_t *self, sip_txn_t *txn, const struct sockaddr_in *from,
                          const sip_peer_t *peer, sip_auth_result_t res, const char *why)
{
    if (res == SIP_AUTH_STALE || res == SIP_AUTH_NONCE) {
        s_challenge(self, txn, from, peer, res == SIP_AUTH_STALE, why);
        return;
    }
    td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 10, "403: %s", why);
    sip_msg_reply(txn, 403, NULL, NULL, NULL, NULL);
}

/* A contact's expiry: its expires parameter, else the Expires header, else
 * the default; -1 for "not given". */
static long s_expiry(const osip_contact_t *c, const char *header)
{
    const char *p = sip_msg_param((osip_list_t *)&c->gen_params, "expires");
    if (p && s_digits(p))
        return strtol(p, NULL, 10) > 86400L * 365 ? 86400L * 365 : strtol(p, NULL, 10);
    if (header && s_digits(header))
        return strtol(header, NULL, 10) > 86400L * 365 ? 86400L * 365 : strtol(header, NULL, 10);
    return -1;
}

/* Every Path header value of req (RFC 3327), comma-joined in order into
 * buf; "" if none. -1 when they do not fit. */
static int s_path(const osip_message_t *req, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int pos = 0; ; pos++) {
        osip_header_t *h = NULL;
        pos = osip_message_header_get_byname(req, "path", pos, &h);
        if (pos < 0 || !h)
            break;
        if (!h->hvalue || !*h->hvalue)
            continue;
        int w = snprintf(buf + n, len - n, "%s%s", n ? "," : "", h->hvalue);
        if (w < 0 || (size_t)w >= len - n)
            return -1;
        n += (size_t)w;
    }
    return 0;
}

/* ---- registrations in the cluster store (sip_state.h) ----------------------- */

/* The fields of one binding in reg:<peer>: the binding calls go to first has
 * them bare (contact, addr, ...), the others with ".1" .. ".3". */
#define S_REG_NF 8
#define S_REG_FIELDS(sfx) { "contact" sfx, "addr" sfx, "transport" sfx, "path" sfx, \
                            "useragent" sfx, "expires_at" sfx, "call_id" sfx, "cseq" sfx }
static const char *const s_reg_names[][S_REG_NF] = {
    S_REG_FIELDS(""), S_REG_FIELDS(".1"), S_REG_FIELDS(".2"), S_REG_FIELDS(".3"),
};
_Static_assert(sizeof s_reg_names / sizeof s_reg_names[0] == SIP_REGISTRAR_MAX_CONTACTS,
               "one row of reg: field names per binding");

/* Write aor's live bindings to reg:<aor> (TTL: the longest remaining
 * expiry), or delete the key when it has none. */
static void s_store_reg(sip_core_t *self, const char *aor, long now)
{
    if (!self->state)
        return;
    td_store_t *store = sip_state_store(self->state);
    char key[128];
    if (snprintf(key, sizeof key, "reg:%s", aor) >= (int)sizeof key)
        return;
    const sip_binding_t *b[SIP_REGISTRAR_MAX_CONTACTS];
    size_t nb = sip_registrar_bindings(self->registrar, aor, now, b, SIP_REGISTRAR_MAX_CONTACTS);
    if (!nb) {
        td_store_del(store, key);
        return;
    }
    const sip_binding_t *first = sip_registrar_lookup(self->registrar, aor, now);
    for (size_t i = 1; first && i < nb; i++)
        if (b[i] == first) {
            b[i] = b[0];
            b[0] = first;
        }
    sip_state_hash_t h;
    sip_state_hash_init(&h);
    sip_state_hash_add(&h, "node", sip_state_node(self->state));
    sip_state_hash_add(&h, "peer", aor);
    long ttl = 0;
    for (size_t i = 0; i < nb; i++) {
        const char *const *f = s_reg_names[i];
        char addr[32];
        sip_state_hash_add(&h, f[0], b[i]->uri);
        sip_state_hash_add(&h, f[1], sip_msg_addr(&b[i]->dest, addr, sizeof addr));
        sip_state_hash_add(&h, f[2], sip_transport_param((sip_tp_t)b[i]->transport));
        sip_state_hash_add(&h, f[3], b[i]->path);
        sip_state_hash_add(&h, f[4], b[i]->useragent);
        sip_state_hash_addf(&h, f[5], "%ld", b[i]->expires_at);
        sip_state_hash_add(&h, f[6], b[i]->call_id);
        sip_state_hash_addf(&h, f[7], "%u", b[i]->cseq);
        if (b[i]->expires_at - now > ttl)
            ttl = b[i]->expires_at - now;
    }
    if (h.overflow) {
        td_log(LOG_WARNING, "%s: registration too large for the store: not kept", aor);
        return;
    }
    td_store_hset(store, key, (int)(ttl > 0 ? ttl : 1), h.n, h.fields, h.values);
}

static sip_tp_t s_tp_named(const char *name)
{
    return name && strcmp(name, "tcp") == 0 ? SIP_TP_TCP
         : name && strcmp(name, "tls") == 0 ? SIP_TP_TLS : SIP_TP_UDP;
}

/* A reg:<peer> of this node, read back at start: its live bindings go back
 * in the table as they were (a UDP binding works as is; a TCP/TLS one keeps
 * its transport, though its connection died with the old process: a call
 * to it opens a new connection, which a phone behind NAT will not accept,
 * until the phone reconnects and registers again). */
static void s_restore_reg(void *arg, const char *key, size_t n, const char *const *fields,
                          const char *const *values)
{
    sip_core_t *self = arg;
    const char *aor = key + 4;
    const sip_peer_t *peer = sip_conf_peer(self->conf, aor);
    long now = (long)time(NULL);
    if (!peer || !peer->dynamic) {
        td_log(LOG_NOTICE, "stored registration of '%s', no dynamic peer in sip.conf: dropped",
               aor);
        td_store_del(sip_state_store(self->state), key);
        return;
    }
    int restored = 0;
    for (size_t i = SIP_REGISTRAR_MAX_CONTACTS; i-- > 0; ) {   /* the first one last: it wins */
        const char *const *f = s_reg_names[i];
        const char *uri = sip_state_field(n, fields, values, f[0]);
        const char *exp = sip_state_field(n, fields, values, f[5]);
        struct sockaddr_in dest;
        if (!uri || !exp || sip_state_addr(sip_state_field(n, fields, values, f[1]), &dest) != 0)
            continue;
        long left = strtol(exp, NULL, 10) - now;
        if (left <= 0)
            continue;
        const char *cid = sip_state_field(n, fields, values, f[6]);
        const char *cseq = sip_state_field(n, fields, values, f[7]);
        if (sip_registrar_update(self->registrar, aor, uri, &dest, (int)left, now, cid ? cid : "",
                                 cseq ? (unsigned)strtoul(cseq, NULL, 10) : 0,
                                 peer->insecure_port) != 0)
            continue;
        const char *path = sip_state_field(n, fields, values, f[3]);
        if (path && *path)
            sip_registrar_set_path(self->registrar, aor, uri, path);
        sip_binding_t *b = sip_registrar_find(self->registrar, aor, uri);
        sip_tp_t tp = s_tp_named(sip_state_field(n, fields, values, f[2]));
        if (b) {
            const char *ua = sip_state_field(n, fields, values, f[4]);
            b->transport = (int)tp;
            snprintf(b->useragent, sizeof b->useragent, "%s", ua ? ua : "");
        }
        sip_transport_remember(sip_txn_layer_transport(self->layer), tp, &dest);
        td_log(LOG_INFO, "%s registration %s restored (%s, %ld s left)", aor, uri,
               sip_transport_name(tp), left);
        restored++;
    }
    if (restored)
        sip_qualify_registered(self->qualify, peer);
}

typedef struct {
    sip_core_t *self;
    long now;
    size_t n;
} s_resync_t;

static void s_resync_reg(void *arg, const char *aor, long expires_at)
{
    (void)expires_at;
    s_resync_t *r = arg;
    s_store_reg(r->self, aor, r->now);
    r->n++;
}

/* The store is back after an outage and the writes kept meanwhile were
 * replayed; but a Redis that restarted empty (no persistence) lost every
 * key written before: then this node's registrations and dialogs go in
 * again, each registration with the time it has left as its TTL. */
static void s_store_resync(void *arg, int lost)
{
    sip_core_t *self = arg;
    if (!lost)
        return;
    s_resync_t r = { self, (long)time(NULL), 0 };
    sip_registrar_foreach(self->registrar, r.now, s_resync_reg, &r);
    size_t dlgs = sip_legs_store_all(self->call);
    td_log(r.n || dlgs ? LOG_NOTICE : LOG_DEBUG, "cluster store: Redis did not have this node's "
           "keys: %zu registration(s) and %zu dialog(s) written again", r.n, dlgs);
}

static void s_on_store_up(void *arg)
{
    sip_core_t *self = arg;
    char mark[96];
    snprintf(mark, sizeof mark, "mark:sig:%s", sip_state_node(self->state));
    td_store_if_lost(sip_state_store(self->state), mark, s_store_resync, self);
}

/* A dlg:* of this node, read back at start: an established leg again. */
static void s_restore_dlg(void *arg, const char *key, size_t n, const char *const *fields,
                          const char *const *values)
{
    sip_core_t *self = arg;
    if (sip_legs_restore(self->call, key, n, fields, values) != 0)
        td_store_del(sip_state_store(self->state), key);
}

/* ---- bans, scanners, ACLs (sip_ban.h, sip_acl.h) -------------------------- */

/* A failed authentication (a 403 or 404 to it, an ACL refusal): logged as
 * Asterisk logs it (fail2ban reads it) and counted against the source.
 * Call it before answering: a final answer may free req. */
static void s_ban_failure(sip_core_t *self, osip_message_t *req, const struct sockaddr_in *from,
                          const char *reason)
{
    sip_ban_auth_failed(self->ban, req, from, reason);
}

static int s_screen_source(void *arg, const struct sockaddr_in *from)
{
    return sip_ban_screen_source(((sip_core_t *)arg)->ban, from, (long)time(NULL));
}

static int s_screen_request(void *arg, osip_message_t *req, const struct sockaddr_in *from)
{
    sip_core_t *self = arg;
    return sip_ban_screen_request(self->ban, sip_conf_general(self->conf)->acl, req, from,
                                  (long)time(NULL));
}

sip_ban_t *sip_core_ban(sip_core_t *self)
{
    return self->ban;
}

static void s_on_register(sip_core_t *self, sip_txn_t *txn, osip_message_t *req,
                          const struct sockaddr_in *from)
{
    const sip_general_t *g = sip_conf_general(self->conf);
    long now = (long)time(NULL);
    char tag[SIP_MSG_TOKEN_LEN + 1], user[96], why[400], src[32];
    sip_msg_token(tag, sizeof tag);
    sip_msg_addr(from, src, sizeof src);
    const char *aor = req->to->url->username ? req->to->url->username : "";
    /* register_verify: the To user names the peer (sip_find_peer with
     * FINDPEERS: a type=user section cannot register); the digest user must
     * be the section's name (check_auth), whatever defaultuser says. */
    const sip_peer_t *peer = *aor ? sip_conf_peer(self->conf, aor) : NULL;
    if (peer && peer->type == SIP_PEER_USER)
        peer = NULL;
    if (peer && peer->nat == SIP_NAT_FORCE)     /* chan_sip: the peer's flags, then responses */
        sip_txn_force_rport(txn, from);
    osip_authorization_t *cred = sip_auth_credentials(self->auth, req, user, sizeof user);
    const char *refuse = NULL;   /* why register_verify refuses before any password check */
    const char *failed = "Wrong password";   /* chan_sip's reason in its NOTICE line */
    int refusal = 0;
    if (!peer) {
        refuse = "no such peer";
        refusal = 404;                                /* AUTH_NOT_FOUND: "404 Not found" */
        failed = g->alwaysauthreject ? "Wrong password" : "No matching peer found";
    } else if (!sip_acl_allows(peer->acl, from->sin_addr, NULL)) {
        /* register_verify applies the peer's permit/deny/acl first:
         * AUTH_ACL_FAILED, answered "404 Not found" (not 403: chan_sip's
         * switch sends 403 only for AUTH_PEER_NOT_DYNAMIC), or with
         * alwaysauthreject the fake challenge and then 403. */
        refuse = "Device does not match ACL";
        refusal = 404;
        failed = refuse;
    } else if (!peer->dynamic) {
        refuse = "not host=dynamic";
        refusal = 403;                                /* AUTH_PEER_NOT_DYNAMIC */
        failed = "Peer is not supposed to register";
    } else if (peer->has_secret && cred && strcmp(user, peer->name) != 0) {
        refuse = "the digest user is not the peer's name";
        refusal = 404;                                /* AUTH_USERNAME_MISMATCH */
        failed = "Username/auth name mismatch";
    }
    if (refuse && !g->alwaysauthreject) {
        snprintf(why, sizeof why, "REGISTER of '%s' by '%s' from %s: %s", aor, user, src, refuse);
        if (cred)
            sip_auth_on_failure(self->auth, from, user, "REGISTER", refuse);
        s_ban_failure(self, req, from, failed);     /* before the answer: it frees req */
        sip_msg_reply(txn, refusal, tag, why, NULL, NULL);
        return;
    }
    if (refuse || peer->has_secret) {
        /* With alwaysauthreject every refusal goes through the bogus peer or
         * transmit_fake_auth_response, which answer exactly as a wrong
         * password does: a challenge, then 403 to any credentials that
         * answer it (a NULL HA1 never verifies). */
        if (!cred) {
            s_challenge(self, txn, from, refuse ? NULL : peer, 0, "REGISTER without credentials");
            return;
        }
        sip_auth_result_t res = sip_auth_verify(self->auth, cred, req->req_uri, from, "REGISTER",
                                                refuse ? NULL : peer->ha1,
                                                refuse ? NULL : peer->ha1_sha256, now);
        if (res != SIP_AUTH_OK) {
            snprintf(why, sizeof why, "REGISTER of '%s' by '%s' from %s: %s%s%s", aor, user, src,
                     refuse ? refuse : "", refuse ? ", " : "", sip_auth_why(self->auth));
            if (res == SIP_AUTH_FAILED || res == SIP_AUTH_NONCE)  /* before the answer: it frees req */
                s_ban_failure(self, req, from, failed);
            s_auth_failed(self, txn, from, refuse ? NULL : peer, res, why);
            return;
        }
    }

    /* check_request_transport: a REGISTER over a transport the peer's
     * transport= does not list gets 403 once authenticated, as chan_sip. */
    sip_tp_t tp = sip_txn_transport(txn);
    unsigned bit = tp == SIP_TP_TCP ? SIP_TRANSPORT_TCP
                 : tp == SIP_TP_TLS ? SIP_TRANSPORT_TLS : SIP_TRANSPORT_UDP;
    if (!(peer->transports & bit)) {
        snprintf(why, sizeof why, "REGISTER of '%s' from %s: %s is not in its transport=",
                 aor, src, sip_transport_name(tp));
        s_ban_failure(self, req, from, "Device not configured to use this transport type");
        sip_msg_reply(txn, 403, tag, why, NULL, NULL);
        return;
    }

    /* supportpath=yes (chan_sip's build_path): the Path is kept with the
     * binding and echoed in the 200; no: Path is ignored. */
    char path[sizeof ((sip_binding_t *)0)->path];
    path[0] = '\0';
    if (peer->supportpath && s_path(req, path, sizeof path) != 0) {
        sip_msg_reply(txn, 500, tag, "Path too long to keep", NULL, NULL);
        return;
    }

    /* RFC 3261 10.3: Contact: * with Expires: 0 removes all; otherwise check
     * every expiry before changing anything. */
    const char *hexp = sip_msg_header(req, "expires");
    int n = osip_list_size(&req->contacts), star = 0;
    for (int i = 0; i < n; i++) {
        osip_contact_t *c = osip_list_get(&req->contacts, i);
        if (c && !c->url && c->displayname && strcmp(c->displayname, "*") == 0)
            star = 1;
    }
    long granted = -1;
    if (star) {
        if (n != 1 || !hexp || !s_digits(hexp) || atol(hexp) != 0) {
            sip_msg_reply(txn, 400, tag, "Contact: * needs Expires: 0 and no other Contact",
                          NULL, NULL);
            return;
        }
        sip_registrar_remove_all(self->registrar, peer->name);
        td_log(LOG_INFO, "%s unregistered every contact (from %s)", peer->name, src);
        granted = 0;
    } else {
        for (int i = 0; i < n; i++) {
            osip_contact_t *c = osip_list_get(&req->contacts, i);
            if (!c || !c->url) {
                sip_msg_reply(txn, 400, tag, "bad Contact", NULL, NULL);
                return;
            }
            long e = s_expiry(c, hexp);
            if (e > 0 && e < g->minexpiry) {
                char min[16];
                snprintf(min, sizeof min, "%d", g->minexpiry);
                snprintf(why, sizeof why, "%s asked for %ld s, less than minexpiry", peer->name, e);
                sip_msg_reply(txn, 423, tag, why, "Min-Expires", min);
                return;
            }
        }
        char cid[256];
        sip_msg_call_id(req, cid, sizeof cid);
        unsigned cseq = (unsigned)strtoul(req->cseq->number, NULL, 10);
        for (int i = 0; i < n; i++) {
            osip_contact_t *c = osip_list_get(&req->contacts, i);
            long e = s_expiry(c, hexp);
            if (e < 0)
                e = g->defaultexpiry;
            if (e > g->maxexpiry)
                e = g->maxexpiry;
            char *uri = NULL;
            if (osip_uri_to_str(c->url, &uri) != 0 || !uri)
                continue;
            struct sockaddr_in dest;
            sip_msg_target(req, c->url, from, peer->nat, &dest);
            int rc = sip_registrar_update(self->registrar, peer->name, uri, &dest, (int)e, now,
                                          cid, cseq, peer->insecure_port);
            if (rc < 0) {
                osip_free(uri);
                sip_msg_reply(txn, 500, tag, "cannot store the binding", NULL, NULL);
                return;
            }
            if (rc == 0 && e) {
                sip_registrar_set_path(self->registrar, peer->name, uri, path);
                sip_binding_t *kept = sip_registrar_find(self->registrar, peer->name, uri);
                const char *ua = sip_msg_header(req, "user-agent");
                if (kept) {
                    kept->transport = (int)tp;
                    snprintf(kept->useragent, sizeof kept->useragent, "%s", ua ? ua : "");
                }
            }
            if (rc == 0 && e) {
                td_log(LOG_INFO, "%s registered %s from %s for %ld s%s%s", peer->name, uri, src,
                       e, path[0] ? " through " : "", path);
                sip_qualify_registered(self->qualify, peer);
            }
            else if (rc == 0)
                td_log(LOG_INFO, "%s unregistered %s (from %s)", peer->name, uri, src);
            osip_free(uri);
            granted = e;
        }
    }

    if (star || n > 0)                            /* a query (no Contact) changes nothing */
        s_store_reg(self, peer->name, now);
    if (self->location)
        sip_location_changed(self->location, peer->name, now);
    osip_message_t *r = sip_txn_make_response(txn, 200, tag);
    if (!r)
        return;
    const sip_binding_t *b[SIP_REGISTRAR_MAX_CONTACTS];
    size_t nb = sip_registrar_bindings(self->registrar, peer->name, now, b,
                                       SIP_REGISTRAR_MAX_CONTACTS);
    for (size_t i = 0; i < nb; i++) {
        char value[400];
        snprintf(value, sizeof value, "<%s>;expires=%ld", b[i]->uri, b[i]->expires_at - now);
        osip_message_set_contact(r, value);
    }
    if (granted >= 0) {
        char e[24];
        snprintf(e, sizeof e, "%ld", granted);
        osip_message_set_header(r, "Expires", e);
    }
    if (peer->supportpath) {                      /* RFC 3327 5.3: the stored path back */
        if (path[0])
            osip_message_set_header(r, "Path", path);
        osip_message_set_header(r, "Supported", "path");
    }
    char date[64];
    time_t t = (time_t)now;
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm));
    osip_message_set_header(r, "Date", date);
    sip_txn_respond(txn, &r);
}

/* ---- who is calling ------------------------------------------------------------ */

/* Identify the sender of an out-of-dialog INVITE (or OPTIONS, with
 * auth_options_requests=yes) in chan_sip's order (sip_ident.h) and
 * authenticate it as check_peer_ok / check_auth do. Returns 1 with *caller
 * set (NULL: a guest) when the request may go on, 0 when it has been
 * answered (a challenge or 403). */
static int s_identify(sip_core_t *self, sip_txn_t *txn, osip_message_t *req,
                      const struct sockaddr_in *from, const sip_peer_t **caller)
{
    const sip_general_t *g = sip_conf_general(self->conf);
    const char *m = req->sip_method;
    long now = (long)time(NULL);
    char name[96], user[96], why[400], src[32];
    sip_msg_addr(from, src, sizeof src);
    sip_ident_name(req, g->match_auth_username, name, sizeof name);
    sip_ident_how_t how;
    sip_tp_t tp = sip_txn_transport(txn);
    const sip_peer_t *p = sip_ident_find_on(self->conf, self->registrar, s_is(m, "SUBSCRIBE"), name,
                                            from, tp == SIP_TP_TCP ? SIP_TRANSPORT_TCP
                                            : tp == SIP_TP_TLS ? SIP_TRANSPORT_TLS
                                            : SIP_TRANSPORT_UDP, now, &how);
    *caller = NULL;
    if (p && p->nat == SIP_NAT_FORCE)           /* check_peer_ok copies the peer's nat flags */
        sip_txn_force_rport(txn, from);
    if (!p) {
        if (g->allowguest) {
            td_logs_limited(TD_LOG_SIP, LOG_DEBUG, 10, "%s from '%s' at %s: no peer, a guest", m, name, src);
            return 1;
        }
        if (!g->alwaysauthreject) {
            snprintf(why, sizeof why, "'%s' from %s matches no peer and allowguest=no", name, src);
            sip_auth_on_failure(self->auth, from, name, m, "no such peer and allowguest=no");
            s_ban_failure(self, req, from, "No matching endpoint found");
            sip_msg_reply(txn, 403, NULL, why, NULL, NULL);
            return 0;
        }
        /* chan_sip's bogus peer: an unknown caller is challenged exactly
         * like a known one, so the answer does not tell which users exist;
         * whatever credentials come back get 403. */
    } else if (!sip_acl_allows(p->acl, from->sin_addr, NULL)) {
        /* check_peer_ok applies the peer's ACL before anything else:
         * AUTH_ACL_FAILED, which send_check_user_failure_response answers
         * with 403 at once (alwaysauthreject or not). */
        snprintf(why, sizeof why, "%s from '%s' at %s: peer %s, but its ACL denies the address",
                 m, name, src, p->name);
        td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 10, "403: %s", why);
        s_ban_failure(self, req, from, "Not match Endpoint ACL");
        sip_msg_reply(txn, 403, NULL, NULL, NULL, NULL);
        return 0;
    } else if (p->insecure_invite || !p->has_secret) {
        /* check_peer_ok: insecure=invite "pretend[s] there is no required
         * authentication" for every method it identifies (here OPTIONS too),
         * where sip.conf.sample says "incoming INVITEs": we follow the code.
         * check_auth: "Always OK if no secret". */
        td_logs_limited(TD_LOG_SIP, LOG_DEBUG, 10, "%s from '%s' at %s: peer %s (by %s), not challenged", m, name, src,
               p->name, sip_ident_how_str(how));
        *caller = p;
        return 1;
    }
    /* Every method is challenged with 401 and WWW-Authenticate (s_challenge). */
    osip_authorization_t *cred = sip_auth_credentials(self->auth, req, user, sizeof user);
    if (!cred) {
        snprintf(why, sizeof why, "%s from '%s' at %s: %s%s%s, challenged", m, name, src,
                 p ? "peer " : "no peer (alwaysauthreject)", p ? p->name : "",
                 p ? (how == SIP_IDENT_NAME ? " by name" : " by address") : "");
        s_challenge(self, txn, from, p, 0, why);
        return 0;
    }
    /* check_auth: the digest user must be the device's section name (not
     * its defaultuser), else AUTH_USERNAME_MISMATCH, which
     * send_check_user_failure_response answers with 403 at once, whatever
     * the nonce. The bogus peer skips this check, so in chan_sip a stale
     * nonce with a mismatched user name tells a known From user (403) from
     * an unknown one (a new challenge). With alwaysauthreject we close that:
     * a mismatch is checked as a wrong password (an HA1 that never
     * matches), after the nonce, exactly as the bogus peer is. */
    int mismatch = p && strcmp(user, p->name) != 0;
    if (mismatch && !g->alwaysauthreject) {
        snprintf(why, sizeof why, "%s from %s: peer %s, but the digest user is '%s' "
                 "(username mismatch)", m, src, p->name, user);
        sip_auth_on_failure(self->auth, from, user, m, "username mismatch");
        td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 10, "403: %s", why);
        s_ban_failure(self, req, from, "Failed to authenticate");
        sip_msg_reply(txn, 403, NULL, NULL, NULL, NULL);
        return 0;
    }
    sip_auth_result_t res = sip_auth_verify(self->auth, cred, req->req_uri, from, m,
                                            p && !mismatch ? p->ha1 : NULL,
                                            p && !mismatch ? p->ha1_sha256 : NULL, now);
    if (res == SIP_AUTH_OK) {
        *caller = p;
        return 1;
    }
    snprintf(why, sizeof why, "%s by '%s' from %s: %s%s", m, user, src,
             mismatch ? "username mismatch, " : "", sip_auth_why(self->auth));
    if (res == SIP_AUTH_FAILED || res == SIP_AUTH_NONCE)  /* before the answer: it frees req */
        s_ban_failure(self, req, from, "Failed to authenticate");
    s_auth_failed(self, txn, from, p, res, why);
    return 0;
}

/* ---- INVITE ------------------------------------------------------------------- */

/* Whether the offer has a codec the caller's allow= list (or [general]'s for
 * a guest) permits and the worker carries. If not, 488 (chan_sip's process_sdp
 * finds no joint capability: "No compatible codecs, not accepting this
 * offer!", then "488 Not Acceptable Here"), with RFC 3261's Warning 304. An
 * offer that does not parse goes on: the worker refuses it (cause 58, 488). */
static int s_joint_codec(sip_core_t *self, const sip_peer_t *caller, const char *body,
                         size_t len, sip_txn_t *txn)
{
    const sip_codec_order_t *allow = caller ? &caller->codec_order
                                            : &sip_conf_general(self->conf)->codec_order;
    sdp_media_t offer;
    char err[128];
    uint8_t keep[4];
    if (sdp_parse(body, len, &offer, err, sizeof err) < 0
        || sdp_keep(&offer, allow->pt, allow->n, 1, keep) > 0)
        return 1;
    td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 10, "No compatible codecs, not accepting this offer! (%s allows %s%s%s)",
           caller ? caller->name : "[general]", allow->n ? "" : "none",
           allow->n ? (allow->pt[0] == 0 ? "ulaw" : "alaw") : "",
           allow->n > 1 ? (allow->pt[1] == 0 ? ",ulaw" : ",alaw") : "");
    char warn[160];
    snprintf(warn, sizeof warn, "304 %s \"Media type not available\"", self->identity);
    sip_msg_reply(txn, 488, NULL, NULL, "Warning", warn);
    return 0;
}

/* SRTP (SDES) as chan_sip's process_sdp takes it (sdp_crypto_offer_status):
 * a secure offer needs a usable a=crypto line, an offer whose a=crypto lines
 * are all unusable is refused, and a caller with encryption=yes must offer
 * one; else 488 ("488 Not acceptable here" in chan_sip's handle_request_invite).
 * A guest is never encryption=yes. An offer that does not parse goes on. */
static int s_crypto_ok(const sip_peer_t *caller, const char *body, size_t len, sip_txn_t *txn)
{
    sdp_media_t offer;
    char err[128];
    if (sdp_parse(body, len, &offer, err, sizeof err) < 0 ||
        sdp_crypto_offer_status(&offer, caller && caller->encryption) == 0)
        return 1;
    td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 10, "%s: %s", caller ? caller->name : "guest",
           offer.secure && !offer.crypto_ok ? "Rejecting secure audio stream without encryption details"
           : offer.ncrypto && !offer.crypto_ok ? "no usable a=crypto line (suite, key or parameters)"
           : "Matched device setup to use SRTP, but request was not!");
    sip_msg_reply(txn, 488, NULL, NULL, NULL, NULL);
    return 0;
}

static void s_on_invite(sip_core_t *self, sip_txn_t *txn, osip_message_t *req,
                        const struct sockaddr_in *from)
{
    if (osip_list_size(&req->contacts) < 1
        || !((osip_contact_t *)osip_list_get(&req->contacts, 0))->url) {
        sip_msg_reply(txn, 400, NULL, "INVITE without a Contact", NULL, NULL);
        return;
    }
    const sip_peer_t *caller = NULL;
    if (!s_identify(self, txn, req, from, &caller))
        return;

    if (self->stopping) {
        sip_msg_reply(txn, 503, NULL, "shutting down", "Retry-After", "30");
        return;
    }
    if (!td_bus_peer_alive(self->bus, NULL)) {
        sip_msg_reply(txn, 503, NULL, "the router is not up", "Retry-After", "5");
        return;
    }
    /* capacity counts answered calls; calls being set up (ringing a callee
     * that may never answer) have their own bound, so they cannot lock out
     * every new call (issue 11) */
    sip_legs_stats_t st;
    sip_legs_stats(self->call, &st);
    if (st.calls_up >= self->opts.capacity) {
        sip_msg_reply(txn, 503, NULL, "at capacity", "Retry-After", "1");
        return;
    }
    if (st.calls - st.calls_up >= self->opts.max_ringing) {
        sip_msg_reply(txn, 503, NULL, "too many calls being set up", "Retry-After", "1");
        return;
    }
    size_t len = 0;
    const char *body = sip_msg_body(req, &len);
    if (!body) {
        sip_msg_reply(txn, 488, NULL, "INVITE without SDP (late offer) is not supported",
                      NULL, NULL);
        return;
    }
    if (!s_joint_codec(self, caller, body, len, txn) || !s_crypto_ok(caller, body, len, txn))
        return;
    sip_legs_incoming(self->call, txn, req, from, caller);
}

/* ---- transaction-user callbacks ------------------------------------------- */

static void s_on_request(void *arg, sip_txn_t *txn, osip_message_t *req,
                         const struct sockaddr_in *from)
{
    sip_core_t *self = arg;
    const char *m = req->sip_method;
    if (!txn) {                             /* ACK for a 2xx */
        sip_legs_in_dialog(self->call, NULL, req);
        return;
    }
    if (s_check(self, txn, req) != 0)
        return;
    if (s_is(m, "CANCEL"))
        sip_legs_cancel(self->call, txn, req);
    else if (sip_msg_to_tag(req))
        sip_legs_in_dialog(self->call, txn, req);
    else if (s_is(m, "INVITE"))
        s_on_invite(self, txn, req, from);
    else if (s_is(m, "REGISTER"))
        s_on_register(self, txn, req, from);
    else if (s_is(m, "OPTIONS")) {
        const sip_peer_t *who = NULL;
        const sip_general_t *g = sip_conf_general(self->conf);
        if (g->auth_options_requests && !s_identify(self, txn, req, from, &who))
            return;
        if (self->stopping)                 /* chan_sip: ast_shutting_down() */
            sip_msg_reply(txn, 503, NULL, "OPTIONS while shutting down", NULL, NULL);
        else
            sip_options_request(self->options, txn, req, who ? who->context : g->context);
    } else if (s_is(m, "BYE"))
        sip_msg_reply(txn, 481, NULL, "BYE outside a dialog", NULL, NULL);
    else if (s_is(m, "REFER"))
        sip_legs_refer_outside(self->call, txn);
    else if (s_is(m, "SUBSCRIBE") || s_is(m, "NOTIFY") || s_is(m, "PUBLISH")
             || s_is(m, "MESSAGE") || s_is(m, "INFO")
             || s_is(m, "UPDATE") || s_is(m, "PRACK"))
        sip_msg_reply(txn, 405, NULL, "method not allowed here", NULL, NULL);
    else
        sip_msg_reply(txn, 501, NULL, "unknown method", NULL, NULL);
}

/* Client transactions belong to a call leg or to an outbound registration
 * (or to nobody any more): the owner says which. */
static int s_outreg_txn(sip_core_t *self, sip_txn_t *txn)
{
    return txn && sip_outreg_owns(self->outreg, sip_txn_owner(txn));
}

static int s_qualify_txn(sip_core_t *self, sip_txn_t *txn)
{
    return txn && sip_qualify_owns(self->qualify, sip_txn_owner(txn));
}

static void s_on_response(void *arg, sip_txn_t *txn, osip_message_t *resp)
{
    sip_core_t *self = arg;
    if (s_outreg_txn(self, txn))
        sip_outreg_response(self->outreg, txn, resp);
    else if (s_qualify_txn(self, txn))
        sip_qualify_response(self->qualify, txn, resp);
    else
        sip_legs_response(self->call, txn, resp);
}

static void s_on_timeout(void *arg, sip_txn_t *txn)
{
    sip_core_t *self = arg;
    if (s_outreg_txn(self, txn))
        sip_outreg_timeout(self->outreg, txn);
    else if (s_qualify_txn(self, txn))
        sip_qualify_terminated(self->qualify, txn);
    else
        sip_legs_timeout(self->call, txn);
    td_log_set_context(NULL);               /* timers run outside any message */
}

static void s_on_ack_timeout(void *arg, sip_txn_t *txn)
{
    sip_legs_ack_timeout(((sip_core_t *)arg)->call, txn);
    td_log_set_context(NULL);               /* timers run outside any message */
}

static void s_on_terminated(void *arg, sip_txn_t *txn)
{
    sip_core_t *self = arg;
    if (sip_options_owns(self->options, txn))
        sip_options_terminated(self->options, txn);
    else if (s_outreg_txn(self, txn))
        sip_outreg_terminated(self->outreg, txn);
    else if (s_qualify_txn(self, txn))
        sip_qualify_terminated(self->qualify, txn);
    else
        sip_legs_terminated(self->call, txn);
    td_log_set_context(NULL);               /* timers run outside any message */
}

/* ---- bus handlers --------------------------------------------------------- */

#define BUS_ENTER(hdr) td_log_set_context((hdr)->call_id)
#define BUS_LEAVE() td_log_set_context(NULL)

static void s_on_exten_reply(void *arg, const td_bus_hdr_t *hdr, const Tandem__ExtenReply *msg)
{
    (void)hdr;
    sip_options_reply(((sip_core_t *)arg)->options, msg);
}

static void s_on_originate(void *arg, const td_bus_hdr_t *hdr, const Tandem__Originate *msg)
{
    BUS_ENTER(hdr);
    sip_legs_on_originate(((sip_core_t *)arg)->call, hdr, msg);
    BUS_LEAVE();
}

static void s_on_progress(void *arg, const td_bus_hdr_t *hdr, const Tandem__Progress *msg)
{
    BUS_ENTER(hdr);
    sip_legs_on_progress(((sip_core_t *)arg)->call, hdr, msg);
    BUS_LEAVE();
}

static void s_on_reinvite(void *arg, const td_bus_hdr_t *hdr, const Tandem__Reinvite *msg)
{
    BUS_ENTER(hdr);
    sip_legs_on_reinvite(((sip_core_t *)arg)->call, hdr, msg);
    BUS_LEAVE();
}

static void s_on_reinvite_answer(void *arg, const td_bus_hdr_t *hdr,
                                 const Tandem__ReinviteAnswer *msg)
{
    BUS_ENTER(hdr);
    sip_legs_on_reinvite_answer(((sip_core_t *)arg)->call, hdr, msg);
    BUS_LEAVE();
}

static void s_on_transfer_result(void *arg, const td_bus_hdr_t *hdr,
                                 const Tandem__TransferResult *msg)
{
    BUS_ENTER(hdr);
    sip_legs_on_transfer_result(((sip_core_t *)arg)->call, hdr, msg);
    BUS_LEAVE();
}

static void s_on_answer(void *arg, const td_bus_hdr_t *hdr, const Tandem__Answer *msg)
{
    BUS_ENTER(hdr);
    sip_legs_on_answer(((sip_core_t *)arg)->call, hdr, msg);
    BUS_LEAVE();
}

static void s_on_hangup(void *arg, const td_bus_hdr_t *hdr, const Tandem__Hangup *msg)
{
    BUS_ENTER(hdr);
    sip_legs_on_hangup(((sip_core_t *)arg)->call, hdr, msg);
    BUS_LEAVE();
}

/* Messages signaling has no business receiving (ChannelNew, media ones):
 * for a leg we do not know, Hangup lets the router clean up. */
#define S_OTHER(name, Type) \
    static void s_on_##name(void *arg, const td_bus_hdr_t *hdr, const Tandem__##Type *msg) \
    { \
        (void)msg; \
        BUS_ENTER(hdr); \
        if (hdr->call_id && *hdr->call_id) \
            sip_legs_on_other(((sip_core_t *)arg)->call, hdr); \
        BUS_LEAVE(); \
    }
S_OTHER(channel_new, ChannelNew)
S_OTHER(media_offered, MediaOffered)
S_OTHER(media_answered, MediaAnswered)

/* The bus logs peers coming and going; the core only acts on routers.
 * A router declared dead may only be slow (its Hellos queue behind a burst of
 * calls), so calls being set up are given ROUTER_GRACE_S before the tick
 * ends those it owned; new calls get 503 meanwhile if no router is left
 * (else they go to the live ones: sip_legs picks each call's owner). */
static void s_dead_router(void *arg, const char *identity, const char *role, int alive,
                          uint32_t capacity, uint32_t load, uint64_t silent_ms)
{
    (void)identity; (void)capacity; (void)load; (void)silent_ms;
    if (!alive && strcmp(role, "router") == 0)
        *(int *)arg = 1;
}

/* [cluster] in tandem.conf: routers are adopted, not mourned (adopt.h). */
static int s_cluster(const sip_core_t *self)
{
    return self->opts.cluster && self->opts.cluster->enabled;
}

static void s_on_peer_up(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    sip_core_t *self = arg;
    (void)capacity;
    if (strcmp(role, "router") != 0)
        return;
    int dead = 0;
    td_bus_peers_foreach(self->bus, s_dead_router, &dead);
    if (!dead)
        self->router_down_since = 0;
    if (s_cluster(self))
        sip_legs_resend_hangups(self->call);
    size_t n = sip_legs_announce_restored(self->call);
    if (n)
        td_log(LOG_NOTICE, "%s is up: told it about %zu restored dialog(s)", peer, n);
    /* it may be new, or have lost our registrations: all of them again */
    if (self->location)
        sip_location_send_all(self->location, peer, (long)time(NULL));
}

static void s_on_peer_down(void *arg, const char *peer, const char *role)
{
    sip_core_t *self = arg;
    if (strcmp(role, "router") == 0) {
        if (td_bus_peer_alive(self->bus, NULL))
            td_log(LOG_WARNING, "router %s is down: new calls go to the live router(s)", peer);
        else
            td_log(LOG_WARNING, "the router is down: new calls get 503 until it is back");
        if (!self->router_down_since)
            self->router_down_since = (long)time(NULL);
    }
}

/* A router restarted (its Hello carries a new boot), faster than the bus
 * notices silence or after: the new process knows none of our calls. */
static void s_on_peer_restart(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    sip_core_t *self = arg;
    (void)capacity;
    if (strcmp(role, "router") != 0)
        return;
    int dead = 0;
    td_bus_peers_foreach(self->bus, s_dead_router, &dead);
    if (!dead)
        self->router_down_since = 0;
    if (s_cluster(self)) {
        /* Its answered calls are in the store: the router that gets their
         * next message adopts them. What it was setting up is lost. */
        size_t n = sip_legs_router_lost(self->call, peer, "the router restarted");
        sip_legs_resend_hangups(self->call);
        td_log(LOG_WARNING, "%s restarted: answered calls go on (adopted from the cluster "
               "store); %zu leg(s) being set up ended", peer, n);
        return;
    }
    size_t n = sip_legs_router_restarted(self->call, peer);
    if (self->location)
        sip_location_send_all(self->location, peer, (long)time(NULL));
    td_log(LOG_WARNING, "%s restarted and knows none of our calls: %zu leg(s) ended", peer, n);
}

/* ---- housekeeping ------------------------------------------------------------ */

void sip_core_tick(sip_core_t *self, long now)
{
    if (self->router_down_since && now - self->router_down_since >= ROUTER_GRACE_S) {
        self->router_down_since = 0;        /* once per outage */
        sip_legs_router_down(self->call);
    }
    sip_ban_sweep(self->ban, now);
    size_t gone = sip_registrar_expire(self->registrar, now);
    if (self->location)
        sip_location_flush(self->location);     /* the peers that expired */
    if (gone)
        td_log(LOG_INFO, "%zu registration(s) expired", gone);
    sip_legs_stats_t cs;
    sip_legs_stats(self->call, &cs);
    td_bus_set_load(self->bus, (uint32_t)cs.calls);
    sip_txn_stats_t ts;
    sip_txn_layer_stats(self->layer, &ts);
    /* Transactions outlive their calls by up to 64*T1, so signaling's heap
     * follows the peak offered rate; once they are gone, give the memory
     * back to the system (glibc keeps freed memory otherwise). */
    if (ts.live > self->txn_peak)
        self->txn_peak = ts.live;
    if (self->txn_peak >= TRIM_MIN_TXNS && ts.live < self->txn_peak / 2) {
        malloc_trim(0);
        td_log(LOG_INFO, "transactions down from %lu to %lu: memory returned to the system",
               self->txn_peak, ts.live);
        self->txn_peak = ts.live;
    }
    if (++self->ticks % STATS_EVERY == 0) {
        sip_load_stats_t ls;
        sip_load_stats(self->load, &ls);
        td_log(LOG_INFO, "stats: calls %zu, legs %zu, registrations %zu; calls in %lu, legs out "
               "%lu; sip rx %lu tx %lu dropped %lu bad %lu retransmits %lu, transactions %lu",
               cs.calls, cs.legs, sip_registrar_count(self->registrar), cs.calls_in, cs.legs_out,
               ts.rx, ts.tx, ts.dropped, ts.bad_requests, ts.retransmits, ts.live);
        td_log(LOG_INFO, "stats: load: loop lag %u ms, busy %u%%; new calls offered %llu, "
               "admitted %llu, shed %llu (503), overload episodes %llu",
               ls.lag_us / 1000, ls.busy_pct, (unsigned long long)ls.offered,
               (unsigned long long)ls.admitted, (unsigned long long)ls.shed,
               (unsigned long long)ls.episodes);
        sip_outreg_log(self->outreg);
        sip_qualify_log(self->qualify);
        sip_listen_log(sip_txn_layer_transport(self->layer));
    }
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sip_core_tick(arg, (long)time(NULL));
}

/* ---- sip reload and the CLI ------------------------------------------------- */

typedef struct {
    sip_core_t *self;
    const sip_conf_t *next;
} s_keep_t;

static int s_keep_aor(void *arg, const char *aor)
{
    s_keep_t *k = arg;
    const sip_peer_t *p = sip_conf_peer(k->next, aor);
    if (p && p->dynamic)
        return 1;
    if (k->self->state) {
        char key[128];
        if (snprintf(key, sizeof key, "reg:%s", aor) < (int)sizeof key)
            td_store_del(sip_state_store(k->self->state), key);
    }
    return 0;
}

static int s_bind_differs(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_addr.s_addr != b->sin_addr.s_addr || a->sin_port != b->sin_port;
}

int sip_core_reload(sip_core_t *self, char *why, size_t len)
{
    if (!self->conf_path[0]) {
        snprintf(why, len, "no sip.conf path known to this process");
        return -1;
    }
    char err[1024];
    sip_conf_t *next = sip_conf_load(self->conf_path, err, sizeof err);
    if (!next) {
        snprintf(why, len, "%s", err);
        td_log(LOG_ERR, "sip reload refused, the configuration in force stays: %s", err);
        return -1;
    }
    const sip_general_t *was = sip_conf_general(self->conf), *g = sip_conf_general(next);
    /* The new parts first: if one cannot be made, nothing changed. */
    int realm_changed = strcmp(was->realm, g->realm) != 0;
    sip_auth_t *auth = realm_changed ? sip_auth_new(g->realm) : NULL;
    s_auth_setup(self, auth);
    sip_extern_t *ext = sip_extern_new(g);
    sip_outreg_env_t renv = {
        .base = self->base, .layer = self->layer, .conf = next, .local_addr = s_local_addr,
        .arg = self,
    };
    sip_outreg_t *outreg = sip_outreg_new(&renv);
    sip_qualify_env_t qenv = {
        .base = self->base, .layer = self->layer, .conf = next, .registrar = self->registrar,
        .local_addr = s_local_addr, .arg = self,
    };
    sip_qualify_t *qualify = sip_qualify_new(&qenv);
    if ((realm_changed && !auth) || !ext || !outreg || !qualify) {
        sip_qualify_destroy(&qualify);
        sip_outreg_destroy(&outreg);
        sip_extern_destroy(&ext);
        sip_auth_destroy(&auth);
        sip_conf_destroy(&next);
        snprintf(why, len, "out of memory");
        td_log(LOG_ERR, "sip reload failed (out of memory), the configuration in force stays");
        return -1;
    }
    if (s_bind_differs(&was->bind, &g->bind) || was->tcpenable != g->tcpenable
        || was->tlsenable != g->tlsenable || s_bind_differs(&was->tcpbind, &g->tcpbind)
        || s_bind_differs(&was->tlsbind, &g->tlsbind))
        td_log(LOG_WARNING, "sip reload: bind addresses and the TCP/TLS listeners stay as they "
               "are until signaling restarts");
    /* Put it in force: everything that looks into the conf moves to next. */
    sip_qualify_adopt(qualify, self->qualify);
    sip_qualify_destroy(&self->qualify);
    self->qualify = qualify;
    sip_outreg_destroy(&self->outreg);      /* chan_sip's cleanup_all_regs: no un-REGISTER */
    self->outreg = outreg;
    sip_extern_destroy(&self->ext);
    self->ext = ext;
    sip_txn_layer_set_nat(self->layer, g->nat == SIP_NAT_FORCE, s_remap, self);
    if (auth) {
        sip_auth_destroy(&self->auth);      /* nonces of the old realm are no use */
        self->auth = auth;
    }
    sip_transport_set_preferred(sip_txn_layer_transport(self->layer), sip_listen_preferred,
                                (void *)next);
    sip_legs_set_conf(self->call, next);
    s_keep_t keep = { self, next };
    size_t dropped = sip_registrar_prune(self->registrar, s_keep_aor, &keep);
    if (self->location)
        sip_location_flush(self->location);     /* the peers that went */
    self->conf = next;
    sip_conf_destroy(&self->owned);
    self->owned = next;
    sip_outreg_start(self->outreg);
    snprintf(why, len, "Reloaded %s: %zu peers, %zu registrations; %zu binding(s) of removed "
             "peers dropped", self->conf_path, sip_conf_peer_count(next),
             sip_conf_register_count(next), dropped);
    td_log(LOG_NOTICE, "%s", why);
    return 0;
}

const sip_conf_t *sip_core_conf(sip_core_t *self)
{
    return self->conf;
}

static int s_cli_reload(void *arg, char *why, size_t len)
{
    return sip_core_reload(arg, why, len);
}

static int s_cli_lastms(void *arg, const sip_peer_t *peer)
{
    sip_core_t *self = arg;
    return sip_qualify_lastms(self->qualify, peer);
}

/* A `sip ...` command that the router relays from tandemctl. */
static void s_on_cli_request(void *arg, const td_bus_hdr_t *hdr, const Tandem__CliRequest *msg)
{
    sip_core_t *self = arg;
    sip_cli_env_t env = {
        .conf = self->conf, .registrar = self->registrar, .lastms = s_cli_lastms,
        .outreg = self->outreg, .now = (long)time(NULL), .reload = s_cli_reload, .arg = self,
        .ban = self->ban,
    };
    char *text = NULL;
    Tandem__CliReply r = TANDEM__CLI_REPLY__INIT;
    r.id = msg->id;
    r.status = (uint32_t)sip_cli_run(&env, msg->command ? msg->command : "", &text);
    r.text = text ? text : "";
    td_bus_send_cli_reply(self->bus, hdr->peer, "", 0, &r);   /* the router that asked */
    free(text);
}

/* ---- the class ----------------------------------------------------------------- */

sip_core_t *sip_core_new(struct event_base *base, const sip_conf_t *conf, int fd,
                         const sip_core_opts_t *opts)
{
    sip_core_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->conf = conf;
    self->opts = *opts;
    snprintf(self->identity, sizeof self->identity, "%s", opts->identity ? opts->identity : "sig-1");
    self->opts.identity = self->identity;
    snprintf(self->conf_path, sizeof self->conf_path, "%s", opts->conf_path ? opts->conf_path : "");
    self->opts.conf_path = self->conf_path;
    if (!self->opts.capacity)
        self->opts.capacity = 2000;
    if (!self->opts.max_ringing)
        self->opts.max_ringing = 2 * self->opts.capacity;
    if (!self->opts.max_sdp)
        self->opts.max_sdp = 16384;
    socklen_t bl = sizeof self->bound;
    if (getsockname(fd, (struct sockaddr *)&self->bound, &bl) != 0) {
        td_log(LOG_ERR, "sip_core: getsockname: not a bound socket");
        free(self);
        return NULL;
    }

    /* [cluster]: read back this node's registrations and dialogs before
     * anything is watched (sip_state.h), so nothing is served half restored. */
    if (opts->cluster && opts->cluster->enabled) {
        self->state = sip_state_new(base, opts->cluster, self->identity);
        if (!self->state) {
            free(self);
            return NULL;
        }
        sip_state_load(self->state, base, SIP_STATE_LOAD_MS);
    }

    sip_txn_handlers_t th = {
        .on_request = s_on_request,
        .on_response = s_on_response,
        .on_timeout = s_on_timeout,
        .on_ack_timeout = s_on_ack_timeout,
        .on_terminated = s_on_terminated,
    };
    td_bus_handlers_t bh = {
        .on_originate = s_on_originate,
        .on_progress = s_on_progress,
        .on_answer = s_on_answer,
        .on_reinvite = s_on_reinvite,
        .on_reinvite_answer = s_on_reinvite_answer,
        .on_transfer_result = s_on_transfer_result,
        .on_hangup = s_on_hangup,
        .on_channel_new = s_on_channel_new,
        .on_media_offered = s_on_media_offered,
        .on_media_answered = s_on_media_answered,
        .on_peer_up = s_on_peer_up,
        .on_peer_down = s_on_peer_down,
        .on_exten_reply = s_on_exten_reply,
        .on_cli_request = s_on_cli_request,
        .on_peer_restart = s_on_peer_restart,
    };
    self->auth = sip_auth_new(sip_conf_general(conf)->realm);
    s_auth_setup(self, self->auth);
    sip_ban_opts_t bo;
    sip_ban_opts_default(&bo);
    char ban_err[200];
    self->ban = sip_ban_new(opts->ban ? opts->ban : &bo, ban_err, sizeof ban_err);
    if (!self->ban)
        td_log(LOG_ERR, "sip_core: [security] %s", ban_err);
    self->registrar = sip_registrar_new();
    self->layer = sip_txn_layer_new(base, fd, &th, self);
    self->ext = sip_extern_new(sip_conf_general(conf));
    if (self->layer && self->ext)
        sip_txn_layer_set_nat(self->layer, sip_conf_general(conf)->nat == SIP_NAT_FORCE,
                              s_remap, self);
    self->bus = td_bus_new_keyed(base, TD_BUS_CONNECT, opts->endpoint, self->identity,
                                 "signaling", self->opts.capacity, &bh, self, opts->bus_keys);
    if (self->bus && opts->discover && *opts->discover
        && td_bus_discover(self->bus, opts->discover) != 0)
        td_bus_destroy(&self->bus);
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    sip_load_opts_t lo = { .lag_ms = self->opts.overload_lag_ms, .max_cps = self->opts.max_cps };
    self->load = sip_load_new(&lo, s_now_us(), s_cpu_us());
    self->sampler = evtimer_new(base, s_on_sample, self);
    if (self->layer && sip_listen_streams(sip_txn_layer_transport(self->layer), conf,
                                          &self->bound) != 0) {
        sip_core_destroy(&self);
        return NULL;
    }
    if (!self->auth || !self->registrar || !self->layer || !self->ext || !self->bus || !self->tick
        || !self->load || !self->sampler || !self->ban) {
        td_log(LOG_ERR, "sip_core: cannot start (%s)", !self->layer ? "transaction layer"
                        : !self->bus ? "bus" : "out of memory");
        sip_core_destroy(&self);
        return NULL;
    }
    sip_legs_env_t env = {
        .base = base, .layer = self->layer, .bus = self->bus, .conf = conf,
        .registrar = self->registrar, .identity = self->identity,
        .local_addr = s_local_addr, .usable = s_usable, .sdp_for = s_sdp_for, .arg = self,
        .store = self->state ? sip_state_store(self->state) : NULL,
        .cluster = opts->cluster && opts->cluster->enabled,
        .max_sdp = self->opts.max_sdp,
    };
    self->call = sip_legs_new(&env);
    sip_outreg_env_t renv = {
        .base = base, .layer = self->layer, .conf = conf, .local_addr = s_local_addr,
        .arg = self,
    };
    self->outreg = sip_outreg_new(&renv);
    sip_qualify_env_t qenv = {
        .base = base, .layer = self->layer, .conf = conf, .registrar = self->registrar,
        .local_addr = s_local_addr, .arg = self,
    };
    self->qualify = sip_qualify_new(&qenv);
    self->options = sip_options_new(base, self->bus);
    self->location = sip_location_new(self->bus, self->registrar, self->identity);
    struct timeval second = { 1, 0 };
    if (!self->call || !self->outreg || !self->qualify || !self->options || !self->location
        || event_add(self->tick, &second) != 0) {
        sip_core_destroy(&self);
        return NULL;
    }
    sip_txn_layer_set_max(self->layer, self->opts.max_transactions);
    sip_txn_screen_t screen = { s_screen_source, s_screen_request };
    sip_txn_layer_set_screen(self->layer, &screen, self);
    if (self->opts.overload_lag_ms || self->opts.max_cps) {
        sip_txn_layer_set_admit(self->layer, s_admit, self);
        s_sample_arm(self, SAMPLE_IDLE_MS);
    }
    if (self->state) {
        size_t regs = sip_state_each(self->state, "reg:", s_restore_reg, self);
        size_t dlgs = sip_state_each(self->state, "dlg:", s_restore_dlg, self);
        sip_state_forget(self->state);
        td_store_on_up(sip_state_store(self->state), s_on_store_up, self);
        s_on_store_up(self);       /* up already: the mark goes in (nothing when away) */
        if (regs || dlgs)
            td_log(LOG_NOTICE, "restored from the cluster store: %zu registration(s) (%zu "
                   "binding(s) live), %zu dialog(s)", regs, sip_registrar_count(self->registrar),
                   dlgs);
    }
    sip_outreg_start(self->outreg);
    return self;
}

void sip_core_destroy(sip_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_core_t *self = *self_p;
    if (self->tick)
        event_free(self->tick);
    if (self->sampler)
        event_free(self->sampler);
    sip_load_destroy(&self->load);
    sip_ban_destroy(&self->ban);
    sip_legs_destroy(&self->call);          /* legs first: they point at transactions */
    sip_outreg_destroy(&self->outreg);
    sip_qualify_destroy(&self->qualify);
    sip_options_destroy(&self->options);
    sip_location_destroy(&self->location);
    td_bus_destroy(&self->bus);
    sip_txn_layer_destroy(&self->layer);
    sip_extern_destroy(&self->ext);
    sip_registrar_destroy(&self->registrar);
    sip_state_destroy(&self->state);        /* last: the legs and registrar wrote through it */
    sip_auth_destroy(&self->auth);
    sip_conf_destroy(&self->owned);
    free(self);
    *self_p = NULL;
}

size_t sip_core_shutdown(sip_core_t *self)
{
    self->stopping = 1;
    return sip_legs_shutdown(self->call);
}

sip_legs_t *sip_core_legs(sip_core_t *self)
{
    return self->call;
}

size_t sip_core_unregister(sip_core_t *self)
{
    return sip_outreg_unregister(self->outreg);
}

sip_outreg_t *sip_core_outreg(sip_core_t *self)
{
    return self->outreg;
}

sip_txn_layer_t *sip_core_layer(sip_core_t *self)
{
    return self->layer;
}

sip_registrar_t *sip_core_registrar(sip_core_t *self)
{
    return self->registrar;
}

struct td_bus *sip_core_bus(sip_core_t *self)
{
    return self->bus;
}
