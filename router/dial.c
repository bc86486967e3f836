/* dial - the Dial application, as Asterisk's app_dial runs it, over the bus
 * (proto/FLOW.md):
 *
 *   call_dial_start         parse targets; MediaOffer if the call has no session
 *   call_dial_originate     Originate one leg per target to the signaling node the
 *                           callee registered through (location.h), else the caller's
 *   Progress (leg k)   first 180 and first 183 go to the caller; SDP (early
 *                      media) goes through the worker first (MediaAnswer)
 *   Answer (leg k)     first one wins: the others get Hangup(26), MediaAnswer
 *   MediaAnswered      Answer the caller (if not yet) -> BRIDGED
 *   Hangup (leg k)     ringing: note why; when none is left, DIALSTATUS from
 *                      the causes and the dialplan goes on. Bridged: the call ends.
 *   timer              NOANSWER: hang up the ringing legs, the dialplan goes on */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "call_int.h"
#include "location.h"
#include "td_log.h"
#include "vars.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Q.850 causes Dial looks at. */
enum {
    S_CAUSE_NORMAL = 16, S_CAUSE_BUSY = 17, S_CAUSE_NO_USER_RESPONSE = 18,
    S_CAUSE_NO_ANSWER = 19, S_CAUSE_SUBSCRIBER_ABSENT = 20, S_CAUSE_ANSWERED_ELSEWHERE = 26,
    S_CAUSE_CONGESTION = 34, S_CAUSE_SWITCH_CONGESTION = 42, S_CAUSE_NOT_IMPLEMENTED = 66,
};

leg_t *call_dial_leg(call_t *self, uint32_t number)
{
    for (size_t i = 0; i < self->nlegs; i++)
        if (self->legs[i].number == number)
            return self->legs[i].state == LEG_RINGING || self->legs[i].state == LEG_UP
                   ? &self->legs[i] : NULL;
    return NULL;
}

/* "SIP/user", "SIP/user/exten" or "SIP/exten@user" into a new leg. */
static int s_add_target(call_t *self, char *target)
{
    char *slash = strchr(target, '/');
    if (!slash || (size_t)(slash - target) != 3 || strncasecmp(target, "SIP", 3) != 0) {
        td_log(LOG_WARNING, "Unable to create channel of type '%.*s' (cause 66 - Channel not "
               "implemented)", slash ? (int)(slash - target) : (int)strlen(target), target);
        return -1;
    }
    char *user = slash + 1, *exten = "";
    char *sep = strchr(user, '/');
    if (sep) {
        *sep = '\0';
        exten = sep + 1;
    } else if ((sep = strchr(user, '@'))) {
        *sep = '\0';
        exten = user;
        user = sep + 1;
    }
    if (!*user || strlen(user) >= sizeof self->legs[0].user
        || strlen(exten) >= sizeof self->legs[0].exten) {
        td_log(LOG_WARNING, "Unable to create channel SIP/%s (cause 20 - Subscriber absent)", user);
        return -1;
    }
    leg_t *leg = &self->legs[self->nlegs++];
    memset(leg, 0, sizeof *leg);
    leg->state = LEG_NEW;
    snprintf(leg->user, sizeof leg->user, "%s", user);
    snprintf(leg->exten, sizeof leg->exten, "%s", exten);
    return 0;
}

/* DIALSTATUS and the caller's hangup cause from how the legs ended:
 * a leg that was not answered makes it NOANSWER (as Asterisk, which only
 * counts busy/congestion/unavailable legs toward those), else BUSY, then
 * CONGESTION, then CHANUNAVAIL. */
static void s_fail(call_t *self, uint32_t nochan_cause)
{
    uint32_t busy = 0, congestion = 0, noanswer = 0, nochan = nochan_cause;
    int nbusy = 0, ncong = 0, nnoans = 0, nnochan = nochan_cause ? 1 : 0;
    for (size_t i = 0; i < self->nlegs; i++) {
        uint32_t c = self->legs[i].cause;
        if (self->legs[i].not_called) {     /* app_dial: "Couldn't call", CHANUNAVAIL */
            nochan = c ? c : S_CAUSE_SUBSCRIBER_ABSENT, nnochan++;
            continue;
        }
        switch (c) {
        case S_CAUSE_BUSY:
            busy = c, nbusy++;
            break;
        case S_CAUSE_CONGESTION:
        case S_CAUSE_SWITCH_CONGESTION:
            congestion = c, ncong++;
            break;
        case S_CAUSE_NO_ANSWER:
        case S_CAUSE_NO_USER_RESPONSE:
            noanswer = c, nnoans++;
            break;
        default:
            nochan = c ? c : S_CAUSE_SUBSCRIBER_ABSENT, nnochan++;
            break;
        }
    }
    const char *status;
    uint32_t cause;
    if (nnoans) {
        status = "NOANSWER", cause = noanswer;
        td_log(LOG_INFO, "No one is available to answer at this time (%d:%d/%d/%d)",
               nbusy + ncong + nnoans + nnochan, nbusy, ncong, nnochan);
    } else {
        if (nbusy)
            status = "BUSY", cause = busy;
        else if (ncong)
            status = "CONGESTION", cause = congestion;
        else
            status = "CHANUNAVAIL", cause = nochan ? nochan : S_CAUSE_SUBSCRIBER_ABSENT;
        td_log(LOG_INFO, "Everyone is busy/congested at this time (%d:%d/%d/%d)",
               nbusy + ncong + nnochan, nbusy, ncong, nnochan);
    }
    call_set_dialstatus(self, status);
    self->hangup_cause = cause;
    call_next(self);
}

