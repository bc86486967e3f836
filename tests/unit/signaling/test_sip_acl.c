/* Unit tests for sip_acl: permit/deny/acl with Asterisk's main/acl.c semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "sip_acl.h"

static struct in_addr s_ip(const char *text)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, text, &a), 1);
    return a;
}

static sip_acl_t *s_acl(const char *const *lines)
{
    sip_acl_t *acl = sip_acl_new();
    char err[160];
    for (size_t i = 0; lines[i]; i += 2)
        assert_int_equal(sip_acl_append(acl, lines[i], lines[i + 1], NULL, NULL, err, sizeof err), 0);
    return acl;
}

/* No rules, or no matching rule: allowed (ast_apply_ha starts at ALLOW). */
static void test_empty_allows(void **state)
{
    (void)state;
    assert_int_equal(sip_acl_allows(NULL, s_ip("1.2.3.4"), NULL), 1);
    const char *lines[] = { "deny", "10.0.0.0/8", NULL };
    sip_acl_t *acl = s_acl(lines);
    assert_int_equal(sip_acl_allows(acl, s_ip("1.2.3.4"), NULL), 1);
    assert_int_equal(sip_acl_allows(acl, s_ip("10.9.9.9"), NULL), 0);
    sip_acl_destroy(&acl);
    assert_null(acl);
}

/* sip.conf.sample's peer: deny everything, permit one host; the last match wins. */
static void test_deny_all_permit_one(void **state)
{
    (void)state;
    const char *lines[] = { "deny", "0.0.0.0/0.0.0.0", "permit", "127.0.0.1/255.255.255.255",
                            NULL };
    sip_acl_t *acl = s_acl(lines);
    const char *part = "x";
    assert_int_equal(sip_acl_allows(acl, s_ip("127.0.0.1"), &part), 1);
    assert_int_equal(sip_acl_allows(acl, s_ip("127.0.0.3"), &part), 0);
    assert_string_equal(part, "");
    sip_acl_destroy(&acl);
    /* the order matters: permit first, then deny all, denies everyone */
    const char *rev[] = { "permit", "127.0.0.1", "deny", "0.0.0.0/0", NULL };
    acl = s_acl(rev);
    assert_int_equal(sip_acl_allows(acl, s_ip("127.0.0.1"), NULL), 0);
    sip_acl_destroy(&acl);
}

/* CIDR and dotted masks, host bits masked off, '!' inverts, comma lists. */
static void test_masks(void **state)
{
    (void)state;
    const char *lines[] = { "deny", "0.0.0.0/0", "permit", "192.168.0.60/24,!192.168.0.99",
                            "permit", "172.16.5.5/255.255.0.0", NULL };
    sip_acl_t *acl = s_acl(lines);
    assert_int_equal(sip_acl_allows(acl, s_ip("192.168.0.1"), NULL), 1);
    assert_int_equal(sip_acl_allows(acl, s_ip("192.168.0.99"), NULL), 0);
    assert_int_equal(sip_acl_allows(acl, s_ip("192.168.1.1"), NULL), 0);
    assert_int_equal(sip_acl_allows(acl, s_ip("172.16.200.1"), NULL), 1);
    sip_acl_destroy(&acl);
    char err[160];
    sip_acl_rule_t r[4];
    size_t n = 0, skipped = 0;
    assert_int_equal(sip_acl_rules_parse("1.2.3.4/33", 1, r, 4, &n, NULL, err, sizeof err), -1);
    assert_int_equal(sip_acl_rules_parse("1.2.3/8", 1, r, 4, &n, NULL, err, sizeof err), -1);
    assert_int_equal(sip_acl_rules_parse("2001:db8::/32, 10.0.0.1", 1, r, 4, &n, &skipped,
                                         err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(skipped, 1);
    assert_int_equal(sip_acl_rules_match(r, n, s_ip("10.0.0.1").s_addr), 1);
    assert_int_equal(sip_acl_rules_match(r, n, s_ip("10.0.0.2").s_addr), 0);
}

/* acl= names acl.conf sections; every part must allow; an unknown name denies all. */
static void test_named(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_sip_acl_XXXXXX", path[256], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/acl.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[office]\ndeny=0.0.0.0/0\npermit=10.1.0.0/16\n\n[no_bad]\ndeny=10.1.2.3\n", f);
    fclose(f);
    sip_acl_t *named = NULL;
    assert_int_equal(sip_acl_named_load(path, &named, err, sizeof err), 0);
    assert_int_equal(sip_acl_parts(named), 2);
    assert_true(sip_acl_named_find(named, "no_bad") == 1);
    sip_acl_t *acl = sip_acl_new();
    assert_int_equal(sip_acl_append(acl, "acl", "office, no_bad", named, NULL, err, sizeof err), 0);
    assert_int_equal(sip_acl_append(acl, "permit", "10.1.9.9", named, NULL, err, sizeof err), 0);
    assert_int_equal(sip_acl_parts(acl), 3);
    const char *part = NULL;
    assert_int_equal(sip_acl_allows(acl, s_ip("10.1.9.9"), NULL), 1);
    assert_int_equal(sip_acl_allows(acl, s_ip("10.2.0.1"), &part), 0);
    assert_string_equal(part, "office");
    assert_int_equal(sip_acl_allows(acl, s_ip("10.1.2.3"), &part), 0);
    assert_string_equal(part, "no_bad");
    sip_acl_destroy(&acl);
    int missing = 0;
    acl = sip_acl_new();
    assert_int_equal(sip_acl_append(acl, "acl", "nosuch", named, &missing, err, sizeof err), 0);
    assert_int_equal(missing, 1);
    assert_int_equal(sip_acl_allows(acl, s_ip("10.1.9.9"), &part), 0);
    assert_string_equal(part, "nosuch");
    sip_acl_destroy(&acl);
    sip_acl_destroy(&named);
    /* a bad line: file:line */
    f = fopen(path, "w");
    fputs("[x]\npermit=300.1.1.1\n", f);
    fclose(f);
    assert_int_equal(sip_acl_named_load(path, &named, err, sizeof err), -1);
    assert_non_null(strstr(err, "acl.conf:2"));
    assert_null(named);
    unlink(path);
    /* no acl.conf: an empty set */
    assert_int_equal(sip_acl_named_load(path, &named, err, sizeof err), 0);
    assert_int_equal(sip_acl_parts(named), 0);
    sip_acl_destroy(&named);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_allows),
        cmocka_unit_test(test_deny_all_permit_one),
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_named),
    };
    return cmocka_run_group_tests_name("sip_acl", tests, NULL, NULL);
}
