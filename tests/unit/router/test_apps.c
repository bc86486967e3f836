/* The dialplan language and the applications, through the router and the
 * bus fake: caller-id extensions, Set/MSet, GotoIf/ExecIf/GotoIfTime,
 * Gosub/Return with ARGn and LOCAL frames, h/i/t, the IVR applications
 * (MediaPlay/MediaStop/MediaRecord sent, MediaPlayed/MediaDtmf/MediaRecorded
 * delivered) and reload. Every test checks the exact frames sent. */
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
    "[internal]\n"
    "exten => 100/1001,1,Hangup(21)\n"
    "exten => 100,1,Hangup(17)\n"
    "exten => _15X/_2XXX,1,Hangup(18)\n"
    "exten => _15X,1,Hangup(19)\n"
    "exten => _15X/1001,1,Hangup(20)\n"
    "exten => 200,1,Set(A=0)\n"
    " same => n,GotoIf(${A}?bad)\n"
    " same => n,Set(A=x,y)\n"
    " same => n,GotoIf(${A}?:bad)\n"
    " same => n,MSet(B=1,C=\"2\")\n"
    " same => n,ExecIf(${B}?Set(D=${C}${A}):Hangup(3))\n"
    " same => n,ExecIf(0?Hangup(4))\n"
    " same => n,GotoIfTime(*,*,*,*?t1)\n"
    " same => n(bad),Hangup(5)\n"
    " same => n(t1),GotoIfTime(*,sun-sat,1-31,jan-dec?t2:bad)\n"
    " same => n(t2),Wait(1)\n"
    " same => n,Hangup(6)\n"
    "exten => 300,1,Set(ARG1=outer)\n"
    " same => n,Gosub(sub,s,1(a,b))\n"
    " same => n,Set(R1=${GOSUB_RETVAL}-${ARG1}-${ARG2})\n"
    " same => n,Gosub(sub2,s,1(z))\n"
    " same => n,Wait(1)\n"
    "exten => 310,1,Return()\n"
    "exten => 320,1,Gosub(nowhere,s,1)\n"
    "exten => 500,1,Playback(hello&world)\n"
    " same => n,Wait(1)\n"
    "exten => 501,1,Playback(x,noanswer)\n"
    " same => n,Wait(1)\n"
    "exten => 502,1,Playback(ok&../../etc/passwd&/etc/shadow)\n"
    " same => n,Record(/etc/cron.d/x.wav)\n"
    " same => n,Wait(1)\n"
    "exten => 600,1,Read(PIN,enter-pin,4,,2,3)\n"
    " same => n,Wait(1)\n"
    "exten => 610,1,Record(/tmp/msg.wav,3,20)\n"
    " same => n,Wait(1)\n"
    "exten => 620,1,SayNumber(1234)\n"
    " same => n,SayDigits(12#)\n"
    " same => n,Wait(1)\n"
    "exten => 630,1,MusicOnHold(default,5)\n"
    " same => n,Wait(1)\n"
    "exten => 640,1,Ringing()\n"
    " same => n,Progress()\n"
    " same => n,Busy()\n"
    "exten => 650,1,Congestion(2)\n"
    "exten => 670,1,WaitExten(3,m(jazz))\n"
    "exten => 660,1,Dial(SIP/1002,,grxT)\n"
    " same => n,Set(AFTER=${DIALSTATUS})\n"
    " same => n,Wait(1)\n"
    "[sub]\n"
    "exten => s,1,Set(IN=${ARG1}${ARG2})\n"
    " same => n,Gosub(sub2,s,1(q))\n"
    " same => n,Return(${ARG1}${GOSUB_RETVAL})\n"
    "[sub2]\n"
    "exten => s,1,Set(IN2=${ARG1}-${ARG2})\n"
    " same => n,Return(r)\n"
    "[hctx]\n"
    "exten => 400,1,Set(X=1)\n"
    " same => n,Wait(10)\n"
    "exten => 410,1,Goto(999,1)\n"
    "exten => h,1,Set(GLOBAL(H)=${HANGUPCAUSE}-${X})\n"
    " same => n,Playback(x)\n"
    " same => n,Set(GLOBAL(NEVER)=1)\n"
    "exten => i,1,Set(GLOBAL(INV)=${INVALID_EXTEN})\n"
    " same => n,Hangup(22)\n"
    "[menu]\n"
    "exten => s,1,Background(press&one)\n"
    " same => n,WaitExten(3)\n"
    "exten => 1,1,Hangup(21)\n"
    "exten => 12,1,Hangup(22)\n"
    "exten => 123,1,Hangup(23)\n"
    "exten => 2,1,Hangup(24)\n"
    "exten => i,1,Hangup(25)\n"
    "exten => t,1,Hangup(26)\n"
    "[alpha]\n"
    "exten => 680,1,SayAlpha(aB1*%)\n"
    " same => n,SayAlphaCase(u,aB)\n"
    " same => n,Wait(1)\n"
    "exten => 690,1,ReadExten(X,prompt,menu,p,4)\n"
    " same => n,Wait(1)\n"
    "exten => 691,1,ReadExten(X,,,s)\n"
    " same => n,ReadExten()\n"
    " same => n,Wait(1)\n"
    "[bgm]\n"
    "exten => s,1,Answer()\n"
    " same => n,Macro(bg)\n"
    " same => n,Hangup(31)\n"
    "exten => 4,1,Set(GLOBAL(BG)=${CONTEXT}-${MACRO_DEPTH}-${BACKGROUNDSTATUS})\n"
    " same => n,Hangup(32)\n"
    "exten => 55,1,Hangup(33)\n"
    "exten => 6,1,Background(x,noanswer)\n"
    "[bgo]\n"
    "exten => s,1,Answer()\n"
    " same => n,Background(menu,m)\n"
    " same => n,Background(menu,p)\n"
    " same => n,Hangup(35)\n"
    "exten => 4,1,Hangup(36)\n"
    "[macro-bg]\n"
    "exten => s,1,Background(menu)\n"
    "exten => 4,1,Hangup(34)\n"
    "[menu2]\n"
    "exten => s,1,Background(press)\n"
    "exten => 5,1,Hangup(21)\n"
    "exten => e,1,Set(GLOBAL(EXC)=${EXCEPTION(REASON)}-${EXCEPTION(EXTEN)})\n"
    " same => n,Hangup(27)\n"
    "[mwait]\n"
    "exten => s,1,Answer()\n"
    " same => n,Macro(keys,a)\n"
    " same => n,Set(AFTER=${ARG1}-${MACRO_DEPTH})\n"
    " same => n,Wait(5)\n"
    "exten => 7,1,Set(GLOBAL(MK)=${ARG1}-${MACRO_CONTEXT}-${CONTEXT})\n"
    " same => n,Hangup(29)\n"
    "exten => 8,1,Macro(keys,b)\n"
    "exten => h,1,Set(GLOBAL(MH)=${CONTEXT}-${ARG1}-${MACRO_EXTEN})\n"
    "[macro-keys]\n"
    "exten => s,1,Set(IN=${ARG1}${MACRO_EXTEN})\n"
    " same => n,WaitExten(3)\n"
    " same => n,Set(AFTERWAIT=1)\n"
    "exten => 7,1,Hangup(30)\n"
    "[reload]\n"
    "exten => 800,1,Wait(1)\n"
    " same => n,Hangup(21)\n";

