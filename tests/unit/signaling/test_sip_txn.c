/* Unit tests for sip_txn: a real event_base, the layer on one UDP socket on
 * 127.0.0.1 and a "peer" socket the test reads and writes by hand. The timer
 * tests run the layer on a fake clock (td_clock.h) with RFC 3261's T1 of
 * 500 ms and assert the exact times of every retransmission and timeout
 * (libuv test-timer.c style); the others use a T1 of a few milliseconds on
 * the real clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "sip_txn.h"
#include "td_clock.h"
#include "td_log.h"

#define T1 5

typedef struct {
    struct event_base *base;
    int fd, peer, peer2;
    struct sockaddr_in layer_addr, peer_addr, peer2_addr;
    sip_txn_layer_t *layer;
    /* what the handlers saw */
    int n_request, n_response, n_timeout, n_ack_timeout, n_terminated;
    int n_null_requests, n_null_responses;
    unsigned long tx_at_request;         /* stats.tx when on_request ran */
    sip_txn_t *txn;                      /* last txn given to on_request */
    sip_txn_t *response_txn;
    sip_txn_t *timeout_txn, *terminated_txn;
    char method[16];
    int status;                          /* last status in on_response */
    int auto_reply;                      /* on_request answers with this */
    sip_txn_t *found_invite;             /* sip_txn_find_invite for a CANCEL */
    int find_ran;
    sip_txn_t **by_index;                /* test_many: txn per Call-ID number */
    size_t n_index;
    td_clock_t *clock;                   /* fake; the layer uses it after s_fake_clock */
    uint64_t timeout_at, ack_timeout_at, terminated_at;   /* its now() in the handlers */
} fx_t;

/* ---- handlers ----------------------------------------------------------- */

static void s_on_request(void *arg, sip_txn_t *txn, osip_message_t *req,
                         const struct sockaddr_in *from)
{
    fx_t *fx = arg;
    sip_txn_stats_t st;
    assert_non_null(req);
    assert_non_null(from);
    sip_txn_layer_stats(fx->layer, &st);
    fx->tx_at_request = st.tx;
    fx->n_request++;
    snprintf(fx->method, sizeof fx->method, "%s", req->sip_method);
    if (!txn) {
        fx->n_null_requests++;
        return;
    }
    fx->txn = txn;
    if (strcmp(req->sip_method, "CANCEL") == 0) {
        fx->find_ran = 1;
        fx->found_invite = sip_txn_find_invite(fx->layer, req);
    }
    if (fx->by_index && req->call_id && req->call_id->number) {
        size_t i = strtoul(req->call_id->number + 1, NULL, 10);
        if (i < fx->n_index)
            fx->by_index[i] = txn;
    }
    if (fx->auto_reply)
        assert_int_equal(sip_txn_reply(txn, fx->auto_reply, "uastag"), 0);
}

static void s_on_response(void *arg, sip_txn_t *txn, osip_message_t *resp)
{
    fx_t *fx = arg;
    fx->n_response++;
    fx->status = resp->status_code;
    fx->response_txn = txn;
    if (!txn)
        fx->n_null_responses++;
}

static void s_on_timeout(void *arg, sip_txn_t *txn)
{
    fx_t *fx = arg;
    fx->n_timeout++;
    fx->timeout_txn = txn;
    fx->timeout_at = td_clock_now_ms(fx->clock);
}

static void s_on_ack_timeout(void *arg, sip_txn_t *txn)
{
    fx_t *fx = arg;
    (void)txn;
    fx->n_ack_timeout++;
    fx->ack_timeout_at = td_clock_now_ms(fx->clock);
}

static void s_on_terminated(void *arg, sip_txn_t *txn)
{
    fx_t *fx = arg;
    fx->n_terminated++;
    fx->terminated_txn = txn;
    fx->terminated_at = td_clock_now_ms(fx->clock);
    if (fx->txn == txn)
        fx->txn = NULL;
}

static const sip_txn_handlers_t s_handlers = {
    s_on_request, s_on_response, s_on_timeout, s_on_ack_timeout, s_on_terminated
};

/* ---- fixture ------------------------------------------------------------ */

static int s_udp(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    socklen_t len = sizeof *addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    td_log_set_level(-1, LOG_ERR);    /* every subsystem: sip_txn logs under txn */
    fx->base = event_base_new();
    assert_non_null(fx->base);
    fx->fd = s_udp(&fx->layer_addr);
    fx->peer = s_udp(&fx->peer_addr);
    fx->peer2 = s_udp(&fx->peer2_addr);
    fx->layer = sip_txn_layer_new(fx->base, fx->fd, &s_handlers, fx);
    assert_non_null(fx->layer);
    sip_txn_layer_set_t1(fx->layer, T1);
    fx->clock = td_clock_new_fake();
    assert_non_null(fx->clock);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    sip_txn_layer_destroy(&fx->layer);
    assert_null(fx->layer);
    assert_int_equal(td_clock_timers(fx->clock), 0);     /* every timer was freed */
    td_clock_destroy(&fx->clock);
    assert_int_equal(event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED), 0);
    close(fx->fd);
    close(fx->peer);
    close(fx->peer2);
    event_base_free(fx->base);
    free(fx->by_index);
    free(fx);
    return 0;
}

/* Run the loop for ms milliseconds. */
static void s_run(fx_t *fx, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_base_loopexit(fx->base, &tv);
    event_base_dispatch(fx->base);
}

/* Let the loop handle whatever is ready now. */
static void s_pump(fx_t *fx)
{
    for (int i = 0; i < 4; i++)
        event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void s_peer_send_to(fx_t *fx, int sock, const char *text, size_t len)
{
    ssize_t n = sendto(sock, text, len, 0, (struct sockaddr *)&fx->layer_addr,
                       sizeof fx->layer_addr);
    assert_int_equal(n, (ssize_t)len);
}

static void s_peer_send(fx_t *fx, const char *text)
{
    s_peer_send_to(fx, fx->peer, text, strlen(text));
}

/* One datagram from sock, waiting up to ms while running the loop; -1 if none. */
static int s_recv_on(fx_t *fx, int sock, char *buf, size_t size, int ms)
{
    for (int waited = 0; ; waited++) {
        ssize_t n = recv(sock, buf, size - 1, 0);
        if (n >= 0) {
            buf[n] = '\0';
            return (int)n;
        }
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        if (waited >= ms)
            return -1;
        s_run(fx, 1);
    }
}

static int s_recv(fx_t *fx, char *buf, size_t size, int ms)
{
    return s_recv_on(fx, fx->peer, buf, size, ms);
}

/* Read everything queued at the peer; count the datagrams starting with prefix. */
static int s_drain(fx_t *fx, const char *prefix)
{
    char buf[70000];
    int n = 0;
    ssize_t len;
    while ((len = recv(fx->peer, buf, sizeof buf - 1, 0)) >= 0) {
        buf[len] = '\0';
        if (!prefix || strncmp(buf, prefix, strlen(prefix)) == 0)
            n++;
    }
    return n;
}

static int s_status(const char *buf)
{
    return strncmp(buf, "SIP/2.0 ", 8) == 0 ? atoi(buf + 8) : 0;
}

/* The text of header `name` (first occurrence) in buf, or "". */
static const char *s_header(const char *buf, const char *name, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = strstr(buf, pat);
    out[0] = '\0';
    if (!p)
        return out;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* A request from the peer; extra headers (with CRLFs) go before Content-Length. */
static void s_request(fx_t *fx, const char *method, const char *branch, const char *callid,
                      int cseq, const char *to_tag, const char *extra)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "%s sip:bob@127.0.0.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
             "Max-Forwards: 70\r\n"
             "From: <sip:alice@127.0.0.1>;tag=alicetag\r\n"
             "To: <sip:bob@127.0.0.1>%s%s\r\n"
             "Call-ID: %s\r\n"
             "CSeq: %d %s\r\n"
             "%s"
             "Content-Length: 0\r\n\r\n",
             method, ntohs(fx->peer_addr.sin_port), branch,
             to_tag ? ";tag=" : "", to_tag ? to_tag : "", callid, cseq, method,
             extra ? extra : "");
    s_peer_send(fx, buf);
}

/* A response from the peer to a request it received (buf), echoing its Via,
 * From, Call-ID and CSeq. */
