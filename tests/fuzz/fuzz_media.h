/* Shared by the media harnesses: one media worker for the whole run, as
 * tests/unit/media/test_ivr.c builds it (the bus fake in place of the
 * router, real RTP sockets on 127.0.0.1, a temp dir with one prompt). */
#ifndef FUZZ_MEDIA_H
#define FUZZ_MEDIA_H

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "td_bus_fake.h"
#include "td_settings.h"
#include "wav.h"
#include "worker.h"

#define FUZZ_MEDIA_PAIRS 16

typedef struct {
    struct event_base *base;
    worker_t *worker;
    char dir[64];
    int phone;                  /* the caller's RTP socket (RTCP: phone_rtcp) */
    int phone_rtcp;
    uint16_t phone_port;
} fuzz_media_t;

static fuzz_media_t fuzz_media;

static void fuzz_media_cleanup(void)
{
    fuzz_media_t *fx = &fuzz_media;
    if (!fx->worker)
        return;
    worker_destroy(&fx->worker);
    event_base_free(fx->base);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", fx->dir);
}

static int fuzz_media_udp(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons(port) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static fuzz_media_t *fuzz_media_get(void)
{
    fuzz_media_t *fx = &fuzz_media;
    if (fx->worker)
        return fx;
    fuzz_log_init();
    td_bus_fake_reset();
    snprintf(fx->dir, sizeof fx->dir, "/tmp/td-fuzz-media.XXXXXX");
    if (!mkdtemp(fx->dir))
        abort();
    char path[160];
    const char *sub[] = { "sounds", "moh", "rec" };
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", fx->dir, sub[i]);
        mkdir(path, 0755);
    }
    int16_t tone[800];
    for (int i = 0; i < 800; i++)
        tone[i] = (int16_t)((i % 20 < 10 ? 1 : -1) * 3000);
    char err[256];
    snprintf(path, sizeof path, "%s/sounds/tone.wav", fx->dir);
    wav_writer_t *w = wav_writer_new(path, err, sizeof err);
    if (!w)
        abort();
    wav_writer_write(w, tone, 800);
    wav_writer_close(&w);
    fx->base = event_base_new();
    td_settings_t settings;
    memset(&settings, 0, sizeof settings);
    snprintf(settings.identity, sizeof settings.identity, "media-fuzz");
    snprintf(settings.endpoint, sizeof settings.endpoint, "inproc://fuzz");
    snprintf(settings.media_address, sizeof settings.media_address, "127.0.0.1");
    snprintf(settings.sounds_dir, sizeof settings.sounds_dir, "%s/sounds", fx->dir);
    snprintf(settings.moh_dir, sizeof settings.moh_dir, "%s/moh", fx->dir);
    snprintf(settings.recordings_dir, sizeof settings.recordings_dir, "%s/rec", fx->dir);
    settings.capacity = 100;
    /* Ports of our own: a block by pid, away from the unit tests' blocks. */
    uint16_t start = (uint16_t)(36000 + (getpid() % 400) * 2 * FUZZ_MEDIA_PAIRS * 2);
    rtp_conf_t rtp = { start, (uint16_t)(start + 2 * FUZZ_MEDIA_PAIRS - 1) };
    fx->worker = worker_new(fx->base, &settings, &rtp);
    if (!fx->worker)
        abort();
    /* The phone: an even port and the odd one above it, just past the pool. */
    for (uint16_t p = (uint16_t)(start + 2 * FUZZ_MEDIA_PAIRS); ; p = (uint16_t)(p + 2)) {
        fx->phone = fuzz_media_udp(p);
        if (fx->phone < 0)
            continue;
        fx->phone_rtcp = fuzz_media_udp((uint16_t)(p + 1));
        if (fx->phone_rtcp >= 0) {
            fx->phone_port = p;
            break;
        }
        close(fx->phone);
    }
    atexit(fuzz_media_cleanup);
    return fx;
}

static void fuzz_media_deliver(fuzz_media_t *fx, const char *call_id, int body_case, void *msg)
{
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.call_id = (char *)call_id;
    env.body_case = body_case;
    /* every body pointer shares the union: any member will do */
    env.media_offer = msg;
    td_bus_fake_deliver(worker_bus(fx->worker), "router", &env);
}

/* Run the loop without blocking and read and drop what reached the phone. */
static void fuzz_media_pump(fuzz_media_t *fx)
{
    static unsigned n;
    char buf[2048];
    for (int i = 0; i < 3; i++)
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
    while (recv(fx->phone, buf, sizeof buf, 0) > 0)
        ;
    while (recv(fx->phone_rtcp, buf, sizeof buf, 0) > 0)
        ;
    if (++n % 256 == 0)
        worker_tick(fx->worker);
    td_log_flush();
}

#endif
