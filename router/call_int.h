/* call_int - the call's insides, shared by call.c (interpreter, simple
 * applications, end of call) and dial.c (the Dial application). Nothing
 * else includes this. */
#ifndef CALL_INT_H
#define CALL_INT_H

#include <sys/time.h>

#include "arena.h"
#include "call.h"
#include "chanvars.h"
#include "func.h"

#define CALL_MAX_EXTEN   80     /* AST_MAX_EXTENSION */
#define CALL_MAX_CONTEXT 80     /* AST_MAX_CONTEXT */
#define CALL_MAX_TARGETS 32     /* Dial targets per Dial */
#define CALL_MAX_CODECS  4      /* ChannelNew codecs kept (0 and 8 today) */
#define CALL_ARENA_SIZE  1536   /* first arena block, inside the call: ids, caller, SDPs */

/* NEW: parsed from Dial's arguments, not yet originated (no number). */
typedef enum { LEG_NEW, LEG_RINGING, LEG_UP, LEG_GONE } leg_state_t;

/* A Gosub frame: where Return goes. Its LOCAL variables (ARGn) live in
 * chanvars' frame of the same depth. */
typedef struct call_frame_s {
    struct call_frame_s *up;
    char context[CALL_MAX_CONTEXT];
    char exten[CALL_MAX_EXTEN];
    int priority;               /* the priority after the Gosub */
    int argc;                   /* ARG1..ARGargc set for this frame */
} call_frame_t;

/* A Macro frame (app_macro.c): where the macro returns, and the channel
 * variables it replaced (ARGn, MACRO_EXTEN, ...), put back when it ends. */
#define CALL_MACRO_ARGS 80      /* app_macro's MAX_ARGS: ARG1..ARG79 */
typedef struct call_macro_s {
    struct call_macro_s *up;
    char name[CALL_MAX_CONTEXT];    /* "macro-<name>" */
    char context[CALL_MAX_CONTEXT]; /* the caller's position */
    char exten[CALL_MAX_EXTEN];
    int priority;
    int nframes;                /* Gosub frames open at entry */
    int depth;                  /* MACRO_DEPTH before it */
    int argc;                   /* ARG1..ARGargc-1 set */
    char *saved[4];             /* MACRO_EXTEN, _CONTEXT, _PRIORITY, _OFFSET before it */
    char *oldargs[CALL_MACRO_ARGS];
} call_macro_t;

/* What the IVR application running waits for (apps.c). */
typedef enum {
    IVR_NONE, IVR_PLAYBACK, IVR_BACKGROUND, IVR_WAITEXTEN, IVR_READ, IVR_RECORD, IVR_MOH,
    IVR_BUSY, IVR_READEXTEN
} ivr_mode_t;

typedef struct {
    ivr_mode_t mode;
    uint32_t play_id;           /* the MediaPlay or MediaRecord we wait for; 0 none */
    uint32_t next_id;
    int playing;                /* a MediaPlay runs (Background, Read: a key stops it) */
    int early;                  /* 183 with SDP sent: media flows before the answer */
    int set_status;             /* Playback: set PLAYBACKSTATUS (not SayDigits) */
    char digits[CALL_MAX_EXTEN];
    unsigned first_ms, digit_ms; /* timeouts: before the first key, between keys */
    int maxdigits, attempts;
    char var[80];               /* Read's, ReadExten's variable */
    char context[CALL_MAX_CONTEXT]; /* ReadExten's context */
    int pound;                  /* ReadExten's p: '#' ends the input */
    char bg_keys;               /* Background's m: only a one-key extension stops
                                 * the prompt; p: no key does; 0: any key */
    char file[256];             /* Read's prompt ("a&b"), Record's file (no format) */
    int refused;                /* a file name of this playback refused (td_path.h) */
    unsigned silence_ms, max_ms;
} ivr_t;

