/* move - a call's media moves to another worker when its own dies.
 *
 *   worker down  -> MediaAdopt(sides' last SDPs) -> the least loaded live worker
 *   MediaAdopted(offer a, offer b)
 *       caller up:   Reinvite(0, offer a)          -> signaling -> phone
 *       caller not:  offer a is its answer-to-be (sdp_caller)
 *       callee up:   Reinvite(winner, offer b)
 *       ringing:     offer b is the offer for new legs; the winner is
 *                    re-INVITEd once it answers
 *   ReinviteAnswer(leg, 200, sdp) -> MediaAdopt's worker (MediaAnswer, adopt)
 *   ReinviteAnswer(leg, 491)      -> again after a second, 5 times at most
 *   any other refusal             -> that call ends (cause 38, as a worker
 *                                    loss ended every call before)
 *
 * The new worker sends to each phone where its last SDP says from the
 * moment it adopts the call, so the far end hears audio again before the
 * re-INVITE is answered; each phone's own audio comes back with its answer.
 * A prompt that was playing starts again (the application runs again), a
 * call waiting for its first MediaOffered asks the new worker. */
#include "call_int.h"

#include <stdlib.h>
#include <string.h>

#include "td_log.h"
#include "workers.h"

#define MOVE_TRIES     5
#define MOVE_RETRY_MS  1000

static void s_keep(char **slot, const char *sdp)
{
    if (!sdp || !*sdp)
        return;
    char *copy = strdup(sdp);
    if (!copy)
        return;                 /* the old one stays: better than none */
    free(*slot);
    *slot = copy;
}

void call_sdp_sent(call_t *self, int side, const char *sdp)
{
    if (side == 0 || side == 1)
        s_keep(&self->sdp_sent[side], sdp);
}

void call_sdp_heard(call_t *self, int side, const char *sdp)
{
    if (side == 0 || side == 1)
        s_keep(&self->sdp_heard[side], sdp);
}

int call_leg_side(const call_t *self, uint32_t leg)
{
    if (leg == 0)
        return 0;
    if (self->winner && self->winner->number == leg)
        return 1;
    return -1;
}

void move_free(call_t *self)
{
    for (int i = 0; i < 2; i++) {
        free(self->sdp_sent[i]);
        free(self->sdp_heard[i]);
        self->sdp_sent[i] = self->sdp_heard[i] = NULL;
    }
    free(self->ri_offer);
    self->ri_offer = NULL;
    if (self->move_timer) {
        event_free(self->move_timer);
        self->move_timer = NULL;
    }
}

static uint32_t s_side_leg(const call_t *self, int side)
{
    return side == 0 ? 0 : self->winner ? self->winner->number : UINT32_MAX;
}

static int s_side_up(const call_t *self, int side)
{
    if (side == 0)
        return self->answered && !self->leg0_gone;
    return self->winner && self->winner->state == LEG_UP;
}

/* A drain move that cannot finish: back to the worker it never left. */
static void s_undo(call_t *self)
{
    worker_ref_t *to = self->worker;
    if (!worker_ref_alive(to) || self->sig_lost) {
        ;
    } else {
        Tandem__MediaRelease m = TANDEM__MEDIA_RELEASE__INIT;
        td_bus_send_media_release(self->env->bus, worker_ref_identity(to), self->id, 0, &m);
    }
    workers_release(self->env->workers, to);
    self->worker = self->move_from;
    workers_hold(self->env->workers, self->worker);
    self->move_from = NULL;
    self->moving = 0;
    self->move_wait = 0;
    self->move_refused = 1;
    if (self->saved)
        call_save(self);
    td_log(LOG_NOTICE, "drain: '%s' stays on %s", self->channel, worker_ref_identity(self->worker));
}

