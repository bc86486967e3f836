/* test_ivr - prompts, keys and recordings end to end through the worker:
 * requests arrive through the bus fake, RTP flows on real 127.0.0.1 sockets
 * standing in for the caller. Sounds are WAVs generated into a temp dir. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "g711.h"
#include "ivr.h"
#include "sdp.h"
#include "session.h"
#include "td_bus_fake.h"
#include "td_clock.h"
#include "td_log.h"
#include "wav.h"
#include "worker.h"

#define PAIRS 8
#define TONE_SAMPLES 800            /* 100 ms: 5 packets */

typedef struct {
    struct event_base *base;
    worker_t *worker;
    char dir[64];                   /* temp: sounds/, moh/, rec/ */
    int caller;                     /* the caller's RTP socket */
    uint16_t caller_port;
    uint16_t port_a;                /* the worker's caller-facing port */
} fixture_t;

static int16_t s_tone[TONE_SAMPLES];

static void s_write_wav(const char *path, const int16_t *s, size_t n)
{
    char err[256];
    wav_writer_t *w = wav_writer_new(path, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    wav_writer_write(w, s, n);
    assert_int_equal(wav_writer_close(&w), 0);
}

static int setup(void **state)
{
    static fixture_t fx;
    memset(&fx, 0, sizeof fx);
    snprintf(fx.dir, sizeof fx.dir, "/tmp/test_ivr_XXXXXX");
    if (!mkdtemp(fx.dir))
        return -1;
    char path[256];
    snprintf(path, sizeof path, "%s/sounds", fx.dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/moh", fx.dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/moh/jazz", fx.dir);
    mkdir(path, 0755);
    for (int i = 0; i < TONE_SAMPLES; i++)
        s_tone[i] = (int16_t)((i % 20 < 10 ? 1 : -1) * (1000 + 37 * i));
    snprintf(path, sizeof path, "%s/sounds/tone.wav", fx.dir);
    s_write_wav(path, s_tone, TONE_SAMPLES);
    /* Music: b.wav sorts after a.wav; a class directory of its own. */
    int16_t a[320], b[320], j[320];
    for (int i = 0; i < 320; i++) {
        a[i] = 1000;
        b[i] = -2000;
        j[i] = 3000;
    }
    snprintf(path, sizeof path, "%s/moh/b.wav", fx.dir);
    s_write_wav(path, b, 320);
    snprintf(path, sizeof path, "%s/moh/a.wav", fx.dir);
    s_write_wav(path, a, 320);
    snprintf(path, sizeof path, "%s/moh/jazz/j.wav", fx.dir);
    s_write_wav(path, j, 320);
    snprintf(path, sizeof path, "%s/moh/notes.txt", fx.dir);
    FILE *f = fopen(path, "w");
    fputs("not a sound\n", f);
    fclose(f);

    fx.base = event_base_new();
    td_settings_t settings;
    memset(&settings, 0, sizeof settings);
    snprintf(settings.identity, sizeof settings.identity, "media-test");
    snprintf(settings.endpoint, sizeof settings.endpoint, "inproc://test");
    snprintf(settings.media_address, sizeof settings.media_address, "127.0.0.1");
    snprintf(settings.sounds_dir, sizeof settings.sounds_dir, "%s/sounds", fx.dir);
    snprintf(settings.moh_dir, sizeof settings.moh_dir, "%s/moh", fx.dir);
    snprintf(settings.recordings_dir, sizeof settings.recordings_dir, "%s/rec", fx.dir);
    settings.capacity = 100;
    uint16_t start = (uint16_t)(26016 + (getpid() % 300) * 32);
    rtp_conf_t rtp = { start, (uint16_t)(start + 2 * PAIRS - 1), RTP_STRICT_NO, 0 };
    fx.worker = worker_new(fx.base, &settings, &rtp);
    if (!fx.base || !fx.worker)
        return -1;

    fx.caller = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(fx.caller, (struct sockaddr *)&sin, sizeof sin);
    socklen_t len = sizeof sin;
    getsockname(fx.caller, (struct sockaddr *)&sin, &len);
    fx.caller_port = ntohs(sin.sin_port);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    worker_destroy(&fx->worker);
    assert_int_equal(event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(fx->base);
    td_bus_fake_reset();
    close(fx->caller);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* --- helpers -------------------------------------------------------------- */

static uint64_t s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void s_deliver(fixture_t *fx, int body_case, void *msg)
{
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.call_id = "ivr-1";
    env.body_case = body_case;
    switch (body_case) {
    case TANDEM__ENVELOPE__BODY_MEDIA_OFFER: env.media_offer = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_ECHO: env.media_echo = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_RELEASE: env.media_release = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_PLAY: env.media_play = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_STOP: env.media_stop = msg; break;
    case TANDEM__ENVELOPE__BODY_MEDIA_RECORD: env.media_record = msg; break;
    default: fail();
    }
    td_bus_fake_deliver(worker_bus(fx->worker), "router", &env);
}

/* Open the call with the caller's codecs in `formats` ("0 101", "8 0 101"). */
static void s_open(fixture_t *fx, const char *formats)
{
    char sdp[512];
    snprintf(sdp, sizeof sdp,
             "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio %u RTP/AVP %s\r\na=rtpmap:101 telephone-event/8000\r\n",
             fx->caller_port, formats);
    Tandem__MediaOffer msg = TANDEM__MEDIA_OFFER__INIT;
    msg.sdp = sdp;
    s_deliver(fx, TANDEM__ENVELOPE__BODY_MEDIA_OFFER, &msg);
    const td_bus_fake_sent_t *sent = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_OFFERED);
    assert_non_null(sent);
    sdp_media_t m;
    char err[128];
    const char *a = sent->env->media_offered->sdp_caller;
    assert_int_equal(sdp_parse(a, strlen(a), &m, err, sizeof err), 0);
    fx->port_a = m.port;
}

static void s_play(fixture_t *fx, uint32_t id, const char **files, size_t n, int loop, int moh)
{
    Tandem__MediaPlay msg = TANDEM__MEDIA_PLAY__INIT;
    msg.files = (char **)files;
    msg.n_files = n;
    msg.loop = loop;
    msg.moh = moh;
    msg.id = id;
    s_deliver(fx, TANDEM__ENVELOPE__BODY_MEDIA_PLAY, &msg);
}

static void s_stop(fixture_t *fx)
{
    Tandem__MediaStop msg = TANDEM__MEDIA_STOP__INIT;
    s_deliver(fx, TANDEM__ENVELOPE__BODY_MEDIA_STOP, &msg);
}

static void s_record(fixture_t *fx, uint32_t id, const char *path, uint32_t silence_ms,
                     uint32_t max_ms, int dtmf_ends)
{
    Tandem__MediaRecord msg = TANDEM__MEDIA_RECORD__INIT;
    msg.path = (char *)path;
    msg.silence_ms = silence_ms;
    msg.max_ms = max_ms;
    msg.dtmf_ends = dtmf_ends;
    msg.id = id;
    s_deliver(fx, TANDEM__ENVELOPE__BODY_MEDIA_RECORD, &msg);
}

/* Number of sends of one kind since `from`. */
static size_t s_count(size_t from, int body_case)
{
    size_t n = 0;
    for (size_t i = from; i < td_bus_fake_count(); i++)
        if ((int)td_bus_fake_get(i)->env->body_case == body_case)
            n++;
    return n;
}

/* Run the loop for up to ms, or until a send of body_case appears after
 * `from` (0 to just run). */
static void s_run(fixture_t *fx, int ms, size_t from, int body_case)
{
    uint64_t end = s_ms() + (uint64_t)ms;
    while (s_ms() < end) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        if (body_case && s_count(from, body_case))
            return;
        poll(NULL, 0, 1);
    }
}

typedef struct {
    uint8_t b[512];
    ssize_t n;
    uint64_t at_ms;
} pkt_t;

typedef struct {
    int fd;
    pkt_t p[400];
    int n;
} fx_take_t;

/* Collect what the caller receives until the worker reports body_case (or
 * max_ms). Returns the number of packets. */
static int s_collect(fixture_t *fx, pkt_t *pkts, int max, size_t from, int body_case, int max_ms)
{
    int n = 0;
    uint64_t end = s_ms() + (uint64_t)max_ms;
    while (s_ms() < end) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        for (;;) {
            uint8_t buf[512];
            ssize_t len = recv(fx->caller, buf, sizeof buf, 0);
            if (len < 0)
                break;
            if (n < max) {
                memcpy(pkts[n].b, buf, (size_t)len);
                pkts[n].n = len;
                pkts[n].at_ms = s_ms();
                n++;
            }
        }
        if (body_case && s_count(from, body_case))
            break;
        struct pollfd pfd = { .fd = fx->caller, .events = POLLIN };
        poll(&pfd, 1, 2);
    }
    return n;
}

