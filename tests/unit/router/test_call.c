/* call + router: the call state machine driven through the bus fake, message
 * by message, as proto/FLOW.md draws it. Every test checks the exact
 * sequence of frames the router sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>

#include "router.h"
#include "td_bus_fake.h"
#include "td_log.h"
#include "test_util.h"

#define BODY(CASE) TANDEM__ENVELOPE__BODY_##CASE

static const char *s_conf =
    "[general]\nstatic=yes\n"
    "[globals]\nRINGTIME=30\n"
    "[internal]\n"
    "exten => _1XXX,1,NoOp(Call from ${CALLERID(num)} to ${EXTEN})\n"
    " same => n,Dial(SIP/${EXTEN},${RINGTIME})\n"
    " same => n,Wait(5)\n"
    " same => n,Hangup()\n"
    "exten => 2000,1,Dial(SIP/1002&SIP/1003/5551234&IAX2/elsewhere,20)\n"
    " same => n,Hangup()\n"
    "exten => 3000,1,Dial(SIP/1002)\n"
    " same => n,Hangup()\n"
    "exten => 600,1,Answer()\n"
    " same => n,Echo()\n"
    "exten => 3001,1,Set(__TRANSFER_CONTEXT=flow)\n"   /* inherited by the callee */
    " same => n,Dial(SIP/1002)\n"
    "exten => 3002,1,Set(TRANSFER_CONTEXT=flow)\n"     /* the caller's own */
    " same => n,Dial(SIP/1002)\n"
    "exten => 700,1,Wait(1.5)\n"
    " same => n,Goto(internal,710,lbl)\n"
    "exten => 710,1,NoOp()\n"
    " same => n(lbl),Hangup(21)\n"
    "exten => 800,1,NoOp(loop)\n"
    " same => n,Goto(1)\n"
    "exten => 900,1,Answer()\n"
    " same => n,Dial(SIP/1002,10)\n"
    " same => n,Hangup()\n"
    "exten => 950,1,NoOp()\n"
    " same => n,Goto(nowhere,1)\n"
    "exten => 41,1,NoOp()\n"
    " same => n,Queue(support)\n"             /* unknown: the call ends here */
    " same => n,Hangup(22)\n"
    "exten => 42,1,NoOp()\n"
    "exten => _4X,2,Hangup(22)\n"              /* 42 has no 2: the pattern's runs */
    "exten => 43,2,Hangup(22)\n"               /* no priority 1: no such extension */
    "exten => 44,1,Goto(+2)\n"
    " same => n,Hangup(21)\n"
    " same => n,Goto(-1)\n"
    "exten => 56,1,Set(DIALSTATUS=BUSY)\n"     /* autofallthrough: Busy */
    "exten => 57,1,Set(DIALSTATUS=CHANUNAVAIL)\n"
    "[flow]\n"
    "exten => s,1,Goto(nowhere,1)\n"
    "exten => e,1,Set(R=${EXCEPTION(REASON)}/${EXCEPTION(EXTEN)}/${EXCEPTION(PRIORITY)})\n"
    " same => n,Wait(1)\n"
    "exten => w,1,MSet(I=0,K=0)\n"
    " same => n,While($[${I} < 3])\n"
    " same => n,Set(J=0)\n"
    " same => n,While($[${J} < 2])\n"
    " same => n,Set(J=$[${J} + 1])\n"
    " same => n,Set(K=$[${K} + 1])\n"
    " same => n,EndWhile()\n"
    " same => n,Set(I=$[${I} + 1])\n"
    " same => n,ExecIf($[${I} = 2]?ExitWhile())\n"
    " same => n,EndWhile()\n"
    " same => n,Set(W=${I}/${K}/${WHILE_0})\n"
    " same => n,Wait(1)\n"
    "exten => g,1,Gosub(sub,1(a,b))\n"
    " same => n,Set(G=${ARGC}${ARG1}x)\n"
    " same => n,GosubIf($[1 = 0]?sub,1(c):sub,1(d,e,f))\n"
    " same => n,Gosub(pop,1)\n"
    " same => n,Wait(1)\n"
    "exten => sub,1,Set(N=${N}${ARGC}${ARG1})\n"
    " same => n,Return()\n"
    "exten => pop,1,StackPop()\n"
    " same => n,Set(P=${ARGC}popped)\n"
    " same => n,Goto(g,5)\n"
    "exten => t,1,TryExec(Bogus(1))\n"
    " same => n,Set(T1=${TRYSTATUS})\n"
    " same => n,TryExec(Set(Y=1))\n"
    " same => n,Set(T2=${TRYSTATUS})\n"
    " same => n,TryExec(Goto(nolabel))\n"
    " same => n,Exec(Set(Z=${T1}${TRYSTATUS}))\n"
    " same => n,RaiseException(MINE)\n"
    /* a plan that recurses through EVAL and Exec, and a Gosub to nowhere
     * under TryExec: each is refused and the call goes on */
    "exten => r,1,Set(D=$)\n"
    " same => n,Set(X=${D}{EVAL(${D}{X})})\n"
    " same => n,Set(E=[${EVAL(${X})}])\n"
    " same => n,Set(Y=Exec(${D}{Y}))\n"
    " same => n,TryExec(${Y})\n"
    " same => n,Set(R1=${TRYSTATUS})\n"
    " same => n,TryExec(Gosub(nowhere,s,1))\n"
    " same => n,Set(R2=${TRYSTATUS})\n"
    " same => n,Wait(1)\n";

typedef struct {
    struct event_base *base;
    router_t *router;
    td_bus_t *bus;
    char dir[64];
    char cdr[160];
    size_t seen;               /* sends checked so far */
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    test_tmpdir(f->dir, sizeof f->dir);
    char path[128], err[256], cdrdir[128];
    test_write(f->dir, "extensions.conf", s_conf, path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    snprintf(cdrdir, sizeof cdrdir, "%s/cdr", f->dir);
    snprintf(f->cdr, sizeof f->cdr, "%s/Master.csv", cdrdir);
    f->router = router_new(f->base, "inproc://test", "router", &dp, cdrdir);
    assert_non_null(f->router);
    assert_null(dp);
    f->bus = router_bus(f->router);
    td_bus_fake_reset();
    td_bus_fake_peer_up(f->bus, "media-1", "media", 100);
    td_bus_fake_peer_up(f->bus, "sig-1", "signaling", 1000);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    router_destroy(&f->router);
    assert_null(f->router);
    assert_int_equal(event_base_get_num_events(f->base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(f->base);
    td_bus_fake_reset();
    test_rmdir(f->dir);
    free(f);
    return 0;
}

/* --- delivering ------------------------------------------------------------ */

static void s_deliver(fixture_t *f, const char *peer, Tandem__Envelope *env, const char *call,
                      uint32_t leg)
{
    env->call_id = (char *)call;
    env->leg = leg;
    td_bus_fake_deliver(f->bus, peer, env);
}

static void s_channel_new_in(fixture_t *f, const char *call, const char *context,
                             const char *exten)
{
    Tandem__ChannelNew m = TANDEM__CHANNEL_NEW__INIT;
    m.channel = "SIP/1001-00000001";
    m.caller_num = "1001";
    m.caller_name = "Alice";
    m.exten = (char *)exten;
    m.context = (char *)context;
    m.sdp = "SDP-A";
    m.sip_legs_id = "abc@127.0.0.1";
    m.peer = "1001";
    m.source = "127.0.0.1:5062";
    uint32_t codecs[] = { 8, 0 };              /* allow=alaw,ulaw */
    m.codecs = codecs;
    m.n_codecs = 2;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(CHANNEL_NEW);
    env.channel_new = &m;
    s_deliver(f, "sig-1", &env, call, 0);
}

static void s_channel_new(fixture_t *f, const char *call, const char *exten)
{
    s_channel_new_in(f, call, "internal", exten);
}

static void s_progress(fixture_t *f, const char *call, uint32_t leg, uint32_t code, const char *sdp)
{
    Tandem__Progress m = TANDEM__PROGRESS__INIT;
    m.code = code;
    m.sdp = (char *)sdp;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(PROGRESS);
    env.progress = &m;
    s_deliver(f, "sig-1", &env, call, leg);
}

static void s_answer(fixture_t *f, const char *call, uint32_t leg, const char *sdp)
{
    Tandem__Answer m = TANDEM__ANSWER__INIT;
    m.sdp = (char *)sdp;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(ANSWER);
    env.answer = &m;
    s_deliver(f, "sig-1", &env, call, leg);
}

static void s_hangup(fixture_t *f, const char *call, uint32_t leg, uint32_t cause,
                     uint32_t sip_code)
{
    Tandem__Hangup m = TANDEM__HANGUP__INIT;
    m.cause = cause;
    m.sip_code = sip_code;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(HANGUP);
    env.hangup = &m;
    s_deliver(f, "sig-1", &env, call, leg);
}

static void s_media_offered(fixture_t *f, const char *peer, const char *call)
{
    Tandem__MediaOffered m = TANDEM__MEDIA_OFFERED__INIT;
    m.sdp_caller = "SDP-CALLER";
    m.sdp_callee = "SDP-CALLEE";
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_OFFERED);
    env.media_offered = &m;
    s_deliver(f, peer, &env, call, 0);
}

static void s_media_answered(fixture_t *f, const char *call, uint32_t leg, const char *sdp)
{
    Tandem__MediaAnswered m = TANDEM__MEDIA_ANSWERED__INIT;
    m.sdp_caller = (char *)sdp;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_ANSWERED);
    env.media_answered = &m;
    s_deliver(f, "media-1", &env, call, leg);
}

static void s_media_error(fixture_t *f, const char *call, uint32_t cause)
{
    Tandem__MediaError m = TANDEM__MEDIA_ERROR__INIT;
    m.cause = cause;
    m.reason = "no ports";
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_ERROR);
    env.media_error = &m;
    s_deliver(f, "media-1", &env, call, 0);
}

