/* Unit tests for the signaling core and call legs: the real transaction
 * layer on a UDP socket on 127.0.0.1, a "phone" socket the test writes and
 * reads by hand, and the bus fake in place of the router. Every step sends a
 * datagram (or delivers a bus message), runs the loop without blocking, and
 * checks what came back on each side. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
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
#include "sip_legs.h"
#include "sip_core.h"
#include "td_bus_fake.h"
#include "td_hrw.h"
#include "td_log.h"

typedef struct {
    struct event_base *base;
    int fd, phone;
    struct sockaddr_in sw, ph;
    char dir[64], path[128];
    sip_conf_t *conf;
    sip_core_t *core;
    td_bus_t *bus;              /* the fake the core created */
    int branch;
    int same_branch;            /* next request reuses the last branch (ACK of a non-2xx) */
    char last[8192];            /* last datagram the phone got */
    osip_message_t *msg;        /* ... parsed */
    const char *rr;             /* a Record-Route line s_respond adds (CRLF-ended), or NULL */
} fx_t;

static const char *s_conf_text =
    "[general]\n"
    "realm=tandem\n"
    "context=guests\n"
    "allowguest=no\n"
    "minexpiry=60\n"
    "maxexpiry=3600\n"
    "defaultexpiry=120\n"
    "session-minse=2\n"
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
    "[1004](phone)\n"
    "secret=1004pass\n"
    "defaultuser=alice\n"
    "[1005](phone)\n"
    "secret=1005pass\n"
    "disallow=all\n"
    "allow=alaw\n"
    "[1006](phone)\n"
    "secret=1006pass\n"
    "supportpath=yes\n"
    "[g729]\n"
    "type=peer\n"
    "host=127.0.0.3\n"
    "disallow=all\n"
    "allow=g729\n"
    "[trunk]\n"
    "type=peer\n"
    "host=127.0.0.2\n"
    "insecure=port,invite\n"
    "context=from-trunk\n";

static const char *s_sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                           "t=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/* ---- plumbing -------------------------------------------------------------- */

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

static void s_pump(fx_t *fx)
{
    for (int i = 0; i < 5; i++)
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
}

static void s_send_raw(fx_t *fx, const char *text)
{
    ssize_t n = sendto(fx->phone, text, strlen(text), 0, (struct sockaddr *)&fx->sw, sizeof fx->sw);
    assert_int_equal(n, (ssize_t)strlen(text));
    s_pump(fx);
}

/* Send a request from the phone. to_tag may be NULL; extra is a block of
 * header lines ending in CRLF (or ""); body may be NULL. */
static void s_request(fx_t *fx, const char *method, const char *ruri, const char *from_user,
                      const char *call_id, int cseq, const char *to_tag, const char *extra,
                      const char *body)
{
    char text[8192], to[128];
    int port = ntohs(fx->ph.sin_port);
    if (!strcmp(method, "REGISTER"))
        snprintf(to, sizeof to, "<sip:%s@127.0.0.1>", from_user);
    else if (to_tag)
        snprintf(to, sizeof to, "<%s>;tag=%s", ruri, to_tag);
    else
        snprintf(to, sizeof to, "<%s>", ruri);
    snprintf(text, sizeof text,
             "%s %s SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKtest%d;rport\r\n"
             "Max-Forwards: 70\r\n"
             "From: \"Phone\" <sip:%s@127.0.0.1>;tag=ft-%s\r\n"
             "To: %s\r\n"
             "Call-ID: %s\r\n"
             "CSeq: %d %s\r\n"
             "Contact: <sip:%s@127.0.0.1:%d>\r\n"
             "%s"
             "%s"
             "Content-Length: %zu\r\n\r\n%s",
             method, ruri, port, fx->same_branch ? fx->branch : ++fx->branch, from_user, call_id, to, call_id, cseq, method,
             from_user, port, extra ? extra : "",
             body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : (size_t)0,
             body ? body : "");
    s_send_raw(fx, text);
}

static int s_next(fx_t *fx, int skip_100);

/* After the ACK of the final in fx->last: under load Timer G (T1 is 5 ms
 * here) can fire in the same pump as the ACK is read, before it. Drop the
 * copies of the final already queued, or one would be taken for the next
 * answer. */
static void s_drop_resent(fx_t *fx)
{
    char copy[sizeof fx->last];
    ssize_t n;
    while ((n = recv(fx->phone, copy, sizeof copy - 1, MSG_PEEK)) > 0
           && (size_t)n == strlen(fx->last) && !memcmp(copy, fx->last, (size_t)n))
        (void)recv(fx->phone, copy, sizeof copy, 0);
}

/* ACK the non-2xx final in fx->msg for the INVITE sent last (same branch). */
static void s_ack_final(fx_t *fx, const char *ruri, const char *from_user, const char *call_id)
{
    char tag[64];
    int cseq = atoi(fx->msg->cseq->number);
    osip_generic_param_t *p = NULL;
    osip_to_get_tag(fx->msg->to, &p);
    snprintf(tag, sizeof tag, "%s", p && p->gvalue ? p->gvalue : "");
    fx->same_branch = 1;
    s_request(fx, "ACK", ruri, from_user, call_id, cseq, tag, NULL, NULL);
    fx->same_branch = 0;
    s_drop_resent(fx);
}

/* The next datagram for the phone, parsed into fx->msg; skip_100 drops
 * 100 Trying. Returns the status (0 for a request), -1 if nothing came. */
static int s_next(fx_t *fx, int skip_100)
{
    for (;;) {
        if (fx->msg) {
            osip_message_free(fx->msg);
            fx->msg = NULL;
        }
        ssize_t n = recv(fx->phone, fx->last, sizeof fx->last - 1, 0);
        if (n <= 0)
            return -1;
        fx->last[n] = '\0';
        osip_message_init(&fx->msg);
        int rc = osip_message_parse(fx->msg, fx->last, (size_t)n);
        if (rc != 0)
            print_message("unparsable datagram to the phone:\n%s\n", fx->last);
        assert_int_equal(rc, 0);
        int status = MSG_IS_REQUEST(fx->msg) ? 0 : fx->msg->status_code;
        if (status == 100 && skip_100)
            continue;
        return status;
    }
}

static const char *s_hdr(fx_t *fx, const char *name)
{
    osip_header_t *h = NULL;
    if (osip_message_header_get_byname(fx->msg, name, 0, &h) < 0 || !h)
        return NULL;
    return h->hvalue;
}

static const char *s_to_tag(fx_t *fx)
{
    osip_generic_param_t *p = NULL;
    osip_to_get_tag(fx->msg->to, &p);
    return p ? p->gvalue : NULL;
}

/* The answer to the request with CSeq cseq: a retransmission of the
 * previous request's 401 (T1 is 5 ms here) may come first on a busy machine. */
static int s_next_for(fx_t *fx, int cseq)
{
    int st;
    while ((st = s_next(fx, 1)) > 0 && fx->msg->cseq && atoi(fx->msg->cseq->number) != cseq)
        ;
    return st;
}

/* Credentials answering the challenge in fx->msg, as one header line. */
static void s_credentials(fx_t *fx, const char *hname, const char *user, const char *pass,
                          const char *method, const char *uri, char *out, size_t len)
{
    osip_www_authenticate_t *w = NULL;
    assert_int_equal(fx->msg->status_code, 401);      /* chan_sip: never 407 */
    assert_int_equal(osip_list_size(&fx->msg->proxy_authenticates), 0);
    osip_message_get_www_authenticate(fx->msg, 0, &w);
    assert_non_null(w);
    char nonce[64], ha1[33], resp[33];
    sip_auth_unquote(w->nonce, nonce, sizeof nonce);
    sip_auth_ha1(user, "tandem", pass, ha1);
    sip_auth_response(ha1, nonce, "00000001", "abcdef", "auth", method, uri, resp);
    snprintf(out, len, "%s: Digest username=\"%s\", realm=\"tandem\", nonce=\"%s\", "
             "uri=\"%s\", response=\"%s\", algorithm=MD5, qop=auth, nc=00000001, "
             "cnonce=\"abcdef\"\r\n", hname, user, nonce, uri, resp);
}

static const Tandem__Envelope *s_sent(int body_case)
{
    const td_bus_fake_sent_t *s = td_bus_fake_last(body_case);
    return s ? s->env : NULL;
}

/* Deliver a message to the core as the router would. */
static void s_deliver(fx_t *fx, Tandem__Envelope *env)
{
    td_bus_fake_deliver(fx->bus, "router", env);
    s_pump(fx);
}

/* A trunk on the phones' own IP (127.0.0.1) with insecure=port,invite, as a
 * load generator or a local gateway is; OPTIONS are identified too. */
static const char *s_same_ip_conf_text =
    "[general]\n"
    "realm=tandem\n"
    "context=guests\n"
    "allowguest=no\n"
    "auth_options_requests=yes\n"
    "[phone](!)\n"
    "type=friend\n"
    "host=dynamic\n"
    "context=internal\n"
    "[1001](phone)\n"
    "secret=1001pass\n"
    "callerid=\"Alice\" <1001>\n"
    "[1002](phone)\n"
    "secret=1002pass\n"
    "[1003](phone)\n"
    "[trunk]\n"
    "type=peer\n"
    "host=127.0.0.1\n"
    "insecure=port,invite\n"
    "context=from-trunk\n";

static const char *s_setup_text = NULL;     /* NULL: s_conf_text */

static const sip_core_opts_t *s_setup_opts;   /* setup's options, when not the default */

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    td_log_init("test", getenv("TEST_LOG") ? LOG_DEBUG : LOG_ERR);
    td_bus_fake_reset();
    td_bus_fake_set_alive(1);
    td_bus_fake_set_fail(0);
    td_bus_fake_set_exten_answer(1);
    fx->base = event_base_new();
    fx->fd = s_udp(&fx->sw);
    fx->phone = s_udp(&fx->ph);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sip_core_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/sip.conf", fx->dir);
    FILE *fp = fopen(fx->path, "w");
    /* PHONEPORT in the text: the test phone's port */
    const char *text = s_setup_text ? s_setup_text : s_conf_text;
    char port[8];
    snprintf(port, sizeof port, "%d", ntohs(fx->ph.sin_port));
    for (const char *at; (at = strstr(text, "PHONEPORT")); text = at + strlen("PHONEPORT")) {
        fwrite(text, 1, (size_t)(at - text), fp);
        fputs(port, fp);
    }
    fputs(text, fp);
    fclose(fp);
    char err[512];
    fx->conf = sip_conf_load(fx->path, err, sizeof err);
    assert_non_null(fx->conf);
    sip_core_opts_t opts = { .identity = "sig-t", .endpoint = "inproc://none", .capacity = 10,
                             .conf_path = fx->path };
    if (s_setup_opts) {
        opts = *s_setup_opts;
        opts.conf_path = fx->path;
    }
    fx->core = sip_core_new(fx->base, fx->conf, fx->fd, &opts);
    assert_non_null(fx->core);
    fx->bus = sip_core_bus(fx->core);
    assert_non_null(fx->bus);
    sip_txn_layer_set_t1(sip_core_layer(fx->core), 5);
    *state = fx;
    return 0;
}