static void s_done_if_settled(call_t *self)
{
    if (self->moving && !self->move_wait && self->move_from) {
        /* A drain: the phones left the old worker; it lets the call go. */
        Tandem__MediaRelease m = TANDEM__MEDIA_RELEASE__INIT;
        td_bus_send_media_release(self->env->bus, worker_ref_identity(self->move_from), self->id, 0,
                                  &m);
        self->move_from = NULL;
    }
    if (self->moving && !self->move_wait) {
        struct timeval now, d;
        gettimeofday(&now, NULL);
        timersub(&now, &self->move_start, &d);
        self->moving = 0;
        td_log(LOG_NOTICE, "'%s' moved to media worker %s in %ld ms", self->channel,
               worker_ref_identity(self->worker), (long)(d.tv_sec * 1000 + d.tv_usec / 1000));
    }
}

/* Re-INVITE a side's phone with the new worker's offer (its sdp_sent). */
static void s_reinvite(call_t *self, int side)
{
    uint32_t leg = s_side_leg(self, side);
    const char *peer = leg == UINT32_MAX ? NULL : call_leg_peer(self, leg);
    if (!peer || !self->sdp_sent[side])
        return;
    Tandem__Reinvite m = TANDEM__REINVITE__INIT;
    m.sdp = self->sdp_sent[side];
    td_bus_send_reinvite(self->env->bus, peer, self->id, leg, &m);
    self->move_wait |= 1u << side;
    self->move_tries[side]++;
    td_log(LOG_INFO, "move: re-INVITE of leg %u to %s", leg, worker_ref_identity(self->worker));
}

static void s_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    call_t *self = arg;
    td_log_set_context(self->id);
    for (int side = 0; side < 2; side++) {
        if (!(self->move_retry & (1u << side)))
            continue;
        self->move_retry &= ~(1u << side);
        self->move_wait &= ~(1u << side);
        if (self->state != CALL_DONE && self->moving && s_side_up(self, side))
            s_reinvite(self, side);
    }
    s_done_if_settled(self);
    td_log_set_context(NULL);
}

/* MediaAdopt to the call's (new) worker with what each phone was told and
 * said. 0, or -1 if the bus refused it. */
static int s_adopt(call_t *self)
{
    int up_b = self->winner && self->winner->state == LEG_UP;
    Tandem__MediaAdopt m = TANDEM__MEDIA_ADOPT__INIT;
    m.local_a = self->sdp_sent[0] ? self->sdp_sent[0] : (char *)self->sdp_caller;
    m.remote_a = self->sdp_heard[0] ? self->sdp_heard[0] : (char *)self->sdp_offer;
    m.local_b = up_b && self->sdp_sent[1] ? self->sdp_sent[1]
                                          : (char *)(self->sdp_callee ? self->sdp_callee : "");
    m.remote_b = up_b && self->sdp_heard[1] ? self->sdp_heard[1] : "";
    m.echo = self->state == CALL_ECHO;
    m.comedia_a = self->comedia;
    m.comedia_b = up_b && self->comedia_b;
    m.codecs = self->codecs;
    m.n_codecs = self->ncodecs;
    self->moving = 1;
    self->move_wait = 0;
    self->move_retry = 0;
    self->move_done = 0;
    self->move_tries[0] = self->move_tries[1] = 0;
    self->early_pending = 0;    /* the old worker's answers are not waited for */
    gettimeofday(&self->move_start, NULL);
    return td_bus_send_media_adopt(self->env->bus, worker_ref_identity(self->worker), self->id, 0,
                                   &m);
}