/* An outgoing leg (Dial target). Legs of the latest Dial only. */
typedef struct {
    uint32_t number;            /* the envelope's leg number, 1.. per call */
    leg_state_t state;
    uint32_t cause;             /* why it went, if GONE */
    unsigned not_called : 1;    /* signaling never called it (call-limit): CHANUNAVAIL */
    char user[64];              /* sip.conf section */
    char exten[64];             /* Request-URI user, "" = user */
    char channel[96];           /* "SIP/1002-0000002a" */
    char node[64];              /* the signaling node it was sent to (Originate): the one
                                 * holding the callee's registration, else the caller's */
    unsigned node_lost : 1;     /* that node is dead: send it nothing more */
} leg_t;

struct call {
    call_env_t *env;
    dialplan_t *dialplan;       /* the plan this call runs on (a held ref) */
    call_state_t state;
    struct event *timer;        /* Wait, Dial timeout, and yielding a long run */
    arena_t arena;
    /* who, from ChannelNew (arena) */
    const char *id, *sig_peer, *channel, *caller_num, *caller_name, *sdp_offer;
    uint32_t codecs[CALL_MAX_CODECS];   /* payload types the caller may use, preferred first */
    size_t ncodecs;
    int comedia;                        /* ChannelNew's: the worker latches leg 0's RTP */
    /* media session (arena): answer for the caller, offer for outgoing legs */
    worker_ref_t *worker;
    const char *sdp_caller, *sdp_callee;
    dialplan_app_t after_media; /* what WAIT_MEDIA resumes */
    /* where in the dialplan */
    char context[CALL_MAX_CONTEXT];
    char exten[CALL_MAX_EXTEN];
    int priority;
    const dialplan_ext_t *ext;  /* NULL after a Goto to nowhere */
    int jumped;                 /* a Goto set the position: do not step */
    dialplan_app_t app;         /* the application running */
    int fall_wait;              /* autofallthrough=no: waiting for digits off the end */
    int trying, try_failed;     /* TryExec runs an application: its failure is not the end */
    int in_h;                   /* running the h extension after the end */
    int cdr_done;               /* CDR written: the journal has its end */
    int saved;                  /* call:<id> is in the cluster store (call_save) */
    int h_stop;                 /* an application that cannot run in h: stop */
    chanvars_t *chanvars;       /* the channel's variables */
    /* apps.c: Gosub, IVR */
    call_frame_t *frames;
    int nframes;
    call_macro_t *macros;       /* innermost first */
    ivr_t ivr;
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
    int dial_go_on, dial_ring;  /* options g and r */
    uint32_t early_code;
    int early_pending;          /* MediaAnswers for early media not yet answered */
    /* re-INVITE relay (reinvite.c): one offer at a time per call */
    int reinvite;               /* an offer is on its way */
    uint32_t reinvite_from;     /* the leg that offered */
    uint32_t reinvite_to;       /* the leg we re-INVITE with the worker's offer; its
                                 * ReinviteAnswer is awaited when reinvite_sent */
    int reinvite_sent;
    char *ri_offer;             /* the offer of that re-INVITE (the offerer's, then the
                                 * worker's to reinvite_to), malloc'd */
    /* What a new worker needs if this one dies (move.c): per side (0: the
     * caller, 1: the bridged callee) the last SDP the phone was sent and the
     * last it sent us, malloc'd; NULL when none. */
    char *sdp_sent[2], *sdp_heard[2];
    /* sip.conf rtptimeout / rtpholdtimeout per side (ChannelNew, the winner's
     * Answer), given to the worker once the side is up */
    uint32_t rtp_timeout[2], rtp_hold_timeout[2];
    int comedia_b;              /* the winner's Answer said comedia (for a move) */
    int moving;                 /* a move is under way: MediaAdopted, then the phones'
                                 * answers to the re-INVITEs are awaited */
    unsigned move_wait;         /* bits (1 << side): re-INVITE answers awaited */
    int move_tries[2];          /* re-INVITEs sent per side (491: again, up to 5) */
    unsigned move_retry;        /* bits (1 << side): answered 491, sent again on move_timer */
    worker_ref_t *move_from;        /* a drain: the live worker the call leaves, released
                                 * once both phones moved (NULL after a death) */
    unsigned move_done;         /* bits (1 << side): phones that accepted the move */
    int move_refused;           /* a drain move was refused: the call stays */
    int move_after_answer;      /* the callee was ringing at the move: re-INVITE the
                                 * winner once it answers */
    struct event *move_timer;   /* a 491 answered a move: try again */
    struct timeval move_start;
    struct event *reinvite_timer;   /* the worker's answer to a step is overdue; made at
                                     * the first re-INVITE, freed with the call */
    /* CDR */
    struct timeval start, answer_time;
    /* Dial's times for ${ANSWEREDTIME}/${DIALEDTIME} (dial.c sets them;
     * tv_sec 0 = not yet): Dial started, a leg answered, the bridge ended */
    struct timeval call_dial_start, dial_answer, dial_end;
    /* the last exception (raise: the "e" extension), for EXCEPTION() */
    char exc_reason[32];        /* "" none yet */
    char exc_context[CALL_MAX_CONTEXT];
    char exc_exten[CALL_MAX_EXTEN];
    int exc_priority;
    char lastapp[16];
    char lastdata[256];
    char dstchannel[96];
    /* i6-func: CDR(accountcode)/CDR(userfield) for the record, and
     * TIMEOUT(digit|response) (func.h: ivr_timeout_ms[FUNC_TIMEOUT_*], the bits
     * set in ivr_timeout_set; unset ones are the defaults) */
    char accountcode[80];
    char userfield[256];
    unsigned ivr_timeout_ms[2], ivr_timeout_set;
    /* CALLERID(ani) and CALLERID(dnid): the caller's number and the dialled
     * extension as the call arrived (arena) */
    const char *ani, *dnid;
    char _Alignas(16) arena_buf[CALL_ARENA_SIZE];
};