static int setup_same_ip(void **state)
{
    s_setup_text = s_same_ip_conf_text;
    int rc = setup(state);
    s_setup_text = NULL;
    return rc;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    if (fx->msg)
        osip_message_free(fx->msg);
    sip_core_destroy(&fx->core);
    assert_null(fx->core);
    s_pump(fx);
    assert_int_equal(event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(fx->base);
    sip_conf_destroy(&fx->conf);
    close(fx->fd);
    close(fx->phone);
    unlink(fx->path);
    rmdir(fx->dir);
    td_bus_fake_reset();
    free(fx);
    return 0;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_options(void **state)
{
    fx_t *fx = *state;
    s_request(fx, "OPTIONS", "sip:127.0.0.1", "x", "opt-1", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 200);
    assert_true(osip_list_size(&fx->msg->allows) >= 5);      /* libosip2 keeps Allow apart */
    assert_non_null(strstr(fx->last, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"));
    assert_non_null(strstr(fx->last, "Accept: application/sdp"));
    assert_non_null(s_to_tag(fx));
}

/* chan_sip's handle_request_options: the dialplan decides. The question
 * goes to the router with [general]'s context, the raw and the decoded user
 * part ("s" without one) and the From user; its answer makes 200 or 404. */
static const Tandem__ExtenQuery *s_exten_query(void)
{
    const td_bus_fake_sent_t *q = td_bus_fake_last(TANDEM__ENVELOPE__BODY_EXTEN_QUERY);
    assert_non_null(q);
    return q->env->exten_query;
}

static void s_exten_reply(fx_t *fx, uint32_t id, int exists)
{
    Tandem__ExtenReply r = TANDEM__EXTEN_REPLY__INIT;
    r.id = id;
    r.exists = exists;
    Tandem__Envelope env = TANDEM__ENVELOPE__INIT;
    env.call_id = "";
    env.body_case = TANDEM__ENVELOPE__BODY_EXTEN_REPLY;
    env.exten_reply = &r;
    s_deliver(fx, &env);
}

static void test_options_dialplan(void **state)
{
    fx_t *fx = *state;
    td_bus_fake_set_exten_answer(-1);
    /* libosip2 unescapes the user part once, as chan_sip's pedantic
     * checking does; chan_sip then also tries it decoded once more. */
    s_request(fx, "OPTIONS", "sip:%2536%2530%2530@127.0.0.1", "alice", "opt-d1", 1, NULL, NULL, NULL);
    s_pump(fx);
    const Tandem__ExtenQuery *q = s_exten_query();
    assert_string_equal(q->context, "guests");
    assert_string_equal(q->exten, "%36%30%30");
    assert_string_equal(q->exten_decoded, "600");
    assert_string_equal(q->caller, "alice");
    uint32_t id = q->id;
    s_exten_reply(fx, id + 1, 1);           /* a stale id is ignored */
    s_exten_reply(fx, id, 0);
    assert_int_equal(s_next(fx, 1), 404);
    assert_non_null(strstr(fx->last, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"));
    assert_non_null(strstr(fx->last, "Accept: application/sdp"));
    s_exten_reply(fx, id, 1);               /* answered already: nothing more */

    s_request(fx, "OPTIONS", "sip:127.0.0.1", "alice", "opt-d2", 1, NULL, NULL, NULL);
    s_pump(fx);
    q = s_exten_query();
    assert_string_equal(q->exten, "s");
    s_exten_reply(fx, q->id, 1);
    assert_int_equal(s_next(fx, 1), 200);

    td_bus_fake_set_alive(0);               /* no router: nobody to ask */
    s_request(fx, "OPTIONS", "sip:600@127.0.0.1", "alice", "opt-d3", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 503);
    assert_non_null(s_hdr(fx, "retry-after"));
}

static void s_register(fx_t *fx, const char *user, const char *pass, const char *call_id,
                       const char *extra, int want)
{
    char cred[512], hdrs[1024];
    s_request(fx, "REGISTER", "sip:127.0.0.1", user, call_id, 1, NULL, extra, NULL);
    assert_int_equal(s_next(fx, 1), 401);
    s_credentials(fx, "Authorization", user, pass, "REGISTER", "sip:127.0.0.1", cred, sizeof cred);
    snprintf(hdrs, sizeof hdrs, "%s%s", extra ? extra : "", cred);
    s_request(fx, "REGISTER", "sip:127.0.0.1", user, call_id, 2, NULL, hdrs, NULL);
    assert_int_equal(s_next_for(fx, 2), want);
}

static void test_register(void **state)
{
    fx_t *fx = *state;
    sip_registrar_t *reg = sip_core_registrar(fx->core);
    /* a challenge, then 200 with the binding and its expiry */
    s_register(fx, "1001", "1001pass", "reg-1", "Expires: 300\r\n", 200);
    char want[128];
    snprintf(want, sizeof want, "sip:1001@127.0.0.1:%d", ntohs(fx->ph.sin_port));
    osip_contact_t *c = osip_list_get(&fx->msg->contacts, 0);
    assert_non_null(c);
    assert_string_equal(c->url->username, "1001");
    assert_string_equal(s_hdr(fx, "expires"), "300");
    const sip_binding_t *b = sip_registrar_lookup(reg, "1001", (long)time(NULL));
    assert_non_null(b);
    assert_string_equal(b->uri, want);
    /* too brief: 423 with Min-Expires */
    char cred[512];
    s_request(fx, "REGISTER", "sip:127.0.0.1", "1001", "reg-2", 1, NULL, "Expires: 10\r\n", NULL);
    assert_int_equal(s_next(fx, 1), 401);
    s_credentials(fx, "Authorization", "1001", "1001pass", "REGISTER", "sip:127.0.0.1", cred,
                  sizeof cred);
    char hdrs[1024];
    snprintf(hdrs, sizeof hdrs, "Expires: 10\r\n%s", cred);
    s_request(fx, "REGISTER", "sip:127.0.0.1", "1001", "reg-2", 2, NULL, hdrs, NULL);
    assert_int_equal(s_next_for(fx, 2), 423);
    assert_string_equal(s_hdr(fx, "min-expires"), "60");
    /* too long: clamped to maxexpiry */
    s_register(fx, "1002", "1002pass", "reg-3", "Expires: 99999\r\n", 200);
    assert_string_equal(s_hdr(fx, "expires"), "3600");
    /* no Expires at all: defaultexpiry */
    s_register(fx, "1002", "1002pass", "reg-4", "", 200);
    assert_string_equal(s_hdr(fx, "expires"), "120");
    /* Expires: 0 removes it */
    s_register(fx, "1002", "1002pass", "reg-5", "Expires: 0\r\n", 200);
    assert_null(sip_registrar_lookup(reg, "1002", (long)time(NULL)));
    assert_int_equal(osip_list_size(&fx->msg->contacts), 0);
    /* expiry on the tick */
    assert_non_null(sip_registrar_lookup(reg, "1001", (long)time(NULL)));
    sip_core_tick(fx->core, (long)time(NULL) + 301);
    assert_null(sip_registrar_lookup(reg, "1001", (long)time(NULL)));
    assert_int_equal(sip_registrar_count(reg), 0);
}

static void test_register_star(void **state)
{
    fx_t *fx = *state;
    s_register(fx, "1001", "1001pass", "star-1", "Expires: 300\r\n", 200);
    assert_int_equal(sip_registrar_count(sip_core_registrar(fx->core)), 1);
    /* "Contact: *" comes after our own Contact line in s_request; use raw text */
    char cred[512], text[2048];
    s_request(fx, "REGISTER", "sip:127.0.0.1", "1001", "star-2", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 401);
    s_credentials(fx, "Authorization", "1001", "1001pass", "REGISTER", "sip:127.0.0.1", cred,
                  sizeof cred);
    snprintf(text, sizeof text,
             "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKstar%d\r\n"
             "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>\r\n"
             "Call-ID: star-2\r\nCSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\n%s"
             "Content-Length: 0\r\n\r\n", ntohs(fx->ph.sin_port), ++fx->branch, cred);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 200);
    assert_int_equal(sip_registrar_count(sip_core_registrar(fx->core)), 0);
}

/* The last Location sent: one entry for peer with about `expires` s left
 * (0: gone), reset as said. */
static void s_location_sent(const char *peer, uint32_t expires, int reset)
{
    const td_bus_fake_sent_t *s = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_LOCATION);
    const Tandem__Location *m = s->env->location;
    assert_int_equal(m->reset, reset);
    assert_int_equal(m->n_entries, peer ? 1 : 0);
    if (!peer)
        return;
    assert_string_equal(m->entries[0]->peer, peer);
    assert_string_equal(m->entries[0]->node, "sig-t");       /* the fixture's identity */
    if (m->entries[0]->expires > expires || m->entries[0]->expires + 2 < expires)
        fail_msg("Location of %s: %u s, expected about %u", peer, m->entries[0]->expires, expires);
}

/* Several signaling nodes: every REGISTER, expiry and router start tells
 * the router (Location) which peers are registered through this node. */
static void test_register_location(void **state)
{
    fx_t *fx = *state;
    td_bus_fake_reset();
    s_register(fx, "1001", "1001pass", "loc-1", "Expires: 300\r\n", 200);
    s_location_sent("1001", 300, 0);
    s_register(fx, "1002", "1002pass", "loc-2", "Expires: 120\r\n", 200);
    s_location_sent("1002", 120, 0);
    /* a router comes up (or restarts): the whole list, reset first */
    size_t before = td_bus_fake_count();
    td_bus_fake_peer_restart(fx->bus, "router", "router", 0);
    assert_int_equal(td_bus_fake_count(), before + 1);
    const Tandem__Location *m = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_LOCATION)->env->location;
    assert_true(m->reset);
    assert_int_equal(m->n_entries, 2);
    /* unregister: 0 */
    s_register(fx, "1002", "1002pass", "loc-3", "Expires: 0\r\n", 200);
    s_location_sent("1002", 0, 0);
    /* expiry on the tick: 0 */
    sip_core_tick(fx->core, (long)time(NULL) + 301);
    s_location_sent("1001", 0, 0);
    /* nothing left: the list is empty, still with reset */
    td_bus_fake_peer_restart(fx->bus, "router", "router", 0);
    s_location_sent(NULL, 0, 1);
}

/* The challenge in fx->msg: 401 with WWW-Authenticate, stale=true or not. */
static void s_is_challenge(fx_t *fx, int stale)
{
    assert_int_equal(fx->msg->status_code, 401);
    assert_int_equal(osip_list_size(&fx->msg->proxy_authenticates), 0);
    osip_www_authenticate_t *w = NULL;
    osip_message_get_www_authenticate(fx->msg, 0, &w);
    assert_non_null(w);
    if (stale)
        assert_string_equal(w->stale, "true");
    else
        assert_null(w->stale);
}

/* sip reload (SIGHUP): a changed secret counts from the next REGISTER, a
 * new peer can register, a removed peer's registration is dropped while
 * the others stay; a broken file changes nothing and says file:line. */
static void test_reload(void **state)
{
    fx_t *fx = *state;
    sip_registrar_t *reg = sip_core_registrar(fx->core);
    s_register(fx, "1001", "1001pass", "rl-1", "Expires: 300\r\n", 200);
    s_register(fx, "1002", "1002pass", "rl-2", "Expires: 300\r\n", 200);
    FILE *fp = fopen(fx->path, "w");
    fputs("[general]\nrealm=tandem\nallowguest=no\n"
          "[phone](!)\ntype=friend\nhost=dynamic\ncontext=internal\n"
          "[1001](phone)\nsecret=1001new\n"
          "[1007](phone)\nsecret=1007pass\n", fp);
    fclose(fp);
    char why[1024];
    assert_int_equal(sip_core_reload(fx->core, why, sizeof why), 0);
    assert_non_null(strstr(why, "2 peers"));
    assert_int_equal(sip_conf_peer_count(sip_core_conf(fx->core)), 2);
    long now = (long)time(NULL);
    assert_non_null(sip_registrar_lookup(reg, "1001", now));      /* stays */
    assert_null(sip_registrar_lookup(reg, "1002", now));          /* removed peer */
    s_register(fx, "1001", "1001pass", "rl-3", NULL, 403);
    s_register(fx, "1001", "1001new", "rl-4", NULL, 200);
    s_register(fx, "1002", "1002pass", "rl-5", NULL, 403);
    s_register(fx, "1007", "1007pass", "rl-6", NULL, 200);

    const sip_conf_t *before = sip_core_conf(fx->core);
    fp = fopen(fx->path, "a");
    fputs("[1008](nosuch)\nsecret=x\n", fp);
    fclose(fp);
    assert_int_equal(sip_core_reload(fx->core, why, sizeof why), -1);
    assert_non_null(strstr(why, "sip.conf:12: template [nosuch]"));
    assert_ptr_equal(sip_core_conf(fx->core), before);
    s_register(fx, "1007", "1007pass", "rl-7", NULL, 200);
}

static void test_register_rejects_alike(void **state)
{
    fx_t *fx = *state;
    /* alwaysauthreject=yes (the default), as register_verify: a wrong
     * password, an unknown user (the bogus peer), a peer that is not
     * host=dynamic and a digest user that is not the section's name
     * (transmit_fake_auth_response) all get the same 401, then 403 */
    s_register(fx, "1001", "wrong", "rej-1", NULL, 403);
    s_register(fx, "9999", "whatever", "rej-2", NULL, 403);
    s_register(fx, "trunk", "", "rej-3", NULL, 403);
    /* 1004 has defaultuser=alice: its digest user is still "1004" */
    s_register(fx, "1004", "1004pass", "rej-4", NULL, 200);
    char cred[512];
    s_request(fx, "REGISTER", "sip:127.0.0.1", "1004", "rej-5", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 401);
    s_credentials(fx, "Authorization", "alice", "1004pass", "REGISTER", "sip:127.0.0.1", cred,
                  sizeof cred);
    s_request(fx, "REGISTER", "sip:127.0.0.1", "1004", "rej-5", 2, NULL, cred, NULL);
    assert_int_equal(s_next_for(fx, 2), 403);
    assert_int_equal(sip_registrar_count(sip_core_registrar(fx->core)), 1);
}

/* A nonce that is not ours: "one more try with a new challenge", stale=true
 * when the answer was right (check_auth); Proxy-Authorization is read too. */
static void test_auth_nonce_and_header(void **state)
{
    fx_t *fx = *state;
    char ha1[33], resp[33], cred[512];
    const char *nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
    const char *uri = "sip:127.0.0.1";
    for (int right = 0; right < 2; right++) {
        sip_auth_ha1("1001", "tandem", right ? "1001pass" : "wrong", ha1);
        sip_auth_response(ha1, nonce, "00000001", "abcdef", "auth", "REGISTER", uri, resp);
        snprintf(cred, sizeof cred, "Authorization: Digest username=\"1001\", realm=\"tandem\", "
                 "nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=MD5, qop=auth, "
                 "nc=00000001, cnonce=\"abcdef\"\r\n", nonce, uri, resp);
        s_request(fx, "REGISTER", uri, "1001", right ? "n-1" : "n-2", 1, NULL, cred, NULL);
        assert_int_equal(s_next(fx, 1), 401);
        s_is_challenge(fx, right);
    }
    /* Proxy-Authorization instead of Authorization: accepted */
    s_request(fx, "REGISTER", uri, "1001", "n-3", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 401);
    s_is_challenge(fx, 0);
    s_credentials(fx, "Proxy-Authorization", "1001", "1001pass", "REGISTER", uri, cred,
                  sizeof cred);
    s_request(fx, "REGISTER", uri, "1001", "n-3", 2, NULL, cred, NULL);
    assert_int_equal(s_next_for(fx, 2), 200);
}

/* A digest answer for one number sent to another (RFC 2617 3.2.2.5): 403 on
 * the current nonce, and no call reaches the router. With alwaysauthreject a
 * mismatched digest user on a nonce that is not current is challenged again,
 * as an unknown From user is (chan_sip answers 403 at once, which tells the
 * prober the From user exists). */
/* 1001's INVITE to 1002 (call_id) is challenged (401, ACKed); cred gets
 * the answer to that challenge with digest uri duri. */
static void s_challenged(fx_t *fx, const char *call_id, const char *duri, char *cred,
                         size_t len)
{
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", call_id, 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", call_id);
    s_credentials(fx, "Authorization", "1001", "1001pass", "INVITE", duri, cred, len);
    td_bus_fake_reset();
}

static void test_auth_uri_and_mismatch(void **state)
{
    fx_t *fx = *state;
    char cred[512];
    s_challenged(fx, "au-1", "sip:1002@127.0.0.1", cred, sizeof cred);
    s_request(fx, "INVITE", "sip:900123@127.0.0.1", "1001", "au-1", 2, NULL, cred, s_sdp);
    assert_int_equal(s_next_for(fx, 2), 403);
    s_ack_final(fx, "sip:900123@127.0.0.1", "1001", "au-1");
    assert_null(s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW));
    /* a foreign nonce, digest user 1002: From 1001 (known) and From 9999
     * (unknown) both get a new challenge, not stale */
    const char *nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093", *uri = "sip:600@127.0.0.1";
    char ha1[33], resp[33];
    sip_auth_ha1("1002", "tandem", "1002pass", ha1);
    sip_auth_response(ha1, nonce, "00000001", "abcdef", "auth", "INVITE", uri, resp);
    snprintf(cred, sizeof cred, "Authorization: Digest username=\"1002\", realm=\"tandem\", "
             "nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=MD5, qop=auth, "
             "nc=00000001, cnonce=\"abcdef\"\r\n", nonce, uri, resp);
    static const char *const froms[] = { "1001", "9999" };
    for (int i = 0; i < 2; i++) {
        char cid[16];
        snprintf(cid, sizeof cid, "au-m%d", i);
        s_request(fx, "INVITE", uri, froms[i], cid, 1, NULL, cred, s_sdp);
        assert_int_equal(s_next(fx, 1), 401);
        s_is_challenge(fx, 0);
        s_ack_final(fx, uri, froms[i], cid);
    }
    assert_null(s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW));
}