typedef struct {
    struct event_base *base;
    router_t *router;
    td_bus_t *bus;
    char dir[64];
    char path[128];
    size_t seen;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    test_tmpdir(f->dir, sizeof f->dir);
    char err[256], cdrdir[128];
    test_write(f->dir, "extensions.conf", s_conf, f->path, sizeof f->path);
    dialplan_t *dp = dialplan_load(f->path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    snprintf(cdrdir, sizeof cdrdir, "%s/cdr", f->dir);
    f->router = router_new(f->base, "inproc://test", "router", &dp, cdrdir);
    assert_non_null(f->router);
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
    assert_int_equal(event_base_get_num_events(f->base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(f->base);
    td_bus_fake_reset();
    test_rmdir(f->dir);
    free(f);
    return 0;
}

static void s_deliver(fixture_t *f, const char *peer, Tandem__Envelope *env, const char *call)
{
    env->call_id = (char *)call;
    env->leg = 0;
    td_bus_fake_deliver(f->bus, peer, env);
}

static void s_call(fixture_t *f, const char *call, const char *context, const char *exten,
                   const char *caller)
{
    Tandem__ChannelNew m = TANDEM__CHANNEL_NEW__INIT;
    m.channel = "SIP/1001-00000001";
    m.caller_num = (char *)caller;
    m.caller_name = "Alice";
    m.exten = (char *)exten;
    m.context = (char *)context;
    m.sdp = "SDP-A";
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(CHANNEL_NEW);
    env.channel_new = &m;
    s_deliver(f, "sig-1", &env, call);
}

static void s_hangup(fixture_t *f, const char *call)
{
    Tandem__Hangup m = TANDEM__HANGUP__INIT;
    m.cause = 16;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(HANGUP);
    env.hangup = &m;
    s_deliver(f, "sig-1", &env, call);
}

static void s_offered(fixture_t *f, const char *call)
{
    Tandem__MediaOffered m = TANDEM__MEDIA_OFFERED__INIT;
    m.sdp_caller = "SDP-CALLER";
    m.sdp_callee = "SDP-CALLEE";
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_OFFERED);
    env.media_offered = &m;
    s_deliver(f, "media-1", &env, call);
}

static void s_played(fixture_t *f, const char *call, uint32_t id, const char *missing)
{
    Tandem__MediaPlayed m = TANDEM__MEDIA_PLAYED__INIT;
    m.id = id;
    m.missing = (char *)missing;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_PLAYED);
    env.media_played = &m;
    s_deliver(f, "media-1", &env, call);
}

static void s_dtmf(fixture_t *f, const char *call, const char *digits)
{
    for (const char *d = digits; *d; d++) {
        char one[2] = { *d, '\0' };
        Tandem__MediaDtmf m = TANDEM__MEDIA_DTMF__INIT;
        m.digit = one;
        m.duration_ms = 100;
        Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
        env.body_case = BODY(MEDIA_DTMF);
        env.media_dtmf = &m;
        s_deliver(f, "media-1", &env, call);
    }
}

static void s_recorded(fixture_t *f, const char *call, uint32_t id, const char *by)
{
    Tandem__MediaRecorded m = TANDEM__MEDIA_RECORDED__INIT;
    m.id = id;
    m.duration_ms = 2500;
    m.ended_by = (char *)by;
    m.path = "/tmp/msg.wav";
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(MEDIA_RECORDED);
    env.media_recorded = &m;
    s_deliver(f, "media-1", &env, call);
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
    if (!c)
        fail_msg("no call %s for ${%s}", call, name);
    const char *v = call_var(c, name, buf, sizeof buf);
    return v ? v : "";
}

static call_state_t s_state(fixture_t *f, const char *call)
{
    call_t *c = router_call(f->router, call);
    assert_non_null(c);
    return call_state(c);
}

static const Tandem__Envelope *s_sent_at(fixture_t *f, const char *peer, int body_case,
                                         const char *call, int line)
{
    const td_bus_fake_sent_t *s = td_bus_fake_get(f->seen);
    if (!s)
        fail_msg("line %d: expected %s, nothing more was sent", line, td_bus_msg_name(body_case));
    if ((int)s->env->body_case != body_case || strcmp(s->peer, peer) != 0
        || strcmp(s->env->call_id, call) != 0 || s->env->leg != 0)
        fail_msg("line %d: send #%zu: expected %s to %s (%s), got %s to %s (%s leg %u)", line,
                 f->seen, td_bus_msg_name(body_case), peer, call,
                 td_bus_msg_name(s->env->body_case), s->peer, s->env->call_id, s->env->leg);
    f->seen++;
    return s->env;
}
#define s_sent(f, peer, CASE, call) s_sent_at(f, peer, BODY(CASE), call, __LINE__)

static void s_nothing_more_at(fixture_t *f, int line)
{
    if (td_bus_fake_count() != f->seen) {
        const td_bus_fake_sent_t *s = td_bus_fake_get(f->seen);
        fail_msg("line %d: unexpected send #%zu: %s to %s", line, f->seen,
                 td_bus_msg_name(s->env->body_case), s->peer);
    }
}
#define s_nothing_more(f) s_nothing_more_at(f, __LINE__)

static void s_hangup_sent_at(fixture_t *f, const char *call, uint32_t cause, int line)
{
    const Tandem__Envelope *e = s_sent_at(f, "sig-1", BODY(HANGUP), call, line);
    if (e->hangup->cause != cause)
        fail_msg("line %d: Hangup with cause %u, expected %u", line, e->hangup->cause, cause);
}
#define s_hangup_sent(f, call, cause) s_hangup_sent_at(f, call, cause, __LINE__)

/* MediaOffer, MediaOffered, Answer: the caller is answered. */
static void s_answered(fixture_t *f, const char *call)
{
    s_sent(f, "media-1", MEDIA_OFFER, call);
    s_nothing_more(f);
    s_offered(f, call);
    const Tandem__Envelope *e = s_sent(f, "sig-1", ANSWER, call);
    assert_string_equal(e->answer->sdp, "SDP-CALLER");
}

/* The next send is a MediaPlay of exactly files ("a b c"); returns its id. */
static uint32_t s_play_sent_at(fixture_t *f, const char *call, const char *files, int moh,
                               int line)
{
    const Tandem__Envelope *e = s_sent_at(f, "media-1", BODY(MEDIA_PLAY), call, line);
    char got[512] = "";
    for (size_t i = 0; i < e->media_play->n_files; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "",
                 e->media_play->files[i]);
    if (strcmp(got, files) != 0)
        fail_msg("line %d: MediaPlay of '%s', expected '%s'", line, got, files);
    if (e->media_play->moh != moh || e->media_play->loop != moh)
        fail_msg("line %d: MediaPlay moh %d loop %d", line, e->media_play->moh,
                 e->media_play->loop);
    assert_true(e->media_play->id != 0);
    return e->media_play->id;
}
#define s_play_sent(f, call, files) s_play_sent_at(f, call, files, 0, __LINE__)

/* --- language ------------------------------------------------------------------- */

/* Caller-id extensions: only for that caller, and before the plain one. */
static void test_callerid_match(void **state)
{
    fixture_t *f = *state;
    static const struct { const char *exten, *caller; uint32_t cause; } rows[] = {
        { "100", "1001", 21 }, { "100", "1002", 17 }, { "100", "", 17 },
        { "150", "2001", 18 }, { "155", "1001", 20 }, { "159", "3001", 19 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char call[8];
        snprintf(call, sizeof call, "c%zu", i);
        s_call(f, call, "internal", rows[i].exten, rows[i].caller);
        const Tandem__Envelope *e = s_sent(f, "sig-1", HANGUP, call);
        if (e->hangup->cause != rows[i].cause)
            fail_msg("row %zu: %s from %s: cause %u, expected %u", i, rows[i].exten,
                     rows[i].caller, e->hangup->cause, rows[i].cause);
        s_nothing_more(f);
    }
}

static void test_set_gotoif_execif(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "internal", "200", "1001");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);
    assert_string_equal(s_var(f, "c1", "A"), "x,y");
    assert_string_equal(s_var(f, "c1", "B"), "1");
    assert_string_equal(s_var(f, "c1", "C"), "2");
    assert_string_equal(s_var(f, "c1", "D"), "2x,y");
    s_fire(f, "c1");
    s_hangup_sent(f, "c1", 6);
    s_nothing_more(f);
}

