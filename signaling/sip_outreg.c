/* sip_outreg - see sip_outreg.h. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "sip_outreg.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <osipparser2/osip_parser.h>

#include "sip_auth.h"
#include "sip_dialog.h"
#include "sip_msg.h"
#include "td_log.h"

#define MAX_AUTHTRIES      3         /* chan_sip: challenges answered per REGISTER */
#define EXPIRY_GUARD_SECS  15        /* chan_sip's sip.h: re-register this early ... */
#define EXPIRY_GUARD_LIMIT 30        /* ... unless the expiry is this short or shorter, */
#define EXPIRY_GUARD_MIN   500       /* then 20% of it, but at least 500 ms */
#define EXPIRY_GUARD_PCT   0.20
#define REG_SPACE          1024

typedef struct {
    sip_outreg_t *owner;
    const sip_register_t *conf;      /* borrowed from sip_conf_t */
    sip_outreg_state_t state;
    sip_dialog_t dlg;                /* Call-ID, tag, From/To, Request-URI, CSeq */
    sip_txn_t *txn;                  /* the REGISTER in flight, if any */
    struct event *timer;             /* register timeout, or the refresh */
    sip_auth_remote_t challenge;     /* the last one answered; nonce "" for none */
    int expiry;                      /* what we ask for */
    int refresh;                     /* seconds from a 200 to the next REGISTER */
    int attempts;                    /* timed-out attempts since the last 200 */
    int authtries;                   /* challenges answered for this REGISTER */
    time_t regtime;                  /* the last 200 (0: none): `sip show registry` */
    char display[300];               /* user@host, chan_sip's wording in logs */
    sip_arena_t arena;
    char space[REG_SPACE];
} s_reg_t;

struct sip_outreg {
    sip_outreg_env_t env;
    s_reg_t *regs;
    size_t n;
};

static const char *const s_state_names[] = {
    [SIP_OUTREG_UNREGISTERED] = "Unregistered",
    [SIP_OUTREG_REGSENT] = "Request Sent",
    [SIP_OUTREG_AUTHSENT] = "Auth. Sent",
    [SIP_OUTREG_REGISTERED] = "Registered",
    [SIP_OUTREG_REJECTED] = "Rejected",
    [SIP_OUTREG_NOAUTH] = "No Authentication",
    [SIP_OUTREG_FAILED] = "Failed",
};

const char *sip_outreg_state_str(sip_outreg_state_t state)
{
    return (unsigned)state < sizeof s_state_names / sizeof s_state_names[0]
           ? s_state_names[state] : "Unknown";
}

long sip_outreg_refresh_ms(int expires)
{
    long ms = (long)expires * 1000;
    if (expires <= EXPIRY_GUARD_LIMIT) {
        long guard = (long)(ms * EXPIRY_GUARD_PCT);
        ms -= guard > EXPIRY_GUARD_MIN ? guard : EXPIRY_GUARD_MIN;
    } else
        ms -= EXPIRY_GUARD_SECS * 1000L;
    return ms > 0 ? ms : 0;
}

static void s_set_state(s_reg_t *r, sip_outreg_state_t state)
{
    if (r->state == state)
        return;
    r->state = state;
    td_log(LOG_NOTICE, "Registration to '%s' (%s:%d): %s", r->display, r->conf->file,
           r->conf->line, sip_outreg_state_str(state));
}

static void s_arm(s_reg_t *r, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_add(r->timer, &tv);
}

/* Forget the REGISTER in flight: its late answers are no longer ours. */
static void s_drop_txn(s_reg_t *r)
{
    if (r->txn) {
        sip_txn_set_owner(r->txn, NULL);
        r->txn = NULL;
    }
}

/* The digest user and secret: authuser (else user), the line's secret, else
 * the secret of the peer named before '?'. */
static void s_credentials(const s_reg_t *r, const char **user, const char **secret)
{
    const sip_register_t *c = r->conf;
    *user = c->authuser[0] ? c->authuser : c->user;
    *secret = c->secret;
    if (!c->secret[0] && c->peer[0]) {
        const sip_peer_t *p = sip_conf_peer(r->owner->env.conf, c->peer);
        if (p)
            *secret = p->remotesecret[0] ? p->remotesecret : p->secret;
    }
}

/* Send a REGISTER asking for `expires` seconds, with credentials when a
 * challenge is kept. The state becomes Request Sent or Auth. Sent and the
 * register timeout runs. 0 or -1. */
