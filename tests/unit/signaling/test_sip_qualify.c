/* Unit tests for sip_qualify: OPTIONS keepalives against a peer played by
 * hand on a UDP socket (the real transaction layer, no core, no bus):
 * Reachable, Lagged, UNREACHABLE, and which peers Dial may use. */
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

#include "sip_conf.h"
#include "sip_msg.h"
#include "sip_qualify.h"
#include "sip_registrar.h"
#include "sip_txn.h"
#include "td_log.h"

typedef struct {
    struct event_base *base;
    int fd, peer;
    struct sockaddr_in sw, pa;
    char dir[64], path[128];
    sip_conf_t *conf;
    sip_txn_layer_t *layer;
    sip_registrar_t *registrar;
    sip_qualify_t *q;
    char last[8192];
    osip_message_t *msg;        /* the last OPTIONS the peer got */
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
    if (txn && sip_qualify_owns(fx->q, sip_txn_owner(txn)))
        sip_qualify_response(fx->q, txn, resp);
}

static void s_on_end(void *arg, sip_txn_t *txn)
{
    fx_t *fx = arg;
    if (sip_qualify_owns(fx->q, sip_txn_owner(txn)))
        sip_qualify_terminated(fx->q, txn);
}

static void s_on_ack_timeout(void *arg, sip_txn_t *txn)
{
    (void)arg; (void)txn;
}

static fx_t *s_start(const char *peer_keys)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->base = event_base_new();
    fx->fd = s_udp(&fx->sw);
    fx->peer = s_udp(&fx->pa);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sip_qualify_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/sip.conf", fx->dir);
    FILE *fp = fopen(fx->path, "w");
    assert_non_null(fp);
    fprintf(fp, "[phone]\ntype=friend\nhost=dynamic\nqualify=yes\n"
            "[plain]\ntype=peer\nhost=127.0.0.1\nport=9\n"
            "[q]\ntype=peer\nhost=127.0.0.1\nport=%d\n%s", ntohs(fx->pa.sin_port), peer_keys);
    fclose(fp);
    char err[256];
    fx->conf = sip_conf_load(fx->path, err, sizeof err);
    assert_non_null(fx->conf);
    sip_txn_handlers_t h = { s_on_request, s_on_response, s_on_end, s_on_ack_timeout, s_on_end };
    fx->layer = sip_txn_layer_new(fx->base, fx->fd, &h, fx);
    assert_non_null(fx->layer);
    sip_txn_layer_set_t1(fx->layer, 5000);
    fx->registrar = sip_registrar_new();
    sip_qualify_env_t env = { fx->base, fx->layer, fx->conf, fx->registrar, s_local, fx };
    fx->q = sip_qualify_new(&env);
    assert_non_null(fx->q);
    return fx;
}

