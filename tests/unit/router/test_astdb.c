/* astdb: put/get/del, persistence across reopen, compaction, escaping, and
 * what a crash can leave behind (a torn last record, a stale .tmp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "astdb.h"
#include "test_util.h"

static void test_put_get_del(void **state)
{
    (void)state;
    char dir[64], path[128], text[512];
    test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sub/astdb", dir);    /* folder created */
    astdb_t *db = astdb_open(path);
    assert_non_null(db);
    assert_null(astdb_get(db, "cf", "1001"));
    assert_int_equal(astdb_put(db, "cf", "1001", "5551234"), 0);
    assert_int_equal(astdb_put(db, "cf", "1002", "x"), 0);
    assert_int_equal(astdb_put(db, "cf", "1001", "5559999"), 0);
    assert_string_equal(astdb_get(db, "cf", "1001"), "5559999");
    assert_null(astdb_get(db, "cf", "1003"));
    assert_null(astdb_get(db, "dnd", "1001"));
    assert_int_equal(astdb_del(db, "cf", "1002"), 0);
    assert_int_equal(astdb_del(db, "cf", "1002"), -1);
    assert_int_equal(astdb_put(db, "odd", "k\tey", "line1\nline2\\end"), 0);
    assert_int_equal(astdb_put(db, "e", "empty", ""), 0);
    assert_int_equal(astdb_count(db), 3);
    astdb_close(&db);
    assert_null(db);
    /* the log holds every change until the next open compacts it */
    test_read(path, text, sizeof text);
    assert_non_null(strstr(text, "D cf/1002\n"));
    db = astdb_open(path);
    assert_non_null(db);
    assert_string_equal(astdb_get(db, "cf", "1001"), "5559999");
    assert_null(astdb_get(db, "cf", "1002"));
    assert_string_equal(astdb_get(db, "odd", "k\tey"), "line1\nline2\\end");
    assert_string_equal(astdb_get(db, "e", "empty"), "");
    assert_int_equal(astdb_count(db), 3);
    astdb_close(&db);
    test_read(path, text, sizeof text);
    assert_null(strstr(text, "D "));                     /* compacted */
    assert_null(strstr(text, "5551234"));
    assert_non_null(strstr(text, "P odd/k\\tey\tline1\\nline2\\\\end\n"));
    test_rmdir(dir);
}

static void test_crash_leftovers(void **state)
{
    (void)state;
    char dir[64], path[128], tmp[160], text[512];
    test_tmpdir(dir, sizeof dir);
    /* A record cut short by a crash, a junk line, and a stale .tmp from a
     * compaction that died before its rename. */
    test_write(dir, "astdb",
               "P a/b\t1\n"
               "P a/c\t2\n"
               "garbage\n"
               "D a/b\n"
               "P a/d\t3", path, sizeof path);
    test_write(dir, "astdb.tmp.1", "P stale/x\ty\n", tmp, sizeof tmp);
    astdb_t *db = astdb_open(path);
    assert_non_null(db);
    assert_null(astdb_get(db, "a", "b"));
    assert_string_equal(astdb_get(db, "a", "c"), "2");
    assert_null(astdb_get(db, "a", "d"));                /* torn: lost, nothing else */
    assert_null(astdb_get(db, "stale", "x"));
    assert_int_equal(astdb_count(db), 1);
    char mine[192];
    snprintf(mine, sizeof mine, "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(access(mine, F_OK), -1);            /* renamed over the log */
    astdb_put(db, "a", "e", "5");
    astdb_close(&db);
    test_read(path, text, sizeof text);
    assert_string_equal(text, "P a/c\t2\nP a/e\t5\n");
    test_rmdir(dir);
}

static void test_open_fails(void **state)
{
    (void)state;
    assert_null(astdb_open("/proc/no/such/astdb"));
    /* NULL store: reads nothing, writes fail */
    assert_null(astdb_get(NULL, "a", "b"));
    assert_int_equal(astdb_put(NULL, "a", "b", "c"), -1);
    assert_int_equal(astdb_del(NULL, "a", "b"), -1);
}

typedef struct {
    int n;
    char last[64];
} t_changes_t;

static void s_on_change(void *arg, const char *key, const char *value)
{
    t_changes_t *c = arg;
    c->n++;
    snprintf(c->last, sizeof c->last, "%s=%s", key, value ? value : "(deleted)");
}

/* In memory (no file), the change hook (put and del call it, apply does
 * not), astdb_find, and deltree by whole path components. */
static void test_memory_hook_deltree(void **state)
{
    (void)state;
    astdb_t *db = astdb_open(NULL);
    assert_non_null(db);
    t_changes_t c = { 0 };
    astdb_on_change(db, s_on_change, &c);
    assert_int_equal(astdb_put(db, "cf", "1001", "x"), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.last, "cf/1001=x");
    assert_string_equal(astdb_find(db, "cf/1001"), "x");
    assert_int_equal(astdb_apply(db, "cf/1002", "y"), 0);        /* from elsewhere: silent */
    assert_int_equal(c.n, 1);
    assert_string_equal(astdb_get(db, "cf", "1002"), "y");
    assert_int_equal(astdb_apply(db, "cf/1002", NULL), 0);
    assert_null(astdb_find(db, "cf/1002"));
    assert_int_equal(astdb_apply(db, "cf/1002", NULL), -1);
    assert_int_equal(astdb_del(db, "cf", "1001"), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.last, "cf/1001=(deleted)");
    astdb_put(db, "cf", "a/b", "1");
    astdb_put(db, "cf", "a/c", "2");
    astdb_put(db, "cf", "ab", "3");
    astdb_put(db, "cfwd", "1", "4");
    c.n = 0;
    assert_int_equal(astdb_deltree(db, "cf", "a"), 2);
    assert_int_equal(c.n, 2);                                   /* one change per key */
    assert_int_equal(astdb_deltree(db, "cf", NULL), 1);         /* not cfwd */
    assert_string_equal(astdb_get(db, "cfwd", "1"), "4");
    assert_int_equal(astdb_deltree(db, "nosuch", NULL), 0);
    assert_int_equal(astdb_deltree(db, "", NULL), 1);           /* everything */
    assert_int_equal(astdb_count(db), 0);
    astdb_close(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_crash_leftovers),
        cmocka_unit_test(test_open_fails),
        cmocka_unit_test(test_memory_hook_deltree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
