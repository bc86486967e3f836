/* router - see router.h. */
#include "router.h"
#include "adopt.h"
#include "astdb.h"
#include "chanvars.h"
#include "cli_relay.h"
#include "cdr.h"
#include "cdr_pgsql.h"
#include "chanstats.h"
#include "dbsync.h"
#include "quality.h"
#include "journal.h"
#include "location.h"
#include "strmap.h"
#include "td_log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_UNKNOWN_CALL_CAUSE 41   /* temporary failure: the router lost the call */
#define S_DEFAULT_CONTEXT "default"
#define S_DEFAULT_EXTEN "s"

struct router {
    struct event_base *base;
    call_env_t env;             /* what every call shares */
    dialplan_t *dialplan;
    workers_t *workers;
    cdr_t *cdr;
    cdr_pgsql_t *pgsql;         /* NULL: no cdr_pgsql.conf [global] */
    quality_t *quality;         /* quality.csv; NULL if it cannot be opened */
    chanstats_t *chanstats;     /* `sip show channelstats` in flight */
    journal_t *journal;         /* NULL until router_open_journal */
    td_store_t *store;          /* cluster mode (router_open_cluster); NULL: single host */
    dbsync_t *dbsync;           /* DB() and GLOBAL() shared through store */
    adopt_t *adopt;             /* cluster mode: calls other router processes answered */
    td_bus_t *bus;
    char identity[64];          /* on the bus ([router] identity, -i): "router" by default */
    cli_relay_t *relay;         /* `sip ...` commands, answered by signaling */
    strmap_t *calls;            /* call id (the call's own copy) -> call */
    location_t *locations;      /* peer -> the signaling node it registered through */
    call_t **zombies;           /* ended, waiting for the reaper */
    size_t nzombies, zcap;
    struct event *reaper;
    struct event *drain;        /* moves calls off draining workers, DRAIN_BATCH a tick */
    struct event *max_call;     /* ends calls older than max_call_s */
    uint32_t max_call_s;
    struct event *sig_grace;    /* ends the calls of a signaling silent for sig_grace_s */
    uint32_t sig_grace_s;
    int sig_restores;           /* [cluster]: a restarted signaling keeps its answered calls */
    struct { char name[64]; time_t since; } sig_down[16];   /* silent signaling peers */
    unsigned long calls_processed;
    uint64_t reloads, reload_failures;   /* metrics */
    time_t started, reloaded;   /* reloaded 0: never */
    char plan_path[512];        /* extensions.conf, for `dialplan reload` */
    size_t nsig_down;
};

#define DRAIN_EVERY_MS 200
#define DRAIN_BATCH    4        /* calls moved per tick: 20 a second */

/* --- calls ---------------------------------------------------------------- */

static void s_on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    router_t *self = arg;
    for (size_t i = 0; i < self->nzombies; i++)
        call_destroy(&self->zombies[i]);
    self->nzombies = 0;
}

static void s_journal_one(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    call_journal_rewrite(value);
}

/* Keep the journal small: empty when no call is live, else rewritten with
 * the live calls once it is too big. */
static void s_journal_trim(router_t *self)
{
    if (!self->journal)
        return;
    if (strmap_size(self->calls) == 0) {
        journal_clear(self->journal);
    } else if (journal_too_big(self->journal) && journal_rewrite_begin(self->journal) == 0) {
        strmap_foreach(self->calls, s_journal_one, NULL);
        journal_rewrite_end(self->journal);
    }
}

static void s_on_call_done(void *arg, call_t *call)
{
    router_t *self = arg;
    strmap_remove(self->calls, call_id(call));
    td_bus_set_load(self->bus, (uint32_t)strmap_size(self->calls));
    s_journal_trim(self);
    if (self->nzombies == self->zcap) {
        size_t cap = self->zcap ? self->zcap * 2 : 64;
        call_t **z = realloc(self->zombies, cap * sizeof *z);
        if (!z) {
            /* Cannot defer: leak rather than free under a running handler. */
            td_log(LOG_ERR, "out of memory: call %s leaked", call_id(call));
            return;
        }
        self->zombies = z;
        self->zcap = cap;
    }
    self->zombies[self->nzombies++] = call;
    event_active(self->reaper, EV_TIMEOUT, 0);
}

typedef struct {
    call_t **list;
    size_t n, cap;
    const char *peer;           /* calls of this peer only; NULL: all */
    int media;
    int draining;               /* calls on draining workers only */
} s_collect_t;

