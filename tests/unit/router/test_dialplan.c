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

/* What Asterisk's config reader itself rejects stays a load error. */
static void test_errors_table(void **state)
{
    (void)state;
    static const struct { const char *text, *error; } rows[] = {
        { "exten => 100,1,NoOp()\n", "1: 'exten' before any [context]" },
        { "[internal\n", "1: missing ']' in section header" },            /* from td_conf */
    };
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char path[128], err[512], want[1024];
        test_write(dir, "extensions.conf", rows[i].text, path, sizeof path);
        snprintf(want, sizeof want, "%s:%s", path, rows[i].error);
        dialplan_t *dp = dialplan_load(path, err, sizeof err);
        if (dp)
            fail_msg("row %zu loaded; expected %s", i, want);
        if (strcmp(err, want) != 0)
            fail_msg("row %zu:\n  got  %s\n  want %s", i, err, want);
        /* --check reports it too, and counts it. */
        char *out = NULL;
        size_t outlen = 0;
        FILE *fp = open_memstream(&out, &outlen);
        assert_int_equal(dialplan_check(path, fp), 1);
        fclose(fp);
        if (strncmp(out, want, strlen(want)) != 0)
            fail_msg("row %zu: --check printed %s", i, out);
        free(out);
    }
    test_rmdir(dir);
}

/* What pbx_config.c warns about and loads past: each row's plan loads,
 * and its first warning is "<path>:<reason>" ("%s" stands for the path). */