static uint16_t s_seq(const pkt_t *p) { return (uint16_t)(p->b[2] << 8 | p->b[3]); }
static uint32_t s_u32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }

static void s_send_rtp(fixture_t *fx, int pt, int marker, uint16_t seq, uint32_t ts,
                       const uint8_t *payload, size_t n)
{
    uint8_t pkt[512];
    pkt[0] = 0x80;
    pkt[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
    pkt[2] = (uint8_t)(seq >> 8);
    pkt[3] = (uint8_t)seq;
    pkt[4] = (uint8_t)(ts >> 24);
    pkt[5] = (uint8_t)(ts >> 16);
    pkt[6] = (uint8_t)(ts >> 8);
    pkt[7] = (uint8_t)ts;
    memcpy(pkt + 8, "\x12\x34\x56\x78", 4);
    memcpy(pkt + 12, payload, n);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(fx->port_a),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(sendto(fx->caller, pkt, 12 + n, 0, (struct sockaddr *)&to, sizeof to),
                     (ssize_t)(12 + n));
}

/* An RFC 4733 event packet. */
static void s_send_event(fixture_t *fx, uint16_t seq, uint32_t ts, int event, int end,
                         uint16_t duration)
{
    uint8_t p[4] = { (uint8_t)event, (uint8_t)((end ? 0x80 : 0) | 10),
                     (uint8_t)(duration >> 8), (uint8_t)duration };
    s_send_rtp(fx, 101, 0, seq, ts, p, 4);
}

/* --- playback ------------------------------------------------------------- */

static void test_play_paces_rtp_in_the_callers_law(void **state)
{
    fixture_t *fx = *state;
    s_open(fx, "0 8 101");
    size_t from = td_bus_fake_count();
    const char *files[] = { "tone" };
    s_play(fx, 7, files, 1, 0, 0);
    assert_int_equal(worker_ivr_active(fx->worker), 1);
    pkt_t pkts[16];
    int n = s_collect(fx, pkts, 16, from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED, 2000);
    /* Drain what may still be in flight. */
    n += s_collect(fx, pkts + n, 16 - n, 0, 0, 20);
    assert_int_equal(n, TONE_SAMPLES / 160);
    for (int i = 0; i < n; i++) {
        assert_int_equal(pkts[i].n, 12 + 160);
        assert_int_equal(pkts[i].b[0], 0x80);
        assert_int_equal(pkts[i].b[1] & 0x7F, 0);                 /* PCMU */
        assert_int_equal(pkts[i].b[1] >> 7, i == 0);              /* marker: first only */
        if (i > 0) {
            assert_int_equal(s_seq(&pkts[i]), (uint16_t)(s_seq(&pkts[i - 1]) + 1));
            assert_int_equal(s_u32(pkts[i].b + 4), s_u32(pkts[i - 1].b + 4) + 160);
            assert_int_equal(s_u32(pkts[i].b + 8), s_u32(pkts[0].b + 8));
        }
        for (int k = 0; k < 160; k++)
            assert_int_equal(pkts[i].b[12 + k], g711_ulaw_encode(s_tone[i * 160 + k]));
    }
    /* 20 ms apart: 4 gaps take about 80 ms (loosely: a loaded machine is slow,
     * never fast). */
    uint64_t span = pkts[n - 1].at_ms - pkts[0].at_ms;
    assert_true(span >= 50);
    assert_true(span < 1000);

    const td_bus_fake_sent_t *sent = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_PLAYED);
    assert_non_null(sent);
    assert_string_equal(sent->peer, "router");
    assert_string_equal(sent->env->call_id, "ivr-1");
    assert_int_equal(sent->env->media_played->id, 7);
    assert_false(sent->env->media_played->stopped);
    assert_string_equal(sent->env->media_played->missing, "");
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 1);
    assert_int_equal(worker_ivr_active(fx->worker), 0);

    /* The next prompt goes on with the same SSRC and a later sequence and timestamp. */
    from = td_bus_fake_count();
    s_play(fx, 8, files, 1, 0, 0);
    pkt_t more[16];
    int m = s_collect(fx, more, 16, from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED, 2000);
    assert_true(m >= 1);
    assert_int_equal(more[0].b[1], 0x80);                          /* marker, PCMU */
    assert_int_equal(s_seq(&more[0]), (uint16_t)(s_seq(&pkts[n - 1]) + 1));
    assert_true(s_u32(more[0].b + 4) - s_u32(pkts[n - 1].b + 4) >= 160);
    assert_int_equal(s_u32(more[0].b + 8), s_u32(pkts[0].b + 8));
}