void call_on_worker_lost(call_t *self)
{
    worker_ref_t *old = self->worker;
    worker_ref_t *w = workers_choose(self->env->workers);
    if (!w) {
        call_on_peer_lost(self, 1);
        return;
    }
    workers_release(self->env->workers, old);
    self->worker = w;
    if (self->move_from == old) {
        self->move_from = NULL; /* a drain in flight: nothing to release there now */
    } else if (self->moving && self->move_from) {
        /* The worker it was moving to died: the drained one still has it,
         * and the drain tries again later. */
        workers_release(self->env->workers, w);
        self->worker = self->move_from;
        self->move_from = NULL;
        self->moving = 0;
        self->move_wait = 0;
        td_log(LOG_WARNING, "Media worker %s died while '%s' moved to it: it stays on %s",
               worker_ref_identity(old), self->channel, worker_ref_identity(self->worker));
        return;
    }
    td_log(LOG_WARNING, "Media worker %s of '%s' is gone: moving the call to %s",
           worker_ref_identity(old), self->channel, worker_ref_identity(w));
    if (self->reinvite) {
        /* The relay in flight dies with the worker; the offerer may try again. */
        self->reinvite = 0;
        const char *peer = call_leg_peer(self, self->reinvite_from);
        if (peer) {
            Tandem__ReinviteAnswer a = TANDEM__REINVITE_ANSWER__INIT;
            a.status = 500;
            a.sdp = "";
            td_bus_send_reinvite_answer(self->env->bus, peer, self->id, self->reinvite_from, &a);
        }
    }
    if (self->state == CALL_WAIT_MEDIA) {
        /* Its MediaOffered will not come: ask the new worker. */
        if (call_media_offer(self, self->after_media) < 0)
            call_end(self, 38, 38);
        return;
    }
    if (!self->sdp_caller)
        return;                 /* no session yet */
    if (s_adopt(self) < 0)
        call_end(self, 38, 38);
}

int call_movable(const call_t *self)
{
    if (self->moving || self->reinvite || self->move_refused || !self->sdp_caller ||
        !self->answered || self->leg0_gone || self->sig_lost)
        return 0;
    switch (self->state) {
    case CALL_BRIDGED:
    case CALL_ECHO:
    case CALL_WAITING:
        return 1;
    case CALL_PLAYING:
    case CALL_COLLECTING:
    case CALL_MOH:
        /* music starts again; a prompt or a recording is waited out */
        return self->ivr.mode == IVR_MOH || !self->ivr.play_id;
    default:
        return 0;
    }
}

int call_move(call_t *self)
{
    worker_ref_t *w = workers_choose(self->env->workers);
    if (!w)
        return -1;
    self->move_from = self->worker;
    workers_release(self->env->workers, self->worker);
    self->worker = w;
    td_log(LOG_INFO, "drain: moving '%s' from %s to %s", self->channel,
           worker_ref_identity(self->move_from), worker_ref_identity(w));
    if (s_adopt(self) < 0) {
        s_undo(self);
        return -1;
    }
    return 0;
}

/* The application that plays or records runs again on the new worker. */
static void s_restart_ivr(call_t *self)
{
    if (self->ivr.mode == IVR_NONE || self->state == CALL_DONE)
        return;
    if (!self->ivr.play_id && self->ivr.mode != IVR_MOH)
        return;                 /* nothing of the worker's is awaited (keys, a timer) */
    uint32_t next_id = self->ivr.next_id;
    event_del(self->timer);
    memset(&self->ivr, 0, sizeof self->ivr);
    self->ivr.next_id = next_id;
    td_log(LOG_INFO, "move: %s runs again on the new worker", dialplan_app_name(self->app));
    call_rerun(self);
}

void call_on_media_adopted(call_t *self, const char *peer, const Tandem__MediaAdopted *msg)
{
    if (!self->moving || !self->worker || strcmp(worker_ref_identity(self->worker), peer) != 0) {
        td_log(LOG_DEBUG, "MediaAdopted from %s without a move: ignored", peer);
        return;
    }
    const char *a = msg->sdp_a ? msg->sdp_a : "";
    const char *b = msg->sdp_b ? msg->sdp_b : "";
    if (*a) {
        call_sdp_sent(self, 0, a);
        if (!self->answered) {
            const char *copy = arena_strdup(&self->arena, a);
            if (copy)
                self->sdp_caller = copy;
        }
    }
    if (*b) {
        if (s_side_up(self, 1)) {
            call_sdp_sent(self, 1, b);
        } else {
            const char *copy = arena_strdup(&self->arena, b);
            if (copy)
                self->sdp_callee = copy;
            self->move_after_answer = self->state == CALL_DIALING;
        }
    }
    if (s_side_up(self, 0) && *a)
        s_reinvite(self, 0);
    if (s_side_up(self, 1) && *b)
        s_reinvite(self, 1);
    if (self->state == CALL_CONNECTING) {
        /* The lost worker never confirmed the bridge: this one has it. */
        Tandem__MediaAnswered done = TANDEM__MEDIA_ANSWERED__INIT;
        done.sdp_caller = "";
        call_dial_on_media_answered(self, &done);
    }
    for (int side = 0; side < 2; side++)
        if (s_side_up(self, side))
            call_rtp_timeouts(self, side);  /* the new worker counts from now */
    s_restart_ivr(self);
    if (self->saved)
        call_save(self);        /* the new worker */
    s_done_if_settled(self);
}