static void s_respond_to(fx_t *fx, const char *req, int status, const char *to_tag)
{
    char via[512], from[256], to[256], callid[256], cseq[64], out[2048];
    snprintf(out, sizeof out,
             "SIP/2.0 %d Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s%s%s\r\n"
             "Call-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
             status, s_header(req, "Via", via, sizeof via),
             s_header(req, "From", from, sizeof from), s_header(req, "To", to, sizeof to),
             to_tag ? ";tag=" : "", to_tag ? to_tag : "",
             s_header(req, "Call-ID", callid, sizeof callid),
             s_header(req, "CSeq", cseq, sizeof cseq));
    s_peer_send(fx, out);
}

/* An outgoing request built from text and started as a client transaction. */
static sip_txn_t *s_start_client(fx_t *fx, const char *method, const char *extra, void *owner)
{
    char text[2048], branch[64];
    snprintf(text, sizeof text,
             "%s sip:carol@127.0.0.1:%d SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 0.0.0.0;branch=%s\r\n"
             "Max-Forwards: 70\r\n"
             "From: <sip:tandem@127.0.0.1>;tag=ourtag\r\n"
             "To: <sip:carol@127.0.0.1>\r\n"
             "Call-ID: client-%s@127.0.0.1\r\n"
             "CSeq: 1 %s\r\n%s"
             "Content-Length: 0\r\n\r\n",
             method, ntohs(fx->peer_addr.sin_port), sip_txn_branch(branch, sizeof branch),
             branch + 7, method, extra ? extra : "");
    osip_message_t *msg = NULL;
    assert_int_equal(osip_message_init(&msg), 0);
    assert_int_equal(osip_message_parse(msg, text, strlen(text)), 0);
    sip_txn_t *t = sip_txn_request(fx->layer, &msg, &fx->peer_addr, owner);
    assert_null(msg);
    assert_non_null(t);
    return t;
}

static unsigned long s_stat_live(fx_t *fx)
{
    sip_txn_stats_t st;
    sip_txn_layer_stats(fx->layer, &st);
    return st.live;
}

/* ---- the fake clock (timer tests) --------------------------------------- */

#define RFC_T1 500                       /* RFC 3261: T2 = 4 s, T4 = 5 s */

/* Run the layer's timers on fx->clock, with T1 = 500 ms. */
static void s_fake_clock(fx_t *fx)
{
    sip_txn_layer_set_clock(fx->layer, fx->clock);
    sip_txn_layer_set_t1(fx->layer, RFC_T1);
}

/* Everything queued at the peer: the time (now) of each datagram starting
 * with prefix goes to at[*n] (at most max). */
static void s_collect(fx_t *fx, const char *prefix, uint64_t *at, int *n, int max)
{
    char buf[70000];
    ssize_t len;
    while ((len = recv(fx->peer, buf, sizeof buf - 1, 0)) >= 0) {
        buf[len] = '\0';
        if (strncmp(buf, prefix, strlen(prefix)) != 0)
            continue;
        assert_true(*n < max);           /* more than the test expects at all */
        at[(*n)++] = td_clock_now_ms(fx->clock);
    }
}

/* Advance the fake clock to `until` (ms since it started), one due timer at
 * a time, letting the loop run (responses, the reaper) after each; returns
 * the datagrams starting with prefix that the peer got meanwhile, with the
 * time each was sent, in at[]. */
static int s_advance_to(fx_t *fx, uint64_t until, const char *prefix, uint64_t *at, int max)
{
    int n = 0;
    uint64_t due;
    assert_true(until >= td_clock_now_ms(fx->clock));
    while (td_clock_next_due(fx->clock, &due) == 0 && due <= until) {
        td_clock_advance(fx->clock, due - td_clock_now_ms(fx->clock));
        s_pump(fx);
        s_collect(fx, prefix, at, &n, max);
    }
    td_clock_advance(fx->clock, until - td_clock_now_ms(fx->clock));
    s_pump(fx);
    s_collect(fx, prefix, at, &n, max);
    return n;
}

/* at[0..n) == want[0..n), with a message naming the first difference. */
static void s_expect_times(const char *what, const uint64_t *at, int n, const uint64_t *want,
                           int nwant)
{
    for (int i = 0; i < n && i < nwant; i++)
        if (at[i] != want[i])
            fail_msg("%s #%d sent at %llu ms, expected %llu ms", what, i + 1,
                     (unsigned long long)at[i], (unsigned long long)want[i]);
    if (n != nwant)
        fail_msg("%s sent %d times, expected %d (last at %llu ms)", what, n, nwant,
                 n ? (unsigned long long)at[n - 1] : 0ULL);
}

/* ---- server transactions ------------------------------------------------ */

static void test_invite_gets_trying_then_tu(void **state)
{
    fx_t *fx = *state;
    char buf[4096], hdr[256];
    s_request(fx, "INVITE", "z9hG4bKinv1", "call1", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 1);
    assert_string_equal(fx->method, "INVITE");
    assert_non_null(fx->txn);
    assert_int_equal(sip_txn_kind(fx->txn), SIP_TXN_IST);
    assert_int_equal(fx->tx_at_request, 1);          /* 100 went out before the TU ran */
    assert_int_equal(sip_txn_last_status(fx->txn), 100);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 100);
    assert_null(strstr(s_header(buf, "To", hdr, sizeof hdr), "tag="));
    assert_string_equal(s_header(buf, "Call-ID", hdr, sizeof hdr), "call1");
    assert_string_equal(s_header(buf, "CSeq", hdr, sizeof hdr), "1 INVITE");
    assert_non_null(strstr(s_header(buf, "Via", hdr, sizeof hdr), "branch=z9hG4bKinv1"));
    assert_int_equal(s_recv(fx, buf, sizeof buf, 0), -1);
}

static void test_invite_retransmission_resends_last(void **state)
{
    fx_t *fx = *state;
    char buf[4096];
    s_request(fx, "INVITE", "z9hG4bKinv2", "call2", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(s_drain(fx, "SIP/2.0 100"), 1);
    s_request(fx, "INVITE", "z9hG4bKinv2", "call2", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(s_drain(fx, "SIP/2.0 100"), 1);  /* the 100 again */
    assert_int_equal(sip_txn_reply(fx->txn, 180, "uastag"), 0);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 180);
    assert_non_null(strstr(buf, "tag=uastag"));
    s_request(fx, "INVITE", "z9hG4bKinv2", "call2", 1, NULL, NULL);
    s_pump(fx);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 180);
    assert_int_equal(fx->n_request, 1);
    sip_txn_stats_t st;
    sip_txn_layer_stats(fx->layer, &st);
    assert_int_equal(st.retransmits, 2);
    assert_int_equal(st.live, 1);
}

/* IST, a non-2xx final: Timer G resends it at T1, 2T1, 4T1 ... (RFC 3261
 * 17.2.1) until the ACK; then Timer I (T4) ends the transaction. */