static void s_stop(fx_t *fx)
{
    sip_qualify_destroy(&fx->q);
    sip_txn_layer_destroy(&fx->layer);
    sip_registrar_destroy(&fx->registrar);
    sip_conf_destroy(&fx->conf);
    if (fx->msg)
        osip_message_free(fx->msg);
    close(fx->fd);
    close(fx->peer);
    unlink(fx->path);
    rmdir(fx->dir);
    assert_int_equal(event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(fx->base);
    free(fx);
}

static void s_run(fx_t *fx, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_base_loopexit(fx->base, &tv);
    event_base_dispatch(fx->base);
}

/* Run the loop until the peer gets an OPTIONS or ms pass; 1 if one came. */
static int s_recv(fx_t *fx, int ms)
{
    for (int waited = 0; waited <= ms; waited += 20) {
        ssize_t n = recv(fx->peer, fx->last, sizeof fx->last - 1, 0);
        if (n > 0) {
            fx->last[n] = '\0';
            if (fx->msg)
                osip_message_free(fx->msg);
            fx->msg = NULL;
            assert_int_equal(osip_message_init(&fx->msg), 0);
            assert_int_equal(osip_message_parse(fx->msg, fx->last, (size_t)n), 0);
            assert_string_equal(fx->msg->sip_method, "OPTIONS");
            return 1;
        }
        s_run(fx, 20);
    }
    return 0;
}

static void s_reply(fx_t *fx, int status)
{
    char text[4096], *via = NULL, *from = NULL, *to = NULL, cid[256];
    osip_via_to_str(osip_list_get(&fx->msg->vias, 0), &via);
    osip_from_to_str(fx->msg->from, &from);
    osip_to_to_str(fx->msg->to, &to);
    snprintf(text, sizeof text, "SIP/2.0 %d OK\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=p1\r\n"
             "Call-ID: %s\r\nCSeq: %s %s\r\nContent-Length: 0\r\n\r\n", status, via, from, to,
             sip_msg_call_id(fx->msg, cid, sizeof cid), fx->msg->cseq->number,
             fx->msg->cseq->method);
    osip_free(via);
    osip_free(from);
    osip_free(to);
    assert_int_equal(sendto(fx->peer, text, strlen(text), 0, (struct sockaddr *)&fx->sw,
                            sizeof fx->sw), (ssize_t)strlen(text));
    s_run(fx, 20);
}

/* Answered: Reachable and usable; the next OPTIONS after qualifyfreq; then
 * an answer later than maxms: Lagged, not usable. */
static void test_reachable_then_lagged(void **state)
{
    (void)state;
    fx_t *fx = s_start("qualify=200\nqualifyfreq=1\n");
    const sip_peer_t *q = sip_conf_peer(fx->conf, "q");
    assert_int_equal(sip_qualify_lastms(fx->q, q), 0);
    assert_int_equal(sip_qualify_usable(fx->q, q), 1);        /* unknown: usable */
    assert_true(s_recv(fx, 1000));
    s_reply(fx, 200);
    int ms = sip_qualify_lastms(fx->q, q);
    assert_true(ms >= 1 && ms <= 200);
    assert_int_equal(sip_qualify_usable(fx->q, q), 1);
    assert_false(s_recv(fx, 700));                            /* nothing before a second */
    assert_true(s_recv(fx, 700));
    s_run(fx, 260);
    s_reply(fx, 404);                                         /* any answer counts */
    assert_true(sip_qualify_lastms(fx->q, q) > 200);
    assert_int_equal(sip_qualify_usable(fx->q, q), 0);
    s_stop(fx);
}

/* No answer within 2*maxms: UNREACHABLE (lastms -1), not usable. Peers
 * without qualify= (and a dynamic one not registered) are always usable. */
static void test_unreachable(void **state)
{
    (void)state;
    fx_t *fx = s_start("qualify=100\n");
    const sip_peer_t *q = sip_conf_peer(fx->conf, "q");
    assert_true(s_recv(fx, 1000));
    s_run(fx, 300);
    assert_int_equal(sip_qualify_lastms(fx->q, q), -1);
    assert_int_equal(sip_qualify_usable(fx->q, q), 0);
    assert_int_equal(sip_qualify_usable(fx->q, sip_conf_peer(fx->conf, "plain")), 1);
    assert_int_equal(sip_qualify_lastms(fx->q, sip_conf_peer(fx->conf, "phone")), 0);
    assert_int_equal(sip_qualify_usable(fx->q, sip_conf_peer(fx->conf, "phone")), 1);
    /* a late answer to the abandoned OPTIONS changes nothing */
    s_reply(fx, 200);
    assert_int_equal(sip_qualify_lastms(fx->q, q), -1);
    s_stop(fx);
}

/* A dynamic peer is poked at its registered contact as soon as it registers
 * (state unknown), not at the next round; a refresh does not poke again. */
static void test_registered_peer(void **state)
{
    (void)state;
    fx_t *fx = s_start("");
    const sip_peer_t *phone = sip_conf_peer(fx->conf, "phone");
    assert_false(s_recv(fx, 200));
    char uri[64];
    snprintf(uri, sizeof uri, "sip:phone@127.0.0.1:%d", ntohs(fx->pa.sin_port));
    assert_int_equal(sip_registrar_update(fx->registrar, "phone", uri, &fx->pa, 120,
                                          (long)time(NULL), "c1", 1, 0), 0);
    sip_qualify_registered(fx->q, phone);
    assert_true(s_recv(fx, 200));
    char *ruri = NULL;
    osip_uri_to_str(fx->msg->req_uri, &ruri);
    assert_string_equal(ruri, uri);
    osip_free(ruri);
    s_reply(fx, 200);
    assert_true(sip_qualify_lastms(fx->q, phone) > 0);
    sip_qualify_registered(fx->q, phone);
    assert_false(s_recv(fx, 200));
    s_stop(fx);
}

/* A phone registered through a proxy (supportpath=yes stored its Path): the
 * OPTIONS goes to the Path's first hop with the Path as Route, the contact
 * in the Request-URI (chan_sip's sip_poke_peer copies peer->path). */
static void test_registered_through_path(void **state)
{
    (void)state;
    fx_t *fx = s_start("");
    const sip_peer_t *phone = sip_conf_peer(fx->conf, "phone");
    struct sockaddr_in away = fx->pa;
    away.sin_port = htons(9);                      /* nothing there: only the proxy hears */
    const char *uri = "sip:phone@127.0.0.1:9";
    char path[64];
    snprintf(path, sizeof path, "<sip:127.0.0.1:%d;lr>", ntohs(fx->pa.sin_port));
    assert_int_equal(sip_registrar_update(fx->registrar, "phone", uri, &away, 120,
                                          (long)time(NULL), "c1", 1, 0), 0);
    assert_int_equal(sip_registrar_set_path(fx->registrar, "phone", uri, path), 0);
    sip_qualify_registered(fx->q, phone);
    assert_true(s_recv(fx, 200));
    char *ruri = NULL;
    osip_uri_to_str(fx->msg->req_uri, &ruri);
    assert_string_equal(ruri, uri);
    osip_free(ruri);
    osip_route_t *r = osip_list_get(&fx->msg->routes, 0);
    assert_non_null(r);
    assert_int_equal(atoi(r->url->port), ntohs(fx->pa.sin_port));
    s_reply(fx, 200);
    assert_true(sip_qualify_lastms(fx->q, phone) > 0);
    s_stop(fx);
}

int main(void)
{
    td_log_init("test", LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reachable_then_lagged),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_registered_peer),
        cmocka_unit_test(test_registered_through_path),
    };
    return cmocka_run_group_tests_name("sip_qualify", tests, NULL, NULL);
}