static void test_gosub_return(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "internal", "300", "1001");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);
    assert_string_equal(s_var(f, "c1", "IN"), "ab");
    assert_string_equal(s_var(f, "c1", "R1"), "ar-outer-");
    assert_string_equal(s_var(f, "c1", "IN2"), "z-");
    assert_string_equal(s_var(f, "c1", "ARG1"), "outer");
    assert_string_equal(s_var(f, "c1", "GOSUB_RETVAL"), "r");
    s_hangup(f, "c1");
    s_nothing_more(f);

    s_call(f, "c2", "internal", "310", "1001");     /* Return without Gosub */
    s_hangup_sent(f, "c2", 16);
    s_call(f, "c3", "internal", "320", "1001");     /* Gosub to nowhere */
    s_hangup_sent(f, "c3", 16);
    s_nothing_more(f);
}

/* h runs after the hangup with the call's variables; what needs a channel
 * ends it. i catches a Goto to a missing extension. */
static void test_h_and_i(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "hctx", "400", "1001");
    s_nothing_more(f);
    s_hangup(f, "c1");                              /* the caller's BYE */
    s_nothing_more(f);                              /* h's Playback sent nothing */
    s_call(f, "c2", "hctx", "400", "1001");
    assert_string_equal(s_var(f, "c2", "H"), "16-1");
    assert_string_equal(s_var(f, "c2", "NEVER"), "");
    s_hangup(f, "c2");

    s_call(f, "c3", "hctx", "410", "1001");
    s_hangup_sent(f, "c3", 22);
    s_nothing_more(f);
    s_call(f, "c4", "hctx", "400", "1001");
    assert_string_equal(s_var(f, "c4", "INV"), "999");
    assert_string_equal(s_var(f, "c4", "H"), "22-");  /* h ran for c3 as well */
    s_hangup(f, "c4");
}

