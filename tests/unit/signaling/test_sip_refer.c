/* Unit tests for sip_refer: the Refer-To, Referred-By and Replaces parsers
 * meet well-formed and malformed input in tables (each row: the input and
 * the exact SIP status expected: 0 accepted, 400, 603), then the NOTIFY
 * builder and the two SDP helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <osipparser2/osip_parser.h>

#include "sip_refer.h"

/* ---- Replaces (RFC 3891 section 6.1) ---------------------------------------- */

static const struct {
    const char *in;
    int status;
    const char *call_id, *to_tag, *from_tag;
    int early_only;
} s_replaces[] = {
    { "abc@10.0.0.1;to-tag=t1;from-tag=f1", 0, "abc@10.0.0.1", "t1", "f1", 0 },
    { "abc;from-tag=f1;to-tag=t1", 0, "abc", "t1", "f1", 0 },
    { "  abc ; to-tag=t1 ; from-tag=f1 ", 0, "abc", "t1", "f1", 0 },
    { "abc;to-tag=t1;from-tag=f1;early-only", 0, "abc", "t1", "f1", 1 },
    { "abc;TO-TAG=t1;From-Tag=f1", 0, "abc", "t1", "f1", 0 },
    { "abc;to-tag=t1;from-tag=f1;x=y", 0, "abc", "t1", "f1", 0 },
    { "", 400, NULL, NULL, NULL, 0 },
    { ";to-tag=t1;from-tag=f1", 400, NULL, NULL, NULL, 0 },
    { "abc", 400, NULL, NULL, NULL, 0 },
    { "abc;to-tag=t1", 400, NULL, NULL, NULL, 0 },
    { "abc;from-tag=f1", 400, NULL, NULL, NULL, 0 },
    { "abc;to-tag=;from-tag=f1", 400, NULL, NULL, NULL, 0 },
    { "abc;to-tag;from-tag", 400, NULL, NULL, NULL, 0 },
    { "a bc;to-tag=t1;from-tag=f1", 400, NULL, NULL, NULL, 0 },
    { "<abc>;to-tag=t1;from-tag=f1", 400, NULL, NULL, NULL, 0 },
    { "abc,def;to-tag=t1;from-tag=f1", 400, NULL, NULL, NULL, 0 },
};

static void test_replaces_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_replaces / sizeof s_replaces[0]; i++) {
        sip_replaces_t r;
        int got = sip_refer_parse_replaces(s_replaces[i].in, &r);
        if (got != s_replaces[i].status)
            fail_msg("Replaces '%s': %d, expected %d", s_replaces[i].in, got,
                     s_replaces[i].status);
        if (got == 0) {
            assert_string_equal(r.call_id, s_replaces[i].call_id);
            assert_string_equal(r.to_tag, s_replaces[i].to_tag);
            assert_string_equal(r.from_tag, s_replaces[i].from_tag);
            assert_int_equal(r.early_only, s_replaces[i].early_only);
        }
    }
    sip_replaces_t r;
    assert_int_equal(sip_refer_parse_replaces(NULL, &r), 400);
    char longid[400];
    memset(longid, 'x', 300);
    strcpy(longid + 300, ";to-tag=a;from-tag=b");
    assert_int_equal(sip_refer_parse_replaces(longid, &r), 400);   /* too long: refused, not cut */
}

/* ---- Refer-To --------------------------------------------------------------- */

