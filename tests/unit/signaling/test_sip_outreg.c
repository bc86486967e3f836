/* Unit tests for sip_outreg: the registration state machine against a
 * carrier played by hand on a UDP socket (the real transaction layer, no
 * core, no bus), and chan_sip's refresh guard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <osipparser2/osip_parser.h>

#include "sip_auth.h"
#include "sip_conf.h"
#include "sip_msg.h"
#include "sip_outreg.h"
#include "sip_txn.h"
#include "td_log.h"

typedef struct {
    struct event_base *base;
    int fd, carrier;
    struct sockaddr_in sw, ca;
    char dir[64], path[128];
    sip_conf_t *conf;
    sip_txn_layer_t *layer;
    sip_outreg_t *outreg;
    char last[8192];
    osip_message_t *msg;        /* the last REGISTER the carrier got */
} fx_t;

static int s_udp(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &l), 0);
    return fd;
}

static void s_local(void *arg, const struct sockaddr_in *to, struct sockaddr_in *out)
{
    (void)to;
    *out = ((fx_t *)arg)->sw;
}

static void s_on_request(void *arg, sip_txn_t *txn, osip_message_t *req,
                         const struct sockaddr_in *from)
{
    (void)arg; (void)req; (void)from;
    if (txn)
        sip_txn_reply(txn, 501, NULL);
}

static void s_on_response(void *arg, sip_txn_t *txn, osip_message_t *resp)
{
    fx_t *fx = arg;
    if (txn && sip_outreg_owns(fx->outreg, sip_txn_owner(txn)))
        sip_outreg_response(fx->outreg, txn, resp);
}

static void s_on_timeout(void *arg, sip_txn_t *txn)
{
    fx_t *fx = arg;
    if (sip_outreg_owns(fx->outreg, sip_txn_owner(txn)))
        sip_outreg_timeout(fx->outreg, txn);
}

static void s_on_terminated(void *arg, sip_txn_t *txn)
{
    fx_t *fx = arg;
    if (sip_outreg_owns(fx->outreg, sip_txn_owner(txn)))
        sip_outreg_terminated(fx->outreg, txn);
}

static void s_on_ack_timeout(void *arg, sip_txn_t *txn)
{
    (void)arg; (void)txn;
}

/* Start with [general] text plus a register => line to the carrier. */
static fx_t *s_start(const char *general, const char *reg, const char *tail)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->base = event_base_new();
    fx->fd = s_udp(&fx->sw);
    fx->carrier = s_udp(&fx->ca);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sip_outreg_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/sip.conf", fx->dir);
    FILE *fp = fopen(fx->path, "w");
    assert_non_null(fp);
    fprintf(fp, "[general]\n%sregister => %s@127.0.0.1:%d/7000%s\n", general, reg,
            ntohs(fx->ca.sin_port), tail);
    fclose(fp);
    char err[256];
    fx->conf = sip_conf_load(fx->path, err, sizeof err);
    assert_non_null(fx->conf);
    sip_txn_handlers_t h = { s_on_request, s_on_response, s_on_timeout, s_on_ack_timeout,
                             s_on_terminated };
    fx->layer = sip_txn_layer_new(fx->base, fx->fd, &h, fx);
    assert_non_null(fx->layer);
    sip_txn_layer_set_t1(fx->layer, 5000);  /* no retransmissions in these tests */
    sip_outreg_env_t env = { fx->base, fx->layer, fx->conf, s_local, fx };
    fx->outreg = sip_outreg_new(&env);
    assert_non_null(fx->outreg);
    assert_int_equal(sip_outreg_count(fx->outreg), 1);
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_UNREGISTERED);
    sip_outreg_start(fx->outreg);
    return fx;
}