static void s_fire(fixture_t *f, const char *call)
{
    call_t *c = router_call(f->router, call);
    assert_non_null(c);
    call_fire_timer(c);
}

static const char *s_var(fixture_t *f, const char *call, const char *name)
{
    static char buf[256];
    call_t *c = router_call(f->router, call);
    assert_non_null(c);
    const char *v = call_var(c, name, buf, sizeof buf);
    return v ? v : "";
}

static call_state_t s_state(fixture_t *f, const char *call)
{
    call_t *c = router_call(f->router, call);
    assert_non_null(c);
    return call_state(c);
}

/* --- checking what was sent ----------------------------------------------------- */

/* The next send must be body_case to peer for call/leg; returns it. */
static const Tandem__Envelope *s_sent_at(fixture_t *f, const char *peer, int body_case,
                                         const char *call, uint32_t leg, int line)
{
    const td_bus_fake_sent_t *s = td_bus_fake_get(f->seen);
    if (!s)
        fail_msg("line %d: expected %s, nothing more was sent", line, td_bus_msg_name(body_case));
    if ((int)s->env->body_case != body_case || strcmp(s->peer, peer) != 0
        || strcmp(s->env->call_id, call) != 0 || s->env->leg != leg)
        fail_msg("line %d: send #%zu: expected %s to %s (%s leg %u), got %s to %s (%s leg %u)",
                 line, f->seen, td_bus_msg_name(body_case), peer, call, leg,
                 td_bus_msg_name(s->env->body_case), s->peer, s->env->call_id, s->env->leg);
    f->seen++;
    return s->env;
}
#define s_sent(f, peer, CASE, call, leg) s_sent_at(f, peer, BODY(CASE), call, leg, __LINE__)

static void s_nothing_more_at(fixture_t *f, int line)
{
    if (td_bus_fake_count() != f->seen) {
        const td_bus_fake_sent_t *s = td_bus_fake_get(f->seen);
        fail_msg("line %d: unexpected send #%zu: %s to %s (leg %u)", line, f->seen,
                 td_bus_msg_name(s->env->body_case), s->peer, s->env->leg);
    }
}
#define s_nothing_more(f) s_nothing_more_at(f, __LINE__)

static void s_hangup_sent_at(fixture_t *f, const char *call, uint32_t leg, uint32_t cause, int line)
{
    const Tandem__Envelope *e = s_sent_at(f, "sig-1", BODY(HANGUP), call, leg, line);
    if (e->hangup->cause != cause)
        fail_msg("line %d: Hangup leg %u with cause %u, expected %u", line, leg, e->hangup->cause,
                 cause);
}
#define s_hangup_sent(f, call, leg, cause) s_hangup_sent_at(f, call, leg, cause, __LINE__)

/* The last CDR line. */
static const char *s_cdr_last(fixture_t *f)
{
    static char buf[8192];
    test_read(f->cdr, buf, sizeof buf);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    char *nl = strrchr(buf, '\n');
    return nl ? nl + 1 : buf;
}

static int s_cdr_lines(fixture_t *f)
{
    FILE *fp = fopen(f->cdr, "r");
    int n = 0, c;
    while (fp && (c = getc(fp)) != EOF)
        n += c == '\n';
    if (fp)
        fclose(fp);
    return n;
}

/* Up to Originate of leg 1 for a call to 1002 (Dial(SIP/1002,30)). */
static void s_dial_1002(fixture_t *f, const char *call)
{
    s_channel_new(f, call, "1002");
    const Tandem__Envelope *e = s_sent(f, "media-1", MEDIA_OFFER, call, 0);
    assert_string_equal(e->media_offer->sdp, "SDP-A");
    assert_int_equal(e->media_offer->n_codecs, 2);   /* the caller's allow= order */
    assert_int_equal(e->media_offer->codecs[0], 8);
    assert_int_equal(e->media_offer->codecs[1], 0);
    s_nothing_more(f);
    assert_int_equal(s_state(f, call), CALL_WAIT_MEDIA);
    s_media_offered(f, "media-1", call);
    e = s_sent(f, "sig-1", ORIGINATE, call, 1);
    assert_string_equal(e->originate->user, "1002");
    assert_string_equal(e->originate->number, "");
    assert_string_equal(e->originate->caller_num, "1001");
    assert_string_equal(e->originate->caller_name, "Alice");
    assert_string_equal(e->originate->sdp, "SDP-CALLEE");
    assert_int_equal(e->originate->timeout_ms, 30000);
    assert_int_equal(strncmp(e->originate->channel, "SIP/1002-", 9), 0);
    assert_int_equal(strlen(e->originate->channel), 17);
    s_nothing_more(f);
    assert_int_equal(s_state(f, call), CALL_DIALING);
}


/* --- re-INVITE relay ------------------------------------------------------------ */

static void s_bus_msg(fixture_t *f, const char *peer, const char *call, uint32_t leg,
                      int body_case, void *msg)
{
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = body_case;
    switch (body_case) {
    case BODY(REINVITE): env.reinvite = msg; break;
    case BODY(REINVITE_ANSWER): env.reinvite_answer = msg; break;
    case BODY(MEDIA_REOFFERED): env.media_reoffered = msg; break;
    case BODY(MEDIA_REANSWERED): env.media_reanswered = msg; break;
    default: fail_msg("no such message");
    }
    s_deliver(f, peer, &env, call, leg);
}

static void s_reinvite_in(fixture_t *f, const char *call, uint32_t leg, const char *sdp)
{
    Tandem__Reinvite m = TANDEM__REINVITE__INIT;
    m.sdp = (char *)sdp;
    s_bus_msg(f, "sig-1", call, leg, BODY(REINVITE), &m);
}

static void s_bridge_1002(fixture_t *f, const char *call)
{
    s_dial_1002(f, call);
    s_answer(f, call, 1, "SDP-B");
    s_sent(f, "media-1", MEDIA_ANSWER, call, 1);
    s_media_answered(f, call, 1, "");
    s_sent(f, "sig-1", ANSWER, call, 0);
    s_nothing_more(f);
}

/* The caller holds: its offer goes to the worker, the worker's offer to the
 * callee, the callee's answer back through the worker to the caller. */
static void test_reinvite_relay(void **state)
{
    fixture_t *f = *state;
    s_bridge_1002(f, "c1");
    s_reinvite_in(f, "c1", 0, "HOLD-A");
    const Tandem__Envelope *e = s_sent(f, "media-1", MEDIA_REOFFER, "c1", 0);
    assert_string_equal(e->media_reoffer->sdp, "HOLD-A");
    assert_false(e->media_reoffer->alone);
    assert_int_equal(e->media_reoffer->n_codecs, 2);        /* ChannelNew's */
    s_nothing_more(f);

    Tandem__MediaReoffered ro = TANDEM__MEDIA_REOFFERED__INIT;
    ro.status = 200;
    ro.sdp = "OFFER-B";
    s_bus_msg(f, "media-1", "c1", 0, BODY(MEDIA_REOFFERED), &ro);
    e = s_sent(f, "sig-1", REINVITE, "c1", 1);
    assert_string_equal(e->reinvite->sdp, "OFFER-B");
    s_nothing_more(f);

    /* the callee re-INVITEs meanwhile: glare inside the call, 491 */
    s_reinvite_in(f, "c1", 1, "OTHER");
    e = s_sent(f, "sig-1", REINVITE_ANSWER, "c1", 1);
    assert_int_equal(e->reinvite_answer->status, 491);
    s_nothing_more(f);

    Tandem__ReinviteAnswer ra = TANDEM__REINVITE_ANSWER__INIT;
    ra.status = 200;
    ra.sdp = "ANSWER-B";
    s_bus_msg(f, "sig-1", "c1", 1, BODY(REINVITE_ANSWER), &ra);
    e = s_sent(f, "media-1", MEDIA_REANSWER, "c1", 1);
    assert_int_equal(e->media_reanswer->status, 200);
    assert_string_equal(e->media_reanswer->sdp, "ANSWER-B");
    s_nothing_more(f);

    Tandem__MediaReanswered rd = TANDEM__MEDIA_REANSWERED__INIT;
    rd.status = 200;
    rd.sdp = "ANSWER-A";
    s_bus_msg(f, "media-1", "c1", 1, BODY(MEDIA_REANSWERED), &rd);
    e = s_sent(f, "sig-1", REINVITE_ANSWER, "c1", 0);
    assert_int_equal(e->reinvite_answer->status, 200);
    assert_string_equal(e->reinvite_answer->sdp, "ANSWER-A");
    s_nothing_more(f);

    /* done: the next offer (from the callee) goes through */
    s_reinvite_in(f, "c1", 1, "MOVE-B");
    e = s_sent(f, "media-1", MEDIA_REOFFER, "c1", 1);
    assert_string_equal(e->media_reoffer->sdp, "MOVE-B");
    s_nothing_more(f);
}

/* A worker that never answers the offer: after the wait the offerer gets
 * 500 and the next offer is relayed again (not 491 for ever); the worker's
 * late answer is ignored. The same for a silent MediaReanswer. */