/* call.c, for dial.c */
/* The signaling node to send leg's messages to (leg 0: the caller's; an
 * outgoing leg: the node its Originate went to), or NULL when that node is
 * lost (send nothing). */
const char *call_leg_peer(const call_t *self, uint32_t leg);
void call_next(call_t *self);                       /* step to the next priority and run */
void call_end(call_t *self, uint32_t cause, uint32_t legs_cause);
int call_media_offer(call_t *self, dialplan_app_t then); /* 0: waiting; -1: no worker */
void call_answer_caller(call_t *self, const char *sdp);
/* Side 0 (caller) or 1 (callee) is up: its RTP timeouts go to the worker. */
void call_rtp_timeouts(call_t *self, int side);
void call_arm_timer(call_t *self, unsigned ms);
void call_set_dialstatus(call_t *self, const char *status);
/* Variables (call.c, next to call_var): the function module's view of this
 * call, and Set(name=value) with Asterisk's rules (FUNC(args) writes the
 * function, "_X"/"__X" are inherited, "" deletes). 0, or -1 (logged). */
void call_func_env(call_t *self, func_env_t *env);
int call_set_var(call_t *self, const char *name, const char *value);
/* Goto([[context,]exten,]priority|label): 0, or -1 (logged) when the label
 * is unknown. A missing extension is not an error: the interpreter sends the
 * call to "i" then. */
int call_goto(call_t *self, char *args);
/* Run the current priority again (an application waited for media first). */
void call_rerun(call_t *self);
/* Does exten exist in context for this caller (has priority 1, as
 * ast_exists_extension)? The extension holding priority 1, or NULL. */
const dialplan_ext_t *call_find(call_t *self, const char *context, const char *exten);
/* The priority to run where the call is (pbx_find_extension: the first
 * matching extension that has it), or NULL. */
const dialplan_prio_t *call_current(call_t *self);
/* raise_exception: remember reason and where the call is (EXCEPTION()),
 * and go to "e" at priority. */