static void test_warnings_table(void **state)
{
    (void)state;
    static const struct { const char *text, *warning; } rows[] = {
        { "[internal]\nexten => 100,1,Foo()\n",
          "2: unknown application 'Foo': a call reaching this line ends here" },
        { "[internal]\nexten => 100,1,NoOp()\n same => n,ExecIf\n same => n,Queue(support)\n",
          "4: unknown application 'Queue': a call reaching this line ends here" },
        { "[internal]\nexten => 100,1,Dial,SIP/100\n",      /* no '(': all of it is the name */
          "2: unknown application 'Dial,SIP/100': a call reaching this line ends here" },
        { "[internal]\nexten => 100,x,NoOp()\n", "2: Invalid priority/label 'x'; line ignored" },
        { "[internal]\nexten => 100,0,NoOp()\n", "2: Invalid priority '0'; line ignored" },
        { "[internal]\nexten => 100,-1,NoOp()\n", "2: Invalid priority '-1'; line ignored" },
        { "[internal]\nexten => 100,,NoOp()\n", "2: Invalid priority/label ''; line ignored" },
        { "[internal]\nexten => 100\n", "2: Invalid priority/label ''; line ignored" },
        { "[internal]\nexten => 100,n,NoOp()\n",
          "2: Can't use 'next' priority on the first entry; line ignored" },
        { "[internal]\nexten => 100,s,NoOp()\n",
          "2: Can't use 'same' priority on the first entry; line ignored" },
        { "[internal]\nexten => 100,1(a,NoOp()\n", "2: Label missing trailing ')'; line ignored" },
        { "[internal]\nsame => n,NoOp()\n",
          "2: No previous pattern in the first entry of context 'internal' to match 'same'; "
          "line ignored" },
        { "[internal]\nexten => 100,1,Dial(SIP/1\n", "2: No closing parenthesis found? 'Dial(SIP/1'" },
        { "[internal]\nexten => 100,1,NoOp()\nexten => 100,1,Hangup()\n",
          "3: Unable to register extension '100' priority 1 in 'internal', already in use "
          "(by %s:2); line ignored" },
        { "[internal]\nexten => 100,1,NoOp()\n same => n,NoOp()\n same => 2,Hangup()\n",
          "4: Unable to register extension '100' priority 2 in 'internal', already in use "
          "(by %s:3); line ignored" },
        { "[internal]\nexten => _1XXX,1,NoOp()\nexten => _1xxx,1,NoOp()\n",
          "3: Unable to register extension '_1XXX' priority 1 in 'internal', already in use "
          "(by %s:2); line ignored" },
        { "[internal]\nexten => 100,1(x),NoOp()\n same => n(x),NoOp()\n",
          "3: Extension '100' priority 2 in 'internal', label 'x' already in use at priority 1 "
          "(%s:2); label ignored" },
        { "[internal]\nexten => 100,1\n",
          "2: missing application: a call reaching this line ends here" },
        { "[internal]\nexten => ,1,NoOp()\n", "2: missing extension; line ignored" },
        { "[internal]\nexten => _1[23,1,NoOp()\n", "2: bad pattern '_1[23': missing ']'; line ignored" },
        { "[internal]\nexten => 1234/,1,NoOp()\n", "2: empty caller ID in '1234/'; line ignored" },
        /* A malformed time item warns and matches nothing; the include stays
         * (ast_build_timing). */
        { "[internal]\ninclude => other,25:00-26:00,*,*,*\n[other]\n",
          "2: include => other: '25:00' isn't a valid start time." },
        { "[internal]\ninclude => other,*,monday,*,*\n[other]\n",
          "2: include => other: Invalid day of week 'monday', skipping element" },
        { "[internal]\ninclude => ,*,*,*,*\n", "2: include needs a context name; line ignored" },
        { "[internal]\ninclude => nowhere\n", "2: [internal] includes [nowhere], which does not exist" },
        { "[internal]\ninclude => a\ninclude => a,*,*,*,*\n[a]\n",
          "3: Context 'a' already included in 'internal' context; line ignored" },
        { "[internal]\nexten => 100,hint,SIP/100\n", "2: hints are not supported; line ignored" },
        { "[internal]\nignorepat => 9\n", "2: 'ignorepat' is not supported; ignored" },
        { "[internal]\nswitch => IAX2/box\n", "2: 'switch' is not supported; ignored" },
        { "[internal]\nfrobnicate => 1\n", "2: Unknown directive: frobnicate -- IGNORING" },
        { "[general]\ncolour=blue\n[internal]\n",
          "2: [general] colour is not a setting of extensions.conf; ignored" },
        { "[internal]\nexten => _.,1,NoOp()\n",
          "2: The use of '_.' for an extension is strongly discouraged and can have unexpected "
          "behavior.  Please use '_X.' instead" },
        { "[internal]\n\n\n; comment\nexten => 100,1,NoOp()\n same => n,Bogus\n",
          "6: unknown application 'Bogus': a call reaching this line ends here" },
    };
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char path[128], err[512], want[1024], reason[512];
        test_write(dir, "extensions.conf", rows[i].text, path, sizeof path);
        snprintf(reason, sizeof reason, rows[i].warning, path);
        snprintf(want, sizeof want, "%s:%s\n", path, reason);
        dialplan_t *dp = dialplan_load(path, err, sizeof err);
        if (!dp)
            fail_msg("row %zu did not load: %s", i, err);
        if (dialplan_warnings(dp) < 1)
            fail_msg("row %zu: no warning", i);
        dialplan_destroy(&dp);
        char *out = NULL;
        size_t outlen = 0;
        FILE *fp = open_memstream(&out, &outlen);
        int n = dialplan_check(path, fp);
        fclose(fp);
        if (n < 1 || strncmp(out, want, strlen(want)) != 0)
            fail_msg("row %zu (%d):\n  got  %s  want %s", i, n, out, want);
        free(out);
    }
    test_rmdir(dir);
}

/* A duplicated priority keeps its first definition; a duplicated label
 * is dropped; an unknown application keeps its name. */
