/* Unit tests for sip_registrar: the location table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "sip_registrar.h"

#define T0 1000L

static struct sockaddr_in s_addr(const char *ip, int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static void test_add_refresh_lookup(void **state)
{
    (void)state;
    sip_registrar_t *r = sip_registrar_new();
    struct sockaddr_in a = s_addr("127.0.0.1", 5061), b = s_addr("127.0.0.1", 5062);
    assert_null(sip_registrar_lookup(r, "1001", T0));
    assert_int_equal(sip_registrar_update(r, "1001", "sip:1001@127.0.0.1:5061", &a, 120, T0,
                                          "cid-a", 1, 0), 0);
    assert_int_equal(sip_registrar_count(r), 1);
    assert_int_equal(sip_registrar_aors(r), 1);
    const sip_binding_t *bd = sip_registrar_lookup(r, "1001", T0);
    assert_non_null(bd);
    assert_string_equal(bd->uri, "sip:1001@127.0.0.1:5061");
    assert_int_equal(ntohs(bd->dest.sin_port), 5061);
    assert_int_equal(bd->expires_at, T0 + 120);
    assert_null(sip_registrar_lookup(r, "1002", T0));

    /* refresh: same contact, later CSeq, new source port */
    assert_int_equal(sip_registrar_update(r, "1001", "sip:1001@127.0.0.1:5061", &b, 300, T0 + 10,
                                          "cid-a", 2, 0), 0);
    assert_int_equal(sip_registrar_count(r), 1);
    bd = sip_registrar_lookup(r, "1001", T0 + 10);
    assert_int_equal(bd->expires_at, T0 + 310);
    assert_int_equal(ntohs(bd->dest.sin_port), 5062);
    /* a late, older REGISTER of the same Call-ID is ignored */
    assert_int_equal(sip_registrar_update(r, "1001", "sip:1001@127.0.0.1:5061", &a, 60, T0 + 11,
                                          "cid-a", 2, 0), 1);
    assert_int_equal(sip_registrar_lookup(r, "1001", T0 + 11)->expires_at, T0 + 310);

    /* a second contact; lookup gives the most recent */
    assert_int_equal(sip_registrar_update(r, "1001", "sip:1001@127.0.0.1:6000", &a, 60, T0 + 20,
                                          "cid-b", 1, 0), 0);
    assert_int_equal(sip_registrar_count(r), 2);
    assert_string_equal(sip_registrar_lookup(r, "1001", T0 + 20)->uri, "sip:1001@127.0.0.1:6000");
    const sip_binding_t *all[8];
    assert_int_equal(sip_registrar_bindings(r, "1001", T0 + 20, all, 8), 2);
    sip_registrar_destroy(&r);
    assert_null(r);
}

static void test_path(void **state)
{
    (void)state;
    sip_registrar_t *r = sip_registrar_new();
    struct sockaddr_in a = s_addr("127.0.0.1", 5061);
    assert_int_equal(sip_registrar_set_path(r, "1001", "sip:1001@127.0.0.1:5061", "<sip:p;lr>"),
                     -1);                                   /* no binding yet */
    assert_int_equal(sip_registrar_update(r, "1001", "sip:1001@127.0.0.1:5061", &a, 60, 100,
                                          "c1", 1, 0), 0);
    const sip_binding_t *b = sip_registrar_lookup(r, "1001", 100);
    assert_string_equal(b->path, "");
    assert_int_equal(sip_registrar_set_path(r, "1001", "sip:1001@127.0.0.1:5061",
                                            "<sip:10.0.0.1;lr>,<sip:10.0.0.2;lr>"), 0);
    assert_string_equal(b->path, "<sip:10.0.0.1;lr>,<sip:10.0.0.2;lr>");
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(sip_registrar_set_path(r, "1001", "sip:1001@127.0.0.1:5061", big), -1);
    assert_string_equal(b->path, "");                      /* too long: none kept */
    assert_int_equal(sip_registrar_set_path(r, "1001", "sip:1001@127.0.0.1:5061", NULL), 0);
    /* find: the binding itself, for what the table does not index */
    assert_ptr_equal(sip_registrar_find(r, "1001", "sip:1001@127.0.0.1:5061"), b);
    assert_null(sip_registrar_find(r, "1001", "sip:1001@127.0.0.1:5099"));
    assert_null(sip_registrar_find(r, "1002", "sip:1001@127.0.0.1:5061"));
    assert_int_equal(b->transport, 0);
    assert_string_equal(b->useragent, "");
    sip_registrar_destroy(&r);
}

