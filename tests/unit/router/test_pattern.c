/* pattern + dialplan search: which extension wins, as in Asterisk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "dialplan.h"
#include "pattern.h"
#include "td_log.h"
#include "test_util.h"

static void test_match_table(void **state)
{
    (void)state;
    static const struct { const char *pattern, *exten; int match; } rows[] = {
        { "_X", "5", 1 },            { "_X", "55", 0 },          { "_X", "a", 0 },
        { "_X.", "5", 0 },           { "_X.", "55", 1 },         { "_X.", "5555555", 1 },
        { "_X!", "5", 1 },           { "_X!", "55", 1 },         { "_1!", "1", 1 },
        { "_N", "1", 0 },            { "_N", "2", 1 },           { "_N", "9", 1 },
        { "_Z", "0", 0 },            { "_Z", "1", 1 },           { "_x", "7", 1 },
        { "_n", "1", 0 },            { "_z", "0", 0 },
        { "_[1-5a]", "a", 1 },       { "_[1-5a]", "3", 1 },      { "_[1-5a]", "6", 0 },
        { "_[1-5a]", "b", 0 },       { "_[a-c]X", "b7", 1 },
        { "_NXX-XXXX", "5551212", 1 }, { "_NXXXXXX", "555-1212", 1 },
        { "_1XXX", "1002", 1 },      { "_1XXX", "2002", 0 },     { "_1XXX", "100", 0 },
        { "_1XXX", "10022", 0 },     { "_1xxx", "1002", 1 },
        { "_Abc", "Abc", 1 },        { "_Abc", "abc", 0 },       /* literals keep case */
        { "_1[]2", "12", 1 },        /* an empty set is ignored */
        { "_9.", "9", 0 },           { "_9.", "91", 1 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[128];
        pattern_t *p = pattern_new(rows[i].pattern, err, sizeof err);
        assert_non_null(p);
        if (pattern_match(p, rows[i].exten) != rows[i].match)
            fail_msg("row %zu: %s vs %s: expected %d", i, rows[i].pattern, rows[i].exten,
                     rows[i].match);
        pattern_destroy(&p);
        assert_null(p);
    }
}

static void test_bad_patterns(void **state)
{
    (void)state;
    char err[128];
    assert_null(pattern_new("_1[23", err, sizeof err));
    assert_string_equal(err, "bad pattern '_1[23': missing ']'");
    assert_null(pattern_new("_", err, sizeof err));
    assert_string_equal(err, "bad pattern '_': empty");
}

static void test_same_pattern_key(void **state)
{
    (void)state;
    char err[128];
    pattern_t *a = pattern_new("_1xxx", err, sizeof err);
    pattern_t *b = pattern_new("_1-XXX", err, sizeof err);
    pattern_t *c = pattern_new("_1[0-9]XX", err, sizeof err);
    pattern_t *d = pattern_new("_1[0-8]XX", err, sizeof err);
    assert_int_equal(pattern_cmp(a, b), 0);
    assert_string_equal(pattern_key(a), pattern_key(b));
    assert_int_equal(pattern_cmp(a, c), 0);     /* X is the set [0-9] */
    assert_true(pattern_cmp(d, c) < 0);         /* 9 characters before 10 */
    assert_true(pattern_cmp(c, d) > 0);
    pattern_destroy(&a);
    pattern_destroy(&b);
    pattern_destroy(&c);
    pattern_destroy(&d);
}

/* Each row: a dialled number, the extensions of one context (in file order),
 * and the extension Asterisk would run. */
