/* dialplan: extensions.conf parsing, its errors (exact "file:line: reason"),
 * priorities, labels and globals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dialplan.h"
#include "td_log.h"
#include "test_util.h"

/* Each row: a file, and the error after "<path>:" ("%s" stands for the path
 * where the reason names the file again). */
static void test_errors_table(void **state)
{
    (void)state;
    static const struct { const char *text, *error; } rows[] = {
        { "[internal]\nexten => 100,1,Foo()\n", "2: unknown application 'Foo'" },
        { "[internal]\nexten => 100,1,Playbak(hello)\n", "2: unknown application 'Playbak'" },
        { "[internal]\nexten => 100,1,NoOp()\n same => n,ExecIf\n same => n,Bogus()\n",
          "4: unknown application 'Bogus'" },
        { "[internal]\nexten => 100,x,NoOp()\n", "2: bad priority 'x'" },
        { "[internal]\nexten => 100,0,NoOp()\n", "2: bad priority '0'" },
        { "[internal]\nexten => 100,-1,NoOp()\n", "2: bad priority '-1'" },
        { "[internal]\nexten => 100,,NoOp()\n", "2: bad priority ''" },
        { "[internal]\nexten => 100,n,NoOp()\n", "2: bad priority 'n': no line before it in [internal]" },
        { "[internal]\nexten => 100,1(a,NoOp()\n", "2: bad priority '1(a': missing ')' after the label" },
        { "[internal]\nsame => n,NoOp()\n", "2: 'same' without an 'exten' before it in [internal]" },
        { "[a]\nexten => 1,1,NoOp()\n[b]\nsame => n,NoOp()\n", "4: 'same' without an 'exten' before it in [b]" },
        { "[internal]\nexten => 100,1,Dial(SIP/1\n", "2: missing ')' in 'Dial(SIP/1'" },
        { "[internal]\nexten => 100,1,NoOp(\n", "2: missing ')' in 'NoOp('" },
        { "[internal]\nexten => 100,1,NoOp()\nexten => 100,1,Hangup()\n",
          "3: duplicate priority 1 for extension 100 in [internal] (first at %s:2)" },
        { "[internal]\nexten => 100,1,NoOp()\n same => n,NoOp()\n same => 2,Hangup()\n",
          "4: duplicate priority 2 for extension 100 in [internal] (first at %s:3)" },
        { "[internal]\nexten => _1XXX,1,NoOp()\nexten => _1xxx,1,NoOp()\n",
          "3: duplicate priority 1 for extension _1XXX in [internal] (first at %s:2)" },
        { "[internal]\nexten => 100,1(x),NoOp()\n same => n(x),NoOp()\n",
          "3: duplicate label 'x' for extension 100 in [internal] (first at %s:2)" },
        { "[internal]\nexten => 100,1\n", "2: missing application" },
        { "[internal]\nexten => 100,1,\n", "2: missing application" },
        { "[internal]\nexten => 100\n", "2: missing priority" },
        { "[internal]\nexten => ,1,NoOp()\n", "2: missing extension" },
        { "[internal]\nexten => _1[23,1,NoOp()\n", "2: bad pattern '_1[23': missing ']'" },
        { "[internal]\nexten => 1234/,1,NoOp()\n", "2: empty caller ID in '1234/'" },
        { "[internal]\nexten => 1234/_1[2,1,NoOp()\n", "2: bad pattern '_1[2': missing ']'" },
        { "[internal]\nexten => 1234/100,1,NoOp()\nexten => 1234/100,1,NoOp()\n",
          "3: duplicate priority 1 for extension 1234/100 in [internal] (first at %s:2)" },
        { "[internal]\nexten => _12X/_1XXX,1,NoOp()\nexten => _12x/_1xxx,1,NoOp()\n",
          "3: duplicate priority 1 for extension _12X/_1XXX in [internal] (first at %s:2)" },
        { "[internal]\ninclude => other,25:00-26:00,*,*,*\n",
          "2: include => other: invalid time range '25:00-26:00'" },
        { "[internal]\ninclude => other,*,funday,*,*\n",
          "2: include => other: invalid days of week 'funday'" },
        { "[internal]\ninclude => other,*,*,0-3,*\n",
          "2: include => other: invalid days of month '0-3'" },
        { "[internal]\ninclude => other,*,*,*,foo\n",
          "2: include => other: invalid months 'foo'" },
        { "[internal]\ninclude => ,*,*,*,*\n", "2: include needs a context name" },
        { "exten => 100,1,NoOp()\n", "1: 'exten' before any [context]" },
        { "[internal\n", "1: missing ']' in section header" },            /* from td_conf */
        { "[internal]\n\n\n; comment\nexten => 100,1,NoOp()\n same => n,Bogus\n",
          "6: unknown application 'Bogus'" },
    };
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char path[128], err[512], want[1024], reason[512];
        test_write(dir, "extensions.conf", rows[i].text, path, sizeof path);
        snprintf(reason, sizeof reason, rows[i].error, path);
        snprintf(want, sizeof want, "%s:%s", path, reason);
        dialplan_t *dp = dialplan_load(path, err, sizeof err);
        if (dp)
            fail_msg("row %zu loaded; expected %s", i, want);
        if (strcmp(err, want) != 0)
            fail_msg("row %zu:\n  got  %s\n  want %s", i, err, want);
    }
    test_rmdir(dir);
}

