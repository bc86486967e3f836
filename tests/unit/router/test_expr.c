/* expr: Asterisk's $[...] expressions, one table row per input and the
 * exact text Asterisk prints for it (ast_expr2.y semantics). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "expr.h"

static const char *s_func(void *arg, const char *name, char *buf, size_t len)
{
    (void)arg;
    if (strcmp(name, "LEN(hello)") == 0)
        return "5";
    if (strcmp(name, "UPPER(a,3)") == 0) {
        snprintf(buf, len, "A3");
        return buf;
    }
    return NULL;
}

static void test_expr_table(void **state)
{
    (void)state;
    static const struct { const char *in, *out; int rc; } rows[] = {
        /* numbers and their printing */
        { "1+1", "2", 0 },
        { " 1 + 1 ", "2", 0 },
        { "2*3+4", "10", 0 },
        { "2+3*4", "14", 0 },
        { "(2+3)*4", "20", 0 },
        { "10-2-3", "5", 0 },              /* left-associative */
        { "100/10/5", "2", 0 },
        { "7/2", "3.5", 0 },
        { "10/3", "3.33333333333333333", 0 },  /* %.18Lg */
        { "1.5+1.5", "3", 0 },
        { "7%3", "1", 0 },
        { "-7%3", "-1", 0 },
        { "7.5%2", "1.5", 0 },
        { "-5", "-5", 0 },
        { "--5", "5", 0 },
        { "-2*3", "-6", 0 },
        { "2*-3", "-6", 0 },
        { "3-(-2)", "5", 0 },
        { "0.5*4", "2", 0 },
        { "1000000*1000000", "1000000000000", 0 },
        /* division by zero: Asterisk's INT_MAX; x%0 is 0 */
        { "5/0", "2147483647", 0 },
        { "5%0", "0", 0 },
        { "1/0 + 1", "2147483648", 0 },  /* INT_MAX is a number like any other */
        { "5/x", "2147483647", 0 },      /* a non-number divisor: INT_MAX too */
        { "x/5", "0", 0 },
        { "7%x", "0", 0 },
        /* nothing, and syntax errors: ast_expr() gives "" for the empty
         * rule and "0" when the parse fails (io.val NULL) */
        { " \t ", "", 0 },
        { "1 2", "0", -1 },
        { "(", "0", -1 },
        { "1 +", "0", -1 },
        { "* 2", "0", -1 },
        /* non-numbers in arithmetic */
        { "abc+1", "1", 0 },
        { "1+abc", "1", 0 },
        { "abc*2", "0", 0 },
        { "-abc", "0", 0 },
        /* comparisons: numeric when both are numbers, else strings */
        { "1=1", "1", 0 },
        { "1==1", "1", 0 },
        { "1=2", "0", 0 },
        { "10>9", "1", 0 },           /* numeric */
        { "10>9a", "0", 0 },          /* string: "10" < "9a" */
        { "abc<abd", "1", 0 },
        { "abc=abc", "1", 0 },
        { "abc!=abc", "0", 0 },
        { "1.0=1", "1", 0 },
        { "01=1", "1", 0 },
        { "01=1a", "0", 0 },
        { "2>=2", "1", 0 },
        { "2<=1", "0", 0 },
        { "b>a", "1", 0 },
        { "\"a b\"=\"a b\"", "1", 0 },  /* quotes take part in the comparison */
        { "\"a\"=a", "0", 0 },
        { "1+1=2", "1", 0 },           /* + binds tighter than = */
        { "3>2=1", "1", 0 },           /* comparisons chain left to right */
        /* logic */
        { "1|0", "1", 0 },
        { "0|5", "5", 0 },
        { "|", "0", -1 },
        { "\"\"|x", "\"\"", 0 },       /* a quoted "" is 2 characters, not null */
        { "a|b", "a", 0 },             /* | returns the operand itself */
        { "0|0", "0", 0 },
        { "1&2", "1", 0 },
        { "a&0", "0", 0 },
        { "a&b", "a", 0 },
        { "1||0", "1", 0 },
        { "1&&0", "0", 0 },
        { "1|0&0", "1", 0 },            /* & binds tighter than | */
        { "0=0&1=1", "1", 0 },
        { "!0", "1", 0 },
        { "!1", "0", 0 },
        { "!abc", "1", 0 },            /* op_compl: atoi("abc") is 0 */
        { "!\"\"", "1", 0 },
        { "!!5", "1", 0 },
        { "!1=0", "1", 0 },            /* (!1)=0 */
        /* conditional */
        { "1?yes::no", "yes", 0 },
        { "0?yes::no", "no", 0 },
        { "abc?yes::no", "yes", 0 },
        { "\"\"?yes::no", "no", 0 },
        { "2>1?big::small", "big", 0 },
        { "1?2+3::4", "5", 0 },
        { "0?1::2?3::4", "3", 0 },     /* ((0?1::2)?3::4) */
        { "1?0?a::b::c", "b", 0 },
        { "0?a::b|c", "b", 0 },
        /* regex: ':' anchored, '=~' anywhere */
        { "abcde:abc", "3", 0 },
        { "abcde:bcd", "0", 0 },
        { "abcde=~bcd", "3", 0 },
        { "abcde=~xyz", "0", 0 },
        { "12345:(123)", "3", 0 },     /* unquoted ( ) are grouping, not a capture */
        { "12345:\"(123)\"", "123", 0 },
        { "12345:\"1(2.)\"", "23", 0 },
        { "12345:\"(9)\"", "", 0 },
        { "5551234:\"555(.*)\"", "1234", 0 },
        { "\"5551234\":\"555(.*)\"", "1234", 0 },
        { "\"hello world\":\"hello\"", "5", 0 },  /* quotes stripped for regex */
        { "foo123=~\"([0-9]+)\"", "123", 0 },
        { "abc:a.c=3", "1", 0 },       /* ':' binds tighter than = */
        { "!abc:x", "1", 0 },          /* !(abc:x) */
        { "ab~~cd", "abcd", 0 },
        { "1~~2+1", "13", 0 },
        { "abc:\"(\"", "", 0 },        /* bad regex: warning, "" */
        /* strings */
        { "hello", "hello", 0 },
        { "\"quoted\"", "\"quoted\"", 0 },
        { "a.b_c#d@e", "a.b_c#d@e", 0 },
        { "", "", 0 },
        { "   ", "", 0 },
        /* functions */
        { "ABS(-3)", "3", 0 },
        { "SQRT(16)", "4", 0 },
        { "FLOOR(2.7)+CEIL(2.2)", "5", 0 },
        { "POW(2,10)", "1024", 0 },
        { "ROUND(2.5)", "3", 0 },
        { "LEN(hello)*2", "10", 0 },
        { "UPPER(a,3)", "A3", 0 },
        { "NOPE(x)", "0", 0 },
        { "lower(x)", "0", 0 },
        { "ABS(1,2)", "0", 0 },
        /* syntax errors: warning and "0" */
        { "1+", "0", -1 },
        { "(1+2", "0", -1 },
        { "1+2)", "0", -1 },
        { "1 2", "0", -1 },
        { "*", "0", -1 },
        { "1?2", "0", -1 },
        { "()", "0", -1 },
        { "1,2", "0", -1 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[256];
        int rc = expr_eval(rows[i].in, out, sizeof out, s_func, NULL);
        if (strcmp(out, rows[i].out) != 0 || rc != rows[i].rc)
            fail_msg("row %zu: $[%s] -> '%s' (%d), expected '%s' (%d)", i, rows[i].in, out, rc,
                     rows[i].out, rows[i].rc);
    }
}

static void test_expr_deep(void **state)
{
    (void)state;
    char in[2048], out[64];
    memset(in, '(', 1000);
    strcpy(in + 1000, "1");
    assert_int_equal(expr_eval(in, out, sizeof out, NULL, NULL), -1);
    assert_string_equal(out, "0");
    memset(in, '-', 1500);
    strcpy(in + 1500, "1");
    assert_int_equal(expr_eval(in, out, sizeof out, NULL, NULL), -1);
    memset(in, '(', 100);
    strcpy(in + 100, "2");
    memset(in + 101, ')', 100);
    in[201] = '\0';
    assert_int_equal(expr_eval(in, out, sizeof out, NULL, NULL), 0);
    assert_string_equal(out, "2");
    char small[3];
    expr_eval("12345", small, sizeof small, NULL, NULL);
    assert_string_equal(small, "12");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expr_table),
        cmocka_unit_test(test_expr_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
