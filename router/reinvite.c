/* reinvite - relaying in-dialog offers (re-INVITE, UPDATE) through the
 * media worker; see call.h.
 *
 *   leg k  Reinvite(sdp)        -> MediaReoffer(k, sdp)      -> worker
 *   worker MediaReoffered(offer) -> Reinvite(other, offer)   -> signaling
 *   other  ReinviteAnswer(200, sdp) -> MediaReanswer(other)  -> worker
 *   worker MediaReanswered(answer)  -> ReinviteAnswer(k, 200, answer)
 *
 * A one-leg call (Echo, IVR) stops at the first step: MediaReoffered is
 * `final`, the answer for leg k. Any failure goes back to leg k as its
 * status; the worker keeps the session as it was.
 *
 * A worker that does not answer a step (MediaReoffered, MediaReanswered)
 * within REOFFER_WAIT_MS must not leave the call refusing every later offer
 * with 491: the offerer gets 500 (chan_sip's answer when it cannot take an
 * offer) and the relay is free again. A late answer is then ignored. The
 * other phone's own answer is bounded by signaling's transaction timers. */

#define REOFFER_WAIT_MS 5000
#include "call_int.h"

#include <stdlib.h>
#include <event2/event.h>
#include <string.h>

#include "td_log.h"
#include "workers.h"

/* The leg on the other side of leg, or UINT32_MAX when none is up. */
static uint32_t s_other(const call_t *self, uint32_t leg)
{
    if (leg != 0)
        return self->answered && !self->leg0_gone ? 0 : UINT32_MAX;
    if (self->winner && self->winner->state == LEG_UP)
        return self->winner->number;
    return UINT32_MAX;
}

/* Whether leg is one the call has up: the caller once answered, or the
 * bridged callee. */
static int s_leg_up(const call_t *self, uint32_t leg)
{
    if (leg == 0)
        return self->answered && !self->leg0_gone;
    return self->winner && self->winner->number == leg && self->winner->state == LEG_UP;
}

static void s_answer(call_t *self, uint32_t leg, uint32_t status, const char *sdp)
{
    const char *peer = call_leg_peer(self, leg);
    if (!peer)
        return;
    Tandem__ReinviteAnswer m = TANDEM__REINVITE_ANSWER__INIT;
    m.status = status;
    m.sdp = (char *)(sdp ? sdp : "");
    td_bus_send_reinvite_answer(self->env->bus, peer, self->id, leg, &m);
}

static void s_on_reoffer_overdue(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    call_t *self = arg;
    call_fire_reinvite_timer(self);
}

int call_fire_reinvite_timer(call_t *self)
{
    int armed = self->reinvite_timer && evtimer_pending(self->reinvite_timer, NULL);
    if (self->reinvite_timer)
        evtimer_del(self->reinvite_timer);
    if (!self->reinvite || self->reinvite_sent)
        return armed;
    td_log_set_context(self->id);
    td_log(LOG_WARNING, "re-INVITE on leg %u: no answer from media worker %s in %d ms: 500",
           self->reinvite_from, self->worker ? worker_ref_identity(self->worker) : "?",
           REOFFER_WAIT_MS);
    self->reinvite = 0;
    s_answer(self, self->reinvite_from, 500, NULL);
    td_log_set_context(NULL);
    return armed;
}

/* Wait for the worker's answer to a step (on = 1), or stop waiting. */
static void s_wait_worker(call_t *self, int on)
{
    if (!on) {
        if (self->reinvite_timer)
            evtimer_del(self->reinvite_timer);
        return;
    }
    if (!self->reinvite_timer)
        self->reinvite_timer = evtimer_new(self->env->base, s_on_reoffer_overdue, self);
    struct timeval tv = { REOFFER_WAIT_MS / 1000, (REOFFER_WAIT_MS % 1000) * 1000 };
    if (self->reinvite_timer)
        evtimer_add(self->reinvite_timer, &tv);
}

static int s_media_ok(const call_t *self, const char *peer)
{
    return self->worker && !self->worker_lost && (!peer ||
           strcmp(worker_ref_identity(self->worker), peer) == 0);
}

/* The offer of the re-INVITE in flight, for the sides' SDPs once it is done. */
static void s_keep_offer(call_t *self, const char *sdp)
{
    free(self->ri_offer);
    self->ri_offer = sdp && *sdp ? strdup(sdp) : NULL;
}

