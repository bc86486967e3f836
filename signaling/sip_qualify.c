/* sip_qualify - see sip_qualify.h. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "sip_qualify.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sip_dialog.h"
#include "sip_msg.h"
#include "td_log.h"

#define FREQ_NOTOK_MS  10000        /* chan_sip's DEFAULT_FREQ_NOTOK */
#define QUALIFY_GAP_MS 100          /* DEFAULT_QUALIFY_GAP: first pokes spread out */
#define POKE_SPACE     768

typedef struct {
    sip_qualify_t *owner;
    const sip_peer_t *peer;         /* NULL: not qualified */
    struct event *timer;            /* the next poke, or the no-answer limit */
    sip_txn_t *txn;                 /* the OPTIONS in flight */
    int waiting;                    /* the timer is the no-answer limit */
    int lastms;                     /* 0 unknown, -1 unreachable */
    struct timespec sent;
    sip_arena_t arena;
    char space[POKE_SPACE];
} s_poke_t;

struct sip_qualify {
    sip_qualify_env_t env;
    s_poke_t *pokes;                /* one per sip_conf peer, same index */
    size_t n;
};

static void s_arm(s_poke_t *p, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_add(p->timer, &tv);
}

static void s_drop_txn(s_poke_t *p)
{
    if (p->txn) {
        sip_txn_set_owner(p->txn, NULL);
        p->txn = NULL;
    }
}

/* Where the peer is: its static host, or its registered contact. */
static int s_where(s_poke_t *p, struct sockaddr_in *to, char *uri, size_t len,
                   const char **path)
{
    const sip_peer_t *peer = p->peer;
    *path = NULL;
    if (!peer->dynamic) {
        *to = peer->addr;
        if (ntohs(to->sin_port) == 5060)
            snprintf(uri, len, "sip:%s", peer->host);
        else
            snprintf(uri, len, "sip:%s:%d", peer->host, ntohs(to->sin_port));
        return 0;
    }
    const sip_binding_t *b = sip_registrar_lookup(p->owner->env.registrar, peer->name,
                                                  (long)time(NULL));
    if (!b)
        return -1;
    *to = b->dest;
    snprintf(uri, len, "%s", b->uri);
    *path = b->path[0] ? b->path : NULL;     /* supportpath=yes: through its Path */
    return 0;
}

/* sip_poke_peer: an OPTIONS, and 2*maxms to answer it. */
static void s_poke(s_poke_t *p)
{
    sip_qualify_t *self = p->owner;
    struct sockaddr_in to, me;
    char uri[300], from[200], call_id[96], cid[SIP_MSG_TOKEN_LEN + 1], tag[SIP_MSG_TOKEN_LEN + 1];
    char myip[INET_ADDRSTRLEN], touri[320];
    s_drop_txn(p);
    const char *path = NULL;
    if (s_where(p, &to, uri, sizeof uri, &path) < 0) {
        p->lastms = 0;                      /* not registered: unknown, try next round */
        p->waiting = 0;
        s_arm(p, (long)p->peer->qualifyfreq * 1000);
        return;
    }
    sip_arena_release(&p->arena);
    sip_arena_init(&p->arena, p->space, sizeof p->space);
    sip_dialog_t d = { .peer = to };
    if (path && sip_dialog_set_routes(&d, &p->arena, path) == 0)
        to = d.peer;                        /* sip_poke_peer: the route set from the Path */
    if (p->peer->has_proxy)
        to = p->peer->proxy;
    self->env.local_addr(self->env.arg, &to, &me);
    inet_ntop(AF_INET, &me.sin_addr, myip, sizeof myip);
    snprintf(from, sizeof from, "<sip:%s@%s>", p->peer->fromuser[0] ? p->peer->fromuser
                                                                     : "asterisk", myip);
    snprintf(touri, sizeof touri, "<%s>", uri);
    snprintf(call_id, sizeof call_id, "%s@%s", sip_msg_token(cid, sizeof cid), myip);
    osip_message_t *req = NULL;
    if (sip_dialog_uac(&d, &p->arena, call_id, sip_msg_token(tag, sizeof tag), from, touri,
                       uri, &to) == 0
        && (!path || sip_dialog_set_routes(&d, &p->arena, path) == 0))
        req = sip_dialog_request(&d, "OPTIONS", 102);
    if (req) {
        sip_msg_add_contact(req, p->peer->fromuser[0] ? p->peer->fromuser : "asterisk", &me);
        osip_message_set_header(req, "Accept", "application/sdp");
        p->txn = sip_txn_request(self->env.layer, &req, &to, p);
    }
    if (!p->txn)
        td_log(LOG_WARNING, "cannot send OPTIONS to qualify peer '%s'", p->peer->name);
    clock_gettime(CLOCK_MONOTONIC, &p->sent);
    p->waiting = 1;
    s_arm(p, (long)p->peer->maxms * 2);
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    s_poke_t *p = arg;
    if (!p->waiting) {
        s_poke(p);
        return;
    }
    /* sip_poke_noanswer */
    s_drop_txn(p);
    p->waiting = 0;
    if (p->lastms > -1)
        td_log(LOG_NOTICE, "Peer '%s' is now UNREACHABLE!  Last qualify: %d", p->peer->name,
               p->lastms);
    p->lastms = -1;
    s_arm(p, FREQ_NOTOK_MS);
}