void move_on_bridged(call_t *self)
{
    if (!self->move_after_answer)
        return;
    self->move_after_answer = 0;
    if (!self->moving) {
        self->moving = 1;
        self->move_wait = 0;
        self->move_tries[1] = 0;
    }
    call_sdp_sent(self, 1, self->sdp_callee);
    s_reinvite(self, 1);
    s_done_if_settled(self);
}

int move_on_media_error(call_t *self, const Tandem__MediaError *msg)
{
    if (!self->moving || !self->move_from || self->move_done)
        return 0;
    td_log(LOG_NOTICE, "drain: %s cannot take '%s' now (%s): it stays on %s for a while",
           worker_ref_identity(self->worker), self->channel, msg->reason ? msg->reason : "",
           worker_ref_identity(self->move_from));
    s_undo(self);
    self->move_refused = 0;     /* the drain tries it again */
    return 1;
}

int move_on_reinvite_answer(call_t *self, uint32_t leg, const Tandem__ReinviteAnswer *msg)
{
    int side = call_leg_side(self, leg);
    if (!self->moving || side < 0 || !(self->move_wait & (1u << side)))
        return 0;
    if (msg->status >= 200 && msg->status < 300) {
        if (self->move_refused && self->move_from) {
            /* A drain where the other phone refused: the two would be on
             * two workers. Rare enough to end the call. */
            td_log(LOG_WARNING, "move: one phone moved, the other refused: hanging up");
            self->moving = 0;
            call_end(self, 38, 38);
            return 1;
        }
        self->move_wait &= ~(1u << side);
        self->move_done |= 1u << side;
        call_sdp_heard(self, side, msg->sdp);
        Tandem__MediaAnswer m = TANDEM__MEDIA_ANSWER__INIT;
        m.sdp = msg->sdp ? msg->sdp : "";
        m.adopt = 1;
        td_bus_send_media_answer(self->env->bus, worker_ref_identity(self->worker), self->id, leg,
                                 &m);
        s_done_if_settled(self);
        return 1;
    }
    if (msg->status == 491 && self->move_tries[side] < MOVE_TRIES) {
        /* The phone (or signaling) has a re-INVITE of its own in flight. */
        if (!self->move_timer)
            self->move_timer = evtimer_new(self->env->base, s_on_retry, self);
        if (self->move_timer) {
            self->move_retry |= 1u << side;
            struct timeval tv = { MOVE_RETRY_MS / 1000, (MOVE_RETRY_MS % 1000) * 1000 };
            evtimer_add(self->move_timer, &tv);
            td_log(LOG_INFO, "move: leg %u answered 491: again in %d ms", leg, MOVE_RETRY_MS);
            return 1;
        }
    }
    if (self->move_from && !self->move_done) {
        /* A drain, and no phone moved yet: the call stays where it is. */
        td_log(LOG_NOTICE, "move: leg %u refused the re-INVITE to the new worker (%u)", leg,
               msg->status);
        self->move_wait &= ~(1u << side);
        self->move_refused = 1;
        if (!self->move_wait)
            s_undo(self);
        return 1;
    }
    td_log(LOG_WARNING, "move: leg %u refused the re-INVITE to the new worker (%u): hanging up",
           leg, msg->status);
    self->move_wait = 0;
    self->moving = 0;
    call_end(self, 38, 38);
    return 1;
}
