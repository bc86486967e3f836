/* td_regex: the cost estimate and the refusal (found by fuzz/router_expr:
 * a stacked '+' made glibc's regcomp take 1.1 GB). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "td_regex.h"

/* What dialplans write compiles, and matches as regcomp's would. */
static void test_ordinary(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "^([0-9]{3})-([0-9]{4})$", "^(\\+?1)?([2-9][0-9]{9})$", "[[:digit:]]+", "a|b|c",
        "^[^]x]*$", "(a{255})", "[0-9]{1,15}", "^_?([a-z]+)@(.*)", "",
        "([0-9]*){10}", "((a|b)?c)*", "(\\+?1)?(x|)", "((a*)*)*", "^(0|00|\\+)?(44)?([0-9]+)$",
        "(x|){1,100}", "(^|,)([0-9]+)($|,)", "(a?b?)+",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        regex_t re;
        assert_true(td_regex_cost(ok[i]) <= TD_REGEX_MAX_NODES);
        assert_int_equal(td_regcomp(&re, ok[i], REG_EXTENDED), 0);
        regfree(&re);
    }
    regex_t re;
    assert_int_equal(td_regcomp(&re, "^([0-9]{3})-", REG_EXTENDED), 0);
    regmatch_t m[2];
    assert_int_equal(regexec(&re, "555-1234", 2, m, 0), 0);
    assert_int_equal(m[1].rm_eo - m[1].rm_so, 3);
    regfree(&re);
    /* a malformed pattern is still regcomp's to refuse */
    assert_int_not_equal(td_regcomp(&re, "(a", REG_EXTENDED), 0);
}

/* Patterns whose compiled tree explodes are refused without compiling. */
static void test_explosive(void **state)
{
    (void)state;
    char plus[200] = "v";
    memset(plus + 1, '+', 120);
    static const char *const bad[] = {
        "((a{255}){255}){255}", "(a{1000}){1000}", "((((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+",
        /* loops over what can match nothing (fuzz/router_expr: 1 to 13 s
         * of regcomp each, natively) */
        "v+++++++()++++++++++", "((((((((((a|)+)+)+)+)+)+)+)+)+)+", "(a|){5000}",
        "(|a|b|c|d|e|f|g|h|i|j){1,200}", "(a|)++++", "((((a?)*)+)*)+", "(^)++++",
        "(x|){1,400}(y|){1,400}", "(()){1000}",
    };
    regex_t re;
    assert_int_equal(td_regex_cost(plus), TD_REGEX_MAX_NODES + 1);
    assert_int_equal(td_regcomp(&re, plus, REG_EXTENDED), REG_ESIZE);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(td_regcomp(&re, bad[i], REG_EXTENDED), REG_ESIZE);
    char err[64];
    regerror(REG_ESIZE, NULL, err, sizeof err);
    assert_true(strlen(err) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinary),
        cmocka_unit_test(test_explosive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