static void test_reinvite_worker_silent(void **state)
{
    fixture_t *f = *state;
    s_bridge_1002(f, "c1");
    s_reinvite_in(f, "c1", 0, "HOLD-A");
    s_sent(f, "media-1", MEDIA_REOFFER, "c1", 0);
    s_nothing_more(f);
    call_t *c = router_call(f->router, "c1");
    assert_non_null(c);
    assert_int_equal(call_fire_reinvite_timer(c), 1);      /* it was waiting */
    const Tandem__Envelope *e = s_sent(f, "sig-1", REINVITE_ANSWER, "c1", 0);
    assert_int_equal(e->reinvite_answer->status, 500);
    s_nothing_more(f);
    Tandem__MediaReoffered late = TANDEM__MEDIA_REOFFERED__INIT;
    late.status = 200;
    late.sdp = "LATE";
    s_bus_msg(f, "media-1", "c1", 0, BODY(MEDIA_REOFFERED), &late);
    s_nothing_more(f);

    /* the next one is relayed; this time the worker's MediaReanswered is missing */
    s_reinvite_in(f, "c1", 1, "MOVE-B");
    s_sent(f, "media-1", MEDIA_REOFFER, "c1", 1);
    Tandem__MediaReoffered ro = TANDEM__MEDIA_REOFFERED__INIT;
    ro.status = 200;
    ro.sdp = "OFFER-A";
    s_bus_msg(f, "media-1", "c1", 1, BODY(MEDIA_REOFFERED), &ro);
    s_sent(f, "sig-1", REINVITE, "c1", 0);
    assert_int_equal(call_fire_reinvite_timer(c), 0);      /* waiting on the phone, not the worker */
    s_nothing_more(f);
    Tandem__ReinviteAnswer ra = TANDEM__REINVITE_ANSWER__INIT;
    ra.status = 200;
    ra.sdp = "ANSWER-A";
    s_bus_msg(f, "sig-1", "c1", 0, BODY(REINVITE_ANSWER), &ra);
    s_sent(f, "media-1", MEDIA_REANSWER, "c1", 0);
    assert_int_equal(call_fire_reinvite_timer(c), 1);
    e = s_sent(f, "sig-1", REINVITE_ANSWER, "c1", 1);
    assert_int_equal(e->reinvite_answer->status, 500);
    s_nothing_more(f);
    s_reinvite_in(f, "c1", 0, "AGAIN");
    s_sent(f, "media-1", MEDIA_REOFFER, "c1", 0);
    s_nothing_more(f);
}

/* The other leg refuses (486 here, 408 for a timeout): the offerer gets the
 * same status through the worker, which keeps the session. A worker refusal
 * (488) goes straight back. */
static void test_reinvite_rejected(void **state)
{
    fixture_t *f = *state;
    s_bridge_1002(f, "c1");
    s_reinvite_in(f, "c1", 1, "B-OFFER");
    s_sent(f, "media-1", MEDIA_REOFFER, "c1", 1);
    Tandem__MediaReoffered ro = TANDEM__MEDIA_REOFFERED__INIT;
    ro.status = 200;
    ro.sdp = "OFFER-A";
    s_bus_msg(f, "media-1", "c1", 1, BODY(MEDIA_REOFFERED), &ro);
    s_sent(f, "sig-1", REINVITE, "c1", 0);
    Tandem__ReinviteAnswer ra = TANDEM__REINVITE_ANSWER__INIT;
    ra.status = 486;
    s_bus_msg(f, "sig-1", "c1", 0, BODY(REINVITE_ANSWER), &ra);
    const Tandem__Envelope *e = s_sent(f, "media-1", MEDIA_REANSWER, "c1", 0);
    assert_int_equal(e->media_reanswer->status, 486);
    Tandem__MediaReanswered rd = TANDEM__MEDIA_REANSWERED__INIT;
    rd.status = 486;
    s_bus_msg(f, "media-1", "c1", 0, BODY(MEDIA_REANSWERED), &rd);
    e = s_sent(f, "sig-1", REINVITE_ANSWER, "c1", 1);
    assert_int_equal(e->reinvite_answer->status, 486);
    s_nothing_more(f);

    s_reinvite_in(f, "c1", 0, "BAD");
    s_sent(f, "media-1", MEDIA_REOFFER, "c1", 0);
    ro.status = 488;
    ro.sdp = "";
    s_bus_msg(f, "media-1", "c1", 0, BODY(MEDIA_REOFFERED), &ro);
    e = s_sent(f, "sig-1", REINVITE_ANSWER, "c1", 0);
    assert_int_equal(e->reinvite_answer->status, 488);
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_BRIDGED);
}

/* Echo: one leg, the worker answers it at once (final). */
static void test_reinvite_echo(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "600");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_media_offered(f, "media-1", "c1");
    s_sent(f, "sig-1", ANSWER, "c1", 0);
    s_sent(f, "media-1", MEDIA_ECHO, "c1", 0);
    s_nothing_more(f);
    s_reinvite_in(f, "c1", 0, "HOLD");
    assert_true(s_sent(f, "media-1", MEDIA_REOFFER, "c1", 0)->media_reoffer->alone);
    Tandem__MediaReoffered ro = TANDEM__MEDIA_REOFFERED__INIT;
    ro.status = 200;
    ro.sdp = "ANSWER";
    ro.final = 1;
    s_bus_msg(f, "media-1", "c1", 0, BODY(MEDIA_REOFFERED), &ro);
    const Tandem__Envelope *e = s_sent(f, "sig-1", REINVITE_ANSWER, "c1", 0);
    assert_int_equal(e->reinvite_answer->status, 200);
    assert_string_equal(e->reinvite_answer->sdp, "ANSWER");
    s_nothing_more(f);
}

/* --- blind transfer (transfer.c) -------------------------------------------------- */

static void s_transfer_in(fixture_t *f, const char *call, uint32_t leg, const char *exten,
                          const char *context)
{
    Tandem__Transfer m = TANDEM__TRANSFER__INIT;
    m.exten = (char *)exten;
    m.context = (char *)context;
    m.referred_by = "<sip:x@h>";
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(TRANSFER);
    env.transfer = &m;
    s_deliver(f, "sig-1", &env, call, leg);
}

static const Tandem__TransferResult *s_result_at(fixture_t *f, const char *call, uint32_t leg,
                                                 uint32_t status, int line)
{
    const Tandem__Envelope *e = s_sent_at(f, "sig-1", BODY(TRANSFER_RESULT), call, leg, line);
    if (e->transfer_result->status != status)
        fail_msg("line %d: TransferResult %u, expected %u", line, e->transfer_result->status,
                 status);
    return e->transfer_result;
}
#define s_result(f, call, leg, status) s_result_at(f, call, leg, status, __LINE__)

/* A bridged call whose callee (leg 1) transfers the caller to 1003: 200
 * naming leg 0, the call ends with no Hangup to either leg (signaling keeps
 * them), the worker's session is released and the CDR written. */
static void test_transfer_blind(void **state)
{
    fixture_t *f = *state;
    s_bridge_1002(f, "c1");
    s_transfer_in(f, "c1", 1, "1003", "internal");
    const Tandem__TransferResult *r = s_result(f, "c1", 1, 200);
    assert_int_equal(r->transferee, 0);
    assert_string_equal(r->exten, "1003");
    assert_string_equal(r->context, "internal");
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
    assert_non_null(strstr(s_cdr_last(f), "\"ANSWERED\""));

    /* the caller transfers: the callee (leg 1) is the transferee */
    s_bridge_1002(f, "c2");
    s_transfer_in(f, "c2", 0, "1004", "internal");
    r = s_result(f, "c2", 0, 200);
    assert_int_equal(r->transferee, 1);
    s_sent(f, "media-1", MEDIA_RELEASE, "c2", 0);
    s_nothing_more(f);
}

/* chan_sip: an extension not in the transfer context is "404 Not found" in
 * the NOTIFY; a leg not in a two-party bridge 503; the call goes on. */
static void test_transfer_refused(void **state)
{
    fixture_t *f = *state;
    s_bridge_1002(f, "c1");
    s_transfer_in(f, "c1", 1, "9999", "internal");
    s_result(f, "c1", 1, 404);
    s_transfer_in(f, "c1", 0, "1003", "nosuchcontext");
    s_result(f, "c1", 0, 404);
    s_transfer_in(f, "c1", 7, "1003", "internal");     /* not a leg of the bridge */
    s_result(f, "c1", 7, 503);
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_BRIDGED);

    s_channel_new(f, "c2", "600");                     /* Echo: one leg */
    s_sent(f, "media-1", MEDIA_OFFER, "c2", 0);
    s_media_offered(f, "media-1", "c2");
    s_sent(f, "sig-1", ANSWER, "c2", 0);
    s_sent(f, "media-1", MEDIA_ECHO, "c2", 0);
    s_transfer_in(f, "c2", 0, "1003", "internal");
    s_result(f, "c2", 0, 503);
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c2"), CALL_ECHO);
}

static void s_bridge_exten(fixture_t *f, const char *call, const char *exten)
{
    s_channel_new(f, call, exten);
    s_sent(f, "media-1", MEDIA_OFFER, call, 0);
    s_media_offered(f, "media-1", call);
    s_sent(f, "sig-1", ORIGINATE, call, 1);
    s_answer(f, call, 1, "SDP-B");
    s_sent(f, "media-1", MEDIA_ANSWER, call, 1);
    s_media_answered(f, call, 1, "");
    s_sent(f, "sig-1", ANSWER, call, 0);
    s_nothing_more(f);
}

/* TRANSFER_CONTEXT is the transferor channel's: the caller's own variable
 * counts for the caller; the callee has only what it inherited (__). */
static void test_transfer_context(void **state)
{
    fixture_t *f = *state;
    s_bridge_exten(f, "c1", "3001");                   /* __TRANSFER_CONTEXT=flow */
    s_transfer_in(f, "c1", 1, "1003", "internal");     /* 1003 is not in [flow] */
    s_result(f, "c1", 1, 404);
    s_transfer_in(f, "c1", 1, "w", "internal");
    assert_string_equal(s_result(f, "c1", 1, 200)->context, "flow");
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);

    s_bridge_exten(f, "c2", "3002");                   /* TRANSFER_CONTEXT=flow, not inherited */
    s_transfer_in(f, "c2", 1, "1003", "internal");     /* the callee: its own context */
    assert_string_equal(s_result(f, "c2", 1, 200)->context, "internal");
    s_sent(f, "media-1", MEDIA_RELEASE, "c2", 0);
    s_bridge_exten(f, "c3", "3002");
    s_transfer_in(f, "c3", 0, "w", "internal");        /* the caller: [flow] */
    assert_string_equal(s_result(f, "c3", 0, 200)->context, "flow");
    s_sent(f, "media-1", MEDIA_RELEASE, "c3", 0);
    s_nothing_more(f);
}