static int s_any_ringing(const call_t *self)
{
    for (size_t i = 0; i < self->nlegs; i++)
        if (self->legs[i].state == LEG_RINGING)
            return 1;
    return 0;
}

static void s_hangup_leg(call_t *self, leg_t *leg, uint32_t cause)
{
    const char *peer = call_leg_peer(self, leg->number);
    if (peer) {
        Tandem__Hangup m = TANDEM__HANGUP__INIT;
        m.cause = cause;
        td_bus_send_hangup(self->env->bus, peer, self->id, leg->number, &m);
    }
    leg->state = LEG_GONE;
    leg->cause = cause;
}

static void s_send_progress(call_t *self, uint32_t code, const char *sdp);

/* Dial's options: g (go on in the dialplan when the callee hangs up), r
 * (ring the caller at once), t/T (transfer keys: accepted; no feature codes
 * here). Others are warned about and ignored, as the issue asks (Asterisk
 * would apply them). An option's "(args)" is skipped. */
static void s_options(call_t *self, const char *opts)
{
    self->dial_go_on = self->dial_ring = 0;
    for (const char *o = opts; *o; o++) {
        switch (*o) {
        case 'g':
            self->dial_go_on = 1;
            break;
        case 'r':
            self->dial_ring = 1;
            break;
        case 't': case 'T': case ' ':
            break;
        default:
            td_log(LOG_WARNING, "Dial option '%c' is not supported; ignored", *o);
            break;
        }
        if (o[1] == '(') {
            const char *close = strchr(o + 1, ')');
            o = close ? close : o + strlen(o) - 1;
        }
    }
}

/* Dial(SIP/a[/num][&SIP/b...][,timeout[,options]]) */
void call_dial_start(call_t *self, char *args)
{
    char *argv[3];
    int argc = vars_split_args(args, ',', argv, 3);
    if (argc < 1 || !*argv[0]) {
        td_log(LOG_WARNING, "Dial requires an argument (dialstring)");
        call_end(self, self->hangup_cause ? self->hangup_cause : S_CAUSE_NORMAL, S_CAUSE_NORMAL);
        return;
    }
    self->timeout_ms = 0;
    if (argc >= 2 && *argv[1]) {
        double s = strtod(argv[1], NULL);
        if (s > 0)
            self->timeout_ms = s > 86400.0 ? 86400000u : (unsigned)(s * 1000 + 0.5);
    }
    s_options(self, argc >= 3 ? argv[2] : "");
    gettimeofday(&self->call_dial_start, NULL);
    self->dial_answer = self->dial_end = (struct timeval) { 0, 0 };
    /* A fresh set of legs: those of an earlier Dial are all gone by now. */
    if (!self->legs) {
        self->legs = calloc(CALL_MAX_TARGETS, sizeof *self->legs);
        if (!self->legs) {
            call_end(self, 41, S_CAUSE_NORMAL);
            return;
        }
        self->legcap = CALL_MAX_TARGETS;
    }
    self->nlegs = 0;
    self->winner = NULL;
    self->sent_ringing = self->sent_progress = self->early_media = 0;
    self->early_pending = 0;
    call_set_dialstatus(self, "");
    char *save = NULL;
    for (char *t = strtok_r(argv[0], "&", &save); t; t = strtok_r(NULL, "&", &save)) {
        while (*t == ' ')
            t++;
        if (self->nlegs == self->legcap) {
            td_log(LOG_WARNING, "Dial: more than %d targets; the rest are ignored",
                   CALL_MAX_TARGETS);
            break;
        }
        s_add_target(self, t);     /* a bad target is logged and skipped, as Asterisk does */
    }
    if (!self->nlegs) {
        s_fail(self, S_CAUSE_NOT_IMPLEMENTED);
        return;
    }
    if (self->sdp_callee) {
        call_dial_originate(self);
        return;
    }
    if (call_media_offer(self, DIALPLAN_APP_DIAL) < 0) {
        self->nlegs = 0;
        call_set_dialstatus(self, "CHANUNAVAIL");
        self->hangup_cause = S_CAUSE_CONGESTION;
        call_next(self);
    }
}