/* --- IVR ------------------------------------------------------------------------- */

static void test_playback(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "internal", "500", "1001");
    s_answered(f, "c1");
    uint32_t id = s_play_sent(f, "c1", "hello world");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_PLAYING);
    s_played(f, "c1", id + 7, "");                  /* not ours: ignored */
    assert_int_equal(s_state(f, "c1"), CALL_PLAYING);
    s_played(f, "c1", id, "");
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);
    assert_string_equal(s_var(f, "c1", "PLAYBACKSTATUS"), "SUCCESS");
    s_nothing_more(f);

    /* noanswer: early media (183 with the session's SDP), then the file. */
    s_call(f, "c2", "internal", "501", "1001");
    s_sent(f, "media-1", MEDIA_OFFER, "c2");
    s_offered(f, "c2");
    const Tandem__Envelope *e = s_sent(f, "sig-1", PROGRESS, "c2");
    assert_int_equal(e->progress->code, 183);
    assert_string_equal(e->progress->sdp, "SDP-CALLER");
    id = s_play_sent(f, "c2", "x");
    s_played(f, "c2", id, "x");
    assert_string_equal(s_var(f, "c2", "PLAYBACKSTATUS"), "FAILED");
    s_nothing_more(f);

    /* Names escaping sounds=/recordings= never reach the worker (td_path.h):
     * the rest plays, the status says FAILED; Record outside recordings=
     * is an ERROR at once. */
    router_set_media_dirs("/usr/share/asterisk/sounds/en", "/tmp");
    s_call(f, "c3", "internal", "502", "1001");
    s_answered(f, "c3");
    id = s_play_sent(f, "c3", "ok");
    s_played(f, "c3", id, "");
    assert_string_equal(s_var(f, "c3", "PLAYBACKSTATUS"), "FAILED");
    assert_string_equal(s_var(f, "c3", "RECORD_STATUS"), "ERROR");
    assert_int_equal(s_state(f, "c3"), CALL_WAITING);
    s_nothing_more(f);
}

/* Background then WaitExten in [menu]: each row is the keys pressed during
 * the prompt (after it, for "t") and the cause the extension reached hangs
 * up with. */
