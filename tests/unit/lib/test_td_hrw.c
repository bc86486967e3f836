/* Unit tests for td_hrw: the choice is stable and independent of the order
 * of nodes; adding a node moves about 1/N of the keys, and only to it;
 * losing one moves only its own keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "td_hrw.h"

#define KEYS 10000

static char s_keys[KEYS][48];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < KEYS; i++)
        snprintf(s_keys[i], sizeof s_keys[i], "sig-1-1733270400-%d", i);
    return 0;
}

static void s_pick_all(const char *const *nodes, size_t n, const char **out)
{
    for (int i = 0; i < KEYS; i++) {
        int k = td_hrw_pick(s_keys[i], nodes, n);
        assert_true(k >= 0 && (size_t)k < n);
        out[i] = nodes[k];
    }
}

static void test_stable(void **state)
{
    (void)state;
    /* Fixed values: the weight must be the same on every host and build. */
    assert_true(td_hrw_weight("a", "router") == td_hrw_weight("a", "router"));
    assert_true(td_hrw_weight("a", "router-1") != td_hrw_weight("a", "router-2"));
    assert_true(td_hrw_weight("ab", "c") != td_hrw_weight("a", "bc"));  /* the 0 between */
    const char *abc[] = { "router-1", "router-2", "router-3" };
    const char *cba[] = { "router-3", "router-2", "router-1" };
    assert_int_equal(td_hrw_pick("x", abc, 0), -1);
    assert_int_equal(td_hrw_pick("x", abc, 1), 0);
    for (int i = 0; i < KEYS; i++) {
        int a = td_hrw_pick(s_keys[i], abc, 3), c = td_hrw_pick(s_keys[i], cba, 3);
        assert_string_equal(abc[a], cba[c]);
        assert_int_equal(td_hrw_pick(s_keys[i], abc, 3), a);
    }
}

static void test_spread_and_add(void **state)
{
    (void)state;
    static const char *before[KEYS], *after[KEYS];
    const char *nodes[] = { "router-1", "router-2", "router-3", "router-4" };
    s_pick_all(nodes, 3, before);
    int count[3] = { 0 };
    for (int i = 0; i < KEYS; i++)
        count[before[i][7] - '1']++;
    for (int k = 0; k < 3; k++)                     /* about a third each */
        assert_true(count[k] > KEYS / 3 - KEYS / 20 && count[k] < KEYS / 3 + KEYS / 20);
    s_pick_all(nodes, 4, after);
    int moved = 0;
    for (int i = 0; i < KEYS; i++) {
        if (before[i] != after[i]) {
            moved++;
            assert_string_equal(after[i], "router-4");  /* only to the new one */
        }
    }
    assert_true(moved > KEYS / 4 - KEYS / 20 && moved < KEYS / 4 + KEYS / 20);
}

static void test_lose_one(void **state)
{
    (void)state;
    static const char *before[KEYS], *after[KEYS];
    const char *all[] = { "router-1", "router-2", "router-3" };
    const char *left[] = { "router-1", "router-3" };
    s_pick_all(all, 3, before);
    s_pick_all(left, 2, after);
    int moved = 0;
    for (int i = 0; i < KEYS; i++) {
        if (strcmp(before[i], after[i]) != 0) {
            moved++;
            assert_string_equal(before[i], "router-2");   /* only the lost one's share */
        } else {
            assert_string_not_equal(before[i], "router-2");
        }
    }
    assert_true(moved > KEYS / 3 - KEYS / 20 && moved < KEYS / 3 + KEYS / 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable),
        cmocka_unit_test(test_spread_and_add),
        cmocka_unit_test(test_lose_one),
    };
    return cmocka_run_group_tests_name("td_hrw", tests, setup, NULL);
}