/* A digest uri naming the server only (sipp's default: "sip:IP:PORT") is
 * accepted, as Asterisk accepts it: the call reaches the router. */
static void test_auth_uri_host_only(void **state)
{
    fx_t *fx = *state;
    char cred[512];
    s_challenged(fx, "ah-1", "sip:127.0.0.1:5060", cred, sizeof cred);
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "ah-1", 2, NULL, cred, s_sdp);
    int st;
    while ((st = s_next(fx, 0)) == 401)
        ;                   /* retransmitted before our ACK landed, on a busy machine */
    assert_int_equal(st, 100);
    const Tandem__Envelope *e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_string_equal(e->channel_new->exten, "1002");
}

/* Caller 1001 places a call; returns with leg 0 known to the router. */
static void s_invite_authenticated(fx_t *fx, const char *call_id, char *bus_id, size_t len)
{
    char cred[512];
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", call_id, 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 0), 100);
    assert_int_equal(s_next(fx, 0), 401);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", call_id);
    s_credentials(fx, "Authorization", "1001", "1001pass", "INVITE", "sip:1002@127.0.0.1",
                  cred, sizeof cred);
    td_bus_fake_reset();
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", call_id, 2, NULL, cred, s_sdp);
    int st;
    while ((st = s_next(fx, 0)) == 401)
        ;                   /* retransmitted (T1 5 ms) before our ACK landed, on a busy machine */
    assert_int_equal(st, 100);
    assert_int_equal(s_next(fx, 0), -1);
    const Tandem__Envelope *e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_int_equal(e->leg, 0);
    assert_true(strncmp(e->call_id, "sig-t-", 6) == 0);
    const Tandem__ChannelNew *cn = e->channel_new;
    assert_true(strncmp(cn->channel, "SIP/1001-", 9) == 0);
    assert_string_equal(cn->caller_num, "1001");
    assert_string_equal(cn->caller_name, "Alice");
    assert_string_equal(cn->exten, "1002");
    assert_string_equal(cn->context, "internal");
    assert_string_equal(cn->sdp, s_sdp);
    assert_string_equal(cn->sip_legs_id, call_id);
    assert_string_equal(cn->peer, "1001");
    snprintf(bus_id, len, "%s", e->call_id);
}

static void s_env(Tandem__Envelope *env, const char *call_id, uint32_t leg)
{
    tandem__envelope__init(env);
    env->call_id = (char *)call_id;
    env->leg = leg;
}

/* s_next, past retransmissions of the 488 sent before its ACK landed. */
static int s_next_no488(fx_t *fx)
{
    int st;
    while ((st = s_next(fx, 1)) == 488)
        ;
    return st;
}

static void s_answer_leg0(fx_t *fx, const char *id)
{
    Tandem__Envelope env;
    Tandem__Answer an = TANDEM__ANSWER__INIT;
    an.sdp = (char *)s_sdp;
    s_env(&env, id, 0);
    env.body_case = TANDEM__ENVELOPE__BODY_ANSWER;
    env.answer = &an;
    s_deliver(fx, &env);
}

/* An authenticated call from 1001, answered by the router and ACKed: its
 * bus id in id, our To tag in tag. */
static void s_call_up(fx_t *fx, const char *call_id, char *id, size_t idlen, char *tag,
                      size_t taglen)
{
    s_invite_authenticated(fx, call_id, id, idlen);
    s_answer_leg0(fx, id);
    assert_int_equal(s_next(fx, 1), 200);
    snprintf(tag, taglen, "%s", s_to_tag(fx));
    s_request(fx, "ACK", "sip:1002@127.0.0.1", "1001", call_id, 2, tag, NULL, NULL);
    int st;
    while ((st = s_next(fx, 1)) == 200)
        ;                                           /* retransmitted before our ACK landed */
    assert_int_equal(st, -1);
}

/* Issue 12: a leg keeps what its phone sends in the dialog until the call
 * ends, so a phone re-offering large SDPs in a loop is refused (500, the
 * session unchanged) once SIP_LEG_HEAP_MAX is kept, not let to grow the
 * process; the call itself goes on (a BYE still ends it). Refreshes that
 * repeat the last offer keep nothing more and are never refused. */
static void test_session_memory_capped(void **state)
{
    fx_t *fx = *state;
    char id[96], tag[64];
    s_call_up(fx, "call-big", id, sizeof id, tag, sizeof tag);
    Tandem__Envelope env;
    /* a 6 KB offer (the fixture writes requests of up to 8 KB) */
    static char big[6 * 1024];
    size_t n = (size_t)snprintf(big, sizeof big, "%s", s_sdp);
    while (n + 40 < sizeof big)
        n += (size_t)snprintf(big + n, sizeof big - n, "a=x-pad:%030zu\r\n", n);
    Tandem__ReinviteAnswer ra = TANDEM__REINVITE_ANSWER__INIT;
    ra.status = 200;
    ra.sdp = (char *)s_sdp;
    /* refreshes that repeat the same offer (RFC 4028) keep nothing more:
     * three times the cap's worth of them all go through */
    int taken = 0, st = 0;
    int cseq = 3;
    for (; cseq < 3 + 3 * SIP_LEG_HEAP_MAX / (int)sizeof big; cseq++) {
        td_bus_fake_reset();
        s_request(fx, "UPDATE", "sip:1002@127.0.0.1", "1001", "call-big", cseq, tag, NULL, big);
        assert_non_null(s_sent(TANDEM__ENVELOPE__BODY_REINVITE));
        s_env(&env, id, 0);
        env.body_case = TANDEM__ENVELOPE__BODY_REINVITE_ANSWER;
        env.reinvite_answer = &ra;
        s_deliver(fx, &env);
        assert_int_equal(s_next_no488(fx), 200);
    }
    /* new offers each time (the o= version would change): capped */
    size_t mark = strlen(s_sdp) + strlen("a=x-pad:");
    for (int end = cseq + 300; cseq < end; cseq++) {
        char v[12];
        snprintf(v, sizeof v, "%010d", cseq);
        memcpy(big + mark, v, 10);
        td_bus_fake_reset();
        s_request(fx, "UPDATE", "sip:1002@127.0.0.1", "1001", "call-big", cseq, tag, NULL, big);
        if (!s_sent(TANDEM__ENVELOPE__BODY_REINVITE)) {
            st = s_next_no488(fx);
            break;
        }
        s_env(&env, id, 0);
        env.body_case = TANDEM__ENVELOPE__BODY_REINVITE_ANSWER;
        env.reinvite_answer = &ra;
        s_deliver(fx, &env);
        assert_int_equal(s_next_no488(fx), 200);
        taken++;
    }
    assert_int_equal(st, 500);
    /* 1 MiB of 6 KB offers and the answers kept with them (a 1 KB chunk
     * each at most), give or take the leg's own strings */
    assert_in_range(taken, SIP_LEG_HEAP_MAX / (sizeof big + 1024) - 4,
                    SIP_LEG_HEAP_MAX / sizeof big + 1);
    sip_legs_stats_t ls;
    sip_legs_stats(sip_core_legs(fx->core), &ls);
    assert_int_equal(ls.session_capped, 1);
    assert_null(s_sent(TANDEM__ENVELOPE__BODY_HANGUP));
    s_request(fx, "BYE", "sip:1002@127.0.0.1", "1001", "call-big", cseq + 1, tag, NULL, NULL);
    assert_int_equal(s_next_no488(fx), 200);
    assert_non_null(s_sent(TANDEM__ENVELOPE__BODY_HANGUP));
}

static void test_incoming_call_answer_bye(void **state)
{
    fx_t *fx = *state;
    char id[96], tag[64];
    s_invite_authenticated(fx, "call-1", id, sizeof id);

    Tandem__Envelope env;
    Tandem__Progress pr = TANDEM__PROGRESS__INIT;
    pr.code = 180;
    s_env(&env, id, 0);
    env.body_case = TANDEM__ENVELOPE__BODY_PROGRESS;
    env.progress = &pr;
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), 180);
    snprintf(tag, sizeof tag, "%s", s_to_tag(fx));
    assert_true(strlen(tag) > 0);

    Tandem__Answer an = TANDEM__ANSWER__INIT;
    an.sdp = (char *)s_sdp;
    env.body_case = TANDEM__ENVELOPE__BODY_ANSWER;
    env.answer = &an;
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), 200);
    assert_string_equal(s_to_tag(fx), tag);
    assert_true(osip_list_size(&fx->msg->contacts) == 1);
    osip_body_t *body = osip_list_get(&fx->msg->bodies, 0);
    assert_non_null(body);
    assert_memory_equal(body->body, s_sdp, strlen(s_sdp));

    s_request(fx, "ACK", "sip:1002@127.0.0.1", "1001", "call-1", 2, tag, NULL, NULL);
    int st;
    while ((st = s_next(fx, 1)) == 200)
        ;                                           /* retransmitted before our ACK landed */
    assert_int_equal(st, -1);                       /* ACKed: no more 200s */
    td_bus_fake_reset();

    /* a re-INVITE with SDP goes to the router; a refusal goes back as it is */
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "call-1", 8, tag, NULL, s_sdp);
    const Tandem__Envelope *ri = s_sent(TANDEM__ENVELOPE__BODY_REINVITE);
    assert_non_null(ri);
    assert_int_equal(ri->leg, 0);
    assert_memory_equal(ri->reinvite->sdp, s_sdp, strlen(s_sdp));
    Tandem__ReinviteAnswer ra = TANDEM__REINVITE_ANSWER__INIT;
    ra.status = 488;
    s_env(&env, id, 0);
    env.body_case = TANDEM__ENVELOPE__BODY_REINVITE_ANSWER;
    env.reinvite_answer = &ra;
    s_deliver(fx, &env);
    int rs;
    while ((rs = s_next(fx, 1)) == 100)
        ;
    assert_int_equal(rs, 488);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "call-1");
    td_bus_fake_reset();
    /* a cancelled re-INVITE: 487, the call stays, the router's late answer is dropped */
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "call-1", 9, tag, NULL, s_sdp);
    assert_non_null(s_sent(TANDEM__ENVELOPE__BODY_REINVITE));
    fx->same_branch = 1;
    s_request(fx, "CANCEL", "sip:1002@127.0.0.1", "1001", "call-1", 9, tag, NULL, NULL);
    fx->same_branch = 0;
    while ((rs = s_next_no488(fx)) == 100)
        ;
    assert_int_equal(rs, 200);                      /* to the CANCEL */
    assert_int_equal(s_next_no488(fx), 487);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "call-1");
    assert_null(s_sent(TANDEM__ENVELOPE__BODY_HANGUP));
    ra.status = 200;
    ra.sdp = (char *)s_sdp;
    s_deliver(fx, &env);
    assert_int_equal(s_next_no488(fx), -1);
    td_bus_fake_reset();

    /* accepted: 200 with the router's answer */
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "call-1", 10, tag, NULL, s_sdp);
    assert_non_null(s_sent(TANDEM__ENVELOPE__BODY_REINVITE));
    ra.status = 200;
    ra.sdp = (char *)s_sdp;
    s_deliver(fx, &env);
    while ((rs = s_next_no488(fx)) == 100)
        ;
    assert_int_equal(rs, 200);
    s_request(fx, "ACK", "sip:1002@127.0.0.1", "1001", "call-1", 10, tag, NULL, NULL);
    while (s_next_no488(fx) == 200)
        ;
    td_bus_fake_reset();

    /* an UPDATE with SDP (RFC 3311) goes to the router like a re-INVITE */
    s_request(fx, "UPDATE", "sip:1002@127.0.0.1", "1001", "call-1", 11, tag, NULL, s_sdp);
    assert_non_null(s_sent(TANDEM__ENVELOPE__BODY_REINVITE));
    s_deliver(fx, &env);
    assert_int_equal(s_next_no488(fx), 200);
    assert_non_null(osip_list_get(&fx->msg->bodies, 0));
    td_bus_fake_reset();

    /* a re-INVITE without SDP: 200 with the SDP we sent last, then its ACK */
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "call-1", 12, tag, NULL, NULL);
    while ((rs = s_next_no488(fx)) == 100)
        ;
    assert_int_equal(rs, 200);
    body = osip_list_get(&fx->msg->bodies, 0);
    assert_non_null(body);
    assert_memory_equal(body->body, s_sdp, strlen(s_sdp));
    s_request(fx, "ACK", "sip:1002@127.0.0.1", "1001", "call-1", 12, tag, NULL, NULL);
    while (s_next_no488(fx) == 200)
        ;
    s_request(fx, "INFO", "sip:1002@127.0.0.1", "1001", "call-1", 13, tag, NULL, NULL);
    assert_int_equal(s_next_no488(fx), 200);
    s_request(fx, "UPDATE", "sip:1002@127.0.0.1", "1001", "call-1", 14, tag, NULL, NULL);
    assert_int_equal(s_next_no488(fx), 200);            /* no SDP: a refresh */
    s_request(fx, "INFO", "sip:1002@127.0.0.1", "1001", "call-1", 5, tag, NULL, NULL);
    assert_int_equal(s_next_no488(fx), 500);           /* CSeq went backwards */
    assert_int_equal(s_next_no488(fx), -1);
    assert_int_equal(td_bus_fake_count(), 0);       /* none of it concerns the router */

    td_bus_fake_reset();
    s_request(fx, "BYE", "sip:1002@127.0.0.1", "1001", "call-1", 15, tag, NULL, NULL);
    assert_int_equal(s_next_no488(fx), 200);
    const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_non_null(h);
    assert_string_equal(h->call_id, id);
    assert_int_equal(h->leg, 0);
    assert_int_equal(h->hangup->cause, 16);
    /* the dialog is gone: BYE again with a new branch gets 481 */
    s_request(fx, "BYE", "sip:1002@127.0.0.1", "1001", "call-1", 16, tag, NULL, NULL);
    assert_int_equal(s_next_no488(fx), 481);
    /* and the router's late Hangup for it is ignored quietly */
    td_bus_fake_reset();
    Tandem__Hangup hu = TANDEM__HANGUP__INIT;
    hu.cause = 16;
    env.body_case = TANDEM__ENVELOPE__BODY_HANGUP;
    env.hangup = &hu;
    s_deliver(fx, &env);
    assert_int_equal(td_bus_fake_count(), 0);
    assert_int_equal(s_next(fx, 1), -1);
}