static void test_background_waitexten(void **state)
{
    fixture_t *f = *state;
    static const struct { const char *keys; int fire; uint32_t cause; } rows[] = {
        { "", 1, 26 },          /* nothing: WaitExten times out -> t */
        { "2", 0, 24 },         /* no longer match possible: at once */
        { "12", 1, 22 },        /* 12 could become 123: the digit timeout decides */
        { "123", 0, 23 },
        { "9", 0, 25 },         /* nothing matches -> i */
        { "1", 1, 21 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char call[8];
        snprintf(call, sizeof call, "c%zu", i);
        s_call(f, call, "menu", "s", "1001");
        s_answered(f, call);
        uint32_t id = s_play_sent(f, call, "press one");
        s_nothing_more(f);
        if (!*rows[i].keys) {
            s_played(f, call, id, "");               /* the prompt ends: WaitExten */
            s_nothing_more(f);
            assert_int_equal(s_state(f, call), CALL_COLLECTING);
        } else {
            char first[2] = { rows[i].keys[0], '\0' };
            s_dtmf(f, call, first);
            s_sent(f, "media-1", MEDIA_STOP, call);  /* the first key stops the prompt */
            if (rows[i].keys[1] || rows[i].fire) {
                s_played(f, call, id, "");           /* its end, stopped: ignored */
                s_dtmf(f, call, rows[i].keys + 1);
            }
        }
        if (rows[i].fire)
            s_fire(f, call);
        const Tandem__Envelope *e = s_sent(f, "sig-1", HANGUP, call);
        if (e->hangup->cause != rows[i].cause)
            fail_msg("row %zu ('%s'): cause %u, expected %u", i, rows[i].keys,
                     e->hangup->cause, rows[i].cause);
        s_sent(f, "media-1", MEDIA_RELEASE, call);
        s_nothing_more(f);
    }
}

/* SayAlpha/SayAlphaCase: the files say.c names. */
static void test_sayalpha(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "alpha", "680", "1001");
    s_sent(f, "media-1", MEDIA_OFFER, "c1");
    s_offered(f, "c1");
    s_sent(f, "sig-1", PROGRESS, "c1");
    uint32_t id = s_play_sent(f, "c1",
                              "letters/a letters/b digits/1 digits/star letters/ascii37");
    s_played(f, "c1", id, "");
    id = s_play_sent(f, "c1", "letters/a uppercase letters/b");
    s_played(f, "c1", id, "");
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);
    s_hangup(f, "c1");
    s_sent(f, "media-1", MEDIA_RELEASE, "c1");
    s_nothing_more(f);
}

/* ReadExten(X,prompt,menu,p,4): each row is the keys pressed during the
 * prompt, whether the timer then fires, and X and READEXTENSTATUS. */
static void test_readexten(void **state)
{
    fixture_t *f = *state;
    static const struct { const char *keys; int fire; const char *x, *status, *invalid; } rows[] = {
        { "2", 0, "2", "OK", "" },
        { "12", 1, "12", "OK", "" },      /* 12 could become 123: the digit timeout */
        { "9", 0, "i", "INVALID", "9" },
        { "", 1, "t", "TIMEOUT", "" },
        { "1#", 0, "1", "OK", "" },       /* p: '#' ends */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char call[8];
        snprintf(call, sizeof call, "c%zu", i);
        s_call(f, call, "alpha", "690", "1001");
        s_answered(f, call);
        s_play_sent(f, call, "prompt");
        s_nothing_more(f);
        s_dtmf(f, call, rows[i].keys);
        if (rows[i].fire)
            s_fire(f, call);
        s_sent(f, "media-1", MEDIA_STOP, call);     /* a key or the timeout stops the prompt */
        assert_int_equal(s_state(f, call), CALL_WAITING);
        assert_string_equal(s_var(f, call, "X"), rows[i].x);
        assert_string_equal(s_var(f, call, "READEXTENSTATUS"), rows[i].status);
        assert_string_equal(s_var(f, call, "INVALID_EXTEN"), rows[i].invalid);
        s_hangup(f, call);
        s_sent(f, "media-1", MEDIA_RELEASE, call);
        s_nothing_more(f);
    }
    s_call(f, "d1", "alpha", "691", "1001");        /* s: skipped, not answered; () ERROR */
    assert_int_equal(s_state(f, "d1"), CALL_WAITING);
    assert_string_equal(s_var(f, "d1", "READEXTENSTATUS"), "ERROR");
    s_hangup(f, "d1");
    s_nothing_more(f);
}

/* Background in a macro: a one-key extension of MACRO_CONTEXT is taken
 * there (the macro ends), a longer one is dialled in the caller's context;
 * "noanswer" is not "s". */
static void test_background_macro(void **state)
{
    fixture_t *f = *state;
    static const struct { const char *keys; uint32_t cause; } rows[] = {
        { "4", 32 }, { "55", 33 }, { "", 31 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char call[8];
        snprintf(call, sizeof call, "c%zu", i);
        s_call(f, call, "bgm", "s", "1001");
        s_answered(f, call);
        uint32_t id = s_play_sent(f, call, "menu");
        if (*rows[i].keys) {
            s_dtmf(f, call, rows[i].keys);
            s_sent(f, "media-1", MEDIA_STOP, call);
        } else {
            s_played(f, call, id, "");
        }
        s_hangup_sent(f, call, rows[i].cause);
        s_sent(f, "media-1", MEDIA_RELEASE, call);
        s_nothing_more(f);
    }
    /* m: only a one-key extension stops the prompt; p: no key does. */
    s_call(f, "e1", "bgo", "s", "1001");
    s_answered(f, "e1");
    s_play_sent(f, "e1", "menu");
    s_dtmf(f, "e1", "9");
    s_nothing_more(f);
    s_dtmf(f, "e1", "4");
    s_sent(f, "media-1", MEDIA_STOP, "e1");
    s_hangup_sent(f, "e1", 36);
    s_sent(f, "media-1", MEDIA_RELEASE, "e1");
    s_call(f, "e2", "bgo", "s", "1001");
    s_answered(f, "e2");
    uint32_t id = s_play_sent(f, "e2", "menu");
    s_played(f, "e2", id, "");
    id = s_play_sent(f, "e2", "menu");
    s_dtmf(f, "e2", "4");
    s_nothing_more(f);
    s_played(f, "e2", id, "");
    s_hangup_sent(f, "e2", 35);
    s_sent(f, "media-1", MEDIA_RELEASE, "e2");
    s_nothing_more(f);

    s_call(f, "d1", "bgm", "6", "1001");
    assert_string_equal(s_var(f, "d1", "BG"), "bgm-0-SUCCESS");
    s_sent(f, "media-1", MEDIA_OFFER, "d1");
    s_offered(f, "d1");
    s_sent(f, "sig-1", PROGRESS, "d1");
    s_play_sent(f, "d1", "x");
    s_hangup(f, "d1");
    s_sent(f, "media-1", MEDIA_RELEASE, "d1");
    s_nothing_more(f);
}

/* Keys that dial nothing, with no i: e with INVALID (__ast_pbx_run). */
static void test_invalid_to_e(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "menu2", "s", "1001");
    s_answered(f, "c1");
    s_play_sent(f, "c1", "press");
    s_dtmf(f, "c1", "9");
    s_sent(f, "media-1", MEDIA_STOP, "c1");
    s_hangup_sent(f, "c1", 27);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1");
    s_nothing_more(f);
    s_call(f, "c2", "menu2", "s", "1001");
    assert_string_equal(s_var(f, "c2", "EXC"), "INVALID-s");
    s_hangup(f, "c2");
}

