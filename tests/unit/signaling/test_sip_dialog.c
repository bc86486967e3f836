/* Unit tests for sip_dialog's route set (RFC 3261 12.2.1.1): where in-dialog
 * requests go and what they look like with a loose router, a strict router,
 * no route set, and a route set pre-loaded from Path (RFC 3327). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <osipparser2/osip_parser.h>

#include "sip_dialog.h"

static const char *s_resp_fmt =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx\r\n"
    "%s"
    "From: <sip:1001@10.0.0.1>;tag=ours\r\n"
    "To: <sip:1002@10.0.0.1>;tag=theirs\r\n"
    "Call-ID: abc@10.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:1002@10.0.0.9:5062>\r\n"
    "Content-Length: 0\r\n\r\n";

static osip_message_t *s_parse(const char *rr)
{
    char text[2048];
    osip_message_t *m = NULL;
    snprintf(text, sizeof text, s_resp_fmt, rr);
    assert_int_equal(osip_message_init(&m), 0);
    assert_int_equal(osip_message_parse(m, text, strlen(text)), 0);
    return m;
}

static void s_uac(sip_dialog_t *d, sip_arena_t *a, char *space, size_t size)
{
    struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(5062) };
    inet_pton(AF_INET, "10.0.0.9", &peer.sin_addr);
    sip_arena_init(a, space, size);
    assert_int_equal(sip_dialog_uac(d, a, "abc@10.0.0.1", "ours", "<sip:1001@10.0.0.1>",
                                    "<sip:1002@10.0.0.1>", "sip:1002@10.0.0.9:5062", &peer), 0);
}

static const char *s_route(osip_message_t *m, int i)
{
    static char buf[256];
    osip_route_t *r = osip_list_get(&m->routes, i);
    char *s = NULL;
    if (!r || osip_route_to_str(r, &s) != 0)
        return NULL;
    snprintf(buf, sizeof buf, "%s", s);
    osip_free(s);
    return buf;
}

static char *s_ruri(osip_message_t *m)
{
    static char buf[256];
    char *s = NULL;
    osip_uri_to_str(m->req_uri, &s);
    snprintf(buf, sizeof buf, "%s", s ? s : "");
    osip_free(s);
    return buf;
}

static void test_no_routes(void **state)
{
    (void)state;
    char space[2048];
    sip_arena_t a;
    sip_dialog_t d;
    s_uac(&d, &a, space, sizeof space);
    osip_message_t *ok = s_parse("");
    assert_int_equal(sip_dialog_update_uac(&d, &a, ok), 0);
    assert_int_equal(ntohs(d.peer.sin_port), 5062);
    struct sockaddr_in hop;
    assert_int_equal(sip_dialog_first_hop(&d, &hop), -1);
    osip_message_t *bye = sip_dialog_request(&d, "BYE", 2);
    assert_string_equal(s_ruri(bye), "sip:1002@10.0.0.9:5062");
    assert_int_equal(osip_list_size(&bye->routes), 0);
    osip_message_free(bye);
    osip_message_free(ok);
    sip_arena_release(&a);
}

static void test_loose_router(void **state)
{
    (void)state;
    char space[2048];
    sip_arena_t a;
    sip_dialog_t d;
    s_uac(&d, &a, space, sizeof space);
    /* the callee's 200: Record-Route in the order the proxies added them,
     * nearest the callee first; we use it reversed */
    osip_message_t *ok = s_parse("Record-Route: <sip:10.0.0.7:5070;lr>\r\n"
                                 "Record-Route: <sip:10.0.0.5:5080;lr>\r\n");
    assert_int_equal(sip_dialog_update_uac(&d, &a, ok), 0);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &d.peer.sin_addr, ip, sizeof ip);
    assert_string_equal(ip, "10.0.0.5");
    assert_int_equal(ntohs(d.peer.sin_port), 5080);
    osip_message_t *bye = sip_dialog_request(&d, "BYE", 2);
    assert_string_equal(s_ruri(bye), "sip:1002@10.0.0.9:5062");   /* the remote target */
    assert_int_equal(osip_list_size(&bye->routes), 2);
    assert_string_equal(s_route(bye, 0), "<sip:10.0.0.5:5080;lr>");
    assert_string_equal(s_route(bye, 1), "<sip:10.0.0.7:5070;lr>");
    osip_message_free(bye);
    /* the ACK for a retransmitted 2xx, built from the response alone, goes
     * the same way */
    struct sockaddr_in to;
    osip_message_t *ack = sip_dialog_ack_from_2xx(ok, &to);
    assert_non_null(ack);
    assert_int_equal(ntohs(to.sin_port), 5080);
    assert_string_equal(s_ruri(ack), "sip:1002@10.0.0.9:5062");
    osip_message_free(ack);
    osip_message_free(ok);
    sip_arena_release(&a);
}

static void test_strict_router(void **state)
{
    (void)state;
    char space[2048];
    sip_arena_t a;
    sip_dialog_t d;
    s_uac(&d, &a, space, sizeof space);
    osip_message_t *ok = s_parse("Record-Route: <sip:10.0.0.7:5070;lr>, <sip:10.0.0.5:5080>\r\n");
    assert_int_equal(sip_dialog_update_uac(&d, &a, ok), 0);
    assert_int_equal(ntohs(d.peer.sin_port), 5080);
    /* 12.2.1.1: the strict router is the Request-URI; the rest of the route
     * set and then the remote target go in Route */
    osip_message_t *bye = sip_dialog_request(&d, "BYE", 2);
    assert_string_equal(s_ruri(bye), "sip:10.0.0.5:5080");
    assert_int_equal(osip_list_size(&bye->routes), 2);
    assert_string_equal(s_route(bye, 0), "<sip:10.0.0.7:5070;lr>");
    assert_string_equal(s_route(bye, 1), "<sip:1002@10.0.0.9:5062>");
    osip_message_free(bye);
    osip_message_free(ok);
    sip_arena_release(&a);
}