static const struct {
    const char *in;
    int status;
    const char *exten, *domain;
    int attended;
    const char *call_id;
} s_refer_to[] = {
    { "<sip:1003@10.0.0.1>", 0, "1003", "10.0.0.1", 0, NULL },
    { "sip:1003@10.0.0.1", 0, "1003", "10.0.0.1", 0, NULL },
    { "\"Carol\" <sip:1003@pbx.example.com:5060;transport=udp>", 0, "1003",
      "pbx.example.com", 0, NULL },
    { "<sips:1003@[2001:db8::1]:5061>", 0, "1003", "[2001:db8::1]", 0, NULL },
    { "<sip:%31003@10.0.0.1>", 0, "1003", "10.0.0.1", 0, NULL },
    { "<sip:1003;phone-context=x@10.0.0.1>", 0, "1003", "10.0.0.1", 0, NULL },
    { "<sip:1003:pw@10.0.0.1>", 0, "1003", "10.0.0.1", 0, NULL },
    { "<sip:1003@10.0.0.1>;method=INVITE", 0, "1003", "10.0.0.1", 0, NULL },
    { "<SIP:1003@10.0.0.1>", 0, "1003", "10.0.0.1", 0, NULL },
    { "<sip:1003@10.0.0.1?Replaces=abc%4010.0.0.2%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>", 0,
      "1003", "10.0.0.1", 1, "abc@10.0.0.2" },
    { "<sip:1003@10.0.0.1?X-Foo=1&Replaces=abc%3Bfrom-tag%3Df1%3Bto-tag%3Dt1>", 0,
      "1003", "10.0.0.1", 1, "abc" },
    /* malformed: 400 */
    { "", 400, NULL, NULL, 0, NULL },
    { "<>", 400, NULL, NULL, 0, NULL },
    { "<sip:1003@10.0.0.1", 400, NULL, NULL, 0, NULL },
    { "garbage", 400, NULL, NULL, 0, NULL },
    { "<sip:10.0.0.1>", 400, NULL, NULL, 0, NULL },
    { "<sip:@10.0.0.1>", 400, NULL, NULL, 0, NULL },
    { "<sip:1003@>", 400, NULL, NULL, 0, NULL },
    { "<sip:10%3@10.0.0.1>", 400, NULL, NULL, 0, NULL },
    { "<sip:10%00@10.0.0.1>", 400, NULL, NULL, 0, NULL },
    { "<sip:1003@10.0.0.1?Replaces=abc>", 400, NULL, NULL, 0, NULL },
    { "<sip:1003@10.0.0.1?Replaces=abc%3Bto-tag%3Dt1>", 400, NULL, NULL, 0, NULL },
    { "<sip:1003@10.0.0.1?Replaces>", 400, NULL, NULL, 0, NULL },
    { "<sip:1003@10.0.0.1?Replaces=a%3Bto-tag%3Dt%3Bfrom-tag%3Df&Replaces=b%3Bto-tag%3Dt"
      "%3Bfrom-tag%3Df>", 400, NULL, NULL, 0, NULL },
    { "<sip:1003@10.0.0.1?Replaces=%ZZ>", 400, NULL, NULL, 0, NULL },
    /* not sip: chan_sip's 603 Declined (Non sip: uri) */
    { "<tel:+15551234>", 603, NULL, NULL, 0, NULL },
    { "<http://example.com/>", 603, NULL, NULL, 0, NULL },
    { "mailto:a@b", 603, NULL, NULL, 0, NULL },
};

static void test_refer_to_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_refer_to / sizeof s_refer_to[0]; i++) {
        sip_refer_t r;
        int got = sip_refer_parse_to(s_refer_to[i].in, &r);
        if (got != s_refer_to[i].status)
            fail_msg("Refer-To '%s': %d, expected %d", s_refer_to[i].in, got,
                     s_refer_to[i].status);
        if (got == 0) {
            assert_string_equal(r.exten, s_refer_to[i].exten);
            assert_string_equal(r.domain, s_refer_to[i].domain);
            assert_int_equal(r.attended, s_refer_to[i].attended);
            if (r.attended)
                assert_string_equal(r.replaces.call_id, s_refer_to[i].call_id);
        }
    }
    char big[400];
    snprintf(big, sizeof big, "<sip:%0200d@10.0.0.1>", 1);
    sip_refer_t r;
    assert_int_equal(sip_refer_parse_to(big, &r), 400);             /* user too long */
}

/* ---- whole REFER requests ----------------------------------------------------- */

static osip_message_t *s_parse(const char *headers)
{
    char text[2048];
    snprintf(text, sizeof text,
             "REFER sip:1001@10.0.0.1:5060 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKr\r\n"
             "From: <sip:1002@10.0.0.1>;tag=a\r\n"
             "To: <sip:1001@10.0.0.1>;tag=b\r\n"
             "Call-ID: x@10.0.0.2\r\n"
             "CSeq: 3 REFER\r\n"
             "%s"
             "Content-Length: 0\r\n\r\n", headers);
    osip_message_t *m = NULL;
    assert_int_equal(osip_message_init(&m), 0);
    assert_int_equal(osip_message_parse(m, text, strlen(text)), 0);
    return m;
}

static const struct {
    const char *headers;
    int status;
    const char *exten, *referred_by;
} s_requests[] = {
    { "Refer-To: <sip:1003@10.0.0.1>\r\n", 0, "1003", "" },
    { "r: <sip:1003@10.0.0.1>\r\nb: <sip:1002@10.0.0.2;transport=udp>\r\n", 0, "1003",
      "<sip:1002@10.0.0.2>" },
    { "Refer-To: <sip:1003@10.0.0.1>\r\nReferred-By: \"Bob\" <sip:1002@10.0.0.2>;cid=1\r\n",
      0, "1003", "<sip:1002@10.0.0.2>" },
    { "Refer-To: <sip:1003@10.0.0.1>\r\nReferred-By: <tel:1002>\r\n", 0, "1003", "" },
    { "", 400, NULL, NULL },                                        /* no Refer-To */
    { "Refer-To: <sip:1003@10.0.0.1>\r\nRefer-To: <sip:1004@10.0.0.1>\r\n", 400, NULL, NULL },
    { "Refer-To: <sip:1003@10.0.0.1>\r\nr: <sip:1004@10.0.0.1>\r\n", 400, NULL, NULL },
    { "Refer-To: <sip:1003@10.0.0.1\r\n", 400, NULL, NULL },
    { "Refer-To: <tel:1003>\r\n", 603, NULL, NULL },
};