/* Macro: ARGn and MACRO_* inside; WaitExten timing out goes on inside the
 * macro, which returns after its last priority with the variables put
 * back; a key during WaitExten leaves the macro and dials in the caller's
 * context; a hangup inside a macro runs h in the caller's context. */
static void test_macro(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "mwait", "s", "1001");
    s_answered(f, "c1");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_COLLECTING);
    assert_string_equal(s_var(f, "c1", "IN"), "as");
    assert_string_equal(s_var(f, "c1", "MACRO_DEPTH"), "1");
    assert_string_equal(s_var(f, "c1", "CONTEXT"), "macro-keys");
    s_fire(f, "c1");                                /* no key: on to priority 3, then back */
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);
    assert_string_equal(s_var(f, "c1", "AFTERWAIT"), "1");
    assert_string_equal(s_var(f, "c1", "AFTER"), "-0");
    assert_string_equal(s_var(f, "c1", "CONTEXT"), "mwait");
    s_hangup(f, "c1");
    s_sent(f, "media-1", MEDIA_RELEASE, "c1");
    s_nothing_more(f);

    s_call(f, "c2", "mwait", "s", "1001");
    s_answered(f, "c2");
    s_dtmf(f, "c2", "7");                           /* mwait's 7, not macro-keys' */
    s_hangup_sent(f, "c2", 29);
    s_sent(f, "media-1", MEDIA_RELEASE, "c2");
    s_nothing_more(f);
    s_call(f, "c3", "mwait", "8", "1001");
    assert_string_equal(s_var(f, "c3", "MK"), "--mwait");
    assert_string_equal(s_var(f, "c3", "MH"), "mwait--");   /* h after c2 */
    s_sent(f, "media-1", MEDIA_OFFER, "c3");
    s_offered(f, "c3");
    s_sent(f, "sig-1", PROGRESS, "c3");
    s_hangup(f, "c3");                              /* the caller hangs up in the macro */
    s_sent(f, "media-1", MEDIA_RELEASE, "c3");
    s_nothing_more(f);
    s_call(f, "c4", "mwait", "s", "1001");
    assert_string_equal(s_var(f, "c4", "MH"), "mwait--");
    s_hangup(f, "c4");
}

static void test_read_app(void **state)
{
    fixture_t *f = *state;
    /* Keys stop the prompt; '#' ends the input. */
    s_call(f, "c1", "internal", "600", "1001");
    s_answered(f, "c1");
    uint32_t id = s_play_sent(f, "c1", "enter-pin");
    s_dtmf(f, "c1", "1");
    s_sent(f, "media-1", MEDIA_STOP, "c1");
    s_dtmf(f, "c1", "2#");
    s_played(f, "c1", id, "");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);
    assert_string_equal(s_var(f, "c1", "PIN"), "12");
    assert_string_equal(s_var(f, "c1", "READSTATUS"), "OK");

    /* Nothing entered: the prompt again (attempts 2), then TIMEOUT. */
    s_call(f, "c2", "internal", "600", "1001");
    s_answered(f, "c2");
    id = s_play_sent(f, "c2", "enter-pin");
    s_played(f, "c2", id, "");
    s_nothing_more(f);
    s_fire(f, "c2");
    id = s_play_sent(f, "c2", "enter-pin");
    s_played(f, "c2", id, "");
    s_fire(f, "c2");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c2"), CALL_WAITING);
    assert_string_equal(s_var(f, "c2", "PIN"), "");
    assert_string_equal(s_var(f, "c2", "READSTATUS"), "TIMEOUT");

    /* maxdigits (4) ends it; partial input then a timeout is TIMEOUT. */
    s_call(f, "c3", "internal", "600", "1001");
    s_answered(f, "c3");
    id = s_play_sent(f, "c3", "enter-pin");
    s_played(f, "c3", id, "");
    s_dtmf(f, "c3", "4321");
    assert_string_equal(s_var(f, "c3", "PIN"), "4321");
    assert_string_equal(s_var(f, "c3", "READSTATUS"), "OK");
    s_call(f, "c4", "internal", "600", "1001");
    s_answered(f, "c4");
    id = s_play_sent(f, "c4", "enter-pin");
    s_played(f, "c4", id, "");
    s_dtmf(f, "c4", "7");
    s_fire(f, "c4");
    assert_string_equal(s_var(f, "c4", "PIN"), "7");
    assert_string_equal(s_var(f, "c4", "READSTATUS"), "TIMEOUT");
    s_nothing_more(f);
}

