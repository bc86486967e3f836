/* strmap: the hash table behind calls, contexts and literal extensions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "strmap.h"

static void s_count(void *arg, const char *key, void *value)
{
    (void)key;
    (void)value;
    (*(size_t *)arg)++;
}

static void test_put_get_remove(void **state)
{
    (void)state;
    strmap_t *m = strmap_new(0);
    static char keys[5000][16];
    for (int i = 0; i < 5000; i++) {
        snprintf(keys[i], sizeof keys[i], "call-%d", i);
        assert_int_equal(strmap_put(m, keys[i], keys[i]), 0);
    }
    assert_int_equal(strmap_size(m), 5000);
    for (int i = 0; i < 5000; i++)
        assert_ptr_equal(strmap_get(m, keys[i]), keys[i]);
    assert_null(strmap_get(m, "call-5000"));
    /* Remove every other one; the rest must stay findable. */
    for (int i = 0; i < 5000; i += 2)
        assert_ptr_equal(strmap_remove(m, keys[i]), keys[i]);
    assert_null(strmap_remove(m, keys[0]));
    assert_int_equal(strmap_size(m), 2500);
    for (int i = 0; i < 5000; i++)
        assert_ptr_equal(strmap_get(m, keys[i]), i % 2 ? keys[i] : NULL);
    size_t n = 0;
    strmap_foreach(m, s_count, &n);
    assert_int_equal(n, 2500);
    /* Replace a value. */
    assert_int_equal(strmap_put(m, keys[1], keys[3]), 0);
    assert_ptr_equal(strmap_get(m, "call-1"), keys[3]);
    assert_int_equal(strmap_size(m), 2500);
    strmap_destroy(&m);
    assert_null(m);
}

/* Churn: insert and remove in waves, as calls come and go. */
static void test_churn(void **state)
{
    (void)state;
    strmap_t *m = strmap_new(16);
    static char keys[256][16];
    for (int i = 0; i < 256; i++)
        snprintf(keys[i], sizeof keys[i], "k%d", i);
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 256; i++)
            if ((i + round) % 3 == 0)
                strmap_put(m, keys[i], keys[i]);
        for (int i = 0; i < 256; i++)
            if ((i + round) % 5 == 0)
                strmap_remove(m, keys[i]);
        for (int i = 0; i < 256; i++) {
            void *v = strmap_get(m, keys[i]);
            assert_true(v == NULL || v == keys[i]);
        }
    }
    for (int i = 0; i < 256; i++)
        strmap_remove(m, keys[i]);
    assert_int_equal(strmap_size(m), 0);
    strmap_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_remove),
        cmocka_unit_test(test_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