/* --- tests --------------------------------------------------------------------- */

static void test_unknown_exten(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "9999");
    s_hangup_sent(f, "c1", 0, 1);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
    assert_int_equal(s_cdr_lines(f), 0);       /* rejected before a channel, as chan_sip */
}

static void test_dial_answered_callee_hangs_up(void **state)
{
    fixture_t *f = *state;
    s_dial_1002(f, "c1");
    assert_int_equal(worker_ref_assigned(workers_find(router_workers(f->router), "media-1")), 1);

    s_progress(f, "c1", 1, 180, "");
    const Tandem__Envelope *e = s_sent(f, "sig-1", PROGRESS, "c1", 0);
    assert_int_equal(e->progress->code, 180);
    s_progress(f, "c1", 1, 180, "");           /* again: relayed once */
    s_nothing_more(f);

    s_answer(f, "c1", 1, "SDP-B");
    e = s_sent(f, "media-1", MEDIA_ANSWER, "c1", 1);
    assert_string_equal(e->media_answer->sdp, "SDP-B");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_CONNECTING);

    s_media_answered(f, "c1", 1, "SDP-B-FOR-A");
    e = s_sent(f, "sig-1", ANSWER, "c1", 0);
    assert_string_equal(e->answer->sdp, "SDP-B-FOR-A");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_BRIDGED);
    assert_string_equal(s_var(f, "c1", "DIALSTATUS"), "ANSWER");

    s_hangup(f, "c1", 1, 16, 0);               /* the callee's BYE */
    s_hangup_sent(f, "c1", 0, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
    assert_int_equal(worker_ref_assigned(workers_find(router_workers(f->router), "media-1")), 0);

    const char *cdr = s_cdr_last(f);
    const char *head = "\"\",\"1001\",\"1002\",\"internal\",\"\"\"Alice\"\" <1001>\","
                       "\"SIP/1001-00000001\",\"SIP/1002-00000001\",\"Dial\",\"SIP/1002,30\",\"";
    if (strncmp(cdr, head, strlen(head)) != 0)
        fail_msg("CDR: %s", cdr);
    assert_non_null(strstr(cdr, ",\"ANSWERED\",\"DOCUMENTATION\""));
    assert_int_equal(s_cdr_lines(f), 1);

    /* The reaper frees the call once the loop runs. */
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    /* A late message for it is answered with a Hangup. */
    s_progress(f, "c1", 1, 180, "");
    s_hangup_sent(f, "c1", 1, 41);
    s_nothing_more(f);
}

static void test_dial_caller_hangs_up_bridged(void **state)
{
    fixture_t *f = *state;
    s_dial_1002(f, "c1");
    s_answer(f, "c1", 1, "SDP-B");
    s_sent(f, "media-1", MEDIA_ANSWER, "c1", 1);
    s_media_answered(f, "c1", 1, "");           /* the worker's answer: MediaOffered's */
    const Tandem__Envelope *e = s_sent(f, "sig-1", ANSWER, "c1", 0);
    assert_string_equal(e->answer->sdp, "SDP-CALLER");
    s_hangup(f, "c1", 0, 16, 0);               /* the caller's BYE */
    s_hangup_sent(f, "c1", 1, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_non_null(strstr(s_cdr_last(f), "\"ANSWERED\""));
}

/* Each row: the cause the only leg fails with, DIALSTATUS, the cause leg 0
 * then gets from Hangup(), and the CDR disposition. */
static void test_dial_failures_table(void **state)
{
    fixture_t *f = *state;
    static const struct { uint32_t leg_cause, sip; const char *status; uint32_t cause;
                          const char *disposition; } rows[] = {
        { 17, 486, "BUSY", 17, "BUSY" },
        { 19, 480, "NOANSWER", 19, "NO ANSWER" },
        { 18, 408, "NOANSWER", 18, "NO ANSWER" },
        { 20, 0, "CHANUNAVAIL", 20, "FAILED" },
        { 34, 503, "CONGESTION", 34, "CONGESTION" },
        { 42, 0, "CONGESTION", 42, "CONGESTION" },
        { 21, 403, "CHANUNAVAIL", 21, "FAILED" },
        { 0, 0, "CHANUNAVAIL", 20, "FAILED" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char call[16];
        snprintf(call, sizeof call, "c%zu", i);
        s_dial_1002(f, call);
        s_hangup(f, call, 1, rows[i].leg_cause, rows[i].sip);
        s_nothing_more(f);                      /* the dialplan goes on: Wait(5) */
        assert_int_equal(s_state(f, call), CALL_WAITING);
        if (strcmp(s_var(f, call, "DIALSTATUS"), rows[i].status) != 0)
            fail_msg("row %zu: DIALSTATUS %s, expected %s", i, s_var(f, call, "DIALSTATUS"),
                     rows[i].status);
        s_fire(f, call);                        /* Wait ends; Hangup() */
        s_hangup_sent(f, call, 0, rows[i].cause);
        s_sent(f, "media-1", MEDIA_RELEASE, call, 0);
        s_nothing_more(f);
        char want[64];
        snprintf(want, sizeof want, ",\"Hangup\",\"\",");
        assert_non_null(strstr(s_cdr_last(f), want));
        snprintf(want, sizeof want, ",\"%s\",\"DOCUMENTATION\"", rows[i].disposition);
        if (!strstr(s_cdr_last(f), want))
            fail_msg("row %zu: CDR %s", i, s_cdr_last(f));
    }
    assert_int_equal(s_cdr_lines(f), (int)(sizeof rows / sizeof rows[0]));
    /* The metrics' counts agree with the CDRs. */
    const call_counts_t *c = router_call_counts(f->router);
    assert_int_equal(c->ended[CALL_DISP_BUSY], 1);
    assert_int_equal(c->ended[CALL_DISP_NO_ANSWER], 2);
    assert_int_equal(c->ended[CALL_DISP_FAILED], 3);
    assert_int_equal(c->ended[CALL_DISP_CONGESTION], 2);
    assert_int_equal(c->ended[CALL_DISP_ANSWERED], 0);
    assert_int_equal(c->cdrs_written, sizeof rows / sizeof rows[0]);
    assert_int_equal(c->cdr_failures, 0);
    assert_string_equal(call_disp_name(CALL_DISP_NO_ANSWER), "NO ANSWER");
}

static void test_dial_timeout(void **state)
{
    fixture_t *f = *state;
    s_dial_1002(f, "c1");
    s_progress(f, "c1", 1, 180, "");
    s_sent(f, "sig-1", PROGRESS, "c1", 0);
    s_fire(f, "c1");                            /* 30 s pass */
    s_hangup_sent(f, "c1", 1, 16);              /* CANCEL the callee */
    s_nothing_more(f);
    assert_string_equal(s_var(f, "c1", "DIALSTATUS"), "NOANSWER");
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);
    s_hangup(f, "c1", 1, 16, 487);              /* signaling confirms: nothing to say */
    s_nothing_more(f);
    s_fire(f, "c1");
    s_hangup_sent(f, "c1", 0, 19);              /* -> 480 */
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_non_null(strstr(s_cdr_last(f), "\"NO ANSWER\""));
}

/* The Dial timeout is a real timer on the loop, and it is gone with the call. */
static void test_dial_timer_armed(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "900");              /* Answer, Dial(SIP/1002,10), Hangup */
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_media_offered(f, "media-1", "c1");
    s_sent(f, "sig-1", ANSWER, "c1", 0);
    s_sent(f, "sig-1", ORIGINATE, "c1", 1);
    s_nothing_more(f);
    assert_int_equal(event_base_get_num_events(f->base, EVENT_BASE_COUNT_ADDED), 1);
    s_hangup(f, "c1", 0, 16, 0);
    s_hangup_sent(f, "c1", 1, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    event_base_loop(f->base, EVLOOP_NONBLOCK);  /* the reaper runs */
    assert_int_equal(event_base_get_num_events(f->base, EVENT_BASE_COUNT_ADDED), 0);
}

static void test_parallel_targets(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "2000");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_media_offered(f, "media-1", "c1");
    const Tandem__Envelope *e = s_sent(f, "sig-1", ORIGINATE, "c1", 1);
    assert_string_equal(e->originate->user, "1002");
    assert_int_equal(e->originate->timeout_ms, 20000);
    e = s_sent(f, "sig-1", ORIGINATE, "c1", 2);
    assert_string_equal(e->originate->user, "1003");
    assert_string_equal(e->originate->number, "5551234");
    s_nothing_more(f);                          /* IAX2/elsewhere: no such channel type */

    s_progress(f, "c1", 2, 183, "");
    e = s_sent(f, "sig-1", PROGRESS, "c1", 0);
    assert_int_equal(e->progress->code, 183);
    s_progress(f, "c1", 1, 180, "");
    e = s_sent(f, "sig-1", PROGRESS, "c1", 0);
    assert_int_equal(e->progress->code, 180);
    s_progress(f, "c1", 2, 180, "");            /* ringing already relayed */
    s_nothing_more(f);

    s_answer(f, "c1", 2, "SDP-1003");           /* first answer wins */
    s_hangup_sent(f, "c1", 1, 26);              /* answered elsewhere */
    e = s_sent(f, "media-1", MEDIA_ANSWER, "c1", 2);
    assert_string_equal(e->media_answer->sdp, "SDP-1003");
    s_nothing_more(f);

    s_answer(f, "c1", 1, "SDP-1002");           /* a race: leg 1 answered anyway */
    s_hangup_sent(f, "c1", 1, 16);
    s_nothing_more(f);

    s_media_answered(f, "c1", 2, "SDP-1003-FOR-A");
    s_sent(f, "sig-1", ANSWER, "c1", 0);
    s_hangup(f, "c1", 1, 16, 0);                /* leg 1's end, late: ignored */
    s_nothing_more(f);

    s_hangup(f, "c1", 0, 16, 0);
    s_hangup_sent(f, "c1", 2, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_non_null(strstr(s_cdr_last(f), ",\"SIP/1003-00000002\",\"Dial\","));
}

static void test_parallel_all_fail(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "2000");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_media_offered(f, "media-1", "c1");
    s_sent(f, "sig-1", ORIGINATE, "c1", 1);
    s_sent(f, "sig-1", ORIGINATE, "c1", 2);
    s_hangup(f, "c1", 2, 20, 0);                /* not registered */
    s_nothing_more(f);
    s_hangup(f, "c1", 1, 17, 486);              /* busy beats unavailable */
    s_hangup_sent(f, "c1", 0, 17);              /* Hangup() takes Dial's cause */
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_non_null(strstr(s_cdr_last(f), "\"BUSY\""));
}