void call_on_reinvite(call_t *self, uint32_t leg, const Tandem__Reinvite *msg)
{
    if (self->reinvite || self->moving) {
        td_log(LOG_INFO, "re-INVITE on leg %u while another is in progress: 491", leg);
        s_answer(self, leg, 491, NULL);
        return;
    }
    if (!s_leg_up(self, leg) || !s_media_ok(self, NULL)) {
        td_log(LOG_INFO, "re-INVITE on leg %u, which is not up with media: 488", leg);
        s_answer(self, leg, 488, NULL);
        return;
    }
    Tandem__MediaReoffer m = TANDEM__MEDIA_REOFFER__INIT;
    m.sdp = msg->sdp ? msg->sdp : "";
    m.codecs = msg->codecs;
    m.n_codecs = msg->n_codecs;
    m.no_answer = msg->no_answer;
    m.alone = s_other(self, leg) == UINT32_MAX;
    if (leg == 0 && !m.n_codecs) {
        m.codecs = self->codecs;
        m.n_codecs = self->ncodecs;
    }
    if (td_bus_send_media_reoffer(self->env->bus, worker_ref_identity(self->worker), self->id, leg,
                                  &m) < 0) {
        s_answer(self, leg, 500, NULL);
        return;
    }
    self->reinvite = 1;
    self->reinvite_from = leg;
    self->reinvite_sent = 0;
    s_keep_offer(self, msg->no_answer ? NULL : msg->sdp);
    s_wait_worker(self, 1);
    td_log(LOG_DEBUG, "re-INVITE on leg %u: offer sent to the worker", leg);
}

void call_on_media_reoffered(call_t *self, const char *peer, const Tandem__MediaReoffered *msg)
{
    if (!self->reinvite || self->reinvite_sent || !s_media_ok(self, peer)) {
        td_log(LOG_DEBUG, "MediaReoffered without a re-INVITE waiting for it: ignored");
        return;
    }
    s_wait_worker(self, 0);
    uint32_t from = self->reinvite_from;
    if (msg->status != 200 || msg->final) {
        self->reinvite = 0;
        if (msg->status == 200) {
            call_sdp_heard(self, call_leg_side(self, from), self->ri_offer);
            call_sdp_sent(self, call_leg_side(self, from), msg->sdp);
        }
        s_answer(self, from, msg->status ? msg->status : 500, msg->sdp);
        return;
    }
    uint32_t other = s_other(self, from);
    const char *to = other == UINT32_MAX ? NULL : call_leg_peer(self, other);
    if (!to) {
        /* The other leg went meanwhile: the worker drops its pending offer. */
        Tandem__MediaReanswer m = TANDEM__MEDIA_REANSWER__INIT;
        m.status = 500;
        td_bus_send_media_reanswer(self->env->bus, worker_ref_identity(self->worker), self->id,
                                   from == 0 ? 1 : 0, &m);
        s_wait_worker(self, 1);
        return;                 /* MediaReanswered(500) answers the offerer */
    }
    Tandem__Reinvite m = TANDEM__REINVITE__INIT;
    m.sdp = msg->sdp ? msg->sdp : "";
    td_bus_send_reinvite(self->env->bus, to, self->id, other, &m);
    call_sdp_heard(self, call_leg_side(self, from), self->ri_offer);
    s_keep_offer(self, m.sdp);
    self->reinvite_to = other;
    self->reinvite_sent = 1;
    td_log(LOG_DEBUG, "re-INVITE on leg %u: offering leg %u", from, other);
}

void call_on_reinvite_answer(call_t *self, uint32_t leg, const Tandem__ReinviteAnswer *msg)
{
    if (move_on_reinvite_answer(self, leg, msg))
        return;
    if (!self->reinvite || !self->reinvite_sent || leg != self->reinvite_to) {
        td_log(LOG_DEBUG, "ReinviteAnswer on leg %u without our re-INVITE: ignored", leg);
        return;
    }
    self->reinvite_sent = 0;
    self->reinvite_to = UINT32_MAX;
    if (!s_media_ok(self, NULL)) {
        self->reinvite = 0;
        s_answer(self, self->reinvite_from, 500, NULL);
        return;
    }
    if (msg->status >= 200 && msg->status < 300) {
        call_sdp_sent(self, call_leg_side(self, leg), self->ri_offer);
        call_sdp_heard(self, call_leg_side(self, leg), msg->sdp);
    }
    Tandem__MediaReanswer m = TANDEM__MEDIA_REANSWER__INIT;
    m.status = msg->status;
    m.sdp = msg->sdp ? msg->sdp : "";
    td_bus_send_media_reanswer(self->env->bus, worker_ref_identity(self->worker), self->id, leg, &m);
    s_wait_worker(self, 1);
}

void call_on_media_reanswered(call_t *self, const char *peer, const Tandem__MediaReanswered *msg)
{
    if (!self->reinvite || self->reinvite_sent || !s_media_ok(self, peer)) {
        td_log(LOG_DEBUG, "MediaReanswered without a re-INVITE waiting for it: ignored");
        return;
    }
    self->reinvite = 0;
    s_wait_worker(self, 0);
    td_log(LOG_DEBUG, "re-INVITE on leg %u: %u", self->reinvite_from, msg->status);
    if (msg->status == 200)
        call_sdp_sent(self, call_leg_side(self, self->reinvite_from), msg->sdp);
    s_answer(self, self->reinvite_from, msg->status ? msg->status : 500, msg->sdp);
}