static void test_ist_non2xx_until_ack(void **state)
{
    fx_t *fx = *state;
    uint64_t at[16];
    s_fake_clock(fx);
    s_request(fx, "INVITE", "z9hG4bKinv3", "call3", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(s_drain(fx, "SIP/2.0 100"), 1);
    sip_txn_t *t = fx->txn;
    assert_non_null(t);
    assert_int_equal(sip_txn_reply(t, 486, "uastag"), 0);
    assert_int_equal(sip_txn_last_status(t), 486);
    assert_int_equal(s_drain(fx, "SIP/2.0 486"), 1);
    int n = s_advance_to(fx, 2000, "SIP/2.0 486", at, 16);
    s_expect_times("486", at, n, (const uint64_t[]){ 500, 1500 }, 2);
    assert_int_equal(sip_txn_reply(t, 200, "uastag"), -1);   /* past that */
    s_request(fx, "ACK", "z9hG4bKinv3", "call3", 1, "uastag", NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 1);               /* the ACK was absorbed */
    n = s_advance_to(fx, 2000 + 5000 - 1, "SIP/2.0 486", at, 16);
    assert_int_equal(n, 0);                           /* no more 486 */
    assert_int_equal(fx->n_terminated, 0);
    s_advance_to(fx, 2000 + 5000, "SIP/2.0", at, 16); /* Timer I = T4 */
    assert_int_equal(fx->n_request, 1);
    assert_int_equal(fx->n_terminated, 1);
    assert_int_equal(fx->terminated_at, 7000);
    assert_ptr_equal(fx->terminated_txn, t);
    assert_int_equal(s_stat_live(fx), 0);
}

/* IST, a non-2xx nobody ACKs: G doubles up to T2 (4 s), H ends it at 64*T1. */
static void test_ist_non2xx_timer_h(void **state)
{
    fx_t *fx = *state;
    uint64_t at[32];
    s_fake_clock(fx);
    s_request(fx, "INVITE", "z9hG4bKinvh", "callh", 1, NULL, NULL);
    s_pump(fx);
    assert_non_null(fx->txn);
    assert_int_equal(sip_txn_reply(fx->txn, 603, "uastag"), 0);
    s_drain(fx, NULL);
    int n = s_advance_to(fx, 64 * RFC_T1 - 1, "SIP/2.0 603", at, 32);
    s_expect_times("603", at, n, (const uint64_t[]){ 500, 1500, 3500, 7500, 11500, 15500,
                                                      19500, 23500, 27500, 31500 }, 10);
    assert_int_equal(fx->n_terminated, 0);
    n = s_advance_to(fx, 64 * RFC_T1, "SIP/2.0 603", at, 32);
    assert_int_equal(n, 0);
    assert_int_equal(fx->n_terminated, 1);
    assert_int_equal(fx->terminated_at, 32000);
    assert_int_equal(fx->n_ack_timeout, 0);
    assert_int_equal(s_stat_live(fx), 0);
}

static void test_ist_2xx_until_acked(void **state)
{
    fx_t *fx = *state;
    uint64_t at[16];
    s_fake_clock(fx);
    s_request(fx, "INVITE", "z9hG4bKinv4", "call4", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(s_drain(fx, "SIP/2.0 100"), 1);
    sip_txn_t *t = fx->txn;
    assert_non_null(t);
    assert_int_equal(sip_txn_reply(t, 200, "uastag"), 0);
    assert_int_equal(s_drain(fx, "SIP/2.0 200"), 1);
    int n = s_advance_to(fx, 2000, "SIP/2.0 200", at, 16);
    s_expect_times("2xx", at, n, (const uint64_t[]){ 500, 1500 }, 2);
    s_request(fx, "INVITE", "z9hG4bKinv4", "call4", 1, NULL, NULL);
    event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    assert_int_equal(s_drain(fx, "SIP/2.0 100"), 0); /* absorbed, no 100 again */
    assert_int_equal(fx->n_request, 1);
    /* the ACK for a 2xx has its own branch: to the TU with no txn */
    s_request(fx, "ACK", "z9hG4bKack4", "call4", 1, "uastag", NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 2);
    assert_int_equal(fx->n_null_requests, 1);
    assert_string_equal(fx->method, "ACK");
    sip_txn_acked(t);
    s_drain(fx, NULL);
    n = s_advance_to(fx, 64 * RFC_T1 - 1, "SIP/2.0", at, 16);
    assert_int_equal(n, 0);                           /* acked: no more 2xx */
    assert_int_equal(fx->n_terminated, 0);
    s_advance_to(fx, 64 * RFC_T1, "SIP/2.0", at, 16);
    assert_int_equal(fx->n_ack_timeout, 0);
    assert_int_equal(fx->n_terminated, 1);
    assert_int_equal(fx->terminated_at, 32000);
    assert_int_equal(s_stat_live(fx), 0);
}

/* IST, a 2xx whose ACK never comes: resent at T1, 2T1 ... capped at T2,
 * on_ack_timeout and the end at 64*T1. */
static void test_ist_2xx_ack_timeout(void **state)
{
    fx_t *fx = *state;
    uint64_t at[32];
    s_fake_clock(fx);
    fx->auto_reply = 200;
    s_request(fx, "INVITE", "z9hG4bKinv5", "call5", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(s_drain(fx, "SIP/2.0 200"), 1);
    int n = s_advance_to(fx, 64 * RFC_T1, "SIP/2.0 200", at, 32);
    s_expect_times("2xx", at, n, (const uint64_t[]){ 500, 1500, 3500, 7500, 11500, 15500,
                                                      19500, 23500, 27500, 31500 }, 10);
    assert_int_equal(fx->n_ack_timeout, 1);
    assert_int_equal(fx->ack_timeout_at, 32000);
    assert_int_equal(fx->n_terminated, 1);
    assert_int_equal(fx->terminated_at, 32000);
}

static void test_nist_absorbs_retransmission(void **state)
{
    fx_t *fx = *state;
    char buf[4096];
    uint64_t at[4];
    s_fake_clock(fx);
    s_request(fx, "OPTIONS", "z9hG4bKopt1", "callo", 7, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 1);
    assert_int_equal(sip_txn_kind(fx->txn), SIP_TXN_NIST);
    assert_int_equal(s_recv(fx, buf, sizeof buf, 0), -1);   /* no 100 for non-INVITE */
    s_request(fx, "OPTIONS", "z9hG4bKopt1", "callo", 7, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 1);
    assert_int_equal(s_recv(fx, buf, sizeof buf, 0), -1);   /* Trying: nothing to resend */
    sip_txn_t *t = fx->txn;
    assert_int_equal(sip_txn_reply(t, 200, "uastag"), 0);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 200);
    s_request(fx, "OPTIONS", "z9hG4bKopt1", "callo", 7, NULL, NULL);
    s_pump(fx);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 200);
    assert_int_equal(fx->n_request, 1);
    assert_int_equal(sip_txn_reply(t, 404, NULL), -1);
    s_advance_to(fx, 64 * RFC_T1 - 1, "SIP/2.0", at, 4);
    assert_int_equal(fx->n_terminated, 0);
    s_advance_to(fx, 64 * RFC_T1, "SIP/2.0", at, 4);  /* Timer J */
    assert_int_equal(fx->n_terminated, 1);
    assert_int_equal(fx->terminated_at, 32000);
    s_request(fx, "OPTIONS", "z9hG4bKopt1", "callo", 7, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 2);               /* a new transaction now */

    /* The metrics' counts: four OPTIONS in (two of them again for the first
     * transaction), one 200 sent (its resend is a retransmission). */
    const sip_counts_t *c = sip_txn_layer_counts(fx->layer);
    assert_int_equal(c->requests_in[SIP_METHOD_OPTIONS], 4);
    assert_int_equal(c->requests_in[SIP_METHOD_INVITE], 0);
    assert_int_equal(c->retransmits_in, 2);
    assert_int_equal(c->responses_out[SIP_METHOD_OPTIONS][200 - SIP_CODE_MIN], 1);
    assert_int_equal(c->retransmits_out, 1);
    assert_int_equal(sip_method_index("OPTIONS"), SIP_METHOD_OPTIONS);
    assert_int_equal(sip_method_index("options"), SIP_METHOD_OTHER);
    assert_int_equal(sip_method_index("FOO"), SIP_METHOD_OTHER);
    assert_int_equal(sip_method_index(NULL), SIP_METHOD_OTHER);
    assert_string_equal(sip_method_name(SIP_METHOD_PUBLISH), "PUBLISH");
}

static void test_cancel_finds_invite(void **state)
{
    fx_t *fx = *state;
    char buf[4096];
    s_request(fx, "INVITE", "z9hG4bKinv6", "call6", 1, NULL, NULL);
    s_pump(fx);
    sip_txn_t *invite = fx->txn;
    s_drain(fx, NULL);
    s_request(fx, "CANCEL", "z9hG4bKinv6", "call6", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 2);
    assert_string_equal(fx->method, "CANCEL");
    assert_true(fx->find_ran);
    assert_ptr_equal(fx->found_invite, invite);
    sip_txn_t *cancel = fx->txn;
    assert_ptr_not_equal(cancel, invite);
    assert_int_equal(sip_txn_kind(cancel), SIP_TXN_NIST);
    assert_int_equal(s_recv(fx, buf, sizeof buf, 0), -1);   /* the layer did not answer */
    assert_int_equal(sip_txn_reply(cancel, 200, "uastag"), 0);
    assert_int_equal(sip_txn_reply(invite, 487, "uastag"), 0);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 200);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 487);
    /* a CANCEL with another branch matches no INVITE */
    fx->find_ran = 0;
    s_request(fx, "CANCEL", "z9hG4bKother", "call6", 1, NULL, NULL);
    s_pump(fx);
    assert_true(fx->find_ran);
    assert_null(fx->found_invite);
}