/* What the caller has received by now (no time passes). */
static int s_take(fx_take_t *t)
{
    int n = 0;
    for (;;) {
        uint8_t buf[512];
        ssize_t len = recv(t->fd, buf, sizeof buf, 0);
        if (len < 0)
            return n;
        if (t->n < (int)(sizeof t->p / sizeof t->p[0])) {
            memcpy(t->p[t->n].b, buf, (size_t)len);
            t->p[t->n].n = len;
            t->n++;
        }
        n++;
    }
}

/* Playback pacing on a fake clock (ivr_env_set_clock): the first packet at
 * once, then exactly one per 20 ms tick, not one before; sequence numbers
 * and timestamps (+160) consecutive; the end reported at the tick after the
 * last packet, and the clock stops when nothing plays. */
static void test_play_pacing_on_fake_clock(void **state)
{
    fixture_t *fx = *state;
    td_clock_t *c = td_clock_new_fake();
    ivr_env_t *env = worker_ivr_env(fx->worker);
    assert_int_equal(ivr_env_set_clock(env, c), 0);
    td_clock_advance(c, 1000);
    s_open(fx, "0 101");
    size_t from = td_bus_fake_count();
    const char *files[] = { "tone" };
    static fx_take_t t;
    memset(&t, 0, sizeof t);
    t.fd = fx->caller;
    s_play(fx, 9, files, 1, 0, 0);
    assert_int_equal(s_take(&t), 1);
    assert_int_equal(td_clock_advance(c, 19), 0);
    assert_int_equal(s_take(&t), 0);
    assert_int_equal(td_clock_advance(c, 1), 1);
    assert_int_equal(s_take(&t), 1);
    int total = TONE_SAMPLES / 160;                    /* 5 */
    assert_int_equal(td_clock_advance(c, (uint64_t)(total - 2) * 20), total - 2);
    assert_int_equal(s_take(&t), total - 2);
    assert_int_equal(t.n, total);
    for (int i = 1; i < t.n; i++) {
        assert_int_equal((uint16_t)(s_seq(&t.p[i]) - s_seq(&t.p[i - 1])), 1);
        assert_int_equal(s_u32(t.p[i].b + 4) - s_u32(t.p[i - 1].b + 4), 160);
        assert_int_equal(t.p[i].b[12], g711_ulaw_encode(s_tone[i * 160]));
    }
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 0);
    assert_int_equal(td_clock_advance(c, 20), 1);      /* nothing left: Played */
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 1);
    assert_int_equal(ivr_env_active(env), 0);
    assert_int_equal(td_clock_advance(c, 200), 0);     /* the clock stopped */
    assert_int_equal(ivr_env_set_clock(env, NULL), 0);
    td_clock_destroy(&c);
}