static void s_stop(fx_t *fx)
{
    sip_outreg_destroy(&fx->outreg);
    sip_txn_layer_destroy(&fx->layer);
    sip_conf_destroy(&fx->conf);
    if (fx->msg)
        osip_message_free(fx->msg);
    close(fx->fd);
    close(fx->carrier);
    unlink(fx->path);
    rmdir(fx->dir);
    assert_int_equal(event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(fx->base);
    free(fx);
}

/* Run the loop until the carrier gets a REGISTER or ms pass; 1 if one came. */
static int s_recv(fx_t *fx, int ms)
{
    struct timeval tick = { 0, 20000 };
    for (int waited = 0; waited <= ms; waited += 20) {
        ssize_t n = recv(fx->carrier, fx->last, sizeof fx->last - 1, 0);
        if (n > 0) {
            fx->last[n] = '\0';
            if (fx->msg)
                osip_message_free(fx->msg);
            fx->msg = NULL;
            assert_int_equal(osip_message_init(&fx->msg), 0);
            assert_int_equal(osip_message_parse(fx->msg, fx->last, (size_t)n), 0);
            assert_string_equal(fx->msg->sip_method, "REGISTER");
            return 1;
        }
        event_base_loopexit(fx->base, &tick);
        event_base_dispatch(fx->base);
    }
    return 0;
}

/* The carrier answers the last REGISTER. */
static void s_reply(fx_t *fx, int status, const char *extra)
{
    char text[4096], via[512] = "", from[256], to[256], cseq[64];
    char *s = NULL;
    osip_via_t *v = osip_list_get(&fx->msg->vias, 0);
    osip_via_to_str(v, &s);
    snprintf(via, sizeof via, "%s", s);
    osip_free(s);
    osip_from_to_str(fx->msg->from, &s);
    snprintf(from, sizeof from, "%s", s);
    osip_free(s);
    osip_to_to_str(fx->msg->to, &s);
    snprintf(to, sizeof to, "%s", s);
    osip_free(s);
    snprintf(cseq, sizeof cseq, "%s %s", fx->msg->cseq->number, fx->msg->cseq->method);
    char cid[256];
    sip_msg_call_id(fx->msg, cid, sizeof cid);
    snprintf(text, sizeof text, "SIP/2.0 %d Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=c1\r\n"
             "Call-ID: %s\r\nCSeq: %s\r\n%sContent-Length: 0\r\n\r\n", status, via, from, to,
             cid, cseq, extra);
    assert_int_equal(sendto(fx->carrier, text, strlen(text), 0, (struct sockaddr *)&fx->sw,
                            sizeof fx->sw), (ssize_t)strlen(text));
    struct timeval tick = { 0, 20000 };
    event_base_loopexit(fx->base, &tick);
    event_base_dispatch(fx->base);
}

static const char *s_hdr(fx_t *fx, const char *name)
{
    const char *v = sip_msg_header(fx->msg, name);
    return v ? v : "";
}

static void test_refresh_guard(void **state)
{
    (void)state;
    assert_int_equal(sip_outreg_refresh_ms(120), 105000);   /* 15 s early */
    assert_int_equal(sip_outreg_refresh_ms(31), 16000);
    assert_int_equal(sip_outreg_refresh_ms(30), 24000);     /* 20% */
    assert_int_equal(sip_outreg_refresh_ms(4), 3200);
    assert_int_equal(sip_outreg_refresh_ms(2), 1500);       /* at least 500 ms */
    assert_int_equal(sip_outreg_refresh_ms(1), 500);
    assert_string_equal(sip_outreg_state_str(SIP_OUTREG_AUTHSENT), "Auth. Sent");
    assert_string_equal(sip_outreg_state_str(SIP_OUTREG_NOAUTH), "No Authentication");
}

/* 401, the digest answer, a 200 for 2 s, the refresh with the kept nonce
 * (nc 2) before they run out, then 404: Rejected, and nothing more. */
static void test_challenge_register_refresh_reject(void **state)
{
    (void)state;
    fx_t *fx = s_start("", "alice:pw:auth7", "");
    assert_true(s_recv(fx, 500));
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_REGSENT);
    assert_string_equal(s_hdr(fx, "expires"), "120");
    assert_string_equal(fx->msg->from->url->username, "alice");
    assert_string_equal(fx->msg->to->url->username, "alice");
    osip_contact_t *c = osip_list_get(&fx->msg->contacts, 0);
    assert_string_equal(c->url->username, "7000");
    assert_int_equal(osip_list_size(&fx->msg->authorizations), 0);
    char cid[256], cid2[256];
    sip_msg_call_id(fx->msg, cid, sizeof cid);
    int cseq = atoi(fx->msg->cseq->number);

    s_reply(fx, 401, "WWW-Authenticate: Digest realm=\"carrier\", nonce=\"n0nce\", qop=\"auth\"\r\n");
    assert_true(s_recv(fx, 500));
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_AUTHSENT);
    assert_int_equal(atoi(fx->msg->cseq->number), cseq + 1);
    assert_string_equal(sip_msg_call_id(fx->msg, cid2, sizeof cid2), cid);
    osip_authorization_t *a = osip_list_get(&fx->msg->authorizations, 0);
    assert_non_null(a);
    char user[64], nc[16], cnonce[64], uri[128], resp[64], ha1[33], want[33];
    assert_string_equal(sip_auth_unquote(a->username, user, sizeof user), "auth7");
    sip_auth_unquote(a->nonce_count, nc, sizeof nc);
    sip_auth_unquote(a->cnonce, cnonce, sizeof cnonce);
    sip_auth_unquote(a->uri, uri, sizeof uri);
    sip_auth_unquote(a->response, resp, sizeof resp);
    assert_string_equal(nc, "00000001");
    sip_auth_ha1("auth7", "carrier", "pw", ha1);
    sip_auth_response(ha1, "n0nce", nc, cnonce, "auth", "REGISTER", uri, want);
    assert_string_equal(resp, want);

    s_reply(fx, 200, "Expires: 2\r\n");
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_REGISTERED);
    assert_int_equal(sip_outreg_refresh(fx->outreg, 0), 1);
    /* the refresh: 1.5 s after the 200 */
    time_t t0 = time(NULL);
    assert_true(s_recv(fx, 2500));
    assert_true(time(NULL) - t0 <= 2);
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_AUTHSENT);
    a = osip_list_get(&fx->msg->authorizations, 0);
    assert_non_null(a);
    assert_string_equal(sip_auth_unquote(a->nonce_count, nc, sizeof nc), "00000002");
    assert_int_equal(atoi(fx->msg->cseq->number), cseq + 2);

    s_reply(fx, 404, "");
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_REJECTED);
    assert_false(s_recv(fx, 300));
    s_stop(fx);
}

