/* Unit tests for td_path: names off the bus or out of the dialplan stay in
 * their directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "td_path.h"

static int s_ok(const char *name, const char *d1, const char *d2)
{
    const char *dirs[2] = { d1, d2 };
    char why[200];
    return td_path_confined(name, dirs, 2, why, sizeof why) == 0;
}

static void test_relative(void **state)
{
    (void)state;
    assert_true(s_ok("msg", "/var/rec", NULL));
    assert_true(s_ok("en/hello-world", "/var/rec", NULL));
    assert_true(s_ok("a..b/..c", "/var/rec", NULL));      /* ".." only as a whole component */
    assert_false(s_ok("../etc/passwd", "/var/rec", NULL));
    assert_false(s_ok("a/../../x", "/var/rec", NULL));
    assert_false(s_ok("a/..", "/var/rec", NULL));
    assert_false(s_ok("", "/var/rec", NULL));
}

static void test_absolute(void **state)
{
    (void)state;
    assert_true(s_ok("/var/rec/msg", "/var/rec", NULL));
    assert_true(s_ok("/var/rec/a/b", "/var/rec/", NULL));
    assert_true(s_ok("/usr/share/snd/x", "/var/rec", "/usr/share/snd"));
    assert_false(s_ok("/var/rec", "/var/rec", NULL));        /* the directory itself */
    assert_false(s_ok("/var/record/x", "/var/rec", NULL));   /* a prefix, not inside */
    assert_false(s_ok("/etc/passwd", "/var/rec", NULL));
    assert_false(s_ok("/var/rec/../../etc/passwd", "/var/rec", NULL));
    assert_false(s_ok("/tmp/x", NULL, ""));                  /* no directory known */
    /* a relative directory is taken from the current one */
    char cwd[PATH_MAX], name[PATH_MAX + 32];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(name, sizeof name, "%s/var/recordings/m", cwd);
    assert_true(s_ok(name, "var/recordings", NULL));
    assert_true(s_ok(name, "./var/recordings", NULL));
    assert_false(s_ok(name, "var/other", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relative),
        cmocka_unit_test(test_absolute),
    };
    return cmocka_run_group_tests_name("td_path", tests, NULL, NULL);
}