/* A caller behind a record-routing proxy (its top Via names its source, so
 * nat=auto would send to its Contact): the 200 echoes the Record-Route and
 * the router's hangup goes out as a BYE to the proxy (RFC 3261 12.2.1.1). */
static void test_incoming_record_route(void **state)
{
    fx_t *fx = *state;
    struct sockaddr_in pa;
    int proxy = s_udp(&pa);
    char cred[512], extra[700], rr[128];
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "rr-in", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 0), 100);
    assert_int_equal(s_next(fx, 0), 401);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "rr-in");
    s_credentials(fx, "Authorization", "1001", "1001pass", "INVITE", "sip:1002@127.0.0.1",
                  cred, sizeof cred);
    snprintf(rr, sizeof rr, "<sip:127.0.0.1:%d;lr>", ntohs(pa.sin_port));
    snprintf(extra, sizeof extra, "Record-Route: %s\r\n%s", rr, cred);
    td_bus_fake_reset();
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "rr-in", 2, NULL, extra, s_sdp);
    const Tandem__Envelope *e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    char id[96];
    snprintf(id, sizeof id, "%s", e->call_id);

    s_answer_leg0(fx, id);
    Tandem__Envelope env;
    int st;
    while ((st = s_next(fx, 1)) == 401)
        ;
    assert_int_equal(st, 200);
    assert_int_equal(osip_list_size(&fx->msg->record_routes), 1);
    char tag[64];
    snprintf(tag, sizeof tag, "%s", s_to_tag(fx));
    s_request(fx, "ACK", "sip:1002@127.0.0.1", "1001", "rr-in", 2, tag, NULL, NULL);
    while (s_next(fx, 1) == 200)
        ;

    Tandem__Hangup hu = TANDEM__HANGUP__INIT;
    hu.cause = 16;
    s_env(&env, id, 0);
    env.body_case = TANDEM__ENVELOPE__BODY_HANGUP;
    env.hangup = &hu;
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), -1);            /* not to the phone itself */
    int phone = fx->phone;
    fx->phone = proxy;
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "BYE");
    assert_string_equal(fx->msg->req_uri->username, "1001");
    assert_int_equal(atoi(fx->msg->req_uri->port), ntohs(fx->ph.sin_port));
    osip_route_t *r = osip_list_get(&fx->msg->routes, 0);
    assert_non_null(r);
    assert_int_equal(atoi(r->url->port), ntohs(pa.sin_port));
    fx->phone = phone;
    close(proxy);
}

static void test_incoming_router_hangs_up(void **state)
{
    fx_t *fx = *state;
    static const struct { unsigned cause; int status; } rows[] = {
        { 17, 486 }, { 1, 404 }, { 19, 480 }, { 34, 503 }, { 21, 403 }, { 16, 603 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char id[96], cid[32];
        snprintf(cid, sizeof cid, "hup-%zu", i);
        s_invite_authenticated(fx, cid, id, sizeof id);
        Tandem__Envelope env;
        Tandem__Hangup hu = TANDEM__HANGUP__INIT;
        hu.cause = rows[i].cause;
        s_env(&env, id, 0);
        env.body_case = TANDEM__ENVELOPE__BODY_HANGUP;
        env.hangup = &hu;
        td_bus_fake_reset();
        s_deliver(fx, &env);
        assert_int_equal(s_next(fx, 1), rows[i].status);
        assert_int_equal(td_bus_fake_count(), 0);        /* no Hangup echoed back */
        s_ack_final(fx, "sip:1002@127.0.0.1", "1001", cid);
    }
}

static void test_cancel(void **state)
{
    fx_t *fx = *state;
    char id[96];
    s_invite_authenticated(fx, "can-1", id, sizeof id);
    /* CANCEL: same branch as the INVITE (the last one s_request sent) */
    char text[1024];
    int port = ntohs(fx->ph.sin_port);
    snprintf(text, sizeof text,
             "CANCEL sip:1002@127.0.0.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKtest%d;rport\r\n"
             "Max-Forwards: 70\r\nFrom: \"Phone\" <sip:1001@127.0.0.1>;tag=ft-can-1\r\n"
             "To: <sip:1002@127.0.0.1>\r\nCall-ID: can-1\r\nCSeq: 2 CANCEL\r\n"
             "Content-Length: 0\r\n\r\n", port, fx->branch);
    td_bus_fake_reset();
    s_send_raw(fx, text);
    int a = s_next(fx, 1), b = s_next(fx, 1);
    assert_true((a == 200 && b == 487) || (a == 487 && b == 200));
    const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_non_null(h);
    assert_int_equal(h->hangup->cause, 16);
    assert_int_equal(h->hangup->sip_code, 487);
    /* a CANCEL for nothing: 481 */
    snprintf(text, sizeof text,
             "CANCEL sip:1002@127.0.0.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKnothing\r\n"
             "From: <sip:1001@127.0.0.1>;tag=x\r\nTo: <sip:1002@127.0.0.1>\r\n"
             "Call-ID: can-2\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n", port);
    s_send_raw(fx, text);
    int st;
    while ((st = s_next(fx, 1)) == 487)
        ;                       /* the INVITE's 487, never ACKed here, resent (T1 is 5 ms) */
    assert_int_equal(st, 481);
}

static void test_invite_identification(void **state)
{
    fx_t *fx = *state;
    /* an unknown user, allowguest=no, alwaysauthreject (the default): the
     * same 401 a known user gets, then 403 for whatever credentials */
    char cred[512];
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "stranger", "id-1", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, "sip:1002@127.0.0.1", "stranger", "id-1");
    s_credentials(fx, "Authorization", "stranger", "guess", "INVITE", "sip:1002@127.0.0.1",
                  cred, sizeof cred);
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "stranger", "id-1", 2, NULL, cred, s_sdp);
    assert_int_equal(s_next_for(fx, 2), 403);
    s_ack_final(fx, "sip:1002@127.0.0.1", "stranger", "id-1");
    /* a known user with a wrong password: 403 */
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "id-2", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "id-2");
    s_credentials(fx, "Authorization", "1001", "nope", "INVITE", "sip:1002@127.0.0.1",
                  cred, sizeof cred);
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "id-2", 2, NULL, cred, s_sdp);
    assert_int_equal(s_next_for(fx, 2), 403);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "id-2");
    /* the router is down: 503 */
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "id-3", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "id-3");
    s_credentials(fx, "Authorization", "1001", "1001pass", "INVITE", "sip:1002@127.0.0.1",
                  cred, sizeof cred);
    td_bus_fake_set_alive(0);
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "id-3", 2, NULL, cred, s_sdp);
    assert_int_equal(s_next_for(fx, 2), 503);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "id-3");
    td_bus_fake_set_alive(1);
    /* no SDP: 488 */
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "id-4", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "id-4");
    s_credentials(fx, "Authorization", "1001", "1001pass", "INVITE", "sip:1002@127.0.0.1",
                  cred, sizeof cred);
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "id-4", 2, NULL, cred, NULL);
    assert_int_equal(s_next_for(fx, 2), 488);
}

static void test_insecure_peer(void **state)
{
    fx_t *fx = *state;
    /* [trunk] host=127.0.0.1 insecure=port,invite: no challenge, its context */
    int trunk = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in ta = { .sin_family = AF_INET };
    socklen_t tl = sizeof ta;
    inet_pton(AF_INET, "127.0.0.2", &ta.sin_addr);
    assert_int_equal(bind(trunk, (struct sockaddr *)&ta, sizeof ta), 0);
    getsockname(trunk, (struct sockaddr *)&ta, &tl);
    int phone = fx->phone;
    struct sockaddr_in ph = fx->ph;
    fx->phone = trunk;                      /* s_request sends from fx->phone */
    fx->ph = ta;
    td_bus_fake_reset();
    s_request(fx, "INVITE", "sip:5551234@127.0.0.1", "carrier", "peer-1", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 0), 100);
    assert_int_equal(s_next(fx, 0), -1);
    fx->phone = phone;
    fx->ph = ph;
    close(trunk);
    const Tandem__Envelope *e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_string_equal(e->channel_new->context, "from-trunk");
    assert_string_equal(e->channel_new->peer, "trunk");
    assert_string_equal(e->channel_new->exten, "5551234");
    assert_string_equal(e->channel_new->caller_num, "carrier");
}

/* ACK the non-2xx final in fx->msg for an INVITE sent raw from 1001 to
 * 1002 with this branch and Call-ID, so the switch stops retransmitting it
 * (T1 is 5 ms here: an unACKed final would arrive in place of the next
 * expected answer). */
static void s_ack_raw(fx_t *fx, const char *branch, const char *call_id)
{
    char text[1024];
    osip_generic_param_t *p = NULL;
    osip_to_get_tag(fx->msg->to, &p);
    snprintf(text, sizeof text,
             "ACK sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
             "Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=a\r\n"
             "To: <sip:1002@127.0.0.1>;tag=%s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\n"
             "Content-Length: 0\r\n\r\n",
             ntohs(fx->ph.sin_port), branch, p && p->gvalue ? p->gvalue : "", call_id);
    s_send_raw(fx, text);
    s_drop_resent(fx);
}