static void s_collect_one(void *arg, const char *key, void *value)
{
    (void)key;
    s_collect_t *c = arg;
    call_t *call = value;
    if (c->draining) {
        worker_ref_t *w = call_worker(call);
        if (!w || !worker_ref_draining(w) || call_state(call) == CALL_DONE)
            return;
    }
    if (c->peer) {
        if (c->media) {
            worker_ref_t *w = call_worker(call);
            if (!w || strcmp(worker_ref_identity(w), c->peer) != 0)
                return;
        } else if (!call_uses_sig(call, c->peer)) {
            return;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        call_t **l = realloc(c->list, cap * sizeof *l);
        if (!l)
            return;
        c->list = l;
        c->cap = cap;
    }
    c->list[c->n++] = call;
}

/* The calls of peer (NULL: all), copied out so they can end while we walk. */
static s_collect_t s_collect(router_t *self, const char *peer, int media)
{
    s_collect_t c = { NULL, 0, 0, peer, media, 0 };
    strmap_foreach(self->calls, s_collect_one, &c);
    return c;
}

/* --- bus handlers ------------------------------------------------------------ */

static void s_reply_unknown(router_t *self, const td_bus_hdr_t *hdr, const char *what)
{
    td_log(LOG_DEBUG, "%s from %s for unknown call (leg %u): telling it to drop the call",
           what, hdr->peer, hdr->leg);
    if (!*hdr->call_id)
        return;
    if (workers_find(self->workers, hdr->peer)) {
        Tandem__MediaRelease m = TANDEM__MEDIA_RELEASE__INIT;
        td_bus_send_media_release(self->bus, hdr->peer, hdr->call_id, hdr->leg, &m);
    } else {
        Tandem__Hangup m = TANDEM__HANGUP__INIT;
        m.cause = S_UNKNOWN_CALL_CAUSE;
        td_bus_send_hangup(self->bus, hdr->peer, hdr->call_id, hdr->leg, &m);
    }
}

/* adopt_env_t.unknown: what a message for an unknown call gets. */
static void s_unknown(void *arg, const td_bus_hdr_t *hdr, const char *what, int reply)
{
    if (reply)
        s_reply_unknown(arg, hdr, what);
    else
        td_log(LOG_DEBUG, "%s from %s for unknown call (leg %u): ignored", what, hdr->peer,
               hdr->leg);
}

static void s_reject(router_t *self, const td_bus_hdr_t *hdr, uint32_t cause)
{
    Tandem__Hangup m = TANDEM__HANGUP__INIT;
    m.cause = cause;
    td_bus_send_hangup(self->bus, hdr->peer, hdr->call_id, 0, &m);
}

static void s_on_channel_new(void *arg, const td_bus_hdr_t *hdr, const Tandem__ChannelNew *msg)
{
    router_t *self = arg;
    td_log_set_context(hdr->call_id);
    if (!*hdr->call_id || hdr->leg != 0) {
        td_log(LOG_WARNING, "ChannelNew from %s without a call id or on leg %u: ignored",
               hdr->peer, hdr->leg);
    } else if (strmap_get(self->calls, hdr->call_id)) {
        td_log(LOG_DEBUG, "ChannelNew again from %s: ignored", hdr->peer);
    } else {
        const char *context = msg->context && *msg->context ? msg->context : S_DEFAULT_CONTEXT;
        const char *exten = msg->exten && *msg->exten ? msg->exten : S_DEFAULT_EXTEN;
        /* As chan_sip's ast_exists_extension(..., 1, ...): an extension
         * without priority 1 does not exist for a new call. */
        const dialplan_ext_t *ext = dialplan_find_prio(self->dialplan, context, exten,
                                                       msg->caller_num, 1, NULL);
        call_t *call = NULL;
        if (!ext) {
            td_log(LOG_NOTICE, "Call from '%s' (%s) to extension '%s' rejected because "
                   "extension not found in context '%s'.", msg->caller_num ? msg->caller_num : "",
                   msg->source ? msg->source : "", exten, context);
            s_reject(self, hdr, 1);
        } else if (!(call = call_new(&self->env, hdr->call_id, hdr->peer, msg, context, exten,
                                     ext))
                   || strmap_put(self->calls, call_id(call), call) < 0) {
            td_log(LOG_ERR, "Cannot start a call for %s: out of memory or name too long",
                   msg->channel ? msg->channel : "");
            call_destroy(&call);
            s_reject(self, hdr, S_UNKNOWN_CALL_CAUSE);
        } else {
            td_bus_set_load(self->bus, (uint32_t)strmap_size(self->calls));
            self->calls_processed++;
            call_start(call);
        }
    }
    td_log_set_context(NULL);
}

/* Find the call for hdr, or answer the sender and return NULL. In cluster
 * mode a call not run here may be one another router process answered: adopt
 * asks the store, and answers for it (ev, cause: what the message means). */
static call_t *s_call_for(router_t *self, const td_bus_hdr_t *hdr, const char *what, int reply,
                          adopt_event_t ev, uint32_t cause)
{
    call_t *call = *hdr->call_id ? strmap_get(self->calls, hdr->call_id) : NULL;
    if (!call) {
        if (self->adopt && *hdr->call_id)
            adopt_on_message(self->adopt, hdr, ev, cause, what, reply);
        else
            s_unknown(self, hdr, what, reply);
    }
    return call;
}

#define S_DISPATCH(name, Type, what, reply, ev, cause, ...) \
    static void s_on_##name(void *arg, const td_bus_hdr_t *hdr, const Tandem__##Type *msg) \
    { \
        router_t *self = arg; \
        td_log_set_context(hdr->call_id); \
        call_t *call = s_call_for(self, hdr, what, reply, ev, cause); \
        if (call) \
            call_on_##name(call, __VA_ARGS__, msg); \
        td_log_set_context(NULL); \
    }

S_DISPATCH(progress, Progress, "Progress", 1, ADOPT_OTHER, 0, hdr->leg)
S_DISPATCH(answer, Answer, "Answer", 1, ADOPT_OTHER, 0, hdr->leg)
S_DISPATCH(hangup, Hangup, "Hangup", 0, ADOPT_HANGUP, msg->cause, hdr->leg)
S_DISPATCH(media_offered, MediaOffered, "MediaOffered", 1, ADOPT_OTHER, 0, hdr->peer)
S_DISPATCH(media_answered, MediaAnswered, "MediaAnswered", 1, ADOPT_OTHER, 0, hdr->peer)
S_DISPATCH(media_error, MediaError, "MediaError", 0, ADOPT_MEDIA_END, msg->cause, hdr->peer)
S_DISPATCH(media_played, MediaPlayed, "MediaPlayed", 1, ADOPT_OTHER, 0, hdr->peer)
S_DISPATCH(media_dtmf, MediaDtmf, "MediaDtmf", 1, ADOPT_OTHER, 0, hdr->peer)
S_DISPATCH(media_recorded, MediaRecorded, "MediaRecorded", 1, ADOPT_OTHER, 0, hdr->peer)
S_DISPATCH(reinvite, Reinvite, "Reinvite", 1, msg->no_answer ? ADOPT_OTHER : ADOPT_REINVITE, 0,
           hdr->leg)
S_DISPATCH(reinvite_answer, ReinviteAnswer, "ReinviteAnswer", 1, ADOPT_OTHER, 0, hdr->leg)
S_DISPATCH(media_reoffered, MediaReoffered, "MediaReoffered", 0, ADOPT_OTHER, 0, hdr->peer)
S_DISPATCH(media_reanswered, MediaReanswered, "MediaReanswered", 0, ADOPT_OTHER, 0, hdr->peer)
S_DISPATCH(media_adopted, MediaAdopted, "MediaAdopted", 1, ADOPT_OTHER, 0, hdr->peer)
S_DISPATCH(media_timeout, MediaTimeout, "MediaTimeout", 1, ADOPT_MEDIA_END, 44, hdr->peer)

/* --- peers that fall silent ------------------------------------------------------------ */

static int s_sig_down_find(const router_t *self, const char *peer)
{
    for (size_t i = 0; i < self->nsig_down; i++)
        if (strcmp(self->sig_down[i].name, peer) == 0)
            return (int)i;
    return -1;
}

static void s_sig_down_forget(router_t *self, const char *peer)
{
    int i = s_sig_down_find(self, peer);
    if (i >= 0)
        self->sig_down[i] = self->sig_down[--self->nsig_down];
}

/* End every call of a signaling peer (it is gone, or restarted). */
static void s_end_sig_calls(router_t *self, const char *peer)
{
    s_collect_t c = s_collect(self, peer, 0);
    for (size_t i = 0; i < c.n; i++) {
        td_log_set_context(call_id(c.list[i]));
        call_on_sig_lost(c.list[i], peer);
        td_log_set_context(NULL);
    }
    free(c.list);
}

static void s_on_sig_grace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    router_t *self = arg;
    time_t now = time(NULL);
    for (size_t i = 0; i < self->nsig_down;) {
        if (now - self->sig_down[i].since < (time_t)self->sig_grace_s) {
            i++;
            continue;
        }
        char peer[64];
        snprintf(peer, sizeof peer, "%s", self->sig_down[i].name);
        self->sig_down[i] = self->sig_down[--self->nsig_down];
        td_log(LOG_WARNING, "Signaling %s silent for %u s: hanging up its calls", peer,
               self->sig_grace_s);
        s_collect_t c = s_collect(self, peer, 0);
        for (size_t k = 0; k < c.n; k++) {
            td_log_set_context(call_id(c.list[k]));
            call_on_sig_silent(c.list[k]);
            td_log_set_context(NULL);
        }
        free(c.list);
    }
    if (self->nsig_down) {
        struct timeval tv = { 1, 0 };
        event_add(self->sig_grace, &tv);
    }
}
S_DISPATCH(transfer, Transfer, "Transfer", 1, ADOPT_TRANSFER, 0, hdr->leg)