void sip_qualify_response(sip_qualify_t *self, sip_txn_t *txn, osip_message_t *resp)
{
    (void)self;
    s_poke_t *p = sip_txn_owner(txn);
    if (!p || txn != p->txn || resp->status_code < 200)
        return;
    s_drop_txn(p);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - p->sent.tv_sec) * 1000 + (now.tv_nsec - p->sent.tv_nsec) / 1000000;
    int pingtime = ms < 1 ? 1 : (int)ms;    /* zero = unknown, so round up to 1 */
    int maxms = p->peer->maxms;
    int was = p->lastms > 0 && p->lastms <= maxms, is = pingtime <= maxms;
    if (p->lastms == 0 || was != is)
        td_log(LOG_NOTICE, "Peer '%s' is now %s. (%dms / %dms)", p->peer->name,
               is ? "Reachable" : "Lagged", pingtime, maxms);
    p->lastms = pingtime;
    p->waiting = 0;
    event_del(p->timer);
    s_arm(p, is ? (long)p->peer->qualifyfreq * 1000 : FREQ_NOTOK_MS);
}

void sip_qualify_terminated(sip_qualify_t *self, sip_txn_t *txn)
{
    (void)self;
    s_poke_t *p = sip_txn_owner(txn);
    if (p && txn == p->txn)
        p->txn = NULL;                      /* the no-answer timer decides */
}

int sip_qualify_owns(const sip_qualify_t *self, const void *owner)
{
    uintptr_t o = (uintptr_t)owner, lo = (uintptr_t)self->pokes;
    return self->n && o >= lo && o < lo + self->n * sizeof *self->pokes
           && (o - lo) % sizeof *self->pokes == 0;
}

static const s_poke_t *s_find(const sip_qualify_t *self, const sip_peer_t *peer)
{
    const sip_peer_t *first = sip_conf_peer_at(self->env.conf, 0);
    if (!peer || !first || peer < first || (size_t)(peer - first) >= self->n)
        return NULL;
    const s_poke_t *p = &self->pokes[peer - first];
    return p->peer == peer ? p : NULL;
}

void sip_qualify_registered(sip_qualify_t *self, const sip_peer_t *peer)
{
    s_poke_t *p = (s_poke_t *)s_find(self, peer);
    if (!p || p->waiting || p->lastms != 0)
        return;
    event_del(p->timer);
    s_arm(p, 0);
}

int sip_qualify_lastms(const sip_qualify_t *self, const sip_peer_t *peer)
{
    const s_poke_t *p = s_find(self, peer);
    return p ? p->lastms : 0;
}

int sip_qualify_usable(const sip_qualify_t *self, const sip_peer_t *peer)
{
    const s_poke_t *p = s_find(self, peer);
    return !p || (p->lastms >= 0 && p->lastms <= p->peer->maxms);
}

void sip_qualify_adopt(sip_qualify_t *self, const sip_qualify_t *old)
{
    for (size_t i = 0; old && i < self->n; i++) {
        s_poke_t *p = &self->pokes[i];
        if (!p->peer)
            continue;
        const s_poke_t *was = s_find(old, sip_conf_peer(old->env.conf, p->peer->name));
        if (was)
            p->lastms = was->lastms;
    }
}

void sip_qualify_log(const sip_qualify_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        const s_poke_t *p = &self->pokes[i];
        if (!p->peer)
            continue;
        if (p->lastms < 0)
            td_log(LOG_INFO, "peer %s: UNREACHABLE", p->peer->name);
        else if (p->lastms > p->peer->maxms)
            td_log(LOG_INFO, "peer %s: LAGGED (%d ms)", p->peer->name, p->lastms);
        else if (p->lastms)
            td_log(LOG_INFO, "peer %s: OK (%d ms)", p->peer->name, p->lastms);
        else
            td_log(LOG_INFO, "peer %s: UNKNOWN", p->peer->name);
    }
}

sip_qualify_t *sip_qualify_new(const sip_qualify_env_t *env)
{
    sip_qualify_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->env = *env;
    size_t n = sip_conf_peer_count(env->conf);
    self->pokes = calloc(n ? n : 1, sizeof *self->pokes);
    if (!self->pokes) {
        free(self);
        return NULL;
    }
    self->n = n;
    long at = 0;
    for (size_t i = 0; i < n; i++) {
        s_poke_t *p = &self->pokes[i];
        const sip_peer_t *peer = sip_conf_peer_at(env->conf, i);
        p->owner = self;
        sip_arena_init(&p->arena, p->space, sizeof p->space);
        if (peer->maxms <= 0 || peer->type == SIP_PEER_USER)
            continue;
        p->peer = peer;
        p->timer = event_new(env->base, -1, 0, s_on_timer, p);
        if (!p->timer) {
            sip_qualify_destroy(&self);
            return NULL;
        }
        s_arm(p, at);
        at += QUALIFY_GAP_MS;
    }
    return self;
}

void sip_qualify_destroy(sip_qualify_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_qualify_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++) {
        s_poke_t *p = &self->pokes[i];
        s_drop_txn(p);
        if (p->timer)
            event_free(p->timer);
        sip_arena_release(&p->arena);
    }
    free(self->pokes);
    free(self);
    *self_p = NULL;
}