static void test_record(void **state)
{
    fixture_t *f = *state;
    /* an absolute name must lie in [media] recordings= (td_path.h) */
    router_set_media_dirs("", "/tmp");
    static const struct { const char *by, *status; } rows[] = {
        { "silence", "SILENCE" }, { "dtmf", "DTMF" }, { "max", "TIMEOUT" }, { "error", "ERROR" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char call[8];
        snprintf(call, sizeof call, "c%zu", i);
        s_call(f, call, "internal", "610", "1001");
        s_answered(f, call);
        uint32_t id = s_play_sent(f, call, "beep");
        s_played(f, call, id, "");
        const Tandem__Envelope *e = s_sent(f, "media-1", MEDIA_RECORD, call);
        assert_string_equal(e->media_record->path, "/tmp/msg");
        assert_int_equal(e->media_record->silence_ms, 3000);
        assert_int_equal(e->media_record->max_ms, 20000);
        assert_true(e->media_record->dtmf_ends);
        s_nothing_more(f);
        assert_int_equal(s_state(f, call), CALL_RECORDING);
        s_recorded(f, call, e->media_record->id, rows[i].by);
        assert_int_equal(s_state(f, call), CALL_WAITING);
        assert_string_equal(s_var(f, call, "RECORDED_FILE"), "/tmp/msg");
        assert_string_equal(s_var(f, call, "RECORD_STATUS"), rows[i].status);
        s_nothing_more(f);
    }
}

static void test_say(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "internal", "620", "1001");
    s_sent(f, "media-1", MEDIA_OFFER, "c1");
    s_offered(f, "c1");
    s_sent(f, "sig-1", PROGRESS, "c1");              /* Say* do not answer: early media */
    uint32_t id = s_play_sent(f, "c1", "digits/1 digits/thousand digits/2 digits/hundred "
                              "digits/30 digits/4");
    s_played(f, "c1", id, "");
    id = s_play_sent(f, "c1", "digits/1 digits/2 digits/pound");
    s_played(f, "c1", id, "");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);
    assert_string_equal(s_var(f, "c1", "PLAYBACKSTATUS"), "");
}

static void test_moh_and_signalling(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "internal", "630", "1001");
    s_sent(f, "media-1", MEDIA_OFFER, "c1");
    s_offered(f, "c1");
    s_sent(f, "sig-1", PROGRESS, "c1");
    s_play_sent_at(f, "c1", "default", 1, __LINE__);
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_MOH);
    s_fire(f, "c1");                                 /* 5 s */
    s_sent(f, "media-1", MEDIA_STOP, "c1");
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);

    s_call(f, "c2", "internal", "640", "1001");     /* Ringing, Progress, Busy */
    const Tandem__Envelope *e = s_sent(f, "sig-1", PROGRESS, "c2");
    assert_int_equal(e->progress->code, 180);
    assert_string_equal(e->progress->sdp, "");
    s_sent(f, "media-1", MEDIA_OFFER, "c2");
    s_offered(f, "c2");
    e = s_sent(f, "sig-1", PROGRESS, "c2");
    assert_int_equal(e->progress->code, 183);
    assert_string_equal(e->progress->sdp, "SDP-CALLER");
    s_hangup_sent(f, "c2", 17);                      /* -> 486 */
    s_sent(f, "media-1", MEDIA_RELEASE, "c2");
    s_nothing_more(f);

    /* Congestion(2) unanswered: chan_sip sends 503 at once (sip_indicate),
     * the timeout only counts for an answered caller. */
    s_call(f, "c3", "internal", "650", "1001");
    s_hangup_sent(f, "c3", 34);                      /* -> 503 */
    s_nothing_more(f);
}

/* The next send must be body_case on leg for call. */
static const Tandem__Envelope *s_sent_leg(fixture_t *f, int body_case, const char *call,
                                          uint32_t leg)
{
    const td_bus_fake_sent_t *s = td_bus_fake_get(f->seen);
    if (!s || (int)s->env->body_case != body_case || s->env->leg != leg
        || strcmp(s->env->call_id, call) != 0)
        fail_msg("send #%zu: expected %s on leg %u, got %s", f->seen, td_bus_msg_name(body_case),
                 leg, s ? td_bus_msg_name(s->env->body_case) : "nothing");
    f->seen++;
    return s->env;
}

/* Dial options: r rings the caller at once, g goes on after the callee's
 * BYE, an unknown one (x) is only warned about. */