static void test_order_table(void **state)
{
    (void)state;
    static const struct { const char *exten; const char *extens[6]; const char *winner; } rows[] = {
        { "1234", { "_X.", "_1XXX", "1234" }, "1234" },        /* a literal beats patterns */
        { "1234", { "_X.", "_1XXX" }, "_1XXX" },
        { "1234", { "_XXXX", "_1XXX" }, "_1XXX" },             /* 1 beats X */
        { "2234", { "_XXXX", "_ZXXX", "_NXXX" }, "_NXXX" },    /* N (8) < Z (9) < X (10) */
        { "2234", { "_NXXX", "_[2-3]XXX" }, "_[2-3]XXX" },     /* a 2-set beats N */
        { "1234", { "_[13]XXX", "_[12]XXX" }, "_[12]XXX" },    /* same size: lower chars */
        { "1234", { "_1!", "_1." }, "_1." },                   /* "." before "!" */
        { "1", { "_1.", "_1!" }, "_1!" },                      /* "." needs one more */
        { "12", { "_1X", "_1X!" }, "_1X!" },                   /* "!" before the end */
        { "100", { "_X!", "_XXX" }, "_XXX" },
        { "123", { "_X.", "_XX." }, "_XX." },
        { "b", { "_.", "_[a-c]" }, "_[a-c]" },
        { "5551212", { "_X.", "555-1212" }, "555-1212" },      /* '-' ignored in literals */
        { "555-1212", { "_X.", "5551212" }, "5551212" },
        { "2000", { "_X.", "_2XXX", "_20XX", "_200X" }, "_200X" },
        { "9", { "_X", "_[5-9]", "9" }, "9" },
        { "9", { "_X", "_[5-9]" }, "_[5-9]" },
    };
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char text[1024] = "[ctx]\n", path[128], err[256];
        for (size_t k = 0; k < 6 && rows[i].extens[k]; k++) {
            size_t n = strlen(text);
            snprintf(text + n, sizeof text - n, "exten => %s,1,NoOp(%s)\n", rows[i].extens[k],
                     rows[i].extens[k]);
        }
        test_write(dir, "extensions.conf", text, path, sizeof path);
        dialplan_t *dp = dialplan_load(path, err, sizeof err);
        if (!dp)
            fail_msg("row %zu: %s", i, err);
        const dialplan_ext_t *ext = dialplan_find(dp, "ctx", rows[i].exten);
        if (!ext)
            fail_msg("row %zu: %s matched nothing", i, rows[i].exten);
        if (strcmp(dialplan_ext_name(ext), rows[i].winner) != 0)
            fail_msg("row %zu: %s ran %s, expected %s", i, rows[i].exten, dialplan_ext_name(ext),
                     rows[i].winner);
        dialplan_destroy(&dp);
    }
    test_rmdir(dir);
}

/* The context's own extensions (all of them, patterns included) come before
 * its includes, and includes are searched in order. */
static void test_includes(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf",
               "[a]\n"
               "include => b\n"
               "include => c\n"
               "exten => _X.,1,NoOp(a)\n"
               "[b]\n"
               "exten => 123,1,NoOp(b)\n"
               "exten => 777,1,NoOp(b)\n"
               "include => a\n"                 /* a loop: must not hang */
               "[c]\n"
               "exten => 777,1,NoOp(c)\n"
               "exten => s,1,NoOp(c)\n",
               path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    assert_non_null(dp);
    const dialplan_ext_t *ext = dialplan_find(dp, "a", "123");
    assert_non_null(ext);
    assert_string_equal(dialplan_ext_name(ext), "_X.");
    ext = dialplan_find(dp, "a", "s");
    assert_non_null(ext);
    assert_string_equal(dialplan_ext_name(ext), "s");
    ext = dialplan_find(dp, "b", "777");
    assert_string_equal(dialplan_priority(ext, 1)->args, "b");
    assert_null(dialplan_find(dp, "c", "123"));
    assert_null(dialplan_find(dp, "nosuch", "123"));
    dialplan_destroy(&dp);
    test_rmdir(dir);
}