static void test_play_pcma_and_missing_files(void **state)
{
    fixture_t *fx = *state;
    s_open(fx, "18 8 101");                   /* G.729 and PCMA: PCMA */
    size_t from = td_bus_fake_count();
    const char *files[] = { "nope", "tone", "also-nope" };
    s_play(fx, 1, files, 3, 0, 0);
    pkt_t pkts[16];
    int n = s_collect(fx, pkts, 16, from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED, 2000);
    n += s_collect(fx, pkts + n, 16 - n, 0, 0, 20);
    assert_int_equal(n, TONE_SAMPLES / 160);                      /* the good one played */
    assert_int_equal(pkts[0].b[1] & 0x7F, 8);                     /* PCMA */
    assert_int_equal(pkts[0].b[12], g711_alaw_encode(s_tone[0]));
    const Tandem__MediaPlayed *played =
        td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_PLAYED)->env->media_played;
    assert_false(played->stopped);
    assert_string_equal(played->missing, "nope");                 /* the first one */

    /* Nothing to play at all: reported at once, nothing sent. */
    from = td_bus_fake_count();
    const char *none[] = { "/nonexistent/x" };
    s_play(fx, 2, none, 1, 1, 0);                                  /* even looping */
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 1);
    played = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_PLAYED)->env->media_played;
    assert_int_equal(played->id, 2);
    assert_string_equal(played->missing, "/nonexistent/x");
    assert_int_equal(s_collect(fx, pkts, 16, 0, 0, 30), 0);
    assert_int_equal(worker_ivr_active(fx->worker), 0);
}