/* A restarted signaling restored a leg of this call (cluster mode): nothing
 * to do when the call is known; else adopt asks the store: a call another
 * router process answered (its call:<id> is there) is adopted and goes on;
 * one that ended meanwhile gets the Hangup s_reply_unknown answers with,
 * which makes signaling send the phone its BYE. */
static void s_on_dialog_restored(void *arg, const td_bus_hdr_t *hdr,
                                 const Tandem__DialogRestored *msg)
{
    router_t *self = arg;
    td_log_set_context(hdr->call_id);
    const char *what = msg->channel && *msg->channel ? msg->channel : "a leg";
    if (s_call_for(self, hdr, "DialogRestored", 1, ADOPT_OTHER, 0))
        td_log(LOG_DEBUG, "%s restored %s (leg %u): the call goes on", hdr->peer, what,
               hdr->leg);
    else if (self->adopt)
        td_log(LOG_INFO, "%s restored %s (leg %u) of a call not run here: hung up unless the "
               "store has it", hdr->peer, what, hdr->leg);
    else
        td_log(LOG_NOTICE, "%s restored %s (leg %u) of a call that is over: hung up", hdr->peer,
               what, hdr->leg);
    td_log_set_context(NULL);
}

/* A signaling node's registrations (location.h): changes as they happen,
 * its whole list (reset first) when it hears this router come up. A node
 * that dies keeps its entries until it sends its list again. */
