/* chanvars: set/get/delete, underscore names, inheritance into dialled
 * channels, and LOCAL frames restored on Return. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "chanvars.h"

static void test_set_get(void **state)
{
    (void)state;
    chanvars_t *v = chanvars_new();
    assert_non_null(v);
    assert_null(chanvars_get(v, "FOO"));
    assert_int_equal(chanvars_set(v, "FOO", "bar"), 0);
    assert_string_equal(chanvars_get(v, "FOO"), "bar");
    assert_null(chanvars_get(v, "foo"));              /* case-sensitive */
    assert_int_equal(chanvars_set(v, "FOO", "baz"), 0);
    assert_string_equal(chanvars_get(v, "FOO"), "baz");
    assert_int_equal(chanvars_count(v), 1);
    assert_int_equal(chanvars_set(v, "FOO", ""), 0);  /* empty deletes */
    assert_null(chanvars_get(v, "FOO"));
    assert_int_equal(chanvars_set(v, "FOO", "x"), 0);
    assert_int_equal(chanvars_set(v, "FOO", NULL), 0);
    assert_null(chanvars_get(v, "FOO"));
    assert_int_equal(chanvars_count(v), 0);
    assert_int_equal(chanvars_put(v, "E", ""), 0);    /* put keeps "" */
    assert_string_equal(chanvars_get(v, "E"), "");
    assert_int_equal(chanvars_set(v, "", "x"), -1);
    assert_int_equal(chanvars_set(v, "__", "x"), -1);
    /* many variables */
    char name[16], val[16];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "V%d", i);
        snprintf(val, sizeof val, "%d", i * 2);
        assert_int_equal(chanvars_set(v, name, val), 0);
    }
    assert_string_equal(chanvars_get(v, "V150"), "300");
    chanvars_destroy(&v);
    assert_null(v);
    chanvars_destroy(&v);
}

static void test_underscores(void **state)
{
    (void)state;
    chanvars_t *v = chanvars_new();
    chanvars_set(v, "__ACCOUNT", "42");
    assert_string_equal(chanvars_get(v, "ACCOUNT"), "42");   /* ${ACCOUNT} finds __ACCOUNT */
    assert_null(chanvars_get(v, "__ACCOUNT"));   /* ${__ACCOUNT}: nothing, as Asterisk */
    assert_null(chanvars_get(v, "_ACCOUNT"));
    chanvars_set(v, "ACCOUNT", "43");                         /* replaces it, no longer inherited */
    assert_int_equal(chanvars_count(v), 1);
    assert_string_equal(chanvars_get(v, "ACCOUNT"), "43");
    chanvars_set(v, "_ACCOUNT", "44");
    assert_int_equal(chanvars_count(v), 1);
    assert_string_equal(chanvars_get(v, "ACCOUNT"), "44");
    chanvars_destroy(&v);
}

static void s_collect(void *arg, const char *name, const char *value)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s=%s;", name, value);
}

static void test_inherit(void **state)
{
    (void)state;
    chanvars_t *caller = chanvars_new(), *callee = chanvars_new(), *third = chanvars_new();
    chanvars_set(caller, "PLAIN", "p");
    chanvars_set(caller, "_ONCE", "o");
    chanvars_set(caller, "__ALWAYS", "a");
    chanvars_set(callee, "ONCE", "old");
    assert_int_equal(chanvars_inherit(caller, callee), 0);
    char list[256] = "";
    chanvars_foreach(callee, s_collect, list);
    assert_string_equal(list, "ONCE=o;__ALWAYS=a;");
    assert_null(chanvars_get(callee, "PLAIN"));
    /* one more hop: only __ survives */
    assert_int_equal(chanvars_inherit(callee, third), 0);
    list[0] = '\0';
    chanvars_foreach(third, s_collect, list);
    assert_string_equal(list, "__ALWAYS=a;");
    assert_int_equal(chanvars_inherit(NULL, third), 0);
    chanvars_destroy(&caller);
    chanvars_destroy(&callee);
    chanvars_destroy(&third);
}

static void test_local_frames(void **state)
{
    (void)state;
    chanvars_t *v = chanvars_new();
    assert_int_equal(chanvars_set_local(v, "X", "1"), -1);    /* not in a Gosub */
    assert_int_equal(chanvars_pop_frame(v), -1);
    chanvars_set(v, "X", "outer");
    chanvars_set(v, "__Y", "inherited");
    assert_int_equal(chanvars_push_frame(v), 0);
    assert_int_equal(chanvars_depth(v), 1);
    assert_null(chanvars_get_local(v, "X"));                  /* not local yet */
    assert_int_equal(chanvars_set_local(v, "X", "inner"), 0);
    assert_int_equal(chanvars_set_local(v, "X", "inner2"), 0); /* saved once */
    assert_int_equal(chanvars_set_local(v, "Y", "shadow"), 0);
    assert_int_equal(chanvars_set_local(v, "ARG1", "a1"), 0);
    assert_string_equal(chanvars_get(v, "X"), "inner2");
    assert_string_equal(chanvars_get_local(v, "X"), "inner2");
    assert_string_equal(chanvars_get(v, "Y"), "shadow");
    /* nested Gosub */
    assert_int_equal(chanvars_push_frame(v), 0);
    assert_null(chanvars_get_local(v, "X"));
    assert_int_equal(chanvars_set_local(v, "X", "deeper"), 0);
    assert_int_equal(chanvars_set_local(v, "ARG1", "b1"), 0);
    chanvars_set(v, "Z", "global-ish");                       /* plain Set inside: stays */
    assert_int_equal(chanvars_pop_frame(v), 0);
    assert_string_equal(chanvars_get(v, "X"), "inner2");
    assert_string_equal(chanvars_get(v, "ARG1"), "a1");
    assert_string_equal(chanvars_get(v, "Z"), "global-ish");
    assert_int_equal(chanvars_pop_frame(v), 0);
    assert_int_equal(chanvars_depth(v), 0);
    assert_string_equal(chanvars_get(v, "X"), "outer");
    assert_null(chanvars_get(v, "ARG1"));
    assert_string_equal(chanvars_get(v, "Y"), "inherited");
    char list[256] = "";
    chanvars_foreach(v, s_collect, list);
    assert_non_null(strstr(list, "__Y=inherited;"));          /* name restored as written */
    /* a frame left open is freed with the store (ASan checks) */
    chanvars_push_frame(v);
    chanvars_set_local(v, "L", "x");
    chanvars_destroy(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get),
        cmocka_unit_test(test_underscores),
        cmocka_unit_test(test_inherit),
        cmocka_unit_test(test_local_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