static int s_send(s_reg_t *r, int expires)
{
    sip_outreg_t *self = r->owner;
    s_drop_txn(r);
    osip_message_t *req = sip_dialog_request(&r->dlg, "REGISTER", ++r->dlg.local_cseq);
    if (!req) {
        td_log(LOG_WARNING, "Registration to '%s': cannot build the REGISTER", r->display);
        return -1;
    }
    struct sockaddr_in me;
    char num[16];
    self->env.local_addr(self->env.arg, &r->conf->addr, &me);
    sip_msg_add_contact(req, r->conf->extension[0] ? r->conf->extension : "s", &me);
    snprintf(num, sizeof num, "%d", expires);
    osip_message_set_header(req, "Expires", num);
    osip_message_set_header(req, "Allow", SIP_MSG_ALLOW);
    int auth = r->challenge.nonce[0] != '\0';
    if (auth) {
        const char *user, *secret;
        s_credentials(r, &user, &secret);
        if (sip_auth_remote_answer(&r->challenge, req, user, secret) < 0)
            auth = 0;
    }
    r->txn = sip_txn_request(self->env.layer, &req, &r->conf->addr, r);
    if (!r->txn) {
        td_log(LOG_WARNING, "Registration to '%s': cannot send the REGISTER", r->display);
        return -1;
    }
    if (expires > 0) {
        s_set_state(r, auth ? SIP_OUTREG_AUTHSENT : SIP_OUTREG_REGSENT);
        s_arm(r, (long)sip_conf_general(self->env.conf)->registertimeout * 1000);
    }
    return 0;
}

/* A fresh attempt (start, refresh, retry): a new count of challenges. */
static void s_attempt(s_reg_t *r)
{
    r->authtries = 0;
    if (s_send(r, r->expiry) < 0)
        s_arm(r, (long)sip_conf_general(r->owner->env.conf)->registertimeout * 1000);
}

/* The timer: a refresh is due, or a REGISTER went unanswered (chan_sip's
 * sip_reg_timeout: try again, or give up after registerattempts). */
static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    s_reg_t *r = arg;
    const sip_general_t *g = sip_conf_general(r->owner->env.conf);
    if (r->state == SIP_OUTREG_REGISTERED || r->state == SIP_OUTREG_UNREGISTERED) {
        s_attempt(r);
        return;
    }
    if (r->state != SIP_OUTREG_REGSENT && r->state != SIP_OUTREG_AUTHSENT)
        return;
    s_drop_txn(r);
    r->attempts++;
    if (g->registerattempts && r->attempts >= g->registerattempts) {
        td_log(LOG_NOTICE, "   -- Last Registration Attempt #%d failed, Giving up forever "
               "trying to register '%s'", r->attempts, r->display);
        s_set_state(r, SIP_OUTREG_FAILED);
        return;
    }
    r->state = SIP_OUTREG_UNREGISTERED;     /* chan_sip passes through it, silently */
    r->challenge.nonce[0] = '\0';
    s_attempt(r);
    td_log(LOG_NOTICE, "   -- Registration for '%s' timed out, trying again (Attempt #%d)",
           r->display, r->attempts + 1);
}

/* The expiry the 200 grants us: the expires parameter of the Contact that
 * is ours, else the Expires header, else defaultexpiry (chan_sip). */
static int s_granted(const s_reg_t *r, const osip_message_t *resp)
{
    const char *ext = r->conf->extension[0] ? r->conf->extension : "s";
    for (int i = 0; i < osip_list_size(&resp->contacts); i++) {
        osip_contact_t *c = osip_list_get(&resp->contacts, i);
        if (!c || !c->url || !c->url->username || strcmp(c->url->username, ext) != 0)
            continue;
        const char *e = sip_msg_param(&c->gen_params, "expires");
        if (e && atoi(e) > 0)
            return atoi(e);
    }
    const char *e = sip_msg_header(resp, "expires");
    if (e && atoi(e) > 0)
        return atoi(e);
    return sip_conf_general(r->owner->env.conf)->defaultexpiry;
}

static void s_stop(s_reg_t *r, sip_outreg_state_t state)
{
    event_del(r->timer);
    r->challenge.nonce[0] = '\0';
    s_set_state(r, state);
}