static void s_on_location(void *arg, const td_bus_hdr_t *hdr, const Tandem__Location *msg)
{
    router_t *self = arg;
    time_t now = time(NULL);
    if (msg->reset) {
        size_t n = location_reset(self->locations, hdr->peer);
        td_log(LOG_INFO, "Signaling %s sends its registrations (%zu known before)", hdr->peer, n);
    }
    for (size_t i = 0; i < msg->n_entries; i++) {
        const Tandem__LocationEntry *e = msg->entries[i];
        const char *node = e->node && *e->node ? e->node : hdr->peer;
        td_log(LOG_DEBUG, "Location: %s %s %s (%u s)", e->peer, e->expires ? "at" : "gone from",
               node, e->expires);
        location_update(self->locations, e->peer, node, e->expires, now);
    }
}

location_t *router_locations(router_t *self) { return self->locations; }

/* A worker's call quality: at the end of a session for quality.csv, or the
 * answer to a `sip show channelstats`. */
static void s_on_media_stats(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaStats *msg)
{
    router_t *self = arg;
    if (!msg->final)
        chanstats_on_stats(self->chanstats, hdr->peer, msg);
    else if (self->quality)
        for (size_t i = 0; i < msg->n_sessions; i++)
            quality_write(self->quality, hdr->peer, msg->sessions[i]);
}

static void s_on_cli_request(void *arg, const td_bus_hdr_t *hdr, const Tandem__CliRequest *msg)
{
    router_t *self = arg;
    if (msg->command && chanstats_handles(msg->command)) {
        chanstats_ask(self->chanstats, hdr->peer, msg->id, msg->command);   /* replies later */
        return;
    }
    char *text = NULL;
    Tandem__CliReply r = TANDEM__CLI_REPLY__INIT;
    r.id = msg->id;
    const char *command = msg->command ? msg->command : "";
    if (cli_relay_wants(command)) {
        if (self->relay && cli_relay_forward(self->relay, hdr->peer, msg->id, command) == 0)
            return;                 /* the relay answers when signaling has */
        r.status = 2;
        r.text = "No signaling process is up: the sip commands are answered there\n";
        td_bus_send_cli_reply(self->bus, hdr->peer, "", 0, &r);
        return;
    }
    r.status = (uint32_t)router_cli(self, command, &text);
    r.text = text ? text : "";
    td_bus_send_cli_reply(self->bus, hdr->peer, "", 0, &r);
    free(text);
}

/* An out-of-dialog OPTIONS (sip_options.h): does the extension exist at
 * priority 1, as chan_sip's get_destination asks ast_exists_extension, with
 * the raw user part first and then the URI-decoded one. */
static void s_on_exten_query(void *arg, const td_bus_hdr_t *hdr, const Tandem__ExtenQuery *msg)
{
    router_t *self = arg;
    const char *ctx = msg->context ? msg->context : "";
    const char *cid = msg->caller && *msg->caller ? msg->caller : NULL;
    Tandem__ExtenReply r = TANDEM__EXTEN_REPLY__INIT;
    r.id = msg->id;
    r.exists = (msg->exten && dialplan_find_prio(self->dialplan, ctx, msg->exten, cid, 1, NULL))
            || (msg->exten_decoded
                && dialplan_find_prio(self->dialplan, ctx, msg->exten_decoded, cid, 1, NULL));
    td_bus_send_exten_reply(self->bus, hdr->peer, "", 0, &r);
}

/* Signaling's answer to a command the relay passed on. */
static void s_on_cli_reply(void *arg, const td_bus_hdr_t *hdr, const Tandem__CliReply *msg)
{
    router_t *self = arg;
    if (self->relay)
        cli_relay_reply(self->relay, hdr, msg);
}

/* tandemctl connects as a peer of role "ctl": it has no calls. */
static int s_is_ctl(const char *role)
{
    return strcmp(role, "ctl") == 0;
}

static void s_on_peer_up(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    router_t *self = arg;
    if (s_is_ctl(role))
        return;
    if (strcmp(role, "media") != 0) {
        if (s_sig_down_find(self, peer) >= 0) {
            s_sig_down_forget(self, peer);
            s_collect_t c = s_collect(self, peer, 0);
            td_log(LOG_NOTICE, "Peer %s (%s) is back: its %zu call(s) go on", peer, role, c.n);
            free(c.list);
        } else {
            td_log(LOG_NOTICE, "Peer %s (%s) is up", peer, role);
        }
        return;
    }
    worker_ref_t *known = workers_find(self->workers, peer);
    int comeback = known && !worker_ref_alive(known);
    if (!workers_up(self->workers, peer, capacity)) {
        td_log(LOG_ERR, "Media worker %s: out of memory", peer);
        return;
    }
    td_log(LOG_NOTICE, "Media worker %s is up (capacity %u)", peer, capacity);
    if (comeback) {
        /* Its calls were moved or ended when it was declared dead: whatever
         * sessions it still holds (it only stalled) are stale. */
        Tandem__MediaForget m = TANDEM__MEDIA_FORGET__INIT;
        td_bus_send_media_forget(self->bus, peer, "", 0, &m);
    }
}