/* Names off the bus stay in their directories (td_path.h): a MediaPlay of
 * "../x" or an absolute name elsewhere plays nothing and reports it missing,
 * one inside sounds= plays; a MediaRecord outside recordings= writes
 * nothing and reports an error. */
static void test_paths_confined(void **state)
{
    fixture_t *fx = *state;
    s_open(fx, "0 101");
    size_t from = td_bus_fake_count();
    char inside[300];
    snprintf(inside, sizeof inside, "%s/sounds/tone", fx->dir);
    const char *files[] = { "../sounds/tone", "/etc/passwd", inside };
    s_play(fx, 1, files, 3, 0, 0);
    pkt_t pkts[16];
    int n = s_collect(fx, pkts, 16, from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED, 2000);
    n += s_collect(fx, pkts + n, 16 - n, 0, 0, 20);
    assert_int_equal(n, TONE_SAMPLES / 160);                      /* only the one inside */
    const Tandem__MediaPlayed *played =
        td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_PLAYED)->env->media_played;
    assert_string_equal(played->missing, "../sounds/tone");

    char evil[300];
    snprintf(evil, sizeof evil, "%s/evil", fx->dir);
    const char *bad[] = { evil, "../evil", "box/../../evil" };
    for (int i = 0; i < 3; i++) {
        from = td_bus_fake_count();
        s_record(fx, 10 + (uint32_t)i, bad[i], 100, 0, 1);
        assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED), 1);
        const Tandem__MediaRecorded *rec =
            td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_RECORDED)->env->media_recorded;
        assert_string_equal(rec->ended_by, "error");
        assert_int_equal(worker_ivr_active(fx->worker), 0);
    }
    char path[320];
    snprintf(path, sizeof path, "%s/evil.wav", fx->dir);
    assert_int_equal(access(path, F_OK), -1);
    /* an absolute name inside recordings= is fine */
    snprintf(path, sizeof path, "%s/rec/ok", fx->dir);
    from = td_bus_fake_count();
    s_record(fx, 20, path, 100, 0, 1);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED), 0);
    assert_int_equal(worker_ivr_active(fx->worker), 1);
    s_stop(fx);
}

static void test_stop_and_replace(void **state)
{
    fixture_t *fx = *state;
    s_open(fx, "0 101");
    size_t from = td_bus_fake_count();
    const char *files[] = { "tone" };
    s_play(fx, 1, files, 1, 1, 0);                                 /* loops until stopped */
    pkt_t pkts[64];
    int n = s_collect(fx, pkts, 64, 0, 0, 250);
    assert_true(n > TONE_SAMPLES / 160);                           /* went round */
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 0);

    /* A new prompt stops the first (reported as stopped) and starts a talkspurt. */
    s_play(fx, 2, files, 1, 1, 0);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 1);
    const Tandem__MediaPlayed *played =
        td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_PLAYED)->env->media_played;
    assert_int_equal(played->id, 1);
    assert_true(played->stopped);
    n = s_collect(fx, pkts, 64, 0, 0, 30);
    assert_true(n >= 1);
    assert_int_equal(pkts[0].b[1] & 0x80, 0x80);

    s_stop(fx);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 2);
    played = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_PLAYED)->env->media_played;
    assert_int_equal(played->id, 2);
    assert_true(played->stopped);
    assert_int_equal(worker_ivr_active(fx->worker), 0);
    s_collect(fx, pkts, 64, 0, 0, 10);                             /* in flight */
    assert_int_equal(s_collect(fx, pkts, 64, 0, 0, 60), 0);
    /* A stop with nothing going on says nothing. */
    s_stop(fx);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 2);

    /* Release in the middle of a prompt: no report, the clock stops. */
    s_play(fx, 3, files, 1, 1, 0);
    Tandem__MediaRelease rel = TANDEM__MEDIA_RELEASE__INIT;
    s_deliver(fx, TANDEM__ENVELOPE__BODY_MEDIA_RELEASE, &rel);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 2);
    assert_int_equal(worker_ivr_active(fx->worker), 0);

    /* No session: cause 41. */
    from = td_bus_fake_count();
    s_play(fx, 4, files, 1, 0, 0);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_ERROR), 1);
}