void sip_outreg_response(sip_outreg_t *self, sip_txn_t *txn, osip_message_t *resp)
{
    s_reg_t *r = sip_txn_owner(txn);
    (void)self;
    if (!r || txn != r->txn)
        return;
    int status = resp->status_code;
    if (status < 200)
        return;
    r->txn = NULL;                           /* it is over; its end is not ours to track */
    sip_txn_set_owner(txn, NULL);
    const sip_general_t *g = sip_conf_general(self->env.conf);
    switch (status) {
    case 401:
    case 407: {
        sip_auth_remote_t ch;
        if (r->authtries == MAX_AUTHTRIES || sip_auth_remote_read(resp, &ch) < 0) {
            td_log(LOG_NOTICE, "Failed to authenticate on REGISTER to '%s' (Tries %d)",
                   r->display, r->authtries);
            return;                          /* the register timeout tries again */
        }
        r->authtries++;
        r->challenge = ch;
        s_send(r, r->expiry);
        return;
    }
    case 403:
        td_log(LOG_WARNING, "Forbidden - wrong password on authentication for REGISTER for '%s'",
               r->display);
        s_stop(r, SIP_OUTREG_NOAUTH);
        return;
    case 404:
        td_log(LOG_WARNING, "Got 404 Not found on SIP register to service %s, giving up",
               r->display);
        s_stop(r, SIP_OUTREG_REJECTED);
        return;
    case 400: case 414: case 479: case 493:
        td_log(LOG_WARNING, "Got error %d on register to %s, giving up (check config)", status,
               r->display);
        s_stop(r, SIP_OUTREG_REJECTED);
        return;
    case 408:
        r->attempts = 0;                     /* chan_sip resets the count; the timer retries */
        return;
    case 423: {
        const char *min = sip_msg_header(resp, "min-expires");
        int want = min ? atoi(min) : 0;
        td_log(LOG_WARNING, "Got 423 Interval too brief for service %s, minimum is %d seconds",
               r->display, want);
        if (want <= 0 || want > g->maxexpiry) {
            td_log(LOG_WARNING, "Required expiration time from %s is too high, giving up",
                   r->display);
            r->expiry = r->conf->expiry ? r->conf->expiry : g->defaultexpiry;
            s_stop(r, SIP_OUTREG_REJECTED);
            return;
        }
        r->expiry = want;
        r->state = SIP_OUTREG_UNREGISTERED;
        s_attempt(r);
        return;
    }
    default:
        break;
    }
    if (status >= 300) {
        td_log(LOG_NOTICE, "Got %d %s on REGISTER to %s: trying again in %d s", status,
               resp->reason_phrase ? resp->reason_phrase : "", r->display, g->registertimeout);
        return;                              /* the register timeout is still armed */
    }
    int expires = s_granted(r, resp);
    long ms = sip_outreg_refresh_ms(expires);
    r->refresh = (int)(ms / 1000);
    r->attempts = 0;
    r->regtime = time(NULL);
    s_set_state(r, SIP_OUTREG_REGISTERED);
    td_log(LOG_INFO, "Outbound Registration: Expiry for %s is %d sec (Scheduling reregistration "
           "in %d s)", r->display, expires, r->refresh);
    event_del(r->timer);
    s_arm(r, ms);
}

void sip_outreg_timeout(sip_outreg_t *self, sip_txn_t *txn)
{
    (void)self;
    s_reg_t *r = sip_txn_owner(txn);
    if (r && txn == r->txn)
        r->txn = NULL;                       /* the register timeout (shorter) retries */
}

void sip_outreg_terminated(sip_outreg_t *self, sip_txn_t *txn)
{
    sip_outreg_timeout(self, txn);
}

int sip_outreg_owns(const sip_outreg_t *self, const void *owner)
{
    uintptr_t p = (uintptr_t)owner, lo = (uintptr_t)self->regs;
    return self->n && p >= lo && p < lo + self->n * sizeof *self->regs
           && (p - lo) % sizeof *self->regs == 0;
}

/* ---- the class --------------------------------------------------------------- */

