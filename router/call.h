/* call - one call's dialplan, run as a resumable state machine.
 *
 * A call starts when signaling reports a new inbound channel (leg 0). It
 * runs priorities until an application has to wait for the bus (media, an
 * outgoing leg, a timer), and the router resumes it by calling the
 * call_on_*() handler for the message that arrived. No thread, no stack per
 * call: the position (context, extension, priority) and the state below say
 * where it is.
 *
 *   RUNNING     executing priorities
 *   WAIT_MEDIA  MediaOffer sent (for Answer, Echo or Dial); waits MediaOffered
 *   DIALING     Dial: Originate sent to each target; waits Progress/Answer/Hangup
 *   CONNECTING  Dial: a leg answered, MediaAnswer sent; waits MediaAnswered
 *   BRIDGED     the caller and the answered leg talk; waits a Hangup
 *   WAITING     Wait(): the timer runs
 *   ECHO        Echo(): the worker reflects the caller; waits a Hangup
 *   PLAYING     Playback, SayDigits, SayNumber, Record's beep: waits MediaPlayed
 *   COLLECTING  Background, WaitExten, Read: waits MediaDtmf, MediaPlayed or
 *               the timer (apps.c)
 *   RECORDING   Record(): waits MediaRecorded
 *   MOH         MusicOnHold(): waits the timer (duration) or a Hangup
 *   DONE        over; the owner (router) is told through env->on_done and
 *               destroys the call later, never from inside a handler.
 *
 * A Hangup of leg 0 ends the call from any state: the other live legs are
 * hung up, the worker's session released and the CDR written. */
#ifndef CALL_H
#define CALL_H

#include <stdint.h>
#include <event2/event.h>

#include "cdr.h"
#include "dialplan.h"
#include "journal.h"
#include "td_bus.h"
#include "workers.h"

typedef struct call call_t;

typedef enum {
    CALL_RUNNING,
    CALL_WAIT_MEDIA,
    CALL_DIALING,
    CALL_CONNECTING,
    CALL_BRIDGED,
    CALL_WAITING,
    CALL_ECHO,
    CALL_PLAYING,
    CALL_COLLECTING,
    CALL_RECORDING,
    CALL_MOH,
    CALL_DONE
} call_state_t;

/* How calls ended, as the CDR's disposition says (cdr.h). */
typedef enum {
    CALL_DISP_ANSWERED, CALL_DISP_NO_ANSWER, CALL_DISP_BUSY, CALL_DISP_FAILED,
    CALL_DISP_CONGESTION, CALL_DISP_COUNT
} call_disp_t;
/* "ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION". */
const char *call_disp_name(call_disp_t disp);

/* What calls count as they end, for metrics (router_metrics.c). */
typedef struct {
    uint64_t ended[CALL_DISP_COUNT];   /* calls ended, by disposition */
    uint64_t cdrs_written, cdr_failures;
} call_counts_t;

/* What every call shares: owned by the router, borrowed by each call. */
typedef struct {
    struct event_base *base;
    td_bus_t *bus;
    dialplan_t *dialplan;       /* the plan new calls start on; each call holds a ref */
    workers_t *workers;
    cdr_t *cdr;                 /* NULL: no CDRs */
    journal_t *journal;         /* live calls' CDR fields, for a restart; NULL: none */
    uint32_t channel_seq;       /* the "-0000002a" counter of outgoing channel names */
    struct chanvars *globals;   /* GLOBAL() writes, above [globals]; NULL: read-only */
    struct astdb *astdb;        /* DB(); NULL: no store */
    struct dbsync *dbsync;      /* cluster mode: GLOBAL() writes shared; NULL: not */
    /* The call is DONE: take it out of the table and destroy it later. */
    void (*on_done)(void *arg, call_t *call);
    void *arg;
    call_counts_t counts;       /* bumped by every call as it ends */
} call_env_t;

/* A call for a ChannelNew (borrowed) from signaling peer sig_peer, starting
 * at ext in msg's context. Copies what it keeps. NULL on ENOMEM. */
call_t *call_new(call_env_t *env, const char *call_id, const char *sig_peer,
                 const Tandem__ChannelNew *msg, const char *context, const char *exten,
                 const dialplan_ext_t *ext);
/* Free the call. Sends nothing: end it first (it is DONE, or see call_shutdown). */
void call_destroy(call_t **self_p);

/* Run priority 1. */
void call_start(call_t *self);