static void test_lenient(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf",
               "[a]\n"
               "exten => 1,1(x),NoOp(first)\n"
               " same => 1,NoOp(second)\n"
               " same => n(x),MixMonitor(${UNIQUEID}.wav)\n"
               " same => n,Hangup()\n"
               " same => 5+2,NoOp(seven)\n",
               path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    assert_int_equal(dialplan_warnings(dp), 3);
    const dialplan_ext_t *ext = dialplan_find(dp, "a", "1");
    assert_string_equal(dialplan_priority(ext, 1)->args, "first");
    const dialplan_prio_t *p = dialplan_priority(ext, 2);
    assert_int_equal(p->app, DIALPLAN_APP_UNKNOWN);
    assert_string_equal(p->app_name, "MixMonitor");
    assert_string_equal(p->args, "${UNIQUEID}.wav");
    assert_null(p->label);
    assert_int_equal(dialplan_label(ext, "x")->priority, 1);
    assert_int_equal(dialplan_priority(ext, 3)->app, DIALPLAN_APP_HANGUP);
    assert_int_equal(dialplan_priority(ext, 7)->app, DIALPLAN_APP_NOOP);
    assert_int_equal(dialplan_autofallthrough(dp), 1);
    dialplan_destroy(&dp);
    test_write(dir, "extensions.conf", "[general]\nautofallthrough=no\n[a]\n", path, sizeof path);
    dp = dialplan_load(path, err, sizeof err);
    assert_int_equal(dialplan_autofallthrough(dp), 0);
    assert_int_equal(dialplan_warnings(dp), 0);
    dialplan_destroy(&dp);
    /* --check: a clean plan prints nothing and counts 0 */
    char *out = NULL;
    size_t outlen = 0;
    FILE *fp = open_memstream(&out, &outlen);
    assert_int_equal(dialplan_check(path, fp), 0);
    fclose(fp);
    assert_string_equal(out, "");
    free(out);
    test_rmdir(dir);
}

/* pbx_find_extension: each priority is looked up anew; the first matching
 * extension (literal, patterns, includes) that has it wins. */
static void test_find_prio(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf",
               "[a]\n"
               "include => b\n"
               "exten => 100,1,NoOp(literal 1)\n"
               "exten => 100,3(l3),NoOp(literal 3)\n"
               "exten => _1XX,2,NoOp(pattern 2)\n"
               "exten => 200,2,NoOp(no one)\n"
               "[b]\n"
               "exten => 100,4(four),NoOp(b 4)\n",
               path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    const dialplan_ext_t *e = dialplan_find_prio(dp, "a", "100", NULL, 1, NULL);
    assert_string_equal(dialplan_priority(e, 1)->args, "literal 1");
    e = dialplan_find_prio(dp, "a", "100", NULL, 2, NULL);
    assert_string_equal(dialplan_priority(e, 2)->args, "pattern 2");
    e = dialplan_find_prio(dp, "a", "100", NULL, 3, NULL);
    assert_string_equal(dialplan_priority(e, 3)->args, "literal 3");
    e = dialplan_find_prio(dp, "a", "100", NULL, 4, NULL);
    assert_string_equal(dialplan_priority(e, 4)->args, "b 4");
    assert_null(dialplan_find_prio(dp, "a", "100", NULL, 5, NULL));
    e = dialplan_find_prio(dp, "a", "100", NULL, 0, "four");
    assert_string_equal(dialplan_label(e, "four")->args, "b 4");
    /* 200 has no priority 1: it does not exist for a new call. */
    assert_null(dialplan_find_prio(dp, "a", "200", NULL, 1, NULL));
    assert_non_null(dialplan_find(dp, "a", "200"));
    dialplan_destroy(&dp);
    test_rmdir(dir);
}

/* Extension names and includes see [globals] at load, even a [globals]
 * written after them (pbx_config reads every [globals] first). */