static void test_bad_requests(void **state)
{
    fx_t *fx = *state;
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", "bad-1", 1, NULL,
              "Require: 100rel, foo\r\n", s_sdp);
    assert_int_equal(s_next(fx, 1), 420);
    assert_non_null(strstr(fx->last, "Unsupported: 100rel, foo\r\n"));
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "bad-1");
    s_request(fx, "OPTIONS", "tel:+15551234", "1001", "bad-2", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 416);
    s_request(fx, "FOO", "sip:127.0.0.1", "1001", "bad-3", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 501);
    assert_true(osip_list_size(&fx->msg->allows) > 0);
    s_request(fx, "SUBSCRIBE", "sip:127.0.0.1", "1001", "bad-4", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 405);
    s_request(fx, "BYE", "sip:127.0.0.1", "1001", "bad-5", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 481);
    s_request(fx, "BYE", "sip:127.0.0.1", "1001", "bad-6", 1, "nosuchtag", NULL, NULL);
    assert_int_equal(s_next(fx, 1), 481);

    char text[1024];
    int port = ntohs(fx->ph.sin_port);
    snprintf(text, sizeof text,
             "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKmf0\r\n"
             "Max-Forwards: 0\r\nFrom: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1002@127.0.0.1>\r\n"
             "Call-ID: bad-7\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@127.0.0.1>\r\n"
             "Content-Length: 0\r\n\r\n", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 483);
    s_ack_raw(fx, "z9hG4bKmf0", "bad-7");
    snprintf(text, sizeof text,
             "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKmf1\r\n"
             "Max-Forwards: 0\r\nFrom: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:127.0.0.1>\r\n"
             "Call-ID: bad-8\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 200);           /* OPTIONS ends here: answered */
    snprintf(text, sizeof text,
             "OPTIONS sip:127.0.0.1 SIP/7.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKv7\r\n"
             "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:127.0.0.1>\r\n"
             "Call-ID: bad-9\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 505);
    snprintf(text, sizeof text,
             "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKcl\r\n"
             "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:127.0.0.1>\r\n"
             "Call-ID: bad-10\r\nCSeq: 1 OPTIONS\r\nContent-Length: abc\r\n\r\n", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 400);
    snprintf(text, sizeof text,
             "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKct\r\n"
             "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1002@127.0.0.1>\r\n"
             "Call-ID: bad-11\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@127.0.0.1>\r\n"
             "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 415);
    s_ack_raw(fx, "z9hG4bKct", "bad-11");
    snprintf(text, sizeof text,
             "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKnc\r\n"
             "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1002@127.0.0.1>\r\n"
             "Call-ID: bad-12\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 400);           /* INVITE without Contact */
    s_ack_raw(fx, "z9hG4bKnc", "bad-12");
    /* issue 12: a percent-encoded control character in a user part (a forged
     * log line after "%0a") is refused at the edge */
    snprintf(text, sizeof text,
             "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKlf\r\n"
             "From: <sip:1001%%0a2026-01-01 NOTICE forged@127.0.0.1>;tag=a\r\n"
             "To: <sip:1002@127.0.0.1>\r\nCall-ID: bad-14\r\nCSeq: 1 INVITE\r\n"
             "Contact: <sip:1001@127.0.0.1>\r\nContent-Length: 0\r\n\r\n", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 400);
    s_ack_raw(fx, "z9hG4bKlf", "bad-14");
    snprintf(text, sizeof text,
             "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKlr\r\n"
             "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1001%%1b[2J@127.0.0.1>\r\n"
             "Call-ID: bad-15\r\nCSeq: 1 REGISTER\r\n"
             "Contact: <sip:1001@127.0.0.1>\r\nContent-Length: 0\r\n\r\n", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 400);
    snprintf(text, sizeof text,
             "OPTIONS sip:%%0d%%0a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKlo\r\n"
             "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:127.0.0.1>\r\n"
             "Call-ID: bad-16\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 400);
    snprintf(text, sizeof text,
             "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKlc\r\n"
             "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1002@127.0.0.1>\r\n"
             "Call-ID: bad-17\r\nCSeq: 1 INVITE\r\n"
             "Contact: \"a\\\x1b[31m\" <sip:1001@127.0.0.1>\r\nContent-Length: 0\r\n\r\n", port);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 400);           /* an escape in a display name */
    s_ack_raw(fx, "z9hG4bKlc", "bad-17");
    /* after all that, a normal OPTIONS still works */
    s_request(fx, "OPTIONS", "sip:127.0.0.1", "x", "bad-13", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 200);
}

/* The phone registers as 1002; the router asks for a leg to it. */
static void s_originate(fx_t *fx, const char *id, uint32_t leg, uint32_t timeout_ms)
{
    Tandem__Envelope env;
    Tandem__Originate o = TANDEM__ORIGINATE__INIT;
    o.channel = "SIP/1002-00000001";
    o.user = "1002";
    o.number = "";
    o.caller_num = "1001";
    o.caller_name = "Alice";
    o.sdp = (char *)s_sdp;
    o.timeout_ms = timeout_ms;
    s_env(&env, id, leg);
    env.body_case = TANDEM__ENVELOPE__BODY_ORIGINATE;
    env.originate = &o;
    s_deliver(fx, &env);
}

/* Answer the INVITE in fx->msg from the phone with `status`. */
static void s_respond(fx_t *fx, int status, const char *tag, const char *body)
{
    osip_message_t *inv = fx->msg;
    char text[4096], via[512], from[256], to[256], *s = NULL;
    osip_via_to_str(osip_list_get(&inv->vias, 0), &s);
    snprintf(via, sizeof via, "%s", s);
    osip_free(s);
    osip_from_to_str(inv->from, &s);
    snprintf(from, sizeof from, "%s", s);
    osip_free(s);
    osip_to_to_str(inv->to, &s);
    snprintf(to, sizeof to, "%s", s);
    osip_free(s);
    snprintf(text, sizeof text,
             "SIP/2.0 %d Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=%s\r\nCall-ID: %s@%s\r\n"
             "CSeq: %s INVITE\r\nContact: <sip:1002@127.0.0.1:%d>\r\n%s%s"
             "Content-Length: %zu\r\n\r\n%s",
             status, via, from, to, tag, inv->call_id->number, inv->call_id->host,
             inv->cseq->number, ntohs(fx->ph.sin_port), fx->rr ? fx->rr : "",
             body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : (size_t)0,
             body ? body : "");
    ssize_t n = sendto(fx->phone, text, strlen(text), 0, (struct sockaddr *)&fx->sw, sizeof fx->sw);
    assert_true(n > 0);
    s_pump(fx);
}

static void test_outgoing_leg(void **state)
{
    fx_t *fx = *state;
    /* not registered: Hangup cause 20 at once, no SIP */
    td_bus_fake_reset();
    s_originate(fx, "c-out", 1, 0);
    const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_non_null(h);
    assert_int_equal(h->leg, 1);
    assert_int_equal(h->hangup->cause, 20);
    assert_int_equal(s_next(fx, 1), -1);

    s_register(fx, "1002", "1002pass", "o-reg", "Expires: 300\r\n", 200);
    td_bus_fake_reset();
    s_originate(fx, "c-out", 1, 0);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    assert_string_equal(fx->msg->req_uri->username, "1002");
    assert_string_equal(fx->msg->from->displayname, "\"Alice\"");
    assert_string_equal(fx->msg->from->url->username, "1001");
    osip_body_t *body = osip_list_get(&fx->msg->bodies, 0);
    assert_non_null(body);

    s_respond(fx, 180, "calleetag", NULL);
    h = s_sent(TANDEM__ENVELOPE__BODY_PROGRESS);
    assert_non_null(h);
    assert_int_equal(h->progress->code, 180);
    assert_int_equal(h->leg, 1);

    td_bus_fake_reset();
    s_respond(fx, 200, "calleetag", s_sdp);
    h = s_sent(TANDEM__ENVELOPE__BODY_ANSWER);
    assert_non_null(h);
    assert_string_equal(h->answer->sdp, s_sdp);
    /* the ACK for the 2xx comes to the phone */
    osip_message_t *inv = NULL;
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "ACK");
    (void)inv;

    /* the router re-INVITEs the leg with the worker's offer: same dialog,
     * CSeq 2; the 200's SDP goes back as ReinviteAnswer and is ACKed */
    Tandem__Envelope env;
    Tandem__Reinvite ri = TANDEM__REINVITE__INIT;
    ri.sdp = (char *)s_sdp;
    s_env(&env, "c-out", 1);
    env.body_case = TANDEM__ENVELOPE__BODY_REINVITE;
    env.reinvite = &ri;
    td_bus_fake_reset();
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    assert_string_equal(fx->msg->cseq->number, "2");
    assert_string_equal(s_to_tag(fx), "calleetag");
    assert_non_null(osip_list_get(&fx->msg->bodies, 0));
    s_respond(fx, 200, "calleetag", s_sdp);
    h = s_sent(TANDEM__ENVELOPE__BODY_REINVITE_ANSWER);
    assert_non_null(h);
    assert_int_equal(h->leg, 1);
    assert_int_equal(h->reinvite_answer->status, 200);
    assert_string_equal(h->reinvite_answer->sdp, s_sdp);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "ACK");
    assert_string_equal(fx->msg->cseq->number, "2");
    /* refused: the status goes back */
    td_bus_fake_reset();
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->cseq->number, "3");
    s_respond(fx, 488, "calleetag", NULL);
    h = s_sent(TANDEM__ENVELOPE__BODY_REINVITE_ANSWER);
    assert_non_null(h);
    assert_int_equal(h->reinvite_answer->status, 488);
    assert_int_equal(s_next(fx, 1), 0);              /* the layer's ACK */
    assert_string_equal(fx->msg->sip_method, "ACK");

    /* the router hangs the leg up: BYE in the dialog */
    Tandem__Hangup hu = TANDEM__HANGUP__INIT;
    hu.cause = 16;
    s_env(&env, "c-out", 1);
    env.body_case = TANDEM__ENVELOPE__BODY_HANGUP;
    env.hangup = &hu;
    td_bus_fake_reset();
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "BYE");
    assert_string_equal(s_to_tag(fx), "calleetag");
    assert_string_equal(fx->msg->cseq->number, "4");
    assert_int_equal(td_bus_fake_count(), 0);
}

/* RFC 3261 12.2.1.1: a callee behind a record-routing proxy. The ACK for
 * the 2xx and the BYE go to the first Route (a second socket here), with the
 * callee's Contact as Request-URI. */
static void test_outgoing_record_route(void **state)
{
    fx_t *fx = *state;
    struct sockaddr_in pa;
    int proxy = s_udp(&pa);
    char rr[128];
    s_register(fx, "1002", "1002pass", "rr-reg", "Expires: 300\r\n", 200);
    td_bus_fake_reset();
    s_originate(fx, "c-rr", 1, 0);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    snprintf(rr, sizeof rr, "Record-Route: <sip:127.0.0.1:%d;lr>\r\n", ntohs(pa.sin_port));
    fx->rr = rr;
    s_respond(fx, 200, "rrtag", s_sdp);
    fx->rr = NULL;
    assert_non_null(s_sent(TANDEM__ENVELOPE__BODY_ANSWER));
    assert_int_equal(s_next(fx, 1), -1);            /* nothing straight to the phone */
    int phone = fx->phone;
    fx->phone = proxy;                              /* read what the proxy gets */
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "ACK");
    assert_string_equal(fx->msg->req_uri->username, "1002");
    assert_int_equal(atoi(fx->msg->req_uri->port), ntohs(fx->ph.sin_port));
    assert_int_equal(osip_list_size(&fx->msg->routes), 1);

    Tandem__Envelope env;
    Tandem__Hangup hu = TANDEM__HANGUP__INIT;
    hu.cause = 16;
    s_env(&env, "c-rr", 1);
    env.body_case = TANDEM__ENVELOPE__BODY_HANGUP;
    env.hangup = &hu;
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "BYE");
    assert_string_equal(fx->msg->req_uri->username, "1002");
    osip_route_t *r = osip_list_get(&fx->msg->routes, 0);
    assert_non_null(r);
    assert_int_equal(atoi(r->url->port), ntohs(pa.sin_port));
    fx->phone = phone;
    assert_int_equal(s_next(fx, 1), -1);
    close(proxy);
}

/* RFC 3327 with supportpath=yes (1006): the REGISTER's Path is kept and
 * echoed with Supported: path; the INVITE to that contact goes to the first
 * Path hop with the Path as Route. Without it (1002) Path is ignored, as
 * chan_sip does. */
static void test_register_path(void **state)
{
    fx_t *fx = *state;
    struct sockaddr_in pa;
    int proxy = s_udp(&pa);
    char extra[256], want[64];
    snprintf(want, sizeof want, "<sip:127.0.0.1:%d;lr>", ntohs(pa.sin_port));
    snprintf(extra, sizeof extra, "Expires: 300\r\nPath: %s\r\nSupported: path\r\n", want);
    s_register(fx, "1002", "1002pass", "p-reg2", extra, 200);
    assert_null(s_hdr(fx, "path"));
    const sip_binding_t *b = sip_registrar_lookup(sip_core_registrar(fx->core), "1002",
                                                  (long)time(NULL));
    assert_non_null(b);
    assert_string_equal(b->path, "");

    s_register(fx, "1006", "1006pass", "p-reg6", extra, 200);
    assert_non_null(s_hdr(fx, "path"));
    assert_non_null(strstr(s_hdr(fx, "path"), want + 1));
    assert_string_equal(s_hdr(fx, "supported"), "path");
    b = sip_registrar_lookup(sip_core_registrar(fx->core), "1006", (long)time(NULL));
    assert_non_null(b);
    assert_non_null(strstr(b->path, want + 1));

    Tandem__Envelope env;
    Tandem__Originate o = TANDEM__ORIGINATE__INIT;
    o.channel = "SIP/1006-00000001";
    o.user = "1006";
    o.number = "";
    o.caller_num = "1001";
    o.sdp = (char *)s_sdp;
    s_env(&env, "c-path", 1);
    env.body_case = TANDEM__ENVELOPE__BODY_ORIGINATE;
    env.originate = &o;
    td_bus_fake_reset();
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), -1);            /* not straight to the contact */
    int phone = fx->phone;
    fx->phone = proxy;
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    assert_string_equal(fx->msg->req_uri->username, "1006");
    assert_int_equal(atoi(fx->msg->req_uri->port), ntohs(fx->ph.sin_port));
    osip_route_t *r = osip_list_get(&fx->msg->routes, 0);
    assert_non_null(r);
    assert_int_equal(atoi(r->url->port), ntohs(pa.sin_port));
    fx->phone = phone;
    close(proxy);
}

static void test_outgoing_busy_and_cancel(void **state)
{
    fx_t *fx = *state;
    s_register(fx, "1002", "1002pass", "b-reg", "Expires: 300\r\n", 200);
    td_bus_fake_reset();
    s_originate(fx, "c-busy", 1, 0);
    assert_int_equal(s_next(fx, 1), 0);
    s_respond(fx, 486, "busytag", NULL);
    const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_non_null(h);
    assert_int_equal(h->hangup->cause, 17);
    assert_int_equal(h->hangup->sip_code, 486);
    assert_int_equal(s_next(fx, 1), 0);              /* the layer's ACK */
    assert_string_equal(fx->msg->sip_method, "ACK");

    /* ringing, then the router gives up: CANCEL; the 487 is not reported */
    td_bus_fake_reset();
    s_originate(fx, "c-can", 2, 0);
    assert_int_equal(s_next(fx, 1), 0);
    char invite_text[8192];
    snprintf(invite_text, sizeof invite_text, "%s", fx->last);
    s_respond(fx, 180, "ringtag", NULL);
    Tandem__Envelope env;
    Tandem__Hangup hu = TANDEM__HANGUP__INIT;
    hu.cause = 16;
    s_env(&env, "c-can", 2);
    env.body_case = TANDEM__ENVELOPE__BODY_HANGUP;
    env.hangup = &hu;
    td_bus_fake_reset();
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "CANCEL");
    /* put the INVITE back in fx->msg to answer it with 487 */
    osip_message_free(fx->msg);
    osip_message_init(&fx->msg);
    osip_message_parse(fx->msg, invite_text, strlen(invite_text));
    s_respond(fx, 487, "ringtag", NULL);
    assert_int_equal(td_bus_fake_count(), 0);
    while (s_next(fx, 1) == 0 && strcmp(fx->msg->sip_method, "ACK") != 0)
        ;                                   /* CANCEL retransmissions, then the ACK */
    assert_non_null(fx->msg);
    assert_string_equal(fx->msg->sip_method, "ACK");

    /* the ring timer: CANCEL on its own, then NOANSWER (19) */
    td_bus_fake_reset();
    s_originate(fx, "c-slow", 1, 20);
    assert_int_equal(s_next(fx, 1), 0);
    snprintf(invite_text, sizeof invite_text, "%s", fx->last);
    s_respond(fx, 180, "slowtag", NULL);
    struct timeval tv = { 0, 60000 };
    event_base_loopexit(fx->base, &tv);
    event_base_dispatch(fx->base);
    int saw_cancel = 0;
    while (s_next(fx, 1) >= 0) {
        if (MSG_IS_REQUEST(fx->msg) && !strcmp(fx->msg->sip_method, "CANCEL"))
            saw_cancel = 1;
    }
    assert_true(saw_cancel);
    osip_message_init(&fx->msg);
    osip_message_parse(fx->msg, invite_text, strlen(invite_text));
    s_respond(fx, 487, "slowtag", NULL);
    h = s_sent(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_non_null(h);
    assert_int_equal(h->hangup->cause, 19);
}

