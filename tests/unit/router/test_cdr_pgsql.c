/* cdr_pgsql: cdr_pgsql.conf as Asterisk reads it, the spool kept while the database is away (a port nothing listens on) and
 * taken up by the next start; cdr.conf's [general] enable and the backend
 * hook of cdr_write. No database here: tests/sip/cdr_pgsql has a real one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <event2/event.h>

#include "cdr.h"
#include "cdr_pgsql.h"
#include "cdr_spool.h"
#include "td_log.h"
#include "test_util.h"

static void test_conf_missing_or_no_global(void **state)
{
    (void)state;
    char dir[64], path[256], err[256];
    cdr_pgsql_conf_t c;
    test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/none.conf", dir);
    assert_int_equal(cdr_pgsql_conf_read(&c, path, err, sizeof err), 0);
    test_write(dir, "a.conf", "[other]\nhostname=db\n", path, sizeof path);
    assert_int_equal(cdr_pgsql_conf_read(&c, path, err, sizeof err), 0);
    /* an empty [global]: ast_variable_browse is NULL, the module declines */
    test_write(dir, "b.conf", "[global]\n;hostname=db\n", path, sizeof path);
    assert_int_equal(cdr_pgsql_conf_read(&c, path, err, sizeof err), 0);
    test_write(dir, "c.conf", "[global\nhostname=db\n", path, sizeof path);
    assert_int_equal(cdr_pgsql_conf_read(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "c.conf"));
    test_rmdir(dir);
}

static void test_conf_defaults(void **state)
{
    (void)state;
    char dir[64], path[256], err[256];
    cdr_pgsql_conf_t c;
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "cdr_pgsql.conf", "[global]\nuser=postgres\n", path, sizeof path);
    assert_int_equal(cdr_pgsql_conf_read(&c, path, err, sizeof err), 1);
    /* config_module's defaults */
    assert_string_equal(c.hostname, "");
    assert_string_equal(c.port, "5432");
    assert_string_equal(c.dbname, "asteriskcdrdb");
    assert_string_equal(c.user, "postgres");
    assert_string_equal(c.password, "");
    assert_string_equal(c.appname, "");
    assert_string_equal(c.table, "cdr");
    assert_string_equal(c.encoding, "LATIN9");
    assert_string_equal(c.timezone, "");
    assert_string_equal(c.schema, "");
    test_rmdir(dir);
}

static void test_conf_values(void **state)
{
    (void)state;
    char dir[64], path[256], err[256];
    cdr_pgsql_conf_t c;
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "cdr_pgsql.conf",
               "; the sample, filled in\n"
               "[global]\n"
               "hostname=db.example.net\n"
               "port=5433\n"
               "dbname=asterisk\n"
               "password=secret ; a comment\n"
               "user=cdrwriter\n"
               "appname=asterisk\n"
               "table=billing.cdr\n"
               "encoding=UTF8\n"
               "timezone=UTC\n"
               "schema=ignored_when_table_has_one\n",
               path, sizeof path);
    assert_int_equal(cdr_pgsql_conf_read(&c, path, err, sizeof err), 1);
    assert_string_equal(c.hostname, "db.example.net");
    assert_string_equal(c.port, "5433");
    assert_string_equal(c.dbname, "asterisk");
    assert_string_equal(c.password, "secret");
    assert_string_equal(c.user, "cdrwriter");
    assert_string_equal(c.appname, "asterisk");
    assert_string_equal(c.table, "billing.cdr");
    assert_string_equal(c.encoding, "UTF8");
    assert_string_equal(c.timezone, "UTC");
    test_rmdir(dir);
}

static cdr_record_t s_record(void)
{
    cdr_record_t r = {
        .accountcode = "acct", .src = "1001", .dst = "1002", .dcontext = "internal",
        .clid = "\"Alice\" <1001>", .channel = "SIP/1001-00000001",
        .dstchannel = "SIP/1002-00000002", .lastapp = "Dial", .lastdata = "SIP/1002,30",
        .start = { 1700000000, 250000 }, .answer = { 1700000003, 0 },
        .end = { 1700000010, 999999 }, .disposition = "ANSWERED", .amaflags = "DOCUMENTATION",
        .uniqueid = "c0ffee-1", .userfield = "",
    };
    return r;
}

static int s_count_lines(const char *path, char state)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += line[0] == state;
    fclose(f);
    return n;
}

