/* Unit tests for sip_ban: failures per source, bans, eviction, scanners,
 * and the lines fail2ban reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <osipparser2/osip_parser.h>

#include "sip_ban.h"
#include "td_log.h"

static uint32_t s_ip(const char *text)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, text, &a), 1);
    return a.s_addr;
}

static sip_ban_t *s_ban(unsigned threshold, unsigned window, unsigned ban_s, const char *exempt)
{
    sip_ban_opts_t o;
    sip_ban_opts_default(&o);
    o.threshold = threshold;
    o.window_s = window;
    o.ban_s = ban_s;
    o.exempt = exempt;
    char err[160];
    sip_ban_t *b = sip_ban_new(&o, err, sizeof err);
    assert_non_null(b);
    return b;
}

static void test_defaults(void **state)
{
    (void)state;
    sip_ban_opts_t o;
    sip_ban_opts_default(&o);
    assert_int_equal(o.threshold, 20);
    assert_int_equal(o.window_s, 60);
    assert_int_equal(o.ban_s, 600);
    assert_int_equal(o.drop, 1);
    assert_int_equal(o.drop_scanners, 1);
    char err[160];
    o.exempt = "10.0.0.0/8, bogus";
    assert_null(sip_ban_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "ban_exempt"));
}

/* The threshold-th failure within the window bans; another source is untouched. */
static void test_threshold(void **state)
{
    (void)state;
    sip_ban_t *b = s_ban(5, 60, 600, "");
    uint32_t bad = s_ip("127.0.0.2"), good = s_ip("127.0.0.1");
    for (int i = 0; i < 4; i++)
        assert_int_equal(sip_ban_fail(b, bad, 1000 + i), 0);
    assert_int_equal(sip_ban_banned(b, bad, 1004), 0);
    assert_int_equal(sip_ban_fail(b, bad, 1004), 1);
    assert_int_equal(sip_ban_banned(b, bad, 1005), 1);
    assert_int_equal(sip_ban_banned(b, good, 1005), 0);
    assert_int_equal(sip_ban_fail(b, good, 1005), 0);
    sip_ban_stats_t st;
    sip_ban_stats(b, &st);
    assert_int_equal(st.bans, 1);
    assert_int_equal(st.banned_now, 1);
    assert_int_equal(st.failures, 6);
    /* it ends after ban_s, by lookup or by the sweep */
    assert_int_equal(sip_ban_banned(b, bad, 1004 + 599), 1);
    sip_ban_sweep(b, 1004 + 600);
    sip_ban_stats(b, &st);
    assert_int_equal(st.banned_now, 0);
    assert_int_equal(sip_ban_banned(b, bad, 1004 + 600), 0);
    /* and its count starts again */
    assert_int_equal(sip_ban_fail(b, bad, 1700), 0);
    sip_ban_destroy(&b);
    assert_null(b);
}

/* Failures spread wider than the window never ban; exempt sources are never counted. */
static void test_window_and_exempt(void **state)
{
    (void)state;
    sip_ban_t *b = s_ban(3, 10, 600, "10.0.0.0/8,192.168.1.7");
    uint32_t a = s_ip("127.0.0.9");
    for (int i = 0; i < 30; i++)
        assert_int_equal(sip_ban_fail(b, a, 1000 + i * 6), 0);   /* 2 per 10 s window at most */
    for (int i = 0; i < 30; i++) {
        assert_int_equal(sip_ban_fail(b, s_ip("10.3.4.5"), 2000), 0);
        assert_int_equal(sip_ban_fail(b, s_ip("192.168.1.7"), 2000), 0);
    }
    assert_int_equal(sip_ban_banned(b, s_ip("10.3.4.5"), 2000), 0);
    assert_int_equal(sip_ban_fail(b, s_ip("192.168.1.8"), 2000), 0);
    sip_ban_destroy(&b);
    /* threshold 0: never ban */
    b = s_ban(0, 10, 600, "");
    for (int i = 0; i < 100; i++)
        assert_int_equal(sip_ban_fail(b, a, 1000), 0);
    sip_ban_destroy(&b);
}

/* The table never grows: a flood of sources evicts (counted), bans stay. */
static void test_bounded(void **state)
{
    (void)state;
    sip_ban_t *b = s_ban(2, 60, 600, "");
    uint32_t bad = s_ip("127.0.0.2");
    sip_ban_fail(b, bad, 1000);
    assert_int_equal(sip_ban_fail(b, bad, 1000), 1);
    for (uint32_t i = 0; i < 4 * SIP_BAN_SLOTS; i++)
        sip_ban_fail(b, htonl(0x0b000000u + i), 1001);
    sip_ban_stats_t st;
    sip_ban_stats(b, &st);
    assert_true(st.tracked <= SIP_BAN_SLOTS);
    assert_true(st.evicted >= 3 * SIP_BAN_SLOTS);
    assert_int_equal(sip_ban_banned(b, bad, 1002), 1);     /* a ban outlives the flood */
    assert_int_equal(sip_ban_clear(b, bad), 1);
    assert_int_equal(sip_ban_banned(b, bad, 1002), 0);
    sip_ban_destroy(&b);
}

