/* vars: ${...} substitution (Asterisk's rules, negative offsets included)
 * and application argument splitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vars.h"

static int s_lookups;

static const char *s_lookup(void *arg, const char *name, char *buf, size_t len)
{
    (void)arg;
    static const struct { const char *name, *value; } vars[] = {
        { "EXTEN", "1002345" }, { "FOO", "hello" }, { "N", "2" }, { "NAME", "EXTEN" },
        { "CALLERID(num)", "1001" }, { "CALLERID(name)", "Alice Smith" }, { "EMPTY", "" },
        { "DOLLAR", "${FOO}" }, { "A_B", "ab" }, { "SP ", "trailing" },
    };
    s_lookups++;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (strcmp(name, vars[i].name) == 0)
            return vars[i].value;
    if (strcmp(name, "LEN") == 0) {
        snprintf(buf, len, "%d", 42);
        return buf;
    }
    return NULL;
}

static void test_substitute_table(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } rows[] = {
        { "", "" },
        { "plain text", "plain text" },
        { "${EXTEN}", "1002345" },
        { "${EXTEN:1}", "002345" },
        { "${EXTEN:0}", "1002345" },
        { "${EXTEN:-4}", "2345" },
        { "${EXTEN:1:3}", "002" },
        { "${EXTEN:-4:2}", "23" },
        { "${EXTEN:2:-2}", "023" },
        { "${EXTEN:0:-3}", "1002" },
        { "${EXTEN:-3:-1}", "34" },
        { "${EXTEN:-20}", "1002345" },      /* past the start: from the start */
        { "${EXTEN:20}", "" },              /* past the end: nothing */
        { "${EXTEN:-3:-5}", "" },           /* drops more than it has */
        { "${EXTEN:1:0}", "" },
        { "${EXTEN:1:100}", "002345" },
        { "${EXTEN::3}", "1002345" },       /* Asterisk's sscanf stops at the empty offset */
        { "${EXTEN:x}", "1002345" },
        { "${${NAME}}", "1002345" },        /* nested name */
        { "${${NAME}:-2}", "45" },
        { "${EXTEN:${N}}", "02345" },       /* nested offset */
        { "${EXTEN:${N}:${N}}", "02" },
        { "${CALLERID(num)}", "1001" },
        { "${CALLERID(name)}", "Alice Smith" },
        { "${CALLERID(num):1}", "001" },    /* a range on a function */
        { "${CALLERID(num):-2:1}", "0" },
        { "a${UNSET}b", "ab" },
        { "a${EMPTY}b", "ab" },
        { "x${FOO}y${FOO:1:2}z", "xhelloyelz" },
        { "${DOLLAR}", "${FOO}" },          /* values are not expanded again */
        { "${LEN}", "42" },
        { "${A_B}", "ab" },
        { "${FOO", "${FOO" },               /* unterminated: as written */
        { "$5 and $[1+1] and $", "$5 and 2 and $" },
        /* $[...]: the inside is expanded first, nested brackets too */
        { "$[${N}*${N}]", "4" },
        { "$[${EXTEN:-2} + 1]", "46" },
        { "$[${FOO} = hello]", "1" },
        { "$[$[${N}+1]*2]", "6" },
        { "$[${LEN}/4]", "10.5" },
        { "${EXTEN:$[${N}+1]}", "2345" },       /* an expression as an offset */
        { "${${NAME}:$[0-2]}", "45" },
        { "$[1+1", "$[1+1" },                   /* unterminated: as written */
        { "$[ ${UNSET} = \"\" ]", "0" },         /* an empty operand is a syntax error: "0" */
        { "$[\"${UNSET}\" = \"\"]", "1" },
        { "$[1+]x", "0x" },                     /* syntax error: "0" */
        { "a$[]b", "ab" },
        { "Call from ${CALLERID(num)} to ${EXTEN}", "Call from 1001 to 1002345" },
        { "SIP/${EXTEN:-4},${N}0", "SIP/2345,20" },
        /* the name between the braces is looked up as written: Set(SP =x)
         * makes "SP " (pbx_builtin_setvar), found by ${SP } only */
        { "[${SP }][${SP}]", "[trailing][]" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[VARS_MAX];
        size_t n = vars_substitute(rows[i].in, out, sizeof out, s_lookup, NULL);
        if (strcmp(out, rows[i].out) != 0)
            fail_msg("row %zu: '%s' -> '%s', expected '%s'", i, rows[i].in, out, rows[i].out);
        assert_int_equal(n, strlen(out));
    }
}

static void test_substitute_truncates(void **state)
{
    (void)state;
    char out[8];
    size_t n = vars_substitute("${FOO}${FOO}", out, sizeof out, s_lookup, NULL);
    assert_string_equal(out, "hellohe");
    assert_int_equal(n, 7);
    n = vars_substitute("abcdefghijkl", out, sizeof out, s_lookup, NULL);
    assert_string_equal(out, "abcdefg");
    char one[1];
    assert_int_equal(vars_substitute("${FOO}", one, sizeof one, s_lookup, NULL), 0);
    assert_string_equal(one, "");
}

static void test_substitute_deep_nesting(void **state)
{
    (void)state;
    char out[64];
    /* Deeper than the nesting limit: must neither crash nor loop. */
    vars_substitute("${${${${${${${${${${${NAME}}}}}}}}}}}", out, sizeof out, s_lookup, NULL);
    vars_substitute("${{{{{{{", out, sizeof out, s_lookup, NULL);
    assert_string_equal(out, "${{{{{{{");
}

static void test_substring(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(vars_substring("abcdef", -2, 1, buf, sizeof buf), "e");
    assert_string_equal(vars_substring("abcdef", 1, -1, buf, sizeof buf), "bcde");
    assert_string_equal(vars_substring("abcdef", 6, 1, buf, sizeof buf), "");
    assert_string_equal(vars_substring("", -1, -1, buf, sizeof buf), "");
}

static void test_split_args(void **state)
{
    (void)state;
    char *argv[4];
    char s1[] = "SIP/1002,30";
    assert_int_equal(vars_split_args(s1, ',', argv, 4), 2);
    assert_string_equal(argv[0], "SIP/1002");
    assert_string_equal(argv[1], "30");

    char s2[] = " a , \"b,c\" ,d\\,e ";
    assert_int_equal(vars_split_args(s2, ',', argv, 4), 3);
    assert_string_equal(argv[0], "a");
    assert_string_equal(argv[1], "b,c");
    assert_string_equal(argv[2], "d,e");

    char s3[] = "f(a,b),[x,y],c";
    assert_int_equal(vars_split_args(s3, ',', argv, 4), 3);
    assert_string_equal(argv[0], "f(a,b)");
    assert_string_equal(argv[1], "[x,y]");

    char s4[] = "a,b,c";
    assert_int_equal(vars_split_args(s4, ',', argv, 2), 2);
    assert_string_equal(argv[1], "b,c");

    char s5[] = "   ";
    assert_int_equal(vars_split_args(s5, ',', argv, 4), 0);

    char s6[] = "a,,";
    assert_int_equal(vars_split_args(s6, ',', argv, 4), 3);
    assert_string_equal(argv[1], "");
    assert_string_equal(argv[2], "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_substitute_table),
        cmocka_unit_test(test_substitute_truncates),
        cmocka_unit_test(test_substitute_deep_nesting),
        cmocka_unit_test(test_substring),
        cmocka_unit_test(test_split_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