static void test_request_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_requests / sizeof s_requests[0]; i++) {
        osip_message_t *m = s_parse(s_requests[i].headers);
        sip_refer_t r;
        int got = sip_refer_parse(m, &r);
        osip_message_free(m);
        if (got != s_requests[i].status)
            fail_msg("REFER with '%s': %d, expected %d", s_requests[i].headers, got,
                     s_requests[i].status);
        if (got == 0) {
            assert_string_equal(r.exten, s_requests[i].exten);
            assert_string_equal(r.referred_by, s_requests[i].referred_by);
        }
    }
}

static void test_invite_replaces(void **state)
{
    (void)state;
    sip_replaces_t r;
    osip_message_t *m = s_parse("");
    assert_int_equal(sip_refer_invite_replaces(m, &r), 1);         /* none */
    osip_message_free(m);
    m = s_parse("Replaces: abc@h;to-tag=1;from-tag=2\r\n");
    assert_int_equal(sip_refer_invite_replaces(m, &r), 0);
    assert_string_equal(r.call_id, "abc@h");
    osip_message_free(m);
    m = s_parse("Replaces: abc@h;to-tag=1\r\n");
    assert_int_equal(sip_refer_invite_replaces(m, &r), 400);
    osip_message_free(m);
    m = s_parse("Replaces: abc;to-tag=1;from-tag=2\r\nReplaces: def;to-tag=1;from-tag=2\r\n");
    assert_int_equal(sip_refer_invite_replaces(m, &r), 400);
    osip_message_free(m);
}

/* ---- NOTIFY and SDP helpers --------------------------------------------------- */

static void test_notify(void **state)
{
    (void)state;
    sip_dialog_t d;
    sip_arena_t a;
    char space[1024];
    struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(5062) };
    inet_pton(AF_INET, "10.0.0.9", &peer.sin_addr);
    sip_arena_init(&a, space, sizeof space);
    assert_int_equal(sip_dialog_uac(&d, &a, "abc@10.0.0.1", "ours", "<sip:1001@10.0.0.1>",
                                    "<sip:1002@10.0.0.1>", "sip:1002@10.0.0.9:5062", &peer), 0);
    d.remote_tag = "theirs";
    d.local_cseq = 7;
    osip_message_t *n = sip_refer_notify(&d, 3, "200 OK", 1, "1001", &peer);
    assert_non_null(n);
    assert_int_equal(d.local_cseq, 8);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(osip_message_to_str(n, &text, &len), 0);
    assert_non_null(strstr(text, "NOTIFY sip:1002@10.0.0.9:5062 SIP/2.0"));
    assert_non_null(strstr(text, "CSeq: 8 NOTIFY"));
    assert_non_null(strstr(text, "Event: refer;id=3"));
    assert_non_null(strstr(text, "Subscription-State: terminated;reason=noresource"));
    assert_non_null(strstr(text, "message/sipfrag"));
    assert_non_null(strstr(text, "\r\n\r\nSIP/2.0 200 OK\r\n"));
    osip_free(text);
    osip_message_free(n);
    n = sip_refer_notify(&d, 3, "100 Trying", 0, "1001", &peer);
    assert_int_equal(osip_message_to_str(n, &text, &len), 0);
    assert_non_null(strstr(text, "Subscription-State: active"));
    assert_non_null(strstr(text, "SIP/2.0 100 Trying\r\n"));
    osip_free(text);
    osip_message_free(n);
    sip_arena_release(&a);
}

static void test_sdp_helpers(void **state)
{
    (void)state;
    char out[512];
    const char *held = "v=0\r\no=a 5 9 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
                       "m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n";
    assert_int_equal(sip_refer_sendrecv(held, out, sizeof out), 0);
    assert_null(strstr(out, "a=recvonly"));
    assert_non_null(strstr(out, "a=sendrecv\r\n"));
    assert_int_equal(sip_refer_sendrecv(held, out, 20), -1);        /* too small: refused */
    assert_int_equal(sip_refer_sendrecv("a=inactive\n", out, sizeof out), 0);
    assert_string_equal(out, "a=sendrecv\n");

    const char *prev = "v=0\r\no=tandem 77 3 IN IP4 10.0.0.1\r\ns=-\r\n";
    const char *next = "v=0\r\no=- 1234 1 IN IP4 10.0.0.5\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n";
    assert_int_equal(sip_refer_restamp(prev, next, out, sizeof out), 0);
    assert_string_equal(out, "v=0\r\no=tandem 77 4 IN IP4 10.0.0.5\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n");
    assert_int_equal(sip_refer_restamp(NULL, next, out, sizeof out), 0);
    assert_string_equal(out, next);
    assert_int_equal(sip_refer_restamp(prev, "v=0\r\n", out, sizeof out), -1);
    assert_int_equal(sip_refer_restamp("o=broken\r\n", next, out, sizeof out), -1);
    assert_int_equal(sip_refer_restamp(prev, next, out, 10), -1);
}

int main(void)
{
    parser_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replaces_table),
        cmocka_unit_test(test_refer_to_table),
        cmocka_unit_test(test_request_table),
        cmocka_unit_test(test_invite_replaces),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_sdp_helpers),
    };
    return cmocka_run_group_tests_name("sip_refer", tests, NULL, NULL);
}