/* E_CANMATCH / E_MATCHMORE, as WaitExten uses them. */
static void test_canmatch_table(void **state)
{
    (void)state;
    static const struct { const char *pattern, *exten; int can, more; } rows[] = {
        { "_1XX", "", 1, 1 },       { "_1XX", "1", 1, 1 },      { "_1XX", "12", 1, 1 },
        { "_1XX", "123", 1, 0 },    { "_1XX", "1234", 0, 0 },   { "_1XX", "2", 0, 0 },
        { "_X.", "5", 1, 1 },       { "_X.", "55", 1, 1 },      { "_X!", "5", 1, 1 },
        { "_9", "9", 1, 0 },        { "_NXX-XXXX", "555-12", 1, 1 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[128];
        pattern_t *p = pattern_new(rows[i].pattern, err, sizeof err);
        assert_non_null(p);
        if (pattern_canmatch(p, rows[i].exten) != rows[i].can
            || pattern_matchmore(p, rows[i].exten) != rows[i].more)
            fail_msg("row %zu: %s vs '%s': canmatch %d matchmore %d, expected %d %d", i,
                     rows[i].pattern, rows[i].exten, pattern_canmatch(p, rows[i].exten),
                     pattern_matchmore(p, rows[i].exten), rows[i].can, rows[i].more);
        pattern_destroy(&p);
    }
}

/* Caller-id extensions: each row is the number dialled, the caller, and the
 * extension (as written) that wins, or NULL. Through an include too. */
static void test_callerid_order(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf",
               "[a]\n"
               "exten => 100,1,NoOp()\n"
               "exten => 100/1001,1,NoOp()\n"
               "exten => 100/_2XXX,1,NoOp()\n"
               "exten => 100/2001,1,NoOp()\n"
               "exten => _1XX/_3XXX,1,NoOp()\n"
               "exten => 200/1001,1,NoOp()\n"
               "include => b\n"
               "[b]\n"
               "exten => 200,1,NoOp()\n"
               "exten => 300/555-1212,1,NoOp()\n",
               path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    static const struct { const char *exten, *cid, *want; } rows[] = {
        { "100", "1001", "100/1001" },   { "100", "2001", "100/2001" },
        { "100", "2002", "100/_2XXX" },  { "100", "3001", "100" },
        { "100", "", "100" },            { "100", NULL, "100" },
        { "101", "3001", "_1XX/_3XXX" }, { "101", "1001", NULL },
        { "200", "1001", "200/1001" },   { "200", "1002", "200" },
        { "300", "5551212", "300/555-1212" }, { "300", "1001", NULL },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const dialplan_ext_t *ext = dialplan_find_cid(dp, "a", rows[i].exten, rows[i].cid);
        const char *got = ext ? dialplan_ext_name(ext) : NULL;
        if (!got != !rows[i].want || (got && strcmp(got, rows[i].want) != 0))
            fail_msg("row %zu: %s from %s: got %s, expected %s", i, rows[i].exten,
                     rows[i].cid ? rows[i].cid : "(none)", got ? got : "(none)",
                     rows[i].want ? rows[i].want : "(none)");
    }
    assert_true(dialplan_canmatch(dp, "a", "1", "1001"));
    assert_true(dialplan_matchmore(dp, "a", "10", "1001"));
    assert_false(dialplan_matchmore(dp, "a", "100", "1001"));
    assert_true(dialplan_canmatch(dp, "a", "30", "5551212"));     /* via the include */
    assert_false(dialplan_canmatch(dp, "a", "30", "1001"));
    assert_false(dialplan_canmatch(dp, "a", "9", "1001"));
    dialplan_destroy(&dp);
    test_rmdir(dir);
}

/* include => context,times,weekdays,mdays,months: searched only while the
 * local time matches (today is left out of the second one's days). */
static void test_timed_includes(void **state)
{
    (void)state;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char notoday[32], conf[512], dir[64], path[128], err[256];
    if (tm.tm_mday == 1)
        snprintf(notoday, sizeof notoday, "2-31");
    else if (tm.tm_mday == 31)
        snprintf(notoday, sizeof notoday, "1-30");
    else
        snprintf(notoday, sizeof notoday, "%d-%d", tm.tm_mday + 1, tm.tm_mday - 1);
    snprintf(conf, sizeof conf,
             "[a]\ninclude => b,*,*,*,*\ninclude => c,00:00-23:59,sun-sat,%s,jan-dec\n"
             "include => d|*|mon&tue&wed&thu&fri&sat&sun|*|*\n"
             "[b]\nexten => 1,1,NoOp()\n[c]\nexten => 2,1,NoOp()\n[d]\nexten => 3,1,NoOp()\n",
             notoday);
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf", conf, path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    assert_non_null(dialplan_find(dp, "a", "1"));
    assert_null(dialplan_find(dp, "a", "2"));      /* not today */
    assert_non_null(dialplan_find(dp, "c", "2"));  /* directly: no condition */
    assert_non_null(dialplan_find(dp, "a", "3"));  /* the old '|' spelling */
    dialplan_destroy(&dp);
    test_rmdir(dir);
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_same_pattern_key),
        cmocka_unit_test(test_order_table),
        cmocka_unit_test(test_includes),
        cmocka_unit_test(test_canmatch_table),
        cmocka_unit_test(test_callerid_order),
        cmocka_unit_test(test_timed_includes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
