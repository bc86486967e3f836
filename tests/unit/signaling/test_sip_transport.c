/* Unit tests for sip_transport: the stream framer as a table (each row an
 * input and the exact verdict), every split point of good messages, and the
 * TCP path end to end on loopback: two messages in one write, a message in
 * one-byte writes, a bad Content-Length answered 400 then closed, non-SIP
 * bytes closed, a partial message closed after the timeout, a refused
 * connect reported. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "sip_transport.h"
#include "td_log.h"

#define MAX 4096

#define REQ(cl_line, body) \
    "INVITE sip:1002@example.com SIP/2.0\r\n" \
    "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1\r\n" \
    "From: <sip:1001@example.com>;tag=1\r\n" \
    "To: <sip:1002@example.com>\r\n" \
    "Call-ID: c1@example.com\r\n" \
    "CSeq: 1 INVITE\r\n" \
    cl_line \
    "\r\n" body

typedef struct {
    const char *name;
    const char *in;
    size_t len;                 /* 0: strlen(in) */
    sip_frame_t want;
    size_t skip, n;             /* n: (size_t)-1 means "the whole input after skip" */
} row_t;

#define ALL ((size_t)-1)

static const char s_resp[] = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\n"
                             "Call-ID: x\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";

static void test_frame_table(void **state)
{
    (void)state;
    static char big_header[MAX + 100];
    memset(big_header, 'a', sizeof big_header - 1);
    memcpy(big_header, "OPTIONS sip:x SIP/2.0\r\nX-Long: ", 31);
    big_header[sizeof big_header - 1] = '\0';
    static char nul_garbage[64] = { 0x16, 0x03, 0x01, 0x00, 0xa5, 0x01 };   /* a TLS ClientHello */
    const row_t rows[] = {
        { "complete, no body", REQ("Content-Length: 0\r\n", ""), 0, SIP_FRAME_MESSAGE, 0, ALL },
        { "complete with body", REQ("Content-Length: 4\r\n", "v=0\n"), 0, SIP_FRAME_MESSAGE, 0, ALL },
        { "compact l:", REQ("l: 4\r\n", "v=0\n"), 0, SIP_FRAME_MESSAGE, 0, ALL },
        { "lower case, blanks", REQ("content-length :  4 \r\n", "v=0\n"), 0, SIP_FRAME_MESSAGE, 0, ALL },
        { "a response", s_resp, 0, SIP_FRAME_MESSAGE, 0, ALL },
        { "keep-alive CRLFs before", "\r\n\r\n" REQ("Content-Length: 0\r\n", ""), 0,
          SIP_FRAME_MESSAGE, 4, ALL },
        { "only keep-alives", "\r\n\r\n\r\n", 0, SIP_FRAME_WAIT, 6, 0 },
        { "empty", "", 0, SIP_FRAME_WAIT, 0, 0 },
        { "body shorter than declared", REQ("Content-Length: 10\r\n", "v=0\n"), 0,
          SIP_FRAME_WAIT, 0, 0 },
        { "headers not finished", "INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n", 0,
          SIP_FRAME_WAIT, 0, 0 },
        { "first line not finished", "INVITE sip:x SIP/2", 0, SIP_FRAME_WAIT, 0, 0 },
        { "missing Content-Length", REQ("", ""), 0, SIP_FRAME_REJECT, 0, ALL },
        { "negative Content-Length", REQ("Content-Length: -4\r\n", ""), 0, SIP_FRAME_REJECT, 0, ALL },
        { "Content-Length not a number", REQ("Content-Length: four\r\n", ""), 0,
          SIP_FRAME_REJECT, 0, ALL },
        { "Content-Length empty", REQ("Content-Length:\r\n", ""), 0, SIP_FRAME_REJECT, 0, ALL },
        { "huge Content-Length", REQ("Content-Length: 99999999999999999999999\r\n", ""), 0,
          SIP_FRAME_REJECT, 0, ALL },
        { "Content-Length past the cap", REQ("Content-Length: 5000\r\n", ""), 0,
          SIP_FRAME_REJECT, 0, ALL },
        { "two Content-Lengths that disagree", REQ("Content-Length: 0\r\nl: 4\r\n", "v=0\n"), 0,
          SIP_FRAME_REJECT, 0, 0 },
        { "header block past the cap", big_header, 0, SIP_FRAME_CLOSE, 0, 0 },
        { "HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, SIP_FRAME_CLOSE, 0, 0 },
        { "binary (TLS on the TCP port)", nul_garbage, 6, SIP_FRAME_CLOSE, 0, 0 },
        { "space first", " INVITE sip:x SIP/2.0\r\n\r\n", 0, SIP_FRAME_CLOSE, 0, 0 },
        { "no version", "INVITE sip:x\r\nContent-Length: 0\r\n\r\n", 0, SIP_FRAME_CLOSE, 0, 0 },
        { "a NUL in the request line", "INV\0TE sip:x SIP/2.0\r\n", 22, SIP_FRAME_CLOSE, 0, 0 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row_t *r = &rows[i];
        size_t len = r->len ? r->len : strlen(r->in), skip = 99, n = 99;
        sip_frame_t f = sip_transport_frame(r->in, len, MAX, &skip, &n);
        if (f != r->want)
            fail_msg("row '%s': verdict %d, want %d", r->name, f, r->want);
        if (f == SIP_FRAME_CLOSE)
            continue;
        if (skip != r->skip)
            fail_msg("row '%s': skip %zu, want %zu", r->name, skip, r->skip);
        if (f == SIP_FRAME_MESSAGE && r->n == ALL && n != len - skip)
            fail_msg("row '%s': n %zu, want %zu", r->name, n, len - skip);
        if (f == SIP_FRAME_REJECT && r->n == ALL) {
            const char *hend = strstr(r->in + skip, "\r\n\r\n");
            if (n != (size_t)(hend + 4 - (r->in + skip)))
                fail_msg("row '%s': reject covers %zu bytes, not the header block", r->name, n);
        }
    }
}

/* Every prefix of a good message waits (dropping only leading CRLFs); the
 * whole is one message; two in a row give the first, then the second. */
static void test_frame_every_split(void **state)
{
    (void)state;
    const char *msgs[] = { REQ("Content-Length: 4\r\n", "v=0\n"), s_resp,
                           "\r\n" REQ("l: 0\r\n", "") };
    for (size_t m = 0; m < 3; m++) {
        size_t len = strlen(msgs[m]), skip, n;
        for (size_t k = 0; k < len; k++) {
            sip_frame_t f = sip_transport_frame(msgs[m], k, MAX, &skip, &n);
            if (f != SIP_FRAME_WAIT)
                fail_msg("message %zu cut at %zu: verdict %d, want WAIT", m, k, f);
        }
        assert_int_equal(sip_transport_frame(msgs[m], len, MAX, &skip, &n), SIP_FRAME_MESSAGE);
        assert_int_equal(skip + n, len);
    }
    char two[1024];
    int l1 = snprintf(two, sizeof two, "%s", msgs[0]);
    snprintf(two + l1, sizeof two - (size_t)l1, "%s", s_resp);
    size_t skip, n;
    assert_int_equal(sip_transport_frame(two, strlen(two), MAX, &skip, &n), SIP_FRAME_MESSAGE);
    assert_int_equal(n, (size_t)l1);
    assert_int_equal(sip_transport_frame(two + n, strlen(two) - n, MAX, &skip, &n),
                     SIP_FRAME_MESSAGE);
    assert_int_equal(n, strlen(s_resp));
}

/* ---- the TCP path ---------------------------------------------------------- */

typedef struct {
    struct event_base *base;
    int udp;
    sip_transport_t *tp;
    struct sockaddr_in tcp;
    int n_input, n_closed;
    char last[512];
    sip_tp_dest_t from;
} fx_t;

static void s_on_input(void *arg, const char *buf, size_t len, const sip_tp_dest_t *from)
{
    fx_t *fx = arg;
    fx->n_input++;
    snprintf(fx->last, sizeof fx->last, "%.*s", (int)len, buf);
    fx->from = *from;
    assert_int_equal(buf[len], '\0');
}

static void s_on_closed(void *arg, uint32_t conn)
{
    (void)conn;
    ((fx_t *)arg)->n_closed++;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->base = event_base_new();
    fx->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fx->udp, (struct sockaddr *)&a, sizeof a), 0);
    sip_transport_handlers_t h = { .on_input = s_on_input, .on_conn_closed = s_on_closed };
    fx->tp = sip_transport_new(fx->base, fx->udp, &h, fx);
    assert_non_null(fx->tp);
    assert_int_equal(sip_transport_listen(fx->tp, SIP_TP_TCP, &a, NULL), 0);
    sip_transport_local_addr(fx->tp, NULL, SIP_TP_TCP, &fx->tcp);
    assert_int_not_equal(fx->tcp.sin_port, 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    sip_transport_destroy(&fx->tp);
    assert_int_equal(event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(fx->base);
    close(fx->udp);
    free(fx);
    return 0;
}

/* Run the loop until cond holds or about two seconds pass. */
#define RUN_UNTIL(fx, cond) do { \
        for (int i_ = 0; i_ < 2000 && !(cond); i_++) { \
            event_base_loop((fx)->base, EVLOOP_ONCE | EVLOOP_NONBLOCK); \
            if (!(cond)) usleep(1000); \
        } \
    } while (0)

static int s_client(fx_t *fx)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&fx->tcp, sizeof fx->tcp), 0);
    return c;
}