static void test_caller_cancels(void **state)
{
    fixture_t *f = *state;
    s_dial_1002(f, "c1");
    s_progress(f, "c1", 1, 180, "");
    s_sent(f, "sig-1", PROGRESS, "c1", 0);
    s_hangup(f, "c1", 0, 16, 487);              /* CANCEL */
    s_hangup_sent(f, "c1", 1, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
    const char *cdr = s_cdr_last(f);
    assert_non_null(strstr(cdr, ",\"Dial\",\"SIP/1002,30\","));
    assert_non_null(strstr(cdr, ",0,\"NO ANSWER\","));
    /* The callee's end arrives after: for an unknown call, no reply. */
    s_hangup(f, "c1", 1, 16, 487);
    s_nothing_more(f);
}

static void test_caller_cancels_before_media(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "1002");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_hangup(f, "c1", 0, 16, 487);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    s_media_offered(f, "media-1", "c1");        /* late: the worker is told again */
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
}

static void test_worker_down(void **state)
{
    fixture_t *f = *state;
    workers_t *ws = router_workers(f->router);
    s_dial_1002(f, "c1");
    td_bus_fake_peer_down(f->bus, "media-1", "media");
    s_hangup_sent(f, "c1", 1, 38);
    s_hangup_sent(f, "c1", 0, 38);
    s_nothing_more(f);                          /* no MediaRelease to a dead worker */
    assert_int_equal(router_call_count(f->router), 0);
    assert_int_equal(worker_ref_assigned(workers_find(ws, "media-1")), 0);

    /* No live worker: Dial gives CHANUNAVAIL and the dialplan goes on. */
    s_channel_new(f, "c2", "1002");
    s_nothing_more(f);
    assert_string_equal(s_var(f, "c2", "DIALSTATUS"), "CHANUNAVAIL");
    s_fire(f, "c2");
    s_hangup_sent(f, "c2", 0, 34);              /* -> 503 */
    s_nothing_more(f);

    /* It says Hello again (it was only stalled): it is told to forget
     * what it held, and gets calls again. */
    td_bus_fake_peer_up(f->bus, "media-1", "media", 100);
    s_sent(f, "media-1", MEDIA_FORGET, "", 0);
    s_channel_new(f, "c3", "1002");
    s_sent(f, "media-1", MEDIA_OFFER, "c3", 0);
    s_nothing_more(f);
}

/* --- moving calls off a worker (move.c) ------------------------------------------ */

static void s_adopted(fixture_t *f, const char *peer, const char *call, const char *a,
                      const char *b)
{
    Tandem__MediaAdopted m = TANDEM__MEDIA_ADOPTED__INIT;
    m.sdp_a = (char *)a;
    m.sdp_b = (char *)b;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_ADOPTED);
    env.media_adopted = &m;
    s_deliver(f, peer, &env, call, 0);
}

static void s_reinvite_answer_in(fixture_t *f, const char *call, uint32_t leg, uint32_t status,
                                 const char *sdp)
{
    Tandem__ReinviteAnswer ra = TANDEM__REINVITE_ANSWER__INIT;
    ra.status = status;
    ra.sdp = (char *)sdp;
    s_bus_msg(f, "sig-1", call, leg, BODY(REINVITE_ANSWER), &ra);
}

static void s_drain(fixture_t *f, const char *peer)
{
    Tandem__MediaDrain d = TANDEM__MEDIA_DRAIN__INIT;
    d.sessions = 1;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_DRAIN);
    env.media_drain = &d;
    s_deliver(f, peer, &env, "", 0);
}

/* A bridged call whose worker dies moves: the new worker gets what each
 * phone was told and said, both phones are re-INVITEd with its offers, and
 * their answers go to it; the call is not hung up and writes no CDR yet. */
static void test_worker_dies_bridged_call_moves(void **state)
{
    fixture_t *f = *state;
    workers_t *ws = router_workers(f->router);
    td_bus_fake_peer_up(f->bus, "media-2", "media", 100);
    s_bridge_1002(f, "c1");
    td_bus_fake_peer_down(f->bus, "media-1", "media");
    const Tandem__Envelope *e = s_sent(f, "media-2", MEDIA_ADOPT, "c1", 0);
    assert_string_equal(e->media_adopt->local_a, "SDP-CALLER");
    assert_string_equal(e->media_adopt->remote_a, "SDP-A");
    assert_string_equal(e->media_adopt->local_b, "SDP-CALLEE");
    assert_string_equal(e->media_adopt->remote_b, "SDP-B");
    assert_false(e->media_adopt->echo);
    s_nothing_more(f);
    assert_int_equal(worker_ref_assigned(workers_find(ws, "media-1")), 0);
    assert_int_equal(worker_ref_assigned(workers_find(ws, "media-2")), 1);

    /* a phone's own re-INVITE meanwhile: 491, it tries again later */
    s_reinvite_in(f, "c1", 0, "HOLD");
    e = s_sent(f, "sig-1", REINVITE_ANSWER, "c1", 0);
    assert_int_equal(e->reinvite_answer->status, 491);

    s_adopted(f, "media-2", "c1", "MOVED-A", "MOVED-B");
    e = s_sent(f, "sig-1", REINVITE, "c1", 0);
    assert_string_equal(e->reinvite->sdp, "MOVED-A");
    e = s_sent(f, "sig-1", REINVITE, "c1", 1);
    assert_string_equal(e->reinvite->sdp, "MOVED-B");
    s_nothing_more(f);

    s_reinvite_answer_in(f, "c1", 1, 200, "B-AGAIN");
    e = s_sent(f, "media-2", MEDIA_ANSWER, "c1", 1);
    assert_true(e->media_answer->adopt);
    assert_string_equal(e->media_answer->sdp, "B-AGAIN");
    s_reinvite_answer_in(f, "c1", 0, 200, "A-AGAIN");
    e = s_sent(f, "media-2", MEDIA_ANSWER, "c1", 0);
    assert_true(e->media_answer->adopt);
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_BRIDGED);
    assert_int_equal(s_cdr_lines(f), 0);

    /* a second death: the next worker is told the moved SDPs */
    td_bus_fake_peer_up(f->bus, "media-1", "media", 100);
    s_sent(f, "media-1", MEDIA_FORGET, "", 0);        /* it was declared dead */
    td_bus_fake_peer_down(f->bus, "media-2", "media");
    e = s_sent(f, "media-1", MEDIA_ADOPT, "c1", 0);
    assert_string_equal(e->media_adopt->local_a, "MOVED-A");
    assert_string_equal(e->media_adopt->remote_a, "A-AGAIN");
    assert_string_equal(e->media_adopt->local_b, "MOVED-B");
    assert_string_equal(e->media_adopt->remote_b, "B-AGAIN");
    s_nothing_more(f);

    /* the caller hangs up: one call, one CDR line */
    s_hangup(f, "c1", 0, 16, 0);
    s_hangup_sent(f, "c1", 1, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(s_cdr_lines(f), 1);
}

/* A phone that refuses the move (488) ends its call only; a 491 is tried
 * again a second later. */