static void s_on_peer_down(void *arg, const char *peer, const char *role)
{
    router_t *self = arg;
    if (s_is_ctl(role))
        return;
    int media = strcmp(role, "media") == 0;
    if (media)
        workers_down(self->workers, peer);
    s_collect_t c = s_collect(self, peer, media);
    if (media) {
        td_log(LOG_WARNING, "Media worker %s is down: moving its %zu call(s)", peer, c.n);
    } else if (self->sig_grace_s && self->nsig_down < sizeof self->sig_down / sizeof self->sig_down[0]) {
        /* It may only be stalled: answered calls (their RTP flows) wait for
         * it; calls being set up cannot, they end now. */
        size_t kept = 0;
        for (size_t i = 0; i < c.n; i++)
            kept += call_answered(c.list[i]) ? 1 : 0;
        td_log(LOG_WARNING, "Peer %s (%s) is down: hanging up its %zu call(s) in set-up; its %zu "
               "answered call(s) wait %u s for it", peer, role, c.n - kept, kept,
               self->sig_grace_s);
        if (s_sig_down_find(self, peer) < 0) {
            size_t k = self->nsig_down++;
            snprintf(self->sig_down[k].name, sizeof self->sig_down[k].name, "%s", peer);
            self->sig_down[k].since = time(NULL);
        }
        if (!evtimer_pending(self->sig_grace, NULL)) {
            struct timeval tv = { 1, 0 };
            event_add(self->sig_grace, &tv);
        }
    } else {
        td_log(LOG_WARNING, "Peer %s (%s) is down: hanging up its %zu call(s)", peer, role, c.n);
    }
    for (size_t i = 0; i < c.n; i++) {
        td_log_set_context(call_id(c.list[i]));
        if (media)
            call_on_worker_lost(c.list[i]);
        else if (!self->sig_grace_s || s_sig_down_find(self, peer) < 0 ||
                 !call_answered(c.list[i]))
            call_on_sig_lost(c.list[i], peer);
        td_log_set_context(NULL);
    }
    free(c.list);
}

void router_set_signaling_grace(router_t *self, uint32_t seconds)
{
    self->sig_grace_s = seconds;
}

void router_set_signaling_restores(router_t *self, int on)
{
    self->sig_restores = on ? 1 : 0;
}

/* A restarted signaling that restores its dialogs (cluster): like a stall
 * that came back, its answered calls go on (their RTP never stopped, and
 * its restored legs carry their BYEs and Hangups); calls still being set up
 * end, since only confirmed dialogs are kept. */
static void s_sig_restored(router_t *self, const char *peer, const char *role)
{
    s_sig_down_forget(self, peer);
    s_collect_t c = s_collect(self, peer, 0);
    size_t kept = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (call_answered(c.list[i])) {
            kept++;
            continue;
        }
        td_log_set_context(call_id(c.list[i]));
        call_on_peer_lost(c.list[i], 0);
        td_log_set_context(NULL);
    }
    td_log(LOG_WARNING, "Peer %s (%s) restarted: it restores its dialogs, its %zu answered "
           "call(s) go on; %zu call(s) in set-up hung up", peer, role, kept, c.n - kept);
    free(c.list);
}

/* A worker drains (SIGUSR1 on it): no new calls for it, and its calls move
 * to others at DRAIN_BATCH per DRAIN_EVERY_MS, each when it is movable (a
 * prompt or a ringing Dial is waited out). It exits once it has none. */
static void s_on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    router_t *self = arg;
    s_collect_t c = { NULL, 0, 0, NULL, 1, 1 };
    strmap_foreach(self->calls, s_collect_one, &c);
    size_t moved = 0;
    for (size_t i = 0; i < c.n && moved < DRAIN_BATCH; i++) {
        call_t *call = c.list[i];
        if (!call_movable(call))
            continue;
        td_log_set_context(call_id(call));
        if (call_move(call) == 0)
            moved++;
        td_log_set_context(NULL);
    }
    if (c.n > 0) {
        struct timeval tv = { 0, DRAIN_EVERY_MS * 1000 };
        event_add(self->drain, &tv);
    }
    free(c.list);
}

static void s_on_media_drain(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaDrain *msg)
{
    router_t *self = arg;
    worker_ref_t *w = workers_find(self->workers, hdr->peer);
    if (!w)
        return;
    if (!worker_ref_draining(w)) {
        worker_ref_set_draining(w);
        td_log(LOG_NOTICE, "Media worker %s drains: moving its %u call(s) to other workers",
               hdr->peer, msg->sessions);
    }
    if (!evtimer_pending(self->drain, NULL)) {
        struct timeval tv = { 0, DRAIN_EVERY_MS * 1000 };
        event_add(self->drain, &tv);
    }
}

static void s_on_max_call(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    router_t *self = arg;
    s_collect_t c = s_collect(self, NULL, 0);
    for (size_t i = 0; i < c.n; i++) {
        call_t *call = c.list[i];
        uint32_t age = call_age_s(call);
        if (call_state(call) == CALL_DONE || age < self->max_call_s)
            continue;
        td_log_set_context(call_id(call));
        td_log(LOG_NOTICE, "Call up for %u s, longer than [router] max_call_duration (%u s): "
               "hanging up", age, self->max_call_s);
        call_shutdown(call, 16);
        td_log_set_context(NULL);
    }
    free(c.list);
    adopt_expire(self->adopt, self->max_call_s);
}

void router_set_max_call(router_t *self, uint32_t seconds)
{
    self->max_call_s = seconds;
    if (!self->max_call)
        self->max_call = event_new(self->base, -1, EV_PERSIST, s_on_max_call, self);
    if (!self->max_call)
        return;
    event_del(self->max_call);
    struct timeval every = { ROUTER_MAX_CALL_CHECK_S, 0 };
    if (seconds)
        event_add(self->max_call, &every);
}