static void test_router_down(void **state)
{
    fx_t *fx = *state;
    char id[96];
    s_invite_authenticated(fx, "down-1", id, sizeof id);
    s_register(fx, "1002", "1002pass", "down-reg", "Expires: 300\r\n", 200);
    s_originate(fx, id, 1, 0);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    s_respond(fx, 180, "downtag", NULL);
    td_bus_fake_reset();
    td_bus_fake_peer_down(fx->bus, "router", "router");
    s_pump(fx);
    sip_core_tick(fx->core, (long)time(NULL) + 5);  /* maybe only slow: calls wait */
    s_pump(fx);
    int st;
    while ((st = s_next(fx, 1)) == 0 && !strcmp(fx->msg->sip_method, "INVITE"))
        ;                                   /* INVITE retransmissions, if any */
    assert_int_equal(st, -1);
    sip_core_tick(fx->core, (long)time(NULL) + 31);
    s_pump(fx);
    int got503 = 0, gotcancel = 0;
    for (int i = 0; i < 20; i++) {
        int st = s_next(fx, 1);
        if (st < 0)
            break;
        got503 |= st == 503;
        gotcancel |= st == 0 && !strcmp(fx->msg->sip_method, "CANCEL");
    }
    assert_true(got503);
    assert_true(gotcancel);
    assert_int_equal(td_bus_fake_count(), 0);        /* nobody to tell */
}

/* Several routers: a new call goes to the rendezvous owner of its call id
 * among the live routers; an outgoing leg's messages go to the router that
 * sent its Originate; once that router is declared dead, the call's next
 * message goes to the owner picked again over the live ones; a restart of
 * the other router leaves the call alone. */
static void test_two_routers(void **state)
{
    fx_t *fx = *state;
    const char *ids[] = { "router-1", "router-2" };
    td_bus_fake_set_routers(ids, 2);
    char id[96];
    s_invite_authenticated(fx, "two-1", id, sizeof id);
    const char *owner = ids[td_hrw_pick(id, ids, 2)], *other = owner == ids[0] ? ids[1] : ids[0];
    assert_string_equal(td_bus_fake_last(TANDEM__ENVELOPE__BODY_CHANNEL_NEW)->peer, owner);
    s_register(fx, "1002", "1002pass", "two-reg", "Expires: 300\r\n", 200);

    /* the owner asks for the callee: its progress goes back to the owner */
    Tandem__Envelope env;
    Tandem__Originate o = TANDEM__ORIGINATE__INIT;
    o.channel = "SIP/1002-00000001";
    o.user = "1002";
    o.number = "";
    o.caller_num = "1001";
    o.caller_name = "Alice";
    o.sdp = (char *)s_sdp;
    s_env(&env, id, 1);
    env.body_case = TANDEM__ENVELOPE__BODY_ORIGINATE;
    env.originate = &o;
    td_bus_fake_deliver(fx->bus, owner, &env);
    s_pump(fx);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    td_bus_fake_reset();
    s_respond(fx, 180, "twotag", NULL);
    assert_string_equal(td_bus_fake_expect(TANDEM__ENVELOPE__BODY_PROGRESS)->peer, owner);

    /* the other router restarts: not our call's business */
    td_bus_fake_reset();
    td_bus_fake_peer_restart(fx->bus, other, "router", 0);
    s_pump(fx);
    assert_null(td_bus_fake_last(TANDEM__ENVELOPE__BODY_HANGUP));
    const td_bus_fake_sent_t *loc = td_bus_fake_last(TANDEM__ENVELOPE__BODY_LOCATION);
    assert_non_null(loc);                           /* our registrations, to it alone */
    assert_string_equal(loc->peer, other);
    assert_int_equal(td_bus_fake_count(), 1);

    /* the owner is declared dead: the callee's answer goes to the other */
    td_bus_fake_router_alive(owner, 0);
    td_bus_fake_peer_down(fx->bus, owner, "router");
    td_bus_fake_reset();
    s_respond(fx, 486, "twotag", NULL);
    const td_bus_fake_sent_t *h = td_bus_fake_expect(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_string_equal(h->peer, other);
    assert_int_equal(h->env->leg, 1);
    td_bus_fake_set_routers(NULL, 0);
}

/* The router restarted (a new boot in its Hello): it knows none of the
 * calls, so at once - no grace - the ringing caller gets 503, its callee a
 * CANCEL, and the new router hears a Hangup for each leg (it ends any call
 * it does know, and ignores the rest). */
static void test_router_restart(void **state)
{
    fx_t *fx = *state;
    char id[96];
    s_invite_authenticated(fx, "restart-1", id, sizeof id);
    s_register(fx, "1002", "1002pass", "restart-reg", "Expires: 300\r\n", 200);
    s_originate(fx, id, 1, 0);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    s_respond(fx, 180, "restarttag", NULL);
    td_bus_fake_reset();
    td_bus_fake_peer_restart(fx->bus, "router", "router", 0);
    s_pump(fx);
    int got503 = 0, gotcancel = 0;
    for (int i = 0; i < 20; i++) {
        int st = s_next(fx, 1);
        if (st < 0)
            break;
        got503 |= st == 503;
        gotcancel |= st == 0 && !strcmp(fx->msg->sip_method, "CANCEL");
    }
    assert_true(got503);
    assert_true(gotcancel);
    size_t hangups = 0;
    for (size_t i = 0; i < td_bus_fake_count(); i++)
        hangups += td_bus_fake_get(i)->env->body_case == TANDEM__ENVELOPE__BODY_HANGUP;
    assert_int_equal(hangups, 2);
}

/* Cluster mode: a router restart keeps the answered call (no BYE, nothing
 * on the bus for it) and ends the ringing one (503, the router not told).
 * A BYE while no router can hear gets 200, its Hangup kept and sent once a
 * router is up. */
static const td_store_conf_t s_cluster_conf = {   /* no Redis there: state stays in memory */
    .enabled = 1, .host = "127.0.0.1", .port = 1,
};
static const sip_core_opts_t s_cluster_opts = {
    .identity = "sig-t", .endpoint = "inproc://none", .capacity = 10, .cluster = &s_cluster_conf,
};

static int setup_cluster(void **state)
{
    s_setup_opts = &s_cluster_opts;
    int rc = setup(state);
    s_setup_opts = NULL;
    return rc;
}

static void test_router_restart_cluster(void **state)
{
    fx_t *fx = *state;
    char id[96], id2[96], tag[64];
    s_call_up(fx, "cl-1", id, sizeof id, tag, sizeof tag);
    s_invite_authenticated(fx, "cl-2", id2, sizeof id2);   /* still being set up */
    td_bus_fake_reset();
    td_bus_fake_peer_restart(fx->bus, "router", "router", 0);
    s_pump(fx);
    int got503 = 0, gotbye = 0;
    for (int i = 0; i < 20; i++) {
        int st = s_next(fx, 1);
        if (st < 0)
            break;
        got503 |= st == 503;
        gotbye |= st == 0 && !strcmp(fx->msg->sip_method, "BYE");
    }
    assert_true(got503);
    assert_false(gotbye);
    assert_null(s_sent(TANDEM__ENVELOPE__BODY_HANGUP));
    sip_legs_stats_t ls;
    sip_legs_stats(sip_core_legs(fx->core), &ls);
    assert_int_equal(ls.calls_up, 1);
    /* no router: the BYE gets 200, the Hangup waits */
    td_bus_fake_set_fail(1);
    s_request(fx, "BYE", "sip:1002@127.0.0.1", "1001", "cl-1", 15, tag, NULL, NULL);
    assert_int_equal(s_next_no488(fx), 200);
    td_bus_fake_set_fail(0);
    td_bus_fake_reset();
    td_bus_fake_peer_up(fx->bus, "router", "router", 0);
    s_pump(fx);
    const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_non_null(h);
    assert_string_equal(h->call_id, id);
    assert_int_equal(h->leg, 0);
    assert_int_equal(h->hangup->cause, 16);
    assert_int_equal(sip_legs_resend_hangups(sip_core_legs(fx->core)), 0);   /* sent once */
}

static void test_unknown_leg_on_bus(void **state)
{
    fx_t *fx = *state;
    Tandem__Envelope env;
    Tandem__Answer an = TANDEM__ANSWER__INIT;
    s_env(&env, "nobody", 0);
    env.body_case = TANDEM__ENVELOPE__BODY_ANSWER;
    env.answer = &an;
    td_bus_fake_reset();
    s_deliver(fx, &env);
    const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_non_null(h);
    assert_string_equal(h->call_id, "nobody");
    /* but a Hangup for an unknown leg is not answered */
    Tandem__Hangup hu = TANDEM__HANGUP__INIT;
    env.body_case = TANDEM__ENVELOPE__BODY_HANGUP;
    env.hangup = &hu;
    td_bus_fake_reset();
    s_deliver(fx, &env);
    assert_int_equal(td_bus_fake_count(), 0);
}

/* Mutated requests and responses straight into the layer: whatever the core
 * is handed, it answers or drops, and never crashes (run under ASan). */
static void test_mutations_never_crash(void **state)
{
    fx_t *fx = *state;
    static const char *seeds[] = {
        "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKm1;rport\r\n"
        "Max-Forwards: 70\r\nFrom: \"A\" <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1002@127.0.0.1>\r\n"
        "Call-ID: mut\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@127.0.0.1:5999>\r\n"
        "Proxy-Authorization: Digest username=\"1001\", realm=\"tandem\", nonce=\"00000000\", "
        "uri=\"sip:1002@127.0.0.1\", response=\"0123456789abcdef0123456789abcdef\", qop=auth, "
        "nc=00000001, cnonce=\"x\"\r\nRequire: timer\r\nContent-Type: application/sdp\r\n"
        "Content-Length: 10\r\n\r\nv=0\r\ns=-\r\n",
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKm2\r\n"
        "From: <sip:1001@127.0.0.1>;tag=b\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: mut2\r\n"
        "CSeq: 2 REGISTER\r\nContact: <sip:1001@127.0.0.1:5999>;expires=60, *\r\nExpires: 0\r\n"
        "Authorization: Digest username=\"1001\", realm=\"tandem\", nonce=\"x\", uri=\"sip:a\", "
        "response=\"y\"\r\nContent-Length: 0\r\n\r\n",
        "BYE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKm3\r\n"
        "From: <sip:1001@127.0.0.1>;tag=b\r\nTo: <sip:1002@127.0.0.1>;tag=c\r\nCall-ID: mut3\r\n"
        "CSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n",
        "CANCEL sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKm1;rport\r\n"
        "From: \"A\" <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: mut\r\n"
        "CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKm9\r\n"
        "From: <sip:1001@127.0.0.1>;tag=d\r\nTo: <sip:1002@127.0.0.1>;tag=e\r\nCall-ID: mut4\r\n"
        "CSeq: 1 INVITE\r\nContact: <sip:1002@127.0.0.1:5999>\r\nRecord-Route: <sip:127.0.0.1;lr>\r\n"
        "Content-Length: 0\r\n\r\n",
    };
    struct sockaddr_in from = fx->ph;
    sip_txn_layer_t *layer = sip_core_layer(fx->core);
    uint32_t rnd = 12345;
    char buf[4096];
    for (int i = 0; i < 20000; i++) {
        const char *seed = seeds[i % (sizeof seeds / sizeof seeds[0])];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = 1 + (int)((rnd = rnd * 1103515245 + 12345) >> 16) % 4;
        for (int e = 0; e < edits; e++) {
            rnd = rnd * 1103515245 + 12345;
            size_t at = (rnd >> 8) % n;
            switch ((rnd >> 4) % 4) {
            case 0: buf[at] = (char)(rnd >> 20); break;                    /* flip a byte */
            case 1: n = at ? at : 1; break;                                /* truncate */
            case 2: buf[at] = ' '; break;
            case 3: buf[at] = (char)"\r\n:;,<>\"0@"[(rnd >> 12) % 11]; break;
            }
        }
        /* every other round from the trunk's address: accepted INVITEs make legs */
        struct sockaddr_in src = from;
        if ((i / 5) % 2)
            inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
        sip_txn_layer_input(layer, buf, n, &src);
        if (i % 256 == 0) {
            s_pump(fx);
            while (recv(fx->phone, buf, sizeof buf, 0) > 0)
                ;
        }
    }
    s_pump(fx);
    /* (the layer's 400s echo mangled header lines: drained unparsed) */
    while (recv(fx->phone, buf, sizeof buf, 0) > 0)
        ;
    /* a normal request still works afterwards (once the failed
     * authentications the mutants made are forgiven: they ban the phone's
     * address, as they should) */
    sip_ban_clear(sip_core_ban(fx->core), 0);
    s_request(fx, "OPTIONS", "sip:127.0.0.1", "x", "after-mut", 1, NULL, NULL, NULL);
    int st;
    while ((st = s_next(fx, 1)) >= 0 && st != 200)
        ;
    assert_int_equal(st, 200);
}

/* Drop what is still queued for the phone (retransmitted finals of
 * transactions already ACKed: T1 is 5 ms here). */
static void s_drain(fx_t *fx)
{
    s_pump(fx);
    while (recv(fx->phone, fx->last, sizeof fx->last, 0) > 0)
        ;
}

/* Send from another socket: swap it in as fx->phone (and back). */
static void s_swap(fx_t *fx, int *fd, struct sockaddr_in *addr)
{
    int t = fx->phone;
    struct sockaddr_in a = fx->ph;
    fx->phone = *fd;
    fx->ph = *addr;
    *fd = t;
    *addr = a;
}

/* The bug of issue 6: a trunk with host=127.0.0.1, insecure=port,invite and
 * phones registered from 127.0.0.1 on other ports. A phone's INVITE is the
 * phone's (challenged, its context and caller ID), whatever its From user;
 * the trunk's is the trunk's; OPTIONS likewise. */
static void test_trunk_and_phones_same_ip(void **state)
{
    fx_t *fx = *state;
    char cred[512];
    const char *ruri = "sip:1002@127.0.0.1";
    s_register(fx, "1001", "1001pass", "sip-reg", "Expires: 300\r\n", 200);

    /* From 1001: named by From, challenged, then its context and caller ID */
    td_bus_fake_reset();
    s_request(fx, "INVITE", ruri, "1001", "sip-1", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, ruri, "1001", "sip-1");
    assert_null(s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW));
    s_credentials(fx, "Authorization", "1001", "1001pass", "INVITE", ruri, cred, sizeof cred);
    s_request(fx, "INVITE", ruri, "1001", "sip-1", 2, NULL, cred, s_sdp);
    const Tandem__Envelope *e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_string_equal(e->channel_new->peer, "1001");
    assert_string_equal(e->channel_new->context, "internal");
    assert_string_equal(e->channel_new->caller_num, "1001");
    assert_string_equal(e->channel_new->caller_name, "Alice");

    /* an unknown From user from 1001's registered address: 1001 (by
     * address), so challenged, never the trunk */
    td_bus_fake_reset();
    s_request(fx, "INVITE", ruri, "nobody", "sip-2", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, ruri, "nobody", "sip-2");
    assert_null(s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW));
    /* ... and 1002's credentials do not make it 1002: 403 */
    s_credentials(fx, "Authorization", "1002", "1002pass", "INVITE", ruri, cred, sizeof cred);
    s_request(fx, "INVITE", ruri, "nobody", "sip-2", 2, NULL, cred, s_sdp);
    assert_int_equal(s_next_for(fx, 2), 403);
    s_ack_final(fx, ruri, "nobody", "sip-2");
    /* ... but 1001's do: the call is 1001's, its caller ID the From's
     * number overridden by 1001's callerid= */
    s_request(fx, "INVITE", ruri, "nobody", "sip-3", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, ruri, "nobody", "sip-3");
    s_credentials(fx, "Authorization", "1001", "1001pass", "INVITE", ruri, cred, sizeof cred);
    s_request(fx, "INVITE", ruri, "nobody", "sip-3", 2, NULL, cred, s_sdp);
    e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_string_equal(e->channel_new->peer, "1001");
    assert_string_equal(e->channel_new->caller_num, "1001");

    /* OPTIONS from the phone's port (auth_options_requests=yes): 401 */
    s_request(fx, "OPTIONS", "sip:127.0.0.1", "nobody", "sip-4", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 401);

    /* the trunk: another port on the same IP, no challenge, its context */
    struct sockaddr_in ta;
    int trunk = s_udp(&ta);                 /* another port of 127.0.0.1 */
    s_swap(fx, &trunk, &ta);
    td_bus_fake_reset();
    s_request(fx, "INVITE", "sip:5551234@127.0.0.1", "carrier", "sip-5", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 0), 100);
    assert_int_equal(s_next(fx, 0), -1);
    e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_string_equal(e->channel_new->peer, "trunk");
    assert_string_equal(e->channel_new->context, "from-trunk");
    assert_string_equal(e->channel_new->caller_num, "carrier");
    /* a From that names a phone wins over the address: challenged as 1002 */
    s_request(fx, "INVITE", ruri, "1002", "sip-6", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, ruri, "1002", "sip-6");
    /* a From naming a friend without a secret: that friend, unchallenged
     * (check_auth: "Always OK if no secret"), in its context */
    s_drain(fx);
    td_bus_fake_reset();
    s_request(fx, "INVITE", ruri, "1003", "sip-6b", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 0), 100);
    e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_string_equal(e->channel_new->peer, "1003");
    assert_string_equal(e->channel_new->context, "internal");
    /* OPTIONS from the trunk's port: insecure=invite, 200 */
    s_request(fx, "OPTIONS", "sip:127.0.0.1", "carrier", "sip-7", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 200);
    s_swap(fx, &trunk, &ta);
    close(trunk);

    /* 1001 unregisters: its port is just another port of the trunk's IP */
    s_register(fx, "1001", "1001pass", "sip-unreg", "Expires: 0\r\n", 200);
    s_drain(fx);
    td_bus_fake_reset();
    s_request(fx, "INVITE", "sip:5551234@127.0.0.1", "nobody", "sip-8", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 0), 100);
    e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_string_equal(e->channel_new->peer, "trunk");
}

