/* Unit tests for td_conf: the Asterisk-style .conf reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td_conf.h"

static char s_dir[128];

static void s_write(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static td_conf_t *s_load(const char *name, char *err, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    return td_conf_load(path, err, len);
}

static int setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/td_conf_test.XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd);
}

static void test_sections_and_values(void **state)
{
    (void)state;
    s_write("a.conf",
            "; comment\n"
            "[general]\n"
            "bindport = 5060 ; trailing comment\n"
            "realm=tandem\n"
            "\n"
            "[internal]\n"
            "exten => 100,1,NoOp(a\\;b)\n"
            " same => n,Hangup()\n");
    char err[256];
    td_conf_t *conf = s_load("a.conf", err, sizeof err);
    assert_non_null(conf);
    td_conf_section_t *g = td_conf_section(conf, "general");
    assert_non_null(g);
    assert_string_equal(td_conf_get(g, "bindport"), "5060");
    assert_string_equal(td_conf_get(g, "REALM"), "tandem");
    td_conf_section_t *ctx = td_conf_section(conf, "internal");
    assert_non_null(ctx);
    td_conf_var_t *v = ctx->vars;
    assert_string_equal(v->name, "exten");
    assert_true(v->arrow);
    assert_string_equal(v->value, "100,1,NoOp(a;b)");
    assert_int_equal(v->line, 7);
    assert_string_equal(v->next->name, "same");
    assert_int_equal(v->next->line, 8);
    assert_null(td_conf_section(conf, "missing"));
    td_conf_destroy(&conf);
    assert_null(conf);
}

static void test_templates(void **state)
{
    (void)state;
    s_write("t.conf",
            "[phone](!)\n"
            "type=friend\n"
            "context=internal\n"
            "[1001](phone)\n"
            "secret=x\n"
            "context=other\n"
            "[more](!)\n"
            "nat=yes\n"
            "[1002](phone,more)\n");
    char err[256];
    td_conf_t *conf = s_load("t.conf", err, sizeof err);
    assert_non_null(conf);
    td_conf_section_t *tmpl = td_conf_section(conf, "phone");
    assert_true(tmpl->is_template);
    td_conf_section_t *p = td_conf_section(conf, "1001");
    assert_false(p->is_template);
    assert_string_equal(td_conf_get(p, "type"), "friend");
    assert_string_equal(td_conf_get(p, "context"), "other");   /* own value wins */
    assert_true(td_conf_var(p, "type")->inherited);
    assert_false(td_conf_var(p, "secret")->inherited);
    td_conf_section_t *q = td_conf_section(conf, "1002");
    assert_string_equal(td_conf_get(q, "nat"), "yes");
    assert_string_equal(td_conf_get(q, "context"), "internal");
    td_conf_destroy(&conf);
}

/* A name used by two sections: a template or a (+) names the first of
 * them, as Asterisk's config.c (category_get_sep walks from the root). */
static void test_same_name_first(void **state)
{
    (void)state;
    s_write("same.conf",
            "[phone]\n"
            "context=first\n"
            "[phone]\n"
            "context=second\n"
            "[1001](phone)\n"
            "[phone](+)\n"
            "nat=yes\n");
    char err[256];
    td_conf_t *conf = s_load("same.conf", err, sizeof err);
    assert_non_null(conf);
    td_conf_section_t *first = td_conf_section(conf, "phone");
    assert_string_equal(td_conf_get(first, "context"), "first");
    assert_string_equal(td_conf_get(first, "nat"), "yes");            /* (+): the first */
    assert_null(td_conf_get(first->next, "nat"));
    assert_string_equal(td_conf_get(td_conf_section(conf, "1001"), "context"), "first");
    td_conf_destroy(&conf);
}

static void test_include(void **state)
{
    (void)state;
    s_write("inc.conf", "[b]\nkey=inner\n");
    s_write("main.conf", "[a]\nx=1\n#include \"inc.conf\"\n[c]\ny=2\n");
    char err[256];
    td_conf_t *conf = s_load("main.conf", err, sizeof err);
    assert_non_null(conf);
    td_conf_var_t *v = td_conf_var(td_conf_section(conf, "b"), "key");
    assert_non_null(v);
    assert_string_equal(v->value, "inner");
    assert_non_null(strstr(v->file, "inc.conf"));
    assert_int_equal(v->line, 2);
    assert_string_equal(td_conf_get(td_conf_section(conf, "c"), "y"), "2");
    td_conf_destroy(&conf);
}

/* Comments as main/config.c strips them. Each row: the value line (in a
 * section [a], key x), and the value of x after loading. */
static void test_comments(void **state)
{
    (void)state;
    static const struct { const char *line, *value; } rows[] = {
        { "x=NoOp(a;b)\n", "NoOp(a" },                  /* even inside parentheses */
        { "x=NoOp(a\\;b)\n", "NoOp(a;b)" },              /* \; is a literal ; */
        { "x=a\\\\;b\n", "a\\;b" },                        /* the last backslash escapes */
        { "x=a;--block--;b\n", "ab" },                   /* joined around a block */
        { "x=a;--one\ntwo--;\n", "a" },                 /* across lines */
        { "x=a;--one\ntwo--;y=b\n", "a" },              /* what follows is a line */
        { "x=a;--1;--2--;still--;b\n", "ab" },           /* blocks nest */
        { "x=a;---b\n", "a" },                           /* ";---" is a line comment */
        { "x=a;--b\\;c--;d\n", "ad" },                   /* \; inside a block stays out */
        { "x=a --; b\n", "a --" },                       /* "--;" outside a block: a ';' */
        { "x= NoOp( a ) ; c\n", "NoOp( a )" },           /* trimmed around */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "[a]\n%s", rows[i].line);
        s_write("c.conf", text);
        char err[256];
        td_conf_t *conf = s_load("c.conf", err, sizeof err);
        if (!conf)
            fail_msg("row %zu: %s", i, err);
        const char *v = td_conf_get(td_conf_section(conf, "a"), "x");
        if (!v || strcmp(v, rows[i].value) != 0)
            fail_msg("row %zu: %s -> '%s', want '%s'", i, rows[i].line, v ? v : "(null)",
                     rows[i].value);
        td_conf_destroy(&conf);
    }
}