/* The signaling node to place a leg for sip.conf section user: the node
 * the callee registered through, if it is alive; else (a static host, no
 * registration, the node dead) the caller's, as before several nodes. */
static const char *s_node_for(call_t *self, const char *user)
{
    const char *node = self->env->locations
                     ? location_node(self->env->locations, user, time(NULL)) : NULL;
    if (node && strcmp(node, self->sig_peer) != 0) {
        if (td_bus_peer_alive(self->env->bus, node))
            return node;
        td_log(LOG_NOTICE, "%s is registered through %s, which is down: calling it through %s",
               user, node, self->sig_peer);
    }
    return self->sig_peer;
}

void call_dial_originate(call_t *self)
{
    for (size_t i = 0; i < self->nlegs; i++) {
        leg_t *leg = &self->legs[i];
        leg->number = ++self->next_leg;
        snprintf(leg->channel, sizeof leg->channel, "SIP/%s-%08x", leg->user,
                 ++self->env->channel_seq);
        Tandem__Originate m = TANDEM__ORIGINATE__INIT;
        m.channel = leg->channel;
        m.user = leg->user;
        m.number = leg->exten;
        m.caller_num = (char *)self->caller_num;
        m.caller_name = (char *)self->caller_name;
        m.sdp = (char *)self->sdp_callee;
        m.timeout_ms = self->timeout_ms;
        snprintf(self->dstchannel, sizeof self->dstchannel, "%s", leg->channel);
        snprintf(leg->node, sizeof leg->node, "%s", s_node_for(self, leg->user));
        if (self->sig_lost || td_bus_send_originate(self->env->bus, leg->node, self->id,
                                                    leg->number, &m) < 0) {
            leg->state = LEG_GONE;
            leg->cause = S_CAUSE_SUBSCRIBER_ABSENT;
            continue;
        }
        leg->state = LEG_RINGING;
        td_log(LOG_INFO, "Called SIP/%s%s%s", leg->user, *leg->exten ? "/" : "", leg->exten);
    }
    if (!s_any_ringing(self)) {
        s_fail(self, 0);
        return;
    }
    self->state = CALL_DIALING;
    call_journal(self);          /* the dstchannel, should the router die now */
    if (self->dial_ring && !self->sent_ringing) {
        self->sent_ringing = 1;
        s_send_progress(self, 180, "");
    }
    if (self->timeout_ms)
        call_arm_timer(self, self->timeout_ms);
}

static void s_send_progress(call_t *self, uint32_t code, const char *sdp)
{
    if (self->answered || self->sig_lost)
        return;        /* an answered caller needs no ringback */
    Tandem__Progress m = TANDEM__PROGRESS__INIT;
    m.code = code;
    m.sdp = (char *)sdp;
    td_bus_send_progress(self->env->bus, self->sig_peer, self->id, 0, &m);
    call_sdp_sent(self, 0, sdp);
}

/* The first ringing (180-182) and the first other provisional (183) of any
 * leg reach the caller; later ones of the same kind do not. Returns whether
 * this one is the first of its kind. */
static int s_first_of_kind(call_t *self, uint32_t code)
{
    int *sent = code >= 180 && code < 183 ? &self->sent_ringing : &self->sent_progress;
    int first = !*sent;
    *sent = 1;
    return first;
}

void call_dial_on_progress(call_t *self, leg_t *leg, const Tandem__Progress *msg)
{
    if (self->state != CALL_DIALING || leg->state != LEG_RINGING)
        return;
    uint32_t code = msg->code ? msg->code : 180;
    td_log(LOG_INFO, "%s is %s", leg->channel,
           code >= 180 && code < 183 ? "ringing" : "making progress");
    if (msg->sdp && *msg->sdp && !self->early_media) {
        /* Early media (once per Dial): the worker rewrites the callee's SDP
         * for the caller first; the Progress goes out on MediaAnswered. */
        s_first_of_kind(self, code);
        self->early_media = 1;
        self->early_code = code;
        self->early_pending++;
        Tandem__MediaAnswer m = TANDEM__MEDIA_ANSWER__INIT;
        m.sdp = msg->sdp;
        m.comedia = msg->comedia;
        td_bus_send_media_answer(self->env->bus, worker_ref_identity(self->worker), self->id,
                                 leg->number, &m);
        return;
    }
    if (s_first_of_kind(self, code))
        s_send_progress(self, code, "");
}

