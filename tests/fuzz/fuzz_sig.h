/* Shared by the signaling harnesses: one signaling core for the whole run,
 * as tests/unit/signaling/test_sip_core.c builds it (the real transaction
 * layer on a UDP socket on 127.0.0.1, the bus fake in place of the routers),
 * with a sip.conf of phones, a trunk and guests. Answers go to a "phone"
 * socket that is drained after every input. */
#ifndef FUZZ_SIG_H
#define FUZZ_SIG_H

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "sip_conf.h"
#include "sip_core.h"
#include "sip_transport.h"
#include "sip_txn.h"
#include "td_bus_fake.h"

typedef struct {
    struct event_base *base;
    int fd, phone;
    struct sockaddr_in sw, ph;
    char dir[64], path[128];
    sip_conf_t *conf;
    sip_core_t *core;
    td_bus_t *bus;
    sip_transport_t *tp;
    long now;
    char call_id[128];          /* the live call's bus id (fuzz_sig_call), "" none */
    unsigned calls;
} fuzz_sig_t;

static const char *const fuzz_sig_conf =
    "[general]\n"
    "realm=tandem\n"
    "context=guests\n"
    "allowguest=yes\n"
    "alwaysauthreject=yes\n"
    "auth_options_requests=yes\n"
    "minexpiry=60\n"
    "maxexpiry=3600\n"
    "session-minse=90\n"
    "session-expires=1800\n"
    "[phone](!)\n"
    "type=friend\n"
    "host=dynamic\n"
    "context=internal\n"
    "[1001](phone)\n"
    "secret=1001pass\n"
    "callerid=\"Alice\" <1001>\n"
    "[1002](phone)\n"
    "secret=1002pass\n"
    "encryption=yes\n"
    "[1003](phone)\n"
    "supportpath=yes\n"
    "[1005](phone)\n"
    "disallow=all\n"
    "allow=alaw\n"
    "[trunk]\n"
    "type=peer\n"
    "host=127.0.0.1\n"
    "port=5999\n"
    "insecure=port,invite\n"
    "context=from-trunk\n";

static int fuzz_sig_udp(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0
        || getsockname(fd, (struct sockaddr *)addr, &l) < 0)
        abort();
    return fd;
}

static void fuzz_sig_cleanup(void);
static fuzz_sig_t fuzz_sig;

static fuzz_sig_t *fuzz_sig_get(void)
{
    fuzz_sig_t *fx = &fuzz_sig;
    if (fx->core)
        return fx;
    fuzz_log_init();
    td_bus_fake_reset();
    td_bus_fake_set_alive(1);
    td_bus_fake_set_exten_answer(1);
    fx->base = event_base_new();
    fx->fd = fuzz_sig_udp(&fx->sw);
    fx->phone = fuzz_sig_udp(&fx->ph);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/td-fuzz-sig.XXXXXX");
    if (!mkdtemp(fx->dir))
        abort();
    snprintf(fx->path, sizeof fx->path, "%s/sip.conf", fx->dir);
    FILE *fp = fopen(fx->path, "w");
    fputs(fuzz_sig_conf, fp);
    fclose(fp);
    char err[512];
    fx->conf = sip_conf_load(fx->path, err, sizeof err);
    if (!fx->conf) {
        fprintf(stderr, "fuzz: sip.conf: %s\n", err);
        abort();
    }
    sip_core_opts_t opts = { .identity = "sig-f", .endpoint = "inproc://none", .capacity = 10,
                             .conf_path = fx->path };
    fx->core = sip_core_new(fx->base, fx->conf, fx->fd, &opts);
    if (!fx->core)
        abort();
    fx->bus = sip_core_bus(fx->core);
    fx->tp = sip_txn_layer_transport(sip_core_layer(fx->core));
    sip_txn_layer_set_t1(sip_core_layer(fx->core), 5);
    fx->now = 1700000000;
    atexit(fuzz_sig_cleanup);
    return fx;
}

/* Run the loop without blocking, read and drop what came back to the phone,
 * forget what was sent on the bus (the fake keeps copies), and now and then
 * run the core's housekeeping tick and lift the bans. */
static void fuzz_sig_pump(fuzz_sig_t *fx)
{
    static unsigned n;
    char buf[65536];
    for (int i = 0; i < 3; i++)
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
    while (recv(fx->phone, buf, sizeof buf, 0) > 0)
        ;
    if (++n % 64 == 0)
        sip_core_tick(fx->core, fx->now++);
    /* Every input comes from the one phone address: a run of failed
     * challenges bans it (sip_ban.c), and then every later input would be
     * dropped unread. Lift the bans now and then, so that the ban's own
     * code is fuzzed and the parsers behind it still are. */
    if (n % 16 == 0)
        sip_ban_clear(sip_core_ban(fx->core), 0);
    td_bus_fake_reset();
    td_log_flush();
}

/* A call in from the trunk (127.0.0.1: no challenge) with an SDP offer;
 * its bus id (the ChannelNew's call_id) goes in fx->call_id ("" if the core
 * made none). */
static inline void fuzz_sig_call(fuzz_sig_t *fx)
{
    static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                              "t=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\n"
                              "a=rtpmap:101 telephone-event/8000\r\n";
    char msg[1024];
    unsigned n = ++fx->calls;
    int len = snprintf(msg, sizeof msg,
        "INVITE sip:5551234@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-fz-%u;rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:carrier@127.0.0.1>;tag=fz%u\r\n"
        "To: <sip:5551234@127.0.0.1>\r\nCall-ID: fz-call-%u\r\nCSeq: 1 INVITE\r\n"
        "Contact: <sip:carrier@127.0.0.1:%u>\r\nContent-Type: application/sdp\r\n"
        "Content-Length: %zu\r\n\r\n%s",
        ntohs(fx->ph.sin_port), n, n, n, ntohs(fx->ph.sin_port), sizeof sdp - 1, sdp);
    td_bus_fake_reset();
    sip_transport_input_udp(fx->tp, msg, (size_t)len, &fx->ph);
    event_base_loop(fx->base, EVLOOP_NONBLOCK);
    const td_bus_fake_sent_t *s = td_bus_fake_last(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    snprintf(fx->call_id, sizeof fx->call_id, "%s",
             s && s->env->call_id ? s->env->call_id : "");
}

static void fuzz_sig_cleanup(void)
{
    fuzz_sig_t *fx = &fuzz_sig;
    if (!fx->core)
        return;
    sip_core_destroy(&fx->core);
    event_base_free(fx->base);
    sip_conf_destroy(&fx->conf);
    close(fx->fd);
    close(fx->phone);
    unlink(fx->path);
    rmdir(fx->dir);
}

#endif