/* Nothing listens on the port: the records go to the spool, stay there
 * after destroy, and the next start finds them (a torn last line dropped). */
static void test_spool_while_down(void **state)
{
    (void)state;
    char dir[64], spool[256];
    test_tmpdir(dir, sizeof dir);
    snprintf(spool, sizeof spool, "%s/cdr_pgsql.spool", dir);
    cdr_pgsql_conf_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.hostname, sizeof c.hostname, "127.0.0.1");
    snprintf(c.port, sizeof c.port, "1");
    snprintf(c.dbname, sizeof c.dbname, "x");
    snprintf(c.user, sizeof c.user, "x");
    snprintf(c.table, sizeof c.table, "cdr");
    struct event_base *base = event_base_new();
    cdr_pgsql_t *pg = cdr_pgsql_new(base, &c, spool);
    assert_non_null(pg);
    /* connect refused (at once or on the first poll) */
    for (int i = 0; i < 50 && cdr_pgsql_pending(pg) == 0; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        cdr_record_t r = s_record();
        char id[32];
        snprintf(id, sizeof id, "call-%d", i);
        r.uniqueid = id;
        cdr_pgsql_write(pg, &r);
    }
    size_t first = cdr_pgsql_pending(pg);
    assert_true(first >= 1);
    cdr_record_t r = s_record();
    cdr_pgsql_write(pg, &r);
    cdr_pgsql_write(pg, &r);
    assert_int_equal(cdr_pgsql_pending(pg), first + 2);
    char status[1024];
    cdr_pgsql_status(pg, status, sizeof status);
    assert_non_null(strstr(status, "Not currently connected"));
    cdr_pgsql_destroy(&pg);
    assert_null(pg);
    int pending = s_count_lines(spool, 'P');
    assert_true(pending >= (int)first + 2);
    /* a line cut short by a crash, at the end */
    int fd = open(spool, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "P\t9\t1.0", 7), 7);
    close(fd);
    pg = cdr_pgsql_new(base, &c, spool);
    assert_non_null(pg);
    assert_int_equal(cdr_pgsql_pending(pg), (size_t)pending);
    cdr_pgsql_destroy(&pg);
    assert_int_equal(s_count_lines(spool, 'P'), pending);
    struct stat st;
    assert_int_equal(stat(spool, &st), 0);
    FILE *f = fopen(spool, "r");
    assert_non_null(f);
    assert_int_equal(fseek(f, -1, SEEK_END), 0);
    assert_int_equal(fgetc(f), '\n');               /* the torn line is gone */
    fclose(f);
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(base);
    test_rmdir(dir);
}

static int s_backend_calls;
static void s_backend(void *arg, const cdr_record_t *rec)
{
    (void)arg;
    assert_string_equal(rec->dst, "1002");
    s_backend_calls++;
}

/* cdr.conf [general] enable: off means no Master.csv line and no backend. */
static void test_cdr_enable_and_backend(void **state)
{
    (void)state;
    char dir[64], path[256];
    test_tmpdir(dir, sizeof dir);
    cdr_t *cdr = cdr_new(dir);
    assert_non_null(cdr);
    cdr_set_backend(cdr, s_backend, NULL);
    cdr_record_t r = s_record();
    s_backend_calls = 0;
    assert_int_equal(cdr_write(cdr, &r), 0);
    assert_int_equal(s_backend_calls, 1);
    assert_int_equal(cdr_enabled(cdr), 1);
    test_write(dir, "cdr.conf", "[general]\nenable=no\n", path, sizeof path);
    assert_int_equal(cdr_configure(cdr, path), 0);
    assert_int_equal(cdr_enabled(cdr), 0);
    assert_int_equal(cdr_write(cdr, &r), 0);
    assert_int_equal(s_backend_calls, 1);
    test_write(dir, "cdr.conf", "[general]\nenable=yes\n", path, sizeof path);
    assert_int_equal(cdr_configure(cdr, path), 0);
    assert_int_equal(cdr_enabled(cdr), 1);
    cdr_destroy(&cdr);
    char csv[256];
    snprintf(csv, sizeof csv, "%s/Master.csv", dir);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    assert_int_equal(n, 1);
    test_rmdir(dir);
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_CRIT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_missing_or_no_global),
        cmocka_unit_test(test_conf_defaults),
        cmocka_unit_test(test_conf_values),
        cmocka_unit_test(test_spool_while_down),
        cmocka_unit_test(test_cdr_enable_and_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