static int s_reg_init(sip_outreg_t *self, s_reg_t *r, const sip_register_t *c)
{
    const sip_general_t *g = sip_conf_general(self->env.conf);
    char aor[300], hostport[160], target[200], call_id[96], tag[SIP_MSG_TOKEN_LEN + 1];
    char cid[SIP_MSG_TOKEN_LEN + 1], myip[INET_ADDRSTRLEN];
    struct sockaddr_in me;
    r->owner = self;
    r->conf = c;
    r->state = SIP_OUTREG_UNREGISTERED;
    r->expiry = c->expiry ? c->expiry : g->defaultexpiry;
    r->refresh = r->expiry;                 /* chan_sip's sip_register, until a 200 */
    sip_arena_init(&r->arena, r->space, sizeof r->space);
    if (c->port && c->port != 5060)
        snprintf(hostport, sizeof hostport, "%s:%d", c->host, c->port);
    else
        snprintf(hostport, sizeof hostport, "%s", c->host);
    snprintf(r->display, sizeof r->display, "%s@%s", c->user, hostport);
    /* transmit_register: From and To are user@(domain or host), the
     * Request-URI sip:(domain or host[:port]). */
    snprintf(aor, sizeof aor, "<sip:%s@%s>", c->user, c->domain[0] ? c->domain : c->host);
    /* tcp:// and tls:// (chan_sip's registry transport): the Request-URI
     * says so, which is what puts the REGISTER on that transport (sip_txn) */
    snprintf(target, sizeof target, "sip:%s%s", c->domain[0] ? c->domain : hostport,
             c->transport == SIP_TRANSPORT_TCP ? ";transport=tcp"
             : c->transport == SIP_TRANSPORT_TLS ? ";transport=tls" : "");
    self->env.local_addr(self->env.arg, &c->addr, &me);
    inet_ntop(AF_INET, &me.sin_addr, myip, sizeof myip);
    snprintf(call_id, sizeof call_id, "%s@%s", sip_msg_token(cid, sizeof cid), myip);
    sip_msg_token(tag, sizeof tag);
    if (sip_dialog_uac(&r->dlg, &r->arena, call_id, tag, aor, aor, target, &c->addr) != 0)
        return -1;
    r->dlg.local_cseq = 100;
    r->timer = event_new(self->env.base, -1, 0, s_on_timer, r);
    return r->timer ? 0 : -1;
}

sip_outreg_t *sip_outreg_new(const sip_outreg_env_t *env)
{
    sip_outreg_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->env = *env;
    size_t n = sip_conf_register_count(env->conf);
    if (n) {
        self->regs = calloc(n, sizeof *self->regs);
        if (!self->regs) {
            free(self);
            return NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        self->n = i + 1;
        if (s_reg_init(self, &self->regs[i], sip_conf_register_at(env->conf, i)) < 0) {
            sip_outreg_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void sip_outreg_destroy(sip_outreg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_outreg_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++) {
        s_reg_t *r = &self->regs[i];
        s_drop_txn(r);
        if (r->timer)
            event_free(r->timer);
        sip_arena_release(&r->arena);
    }
    free(self->regs);
    free(self);
    *self_p = NULL;
}

void sip_outreg_start(sip_outreg_t *self)
{
    for (size_t i = 0; i < self->n; i++)
        s_attempt(&self->regs[i]);
}

size_t sip_outreg_unregister(sip_outreg_t *self)
{
    size_t sent = 0;
    for (size_t i = 0; i < self->n; i++) {
        s_reg_t *r = &self->regs[i];
        if (r->state != SIP_OUTREG_REGISTERED)
            continue;
        event_del(r->timer);
        if (s_send(r, 0) == 0) {
            s_drop_txn(r);
            sent++;
            s_set_state(r, SIP_OUTREG_UNREGISTERED);
        }
    }
    return sent;
}

void sip_outreg_log(const sip_outreg_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        const s_reg_t *r = &self->regs[i];
        td_log(LOG_INFO, "registry: %s username %s refresh %d state %s", r->display,
               r->conf->user, r->refresh, sip_outreg_state_str(r->state));
    }
}

size_t sip_outreg_count(const sip_outreg_t *self)
{
    return self->n;
}

sip_outreg_state_t sip_outreg_state(const sip_outreg_t *self, size_t i)
{
    return i < self->n ? self->regs[i].state : SIP_OUTREG_UNREGISTERED;
}

const sip_register_t *sip_outreg_conf(const sip_outreg_t *self, size_t i)
{
    return i < self->n ? self->regs[i].conf : NULL;
}

time_t sip_outreg_regtime(const sip_outreg_t *self, size_t i)
{
    return i < self->n ? self->regs[i].regtime : 0;
}

int sip_outreg_refresh(const sip_outreg_t *self, size_t i)
{
    return i < self->n ? self->regs[i].refresh : 0;
}