/* bytes the client can read now (after the loop ran), or -1 at EOF */
static ssize_t s_read(int c, char *buf, size_t len)
{
    ssize_t n = recv(c, buf, len - 1, MSG_DONTWAIT);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static void test_tcp_two_in_one_write_and_bytewise(void **state)
{
    fx_t *fx = *state;
    int c = s_client(fx);
    const char *m = REQ("Content-Length: 4\r\n", "v=0\n");
    char two[1024];
    snprintf(two, sizeof two, "\r\n\r\n%s%s", m, m);
    assert_int_equal(send(c, two, strlen(two), 0), (ssize_t)strlen(two));
    RUN_UNTIL(fx, fx->n_input == 2);
    assert_int_equal(fx->n_input, 2);
    char pong[8] = "";
    for (int i = 0; i < 2000 && s_read(c, pong, sizeof pong) <= 0; i++) {
        event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
    assert_string_equal(pong, "\r\n");                /* the double-CRLF ping's pong */
    assert_string_equal(fx->last, m);
    assert_int_equal(fx->from.tp, SIP_TP_TCP);
    assert_int_not_equal(fx->from.conn, 0);
    for (const char *p = m; *p; p++) {
        assert_int_equal(send(c, p, 1, 0), 1);
        event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
    RUN_UNTIL(fx, fx->n_input == 3);
    assert_int_equal(fx->n_input, 3);
    assert_string_equal(fx->last, m);

    /* the answer goes back on the same connection */
    sip_tp_dest_t to = fx->from;
    assert_int_equal(sip_transport_send(fx->tp, s_resp, strlen(s_resp), &to), 0);
    assert_int_equal(to.conn, fx->from.conn);
    char buf[1024] = "";
    ssize_t n = 0;
    for (int i = 0; i < 2000 && n <= 0; i++) {
        event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        n = s_read(c, buf, sizeof buf);
        if (n <= 0)
            usleep(1000);
    }
    assert_string_equal(buf, s_resp);
    /* and choosing a transport for that address finds the connection */
    assert_int_equal(sip_transport_choose(fx->tp, &fx->from.addr), SIP_TP_TCP);
    close(c);
    RUN_UNTIL(fx, fx->n_closed == 1);
    assert_int_equal(fx->n_closed, 1);
    /* closed, the address keeps its transport (a BYE reconnects over TCP) */
    assert_int_equal(sip_transport_choose(fx->tp, &fx->from.addr), SIP_TP_TCP);
    struct sockaddr_in other = fx->from.addr;
    other.sin_port = htons(ntohs(other.sin_port) ^ 1);
    assert_int_equal(sip_transport_choose(fx->tp, &other), SIP_TP_UDP);
}

/* A request without Content-Length: 400 on the wire, then EOF. */
static void test_tcp_bad_length_gets_400_and_close(void **state)
{
    fx_t *fx = *state;
    int c = s_client(fx);
    const char *m = REQ("Content-Length: -1\r\n", "");
    assert_int_equal(send(c, m, strlen(m), 0), (ssize_t)strlen(m));
    char buf[2048] = "", got[4096] = "";
    int eof = 0;
    for (int i = 0; i < 2000 && !eof; i++) {
        event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        ssize_t n = s_read(c, buf, sizeof buf);
        if (n == 0)
            eof = 1;
        else if (n > 0)
            strncat(got, buf, sizeof got - strlen(got) - 1);
        else
            usleep(1000);
    }
    assert_true(eof);
    assert_int_equal(fx->n_input, 0);
    assert_int_equal(strncmp(got, "SIP/2.0 400 ", 12), 0);
    assert_non_null(strstr(got, "Call-ID: c1@example.com"));
    close(c);
    RUN_UNTIL(fx, fx->n_closed == 1);
    assert_int_equal(fx->n_closed, 1);
}

/* Not SIP: closed without an answer; nothing reaches the input callback. */
static void test_tcp_garbage_closed(void **state)
{
    fx_t *fx = *state;
    const char *junk[] = { "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x16\x03\x01\x02\x00\x01" };
    for (size_t k = 0; k < 2; k++) {
        int c = s_client(fx);
        assert_true(send(c, junk[k], strlen(junk[k]), 0) > 0);
        char buf[256];
        ssize_t n = -1;
        for (int i = 0; i < 2000 && n != 0; i++) {
            event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
            n = s_read(c, buf, sizeof buf);
            if (n != 0)
                usleep(1000);
        }
        assert_int_equal(n, 0);
        close(c);
    }
    RUN_UNTIL(fx, fx->n_closed == 2);
    assert_int_equal(fx->n_input, 0);
}

/* A partial message that never completes does not hold the connection:
 * it is closed after the first-message timeout (1 s here). */
static void test_tcp_partial_times_out(void **state)
{
    fx_t *fx = *state;
    sip_transport_set_timeouts(fx->tp, 1, 1);
    int c = s_client(fx);
    const char *part = "INVITE sip:1002@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n";
    assert_int_equal(send(c, part, strlen(part), 0), (ssize_t)strlen(part));
    char buf[64];
    ssize_t n = -1;
    for (int i = 0; i < 3000 && n != 0; i++) {
        event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        n = s_read(c, buf, sizeof buf);
        if (n != 0)
            usleep(1000);
    }
    assert_int_equal(n, 0);
    assert_int_equal(fx->n_input, 0);
    close(c);
    RUN_UNTIL(fx, fx->n_closed == 1);
    assert_int_equal(fx->n_closed, 1);
}

/* A connect that is refused is reported as a closed connection. */
static void test_tcp_refused(void **state)
{
    fx_t *fx = *state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);                                   /* a port nobody listens on */
    sip_tp_dest_t to = { .addr = a, .tp = SIP_TP_TCP };
    int rc = sip_transport_send(fx->tp, s_resp, strlen(s_resp), &to);
    if (rc == 0) {
        assert_int_not_equal(to.conn, 0);
        RUN_UNTIL(fx, fx->n_closed == 1);
        assert_int_equal(fx->n_closed, 1);
    }
    sip_transport_stats_t st;
    sip_transport_stats(fx->tp, &st);
    assert_int_equal(st.conns, 0);
}

int main(void)
{
    td_log_init("test", LOG_WARNING);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_table),
        cmocka_unit_test(test_frame_every_split),
        cmocka_unit_test_setup_teardown(test_tcp_two_in_one_write_and_bytewise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_bad_length_gets_400_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_garbage_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_partial_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