static void test_scanners(void **state)
{
    (void)state;
    sip_ban_t *b = s_ban(20, 60, 600, "");
    assert_int_equal(sip_ban_scanner(b, "friendly-scanner"), 1);
    assert_int_equal(sip_ban_scanner(b, "SIPVicious 0.3"), 1);
    assert_int_equal(sip_ban_scanner(b, "sipcli/v1.8"), 1);
    assert_int_equal(sip_ban_scanner(b, "VaxSIPUserAgent/3.1"), 1);
    assert_int_equal(sip_ban_scanner(b, "Linphone/5.0"), 0);
    assert_int_equal(sip_ban_scanner(b, NULL), 0);
    sip_ban_destroy(&b);
    sip_ban_opts_t o;
    sip_ban_opts_default(&o);
    char err[160];
    o.scanners = " evil-ua , other";
    b = sip_ban_new(&o, err, sizeof err);
    assert_int_equal(sip_ban_scanner(b, "x Evil-UA y"), 1);
    assert_int_equal(sip_ban_scanner(b, "friendly-scanner"), 0);
    sip_ban_destroy(&b);
    o.scanners = NULL;
    o.drop_scanners = 0;
    b = sip_ban_new(&o, err, sizeof err);
    assert_int_equal(sip_ban_scanner(b, "friendly-scanner"), 0);
    sip_ban_destroy(&b);
}

static osip_message_t *s_msg(const char *text)
{
    osip_message_t *m = NULL;
    assert_int_equal(osip_message_init(&m), 0);
    assert_int_equal(osip_message_parse(m, text, strlen(text)), 0);
    return m;
}

static const char *s_register =
    "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bK1\r\n"
    "From: <sip:100@127.0.0.1>;tag=1\r\n"
    "To: <sip:100'x@127.0.0.1>\r\n"
    "Call-ID: a:b)c@x\r\n"
    "CSeq: 1 REGISTER\r\n"
    "User-Agent: %s\r\n"
    "Content-Length: 0\r\n\r\n";

/* The screens, and the lines fail2ban's asterisk filter reads. */
static void test_screen_and_log(void **state)
{
    (void)state;
    char path[] = "/tmp/test_sip_ban_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    td_log_set_fd(fd);
    sip_ban_opts_t o;
    sip_ban_opts_default(&o);
    o.threshold = 3;
    char err[160], text[1024];
    sip_ban_t *b = sip_ban_new(&o, err, sizeof err);
    struct sockaddr_in from = { .sin_family = AF_INET, .sin_port = htons(5062) };
    from.sin_addr.s_addr = s_ip("127.0.0.2");
    snprintf(text, sizeof text, s_register, "friendly-scanner");
    osip_message_t *scan = s_msg(text);
    snprintf(text, sizeof text, s_register, "Linphone");
    osip_message_t *phone = s_msg(text);
    long now = (long)time(NULL);
    assert_int_equal(sip_ban_screen_request(b, NULL, phone, &from, now), 0);
    struct sockaddr_in scanner = from;
    scanner.sin_addr.s_addr = s_ip("127.0.0.5");
    assert_int_equal(sip_ban_screen_request(b, NULL, scan, &scanner, now), -1);
    assert_int_equal(sip_ban_screen_source(b, &scanner, now), 1);    /* banned at once */
    sip_ban_auth_failed(b, phone, &from, "Wrong password");
    sip_ban_auth_failed(b, phone, &from, "Wrong password");
    assert_int_equal(sip_ban_screen_source(b, &from, now), 0);
    sip_ban_auth_failed(b, phone, &from, "Wrong password");     /* the third: banned */
    assert_int_equal(sip_ban_screen_source(b, &from, now), 1);
    assert_int_equal(sip_ban_screen_request(b, NULL, phone, &from, now), -1);
    /* a [general] ACL that denies: 403, counted */
    struct sockaddr_in other = from;
    other.sin_addr.s_addr = s_ip("127.0.0.3");
    sip_acl_t *acl = sip_acl_new();
    assert_int_equal(sip_acl_append(acl, "deny", "127.0.0.3", NULL, NULL, err, sizeof err), 0);
    assert_int_equal(sip_ban_screen_request(b, acl, phone, &other, now), 403);
    sip_acl_destroy(&acl);
    sip_ban_stats_t st;
    sip_ban_stats(b, &st);
    assert_int_equal(st.scanners, 1);
    assert_int_equal(st.failures, 5);
    assert_int_equal(st.bans, 2);
    td_log_flush();
    char log[8192] = "";
    FILE *f = fopen(path, "r");
    size_t n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    unlink(path);
    print_message("%s", log);
    /* chan_sip's REGISTER line, the remote party's quote tamed, no Call-ID context */
    assert_non_null(strstr(log, "NOTICE sip_ban: Registration from '<sip:100?x@127.0.0.1>' "
                                "failed for '127.0.0.2:5062' - Wrong password\n"));
    assert_non_null(strstr(log, "sip_ban: Host 127.0.0.2 failed to authenticate 3 times"));
    assert_non_null(strstr(log, "sip_ban: Host 127.0.0.5 failed to authenticate: a scanner "
                                "(User-Agent 'friendly-scanner'): banned for 600 s"));
    assert_non_null(strstr(log, "failed for '127.0.0.3:5062' - Device does not match ACL"));
    assert_null(strstr(log, "[a:b"));
    osip_message_free(scan);
    osip_message_free(phone);
    sip_ban_destroy(&b);
}

int main(void)
{
    parser_init();
    td_log_init("signaling", LOG_INFO);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_window_and_exempt),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_scanners),
        cmocka_unit_test(test_screen_and_log),
    };
    return cmocka_run_group_tests_name("sip_ban", tests, NULL, NULL);
}