/* Messages for this call. leg: the envelope's leg. peer: who sent it. */
void call_on_progress(call_t *self, uint32_t leg, const Tandem__Progress *msg);
void call_on_answer(call_t *self, uint32_t leg, const Tandem__Answer *msg);
void call_on_hangup(call_t *self, uint32_t leg, const Tandem__Hangup *msg);
void call_on_media_offered(call_t *self, const char *peer, const Tandem__MediaOffered *msg);
void call_on_media_answered(call_t *self, const char *peer, const Tandem__MediaAnswered *msg);
void call_on_media_error(call_t *self, const char *peer, const Tandem__MediaError *msg);
void call_on_media_played(call_t *self, const char *peer, const Tandem__MediaPlayed *msg);
void call_on_media_dtmf(call_t *self, const char *peer, const Tandem__MediaDtmf *msg);
void call_on_media_recorded(call_t *self, const char *peer, const Tandem__MediaRecorded *msg);
/* In-dialog offers (reinvite.c): a leg's re-INVITE goes to the worker, the
 * worker's offer to the other leg, its answer back through the worker to the
 * offerer. One at a time per call: another meanwhile gets 491. */
void call_on_reinvite(call_t *self, uint32_t leg, const Tandem__Reinvite *msg);
void call_on_reinvite_answer(call_t *self, uint32_t leg, const Tandem__ReinviteAnswer *msg);
void call_on_media_reoffered(call_t *self, const char *peer, const Tandem__MediaReoffered *msg);
void call_on_media_reanswered(call_t *self, const char *peer, const Tandem__MediaReanswered *msg);

/* Blind transfer (transfer.c): leg sent REFER. The other party goes to the
 * dialplan at (TRANSFER_CONTEXT or msg->context, msg->exten, 1) as a new call
 * that signaling starts; this call ends without hanging up either leg. The
 * outcome goes back to leg as TransferResult. */
void call_on_transfer(call_t *self, uint32_t leg, const Tandem__Transfer *msg);

/* The call's media worker (media = 1) or signaling peer (0) is dead: end the
 * call with cause 38 without sending anything more to that peer. */
void call_on_peer_lost(call_t *self, int media);
/* The call's media worker died and another is alive: move the call's media
 * there (MediaAdopt, then a re-INVITE of each phone). Without a live worker
 * the call ends as on call_on_peer_lost. */
void call_on_worker_lost(call_t *self);
void call_on_media_adopted(call_t *self, const char *peer, const Tandem__MediaAdopted *msg);
/* The worker heard nothing from a phone past its rtptimeout: the call ends (44). */
void call_on_media_timeout(call_t *self, const char *peer, const Tandem__MediaTimeout *msg);
/* Drain: can the call's media move now without a phone noticing more than
 * the re-INVITE (up, not ringing, no prompt or recording on its way, no
 * other re-INVITE, not refused before)? */
int call_movable(const call_t *self);
/* Drain: move the call from its live worker to another one (as on a death,
 * but the old worker keeps relaying until both phones have moved; a phone
 * that refuses leaves the call where it was). 0, or -1 if no worker has room. */
int call_move(call_t *self);
/* End the call now with cause (the router is stopping). */
void call_shutdown(call_t *self, uint32_t cause);
/* Record the call's CDR fields as they stand in the journal (if any), so a
 * router that dies now still writes its CDR when it starts again. */
void call_journal(call_t *self);

/* Run the timer's callback now, as if it had expired (tests). */
void call_fire_timer(call_t *self);
/* The same for the re-INVITE relay's wait on the media worker (tests): 1 if
 * it was armed. */
int call_fire_reinvite_timer(call_t *self);

const char *call_id(const call_t *self);
const char *call_sig_peer(const call_t *self);
worker_ref_t *call_worker(const call_t *self);
call_state_t call_state(const call_t *self);
/* What `core show channels` shows of a call (borrowed strings, valid while
 * the call lives and nothing runs on it). */
typedef struct {
    const char *channel;        /* the caller's, "SIP/1001-0000002a" */
    const char *callee;         /* the bridged callee's channel, or "" */
    const char *context, *exten;
    int priority;
    const char *app, *data;     /* the application running (its last), "" none */
    const char *caller_num;
    int answered;
    uint32_t seconds;           /* since it arrived */
    const char *worker;         /* media worker identity, or "" */
    /* Dial's outgoing legs not answered yet: their channels, and "Ringing"
     * (a 180/183 came) or "Down" (INVITE sent), as Asterisk's channel states. */
    const char *dialing[8], *dialing_state[8];
    size_t ndialing;
} call_desc_t;
void call_describe(const call_t *self, call_desc_t *out);
/* Whether the call has this channel (the caller's, or a leg's). */
int call_has_channel(const call_t *self, const char *channel);

/* Seconds since the call arrived (ChannelNew). */
uint32_t call_age_s(const call_t *self);
/* Its signaling process stayed silent past the grace: end the call, and
 * tell signaling anyway (it may only be stalled, and would keep the legs). */
void call_on_sig_silent(call_t *self);
/* Whether the caller has been answered and is still there. */
int call_answered(const call_t *self);
const char *call_state_name(call_state_t state);

/* The value of a variable or function as ${name} sees it ("DIALSTATUS",
 * "CALLERID(num)"): a borrowed string or one written into buf; NULL if unset. */
const char *call_var(call_t *self, const char *name, char *buf, size_t len);

#endif