static void test_rport_and_received(void **state)
{
    fx_t *fx = *state;
    char buf[4096], hdr[512], want[64];
    /* rport: answer the packet's source, say so in the Via */
    s_peer_send(fx, "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
                    "Via: SIP/2.0/UDP 192.0.2.7:5999;branch=z9hG4bKnat1;rport\r\n"
                    "From: <sip:alice@192.0.2.7>;tag=a\r\nTo: <sip:bob@127.0.0.1>\r\n"
                    "Call-ID: nat1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    s_pump(fx);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 100);
    s_header(buf, "Via", hdr, sizeof hdr);
    assert_non_null(strstr(hdr, "received=127.0.0.1"));
    snprintf(want, sizeof want, "rport=%d", ntohs(fx->peer_addr.sin_port));
    assert_non_null(strstr(hdr, want));
    assert_int_equal(sip_txn_peer(fx->txn)->sin_port, fx->peer_addr.sin_port);
    /* no rport, a sent-by that is not the source: received= and the Via's port */
    snprintf(buf, sizeof buf,
             "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 192.0.2.8:%d;branch=z9hG4bKnat2\r\n"
             "From: <sip:alice@192.0.2.8>;tag=a\r\nTo: <sip:bob@127.0.0.1>\r\n"
             "Call-ID: nat2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
             ntohs(fx->peer2_addr.sin_port));
    s_peer_send(fx, buf);
    s_pump(fx);
    assert_int_equal(sip_txn_reply(fx->txn, 200, "t"), 0);
    assert_int_equal(s_recv(fx, buf, sizeof buf, 0), -1);
    assert_true(s_recv_on(fx, fx->peer2, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 200);
    s_header(buf, "Via", hdr, sizeof hdr);
    assert_non_null(strstr(hdr, "received=127.0.0.1"));
    assert_null(strstr(hdr, "rport"));
    /* sent-by is the source: nothing added */
    s_request(fx, "OPTIONS", "z9hG4bKnat3", "nat3", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(sip_txn_reply(fx->txn, 200, "t"), 0);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_null(strstr(s_header(buf, "Via", hdr, sizeof hdr), "received"));
}

/* nat=force_rport: a request without ;rport is answered at its source port
 * anyway, with received= and rport= in the Via (chan_sip's copy_via_headers):
 * per transaction once the TU knows the peer (sip_txn_force_rport), or for
 * every request with [general]'s setting (sip_txn_layer_set_nat). */
static void test_force_rport(void **state)
{
    fx_t *fx = *state;
    char buf[4096], hdr[512], want[64];
    const char *fmt = "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 192.0.2.8:%d;branch=%s\r\n"
                      "From: <sip:alice@192.0.2.8>;tag=a\r\nTo: <sip:bob@127.0.0.1>\r\n"
                      "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    snprintf(want, sizeof want, "rport=%d", ntohs(fx->peer_addr.sin_port));
    /* the Via names peer2's port; the packet comes from peer's */
    snprintf(buf, sizeof buf, fmt, ntohs(fx->peer2_addr.sin_port), "z9hG4bKfr1", "fr1");
    s_peer_send(fx, buf);
    s_pump(fx);
    sip_txn_force_rport(fx->txn, &fx->peer_addr);
    assert_int_equal(sip_txn_reply(fx->txn, 200, "t"), 0);
    assert_int_equal(s_recv_on(fx, fx->peer2, buf, sizeof buf, 0), -1);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    s_header(buf, "Via", hdr, sizeof hdr);
    assert_non_null(strstr(hdr, "received=127.0.0.1"));
    assert_non_null(strstr(hdr, want));
    /* the layer-wide setting */
    sip_txn_layer_set_nat(fx->layer, 1, NULL, NULL);
    snprintf(buf, sizeof buf, fmt, ntohs(fx->peer2_addr.sin_port), "z9hG4bKfr2", "fr2");
    s_peer_send(fx, buf);
    s_pump(fx);
    assert_int_equal(sip_txn_reply(fx->txn, 200, "t"), 0);
    assert_int_equal(s_recv_on(fx, fx->peer2, buf, sizeof buf, 0), -1);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_non_null(strstr(s_header(buf, "Via", hdr, sizeof hdr), want));
    sip_txn_layer_set_nat(fx->layer, 0, NULL, NULL);
}

static void test_rfc2543_request_matching(void **state)
{
    fx_t *fx = *state;
    /* no magic cookie: matched by Call-ID, CSeq, From-tag and sent-by */
    s_request(fx, "INVITE", "oldbranch1", "old1", 5, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 1);
    sip_txn_t *t = fx->txn;
    assert_int_equal(sip_txn_reply(t, 486, "uastag"), 0);
    s_request(fx, "INVITE", "oldbranch1", "old1", 5, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 1);
    s_request(fx, "ACK", "oldbranch1", "old1", 5, "uastag", NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 1);               /* ACK absorbed */
    s_request(fx, "INVITE", "oldbranch1", "old1", 6, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 2);               /* new CSeq: new transaction */
}

/* ---- client transactions ------------------------------------------------ */

/* ICT nobody answers: Timer A resends the INVITE at T1, 2T1, 4T1 ... with
 * no T2 cap (RFC 3261 17.1.1.2), Timer B times it out at 64*T1 exactly. */
static void test_ict_timer_a_and_b(void **state)
{
    fx_t *fx = *state;
    char buf[4096], hdr[512], want[64];
    uint64_t at[16];
    int owner;
    s_fake_clock(fx);
    sip_txn_t *t = s_start_client(fx, "INVITE", NULL, &owner);
    assert_int_equal(sip_txn_kind(t), SIP_TXN_ICT);
    assert_ptr_equal(sip_txn_owner(t), &owner);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(strncmp(buf, "INVITE sip:carol@", 17), 0);
    /* the layer filled in the Via's sent-by */
    snprintf(want, sizeof want, "127.0.0.1:%d", ntohs(fx->layer_addr.sin_port));
    assert_non_null(strstr(s_header(buf, "Via", hdr, sizeof hdr), want));
    assert_non_null(strstr(hdr, ";rport"));
    int n = s_advance_to(fx, 64 * RFC_T1 - 1, "INVITE ", at, 16);
    s_expect_times("INVITE", at, n, (const uint64_t[]){ 500, 1500, 3500, 7500, 15500, 31500 },
                   6);
    assert_int_equal(fx->n_timeout, 0);               /* not a millisecond early */
    n = s_advance_to(fx, 64 * RFC_T1, "INVITE ", at, 16);
    assert_int_equal(n, 0);
    assert_int_equal(fx->n_timeout, 1);
    assert_int_equal(fx->timeout_at, 32000);
    assert_ptr_equal(fx->timeout_txn, t);
    assert_int_equal(fx->n_terminated, 1);
    assert_ptr_equal(fx->terminated_txn, t);
    assert_int_equal(fx->n_response, 0);
    assert_int_equal(s_stat_live(fx), 0);
}

static void test_ict_non2xx_is_acked(void **state)
{
    fx_t *fx = *state;
    char inv[4096], buf[4096], hdr[512], branch[128];
    uint64_t at[8];
    s_fake_clock(fx);
    sip_txn_t *t = s_start_client(fx, "INVITE", "Route: <sip:proxy.example;lr>\r\n", NULL);
    assert_true(s_recv(fx, inv, sizeof inv, 0) > 0);
    snprintf(branch, sizeof branch, "%s", strstr(s_header(inv, "Via", hdr, sizeof hdr), "branch="));
    branch[strcspn(branch, ";")] = '\0';
    s_respond_to(fx, inv, 100, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_response, 1);
    assert_int_equal(fx->status, 100);
    assert_ptr_equal(fx->response_txn, t);
    s_drain(fx, NULL);
    int n = s_advance_to(fx, 5000, "INVITE ", at, 8);
    assert_int_equal(n, 0);                           /* Proceeding: no more Timer A */
    s_respond_to(fx, inv, 486, "busytag");
    s_pump(fx);
    assert_int_equal(fx->n_response, 2);
    assert_int_equal(fx->status, 486);
    assert_int_equal(sip_txn_last_status(t), 486);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(strncmp(buf, "ACK sip:carol@127.0.0.1:", 24), 0);
    assert_non_null(strstr(s_header(buf, "Via", hdr, sizeof hdr), branch));
    assert_non_null(strstr(s_header(buf, "To", hdr, sizeof hdr), "tag=busytag"));
    assert_string_equal(s_header(buf, "CSeq", hdr, sizeof hdr), "1 ACK");
    assert_non_null(strstr(s_header(buf, "Route", hdr, sizeof hdr), "proxy.example"));
    assert_non_null(strstr(s_header(buf, "From", hdr, sizeof hdr), "tag=ourtag"));
    /* the 486 again: ACK again, the TU hears nothing */
    s_respond_to(fx, inv, 486, "busytag");
    s_pump(fx);
    assert_int_equal(fx->n_response, 2);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(strncmp(buf, "ACK ", 4), 0);
    s_advance_to(fx, 5000 + 32000 - 1, "ACK ", at, 8);
    assert_int_equal(fx->n_terminated, 0);
    s_advance_to(fx, 5000 + 32000, "ACK ", at, 8);    /* Timer D: 32 s on UDP */
    assert_int_equal(fx->n_terminated, 1);
    assert_int_equal(fx->terminated_at, 37000);
    assert_int_equal(fx->n_timeout, 0);
}

static void test_ict_2xx_ends_it(void **state)
{
    fx_t *fx = *state;
    char inv[4096];
    sip_txn_t *t = s_start_client(fx, "INVITE", NULL, NULL);
    assert_true(s_recv(fx, inv, sizeof inv, 0) > 0);
    s_respond_to(fx, inv, 200, "oktag");
    s_pump(fx);
    assert_int_equal(fx->n_response, 1);
    assert_ptr_equal(fx->response_txn, t);
    assert_int_equal(fx->n_terminated, 1);
    assert_int_equal(s_drain(fx, "ACK "), 0);         /* a 2xx is the TU's to ACK */
    s_respond_to(fx, inv, 200, "oktag");             /* retransmitted 200 */
    s_pump(fx);
    assert_int_equal(fx->n_response, 2);
    assert_int_equal(fx->n_null_responses, 1);
    /* a stray non-2xx matches nothing: dropped */
    sip_txn_stats_t st;
    s_respond_to(fx, inv, 486, "x");
    s_pump(fx);
    sip_txn_layer_stats(fx->layer, &st);
    assert_int_equal(fx->n_response, 2);
    assert_int_equal(st.dropped, 1);
}

/* NICT: Timer E at T1, 2T1 ... capped at T2; a final response stops it and
 * Timer K (T4) ends it; Timer F times out one nobody answers at 64*T1. */
static void test_nict_timers(void **state)
{
    fx_t *fx = *state;
    char req[4096];
    uint64_t at[32];
    s_fake_clock(fx);
    sip_txn_t *t = s_start_client(fx, "OPTIONS", NULL, NULL);
    assert_int_equal(sip_txn_kind(t), SIP_TXN_NICT);
    assert_true(s_recv(fx, req, sizeof req, 0) > 0);
    int n = s_advance_to(fx, 8000, "OPTIONS ", at, 32);
    s_expect_times("OPTIONS", at, n, (const uint64_t[]){ 500, 1500, 3500, 7500 }, 4);
    s_respond_to(fx, req, 200, "t");
    s_pump(fx);
    assert_int_equal(fx->n_response, 1);
    s_respond_to(fx, req, 200, "t");
    s_pump(fx);
    assert_int_equal(fx->n_response, 1);              /* absorbed in Completed */
    n = s_advance_to(fx, 8000 + 5000 - 1, "OPTIONS ", at, 32);
    assert_int_equal(n, 0);
    assert_int_equal(fx->n_terminated, 0);
    s_advance_to(fx, 8000 + 5000, "OPTIONS ", at, 32);   /* Timer K = T4 */
    assert_int_equal(fx->n_terminated, 1);
    assert_int_equal(fx->terminated_at, 13000);
    /* and Timer F on one nobody answers, started at 13000 */
    t = s_start_client(fx, "OPTIONS", NULL, NULL);
    assert_int_equal(s_drain(fx, "OPTIONS "), 1);
    n = s_advance_to(fx, 13000 + 64 * RFC_T1, "OPTIONS ", at, 32);
    s_expect_times("OPTIONS", at, n, (const uint64_t[]){ 13500, 14500, 16500, 20500, 24500,
                                                          28500, 32500, 36500, 40500, 44500 },
                   10);
    assert_int_equal(fx->n_timeout, 1);
    assert_int_equal(fx->timeout_at, 13000 + 32000);
    assert_ptr_equal(fx->timeout_txn, t);
    assert_int_equal(fx->n_terminated, 2);
}

static void test_client_cancel(void **state)
{
    fx_t *fx = *state;
    char inv[4096], buf[4096], hdr[512], branch[128];
    uint64_t at[8];
    s_fake_clock(fx);
    sip_txn_t *t = s_start_client(fx, "INVITE", "Route: <sip:proxy.example;lr>\r\n", NULL);
    assert_true(s_recv(fx, inv, sizeof inv, 0) > 0);
    snprintf(branch, sizeof branch, "%s", strstr(s_header(inv, "Via", hdr, sizeof hdr), "branch="));
    branch[strcspn(branch, ";")] = '\0';
    assert_int_equal(sip_txn_cancel(t), 0);          /* held: no provisional yet */
    s_pump(fx);
    assert_int_equal(s_drain(fx, "CANCEL "), 0);
    s_respond_to(fx, inv, 180, "ringtag");
    s_pump(fx);
    assert_int_equal(fx->n_response, 1);
    assert_int_equal(fx->status, 180);
    int got_cancel = 0;
    while (s_recv(fx, buf, sizeof buf, 0) > 0) {
        if (strncmp(buf, "CANCEL ", 7) != 0)
            continue;                                 /* a Timer A INVITE */
        got_cancel = 1;
        assert_int_equal(strncmp(buf, "CANCEL sip:carol@127.0.0.1:", 27), 0);
        assert_non_null(strstr(s_header(buf, "Via", hdr, sizeof hdr), branch));
        assert_string_equal(s_header(buf, "CSeq", hdr, sizeof hdr), "1 CANCEL");
        assert_null(strstr(s_header(buf, "To", hdr, sizeof hdr), "tag="));
        assert_non_null(strstr(s_header(buf, "Route", hdr, sizeof hdr), "proxy.example"));
        assert_string_equal(s_header(buf, "Call-ID", hdr, sizeof hdr),
                            s_header(inv, "Call-ID", hdr + 256, 256));
        s_respond_to(fx, buf, 200, "ringtag");        /* 200 to the CANCEL */
        break;
    }
    assert_true(got_cancel);
    assert_int_equal(sip_txn_cancel(t), 0);          /* once is enough */
    s_pump(fx);
    assert_int_equal(s_drain(fx, "CANCEL "), 0);
    assert_int_equal(fx->n_response, 1);              /* the TU never sees the CANCEL's 200 */
    s_respond_to(fx, inv, 487, "ringtag");
    s_pump(fx);
    assert_int_equal(fx->n_response, 2);
    assert_int_equal(fx->status, 487);
    assert_int_equal(s_drain(fx, "ACK "), 1);
    assert_int_equal(sip_txn_cancel(t), -1);         /* too late now */
    s_advance_to(fx, 64 * RFC_T1, "INVITE ", at, 8);  /* Timer D (and the CANCEL's K) */
    assert_int_equal(fx->n_terminated, 1);            /* only the INVITE's is reported */
    assert_int_equal(fx->terminated_at, 32000);
    assert_int_equal(s_stat_live(fx), 0);
}

static void test_client_request_rejects_bad(void **state)
{
    fx_t *fx = *state;
    const char *text = "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 0.0.0.0;branch=nocookie\r\n"
                       "From: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: r1\r\n"
                       "CSeq: 1 OPTIONS\r\n\r\n";
    osip_message_t *msg = NULL;
    osip_message_init(&msg);
    assert_int_equal(osip_message_parse(msg, text, strlen(text)), 0);
    assert_null(sip_txn_request(fx->layer, &msg, &fx->peer_addr, NULL));
    assert_null(msg);
    assert_null(sip_txn_request(fx->layer, &msg, &fx->peer_addr, NULL));
    assert_int_equal(s_stat_live(fx), 0);
}

static void test_via_filled_on_wildcard_bind(void **state)
{
    fx_t *fx = *state;
    char text[1024], buf[4096], hdr[512], want[64], branch[64];
    struct sockaddr_in any = { .sin_family = AF_INET };   /* 0.0.0.0, any port */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t len = sizeof any;
    assert_int_equal(bind(fd, (struct sockaddr *)&any, sizeof any), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&any, &len), 0);
    sip_txn_handlers_t quiet = { 0 };
    sip_txn_layer_t *layer = sip_txn_layer_new(fx->base, fd, &quiet, NULL);
    assert_non_null(layer);
    snprintf(text, sizeof text,
             "MESSAGE sip:carol@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 0.0.0.0:0;branch=%s\r\n"
             "From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:carol@127.0.0.1>\r\n"
             "Call-ID: any1\r\nCSeq: 1 MESSAGE\r\n\r\n", sip_txn_branch(branch, sizeof branch));
    osip_message_t *msg = NULL;
    osip_message_init(&msg);
    assert_int_equal(osip_message_parse(msg, text, strlen(text)), 0);
    assert_non_null(sip_txn_request(layer, &msg, &fx->peer_addr, NULL));
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    snprintf(want, sizeof want, "SIP/2.0/UDP 127.0.0.1:%d;", ntohs(any.sin_port));
    assert_non_null(strstr(s_header(buf, "Via", hdr, sizeof hdr), want));

    /* Per destination, not the first one ever: toward each of this host's
     * own addresses the kernel's source is that address (a local route), so
     * alternating between them and loopback must give each its own. (One
     * socket connect()ed again and again kept the first source.) */
    struct ifaddrs *ifs = NULL, *i;
    assert_int_equal(getifaddrs(&ifs), 0);
    int checked = 0;
    for (int round = 0; round < 2; round++)
        for (i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                continue;
            struct sockaddr_in to = *(struct sockaddr_in *)i->ifa_addr, me, lo = to;
            to.sin_port = htons(5060);
            lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            lo.sin_port = htons(5060);
            sip_txn_layer_local_addr(layer, &to, &me);
            assert_int_equal(me.sin_addr.s_addr, to.sin_addr.s_addr);
            assert_int_equal(me.sin_port, any.sin_port);
            sip_txn_layer_local_addr(layer, &lo, &me);
            assert_int_equal(me.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
            checked++;
        }
    freeifaddrs(ifs);
    assert_true(checked > 0);
    sip_txn_layer_destroy(&layer);
    close(fd);
}

/* externaddr (sip_extern, through the layer's remap hook): the Via of our
 * requests names the remapped address and its port. */
static void s_remap_to_public(void *arg, const struct sockaddr_in *to, struct sockaddr_in *inout)
{
    (void)arg; (void)to;
    inet_pton(AF_INET, "198.51.100.7", &inout->sin_addr);
    inout->sin_port = htons(5080);
}

static void test_via_remapped(void **state)
{
    fx_t *fx = *state;
    char text[1024], buf[4096], hdr[512], branch[64];
    sip_txn_layer_set_nat(fx->layer, 0, s_remap_to_public, NULL);
    snprintf(text, sizeof text,
             "MESSAGE sip:carol@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 0.0.0.0:0;branch=%s\r\n"
             "From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:carol@127.0.0.1>\r\n"
             "Call-ID: ext1\r\nCSeq: 1 MESSAGE\r\n\r\n", sip_txn_branch(branch, sizeof branch));
    osip_message_t *msg = NULL;
    osip_message_init(&msg);
    assert_int_equal(osip_message_parse(msg, text, strlen(text)), 0);
    assert_non_null(sip_txn_request(fx->layer, &msg, &fx->peer_addr, NULL));
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_non_null(strstr(s_header(buf, "Via", hdr, sizeof hdr),
                           "SIP/2.0/UDP 198.51.100.7:5080;"));
    struct sockaddr_in me;
    sip_txn_layer_local_addr(fx->layer, &fx->peer_addr, &me);
    assert_int_equal(ntohs(me.sin_port), 5080);
    sip_txn_layer_set_nat(fx->layer, 0, NULL, NULL);
}

/* ---- scale -------------------------------------------------------------- */

#define MANY 10000

static void test_many_live_transactions(void **state)
{
    fx_t *fx = *state;
    char buf[2048];
    fx->by_index = calloc(MANY, sizeof *fx->by_index);
    fx->n_index = MANY;
    for (int i = 0; i < MANY; i++) {
        int n = snprintf(buf, sizeof buf,
                 "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKmany%d\r\n"
                 "From: <sip:alice@127.0.0.1>;tag=f%d\r\nTo: <sip:bob@127.0.0.1>\r\n"
                 "Call-ID: c%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                 ntohs(fx->peer_addr.sin_port), i, i, i);
        assert_int_equal(sip_txn_layer_input(fx->layer, buf, (size_t)n, &fx->peer_addr), 0);
    }
    assert_int_equal(fx->n_request, MANY);
    assert_int_equal(s_stat_live(fx), MANY);
    for (int i = 0; i < MANY; i++)
        assert_non_null(fx->by_index[i]);
    /* answer a spread of them, retransmit those requests: each gets its own 200 */
    for (int i = 3; i < MANY; i += 97)
        assert_int_equal(sip_txn_reply(fx->by_index[i], 200, "t"), 0);
    s_drain(fx, NULL);
    for (int i = 3; i < MANY; i += 97) {
        char hdr[64], want[32];
        int n = snprintf(buf, sizeof buf,
                 "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKmany%d\r\n"
                 "From: <sip:alice@127.0.0.1>;tag=f%d\r\nTo: <sip:bob@127.0.0.1>\r\n"
                 "Call-ID: c%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                 ntohs(fx->peer_addr.sin_port), i, i, i);
        assert_int_equal(sip_txn_layer_input(fx->layer, buf, (size_t)n, &fx->peer_addr), 0);
        assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
        assert_int_equal(s_status(buf), 200);
        snprintf(want, sizeof want, "c%d", i);
        assert_string_equal(s_header(buf, "Call-ID", hdr, sizeof hdr), want);
    }
    assert_int_equal(fx->n_request, MANY);           /* all absorbed */
    /* the same branch from another sent-by is another transaction */
    s_request(fx, "OPTIONS", "z9hG4bKmany5", "c5", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, MANY);
    snprintf(buf, sizeof buf,
             "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKmany5\r\n"
             "From: <sip:alice@127.0.0.1>;tag=f5\r\nTo: <sip:bob@127.0.0.1>\r\n"
             "Call-ID: c5\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    s_peer_send(fx, buf);
    s_pump(fx);
    assert_int_equal(fx->n_request, MANY + 1);
    /* teardown destroys them all without calling handlers */
}

/* ---- bad input ---------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *text;
    int rc;              /* sip_txn_layer_input's answer */
    int status;          /* what the peer gets, 0 = nothing */
    const char *reason;  /* a word the reason phrase must hold */
} bad_row_t;

#define HDRS "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKbad\r\n" \
             "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n"

static const bad_row_t s_bad_rows[] = {
    { "garbage", "hello world, this is not SIP", -1, 0, NULL },
    { "binary", "\x01\x02\xff\xfe\r\n\r\n\x00\x7f", -1, 0, NULL },
    { "keepalive", "\r\n\r\n", 0, 0, NULL },
    { "missing Call-ID", "INVITE sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "CSeq: 1 INVITE\r\n\r\n", 0, 400, "Call-ID" },
    { "missing CSeq", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "Call-ID: x\r\n\r\n", 0, 400, "CSeq" },
    /* (another method with a CSeq mismatch is the TU's to answer: 501 or 400) */
    { "ACK with a CSeq method mismatch", "ACK sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 BYE\r\n\r\n", -1, 0, NULL },
    { "CSeq number of 2**31", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: 2147483648 OPTIONS\r\n\r\n", 0, 400, "CSeq" },
    { "NUL outside a quoted string", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "Call-ID: x\x01\r\nCSeq: 1 OPTIONS\r\n\r\n", -1, 0, NULL },
    { "trailing blanks after the version (RFC 4475 3.1.2.10)",
      "OPTIONS sip:b@127.0.0.1 SIP/2.0  \r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", 0, 400, "Bad Request" },
    { "request line without a Request-URI", "OPTIONS SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", 0, 400, "Bad Request" },
    { "unparsable non-SIP Request-URI (RFC 4475 3.3.3)",
      "OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", 0, 416, "Unsupported URI" },
    { "Contact URI with headers outside <> (RFC 4475 3.1.2.13)",
      "REGISTER sip:127.0.0.1 SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 REGISTER\r\nContact: sip:a@b?Route=%%3Csip:c%%3E\r\n\r\n",
      0, 400, "Outside" },
    { "stray 200 to an INVITE (RFC 4475 3.1.1.12)", "SIP/2.0 200 OK\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", -1, 0, NULL },
    { "CSeq not a number", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: abc OPTIONS\r\n\r\n", 0, 400, "CSeq" },
    { "missing To", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKbad\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n"
      "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", 0, 400, "To" },
    { "missing Via", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n"
      "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n"
      "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", -1, 0, NULL },
    { "ACK missing Call-ID", "ACK sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "CSeq: 1 ACK\r\n\r\n", -1, 0, NULL },
    { "header without colon", "INVITE sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 INVITE\r\nNoColonHere\r\n\r\n", 0, 400, "Bad Request" },
    { "bad Request-URI", "INVITE nonsense SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", 0, 400, "Bad Request" },
    { "truncated after the needed headers", "INVITE sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:50", 0, 400, "Bad Request" },
    { "truncated before Call-ID", "INVITE sip:b@127.0.0.1 SIP/2.0\r\n" HDRS
      "Call-I", -1, 0, NULL },
    { "unparsable ACK", "ACK nonsense SIP/2.0\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 ACK\r\n\r\n", -1, 0, NULL },
    { "response with a bad status", "SIP/2.0 999 Nope\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", -1, 0, NULL },
    { "response matching nothing", "SIP/2.0 180 Ringing\r\n" HDRS
      "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", -1, 0, NULL },
    { "response without Via", "SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\n"
      "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", -1, 0, NULL },
};

static void test_malformed_input(void **state)
{
    fx_t *fx = *state;
    char text[4096], buf[4096];
    for (size_t i = 0; i < sizeof s_bad_rows / sizeof s_bad_rows[0]; i++) {
        const bad_row_t *row = &s_bad_rows[i];
        sip_txn_stats_t before, after;
        int n;
        if (strstr(row->text, "%d"))
            n = snprintf(text, sizeof text, row->text, ntohs(fx->peer_addr.sin_port));
        else
            n = snprintf(text, sizeof text, "%s", row->text);
        if (strcmp(row->name, "binary") == 0)
            n = 10;                                   /* with its NUL byte */
        if (strcmp(row->name, "NUL outside a quoted string") == 0)
            *strchr(text, '\x01') = '\0';
        sip_txn_layer_stats(fx->layer, &before);
        int rc = sip_txn_layer_input(fx->layer, text, (size_t)n, &fx->peer_addr);
        sip_txn_layer_stats(fx->layer, &after);
        print_message("  row: %s\n", row->name);
        assert_int_equal(rc, row->rc);
        int got = s_recv(fx, buf, sizeof buf, 0);
        if (row->status) {
            assert_true(got > 0);
            assert_int_equal(s_status(buf), row->status);
            buf[strcspn(buf, "\r\n")] = '\0';
            assert_non_null(strstr(buf, row->reason));
            assert_int_equal(after.bad_requests, before.bad_requests + 1);
            assert_int_equal(after.dropped, before.dropped);
        } else {
            assert_int_equal(got, -1);
            assert_int_equal(after.dropped, before.dropped + (row->rc != 0));
        }
    }
    assert_int_equal(fx->n_request, 0);
    assert_int_equal(s_stat_live(fx), 0);
    /* the stateless 400 to a raw request copies the lines it needs */
    snprintf(text, sizeof text, "INVITE nonsense SIP/2.0\r\n" HDRS
             "i: compact-id\r\nCSeq: 4 INVITE\r\n\r\n", ntohs(fx->peer_addr.sin_port));
    sip_txn_layer_input(fx->layer, text, strlen(text), &fx->peer_addr);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 400);
    assert_non_null(strstr(buf, "\r\ni: compact-id\r\n"));
    assert_non_null(strstr(buf, "\r\nCSeq: 4 INVITE\r\n"));
    assert_non_null(strstr(buf, "branch=z9hG4bKbad"));
    assert_non_null(strstr(buf, "\r\nContent-Length: 0\r\n\r\n"));
    /* oversize and empty datagrams */
    assert_int_equal(sip_txn_layer_input(fx->layer, text, 0, &fx->peer_addr), -1);
    assert_int_equal(sip_txn_layer_input(fx->layer, text, 70000, &fx->peer_addr), -1);
    /* a normal call still works afterwards */
    s_request(fx, "INVITE", "z9hG4bKgood", "good", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 1);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 100);
}

static void test_mutated_input_never_crashes(void **state)
{
    fx_t *fx = *state;
    char base[1024], text[1024];
    int len = snprintf(base, sizeof base,
             "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKfuzz;rport\r\n"
             "From: \"A\" <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\n"
             "Call-ID: fuzz@x\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1>\r\n"
             "Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n",
             ntohs(fx->peer_addr.sin_port));
    static const char alphabet[] = ":;,<>\"\r\n \t=@0z9SIP/2.";
    srand(4475);
    sip_txn_handlers_t quiet = { 0 };
    sip_txn_layer_t *layer = sip_txn_layer_new(fx->base, fx->fd, &quiet, NULL);
    assert_non_null(layer);
    sip_txn_layer_set_t1(layer, T1);
    for (int round = 0; round < 3000; round++) {
        memcpy(text, base, (size_t)len);
        int n = len;
        for (int k = 1 + rand() % 4; k > 0; k--) {
            if (n < 2)
                break;
            int pos = rand() % n;
            switch (rand() % 4) {
            case 0: text[pos] = alphabet[rand() % (sizeof alphabet - 1)]; break;
            case 1: text[pos] = (char)(rand() & 0xff); break;
            case 2: n = pos + 1; break;                          /* truncate */
            case 3: memmove(text + pos, text + pos + 1, (size_t)(n - pos - 1)); n--; break;
            }
        }
        if (round % 2)
            memcpy(text, "SIP/2.0 200 OK\r\n", 16);   /* as a response */
        sip_txn_layer_input(layer, text, (size_t)n, &fx->peer_addr);
    }
    s_drain(fx, NULL);
    sip_txn_layer_destroy(&layer);
}

/* ---- admission control (sip_txn_layer_set_admit) ------------------------- */

static int s_admit_answer;               /* what the admit hook returns */
static int s_admit_asked;

static int s_admit(void *arg)
{
    (void)arg;
    s_admit_asked++;
    return s_admit_answer;
}

static void test_admit_sheds_new_invite_stateless(void **state)
{
    fx_t *fx = *state;
    char buf[4096], hdr[256], tag[64];
    sip_txn_layer_set_admit(fx->layer, s_admit, fx);
    s_admit_answer = 3;
    s_admit_asked = 0;
    s_request(fx, "INVITE", "z9hG4bKshed1", "shed1@host", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(s_admit_asked, 1);
    assert_int_equal(fx->n_request, 0);              /* the TU never hears of it */
    assert_int_equal(s_stat_live(fx), 0);            /* no transaction */
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 503);            /* no 100 first */
    assert_string_equal(s_header(buf, "Retry-After", hdr, sizeof hdr), "3");
    assert_string_equal(s_header(buf, "Call-ID", hdr, sizeof hdr), "shed1@host");
    assert_string_equal(s_header(buf, "CSeq", hdr, sizeof hdr), "1 INVITE");
    assert_non_null(strstr(s_header(buf, "Via", hdr, sizeof hdr), "branch=z9hG4bKshed1"));
    const char *t = strstr(s_header(buf, "To", hdr, sizeof hdr), ";tag=");
    assert_non_null(t);
    snprintf(tag, sizeof tag, "%s", t + 5);
    assert_int_equal(s_recv(fx, buf, sizeof buf, 0), -1);
    /* its ACK is dropped without the TU */
    s_request(fx, "ACK", "z9hG4bKshed1", "shed1@host", 1, tag, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 0);
    sip_txn_stats_t st;
    sip_txn_layer_stats(fx->layer, &st);
    assert_int_equal(st.shed, 1);
    assert_int_equal(st.shed_acks, 1);
    /* in-dialog requests and other methods are never asked about */
    s_request(fx, "INVITE", "z9hG4bKre1", "dlg1", 2, "theirtag", NULL);
    s_request(fx, "BYE", "z9hG4bKbye1", "dlg1", 3, "theirtag", NULL);
    s_request(fx, "OPTIONS", "z9hG4bKopt1", "opt1", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(s_admit_asked, 1);
    assert_int_equal(fx->n_request, 3);
}

/* An admitted INVITE's retransmission finds its transaction, whatever the
 * hook would say now: the raw key is the parsed one. */
static void s_admitted_then_retransmitted(fx_t *fx, const char *text)
{
    char buf[4096];
    int before = fx->n_request;
    s_admit_answer = 0;
    s_admit_asked = 0;
    s_peer_send(fx, text);
    s_pump(fx);
    assert_int_equal(s_admit_asked, 1);              /* asked once, before or after parsing */
    assert_int_equal(fx->n_request, before + 1);
    assert_int_equal(s_drain(fx, "SIP/2.0 100"), 1);
    s_admit_answer = 2;
    s_peer_send(fx, text);
    s_pump(fx);
    assert_int_equal(s_admit_asked, 1);              /* a retransmission: not asked */
    assert_int_equal(fx->n_request, before + 1);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 100);            /* the transaction's last answer */
    sip_txn_stats_t st;
    sip_txn_layer_stats(fx->layer, &st);
    assert_int_equal(st.shed, 0);
}

static void test_admit_keeps_retransmissions(void **state)
{
    fx_t *fx = *state;
    char text[2048];
    int port = ntohs(fx->peer_addr.sin_port);
    sip_txn_layer_set_admit(fx->layer, s_admit, fx);
    /* plain */
    snprintf(text, sizeof text,
             "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKr1\r\n"
             "From: <sip:a@h>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: r1@Host.Example\r\n"
             "CSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\nContent-Length: 0\r\n\r\n", port);
    s_admitted_then_retransmitted(fx, text);
    /* compact names, an upper-case host, a Call-ID without '@', rport, two Vias in one line */
    snprintf(text, sizeof text,
             "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
             "v: SIP/2.0/UDP LocalHost:%d ; rport;branch=z9hG4bKr2 , SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n"
             "f: <sip:a@h>;tag=1\r\nt: sip:bob@127.0.0.1\r\ni:  r2 \r\n"
             "CSeq: 1 INVITE\r\nm: <sip:a@127.0.0.1>\r\nl: 0\r\n\r\n", port);
    s_admitted_then_retransmitted(fx, text);
    /* no port in the Via (5060) and a To tag-like URI parameter */
    snprintf(text, sizeof text,
             "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKr3;rport\r\n"
             "From: <sip:a@h>;tag=1\r\nTo: <sip:bob@127.0.0.1;tag=x>\r\nCall-ID: r3@h\r\n"
             "CSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\nContent-Length: 0\r\n\r\n");
    s_admitted_then_retransmitted(fx, text);
    /* a folded header: decided after parsing, still once */
    snprintf(text, sizeof text,
             "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKr4\r\n"
             "From: <sip:a@h>;tag=1\r\nTo:\r\n <sip:bob@127.0.0.1>\r\nCall-ID: r4@h\r\n"
             "CSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\nContent-Length: 0\r\n\r\n", port);
    s_admitted_then_retransmitted(fx, text);
}

/* A request sip_raw_head leaves to the parser is shed after parsing, with
 * the same stateless 503, and its ACK is dropped too. */
static void test_admit_sheds_after_parsing(void **state)
{
    fx_t *fx = *state;
    char buf[4096], hdr[256], text[2048];
    sip_txn_layer_set_admit(fx->layer, s_admit, fx);
    s_admit_answer = 4;
    s_admit_asked = 0;
    snprintf(text, sizeof text,
             "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKp1\r\n"
             "From: <sip:a@h>;tag=1\r\nTo:\r\n <sip:bob@127.0.0.1>\r\nCall-ID: p1@h\r\n"
             "CSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\nContent-Length: 0\r\n\r\n",
             ntohs(fx->peer_addr.sin_port));
    s_peer_send(fx, text);
    s_pump(fx);
    assert_int_equal(s_admit_asked, 1);
    assert_int_equal(fx->n_request, 0);
    assert_int_equal(s_stat_live(fx), 0);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 503);
    assert_string_equal(s_header(buf, "Retry-After", hdr, sizeof hdr), "4");
    const char *t = strstr(s_header(buf, "To", hdr, sizeof hdr), ";tag=td503x");
    assert_non_null(t);
    char tag[64];
    snprintf(tag, sizeof tag, "%s", t + 5);
    snprintf(text, sizeof text,
             "ACK sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKp1\r\n"
             "From: <sip:a@h>;tag=1\r\nTo:\r\n <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: p1@h\r\n"
             "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", ntohs(fx->peer_addr.sin_port), tag);
    s_peer_send(fx, text);
    s_pump(fx);
    assert_int_equal(fx->n_request, 0);
    sip_txn_stats_t st;
    sip_txn_layer_stats(fx->layer, &st);
    assert_int_equal(st.shed, 1);
    assert_int_equal(st.shed_acks, 1);
}

/* Issue 12: past max_transactions a new request gets a stateless 503 with
 * Retry-After (its ACK dropped), counted; live transactions go on, and a
 * slot freed lets the next one in. */
static void test_max_transactions(void **state)
{
    fx_t *fx = *state;
    char buf[4096], hdr[256], tag[64], branch[32], cid[32];
    sip_txn_layer_set_max(fx->layer, 3);
    for (int i = 0; i < 3; i++) {
        snprintf(branch, sizeof branch, "z9hG4bKcap%d", i);
        snprintf(cid, sizeof cid, "cap%d", i);
        s_request(fx, "OPTIONS", branch, cid, 1, NULL, NULL);
    }
    s_pump(fx);
    assert_int_equal(fx->n_request, 3);
    assert_int_equal(s_stat_live(fx), 3);
    s_request(fx, "OPTIONS", "z9hG4bKcapx", "capx", 1, NULL, NULL);
    s_request(fx, "INVITE", "z9hG4bKcapi", "capi", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 3);              /* the TU never hears of them */
    assert_int_equal(s_stat_live(fx), 3);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 503);
    assert_string_equal(s_header(buf, "Retry-After", hdr, sizeof hdr), "5");
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 503);            /* the INVITE: no 100 first */
    assert_string_equal(s_header(buf, "Call-ID", hdr, sizeof hdr), "capi");
    const char *t = strstr(s_header(buf, "To", hdr, sizeof hdr), ";tag=");
    assert_non_null(t);
    snprintf(tag, sizeof tag, "%s", t + 5);
    s_request(fx, "ACK", "z9hG4bKcapi", "capi", 1, tag, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 3);              /* its ACK dropped */
    sip_txn_stats_t st;
    sip_txn_layer_stats(fx->layer, &st);
    assert_int_equal(st.capped, 2);
    /* a retransmission of a live one is still absorbed by it */
    assert_int_equal(sip_txn_reply(fx->txn, 200, "t"), 0);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    s_request(fx, "OPTIONS", "z9hG4bKcap2", "cap2", 1, NULL, NULL);
    s_pump(fx);
    assert_true(s_recv(fx, buf, sizeof buf, 0) > 0);
    assert_int_equal(s_status(buf), 200);
    /* no cap: taken */
    sip_txn_layer_set_max(fx->layer, 0);
    s_request(fx, "OPTIONS", "z9hG4bKcapy", "capy", 1, NULL, NULL);
    s_pump(fx);
    assert_int_equal(fx->n_request, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_invite_gets_trying_then_tu),
        T(test_invite_retransmission_resends_last),
        T(test_ist_non2xx_until_ack),
        T(test_ist_non2xx_timer_h),
        T(test_ist_2xx_until_acked),
        T(test_ist_2xx_ack_timeout),
        T(test_nist_absorbs_retransmission),
        T(test_cancel_finds_invite),
        T(test_rport_and_received),
        T(test_force_rport),
        T(test_via_remapped),
        T(test_rfc2543_request_matching),
        T(test_ict_timer_a_and_b),
        T(test_ict_non2xx_is_acked),
        T(test_ict_2xx_ends_it),
        T(test_nict_timers),
        T(test_client_cancel),
        T(test_client_request_rejects_bad),
        T(test_via_filled_on_wildcard_bind),
        T(test_many_live_transactions),
        T(test_malformed_input),
        T(test_mutated_input_never_crashes),
        T(test_admit_sheds_new_invite_stateless),
        T(test_admit_keeps_retransmissions),
        T(test_admit_sheds_after_parsing),
        T(test_max_transactions),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