int call_raise(call_t *self, const char *reason, int priority);
/* Leave the dialplan for extension exten in the current context, priority 1. */
void call_jump(call_t *self, const char *context, const char *exten, int priority);

/* Run one application now (ExecIf). */
void call_exec(call_t *self, dialplan_app_t app, char *args);
/* An application failed (Asterisk: it returned -1): the call ends, unless
 * TryExec runs it (then TRYSTATUS is FAILED and the call goes on). */
void call_fail(call_t *self);

/* move.c: the call's media moves to another worker */
/* Remember the last SDP sent to / heard from a side (0 caller, 1 callee). */
void call_sdp_sent(call_t *self, int side, const char *sdp);
void call_sdp_heard(call_t *self, int side, const char *sdp);
/* The side (0, 1) of a leg, or -1 if the leg is neither the caller nor the winner. */
int call_leg_side(const call_t *self, uint32_t leg);
/* A ReinviteAnswer for a move's re-INVITE: handled (1) or not one (0). */
int move_on_reinvite_answer(call_t *self, uint32_t leg, const Tandem__ReinviteAnswer *msg);
/* The winner answered and is bridged: a callee that rang during a move is
 * re-INVITEd to the new worker now. */
void move_on_bridged(call_t *self);
/* A MediaError from the worker a drain moves the call to: the call stays
 * where it is, to be tried again (1); anything else is not the move's (0). */
int move_on_media_error(call_t *self, const Tandem__MediaError *msg);
void move_free(call_t *self);

/* apps.c */
void call_app_exec(call_t *self, dialplan_app_t app, char *args);
int call_app_instant(dialplan_app_t app);               /* runs without waiting (allowed in h) */
void call_app_on_timer(call_t *self);                   /* Busy/Congestion's wait */
/* Busy(args)/Congestion(args): cause 17 or 34. */
void call_app_refuse(call_t *self, char *args, uint32_t cause);
void call_app_free(call_t *self);
/* Macro (apps.c): the interpreter found no priority where the call is; if a
 * macro runs, it returns to its caller (1), else 0. */
int call_app_macro_fell(call_t *self);
/* After each application: MACRO_DEPTH is the innermost macro's again, and
 * a Goto out of the innermost macro's context (with no Gosub of the macro
 * open) leaves the macro, the call staying where the Goto sent it. */
void call_app_macro_check(call_t *self);
/* The call ends: every macro ends, as each returns -1 (variables back, and
 * the position back when still in the macro's context: h runs there). */
void call_app_macro_unwind(call_t *self);

/* ivr.c */
void call_ivr_exec(call_t *self, dialplan_app_t app, char *args);
/* 1: media reaches the caller; 0: a session is being made and the
 * application runs again (call_rerun); -1: the call ended. */
int call_ivr_media(call_t *self, int answer);
void call_ivr_progress(call_t *self, uint32_t code, const char *sdp);   /* to the caller */
void call_ivr_on_played(call_t *self, const Tandem__MediaPlayed *msg);
void call_ivr_on_dtmf(call_t *self, const Tandem__MediaDtmf *msg);
void call_ivr_on_recorded(call_t *self, const Tandem__MediaRecorded *msg);
void call_ivr_on_timer(call_t *self);

/* dial.c */
void call_dial_start(call_t *self, char *args);
void call_dial_originate(call_t *self);                  /* the media session is ready */
leg_t *call_dial_leg(call_t *self, uint32_t number);     /* a live leg, or NULL */
void call_dial_on_progress(call_t *self, leg_t *leg, const Tandem__Progress *msg);
void call_dial_on_answer(call_t *self, leg_t *leg, const Tandem__Answer *msg);
void call_dial_on_leg_hangup(call_t *self, leg_t *leg, uint32_t cause);
void call_dial_on_media_answered(call_t *self, const Tandem__MediaAnswered *msg);
void call_dial_on_timeout(call_t *self);

#endif