static void test_missing_file(void **state)
{
    (void)state;
    char err[256];
    assert_null(dialplan_load("/nonexistent/extensions.conf", err, sizeof err));
    assert_string_equal(err, "/nonexistent/extensions.conf: cannot read: No such file or directory");
}

static void test_priorities_and_labels(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf",
               "[general]\nstatic=yes\nwriteprotect=no\nautofallthrough=yes\nclearglobalvars=no\n"
               "[globals]\nRINGTIME=30\nTRUNK=SIP/out\n"
               "[internal]\n"
               "exten => 100,1,NoOp(one)\n"
               " same => n(two),Answer\n"
               " same => n,Dial,SIP/100,20\n"
               "exten => 100,10,Wait(1)\n"
               " same => n(eleven),Hangup(17)\n"
               " same => s,NoOp(ignored: same as 11?)\n"
               "exten => 100,hint,SIP/100\n"
               "exten => 200,1,goto(internal,100,two)\n"
               "[internal]\n"                             /* a second section merges */
               "exten => 300,1,noop\n",
               path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    /* "same => s" repeats priority 11: that is a duplicate. */
    assert_null(dp);
    assert_true(strstr(err, ":15: duplicate priority 11 for extension 100") != NULL);

    test_write(dir, "extensions.conf",
               "[general]\nstatic=yes\nwriteprotect=no\nautofallthrough=yes\nclearglobalvars=no\n"
               "[globals]\nRINGTIME=30\nTRUNK=SIP/out\n"
               "[internal]\n"
               "exten => 100,1,NoOp(one)\n"
               " same => n(two),Answer\n"
               " same => n,Dial,SIP/100,20\n"
               "exten => 100,10,Wait(1)\n"
               " same => n(eleven),Hangup(17)\n"
               "exten => 100,hint,SIP/100\n"
               "exten => 200,1,goto(internal,100,two)\n"
               "[internal]\n"
               "exten => 300,1,noop\n",
               path, sizeof path);
    dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    const dialplan_ext_t *ext = dialplan_find(dp, "internal", "100");
    assert_non_null(ext);
    const dialplan_prio_t *p = dialplan_priority(ext, 1);
    assert_int_equal(p->app, DIALPLAN_APP_NOOP);
    assert_string_equal(p->args, "one");
    assert_int_equal(p->line, 10);
    p = dialplan_priority(ext, 2);
    assert_int_equal(p->app, DIALPLAN_APP_ANSWER);
    assert_string_equal(p->label, "two");
    assert_string_equal(p->args, "");
    p = dialplan_priority(ext, 3);
    assert_int_equal(p->app, DIALPLAN_APP_DIAL);
    assert_string_equal(p->args, "SIP/100,20");          /* the old App,args form */
    assert_null(dialplan_priority(ext, 4));
    assert_int_equal(dialplan_priority(ext, 10)->app, DIALPLAN_APP_WAIT);
    assert_int_equal(dialplan_priority(ext, 11)->app, DIALPLAN_APP_HANGUP);
    assert_int_equal(dialplan_label(ext, "eleven")->priority, 11);
    assert_int_equal(dialplan_label(ext, "two")->priority, 2);
    assert_null(dialplan_label(ext, "nope"));
    ext = dialplan_find(dp, "internal", "200");
    assert_int_equal(dialplan_priority(ext, 1)->app, DIALPLAN_APP_GOTO);
    assert_non_null(dialplan_find(dp, "internal", "300"));
    assert_string_equal(dialplan_global(dp, "RINGTIME"), "30");
    assert_string_equal(dialplan_global(dp, "TRUNK"), "SIP/out");
    assert_null(dialplan_global(dp, "ringtime"));
    assert_true(dialplan_has_context(dp, "internal"));
    assert_false(dialplan_has_context(dp, "globals"));
    dialplan_destroy(&dp);
    assert_null(dp);
    test_rmdir(dir);
}

