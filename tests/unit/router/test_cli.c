/* cli: tandemctl's commands in the router (router_cli), checked for their
 * exact text and status. `dialplan show [[exten@]context]` as Asterisk 20's
 * pbx.c handle_show_dialplan prints a plan pbx_config loaded: contexts with
 * the last one written first, extensions in ext_cmp order (literals, then
 * patterns; for one name, those with a caller ID first), [file:line] with
 * the file's name only, includes followed when an extension is asked for
 * (the included context printed again when an include loop leads back to
 * it, as Asterisk does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>

#include "router.h"
#include "td_bus_fake.h"
#include "td_log.h"
#include "test_util.h"

static const char *s_conf =
    "[general]\n"                                              /* 1 */
    "static=yes\n"
    "[globals]\n"
    "RINGTIME=20\n"
    "[outbound]\n"                                             /* 5 */
    "exten => _9NXXXXXX,1,Dial(SIP/uas/${EXTEN:1},30)\n"
    " same => n,Hangup()\n"
    "exten => 555-1234,1,NoOp(dashes)\n"
    "[internal]\n"
    "include => outbound\n"                                    /* 10 */
    "exten => _1XXX,1,NoOp(Call from ${CALLERID(num)})\n"
    " same => n(dial),dial(SIP/${EXTEN},${RINGTIME})\n"
    " same => n,Hangup()\n"
    "exten => 600,1,Answer()\n"
    " same => n,Echo\n"                                        /* 15 */
    "exten => 100/1001,1,Playback(hello)\n"
    "exten => 100,1,Playback(world)\n"
    "exten => _1XXX/_2XXX,1,Busy()\n"
    "exten => 600,3(end),Hangup()\n"
    "include => loop\n"                                        /* 20 */
    "[loop]\n"
    "include => internal\n"
    "exten => s,1,Goto(internal,600,1)\n"
    "[users]\n"
    "#include \"more.conf\"\n";                                /* 25 */

static const char *s_more =
    "exten => 700,1,Wait(1)\n"
    "include => nowhere\n";

static const char *const s_all =
    "[ Context 'users' created by 'pbx_config' ]\n"
    "  '700' =>          1. Wait(1)                                    [more.conf:1]\n"
    "  Include =>        'nowhere'                                     [pbx_config]\n"
    "\n"
    "[ Context 'loop' created by 'pbx_config' ]\n"
    "  's' =>            1. Goto(internal,600,1)                       [extensions.conf:23]\n"
    "  Include =>        'internal'                                    [pbx_config]\n"
    "\n"
    "[ Context 'internal' created by 'pbx_config' ]\n"
    "  '100' (CID match '1001') =>  1. Playback(hello)                            [extensions.conf:16]\n"
    "  '100' =>          1. Playback(world)                            [extensions.conf:17]\n"
    "  '600' =>          1. Answer()                                   [extensions.conf:14]\n"
    "                    2. Echo()                                     [extensions.conf:15]\n"
    "     [end]          3. Hangup()                                   [extensions.conf:19]\n"
    "  '_1XXX' (CID match '_2XXX') =>  1. Busy()                                     [extensions.conf:18]\n"
    "  '_1XXX' =>        1. NoOp(Call from ${CALLERID(num)})           [extensions.conf:11]\n"
    "     [dial]         2. dial(SIP/${EXTEN},${RINGTIME})             [extensions.conf:12]\n"
    "                    3. Hangup()                                   [extensions.conf:13]\n"
    "  Include =>        'outbound'                                    [pbx_config]\n"
    "  Include =>        'loop'                                        [pbx_config]\n"
    "\n"
    "[ Context 'outbound' created by 'pbx_config' ]\n"
    "  '555-1234' =>     1. NoOp(dashes)                               [extensions.conf:8]\n"
    "  '_9NXXXXXX' =>    1. Dial(SIP/uas/${EXTEN:1},30)                [extensions.conf:6]\n"
    "                    2. Hangup()                                   [extensions.conf:7]\n"
    "\n"
    "-= 9 extensions (14 priorities) in 4 contexts. =-\n";