static void test_pinned_and_hostname(void **state)
{
    (void)state;
    char space[2048];
    sip_arena_t a;
    sip_dialog_t d;
    s_uac(&d, &a, space, sizeof space);
    d.pinned = 1;                 /* nat=force_rport: the address stays */
    osip_message_t *ok = s_parse("Record-Route: <sip:10.0.0.5:5080;lr>\r\n");
    assert_int_equal(sip_dialog_update_uac(&d, &a, ok), 0);
    assert_int_equal(ntohs(d.peer.sin_port), 5062);
    osip_message_t *bye = sip_dialog_request(&d, "BYE", 2);
    assert_int_equal(osip_list_size(&bye->routes), 1);   /* but the Route is there */
    osip_message_free(bye);
    osip_message_free(ok);
    /* a first hop by name is looked up (once, then from the cache) */
    s_uac(&d, &a, space, sizeof space);
    ok = s_parse("Record-Route: <sip:localhost:5090;lr>\r\n");
    assert_int_equal(sip_dialog_update_uac(&d, &a, ok), 0);
    assert_int_equal(ntohs(d.peer.sin_port), 5090);
    assert_int_equal(d.peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    osip_message_free(ok);
    struct sockaddr_in hop;
    assert_int_equal(sip_dialog_first_hop(&d, &hop), 0);   /* the cached answer */
    assert_int_equal(hop.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    /* a name that does not resolve: the peer stays */
    s_uac(&d, &a, space, sizeof space);
    ok = s_parse("Record-Route: <sip:no-such-proxy.invalid;lr>\r\n");
    assert_int_equal(sip_dialog_update_uac(&d, &a, ok), 0);
    assert_int_equal(ntohs(d.peer.sin_port), 5062);
    osip_message_free(ok);
    sip_arena_release(&a);
}

static void test_preloaded_path(void **state)
{
    (void)state;
    char space[2048];
    sip_arena_t a;
    sip_dialog_t d;
    s_uac(&d, &a, space, sizeof space);
    assert_int_equal(sip_dialog_set_routes(&d, &a, " <sip:10.0.0.5:5080;lr> ,"
                                                  "\"a, b\" <sip:10.0.0.7;lr>"), 0);
    assert_int_equal(d.nroutes, 2);
    assert_int_equal(ntohs(d.peer.sin_port), 5080);
    osip_message_t *inv = sip_dialog_request(&d, "INVITE", 1);
    assert_string_equal(s_ruri(inv), "sip:1002@10.0.0.9:5062");
    assert_int_equal(osip_list_size(&inv->routes), 2);
    assert_string_equal(s_route(inv, 0), "<sip:10.0.0.5:5080;lr>");
    assert_non_null(strstr(s_route(inv, 1), "<sip:10.0.0.7;lr>"));
    osip_message_free(inv);
    sip_arena_release(&a);
}

/* A dialog written as a dlg:* hash (the cluster store) and read back:
 * the same BYE goes to the same place with the next CSeq. */
static void test_save_load(void **state)
{
    (void)state;
    char space[2048], space2[2048];
    sip_arena_t a, b;
    sip_dialog_t d, back;
    s_uac(&d, &a, space, sizeof space);
    osip_message_t *ok = s_parse("Record-Route: <sip:10.0.0.7;lr>, <sip:10.0.0.5:5080;lr>\r\n");
    assert_int_equal(sip_dialog_update_uac(&d, &a, ok), 0);
    osip_message_free(ok);
    d.local_cseq = 7;
    d.remote_cseq = 3;
    sip_state_hash_t h;
    sip_state_hash_init(&h);
    sip_dialog_save(&d, &h);
    assert_int_equal(h.overflow, 0);
    sip_arena_init(&b, space2, sizeof space2);
    assert_int_equal(sip_dialog_load(&back, &b, h.n, h.fields, h.values), 0);
    assert_string_equal(back.call_id, "abc@10.0.0.1");
    assert_string_equal(back.local_tag, "ours");
    assert_string_equal(back.remote_tag, "theirs");
    assert_string_equal(back.remote_target, "sip:1002@10.0.0.9:5062");
    assert_int_equal(back.nroutes, 2);
    assert_int_equal(back.local_cseq, 7);
    assert_int_equal(back.remote_cseq, 3);
    assert_int_equal(back.peer.sin_addr.s_addr, d.peer.sin_addr.s_addr);
    assert_int_equal(back.peer.sin_port, d.peer.sin_port);
    assert_int_equal(back.pinned, 0);
    osip_message_t *bye = sip_dialog_request(&back, "BYE", ++back.local_cseq);
    assert_non_null(bye);
    assert_string_equal(bye->cseq->number, "8");
    assert_string_equal(s_route(bye, 0), "<sip:10.0.0.5:5080;lr>");
    osip_message_free(bye);
    /* a hash without its tags is refused */
    sip_state_hash_init(&h);
    sip_state_hash_add(&h, "call_id", "x");
    assert_int_equal(sip_dialog_load(&back, &b, h.n, h.fields, h.values), -1);
    sip_arena_release(&b);
    sip_arena_release(&a);
}

int main(void)
{
    parser_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_routes),
        cmocka_unit_test(test_loose_router),
        cmocka_unit_test(test_strict_router),
        cmocka_unit_test(test_pinned_and_hostname),
        cmocka_unit_test(test_preloaded_path),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests_name("sip_dialog", tests, NULL, NULL);
}