static void test_echo_is_held_back_while_playing(void **state)
{
    fixture_t *fx = *state;
    s_open(fx, "0 101");
    Tandem__MediaEcho echo = TANDEM__MEDIA_ECHO__INIT;
    s_deliver(fx, TANDEM__ENVELOPE__BODY_MEDIA_ECHO, &echo);
    const char *files[] = { "tone" };
    s_play(fx, 1, files, 1, 1, 0);
    uint8_t payload[160];
    memset(payload, 0x55, sizeof payload);
    for (int i = 0; i < 5; i++)
        s_send_rtp(fx, 0, 0, (uint16_t)i, (uint32_t)i * 160, payload, 160);
    pkt_t pkts[64];
    int n = s_collect(fx, pkts, 64, 0, 0, 60);
    assert_true(n > 0);
    for (int i = 0; i < n; i++)
        assert_memory_not_equal(pkts[i].b + 8, "\x12\x34\x56\x78", 4);   /* only ours */
    s_stop(fx);
    s_collect(fx, pkts, 64, 0, 0, 10);
    s_send_rtp(fx, 0, 0, 9, 9 * 160, payload, 160);                 /* echoed again */
    n = s_collect(fx, pkts, 64, 0, 0, 50);
    assert_int_equal(n, 1);
    assert_memory_equal(pkts[0].b + 8, "\x12\x34\x56\x78", 4);
}

static void test_music_on_hold(void **state)
{
    fixture_t *fx = *state;
    s_open(fx, "0 101");
    size_t from = td_bus_fake_count();
    s_play(fx, 5, NULL, 0, 0, 1);                                  /* top directory */
    pkt_t pkts[64];
    int n = s_collect(fx, pkts, 64, 0, 0, 200);
    assert_true(n >= 5);
    /* a.wav (2 packets), then b.wav (2), then a.wav again. */
    assert_int_equal(pkts[0].b[12], g711_ulaw_encode(1000));
    assert_int_equal(pkts[1].b[12], g711_ulaw_encode(1000));
    assert_int_equal(pkts[2].b[12], g711_ulaw_encode(-2000));
    assert_int_equal(pkts[4].b[12], g711_ulaw_encode(1000));
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 0);

    const char *klass[] = { "jazz" };
    s_play(fx, 6, klass, 1, 0, 1);                                 /* a class directory */
    s_collect(fx, pkts, 64, 0, 0, 5);
    n = s_collect(fx, pkts, 64, 0, 0, 60);
    assert_true(n >= 1);
    assert_int_equal(pkts[n - 1].b[12], g711_ulaw_encode(3000));
    const char *unknown[] = { "no-such-class" };
    s_play(fx, 7, unknown, 1, 0, 1);                               /* falls back to the top */
    s_collect(fx, pkts, 64, 0, 0, 5);
    n = s_collect(fx, pkts, 64, 0, 0, 60);
    assert_true(n >= 1);
    assert_true(pkts[n - 1].b[12] == g711_ulaw_encode(1000) ||
                pkts[n - 1].b[12] == g711_ulaw_encode(-2000));
    s_stop(fx);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_PLAYED), 3);
}

/* --- DTMF ------------------------------------------------------------------ */