/* An unterminated block comment in an included file ends with that file. */
static void test_comment_per_file(void **state)
{
    (void)state;
    s_write("inc2.conf", "[b]\nk=1 ;-- never closed\n");
    s_write("main2.conf", "[a]\n#include \"inc2.conf\"\n[c]\ny=2\n");
    char err[256];
    td_conf_t *conf = s_load("main2.conf", err, sizeof err);
    assert_non_null(conf);
    assert_string_equal(td_conf_get(td_conf_section(conf, "b"), "k"), "1");
    assert_string_equal(td_conf_get(td_conf_section(conf, "c"), "y"), "2");
    td_conf_destroy(&conf);
}

/* Each row: file text, and the error expected after "<dir>/bad.conf:". */
static void test_errors(void **state)
{
    (void)state;
    static const struct { const char *text, *error; } rows[] = {
        { "[general\nx=1\n", "1: missing ']' in section header" },
        { "[a]\n= value\n", "2: missing key before '='" },
        { "[a](nosuch)\n", "1: template [nosuch] is not defined before [a]" },
        { "[a](!\n", "1: missing ')' in section options" },
        { "[a] junk\n", "1: unexpected text after section header: junk" },
        { "[]\n", "1: empty section name" },
        { "[a]\n#include \"missing.conf\"\n", "2: cannot read included file" },
        { "[a]\n#exec foo\n", "2: unknown directive: #exec foo" },
        { "[a]\n#include \"bad.conf\"\n", "2: #include nested too deep (loop?)" },
        { "[b](+)\n", "1: section [b] to append to (+) is not defined" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        s_write("bad.conf", rows[i].text);
        char err[512], want[512];
        td_conf_t *conf = s_load("bad.conf", err, sizeof err);
        if (conf) {
            td_conf_destroy(&conf);
            fail_msg("row %zu: expected an error", i);
        }
        snprintf(want, sizeof want, "%s/bad.conf:%s", s_dir, rows[i].error);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("row %zu: got '%s', want '%s'", i, err, want);
    }
}

/* What config.c only warns about: the file loads, the line is skipped, and
 * the warning keeps its file and line. */
static void test_warnings(void **state)
{
    (void)state;
    s_write("inc3.conf", "[b]\nk=1\n;-- opened on line 3\nlost=1\n");
    s_write("warn.conf", "[a]\nthis line has no equals\nx=1\n#include \"inc3.conf\"\n[c]\ny=2\n");
    char err[256], want[512];
    td_conf_t *conf = s_load("warn.conf", err, sizeof err);
    assert_non_null(conf);
    assert_string_equal(td_conf_get(td_conf_section(conf, "a"), "x"), "1");
    assert_null(td_conf_get(td_conf_section(conf, "b"), "lost"));
    assert_string_equal(td_conf_get(td_conf_section(conf, "c"), "y"), "2");
    const td_conf_warning_t *w = td_conf_warnings(conf);
    assert_non_null(w);
    snprintf(want, sizeof want, "%s/warn.conf", s_dir);
    assert_string_equal(w->file, want);
    assert_int_equal(w->line, 2);
    assert_string_equal(w->text, "No '=' (equal sign) in line; ignored: this line has no equals");
    w = w->next;
    assert_non_null(w);
    snprintf(want, sizeof want, "%s/inc3.conf", s_dir);
    assert_string_equal(w->file, want);
    assert_int_equal(w->line, 3);
    assert_string_equal(w->text, "Unterminated comment detected beginning on line 3");
    assert_null(w->next);
    td_conf_destroy(&conf);
    /* a clean file has none */
    s_write("clean.conf", "[a]\nx=1\n");
    conf = s_load("clean.conf", err, sizeof err);
    assert_non_null(conf);
    assert_null(td_conf_warnings(conf));
    td_conf_destroy(&conf);
}

static void test_missing_file(void **state)
{
    (void)state;
    char err[256];
    assert_null(td_conf_load("/nonexistent/x.conf", err, sizeof err));
    assert_string_equal(err, "/nonexistent/x.conf: cannot read: No such file or directory");
}

static void test_bool_int(void **state)
{
    (void)state;
    assert_int_equal(td_conf_bool("yes"), 1);
    assert_int_equal(td_conf_bool("Off"), 0);
    assert_int_equal(td_conf_bool("maybe"), -1);
    long n;
    assert_int_equal(td_conf_int("5060", 1, 65535, &n), 0);
    assert_int_equal(n, 5060);
    assert_int_equal(td_conf_int("70000", 1, 65535, &n), -1);
    assert_int_equal(td_conf_int("12x", 1, 65535, &n), -1);
    assert_int_equal(td_conf_int("", 1, 65535, &n), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sections_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_name_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_include, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comment_per_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warnings, setup, teardown),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_bool_int),
    };
    return cmocka_run_group_tests_name("td_conf", tests, NULL, NULL);
}