/* A peer restarted faster than TD_BUS_DEAD_MS: a media worker's calls move
 * (possibly onto the new process: it is alive, and empty); a signaling
 * process's calls end as if it had been silent. */
static void s_on_peer_restart(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    router_t *self = arg;
    if (s_is_ctl(role))
        return;
    if (strcmp(role, "media") != 0 && self->sig_restores) {
        s_sig_restored(self, peer, role);
        return;
    }
    if (strcmp(role, "media") != 0) {
        /* a new process knows nothing of the calls: they end now */
        s_sig_down_forget(self, peer);
        td_log(LOG_WARNING, "Peer %s (%s) restarted: hanging up its calls", peer, role);
        s_end_sig_calls(self, peer);
        return;
    }
    workers_up(self->workers, peer, capacity);
    s_collect_t c = s_collect(self, peer, 1);
    td_log(LOG_WARNING, "Media worker %s restarted: moving its %zu call(s)", peer, c.n);
    for (size_t i = 0; i < c.n; i++) {
        td_log_set_context(call_id(c.list[i]));
        call_on_worker_lost(c.list[i]);
        td_log_set_context(NULL);
    }
    free(c.list);
}

/* --- lifecycle ----------------------------------------------------------------- */

router_t *router_new(struct event_base *base, const char *endpoint, const char *identity,
                     dialplan_t **dialplan_p, const char *cdrdir)
{
    return router_new_keyed(base, endpoint, identity, dialplan_p, cdrdir, NULL);
}

router_t *router_new_keyed(struct event_base *base, const char *endpoint, const char *identity,
                           dialplan_t **dialplan_p, const char *cdrdir,
                           const td_bus_keys_t *bus_keys)
{
    router_t *self = calloc(1, sizeof *self);
    if (!self) {
        dialplan_destroy(dialplan_p);
        return NULL;
    }
    self->base = base;
    snprintf(self->identity, sizeof self->identity, "%s", identity);
    self->dialplan = *dialplan_p;
    *dialplan_p = NULL;
    self->workers = workers_new();
    self->calls = strmap_new(1024);
    self->locations = location_new();
    self->started = time(NULL);
    self->reaper = event_new(base, -1, 0, s_on_reap, self);
    self->drain = evtimer_new(base, s_on_drain_tick, self);
    self->sig_grace = evtimer_new(base, s_on_sig_grace, self);
    self->sig_grace_s = 30;
    self->cdr = cdr_new(cdrdir);
    self->quality = self->cdr ? quality_new(cdrdir) : NULL;   /* none: no quality lines */
    self->chanstats = chanstats_new(base, self);
    td_bus_handlers_t h = {
        .on_channel_new = s_on_channel_new,
        .on_progress = s_on_progress,
        .on_answer = s_on_answer,
        .on_hangup = s_on_hangup,
        .on_media_offered = s_on_media_offered,
        .on_media_answered = s_on_media_answered,
        .on_media_error = s_on_media_error,
        .on_media_played = s_on_media_played,
        .on_media_dtmf = s_on_media_dtmf,
        .on_media_recorded = s_on_media_recorded,
        .on_reinvite = s_on_reinvite,
        .on_reinvite_answer = s_on_reinvite_answer,
        .on_media_reoffered = s_on_media_reoffered,
        .on_media_reanswered = s_on_media_reanswered,
        .on_media_adopted = s_on_media_adopted,
        .on_media_timeout = s_on_media_timeout,
        .on_media_drain = s_on_media_drain,
        .on_transfer = s_on_transfer,
        .on_peer_up = s_on_peer_up,
        .on_peer_down = s_on_peer_down,
        .on_cli_request = s_on_cli_request,
        .on_exten_query = s_on_exten_query,
        .on_cli_reply = s_on_cli_reply,
        .on_media_stats = s_on_media_stats,
        .on_peer_restart = s_on_peer_restart,
        .on_dialog_restored = s_on_dialog_restored,
        .on_location = s_on_location,
    };
    if (self->workers && self->calls && self->locations && self->reaper && self->drain &&
        self->sig_grace && self->cdr && self->chanstats)
        self->bus = td_bus_new_keyed(base, TD_BUS_BIND, endpoint, identity, "router", 0, &h,
                                     self, bus_keys);
    if (self->bus)
        self->relay = cli_relay_new(base, self->bus);
    if (!self->bus || !self->relay) {
        router_destroy(&self);
        return NULL;
    }
    self->env = (call_env_t) {
        .base = base,
        .bus = self->bus,
        .dialplan = self->dialplan,
        .workers = self->workers,
        .cdr = self->cdr,
        .locations = self->locations,
        .channel_seq = 0,
        .on_done = s_on_call_done,
        .arg = self,
    };
    self->env.globals = chanvars_new();     /* NULL: GLOBAL() writes fail */
    return self;
}

int router_open_astdb(router_t *self, const char *path)
{
    astdb_close(&self->env.astdb);
    self->env.astdb = astdb_open(path);
    return self->env.astdb ? 0 : -1;
}

static int s_live(void *arg, const char *call_id)
{
    router_t *self = arg;
    return strmap_get(self->calls, call_id) != NULL;
}