static void test_worker_dies_phone_refuses(void **state)
{
    fixture_t *f = *state;
    td_bus_fake_peer_up(f->bus, "media-2", "media", 100);
    s_bridge_1002(f, "c1");
    td_bus_fake_peer_down(f->bus, "media-1", "media");
    s_sent(f, "media-2", MEDIA_ADOPT, "c1", 0);
    s_adopted(f, "media-2", "c1", "MOVED-A", "MOVED-B");
    s_sent(f, "sig-1", REINVITE, "c1", 0);
    s_sent(f, "sig-1", REINVITE, "c1", 1);
    s_reinvite_answer_in(f, "c1", 0, 491, "");
    s_nothing_more(f);
    event_base_loop(f->base, EVLOOP_ONCE);     /* the retry, a second later */
    const Tandem__Envelope *e = s_sent(f, "sig-1", REINVITE, "c1", 0);
    assert_string_equal(e->reinvite->sdp, "MOVED-A");
    s_reinvite_answer_in(f, "c1", 1, 488, "");
    s_hangup_sent(f, "c1", 1, 38);
    s_hangup_sent(f, "c1", 0, 38);
    s_sent(f, "media-2", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
}

/* A call waiting for its first MediaOffered asks the new worker; a ringing
 * Dial's new legs get the new worker's offer and the winner is re-INVITEd
 * once it answers. */
static void test_worker_dies_during_setup(void **state)
{
    fixture_t *f = *state;
    td_bus_fake_peer_up(f->bus, "media-2", "media", 100);
    s_channel_new(f, "c1", "1002");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    td_bus_fake_peer_down(f->bus, "media-1", "media");
    const Tandem__Envelope *e = s_sent(f, "media-2", MEDIA_OFFER, "c1", 0);
    assert_string_equal(e->media_offer->sdp, "SDP-A");
    s_nothing_more(f);
    s_media_offered(f, "media-2", "c1");
    s_sent(f, "sig-1", ORIGINATE, "c1", 1);
    s_nothing_more(f);

    /* ringing: media-2 dies, media-1 is back */
    td_bus_fake_peer_up(f->bus, "media-1", "media", 100);
    s_sent(f, "media-1", MEDIA_FORGET, "", 0);
    td_bus_fake_peer_down(f->bus, "media-2", "media");
    e = s_sent(f, "media-1", MEDIA_ADOPT, "c1", 0);
    assert_string_equal(e->media_adopt->local_b, "SDP-CALLEE");
    assert_string_equal(e->media_adopt->remote_b, "");
    s_adopted(f, "media-1", "c1", "MOVED-A", "MOVED-B");
    s_nothing_more(f);                          /* nobody is up to re-INVITE */
    s_answer(f, "c1", 1, "SDP-B");
    e = s_sent(f, "media-1", MEDIA_ANSWER, "c1", 1);
    assert_false(e->media_answer->adopt);
    s_media_answered(f, "c1", 1, "");
    e = s_sent(f, "sig-1", ANSWER, "c1", 0);
    assert_string_equal(e->answer->sdp, "MOVED-A");   /* the caller's answer: media-1's */
    e = s_sent(f, "sig-1", REINVITE, "c1", 1);
    assert_string_equal(e->reinvite->sdp, "MOVED-B");
    s_nothing_more(f);
}

/* Drain: no new calls for the worker; its calls move on the drain tick and
 * it releases each once both phones moved. */
static void test_drain(void **state)
{
    fixture_t *f = *state;
    workers_t *ws = router_workers(f->router);
    s_bridge_1002(f, "c1");
    td_bus_fake_peer_up(f->bus, "media-2", "media", 100);
    s_drain(f, "media-1");
    assert_true(worker_ref_draining(workers_find(ws, "media-1")));
    s_nothing_more(f);
    event_base_loop(f->base, EVLOOP_ONCE);      /* the drain tick */
    const Tandem__Envelope *e = s_sent(f, "media-2", MEDIA_ADOPT, "c1", 0);
    assert_string_equal(e->media_adopt->remote_b, "SDP-B");
    s_adopted(f, "media-2", "c1", "MOVED-A", "MOVED-B");
    s_sent(f, "sig-1", REINVITE, "c1", 0);
    s_sent(f, "sig-1", REINVITE, "c1", 1);
    s_reinvite_answer_in(f, "c1", 0, 200, "A-AGAIN");
    s_sent(f, "media-2", MEDIA_ANSWER, "c1", 0);
    s_nothing_more(f);                          /* media-1 still relays for B */
    s_reinvite_answer_in(f, "c1", 1, 200, "B-AGAIN");
    s_sent(f, "media-2", MEDIA_ANSWER, "c1", 1);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(worker_ref_assigned(workers_find(ws, "media-1")), 0);

    /* a new call goes to media-2 */
    s_channel_new(f, "c2", "1002");
    s_sent(f, "media-2", MEDIA_OFFER, "c2", 0);
    s_nothing_more(f);
}

/* Both phones refuse the drain's re-INVITE: the call stays on the old
 * worker (no call is dropped by a drain) and is not tried again. */
static void test_drain_refused(void **state)
{
    fixture_t *f = *state;
    workers_t *ws = router_workers(f->router);
    s_bridge_1002(f, "c1");
    td_bus_fake_peer_up(f->bus, "media-2", "media", 100);
    s_drain(f, "media-1");
    event_base_loop(f->base, EVLOOP_ONCE);
    s_sent(f, "media-2", MEDIA_ADOPT, "c1", 0);
    s_adopted(f, "media-2", "c1", "MOVED-A", "MOVED-B");
    s_sent(f, "sig-1", REINVITE, "c1", 0);
    s_sent(f, "sig-1", REINVITE, "c1", 1);
    s_reinvite_answer_in(f, "c1", 0, 488, "");
    s_nothing_more(f);
    s_reinvite_answer_in(f, "c1", 1, 488, "");
    s_sent(f, "media-2", MEDIA_RELEASE, "c1", 0);   /* back to media-1 */
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_BRIDGED);
    assert_int_equal(worker_ref_assigned(workers_find(ws, "media-1")), 1);
    assert_int_equal(worker_ref_assigned(workers_find(ws, "media-2")), 0);
    s_hangup(f, "c1", 0, 16, 0);
    s_hangup_sent(f, "c1", 1, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
}

/* The worker a drain picks has no room (MediaError 34): the call stays on
 * the draining worker and the next tick tries again; nothing is hung up. */
static void test_drain_target_full(void **state)
{
    fixture_t *f = *state;
    s_bridge_1002(f, "c1");
    td_bus_fake_peer_up(f->bus, "media-2", "media", 100);
    s_drain(f, "media-1");
    event_base_loop(f->base, EVLOOP_ONCE);
    s_sent(f, "media-2", MEDIA_ADOPT, "c1", 0);
    Tandem__MediaError m = TANDEM__MEDIA_ERROR__INIT;
    m.cause = 34;
    m.reason = "no free RTP port pair";
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_ERROR);
    env.media_error = &m;
    s_deliver(f, "media-2", &env, "c1", 0);
    s_sent(f, "media-2", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_BRIDGED);
    event_base_loop(f->base, EVLOOP_ONCE);
    s_sent(f, "media-2", MEDIA_ADOPT, "c1", 0);
    s_nothing_more(f);
}


/* tandemctl's commands, answered by router_cli. */
static void test_cli(void **state)
{
    fixture_t *f = *state;
    char *text = NULL;
    s_bridge_1002(f, "c1");
    assert_int_equal(router_cli(f->router, "core show channels", &text), 0);
    assert_non_null(strstr(text, "Channel              Location             State   Application(Data)"));
    assert_non_null(strstr(text, "SIP/1001-00000001    1002@internal:2      Up      Dial(SIP/1002,30)"));
    assert_non_null(strstr(text, "(None)               Up      AppDial((Outgoing Line))"));
    assert_non_null(strstr(text, "2 active channels\n1 active call\n1 call processed\n"));
    free(text);
    assert_int_equal(router_cli(f->router, "media show workers", &text), 0);
    assert_non_null(strstr(text, "media-1"));
    free(text);
    assert_int_equal(router_cli(f->router, "core show uptime", &text), 0);
    assert_int_equal(strncmp(text, "System uptime: ", 15), 0);
    free(text);
    assert_int_equal(router_cli(f->router, "show me everything", &text), 1);
    assert_non_null(strstr(text, "No such command"));
    free(text);
    assert_int_equal(router_cli(f->router, "channel request hangup SIP/9999-1", &text), 2);
    free(text);
    s_nothing_more(f);
    assert_int_equal(router_cli(f->router, "channel request hangup SIP/1001-00000001", &text), 0);
    assert_string_equal(text, "Requested Hangup on channel 'SIP/1001-00000001'\n");
    free(text);
    s_hangup_sent(f, "c1", 1, 16);
    s_hangup_sent(f, "c1", 0, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
    assert_int_equal(router_cli(f->router, "media drain media-1", &text), 0);
    free(text);
    s_sent(f, "media-1", MEDIA_DRAIN, "", 0);
    assert_int_equal(router_cli(f->router, "media drain media-9", &text), 2);
    free(text);
}

/* A worker's MediaStats: one session of call with side A at a_remote. */
static void s_media_stats(fixture_t *f, const char *peer, const char *call, uint32_t id, int final,
                          int nsessions)
{
    Tandem__MediaSideStats a = TANDEM__MEDIA_SIDE_STATS__INIT, b = TANDEM__MEDIA_SIDE_STATS__INIT;
    a.remote = "10.0.0.1:4000";
    a.rx_packets = 450;
    a.expected = 500;
    a.lost = 50;
    a.tx_packets = 500;
    a.mos_x100 = 339;
    b.remote = "10.0.0.2:5000";
    b.rx_packets = 500;
    b.expected = 500;
    b.tx_packets = 450;
    b.far_valid = 1;
    b.far_lost = 45;
    b.mos_x100 = 339;
    Tandem__MediaSessionStats ss = TANDEM__MEDIA_SESSION_STATS__INIT;
    ss.call_id = (char *)call;
    ss.a = &a;
    ss.b = &b;
    Tandem__MediaSessionStats *list[1] = { &ss };
    Tandem__MediaStats m = TANDEM__MEDIA_STATS__INIT;
    m.id = id;
    m.final = final;
    m.n_sessions = (size_t)nsessions;
    m.sessions = list;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_STATS);
    env.media_stats = &m;
    s_deliver(f, peer, &env, final ? call : "", 0);
}

/* `sip show channelstats`: the router asks every live worker and answers
 * tandemctl once all have; a session's final stats go to quality.csv. */