static void test_remove(void **state)
{
    (void)state;
    sip_registrar_t *r = sip_registrar_new();
    struct sockaddr_in a = s_addr("127.0.0.1", 5061);
    sip_registrar_update(r, "1001", "sip:a@h", &a, 60, T0, "c", 1, 0);
    sip_registrar_update(r, "1001", "sip:b@h", &a, 60, T0, "c", 2, 0);
    sip_registrar_update(r, "1002", "sip:c@h", &a, 60, T0, "d", 1, 0);
    assert_int_equal(sip_registrar_count(r), 3);
    /* expires=0 removes that contact only */
    assert_int_equal(sip_registrar_update(r, "1001", "sip:a@h", &a, 0, T0, "c", 3, 0), 0);
    assert_int_equal(sip_registrar_count(r), 2);
    assert_string_equal(sip_registrar_lookup(r, "1001", T0)->uri, "sip:b@h");
    /* removing what is not there is fine */
    assert_int_equal(sip_registrar_update(r, "1009", "sip:z@h", &a, 0, T0, "x", 1, 0), 0);
    /* Contact: * */
    sip_registrar_remove_all(r, "1001");
    assert_null(sip_registrar_lookup(r, "1001", T0));
    assert_int_equal(sip_registrar_count(r), 1);
    assert_int_equal(sip_registrar_aors(r), 1);
    sip_registrar_remove_all(r, "nobody");
    sip_registrar_destroy(&r);
}

static void test_expiry_on_tick(void **state)
{
    (void)state;
    sip_registrar_t *r = sip_registrar_new();
    struct sockaddr_in a = s_addr("127.0.0.1", 5061);
    sip_registrar_update(r, "1001", "sip:a@h", &a, 60, T0, "c", 1, 0);
    sip_registrar_update(r, "1002", "sip:b@h", &a, 120, T0, "d", 1, 0);
    assert_int_equal(sip_registrar_expire(r, T0 + 59), 0);
    assert_non_null(sip_registrar_lookup(r, "1001", T0 + 59));
    /* between ticks an expired binding is already invisible */
    assert_null(sip_registrar_lookup(r, "1001", T0 + 60));
    assert_int_equal(sip_registrar_expire(r, T0 + 60), 1);
    assert_int_equal(sip_registrar_aors(r), 1);
    assert_int_equal(sip_registrar_expire(r, T0 + 500), 1);
    assert_int_equal(sip_registrar_count(r), 0);
    assert_int_equal(sip_registrar_aors(r), 0);
    sip_registrar_destroy(&r);
}

static void test_full_aor_replaces_oldest(void **state)
{
    (void)state;
    sip_registrar_t *r = sip_registrar_new();
    struct sockaddr_in a = s_addr("127.0.0.1", 5061);
    char uri[64];
    for (int i = 0; i < SIP_REGISTRAR_MAX_CONTACTS; i++) {
        snprintf(uri, sizeof uri, "sip:%d@h", i);
        sip_registrar_update(r, "1001", uri, &a, 100 + i, T0, "c", (unsigned)i + 1, 0);
    }
    assert_int_equal(sip_registrar_count(r), SIP_REGISTRAR_MAX_CONTACTS);
    sip_registrar_update(r, "1001", "sip:new@h", &a, 100, T0 + 1, "n", 1, 0);
    assert_int_equal(sip_registrar_count(r), SIP_REGISTRAR_MAX_CONTACTS);
    const sip_binding_t *all[8];
    size_t n = sip_registrar_bindings(r, "1001", T0 + 1, all, 8);
    int has0 = 0, hasnew = 0;
    for (size_t i = 0; i < n; i++) {
        has0 |= !strcmp(all[i]->uri, "sip:0@h");
        hasnew |= !strcmp(all[i]->uri, "sip:new@h");
    }
    assert_false(has0);             /* sip:0 expired first: it went */
    assert_true(hasnew);
    /* a contact URI longer than the table holds is refused */
    char big[400];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(sip_registrar_update(r, "1001", big, &a, 100, T0, "c", 9, 0), -1);
    sip_registrar_destroy(&r);
}

static void test_many_aors(void **state)
{
    (void)state;
    sip_registrar_t *r = sip_registrar_new();
    struct sockaddr_in a = s_addr("127.0.0.1", 5061);
    char aor[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(aor, sizeof aor, "u%d", i);
        assert_int_equal(sip_registrar_update(r, aor, "sip:x@h", &a, 60 + (i % 2) * 60, T0,
                                              "c", 1, 0), 0);
    }
    assert_int_equal(sip_registrar_aors(r), 20000);
    assert_non_null(sip_registrar_lookup(r, "u19999", T0));
    assert_int_equal(sip_registrar_expire(r, T0 + 60), 10000);
    assert_null(sip_registrar_lookup(r, "u0", T0 + 60));
    assert_non_null(sip_registrar_lookup(r, "u1", T0 + 60));
    sip_registrar_destroy(&r);
}