static void test_dtmf_reported_once_per_key(void **state)
{
    fixture_t *fx = *state;
    s_open(fx, "0 101");
    size_t from = td_bus_fake_count();
    /* '5': start, continuations, then three ends with the same timestamp. */
    s_send_event(fx, 100, 8000, 5, 0, 160);
    s_send_event(fx, 101, 8000, 5, 0, 320);
    s_send_event(fx, 102, 8000, 5, 0, 480);
    s_send_event(fx, 103, 8000, 5, 1, 800);
    s_send_event(fx, 104, 8000, 5, 1, 800);
    s_send_event(fx, 105, 8000, 5, 1, 800);
    s_run(fx, 60, 0, 0);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_DTMF), 1);
    const td_bus_fake_sent_t *sent = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_DTMF);
    assert_string_equal(sent->peer, "router");
    assert_string_equal(sent->env->call_id, "ivr-1");
    assert_int_equal(sent->env->leg, 0);
    assert_string_equal(sent->env->media_dtmf->digit, "5");
    assert_int_equal(sent->env->media_dtmf->duration_ms, 100);

    /* The same key again (a new event, a new timestamp), then '#'. */
    s_send_event(fx, 106, 9600, 5, 1, 400);
    s_send_event(fx, 107, 9600, 5, 1, 400);
    s_send_event(fx, 108, 11200, 11, 0, 160);
    s_send_event(fx, 109, 11200, 11, 1, 480);
    s_run(fx, 60, 0, 0);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_DTMF), 3);
    assert_string_equal(td_bus_fake_get(td_bus_fake_count() - 1)->env->media_dtmf->digit, "#");
    assert_string_equal(td_bus_fake_get(td_bus_fake_count() - 2)->env->media_dtmf->digit, "5");
}

/* --- recording ------------------------------------------------------------- */

static void test_record_ends_on_silence(void **state)
{
    fixture_t *fx = *state;
    s_open(fx, "0 101");
    size_t from = td_bus_fake_count();
    s_record(fx, 3, "box/msg", 100, 0, 1);
    assert_int_equal(worker_ivr_active(fx->worker), 1);
    uint8_t voice[5][160], quiet[160];
    for (int p = 0; p < 5; p++)
        for (int k = 0; k < 160; k++)
            voice[p][k] = g711_ulaw_encode((int16_t)(((p * 160 + k) % 16 < 8 ? 1 : -1) * 8000));
    memset(quiet, 0xFF, sizeof quiet);                              /* µ-law zero */
    uint16_t seq = 0;
    for (int p = 0; p < 5; p++, seq++)
        s_send_rtp(fx, 0, p == 0, seq, seq * 160u, voice[p], 160);
    /* A key in the middle is not recorded (and, with dtmf_ends, would end it:
     * here only its start arrives). */
    s_send_event(fx, seq++, 5 * 160, 1, 0, 160);
    s_run(fx, 30, 0, 0);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED), 0);
    for (int p = 0; p < 5; p++, seq++)
        s_send_rtp(fx, 0, 0, seq, seq * 160u, quiet, 160);
    s_run(fx, 80, from, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED), 1);
    const td_bus_fake_sent_t *sent = td_bus_fake_last(TANDEM__ENVELOPE__BODY_MEDIA_RECORDED);
    const Tandem__MediaRecorded *rec = sent->env->media_recorded;
    assert_string_equal(sent->peer, "router");
    assert_int_equal(rec->id, 3);
    assert_string_equal(rec->ended_by, "silence");
    assert_int_equal(rec->duration_ms, 200);                        /* 5 voice + 5 quiet */
    char want[256];
    snprintf(want, sizeof want, "%s/rec/box/msg.wav", fx->dir);
    assert_string_equal(rec->path, want);
    assert_string_equal(rec->digit, "");
    assert_int_equal(worker_ivr_active(fx->worker), 0);

    int16_t *samples;
    size_t count;
    char err[256];
    assert_int_equal(wav_load(want, &samples, &count, err, sizeof err), 0);
    assert_int_equal(count, 1600);
    for (int p = 0; p < 5; p++)
        for (int k = 0; k < 160; k++)
            assert_int_equal(samples[p * 160 + k], g711_ulaw_decode(voice[p][k]));
    for (int k = 800; k < 1600; k++)
        assert_int_equal(samples[k], 0);
    free(samples);

    /* A longer silence: one second of it is kept, as Asterisk's Record does. */
    from = td_bus_fake_count();
    s_record(fx, 4, "long", 1100, 0, 0);
    for (int p = 0; p < 5; p++, seq++)
        s_send_rtp(fx, 0, 0, seq, seq * 160u, voice[p], 160);
    for (int p = 0; p < 55; p++, seq++)
        s_send_rtp(fx, 0, 0, seq, seq * 160u, quiet, 160);
    s_run(fx, 500, from, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED);
    rec = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_RECORDED)->env->media_recorded;
    assert_int_equal(rec->id, 4);
    assert_string_equal(rec->ended_by, "silence");
    assert_int_equal(rec->duration_ms, 100 + 1000);
    snprintf(want, sizeof want, "%s/rec/long.wav", fx->dir);
    assert_int_equal(wav_load(want, &samples, &count, err, sizeof err), 0);
    assert_int_equal(count, 8800);
    free(samples);
}