static void test_globals_in_names(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf",
               "[a]\ninclude => ${MORE}\nexten => ${OP},1,NoOp(op)\n"
               "[b]\nexten => 7,1,NoOp(seven)\n"
               "[globals]\nOP=0\nMORE=b\n", path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    assert_int_equal(dialplan_warnings(dp), 0);
    assert_non_null(dialplan_find(dp, "a", "0"));
    assert_non_null(dialplan_find(dp, "a", "7"));
    dialplan_destroy(&dp);
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
    /* "same => s" repeats priority 11: a duplicate, warned and skipped;
     * the hint and the old "Dial,SIP/100,20" (an unknown application) warn too. */
    assert_non_null(dp);
    assert_int_equal(dialplan_warnings(dp), 3);
    assert_string_equal(dialplan_priority(dialplan_find(dp, "internal", "100"), 11)->args, "17");
    dialplan_destroy(&dp);

    test_write(dir, "extensions.conf",
               "[general]\nstatic=yes\nwriteprotect=no\nautofallthrough=yes\nclearglobalvars=no\n"
               "[globals]\nRINGTIME=30\nTRUNK=SIP/out\n"
               "[internal]\n"
               "exten => 100,1,NoOp(one)\n"
               " same => n(two),Answer\n"
               " same => n,Dial(SIP/100,20)\n"
               "exten => 100,10,Wait(1)\n"
               " same => n(eleven),Hangup(17)\n"
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
    assert_int_equal(dialplan_warnings(dp), 0);
    p = dialplan_priority(ext, 2);
    assert_int_equal(p->app, DIALPLAN_APP_ANSWER);
    assert_string_equal(p->label, "two");
    assert_string_equal(p->args, "");
    p = dialplan_priority(ext, 3);
    assert_int_equal(p->app, DIALPLAN_APP_DIAL);
    assert_string_equal(p->args, "SIP/100,20");
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
    /* 800: the voice menu, 1 for the echo test, 2 rings 1002 */
    ext = dialplan_find(dp, "internal", "800");
    assert_int_equal(dialplan_priority(ext, 1)->app, DIALPLAN_APP_GOTO);
    ext = dialplan_find(dp, "ivr-demo", "s");
    assert_int_equal(dialplan_priority(ext, 2)->app, DIALPLAN_APP_BACKGROUND);
    assert_int_equal(dialplan_priority(ext, 3)->app, DIALPLAN_APP_WAITEXTEN);
    assert_int_equal(dialplan_priority(dialplan_find(dp, "ivr-demo", "1"), 2)->app,
                     DIALPLAN_APP_ECHO);
    assert_int_equal(dialplan_priority(dialplan_find(dp, "ivr-demo", "2"), 1)->app,
                     DIALPLAN_APP_DIAL);
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
    char *out = NULL;
    size_t outlen = 0;
    FILE *fp = open_memstream(&out, &outlen);
    assert_int_equal(dialplan_check(path, fp), 1);
    fclose(fp);
    snprintf(want, sizeof want, "%s:3: unknown application 'Hangupp'", inc);
    if (strncmp(out, want, strlen(want)) != 0)
        fail_msg("%s", out);
    free(out);

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

/* A function in an include's name runs while the plan is still loading:
 * DIALPLAN_EXISTS there searches a context whose includes are not yet
 * resolved (found by fuzz/router_dialplan: a NULL array indexed). It
 * answers from what is loaded so far, and the load goes on. */
static void test_exists_while_loading(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "extensions.conf",
               "[test]\nexten => 100,1,NoOp()\ninclude => other\n"
               "include => x${DIALPLAN_EXISTS(test,200,1)}\n"
               "[other]\nexten => 200,1,NoOp()\n"
               "[x0]\nexten => 300,1,NoOp()\n",
               path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    assert_non_null(dialplan_find_prio(dp, "test", "300", NULL, 1, NULL));   /* x0 */
    assert_non_null(dialplan_find_prio(dp, "test", "200", NULL, 1, NULL));
    dialplan_destroy(&dp);
    test_rmdir(dir);
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_table),
        cmocka_unit_test(test_warnings_table),
        cmocka_unit_test(test_lenient),
        cmocka_unit_test(test_find_prio),
        cmocka_unit_test(test_globals_in_names),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_priorities_and_labels),
        cmocka_unit_test(test_default_config),
        cmocka_unit_test(test_app_names),
        cmocka_unit_test(test_include_file),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_globals_substituted),
        cmocka_unit_test(test_exists_while_loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