/* The address index: who is registered at ip:port (chan_sip's peers_by_ip
 * for dynamic peers). It follows refreshes that move, removals, Contact: *,
 * replacement and expiry; the IP-only index holds any_port bindings only. */
static void test_source_index(void **state)
{
    (void)state;
    sip_registrar_t *r = sip_registrar_new();
    struct sockaddr_in p1 = s_addr("127.0.0.1", 5061), p2 = s_addr("127.0.0.1", 5062),
                       p3 = s_addr("127.0.0.1", 5063), other = s_addr("10.0.0.9", 5061);
    const char *out[8];
    assert_int_equal(sip_registrar_at(r, &p1, 0, T0, out, 8), 0);
    sip_registrar_update(r, "1001", "sip:1001@127.0.0.1:5061", &p1, 60, T0, "a", 1, 0);
    sip_registrar_update(r, "1002", "sip:1002@127.0.0.1:5062", &p2, 60, T0, "b", 1, 0);
    assert_int_equal(sip_registrar_at(r, &p1, 0, T0, out, 8), 1);
    assert_string_equal(out[0], "1001");
    assert_int_equal(sip_registrar_at(r, &p2, 0, T0, out, 8), 1);
    assert_string_equal(out[0], "1002");
    assert_int_equal(sip_registrar_at(r, &p3, 0, T0, out, 8), 0);
    assert_int_equal(sip_registrar_at(r, &other, 0, T0, out, 8), 0);
    /* not any_port: not found by IP alone */
    assert_int_equal(sip_registrar_at(r, &p3, 1, T0, out, 8), 0);

    /* 1001 moves to 5063: gone from 5061 */
    sip_registrar_update(r, "1001", "sip:1001@127.0.0.1:5061", &p3, 60, T0 + 5, "a", 2, 0);
    assert_int_equal(sip_registrar_at(r, &p1, 0, T0 + 5, out, 8), 0);
    assert_int_equal(sip_registrar_at(r, &p3, 0, T0 + 5, out, 8), 1);
    assert_string_equal(out[0], "1001");

    /* two AORs at one address (a two-line phone): the one registered
     * longest ago first, and a refresh moves it to the end */
    sip_registrar_update(r, "1003", "sip:1003@127.0.0.1:5063", &p3, 60, T0 + 6, "c", 1, 0);
    assert_int_equal(sip_registrar_at(r, &p3, 0, T0 + 6, out, 8), 2);
    assert_string_equal(out[0], "1001");
    assert_string_equal(out[1], "1003");
    sip_registrar_update(r, "1001", "sip:1001@127.0.0.1:5061", &p3, 60, T0 + 7, "a", 3, 0);
    assert_int_equal(sip_registrar_at(r, &p3, 0, T0 + 7, out, 8), 2);
    assert_string_equal(out[0], "1003");
    assert_string_equal(out[1], "1001");
    /* one AOR, two contacts at the same address: named once */
    sip_registrar_update(r, "1003", "sip:x@127.0.0.1:5063", &p3, 60, T0 + 7, "c2", 1, 0);
    assert_int_equal(sip_registrar_at(r, &p3, 0, T0 + 7, out, 8), 2);

    /* unregister (expires 0) and Contact: * take them out */
    sip_registrar_update(r, "1002", "sip:1002@127.0.0.1:5062", &p2, 0, T0 + 8, "b", 2, 0);
    assert_int_equal(sip_registrar_at(r, &p2, 0, T0 + 8, out, 8), 0);
    sip_registrar_remove_all(r, "1003");
    assert_int_equal(sip_registrar_at(r, &p3, 0, T0 + 8, out, 8), 1);
    assert_string_equal(out[0], "1001");

    /* any_port (insecure=port): found from any port of that IP */
    sip_registrar_update(r, "gw", "sip:gw@10.0.0.9:5061", &other, 60, T0 + 8, "g", 1, 1);
    struct sockaddr_in any = s_addr("10.0.0.9", 40000);
    assert_int_equal(sip_registrar_at(r, &any, 0, T0 + 8, out, 8), 0);
    assert_int_equal(sip_registrar_at(r, &any, 1, T0 + 8, out, 8), 1);
    assert_string_equal(out[0], "gw");

    /* expiry: invisible at once, dropped from the index on the tick */
    assert_int_equal(sip_registrar_at(r, &p3, 0, T0 + 67, out, 8), 0);
    assert_int_equal(sip_registrar_at(r, &any, 1, T0 + 68, out, 8), 0);
    assert_int_equal(sip_registrar_expire(r, T0 + 100), 2);
    assert_int_equal(sip_registrar_count(r), 0);
    assert_int_equal(sip_registrar_at(r, &p3, 0, T0, out, 8), 0);
    sip_registrar_destroy(&r);
}