/* The shipped etc/extensions.conf loads, and does what its comments say. */
static void test_default_config(void **state)
{
    (void)state;
    char err[256];
    dialplan_t *dp = dialplan_load("etc/extensions.conf", err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    const dialplan_ext_t *ext = dialplan_find(dp, "internal", "1002");
    assert_non_null(ext);
    assert_string_equal(dialplan_ext_name(ext), "_1XXX");
    assert_int_equal(dialplan_priority(ext, 2)->app, DIALPLAN_APP_DIAL);
    ext = dialplan_find(dp, "internal", "600");
    assert_int_equal(dialplan_priority(ext, 2)->app, DIALPLAN_APP_ECHO);
    assert_null(dialplan_find(dp, "internal", "9999"));
    dialplan_destroy(&dp);
}

static void test_app_names(void **state)
{
    (void)state;
    assert_int_equal(dialplan_app_find("dial"), DIALPLAN_APP_DIAL);
    assert_int_equal(dialplan_app_find("NOOP"), DIALPLAN_APP_NOOP);
    assert_int_equal(dialplan_app_find("Set"), DIALPLAN_APP_SET);
    assert_int_equal(dialplan_app_find("gosub"), DIALPLAN_APP_GOSUB);
    assert_int_equal(dialplan_app_find("Bogus"), -1);
    /* Every application has a name, and finds itself. */
    for (int i = 0; i < DIALPLAN_APP_COUNT; i++)
        assert_int_equal(dialplan_app_find(dialplan_app_name((dialplan_app_t)i)), i);
    assert_string_equal(dialplan_app_name(DIALPLAN_APP_HANGUP), "Hangup");
}

/* #include "file": errors point at the included file and its line; its
 * contexts and extensions join the plan. */
static void test_include_file(void **state)
{
    (void)state;
    char dir[64], path[128], inc[128], err[512], want[600];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "users.conf", "[users]\nexten => 200,1,NoOp()\n same => n,Hangup(17)\n",
               inc, sizeof inc);
    test_write(dir, "extensions.conf",
               "[internal]\ninclude => users\nexten => 100,1,NoOp()\n#include \"users.conf\"\n",
               path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    const dialplan_ext_t *ext = dialplan_find(dp, "internal", "200");
    assert_non_null(ext);
    assert_string_equal(dialplan_priority(ext, 2)->file, inc);
    assert_int_equal(dialplan_priority(ext, 2)->line, 3);
    dialplan_destroy(&dp);

    test_write(dir, "users.conf", "[users]\nexten => 200,1,NoOp()\n same => n,Hangupp(17)\n",
               inc, sizeof inc);
    assert_null(dialplan_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s:3: unknown application 'Hangupp'", inc);
    assert_string_equal(err, want);

    test_write(dir, "extensions.conf", "[internal]\n#include \"nothere.conf\"\n", path,
               sizeof path);
    assert_null(dialplan_load(path, err, sizeof err));
    if (!strstr(err, "nothere.conf"))
        fail_msg("%s", err);
    test_rmdir(dir);
}

/* The plan is shared: destroy drops one holder, the last one frees it
 * (ASan would report a leak or a use after free). */
static void test_refcount(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf", "[a]\nexten => 1,1,NoOp()\n", path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    assert_non_null(dp);
    dialplan_t *held = dialplan_ref(dp);
    assert_ptr_equal(held, dp);
    dialplan_destroy(&dp);
    assert_null(dp);
    assert_non_null(dialplan_find(held, "a", "1"));     /* still alive */
    dialplan_destroy(&held);
    assert_null(held);
    test_rmdir(dir);
}

/* [globals]: each value substituted with the globals above it, as
 * pbx_config.c does at load (a later one is not seen yet; functions run). */
static void test_globals_substituted(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf",
               "[globals]\nA=1\nB=${A}2\nC=${D}x\nD=4\nE=${LEN(${B})}\nF=$[${A}+1]\n"
               "A=${A}${A}\nG=  spaced\n"
               "[internal]\nexten => 100,1,NoOp()\n",
               path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    static const struct { const char *name, *value; } rows[] = {
        { "A", "11" }, { "B", "12" }, { "C", "x" }, { "D", "4" }, { "E", "2" }, { "F", "2" },
        { "G", "spaced" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *v = dialplan_global(dp, rows[i].name);
        if (!v || strcmp(v, rows[i].value) != 0)
            fail_msg("%s = '%s', want '%s'", rows[i].name, v ? v : "(null)", rows[i].value);
    }
    dialplan_destroy(&dp);
    test_rmdir(dir);
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_table),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_priorities_and_labels),
        cmocka_unit_test(test_default_config),
        cmocka_unit_test(test_app_names),
        cmocka_unit_test(test_include_file),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_globals_substituted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