/* chan_sip's check_peer_ok authenticates a device with its section name:
 * 1004 (defaultuser=alice) answers as "1004"; "alice" is a username
 * mismatch, 403 at once. */
static void test_invite_digest_user(void **state)
{
    fx_t *fx = *state;
    char cred[512];
    const char *ruri = "sip:1002@127.0.0.1";
    s_request(fx, "INVITE", ruri, "1004", "du-1", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_is_challenge(fx, 0);
    s_ack_final(fx, ruri, "1004", "du-1");
    s_credentials(fx, "Authorization", "alice", "1004pass", "INVITE", ruri, cred, sizeof cred);
    s_request(fx, "INVITE", ruri, "1004", "du-1", 2, NULL, cred, s_sdp);
    assert_int_equal(s_next_for(fx, 2), 403);
    s_ack_final(fx, ruri, "1004", "du-1");

    td_bus_fake_reset();
    s_request(fx, "INVITE", ruri, "1004", "du-2", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 401);
    s_ack_final(fx, ruri, "1004", "du-2");
    /* a phone that answers with Proxy-Authorization still gets in */
    s_credentials(fx, "Proxy-Authorization", "1004", "1004pass", "INVITE", ruri, cred,
                  sizeof cred);
    s_request(fx, "INVITE", ruri, "1004", "du-2", 2, NULL, cred, s_sdp);
    const Tandem__Envelope *e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_string_equal(e->channel_new->peer, "1004");
}

/* alwaysauthreject=no: register_verify says what is wrong at once (404 for
 * no such peer or a username mismatch, 403 for a peer that is not
 * host=dynamic), check_user_full refuses an unknown caller with 403 when
 * guests are not allowed; a wrong password is 403 either way. */
static const char *s_noreject_conf_text =
    "[general]\n"
    "realm=tandem\n"
    "allowguest=no\n"
    "alwaysauthreject=no\n"
    "[1001]\n"
    "type=friend\n"
    "host=dynamic\n"
    "secret=1001pass\n"
    "[1002]\n"
    "type=friend\n"
    "host=dynamic\n"
    "secret=1002pass\n"
    "[trunk]\n"
    "type=peer\n"
    "host=127.0.0.1\n"
    "port=PHONEPORT\n"
    "defaultuser=gw\n"
    "[bare]\n"
    "type=peer\n"
    "host=127.0.0.1\n"
    "port=PHONEPORT\n";

static int setup_noreject(void **state)
{
    s_setup_text = s_noreject_conf_text;
    int rc = setup(state);
    s_setup_text = NULL;
    return rc;
}

static void test_noreject(void **state)
{
    fx_t *fx = *state;
    char cred[512];
    s_request(fx, "REGISTER", "sip:127.0.0.1", "9999", "nr-1", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 404);
    s_request(fx, "REGISTER", "sip:127.0.0.1", "trunk", "nr-2", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 403);
    s_request(fx, "REGISTER", "sip:127.0.0.1", "1001", "nr-3", 1, NULL, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 401);
    s_credentials(fx, "Authorization", "1002", "1002pass", "REGISTER", "sip:127.0.0.1", cred,
                  sizeof cred);
    s_request(fx, "REGISTER", "sip:127.0.0.1", "1001", "nr-3", 2, NULL, cred, NULL);
    assert_int_equal(s_next_for(fx, 2), 404);
    s_register(fx, "1001", "wrong", "nr-4", NULL, 403);
    s_register(fx, "1001", "1001pass", "nr-5", NULL, 200);
    /* INVITE from a From user that names nobody, from an address that is
     * no peer's (another port): 403 at once */
    struct sockaddr_in other;
    int sock = s_udp(&other);
    s_swap(fx, &sock, &other);
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "stranger", "nr-6", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 1), 403);
    s_swap(fx, &sock, &other);
    close(sock);
}

/* Calling a static peer with no number: chan_sip's initreqprep puts the
 * peer's defaultuser in the Request-URI, or no user part at all. */
static void test_static_peer_request_uri(void **state)
{
    fx_t *fx = *state;
    const char *users[] = { "trunk", "bare" };
    const char *want[] = { "gw", NULL };
    for (int i = 0; i < 2; i++) {
        Tandem__Envelope env;
        Tandem__Originate o = TANDEM__ORIGINATE__INIT;
        char channel[64], id[16];
        snprintf(channel, sizeof channel, "SIP/%s-0000000%d", users[i], i + 1);
        snprintf(id, sizeof id, "c-static-%d", i);
        o.channel = channel;
        o.user = (char *)users[i];
        o.number = "";
        o.caller_num = "1001";
        o.sdp = (char *)s_sdp;
        s_env(&env, id, 1);
        env.body_case = TANDEM__ENVELOPE__BODY_ORIGINATE;
        env.originate = &o;
        s_deliver(fx, &env);
        assert_int_equal(s_next(fx, 1), 0);
        assert_string_equal(fx->msg->sip_method, "INVITE");
        if (want[i])
            assert_string_equal(fx->msg->req_uri->username, want[i]);
        else
            assert_null(fx->msg->req_uri->username);
        assert_string_equal(fx->msg->req_uri->host, "127.0.0.1");
        s_respond(fx, 486, "busytag", NULL);
        assert_int_equal(s_next(fx, 1), 0);
        assert_string_equal(fx->msg->sip_method, "ACK");
    }
}

/* Offer/answer by allow=: an offer with nothing allowed is 488 with a
 * Warning and starts no call; ChannelNew carries the allowed codecs in
 * order; the worker's offer to a callee is cut to its allow= list, and a
 * callee that allows neither law is not called (cause 58). */
static void test_codecs(void **state)
{
    fx_t *fx = *state;
    static const char *g729 = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                              "t=0 0\r\nm=audio 40000 RTP/AVP 18 101\r\n"
                              "a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    static const char *worker = "v=0\r\no=tandem 7 7 IN IP4 127.0.0.1\r\ns=Tandem\r\n"
                                "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\n"
                                "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
                                "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";
    /* From the trunk (no challenge): G.729 only is refused. */
    int trunk = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in ta = { .sin_family = AF_INET };
    socklen_t tl = sizeof ta;
    inet_pton(AF_INET, "127.0.0.2", &ta.sin_addr);
    assert_int_equal(bind(trunk, (struct sockaddr *)&ta, sizeof ta), 0);
    getsockname(trunk, (struct sockaddr *)&ta, &tl);
    int phone = fx->phone;
    struct sockaddr_in ph = fx->ph;
    fx->phone = trunk;
    fx->ph = ta;
    td_bus_fake_reset();
    s_request(fx, "INVITE", "sip:5551234@127.0.0.1", "carrier", "codec-1", 1, NULL, NULL, g729);
    assert_int_equal(s_next(fx, 1), 488);
    osip_header_t *w = NULL;
    assert_true(osip_message_header_get_byname(fx->msg, "warning", 0, &w) >= 0);
    assert_non_null(w);
    assert_int_equal(strncmp(w->hvalue, "304 ", 4), 0);
    assert_null(s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW));
    s_ack_final(fx, "sip:5551234@127.0.0.1", "carrier", "codec-1");
    /* PCMU is fine; the codecs go to the router in [general]'s order. */
    s_request(fx, "INVITE", "sip:5551234@127.0.0.1", "carrier", "codec-2", 1, NULL, NULL, s_sdp);
    assert_int_equal(s_next(fx, 0), 100);
    const Tandem__Envelope *e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    assert_non_null(e);
    assert_int_equal(e->channel_new->n_codecs, 2);
    assert_int_equal(e->channel_new->codecs[0], 0);
    assert_int_equal(e->channel_new->codecs[1], 8);
    fx->phone = phone;
    fx->ph = ph;
    close(trunk);

    /* 1005 allows alaw only: its INVITE offers PCMA and the event. */
    s_register(fx, "1005", "1005pass", "codec-reg", "Expires: 300\r\n", 200);
    td_bus_fake_reset();
    Tandem__Envelope env;
    Tandem__Originate o = TANDEM__ORIGINATE__INIT;
    o.channel = "SIP/1005-00000001";
    o.user = "1005";
    o.number = "";
    o.caller_num = "1001";
    o.caller_name = "Alice";
    o.sdp = (char *)worker;
    s_env(&env, "c-codec", 1);
    env.body_case = TANDEM__ENVELOPE__BODY_ORIGINATE;
    env.originate = &o;
    s_deliver(fx, &env);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    osip_body_t *body = osip_list_get(&fx->msg->bodies, 0);
    assert_non_null(body);
    assert_non_null(strstr(body->body, "\r\nm=audio 40000 RTP/AVP 8 101\r\n"));
    assert_null(strstr(body->body, "PCMU"));
    assert_non_null(strstr(body->body, "a=rtpmap:101 telephone-event/8000\r\n"));
    s_respond(fx, 486, "busytag", NULL);

    /* [g729] allows neither law: Hangup cause 58 at once, no SIP. */
    td_bus_fake_reset();
    o.user = "g729";
    s_env(&env, "c-g729", 1);
    env.body_case = TANDEM__ENVELOPE__BODY_ORIGINATE;
    env.originate = &o;
    s_deliver(fx, &env);
    const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_non_null(h);
    assert_int_equal(h->leg, 1);
    assert_int_equal(h->hangup->cause, 58);
}


/* Answer the request in fx->msg as it is (its To tag, if any, kept). */
static void s_reply_as_is(fx_t *fx, int status, const char *body)
{
    char text[4096], *via = NULL, *from = NULL, *to = NULL, *cid = NULL, *cseq = NULL;
    osip_via_to_str(osip_list_get(&fx->msg->vias, 0), &via);
    osip_from_to_str(fx->msg->from, &from);
    osip_to_to_str(fx->msg->to, &to);
    osip_call_id_to_str(fx->msg->call_id, &cid);
    osip_cseq_to_str(fx->msg->cseq, &cseq);
    snprintf(text, sizeof text,
             "SIP/2.0 %d Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
             "CSeq: %s\r\nContact: <sip:1001@127.0.0.1:%d>\r\n%sContent-Length: %zu\r\n\r\n%s",
             status, via, from, to, cid, cseq, ntohs(fx->ph.sin_port),
             body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : (size_t)0,
             body ? body : "");
    osip_free(via); osip_free(from); osip_free(to); osip_free(cid); osip_free(cseq);
    s_send_raw(fx, text);
}