static void test_record_ends_on_key_max_and_stop(void **state)
{
    fixture_t *fx = *state;
    s_open(fx, "8 101");
    uint8_t voice[160];
    for (int k = 0; k < 160; k++)
        voice[k] = g711_alaw_encode((int16_t)(k % 2 ? 9000 : -9000));

    /* A key ends it: reported in MediaRecorded, not as MediaDtmf. */
    size_t from = td_bus_fake_count();
    char path[256];
    snprintf(path, sizeof path, "%s/rec/abs-msg", fx->dir);
    s_record(fx, 1, path, 0, 0, 1);
    for (uint16_t s = 1; s <= 20; s++)                              /* 400 ms */
        s_send_rtp(fx, 8, s == 1, s, s * 160u, voice, 160);
    s_send_event(fx, 21, 21 * 160, 11, 1, 400);
    s_send_event(fx, 22, 21 * 160, 11, 1, 400);
    s_run(fx, 100, from, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED);
    s_run(fx, 20, 0, 0);
    const Tandem__MediaRecorded *rec =
        td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_RECORDED)->env->media_recorded;
    assert_string_equal(rec->ended_by, "dtmf");
    assert_string_equal(rec->digit, "#");
    assert_int_equal(rec->duration_ms, 400 - 250);                  /* as Asterisk: 250 ms cut */
    char want[300];
    snprintf(want, sizeof want, "%s.wav", path);
    assert_string_equal(rec->path, want);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_DTMF), 0);
    assert_int_equal(s_count(from, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED), 1);

    /* max_ms of audio. */
    from = td_bus_fake_count();
    s_record(fx, 2, "max", 0, 40, 0);
    for (uint16_t s = 10; s < 14; s++)
        s_send_rtp(fx, 8, 0, s, s * 160u, voice, 160);
    s_run(fx, 100, from, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED);
    rec = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_RECORDED)->env->media_recorded;
    assert_string_equal(rec->ended_by, "max");
    assert_int_equal(rec->duration_ms, 40);

    /* MediaStop; then a recording that the caller never speaks into ends
     * on silence by the clock. */
    from = td_bus_fake_count();
    s_record(fx, 3, "stopped.wav", 0, 0, 0);
    s_stop(fx);
    rec = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_RECORDED)->env->media_recorded;
    assert_string_equal(rec->ended_by, "stopped");
    snprintf(want, sizeof want, "%s/rec/stopped.wav", fx->dir);
    assert_string_equal(rec->path, want);
    s_record(fx, 4, "mute", 50, 0, 0);
    s_run(fx, 1000, from + 1, TANDEM__ENVELOPE__BODY_MEDIA_RECORDED);
    rec = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_RECORDED)->env->media_recorded;
    assert_int_equal(rec->id, 4);
    assert_string_equal(rec->ended_by, "silence");

    /* A file that cannot be created: a file stands where a directory should. */
    snprintf(path, sizeof path, "%s/sounds/tone.wav/x", fx->dir);
    s_record(fx, 5, path, 0, 0, 0);
    rec = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_MEDIA_RECORDED)->env->media_recorded;
    assert_int_equal(rec->id, 5);
    assert_string_equal(rec->ended_by, "error");
    assert_int_equal(worker_ivr_active(fx->worker), 0);
}

int main(void)
{
    td_log_init("test", LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_play_paces_rtp_in_the_callers_law, setup, teardown),
        cmocka_unit_test_setup_teardown(test_play_pacing_on_fake_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_play_pcma_and_missing_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_is_held_back_while_playing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_music_on_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dtmf_reported_once_per_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_ends_on_silence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_confined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_ends_on_key_max_and_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