/* 423 with Min-Expires: asked again for that long; 403: No Authentication. */
static void test_423_then_403(void **state)
{
    (void)state;
    fx_t *fx = s_start("", "bob", "~90");
    assert_true(s_recv(fx, 500));
    assert_string_equal(s_hdr(fx, "expires"), "90");
    s_reply(fx, 423, "Min-Expires: 300\r\n");
    assert_true(s_recv(fx, 500));
    assert_string_equal(s_hdr(fx, "expires"), "300");
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_REGSENT);
    s_reply(fx, 403, "");
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_NOAUTH);
    assert_false(s_recv(fx, 300));
    s_stop(fx);
}

/* No answer: sent again every registertimeout, until registerattempts. */
static void test_timeout_attempts(void **state)
{
    (void)state;
    fx_t *fx = s_start("registertimeout=1\nregisterattempts=2\n", "carol", "");
    assert_true(s_recv(fx, 500));
    int cseq = atoi(fx->msg->cseq->number);
    assert_true(s_recv(fx, 1600));
    assert_int_equal(atoi(fx->msg->cseq->number), cseq + 1);
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_REGSENT);
    assert_false(s_recv(fx, 1500));
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_FAILED);
    s_stop(fx);
}

/* Registered at shutdown: one REGISTER with Expires: 0. */
static void test_unregister(void **state)
{
    (void)state;
    fx_t *fx = s_start("", "dave", "");
    assert_true(s_recv(fx, 500));
    assert_int_equal(sip_outreg_unregister(fx->outreg), 0);    /* not registered yet */
    s_reply(fx, 200, "Contact: <sip:7000@127.0.0.1>;expires=60\r\n");
    assert_int_equal(sip_outreg_refresh(fx->outreg, 0), 45);
    assert_int_equal(sip_outreg_unregister(fx->outreg), 1);
    assert_true(s_recv(fx, 500));
    assert_string_equal(s_hdr(fx, "expires"), "0");
    assert_int_equal(sip_outreg_state(fx->outreg, 0), SIP_OUTREG_UNREGISTERED);
    s_stop(fx);
}

int main(void)
{
    td_log_init("test", LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refresh_guard),
        cmocka_unit_test(test_challenge_register_refresh_reject),
        cmocka_unit_test(test_423_then_403),
        cmocka_unit_test(test_timeout_attempts),
        cmocka_unit_test(test_unregister),
    };
    return cmocka_run_group_tests_name("sip_outreg", tests, NULL, NULL);
}