void call_dial_on_answer(call_t *self, leg_t *leg, const Tandem__Answer *msg)
{
    if (leg->state == LEG_UP)
        return;        /* the winner again: nothing new */
    if (self->state != CALL_DIALING) {
        /* Answered after another leg won (or after the call moved on). */
        s_hangup_leg(self, leg, S_CAUSE_ANSWERED_ELSEWHERE);
        return;
    }
    event_del(self->timer);
    leg->state = LEG_UP;
    self->winner = leg;
    for (size_t i = 0; i < self->nlegs; i++)
        if (self->legs[i].state == LEG_RINGING)
            s_hangup_leg(self, &self->legs[i], S_CAUSE_ANSWERED_ELSEWHERE);
    td_log(LOG_INFO, "%s answered %s", leg->channel, self->channel);
    snprintf(self->dstchannel, sizeof self->dstchannel, "%s", leg->channel);
    self->state = CALL_CONNECTING;
    call_sdp_sent(self, 1, self->sdp_callee);
    call_sdp_heard(self, 1, msg->sdp);
    self->rtp_timeout[1] = msg->rtp_timeout;
    self->rtp_hold_timeout[1] = msg->rtp_hold_timeout;
    self->comedia_b = msg->comedia;
    Tandem__MediaAnswer m = TANDEM__MEDIA_ANSWER__INIT;
    m.sdp = msg->sdp;
    m.comedia = msg->comedia;
    td_bus_send_media_answer(self->env->bus, worker_ref_identity(self->worker), self->id,
                             leg->number, &m);
}

void call_dial_on_media_answered(call_t *self, const Tandem__MediaAnswered *msg)
{
    /* The caller's answer is the worker's from MediaOffered, whatever codec
     * the callee chose (the worker transcodes); a worker that still rewrites
     * the callee's answer sends it here. */
    const char *sdp = msg->sdp_caller && *msg->sdp_caller ? msg->sdp_caller
                    : self->sdp_caller ? self->sdp_caller : "";
    if (self->early_pending > 0) {
        /* The worker answers in order: this one is for the early media. */
        self->early_pending--;
        if (self->state == CALL_DIALING)
            s_send_progress(self, self->early_code, sdp);
        return;
    }
    if (self->state != CALL_CONNECTING) {
        td_log(LOG_DEBUG, "MediaAnswered in state %s: ignored", call_state_name(self->state));
        return;
    }
    if (!self->answered)
        call_answer_caller(self, sdp);
    gettimeofday(&self->dial_answer, NULL);
    call_set_dialstatus(self, "ANSWER");
    self->state = CALL_BRIDGED;
    td_log(LOG_INFO, "Channel %s joined bridge with %s", self->winner->channel, self->channel);
    call_save(self);
    call_rtp_timeouts(self, 1);
    move_on_bridged(self);
}

void call_dial_on_leg_hangup(call_t *self, leg_t *leg, uint32_t cause)
{
    if (leg->state == LEG_UP) {
        /* The answered callee hung up: Dial ends and so does the call,
         * unless option g says to go on. */
        leg->state = LEG_GONE;
        leg->cause = cause;
        gettimeofday(&self->dial_end, NULL);
        td_log(LOG_INFO, "%s hung up (cause %u)", leg->channel, cause);
        if (self->dial_go_on && self->state == CALL_BRIDGED) {
            self->hangup_cause = cause;
            call_save(self);    /* no callee any more */
            call_next(self);
            return;
        }
        call_end(self, S_CAUSE_NORMAL, S_CAUSE_NORMAL);
        return;
    }
    leg->state = LEG_GONE;
    leg->cause = cause;
    td_log(LOG_INFO, "%s is %s (cause %u)", leg->channel,
           cause == S_CAUSE_BUSY ? "busy" : "unavailable", cause);
    if (self->state == CALL_DIALING && !s_any_ringing(self)) {
        event_del(self->timer);
        s_fail(self, 0);
    }
}

void call_dial_on_timeout(call_t *self)
{
    td_log(LOG_INFO, "Nobody picked up in %u ms", self->timeout_ms);
    for (size_t i = 0; i < self->nlegs; i++)
        if (self->legs[i].state == LEG_RINGING)
            s_hangup_leg(self, &self->legs[i], S_CAUSE_NORMAL);
    call_set_dialstatus(self, "NOANSWER");
    self->hangup_cause = S_CAUSE_NO_ANSWER;
    call_next(self);
}