/* Run the loop for ms milliseconds (timers fire). */
static void s_run_for(fx_t *fx, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_base_loopexit(fx->base, &tv);
    event_base_dispatch(fx->base);
}

/* An authenticated INVITE from 1001 with extra headers; returns the final
 * status (or 0 if ChannelNew went to the router, id set). */
static int s_invite_with(fx_t *fx, const char *call_id, const char *headers, char *id, size_t len)
{
    char cred[512], extra[1024];
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", call_id, 1, NULL, headers, s_sdp);
    int first = s_next(fx, 1);
    if (first != 401)
        fail_msg("%s: got %d:\n%s", call_id, first, fx->last);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", call_id);
    s_credentials(fx, "Authorization", "1001", "1001pass", "INVITE", "sip:1002@127.0.0.1",
                  cred, sizeof cred);
    snprintf(extra, sizeof extra, "%s%s", cred, headers);
    td_bus_fake_reset();
    s_request(fx, "INVITE", "sip:1002@127.0.0.1", "1001", call_id, 2, NULL, extra, s_sdp);
    int st;
    while ((st = s_next(fx, 1)) == 401)
        ;
    const Tandem__Envelope *e = s_sent(TANDEM__ENVELOPE__BODY_CHANNEL_NEW);
    if (e)
        snprintf(id, len, "%s", e->call_id);
    return e ? 0 : st;
}


/* RFC 4028 as chan_sip's session-timers=accept: Session-Expires below our
 * Min-SE gets 422 with Min-SE; accepted, the 200 says Require: timer and
 * the interval and refresher; a phone that refreshes and does not is hung
 * up (BYE) an interval less a third later; when we refresh, a re-INVITE
 * with the session we sent goes out at half the interval. */
static void test_session_timer(void **state)
{
    fx_t *fx = *state;
    char id[96], tag[64];
    assert_int_equal(s_invite_with(fx, "st-1", "Supported: timer\r\nSession-Expires: 1\r\n",
                                   id, sizeof id), 422);
    assert_string_equal(s_hdr(fx, "min-se"), "2");
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "st-1");
    assert_int_equal(s_invite_with(fx, "st-0", "Supported: timer\r\nSession-Expires: x\r\n",
                                   id, sizeof id), 400);
    s_ack_final(fx, "sip:1002@127.0.0.1", "1001", "st-0");

    /* the phone refreshes (refresher=uac) but never does: BYE after 3 - 1 s */
    assert_int_equal(s_invite_with(fx, "st-2",
                                   "Supported: timer\r\nSession-Expires: 3;refresher=uac\r\n",
                                   id, sizeof id), 0);
    s_answer_leg0(fx, id);
    assert_int_equal(s_next(fx, 1), 200);
    assert_string_equal(s_hdr(fx, "require"), "timer");
    assert_string_equal(s_hdr(fx, "session-expires"), "3;refresher=uac");
    snprintf(tag, sizeof tag, "%s", s_to_tag(fx));
    s_request(fx, "ACK", "sip:1002@127.0.0.1", "1001", "st-2", 2, tag, NULL, NULL);
    td_bus_fake_reset();
    s_run_for(fx, 1500);
    while (s_next(fx, 1) == 200)
        ;                                           /* retransmissions before the ACK */
    assert_null(s_sent(TANDEM__ENVELOPE__BODY_HANGUP));
    s_run_for(fx, 800);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "BYE");
    s_reply_as_is(fx, 200, NULL);
    s_run_for(fx, 50);
    while (s_next(fx, 1) == 0)
        ;                                           /* BYEs resent before our 200 landed */
    const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_HANGUP);
    assert_non_null(h);
    assert_string_equal(h->call_id, id);

    /* we refresh (no refresher given: uas, chan_sip's default) */
    assert_int_equal(s_invite_with(fx, "st-3", "Supported: timer\r\nSession-Expires: 2\r\n",
                                   id, sizeof id), 0);
    s_answer_leg0(fx, id);
    assert_int_equal(s_next(fx, 1), 200);
    assert_string_equal(s_hdr(fx, "session-expires"), "2;refresher=uas");
    snprintf(tag, sizeof tag, "%s", s_to_tag(fx));
    s_request(fx, "ACK", "sip:1002@127.0.0.1", "1001", "st-3", 2, tag, NULL, NULL);
    td_bus_fake_reset();
    s_run_for(fx, 1200);
    int st;
    while ((st = s_next(fx, 1)) == 200)
        ;
    assert_int_equal(st, 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    assert_string_equal(s_hdr(fx, "session-expires"), "2;refresher=uac");
    osip_body_t *body = osip_list_get(&fx->msg->bodies, 0);
    assert_non_null(body);
    assert_memory_equal(body->body, s_sdp, strlen(s_sdp));
    s_reply_as_is(fx, 200, s_sdp);
    while (s_next(fx, 1) == 0 && !strcmp(fx->msg->sip_method, "INVITE"))
        ;                                           /* resent before our 200 landed */
    assert_non_null(fx->msg);
    assert_string_equal(fx->msg->sip_method, "ACK");
    assert_int_equal(td_bus_fake_count(), 0);        /* a refresh is not the router's business */
    s_request(fx, "BYE", "sip:1002@127.0.0.1", "1001", "st-3", 3, tag, NULL, NULL);
    assert_int_equal(s_next(fx, 1), 200);
    /* no Supported: timer, no timer */
    assert_int_equal(s_invite_with(fx, "st-4", "Session-Expires: 1\r\n", id, sizeof id), 0);
}

/* From the trunk (127.0.0.2, insecure=port,invite: no challenge). */
/* The last answer to the INVITE (100 if nothing followed it); *first is
 * the first answer. */
static int s_trunk_invite(fx_t *fx, const char *call_id, int *first)
{
    int trunk = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in ta = { .sin_family = AF_INET };
    socklen_t tl = sizeof ta;
    inet_pton(AF_INET, "127.0.0.2", &ta.sin_addr);
    assert_int_equal(bind(trunk, (struct sockaddr *)&ta, sizeof ta), 0);
    getsockname(trunk, (struct sockaddr *)&ta, &tl);
    int phone = fx->phone;
    struct sockaddr_in ph = fx->ph;
    fx->phone = trunk;
    fx->ph = ta;
    s_request(fx, "INVITE", "sip:5551234@127.0.0.1", "carrier", call_id, 1, NULL, NULL, s_sdp);
    int status = s_next(fx, 0), next;
    *first = status;
    if (status == 100 && (next = s_next(fx, 0)) != -1)
        status = next;
    fx->phone = phone;
    fx->ph = ph;
    close(trunk);
    return status;
}

/* capacity counts answered calls; calls being set up count against
 * max_ringing (issue 11: callees that never answer must not lock every new
 * call out). */
static const sip_core_opts_t s_ringing_opts = {
    .identity = "sig-t", .endpoint = "inproc://none", .capacity = 1, .max_ringing = 2,
};

static int setup_ringing(void **state)
{
    s_setup_opts = &s_ringing_opts;
    int rc = setup(state);
    s_setup_opts = NULL;
    return rc;
}

static void test_ringing_counted_apart(void **state)
{
    fx_t *fx = *state;
    int first;
    assert_int_equal(s_trunk_invite(fx, "ring-1", &first), 100);
    assert_int_equal(s_trunk_invite(fx, "ring-2", &first), 100);   /* capacity=1: ringing is apart */
    assert_int_equal(s_trunk_invite(fx, "ring-3", &first), 503);   /* max_ringing=2 */
    assert_int_equal(first, 100);
    sip_legs_stats_t st;
    sip_legs_stats(sip_core_legs(fx->core), &st);
    assert_int_equal(st.calls, 2);
    assert_int_equal(st.calls_up, 0);
}

/* max_cps: over it a new INVITE gets a stateless 503 with Retry-After, no
 * 100 first and no leg. */
static const sip_core_opts_t s_cps_opts = {
    .identity = "sig-t", .endpoint = "inproc://none", .capacity = 10, .max_cps = 1,
};

static int setup_cps(void **state)
{
    s_setup_opts = &s_cps_opts;
    int rc = setup(state);
    s_setup_opts = NULL;
    return rc;
}

static void test_max_cps_sheds(void **state)
{
    fx_t *fx = *state;
    int first;
    assert_int_equal(s_trunk_invite(fx, "cps-1", &first), 100);
    assert_int_equal(s_trunk_invite(fx, "cps-2", &first), 503);
    assert_int_equal(first, 503);                            /* no 100: no transaction */
    assert_non_null(strstr(fx->last, "\r\nRetry-After: "));
    sip_legs_stats_t st;
    sip_legs_stats(sip_core_legs(fx->core), &st);
    assert_int_equal(st.calls, 1);
    sip_txn_stats_t ts;
    sip_txn_layer_stats(sip_core_layer(fx->core), &ts);
    assert_int_equal(ts.shed, 1);
}

/* [security] max_sdp (issue 12): a longer body gets 413 and is counted. */
static const sip_core_opts_t s_sdp_opts = {
    .identity = "sig-t", .endpoint = "inproc://none", .capacity = 10, .max_sdp = 1024,
};

static int setup_sdp(void **state)
{
    s_setup_opts = &s_sdp_opts;
    int rc = setup(state);
    s_setup_opts = NULL;
    return rc;
}

static void test_max_sdp(void **state)
{
    fx_t *fx = *state;
    char body[1200], text[4096];
    int port = ntohs(fx->ph.sin_port);
    memset(body, 'a', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    memcpy(body, "v=0\r\n", 5);
    snprintf(text, sizeof text,
             "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKsdp\r\n"
             "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1002@127.0.0.1>\r\n"
             "Call-ID: sdp-1\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@127.0.0.1>\r\n"
             "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s", port,
             strlen(body), body);
    s_send_raw(fx, text);
    assert_int_equal(s_next(fx, 1), 413);
    s_ack_raw(fx, "z9hG4bKsdp", "sdp-1");
    sip_legs_stats_t st;
    sip_legs_stats(sip_core_legs(fx->core), &st);
    assert_int_equal(st.sdp_capped, 1);
    assert_int_equal(st.calls, 0);
}

/* A callee looping 183s: each early SDP goes on to the router (and is not
 * kept); one over max_sdp goes on as a Progress without SDP, counted. */
static void test_early_sdp_loop(void **state)
{
    fx_t *fx = *state;
    s_register(fx, "1002", "1002pass", "e-reg", "Expires: 300\r\n", 200);
    td_bus_fake_reset();
    s_originate(fx, "c-early", 1, 0);
    assert_int_equal(s_next(fx, 1), 0);
    assert_string_equal(fx->msg->sip_method, "INVITE");
    for (int i = 0; i < 50; i++) {
        td_bus_fake_reset();
        s_respond(fx, 183, "calleetag", s_sdp);
        const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_PROGRESS);
        assert_non_null(h);
        assert_int_equal(h->progress->code, 183);
        assert_string_equal(h->progress->sdp, s_sdp);
    }
    char big[1200];
    snprintf(big, sizeof big, "%s", s_sdp);
    size_t n = strlen(big);
    while (n < sizeof big - 20)
        n += (size_t)snprintf(big + n, sizeof big - n, "a=x-pad:%04zu\r\n", n);
    td_bus_fake_reset();
    s_respond(fx, 183, "calleetag", big);
    const Tandem__Envelope *h = s_sent(TANDEM__ENVELOPE__BODY_PROGRESS);
    assert_non_null(h);
    assert_string_equal(h->progress->sdp, "");
    sip_legs_stats_t st;
    sip_legs_stats(sip_core_legs(fx->core), &st);
    assert_int_equal(st.sdp_capped, 1);
}

/* call-limit=: the call over the limit gets 480 "Temporarily Unavailable
 * (Call limit)" (chan_sip). The reason replaces the standard one, which must
 * be freed: ASan's leak check of this binary is the assertion (make
 * test-asan found it leaking). */
static const char *s_limit_conf_text =
    "[general]\n"
    "realm=tandem\n"
    "context=guests\n"
    "allowguest=no\n"
    "[trunk]\n"
    "type=peer\n"
    "host=127.0.0.2\n"
    "insecure=port,invite\n"
    "context=from-trunk\n"
    "call-limit=1\n";

static int setup_limit(void **state)
{
    s_setup_text = s_limit_conf_text;
    int rc = setup(state);
    s_setup_text = NULL;
    return rc;
}

static void test_call_limit_reason(void **state)
{
    fx_t *fx = *state;
    int first;
    assert_int_equal(s_trunk_invite(fx, "limit-1", &first), 100);
    assert_int_equal(s_trunk_invite(fx, "limit-2", &first), 480);
    assert_non_null(strstr(fx->last, "SIP/2.0 480 Temporarily Unavailable (Call limit)\r\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_dialplan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_star, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_location, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_rejects_alike, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_nonce_and_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_uri_and_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_uri_host_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incoming_call_answer_bye, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_memory_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incoming_router_hangs_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incoming_record_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invite_identification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invite_digest_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noreject, setup_noreject, teardown),
        cmocka_unit_test_setup_teardown(test_static_peer_request_uri, setup_noreject, teardown),
        cmocka_unit_test_setup_teardown(test_insecure_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trunk_and_phones_same_ip, setup_same_ip, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outgoing_leg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outgoing_record_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outgoing_busy_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_restart_cluster, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_two_routers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_leg_on_bus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutations_never_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_codecs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ringing_counted_apart, setup_ringing, teardown),
        cmocka_unit_test_setup_teardown(test_max_cps_sheds, setup_cps, teardown),
        cmocka_unit_test_setup_teardown(test_max_sdp, setup_sdp, teardown),
        cmocka_unit_test_setup_teardown(test_early_sdp_loop, setup_sdp, teardown),
        cmocka_unit_test_setup_teardown(test_call_limit_reason, setup_limit, teardown),
    };
    return cmocka_run_group_tests_name("sip_core", tests, NULL, NULL);
}