static void s_save_one(void *arg, const char *key, void *value)
{
    (void)key;
    size_t *n = arg;
    call_t *c = value;
    if (call_saved(c)) {
        call_save(c);
        (*n)++;
    }
}

/* The store answered whether it lost our keys (s_on_store_up): a Redis that
 * restarted empty gets every answered call's call:<id> again, adopted ones
 * included; the writes kept during the outage were replayed before. */
static void s_store_resync(void *arg, int lost)
{
    router_t *self = arg;
    if (!lost || !self->store)
        return;
    size_t n = 0;
    strmap_foreach(self->calls, s_save_one, &n);
    size_t adopted = adopt_store_all(self->adopt);
    td_log(n || adopted ? LOG_NOTICE : LOG_DEBUG, "cluster store: Redis did not have this "
           "router's keys: %zu call(s) written again (%zu adopted)", n + adopted, adopted);
}

static void s_on_store_up(void *arg)
{
    router_t *self = arg;
    char mark[96];
    snprintf(mark, sizeof mark, "mark:router:%s", self->identity);
    td_store_if_lost(self->store, mark, s_store_resync, self);
}

int router_open_cluster(router_t *self, const td_store_conf_t *conf, const char *identity)
{
    if (self->store)
        return 0;
    astdb_close(&self->env.astdb);
    self->env.astdb = astdb_open(NULL);          /* a cache of Redis's db:* */
    self->store = self->env.astdb ? td_store_new(self->base, conf, identity) : NULL;
    if (self->store)
        self->dbsync = dbsync_new(self->store, self->env.astdb, &self->env.globals, identity);
    adopt_env_t env = {
        .base = self->base, .bus = self->bus, .store = self->store, .cdr = self->cdr,
        .counts = &self->env.counts, .identity = self->identity, .unknown = s_unknown,
        .live = s_live, .arg = self,
    };
    if (self->dbsync)
        self->adopt = adopt_new(&env);
    if (!self->adopt) {
        td_store_destroy(&self->store);
        dbsync_destroy(&self->dbsync);
        return -1;
    }
    td_store_on_up(self->store, s_on_store_up, self);
    self->env.dbsync = self->dbsync;
    self->env.store = self->store;
    self->env.identity = self->identity;
    td_log(LOG_NOTICE, "Cluster mode: DB() and GLOBAL() in Redis at %s:%u; answered calls "
           "kept there (call:<id>), and calls another router process answered adopted",
           conf->host, conf->port);
    return 0;
}

td_store_t *router_store(router_t *self)
{
    return self->store;
}

size_t router_adopted(router_t *self, size_t *channels)
{
    return adopt_count(self->adopt, channels);
}

int router_open_journal(router_t *self, const char *cdrdir)
{
    if (!self->cdr || self->journal)
        return self->journal ? 0 : -1;
    size_t n = 0;
    self->journal = journal_open(self->base, cdrdir, self->cdr, self->store != NULL, &n);
    self->env.journal = self->journal;
    s_journal_trim(self);
    return self->journal ? 0 : -1;
}

int router_cdr_options(router_t *self, const char *path)
{
    return self->cdr ? cdr_configure(self->cdr, path) : 0;
}

int router_cdr_pgsql(router_t *self, const char *conf_path, const char *spool_path)
{
    if (!self->cdr || self->pgsql)
        return 0;
    cdr_pgsql_conf_t conf;
    char err[512];
    int on = cdr_pgsql_conf_read(&conf, conf_path, err, sizeof err);
    if (on < 0) {
        td_log(LOG_ERR, "cdr_pgsql: %s; CDRs not sent to PostgreSQL", err);
        return -1;
    }
    if (!on)
        return 0;
    if (!cdr_enabled(self->cdr)) {
        td_log(LOG_NOTICE, "cdr_pgsql: CDRs are off (cdr.conf [general] enable)");
        return 0;
    }
    self->pgsql = cdr_pgsql_new(self->base, &conf, spool_path);
    if (!self->pgsql)
        return -1;
    cdr_set_backend(self->cdr, cdr_pgsql_backend, self->pgsql);
    return 0;
}

cdr_pgsql_t *router_pgsql(router_t *self)
{
    return self->pgsql;
}