/* Many bindings, drops that move bindings inside an AOR, growth of the
 * index: every binding is still found at its address, and only there. */
static void test_source_index_churn(void **state)
{
    (void)state;
    sip_registrar_t *r = sip_registrar_new();
    char aor[32], uri[64];
    const char *out[4];
    for (int i = 0; i < 6000; i++) {
        struct sockaddr_in d = s_addr("10.1.0.1", 10000 + i);
        snprintf(aor, sizeof aor, "u%d", i / 3);
        snprintf(uri, sizeof uri, "sip:%d@h", i);
        assert_int_equal(sip_registrar_update(r, aor, uri, &d, 60 + i % 2, T0, "c", 1, i % 5 == 0),
                         0);
    }
    /* drop the first contact of every AOR: the others move in its array */
    for (int i = 0; i < 6000; i += 3) {
        struct sockaddr_in d = s_addr("10.1.0.1", 10000 + i);
        snprintf(aor, sizeof aor, "u%d", i / 3);
        snprintf(uri, sizeof uri, "sip:%d@h", i);
        sip_registrar_update(r, aor, uri, &d, 0, T0, "c", 2, 0);
    }
    for (int i = 0; i < 6000; i++) {
        struct sockaddr_in d = s_addr("10.1.0.1", 10000 + i);
        size_t n = sip_registrar_at(r, &d, 0, T0, out, 4);
        assert_int_equal(n, i % 3 == 0 ? 0 : 1);
        if (n) {
            snprintf(aor, sizeof aor, "u%d", i / 3);
            assert_string_equal(out[0], aor);
        }
    }
    assert_int_equal(sip_registrar_expire(r, T0 + 60), 2000);
    for (int i = 0; i < 6000; i++) {
        struct sockaddr_in d = s_addr("10.1.0.1", 10000 + i);
        assert_int_equal(sip_registrar_at(r, &d, 0, T0 + 60, out, 4), i % 3 != 0 && i % 2);
    }
    sip_registrar_destroy(&r);
}

static int s_keep_100x(void *arg, const char *aor)
{
    (void)arg;
    return strncmp(aor, "100", 3) == 0;
}

/* sip reload: the AORs of peers gone from sip.conf go, with their address
 * index entries; the others stay as they were. */
static void test_prune(void **state)
{
    (void)state;
    sip_registrar_t *r = sip_registrar_new();
    struct sockaddr_in a = s_addr("127.0.0.1", 5061), b = s_addr("127.0.0.1", 5062),
                       c = s_addr("127.0.0.1", 5063);
    assert_int_equal(sip_registrar_update(r, "1001", "sip:1001@127.0.0.1:5061", &a, 120, T0,
                                          "c1", 1, 0), 0);
    assert_int_equal(sip_registrar_update(r, "2001", "sip:2001@127.0.0.1:5062", &b, 120, T0,
                                          "c2", 1, 1), 0);
    assert_int_equal(sip_registrar_update(r, "2001", "sip:2001@127.0.0.1:5063", &c, 120, T0,
                                          "c3", 1, 1), 0);
    assert_int_equal(sip_registrar_prune(r, s_keep_100x, NULL), 2);
    assert_int_equal(sip_registrar_count(r), 1);
    assert_int_equal(sip_registrar_aors(r), 1);
    assert_null(sip_registrar_lookup(r, "2001", T0));
    assert_non_null(sip_registrar_lookup(r, "1001", T0));
    const char *out[4];
    assert_int_equal(sip_registrar_at(r, &b, 0, T0, out, 4), 0);
    assert_int_equal(sip_registrar_at(r, &c, 1, T0, out, 4), 0);
    assert_int_equal(sip_registrar_at(r, &a, 0, T0, out, 4), 1);
    assert_int_equal(sip_registrar_prune(r, s_keep_100x, NULL), 0);
    sip_registrar_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_refresh_lookup),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_expiry_on_tick),
        cmocka_unit_test(test_full_aor_replaces_oldest),
        cmocka_unit_test(test_many_aors),
        cmocka_unit_test(test_source_index),
        cmocka_unit_test(test_source_index_churn),
    };
    return cmocka_run_group_tests_name("sip_registrar", tests, NULL, NULL);
}
