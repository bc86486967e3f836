/* rtp_relay - how many RTP packets a second one tandem-media relays.
 *
 *   rtp_relay -e ENDPOINT [-n CALLS] [-d SECONDS] [-w WINDOW] [-p CALLEE_PT]
 *
 * Plays the router: binds ENDPOINT, waits for a media worker's Hello, opens
 * CALLS calls (MediaOffer, MediaAnswer) whose caller and callee are UDP
 * sockets on 127.0.0.1, then keeps WINDOW 172-byte packets per call in
 * flight from each caller to the worker's caller-facing port, counting what
 * arrives at the callees (closed loop: every arrival sends the next packet).
 * Prints the relayed packets per second, then releases the calls. The
 * callers send PCMU; -p 8 makes the callees answer PCMA, so that every
 * packet is transcoded on its way.
 * Loopback only. Run through bench/rtp_relay.sh, which starts the worker. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "sdp.h"
#include "td_bus.h"
#include "td_log.h"

typedef struct {
    int caller, callee;              /* our sockets */
    uint16_t caller_port, callee_port;
    struct sockaddr_in worker_a;     /* where the caller sends */
    struct event *ev;
} call_t;

typedef struct {
    struct event_base *base;
    td_bus_t *bus;
    char worker[64];
    call_t *calls;
    int n, window, seconds;
    int callee_pt;                   /* the callees' answer: 0 (as the callers) or 8 */
    int offered, answered, started;
    uint64_t received, sent, last_received;
    uint64_t mark_received;
    double mark_time;
    struct event *tick;
    int ticks;
} bench_t;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int s_udp(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        perror("bind");
        exit(1);
    }
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    int size = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return fd;
}

static void s_sdp(char *buf, size_t len, uint16_t port, int pt)
{
    snprintf(buf, len, "v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
             "t=0 0\r\nm=audio %u RTP/AVP %d\r\na=rtpmap:%d %s/8000\r\n", port, pt, pt,
             pt == 8 ? "PCMA" : "PCMU");
}

static void s_send(bench_t *self, call_t *call)
{
    static unsigned char pkt[172];
    pkt[0] = 0x80;
    if (sendto(call->caller, pkt, sizeof pkt, 0, (struct sockaddr *)&call->worker_a,
               sizeof call->worker_a) == (ssize_t)sizeof pkt)
        self->sent++;
}

/* libevent gives one arg; keep the bench in a global for the callee events. */
static bench_t *s_bench;

static void s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    call_t *call = arg;
    unsigned char buf[2048];
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0)
            break;
        s_bench->received++;
        s_send(s_bench, call);
    }
}

static void s_on_give_up(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench_t *self = arg;
    if (!self->started) {
        fprintf(stderr, "rtp_relay: no worker opened the calls within 10 s "
                "(%d offered, %d answered)\n", self->offered, self->answered);
        event_base_loopexit(self->base, NULL);
    }
}

static void s_prime(bench_t *self)
{
    for (int i = 0; i < self->n; i++)
        for (int k = 0; k < self->window; k++)
            s_send(self, &self->calls[i]);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench_t *self = arg;
    self->ticks++;
    if (self->received == self->last_received)
        s_prime(self);                    /* the window drained (losses): refill */
    self->last_received = self->received;
    if (self->ticks == 10) {              /* 1 s of warm-up */
        self->mark_received = self->received;
        self->mark_time = s_now();
    }
    if (self->ticks == 10 + self->seconds * 10) {
        double dt = s_now() - self->mark_time;
        uint64_t got = self->received - self->mark_received;
        printf("rtp_relay: %d calls, window %d: %llu packets relayed in %.2f s = %.0f packets/s "
               "(sent %llu, received %llu in all)\n", self->n, self->window,
               (unsigned long long)got, dt, got / dt, (unsigned long long)self->sent,
               (unsigned long long)self->received);
        fflush(stdout);
        for (int i = 0; i < self->n; i++) {
            char id[32];
            snprintf(id, sizeof id, "bench-%d", i);
            Tandem__MediaRelease rel = TANDEM__MEDIA_RELEASE__INIT;
            td_bus_send_media_release(self->bus, self->worker, id, 0, &rel);
            event_del(self->calls[i].ev);
        }
    }
    if (self->ticks == 15 + self->seconds * 10)
        event_base_loopexit(self->base, NULL);
}

static int s_call_index(bench_t *self, const char *call_id)
{
    int i;
    if (sscanf(call_id, "bench-%d", &i) != 1 || i < 0 || i >= self->n)
        return -1;
    return i;
}

