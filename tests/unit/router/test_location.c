/* location: which signaling node holds each peer's registration (issue 10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "location.h"

static void test_update_lookup_expire(void **state)
{
    (void)state;
    location_t *l = location_new();
    assert_non_null(l);
    assert_null(location_node(l, "1002", 100));
    assert_int_equal(location_update(l, "1002", "sig-1", 60, 100), 0);
    assert_string_equal(location_node(l, "1002", 100), "sig-1");
    assert_string_equal(location_node(l, "1002", 159), "sig-1");
    /* a refresh moves the expiry */
    assert_int_equal(location_update(l, "1002", "sig-1", 60, 150), 0);
    assert_string_equal(location_node(l, "1002", 200), "sig-1");
    /* expired: gone, and dropped from the table */
    assert_null(location_node(l, "1002", 210));
    assert_int_equal(location_count(l), 0);
    location_destroy(&l);
    assert_null(l);
    location_destroy(&l);
}

static void test_move_and_unregister(void **state)
{
    (void)state;
    location_t *l = location_new();
    assert_int_equal(location_update(l, "1002", "sig-1", 60, 100), 0);
    /* the phone registers through sig-2 now: the entry moves */
    assert_int_equal(location_update(l, "1002", "sig-2", 60, 110), 0);
    assert_string_equal(location_node(l, "1002", 111), "sig-2");
    /* sig-1's binding expires later: it does not take sig-2's entry away */
    assert_int_equal(location_update(l, "1002", "sig-1", 0, 160), 0);
    assert_string_equal(location_node(l, "1002", 161), "sig-2");
    /* sig-2's unregister does */
    assert_int_equal(location_update(l, "1002", "sig-2", 0, 162), 0);
    assert_null(location_node(l, "1002", 162));
    /* names it cannot keep */
    char longname[100];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(location_update(l, longname, "sig-1", 60, 100), -1);
    assert_int_equal(location_update(l, "1002", "", 60, 100), -1);
    assert_int_equal(location_count(l), 0);
    location_destroy(&l);
}

static void s_count_node(void *arg, const char *peer, const char *node, time_t expires_at)
{
    (void)peer;
    (void)expires_at;
    if (strcmp(node, "sig-1") == 0)
        (*(size_t *)arg)++;
}

/* A node's whole list replaces its entries (reset), and leaves the others'. */
static void test_reset(void **state)
{
    (void)state;
    location_t *l = location_new();
    char peer[16];
    for (int i = 0; i < 500; i++) {
        snprintf(peer, sizeof peer, "p%d", i);
        assert_int_equal(location_update(l, peer, i % 2 ? "sig-1" : "sig-2", 60, 100), 0);
    }
    size_t n = 0;
    location_foreach(l, s_count_node, &n);
    assert_int_equal(n, 250);
    assert_int_equal(location_reset(l, "sig-1"), 250);
    assert_int_equal(location_count(l), 250);
    assert_null(location_node(l, "p1", 100));
    assert_string_equal(location_node(l, "p2", 100), "sig-2");
    assert_int_equal(location_reset(l, "sig-3"), 0);
    location_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_lookup_expire),
        cmocka_unit_test(test_move_and_unregister),
        cmocka_unit_test(test_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