static const char *const s_internal =
    "[ Context 'internal' created by 'pbx_config' ]\n"
    "  '100' (CID match '1001') =>  1. Playback(hello)                            [extensions.conf:16]\n"
    "  '100' =>          1. Playback(world)                            [extensions.conf:17]\n"
    "  '600' =>          1. Answer()                                   [extensions.conf:14]\n"
    "                    2. Echo()                                     [extensions.conf:15]\n"
    "     [end]          3. Hangup()                                   [extensions.conf:19]\n"
    "  '_1XXX' (CID match '_2XXX') =>  1. Busy()                                     [extensions.conf:18]\n"
    "  '_1XXX' =>        1. NoOp(Call from ${CALLERID(num)})           [extensions.conf:11]\n"
    "     [dial]         2. dial(SIP/${EXTEN},${RINGTIME})             [extensions.conf:12]\n"
    "                    3. Hangup()                                   [extensions.conf:13]\n"
    "  Include =>        'outbound'                                    [pbx_config]\n"
    "  Include =>        'loop'                                        [pbx_config]\n"
    "\n"
    "-= 5 extensions (9 priorities) in 1 context. =-\n";
static const char *const s_600_loop =
    "[ Included context 'internal' created by 'pbx_config' ]\n"
    "  '600' =>          1. Answer()                                   [extensions.conf:14]\n"
    "                    2. Echo()                                     [extensions.conf:15]\n"
    "     [end]          3. Hangup()                                   [extensions.conf:19]\n"
    "\n"
    "-= 1 extension (3 priorities) in 1 context. =-\n";
static const char *const s_1234_internal =
    "[ Context 'internal' created by 'pbx_config' ]\n"
    "  '_1XXX' (CID match '_2XXX') =>  1. Busy()                                     [extensions.conf:18]\n"
    "  '_1XXX' =>        1. NoOp(Call from ${CALLERID(num)})           [extensions.conf:11]\n"
    "     [dial]         2. dial(SIP/${EXTEN},${RINGTIME})             [extensions.conf:12]\n"
    "                    3. Hangup()                                   [extensions.conf:13]\n"
    "[ Included context 'internal' created by 'pbx_config' ]\n"
    "  '_1XXX' (CID match '_2XXX') =>  1. Busy()                                     [extensions.conf:18]\n"
    "  '_1XXX' =>        1. NoOp(Call from ${CALLERID(num)})           [extensions.conf:11]\n"
    "     [dial]         2. dial(SIP/${EXTEN},${RINGTIME})             [extensions.conf:12]\n"
    "                    3. Hangup()                                   [extensions.conf:13]\n"
    "\n"
    "\n"
    "-= 4 extensions (8 priorities) in 2 contexts. =-\n";
static const char *const s_dashes =
    "[ Context 'outbound' created by 'pbx_config' ]\n"
    "  '555-1234' =>     1. NoOp(dashes)                               [extensions.conf:8]\n"
    "\n"
    "-= 1 extension (1 priority) in 1 context. =-\n";

typedef struct {
    struct event_base *base;
    router_t *router;
    char dir[64];
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    test_tmpdir(f->dir, sizeof f->dir);
    char path[128], more[128], err[256], cdrdir[128];
    test_write(f->dir, "more.conf", s_more, more, sizeof more);
    test_write(f->dir, "extensions.conf", s_conf, path, sizeof path);
    dialplan_t *dp = dialplan_load(path, err, sizeof err);
    if (!dp)
        fail_msg("%s", err);
    snprintf(cdrdir, sizeof cdrdir, "%s/cdr", f->dir);
    f->router = router_new(f->base, "inproc://test", "router", &dp, cdrdir);
    assert_non_null(f->router);
    td_bus_fake_reset();
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    router_destroy(&f->router);
    event_base_free(f->base);
    td_bus_fake_reset();
    test_rmdir(f->dir);
    free(f);
    return 0;
}

/* Run command; its status must be rc and its text want. */
static void s_expect(fixture_t *f, const char *command, int rc, const char *want)
{
    char *text = NULL;
    int got = router_cli(f->router, command, &text);
    assert_non_null(text);
    if (strcmp(text, want) != 0)
        fail_msg("'%s':\n--- got\n%s--- want\n%s---", command, text, want);
    if (got != rc)
        fail_msg("'%s': status %d, want %d", command, got, rc);
    free(text);
}

static void test_dialplan_show_all(void **state)
{
    fixture_t *f = *state;
    s_expect(f, "dialplan show", 0, s_all);
    s_expect(f, "dialplan show @", 0, s_all);
    s_expect(f, "DIALPLAN SHOW", 0, s_all);
}