static void s_on_peer_up(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    bench_t *self = arg;
    if (strcmp(role, "media") != 0 || self->worker[0])
        return;
    snprintf(self->worker, sizeof self->worker, "%s", peer);
    fprintf(stderr, "rtp_relay: worker %s up (capacity %u); opening %d calls\n", peer,
            capacity, self->n);
    for (int i = 0; i < self->n; i++) {
        char id[32], sdp[256];
        snprintf(id, sizeof id, "bench-%d", i);
        s_sdp(sdp, sizeof sdp, self->calls[i].caller_port, 0);
        Tandem__MediaOffer offer = TANDEM__MEDIA_OFFER__INIT;
        offer.sdp = sdp;
        td_bus_send_media_offer(self->bus, peer, id, 0, &offer);
    }
}

static void s_on_media_offered(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaOffered *msg)
{
    bench_t *self = arg;
    int i = s_call_index(self, hdr->call_id);
    sdp_media_t m;
    char err[128], sdp[256];
    if (i < 0 || sdp_parse(msg->sdp_caller, strlen(msg->sdp_caller), &m, err, sizeof err) < 0) {
        fprintf(stderr, "rtp_relay: bad MediaOffered for %s\n", hdr->call_id);
        exit(1);
    }
    call_t *call = &self->calls[i];
    call->worker_a.sin_family = AF_INET;
    call->worker_a.sin_addr = m.addr;
    call->worker_a.sin_port = htons(m.port);
    self->offered++;
    s_sdp(sdp, sizeof sdp, call->callee_port, self->callee_pt);
    Tandem__MediaAnswer answer = TANDEM__MEDIA_ANSWER__INIT;
    answer.sdp = sdp;
    td_bus_send_media_answer(self->bus, hdr->peer, hdr->call_id, 1, &answer);
}

static void s_on_media_answered(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaAnswered *msg)
{
    (void)hdr;
    (void)msg;
    bench_t *self = arg;
    if (++self->answered == self->n && !self->started) {
        self->started = 1;
        fprintf(stderr, "rtp_relay: %d calls open; sending for 1 + %d s\n", self->n,
                self->seconds);
        s_prime(self);
        struct timeval tv = { 0, 100000 };
        event_add(self->tick, &tv);
    }
}

static void s_on_media_error(void *arg, const td_bus_hdr_t *hdr, const Tandem__MediaError *msg)
{
    (void)arg;
    fprintf(stderr, "rtp_relay: %s: MediaError %u %s\n", hdr->call_id, msg->cause, msg->reason);
    exit(1);
}

int main(int argc, char **argv)
{
    bench_t self = { .n = 50, .window = 8, .seconds = 5 };
    const char *endpoint = NULL;
    int c;
    while ((c = getopt(argc, argv, "e:n:d:w:p:")) != -1) {
        switch (c) {
        case 'e': endpoint = optarg; break;
        case 'n': self.n = atoi(optarg); break;
        case 'd': self.seconds = atoi(optarg); break;
        case 'w': self.window = atoi(optarg); break;
        case 'p': self.callee_pt = atoi(optarg) == 8 ? 8 : 0; break;
        default:
            fprintf(stderr, "usage: rtp_relay -e ENDPOINT [-n CALLS] [-d SECONDS] [-w WINDOW] [-p 0|8]\n");
            return 1;
        }
    }
    if (!endpoint || self.n < 1 || self.seconds < 1 || self.window < 1) {
        fprintf(stderr, "usage: rtp_relay -e ENDPOINT [-n CALLS] [-d SECONDS] [-w WINDOW] [-p 0|8]\n");
        return 1;
    }
    td_log_init("bench", LOG_WARNING);
    s_bench = &self;
    self.base = event_base_new();
    self.calls = calloc((size_t)self.n, sizeof *self.calls);
    for (int i = 0; i < self.n; i++) {
        call_t *call = &self.calls[i];
        call->caller = s_udp(&call->caller_port);
        call->callee = s_udp(&call->callee_port);
        call->ev = event_new(self.base, call->callee, EV_READ | EV_PERSIST, s_on_readable, call);
        event_add(call->ev, NULL);
    }
    self.tick = event_new(self.base, -1, EV_PERSIST, s_on_tick, &self);
    td_bus_handlers_t h = {
        .on_media_offered = s_on_media_offered,
        .on_media_answered = s_on_media_answered,
        .on_media_error = s_on_media_error,
        .on_peer_up = s_on_peer_up,
    };
    self.bus = td_bus_new(self.base, TD_BUS_BIND, endpoint, "router", "router", 0, &h, &self);
    if (!self.bus)
        return 1;
    struct event *give_up = evtimer_new(self.base, s_on_give_up, &self);
    struct timeval ten = { 10, 0 };
    evtimer_add(give_up, &ten);
    event_base_dispatch(self.base);
    event_free(give_up);

    td_bus_destroy(&self.bus);
    event_free(self.tick);
    for (int i = 0; i < self.n; i++) {
        event_free(self.calls[i].ev);
        close(self.calls[i].caller);
        close(self.calls[i].callee);
    }
    free(self.calls);
    event_base_free(self.base);
    return self.started ? 0 : 1;
}