void router_destroy(router_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_t *self = *self_p;
    if (self->calls && self->bus) {
        s_collect_t c = s_collect(self, NULL, 0);
        /* Cluster mode: an answered call whose hash is in the store is left
         * up, as when the router dies: signaling and media keep it, and the
         * router that gets its next message (this one restarted, or another)
         * ends it and writes its CDR. */
        size_t kept = 0;
        for (size_t i = 0; self->store && i < c.n; i++) {
            if (!call_saved(c.list[i]))
                continue;
            strmap_remove(self->calls, call_id(c.list[i]));
            call_destroy(&c.list[i]);
            kept++;
        }
        if (kept)
            td_log(LOG_NOTICE, "Stopping: %zu answered call(s) left to the router that adopts "
                   "them from the cluster store", kept);
        if (c.n > kept)
            td_log(LOG_NOTICE, "Stopping: hanging up %zu call(s)", c.n - kept);
        for (size_t i = 0; i < c.n; i++) {
            if (!c.list[i])
                continue;
            td_log_set_context(call_id(c.list[i]));
            call_shutdown(c.list[i], 16);
            td_log_set_context(NULL);
        }
        free(c.list);
    }
    s_on_reap(-1, 0, self);
    self->env.dbsync = NULL;
    self->env.store = NULL;
    adopt_close(self->adopt);           /* the store's late answers find it closed */
    td_store_destroy(&self->store);     /* before dbsync and adopt: its callbacks name them */
    dbsync_destroy(&self->dbsync);
    adopt_destroy(&self->adopt);
    chanvars_destroy(&self->env.globals);
    astdb_close(&self->env.astdb);
    free(self->zombies);
    if (self->reaper)
        event_free(self->reaper);
    if (self->drain)
        event_free(self->drain);
    if (self->sig_grace)
        event_free(self->sig_grace);
    if (self->max_call)
        event_free(self->max_call);
    cli_relay_destroy(&self->relay);
    chanstats_destroy(&self->chanstats);
    td_bus_destroy(&self->bus);
    strmap_destroy(&self->calls);
    location_destroy(&self->locations);
    if (self->cdr)
        cdr_set_backend(self->cdr, NULL, NULL);
    cdr_pgsql_destroy(&self->pgsql);     /* after the last CDR: it spools the rest */
    quality_destroy(&self->quality);
    journal_destroy(&self->journal);
    cdr_destroy(&self->cdr);
    workers_destroy(&self->workers);
    dialplan_destroy(&self->dialplan);
    free(self);
    *self_p = NULL;
}

/* Globals across a reload, as pbx_config.c: Asterisk keeps one list of
 * globals, and a reload sets each [globals] name of the new file again
 * (so a GLOBAL() write of that name made at runtime is gone), keeps every
 * other global (old [globals] the new file dropped included), unless the
 * plan loaded before said clearglobalvars=yes, which empties the list
 * first. Here runtime globals shadow the plan's: drop the shadows of the new
 * names, and carry the old plan's other names over as runtime globals. */
static void s_drop_global(void *arg, const char *name, const char *value)
{
    (void)value;
    chanvars_set(arg, name, NULL);
}

typedef struct {
    chanvars_t *globals;
    const dialplan_t *next;
} s_carry_t;

static void s_carry_global(void *arg, const char *name, const char *value)
{
    s_carry_t *c = arg;
    if (!dialplan_global(c->next, name) && !chanvars_get(c->globals, name))
        chanvars_put(c->globals, name, value);
}

static void s_reload_globals(router_t *self, const dialplan_t *old, const dialplan_t *next)
{
    if (!self->env.globals)
        return;
    if (old && dialplan_clearglobalvars(old)) {
        chanvars_t *fresh = chanvars_new();
        if (fresh) {
            chanvars_destroy(&self->env.globals);
            self->env.globals = fresh;
        }
    } else if (old) {
        s_carry_t c = { self->env.globals, next };
        dialplan_globals_foreach(old, s_carry_global, &c);
    }
    dialplan_globals_foreach(next, s_drop_global, self->env.globals);
}

int router_reload(router_t *self, const char *path)
{
    char err[1024];
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp) {
        td_log(LOG_ERR, "Reload refused, the dialplan in force stays: %s", err);
        self->reload_failures++;
        return -1;
    }
    self->reloads++;
    s_reload_globals(self, self->dialplan, dp);
    /* Calls in flight hold their own reference to the old plan. */
    dialplan_destroy(&self->dialplan);
    self->dialplan = dp;
    self->env.dialplan = dp;
    td_log(LOG_NOTICE, "Reloaded %s with %d warning(s) (%zu call(s) finish on the plan they "
           "started with)", path, dialplan_warnings(dp), strmap_size(self->calls));
    self->reloaded = time(NULL);
    return 0;
}

typedef struct {
    void (*fn)(void *arg, call_t *call);
    void *arg;
} s_each_t;

static void s_each(void *arg, const char *key, void *value)
{
    (void)key;
    s_each_t *e = arg;
    e->fn(e->arg, value);
}

void router_calls_foreach(router_t *self, void (*fn)(void *arg, call_t *call), void *arg)
{
    s_each_t e = { fn, arg };
    strmap_foreach(self->calls, s_each, &e);
}

unsigned long router_calls_processed(router_t *self) { return self->calls_processed; }
const call_counts_t *router_call_counts(router_t *self) { return &self->env.counts; }
void router_reload_counts(router_t *self, uint64_t *done, uint64_t *refused)
{
    *done = self->reloads;
    *refused = self->reload_failures;
}
long router_uptime_s(router_t *self) { return (long)(time(NULL) - self->started); }
long router_reload_age_s(router_t *self)
{
    return self->reloaded ? (long)(time(NULL) - self->reloaded) : -1;
}

void router_set_plan_path(router_t *self, const char *path)
{
    snprintf(self->plan_path, sizeof self->plan_path, "%s", path ? path : "");
}

const char *router_plan_path(router_t *self) { return self->plan_path; }
const dialplan_t *router_dialplan(router_t *self) { return self->dialplan; }

td_bus_t *router_bus(router_t *self) { return self->bus; }
const char *router_identity(router_t *self) { return self->identity; }
workers_t *router_workers(router_t *self) { return self->workers; }
astdb_t *router_astdb(router_t *self) { return self->env.astdb; }

call_t *router_call(router_t *self, const char *id)
{
    return strmap_get(self->calls, id);
}

size_t router_call_count(router_t *self)
{
    return strmap_size(self->calls);
}