static void test_channelstats(void **state)
{
    fixture_t *f = *state;
    s_bridge_1002(f, "c1");
    td_bus_fake_peer_up(f->bus, "media-2", "media", 100);
    Tandem__CliRequest q = TANDEM__CLI_REQUEST__INIT;
    q.id = 5;
    q.command = "sip show channelstats";
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(CLI_REQUEST);
    env.cli_request = &q;
    s_deliver(f, "ctl-1", &env, "", 0);
    /* one request per worker, in no particular order */
    const td_bus_fake_sent_t *s1 = td_bus_fake_get(f->seen), *s2 = td_bus_fake_get(f->seen + 1);
    assert_non_null(s1);
    assert_non_null(s2);
    const Tandem__Envelope *r1 = s1->env, *r2 = s2->env;
    assert_int_equal(r1->body_case, BODY(MEDIA_STATS_REQUEST));
    assert_int_equal(r2->body_case, BODY(MEDIA_STATS_REQUEST));
    uint32_t id = r1->media_stats_request->id;
    assert_int_equal(r2->media_stats_request->id, id);
    f->seen += 2;
    s_nothing_more(f);
    s_media_stats(f, "media-1", "c1", id, 0, 1);
    s_nothing_more(f);                           /* media-2 has not answered */
    s_media_stats(f, "media-1", "c1", id, 0, 1); /* twice: ignored */
    s_nothing_more(f);
    s_media_stats(f, "media-2", "c1", id, 0, 0);
    const Tandem__Envelope *e = s_sent(f, "ctl-1", CLI_REPLY, "", 0);
    assert_int_equal(e->cli_reply->id, 5);
    assert_int_equal(e->cli_reply->status, 0);
    const char *t = e->cli_reply->text;
    assert_int_equal(strncmp(t, "Peer             Call ID      Duration Recv: Pack  Lost       "
                                "(     %) Jitter Send: Pack  Lost       (     %) Jitter\n", 109), 0);
    assert_non_null(strstr(t, "\n10.0.0.1         c1           00:00:00 0000000450  0000000050 "
                              "(10.00%) 0.0000 0000000500  0000000000 ( 0.00%) 0.0000\n"));
    assert_non_null(strstr(t, "\n10.0.0.2         c1           00:00:00 0000000500  0000000000 "
                              "( 0.00%) 0.0000 0000000450  0000000045 (10.00%) 0.0000\n"));
    assert_non_null(strstr(t, "\n2 active SIP channels\n"));
    /* a late answer to a request already answered: nothing */
    s_media_stats(f, "media-2", "c1", id, 0, 1);
    s_nothing_more(f);
    /* no worker alive: answered at once */
    td_bus_fake_peer_down(f->bus, "media-1", "media");
    td_bus_fake_peer_down(f->bus, "media-2", "media");
    f->seen = td_bus_fake_count();
    q.id = 6;
    s_deliver(f, "ctl-1", &env, "", 0);
    e = s_sent(f, "ctl-1", CLI_REPLY, "", 0);
    assert_int_equal(e->cli_reply->id, 6);
    assert_non_null(strstr(e->cli_reply->text, "\n0 active SIP channels\n"));
    /* the session's end: a line in quality.csv next to Master.csv */
    s_media_stats(f, "media-1", "c1", 0, 1, 1);
    s_nothing_more(f);
    char path[200], buf[4096];
    snprintf(path, sizeof path, "%s/cdr/quality.csv", f->dir);
    test_read(path, buf, sizeof buf);
    assert_non_null(strstr(buf, "uniqueid,linkedid,end,worker,a_remote,"));
    assert_non_null(strstr(buf, "\n\"c1\",\"c1\",\""));
    assert_non_null(strstr(buf, "\"media-1\",\"10.0.0.1:4000\",450,500,50,10.00,"));
}

static void test_least_loaded_worker(void **state)

{
    fixture_t *f = *state;
    td_bus_fake_peer_up(f->bus, "media-2", "media", 100);
    s_channel_new(f, "c1", "1002");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_channel_new(f, "c2", "1002");
    s_sent(f, "media-2", MEDIA_OFFER, "c2", 0);
    s_channel_new(f, "c3", "1002");
    s_sent(f, "media-1", MEDIA_OFFER, "c3", 0);
    s_hangup(f, "c1", 0, 16, 487);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_hangup(f, "c3", 0, 16, 487);
    s_sent(f, "media-1", MEDIA_RELEASE, "c3", 0);
    s_channel_new(f, "c4", "1002");             /* media-1 0, media-2 1 */
    s_sent(f, "media-1", MEDIA_OFFER, "c4", 0);
    /* A MediaOffered from a worker that does not serve the call is ignored. */
    s_media_offered(f, "media-1", "c2");
    s_nothing_more(f);
    s_media_offered(f, "media-2", "c2");
    s_sent(f, "sig-1", ORIGINATE, "c2", 1);
    s_nothing_more(f);
}

static void test_early_media(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "3000");             /* Dial(SIP/1002): no timeout */
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_media_offered(f, "media-1", "c1");
    const Tandem__Envelope *e = s_sent(f, "sig-1", ORIGINATE, "c1", 1);
    assert_int_equal(e->originate->timeout_ms, 0);
    s_progress(f, "c1", 1, 183, "EARLY-B");
    e = s_sent(f, "media-1", MEDIA_ANSWER, "c1", 1);
    assert_string_equal(e->media_answer->sdp, "EARLY-B");
    s_nothing_more(f);
    s_media_answered(f, "c1", 1, "EARLY-B-FOR-A");
    e = s_sent(f, "sig-1", PROGRESS, "c1", 0);
    assert_int_equal(e->progress->code, 183);
    assert_string_equal(e->progress->sdp, "EARLY-B-FOR-A");
    s_progress(f, "c1", 1, 183, "EARLY-B");     /* once */
    s_nothing_more(f);
    s_answer(f, "c1", 1, "SDP-B");
    s_sent(f, "media-1", MEDIA_ANSWER, "c1", 1);
    s_media_answered(f, "c1", 1, "SDP-B-FOR-A");
    e = s_sent(f, "sig-1", ANSWER, "c1", 0);
    assert_string_equal(e->answer->sdp, "SDP-B-FOR-A");
    s_nothing_more(f);
    s_hangup(f, "c1", 1, 16, 0);
    s_hangup_sent(f, "c1", 0, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
}

static void test_answer_then_dial(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "900");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_media_offered(f, "media-1", "c1");
    const Tandem__Envelope *e = s_sent(f, "sig-1", ANSWER, "c1", 0);
    assert_string_equal(e->answer->sdp, "SDP-CALLER");
    s_sent(f, "sig-1", ORIGINATE, "c1", 1);     /* the session is reused: no second offer */
    s_nothing_more(f);
    s_progress(f, "c1", 1, 180, "");            /* the caller is answered: no ringback */
    s_answer(f, "c1", 1, "SDP-B");
    s_sent(f, "media-1", MEDIA_ANSWER, "c1", 1);
    s_media_answered(f, "c1", 1, "SDP-B-FOR-A");
    s_nothing_more(f);                          /* already answered */
    assert_int_equal(s_state(f, "c1"), CALL_BRIDGED);
    s_hangup(f, "c1", 1, 16, 0);
    s_hangup_sent(f, "c1", 0, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
}

static void test_echo(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "600");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_nothing_more(f);
    s_media_offered(f, "media-1", "c1");
    const Tandem__Envelope *e = s_sent(f, "sig-1", ANSWER, "c1", 0);
    assert_string_equal(e->answer->sdp, "SDP-CALLER");
    s_sent(f, "media-1", MEDIA_ECHO, "c1", 0);  /* Answer() went on to Echo() */
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_ECHO);
    s_hangup(f, "c1", 0, 16, 0);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_non_null(strstr(s_cdr_last(f), ",\"\",\"Echo\",\"\","));
    assert_non_null(strstr(s_cdr_last(f), "\"ANSWERED\""));
}

static void test_wait_and_goto_label(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "700");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);
    assert_string_equal(s_var(f, "c1", "PRIORITY"), "1");
    s_fire(f, "c1");
    s_hangup_sent(f, "c1", 0, 21);              /* 710(lbl): Hangup(21) */
    s_nothing_more(f);                          /* no media session was made */
    assert_non_null(strstr(s_cdr_last(f), "\"\",\"1001\",\"710\",\"internal\","));
}

static void test_goto_nowhere(void **state)
{
    fixture_t *f = *state;
    /* No "i" or "e": __ast_pbx_run ends the call with no cause set, which
     * chan_sip answers 603 (Tandem's cause 16 maps to 603 too). */
    s_channel_new(f, "c1", "950");
    s_hangup_sent(f, "c1", 0, 16);
    s_nothing_more(f);
}

/* Part 3 of issue 6: unknown applications, lookup per priority, relative
 * Goto, autofallthrough, the e extension, loops, Gosub's ARGC, Exec. */