static void test_dial_options(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "internal", "660", "1001");
    s_sent(f, "media-1", MEDIA_OFFER, "c1");
    s_offered(f, "c1");
    const Tandem__Envelope *e = s_sent_leg(f, BODY(ORIGINATE), "c1", 1);
    assert_int_equal(e->originate->timeout_ms, 0);
    e = s_sent(f, "sig-1", PROGRESS, "c1");         /* r: 180 at once */
    assert_int_equal(e->progress->code, 180);
    s_nothing_more(f);
    Tandem__Progress p = TANDEM__PROGRESS__INIT;
    p.code = 180;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.body_case = BODY(PROGRESS);
    env.progress = &p;
    env.call_id = "c1";
    env.leg = 1;
    td_bus_fake_deliver(f->bus, "sig-1", &env);
    s_nothing_more(f);                               /* the callee's 180: already rung */
    Tandem__Answer a = TANDEM__ANSWER__INIT;
    a.sdp = "SDP-B";
    env.body_case = BODY(ANSWER);
    env.answer = &a;
    td_bus_fake_deliver(f->bus, "sig-1", &env);
    s_sent_leg(f, BODY(MEDIA_ANSWER), "c1", 1);
    Tandem__MediaAnswered ma = TANDEM__MEDIA_ANSWERED__INIT;
    ma.sdp_caller = "SDP-B-A";
    env.body_case = BODY(MEDIA_ANSWERED);
    env.media_answered = &ma;
    td_bus_fake_deliver(f->bus, "media-1", &env);
    s_sent(f, "sig-1", ANSWER, "c1");
    Tandem__Hangup h = TANDEM__HANGUP__INIT;
    h.cause = 16;
    env.body_case = BODY(HANGUP);
    env.hangup = &h;
    td_bus_fake_deliver(f->bus, "sig-1", &env);      /* the callee's BYE */
    s_nothing_more(f);
    assert_int_equal(s_state(f, "c1"), CALL_WAITING);  /* g: the dialplan goes on */
    assert_string_equal(s_var(f, "c1", "AFTER"), "ANSWER");
    s_fire(f, "c1");
    s_hangup_sent(f, "c1", 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1");
    s_nothing_more(f);
}

/* WaitExten(3,m(jazz)): music on hold while waiting; a key stops it and
 * the keys dial an extension of the context (100 from 1001: 100/1001). */
static void test_waitexten_moh(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "internal", "670", "1001");
    s_sent(f, "media-1", MEDIA_OFFER, "c1");
    s_offered(f, "c1");
    s_sent(f, "sig-1", PROGRESS, "c1");
    s_play_sent_at(f, "c1", "jazz", 1, __LINE__);
    s_nothing_more(f);
    s_dtmf(f, "c1", "1");
    s_sent(f, "media-1", MEDIA_STOP, "c1");
    s_dtmf(f, "c1", "00");
    s_hangup_sent(f, "c1", 21);
    s_sent(f, "media-1", MEDIA_RELEASE, "c1");
    s_nothing_more(f);

    s_call(f, "c2", "internal", "670", "1001");     /* no key: the music stops, no t: hang up */
    s_sent(f, "media-1", MEDIA_OFFER, "c2");
    s_offered(f, "c2");
    s_sent(f, "sig-1", PROGRESS, "c2");
    s_play_sent_at(f, "c2", "jazz", 1, __LINE__);
    s_fire(f, "c2");
    s_sent(f, "media-1", MEDIA_STOP, "c2");
    s_hangup_sent(f, "c2", 16);
    s_sent(f, "media-1", MEDIA_RELEASE, "c2");
    s_nothing_more(f);
}

/* --- reload --------------------------------------------------------------------------- */

static void test_reload(void **state)
{
    fixture_t *f = *state;
    s_call(f, "c1", "reload", "800", "1001");       /* on the old plan, in Wait */
    char path[128];
    test_write(f->dir, "extensions.conf",
               "[reload]\nexten => 800,1,Wait(1)\n same => n,Hangup(22)\n"
               "exten => 900,1,Hangup(23)\n", path, sizeof path);
    assert_int_equal(router_reload(f->router, path), 0);
    s_call(f, "c2", "reload", "900", "1001");       /* new extension */
    s_hangup_sent(f, "c2", 23);
    s_call(f, "c3", "reload", "800", "1001");
    s_fire(f, "c3");
    s_hangup_sent(f, "c3", 22);                      /* new calls: the new plan */
    s_fire(f, "c1");
    s_hangup_sent(f, "c1", 21);                      /* c1 finishes on the old one */
    s_nothing_more(f);

    /* A broken file (a syntax error Asterisk's config reader rejects) is
     * refused; the plan in force stays. */
    test_write(f->dir, "extensions.conf",
               "[reload\nexten => 900,1,Hangup(24)\n", path, sizeof path);
    assert_int_equal(router_reload(f->router, path), -1);
    s_call(f, "c4", "reload", "900", "1001");
    s_hangup_sent(f, "c4", 23);
    s_nothing_more(f);
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_CRIT);
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_callerid_match),
        T(test_set_gotoif_execif),
        T(test_gosub_return),
        T(test_h_and_i),
        T(test_playback),
        T(test_background_waitexten),
        T(test_sayalpha),
        T(test_readexten),
        T(test_invalid_to_e),
        T(test_background_macro),
        T(test_macro),
        T(test_read_app),
        T(test_record),
        T(test_say),
        T(test_moh_and_signalling),
        T(test_dial_options),
        T(test_waitexten_moh),
        T(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
