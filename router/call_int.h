/* call_int - the call's insides, shared by call.c (interpreter, simple
 * applications, end of call) and dial.c (the Dial application). Nothing
 * else includes this. */
#ifndef CALL_INT_H
#define CALL_INT_H

#include <sys/time.h>

#include "arena.h"
#include "call.h"

#define CALL_MAX_EXTEN   80     /* AST_MAX_EXTENSION */
#define CALL_MAX_CONTEXT 80     /* AST_MAX_CONTEXT */
#define CALL_MAX_TARGETS 32     /* Dial targets per Dial */
#define CALL_ARENA_SIZE  1536   /* first arena block, inside the call: ids, caller, SDPs */

/* NEW: parsed from Dial's arguments, not yet originated (no number). */
typedef enum { LEG_NEW, LEG_RINGING, LEG_UP, LEG_GONE } leg_state_t;

/* An outgoing leg (Dial target). Legs of the latest Dial only. */
typedef struct {
    uint32_t number;            /* the envelope's leg number, 1.. per call */
    leg_state_t state;
    uint32_t cause;             /* why it went, if GONE */
    char user[64];              /* sip.conf section */
    char exten[64];             /* Request-URI user, "" = user */
    char channel[96];           /* "SIP/1002-0000002a" */
} leg_t;

struct call {
    call_env_t *env;
    call_state_t state;
    struct event *timer;        /* Wait, Dial timeout, and yielding a long run */
    arena_t arena;
    /* who, from ChannelNew (arena) */
    const char *id, *sig_peer, *channel, *caller_num, *caller_name, *sdp_offer;
    /* media session (arena): answer for the caller, offer for outgoing legs */
    worker_t *worker;
    const char *sdp_caller, *sdp_callee;
    dialplan_app_t after_media; /* what WAIT_MEDIA resumes */
    /* where in the dialplan */
    char context[CALL_MAX_CONTEXT];
    char exten[CALL_MAX_EXTEN];
    int priority;
    const dialplan_ext_t *ext;  /* NULL after a Goto to nowhere */
    int jumped;                 /* a Goto set the position: do not step */
    dialplan_app_t app;         /* the application running */
    /* channel state */
    int answered;               /* leg 0 answered */
    int leg0_gone;              /* signaling said leg 0 is gone */
    int worker_lost, sig_lost;  /* peers that must not be sent to any more */
    uint32_t hangup_cause;      /* 0: none yet (Dial leaves one) */
    char dialstatus[16];
    /* Dial */
    leg_t *legs;                /* malloc'd on the first Dial, reused */
    size_t nlegs, legcap;
    uint32_t next_leg;
    leg_t *winner;
    unsigned timeout_ms;
    int sent_ringing, sent_progress, early_media;
    uint32_t early_code;
    int early_pending;          /* MediaAnswers for early media not yet answered */
    /* CDR */
    struct timeval start, answer_time;
    char lastapp[16];
    char lastdata[256];
    char dstchannel[96];
    char _Alignas(16) arena_buf[CALL_ARENA_SIZE];
};

/* call.c, for dial.c */
void call_next(call_t *self);                       /* step to the next priority and run */
void call_end(call_t *self, uint32_t cause, uint32_t legs_cause);
int call_media_offer(call_t *self, dialplan_app_t then); /* 0: waiting; -1: no worker */
void call_answer_caller(call_t *self, const char *sdp);
void call_arm_timer(call_t *self, unsigned ms);
void call_set_dialstatus(call_t *self, const char *status);

/* dial.c */
void dial_start(call_t *self, char *args);
void dial_originate(call_t *self);                  /* the media session is ready */
leg_t *dial_leg(call_t *self, uint32_t number);     /* a live leg, or NULL */
void dial_on_progress(call_t *self, leg_t *leg, const Tandem__Progress *msg);
void dial_on_answer(call_t *self, leg_t *leg, const Tandem__Answer *msg);
void dial_on_leg_hangup(call_t *self, leg_t *leg, uint32_t cause);
void dial_on_media_answered(call_t *self, const Tandem__MediaAnswered *msg);
void dial_on_timeout(call_t *self);

#endif