static void test_flow(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "41");               /* Queue: no such application */
    s_hangup_sent(f, "c1", 0, 16);
    s_channel_new(f, "c2", "42");               /* priority 2 from _4X */
    s_hangup_sent(f, "c2", 0, 22);
    s_channel_new(f, "c3", "43");               /* no priority 1: 404 */
    s_hangup_sent(f, "c3", 0, 1);
    s_channel_new(f, "c4", "44");               /* Goto(+2), Goto(-1) */
    s_hangup_sent(f, "c4", 0, 21);
    s_channel_new(f, "c6", "56");               /* DIALSTATUS=BUSY: 486 */
    s_hangup_sent(f, "c6", 0, 17);
    s_channel_new(f, "c7", "57");               /* CHANUNAVAIL: 503 */
    s_hangup_sent(f, "c7", 0, 34);
    s_nothing_more(f);

    s_channel_new_in(f, "e1", "flow", "s");     /* Goto nowhere: "e" */
    assert_string_equal(s_var(f, "e1", "R"), "INVALID/nowhere/1");
    assert_int_equal(s_state(f, "e1"), CALL_WAITING);
    s_fire(f, "e1");
    s_hangup_sent(f, "e1", 0, 16);

    s_channel_new_in(f, "w1", "flow", "w");
    assert_string_equal(s_var(f, "w1", "W"), "2/4/");
    assert_string_equal(s_var(f, "w1", "flow_w_2"), "0");   /* ExitWhile leaves it */
    s_fire(f, "w1");
    s_hangup_sent(f, "w1", 0, 16);

    s_channel_new_in(f, "g1", "flow", "g");
    assert_string_equal(s_var(f, "g1", "N"), "2a3d");
    assert_string_equal(s_var(f, "g1", "G"), "x");            /* ARGC, ARG1 gone */
    assert_string_equal(s_var(f, "g1", "P"), "popped");       /* StackPop: no frame */
    s_fire(f, "g1");
    s_hangup_sent(f, "g1", 0, 16);

    s_channel_new_in(f, "r1", "flow", "r");     /* bounded recursion */
    assert_string_equal(s_var(f, "r1", "E"), "[]");
    assert_string_equal(s_var(f, "r1", "R1"), "FAILED");
    assert_string_equal(s_var(f, "r1", "R2"), "FAILED");
    assert_int_equal(s_state(f, "r1"), CALL_WAITING);
    s_fire(f, "r1");
    s_hangup_sent(f, "r1", 0, 16);

    s_channel_new_in(f, "t1", "flow", "t");     /* RaiseException: "e" */
    assert_string_equal(s_var(f, "t1", "T1"), "NOAPP");
    assert_string_equal(s_var(f, "t1", "T2"), "SUCCESS");
    assert_string_equal(s_var(f, "t1", "Y"), "1");
    assert_string_equal(s_var(f, "t1", "Z"), "NOAPPFAILED");
    assert_string_equal(s_var(f, "t1", "R"), "MINE/t/7");
    s_fire(f, "t1");
    s_hangup_sent(f, "t1", 0, 16);
    s_nothing_more(f);
}

static void test_goto_loop_yields(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "800");              /* NoOp, Goto(1), forever */
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_RUNNING);
    event_base_loop(f->base, EVLOOP_ONCE);      /* it runs another slice, and yields again */
    assert_int_equal(s_state(f, "c1"), CALL_RUNNING);
    s_hangup(f, "c1", 0, 16, 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
}

static void test_media_error(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "1002");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_media_error(f, "c1", 34);
    s_hangup_sent(f, "c1", 0, 34);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    s_media_error(f, "c1", 34);                 /* for an unknown call: no reply */
    s_nothing_more(f);
}

static void test_unknown_call(void **state)
{
    fixture_t *f = *state;
    s_progress(f, "nope", 1, 180, "");
    s_hangup_sent(f, "nope", 1, 41);
    s_answer(f, "nope", 2, "x");
    s_hangup_sent(f, "nope", 2, 41);
    s_hangup(f, "nope", 1, 16, 0);
    s_nothing_more(f);
    s_media_answered(f, "nope", 1, "x");
    s_sent(f, "media-1", MEDIA_RELEASE, "nope", 1);
    s_nothing_more(f);
}

static void test_duplicate_channel_new(void **state)
{
    fixture_t *f = *state;
    s_channel_new(f, "c1", "1002");
    s_sent(f, "media-1", MEDIA_OFFER, "c1", 0);
    s_channel_new(f, "c1", "1002");
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 1);
}

static void test_signaling_down(void **state)
{
    fixture_t *f = *state;
    s_dial_1002(f, "c1");
    td_bus_fake_peer_down(f->bus, "sig-1", "signaling");
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
}

/* A signaling process that stalls: an answered call waits for it (grace),
 * goes on when it is back, and ends past the grace with Hangups sent to it
 * anyway (it may only be stalled). A call being set up ends at once. */
static void test_signaling_stall(void **state)
{
    fixture_t *f = *state;
    router_set_signaling_grace(f->router, 1);
    s_bridge_1002(f, "c1");
    td_bus_fake_peer_down(f->bus, "sig-1", "signaling");
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 1);
    td_bus_fake_peer_up(f->bus, "sig-1", "signaling", 1000);
    s_nothing_more(f);
    event_base_loop(f->base, EVLOOP_ONCE);      /* the grace tick: nothing to end */
    assert_int_equal(router_call_count(f->router), 1);

    s_channel_new(f, "c2", "1002");             /* a call in set-up */
    s_sent(f, "media-1", MEDIA_OFFER, "c2", 0);
    td_bus_fake_peer_down(f->bus, "sig-1", "signaling");
    s_sent(f, "media-1", MEDIA_RELEASE, "c2", 0);   /* ended at once, nothing to sig-1 */
    s_nothing_more(f);
    for (int i = 0; i < 4 && router_call_count(f->router) > 0; i++)
        event_base_loop(f->base, EVLOOP_ONCE);
    s_hangup_sent(f, "c1", 1, 38);
    s_hangup_sent(f, "c1", 0, 38);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
    assert_int_equal(s_cdr_lines(f), 2);
}

/* [cluster]: a signaling that restarts restores its dialogs from the store,
 * so its answered call goes on (a later Hangup of one leg ends the other,
 * one CDR line); its call in set-up ends at once. Without the cluster
 * (router_set_signaling_restores 0) both end, as test_signaling_restart. */
static void test_signaling_restart_restores(void **state)
{
    fixture_t *f = *state;
    router_set_signaling_restores(f->router, 1);
    s_bridge_1002(f, "c1");
    s_channel_new(f, "c2", "1002");
    s_sent(f, "media-1", MEDIA_OFFER, "c2", 0);
    td_bus_fake_peer_restart(f->bus, "sig-1", "signaling", 1000);
    s_sent(f, "media-1", MEDIA_RELEASE, "c2", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 1);
    /* it tells which dialogs it restored: the known call's need nothing, a
     * leg of a call that is over gets a Hangup (its phone then a BYE) */
    Tandem__DialogRestored m = TANDEM__DIALOG_RESTORED__INIT;
    m.channel = "SIP/1001-00000001";
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(DIALOG_RESTORED);
    env.dialog_restored = &m;
    s_deliver(f, "sig-1", &env, "c1", 0);
    s_deliver(f, "sig-1", &env, "c1", 1);
    s_nothing_more(f);
    s_deliver(f, "sig-1", &env, "gone", 1);
    s_hangup_sent(f, "gone", 1, 41);
    s_nothing_more(f);
    s_hangup(f, "c1", 0, 16, 0);
    s_hangup_sent(f, "c1", 1, 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
    assert_int_equal(s_cdr_lines(f), 2);
}

static void test_signaling_restart(void **state)
{
    fixture_t *f = *state;
    s_bridge_1002(f, "c1");
    td_bus_fake_peer_restart(f->bus, "sig-1", "signaling", 1000);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1", 0);
    s_nothing_more(f);
    assert_int_equal(router_call_count(f->router), 0);
}

static void test_shutdown_ends_calls(void **state)
{
    fixture_t *f = *state;
    s_dial_1002(f, "c1");
    s_channel_new(f, "c2", "700");
    router_destroy(&f->router);
    /* Order among calls is the table's; check by content. */
    int hangups = 0, releases = 0;
    for (size_t i = f->seen; i < td_bus_fake_count(); i++) {
        const Tandem__Envelope *e = td_bus_fake_get(i)->env;
        hangups += e->body_case == BODY(HANGUP);
        releases += e->body_case == BODY(MEDIA_RELEASE);
    }
    assert_int_equal(hangups, 3);               /* c1 legs 1 and 0, c2 leg 0 */
    assert_int_equal(releases, 1);
    assert_int_equal(s_cdr_lines(f), 2);
}

/* Not a benchmark: a smoke check that thousands of calls in flight work and
 * that the table keeps finding them. */
static void test_many_calls(void **state)
{
    fixture_t *f = *state;
    enum { N = 3000 };
    char id[32];
    td_bus_fake_peer_up(f->bus, "media-1", "media", 0);    /* no capacity limit */
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "sig-1-%x", i);
        s_channel_new(f, id, "1002");
        s_media_offered(f, "media-1", id);
    }
    assert_int_equal(router_call_count(f->router), N);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "sig-1-%x", i);
        s_answer(f, id, 1, "B");
        s_media_answered(f, id, 1, "B-A");
        s_hangup(f, id, 1, 16, 0);
    }
    assert_int_equal(router_call_count(f->router), 0);
    assert_int_equal(s_cdr_lines(f), N);
    assert_int_equal(worker_ref_assigned(workers_find(router_workers(f->router), "media-1")), 0);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_CRIT);
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_reinvite_relay),
        T(test_reinvite_rejected),
        T(test_reinvite_worker_silent),
        T(test_reinvite_echo),
        T(test_transfer_blind),
        T(test_transfer_refused),
        T(test_transfer_context),
        T(test_unknown_exten),
        T(test_dial_answered_callee_hangs_up),
        T(test_dial_caller_hangs_up_bridged),
        T(test_dial_failures_table),
        T(test_dial_timeout),
        T(test_dial_timer_armed),
        T(test_parallel_targets),
        T(test_parallel_all_fail),
        T(test_caller_cancels),
        T(test_caller_cancels_before_media),
        T(test_worker_down),
        T(test_worker_dies_bridged_call_moves),
        T(test_worker_dies_phone_refuses),
        T(test_worker_dies_during_setup),
        T(test_drain),
        T(test_drain_refused),
        T(test_drain_target_full),
        T(test_least_loaded_worker),
        T(test_early_media),
        T(test_answer_then_dial),
        T(test_echo),
        T(test_wait_and_goto_label),
        T(test_goto_nowhere),
        T(test_flow),
        T(test_goto_loop_yields),
        T(test_media_error),
        T(test_unknown_call),
        T(test_duplicate_channel_new),
        T(test_signaling_down),
        T(test_signaling_stall),
        T(test_signaling_restart_restores),
        T(test_signaling_restart),
        T(test_cli),
        T(test_channelstats),
        T(test_shutdown_ends_calls),
        T(test_many_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