static void test_dialplan_show_context(void **state)
{
    fixture_t *f = *state;
    s_expect(f, "dialplan show internal", 0, s_internal);
    s_expect(f, "dialplan show @internal", 0, s_internal);
    s_expect(f, "dialplan show users", 0,
             "[ Context 'users' created by 'pbx_config' ]\n"
             "  '700' =>          1. Wait(1)                                    [more.conf:1]\n"
             "  Include =>        'nowhere'                                     [pbx_config]\n"
             "\n"
             "-= 1 extension (1 priority) in 1 context. =-\n");
    /* Context names are case-sensitive, as Asterisk's strcmp. */
    s_expect(f, "dialplan show Internal", 2, "There is no existence of 'Internal' context\n");
    s_expect(f, "dialplan show nosuch", 2, "There is no existence of 'nosuch' context\n");
}

static void test_dialplan_show_exten(void **state)
{
    fixture_t *f = *state;
    /* Found only through an include. */
    s_expect(f, "dialplan show 600@loop", 0, s_600_loop);
    /* A number each pattern matches, whatever the caller ID; the loop
     * internal -> loop -> internal shows internal a second time. */
    s_expect(f, "dialplan show 1234@internal", 0, s_1234_internal);
    /* A pattern asked for as itself. */
    s_expect(f, "dialplan show _1XXX@internal", 0, s_1234_internal);
    /* '-' is eye candy on both sides. */
    s_expect(f, "dialplan show 5551234@outbound", 0, s_dashes);
    s_expect(f, "dialplan show 555-12-34@outbound", 0, s_dashes);
    s_expect(f, "dialplan show 999@internal", 2, "There is no existence of 999@internal extension\n");
    s_expect(f, "dialplan show 999@", 2, "There is no existence of '999' extension in all contexts\n");
    s_expect(f, "dialplan show 600@nosuch", 2, "There is no existence of 'nosuch' context\n");
}

static void test_dialplan_show_usage(void **state)
{
    fixture_t *f = *state;
    s_expect(f, "dialplan show internal extra", 1,
             "Usage: dialplan show [[exten@]context]\n       Show dialplan\n");
}

/* After a reload the new plan is shown. */
static void test_dialplan_show_reload(void **state)
{
    fixture_t *f = *state;
    char path[128];
    test_write(f->dir, "extensions.conf", "[only]\nexten => 1,1,NoOp()\n", path, sizeof path);
    assert_int_equal(router_reload(f->router, path), 0);
    s_expect(f, "dialplan show", 0,
             "[ Context 'only' created by 'pbx_config' ]\n"
             "  '1' =>            1. NoOp()                                     [extensions.conf:2]\n"
             "\n"
             "-= 1 extension (1 priority) in 1 context. =-\n");
}

/* database show|get|put|del, as main/db.c prints them. */
static void test_database(void **state)
{
    fixture_t *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/astdb", f->dir);
    assert_int_equal(router_open_astdb(f->router, path), 0);
    s_expect(f, "database show", 0, "0 results found.\n");
    s_expect(f, "database put cf 1001 5551234", 0, "Updated database successfully\n");
    s_expect(f, "database put cf 1000 x", 0, "Updated database successfully\n");
    s_expect(f, "database put cfwd 1 y", 0, "Updated database successfully\n");
    s_expect(f, "database get cf 1001", 0, "Value: 5551234\n");
    s_expect(f, "database get cf 9", 0, "Database entry not found.\n");
    s_expect(f, "database show", 0,
             "/cf/1000                                          : x                        \n"
             "/cf/1001                                          : 5551234                  \n"
             "/cfwd/1                                           : y                        \n"
             "3 results found.\n");
    /* a family is a whole path component: cf is not cfwd */
    s_expect(f, "database show cf", 0,
             "/cf/1000                                          : x                        \n"
             "/cf/1001                                          : 5551234                  \n"
             "2 results found.\n");
    s_expect(f, "database show cf 1001", 0,
             "/cf/1001                                          : 5551234                  \n"
             "1 results found.\n");
    s_expect(f, "database del cf 1001", 0, "Database entry removed.\n");
    s_expect(f, "database del cf 1001", 0, "Database entry could not be removed.\n");
    s_expect(f, "database show cf", 0,
             "/cf/1000                                          : x                        \n"
             "1 results found.\n");
    s_expect(f, "database put cf", 1,
             "Usage: database show [family [keytree]] | database get <family> <key> |\n"
             "       database put <family> <key> <value> | database del <family> <key>\n");
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dialplan_show_all, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dialplan_show_context, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dialplan_show_exten, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dialplan_show_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dialplan_show_reload, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_database, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
