/* cdr: Master.csv lines in cdr_csv's column order and quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "cdr.h"
#include "td_log.h"
#include "test_util.h"

static struct timeval s_at(int h, int m, int s, int usec)
{
    struct tm tm = { .tm_year = 2024 - 1900, .tm_mon = 2, .tm_mday = 7, .tm_hour = h,
                     .tm_min = m, .tm_sec = s, .tm_isdst = -1 };
    struct timeval tv = { mktime(&tm), usec };
    return tv;
}

static void test_format_answered(void **state)
{
    (void)state;
    char clid[64], line[1024];
    cdr_record_t r = {
        .accountcode = "", .src = "1001", .dst = "1002", .dcontext = "internal",
        .clid = cdr_clid("Alice", "1001", clid, sizeof clid),
        .channel = "SIP/1001-00000001", .dstchannel = "SIP/1002-00000002",
        .lastapp = "Dial", .lastdata = "SIP/1002,30",
        .start = s_at(10, 0, 0, 0), .answer = s_at(10, 0, 3, 200000),
        .end = s_at(10, 0, 10, 900000),
        .disposition = "ANSWERED", .amaflags = "DOCUMENTATION",
    };
    size_t n = cdr_format(&r, line, sizeof line);
    const char *want = "\"\",\"1001\",\"1002\",\"internal\",\"\"\"Alice\"\" <1001>\","
                       "\"SIP/1001-00000001\",\"SIP/1002-00000002\",\"Dial\",\"SIP/1002,30\","
                       "\"2024-03-07 10:00:00\",\"2024-03-07 10:00:03\",\"2024-03-07 10:00:10\","
                       "11,8,\"ANSWERED\",\"DOCUMENTATION\"\n";
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_unanswered(void **state)
{
    (void)state;
    char clid[64], line[1024];
    cdr_record_t r = {
        .accountcode = "", .src = "", .dst = "1002", .dcontext = "internal",
        .clid = cdr_clid("", "", clid, sizeof clid),
        .channel = "SIP/x-1", .dstchannel = "", .lastapp = "Hangup", .lastdata = "",
        .start = s_at(23, 59, 59, 0), .end = s_at(23, 59, 59, 400000),
        .disposition = "BUSY", .amaflags = "DOCUMENTATION",
    };
    cdr_format(&r, line, sizeof line);
    assert_string_equal(line, "\"\",\"\",\"1002\",\"internal\",\"\",\"SIP/x-1\",\"\",\"Hangup\",\"\","
                              "\"2024-03-07 23:59:59\",\"\",\"2024-03-07 23:59:59\",0,0,"
                              "\"BUSY\",\"DOCUMENTATION\"\n");
    /* Too small a buffer: cut, terminated, and the full length returned. */
    char small[10];
    size_t n = cdr_format(&r, small, sizeof small);
    assert_int_equal(n, strlen(line));
    assert_int_equal(strlen(small), 9);
}

/* Issue 12: whatever a remote party puts in a field (a "%0a" in a From
 * user, an escape in a display name), a call stays one line. */
static void test_format_control_chars(void **state)
{
    (void)state;
    char clid[128], line[1024];
    cdr_record_t r = {
        .accountcode = "", .src = "1001\n2024-03-07 NOTICE forged", .dst = "1002",
        .dcontext = "internal", .clid = cdr_clid("A\x1b[2J\"x\"", "1001\r\n", clid, sizeof clid),
        .channel = "SIP/x-1", .dstchannel = "", .lastapp = "Hangup", .lastdata = "a\tb\x7f",
        .start = s_at(23, 59, 59, 0), .end = s_at(23, 59, 59, 400000),
        .disposition = "BUSY", .amaflags = "DOCUMENTATION",
    };
    size_t n = cdr_format(&r, line, sizeof line);
    assert_int_equal(n, strlen(line));
    assert_ptr_equal(strchr(line, '\n'), line + n - 1);      /* one line */
    assert_null(strchr(line, '\r'));
    assert_null(strchr(line, '\x1b'));
    assert_non_null(strstr(line, "\"1001\\n2024-03-07 NOTICE forged\","));
    assert_non_null(strstr(line, "\"\"\"A\\x1b[2J\"\"x\"\"\"\" <1001\\r\\n>\","));
    assert_non_null(strstr(line, "\"a\\tb\\x7f\""));
    /* UTF-8 stays as it is */
    r.src = "M\xc3\xbcller";
    cdr_format(&r, line, sizeof line);
    assert_non_null(strstr(line, "\"M\xc3\xbcller\""));
}

static void test_clid(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(cdr_clid("Alice", "1001", buf, sizeof buf), "\"Alice\" <1001>");
    assert_string_equal(cdr_clid("Alice", "", buf, sizeof buf), "Alice");
    assert_string_equal(cdr_clid(NULL, "1001", buf, sizeof buf), "1001");
    assert_string_equal(cdr_clid("", NULL, buf, sizeof buf), "");
}

/* cdr.conf's [csv] loguniqueid / loguserfield add those columns (each row:
 * the two options, and the end of the line). */
static void test_extra_columns(void **state)
{
    (void)state;
    char line[1024];
    cdr_record_t r = {
        .accountcode = "acme", .src = "1001", .dst = "100", .dcontext = "test", .clid = "",
        .channel = "SIP/a-1", .dstchannel = "", .lastapp = "NoOp", .lastdata = "",
        .start = s_at(9, 0, 0, 0), .end = s_at(9, 0, 1, 0),
        .disposition = "NO ANSWER", .amaflags = "DOCUMENTATION",
        .uniqueid = "1709800000.1", .userfield = "vip \"x\"",
    };
    static const struct { int uniqueid, userfield; const char *tail; } rows[] = {
        { 0, 0, "\"DOCUMENTATION\"\n" },
        { 1, 0, "\"DOCUMENTATION\",\"1709800000.1\"\n" },
        { 0, 1, "\"DOCUMENTATION\",\"vip \"\"x\"\"\"\n" },
        { 1, 1, "\"DOCUMENTATION\",\"1709800000.1\",\"vip \"\"x\"\"\"\n" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = cdr_format_columns(&r, rows[i].uniqueid, rows[i].userfield, line, sizeof line);
        assert_int_equal(n, strlen(line));
        size_t tl = strlen(rows[i].tail);
        if (n < tl || strcmp(line + n - tl, rows[i].tail) != 0)
            fail_msg("row %zu: %s", i, line);
        assert_true(strncmp(line, "\"acme\",", 7) == 0);
    }
    /* cdr_configure reads them; a missing file leaves them off */
    char dir[64], path[128], conf[128], csv[1024];
    test_tmpdir(dir, sizeof dir);
    cdr_t *cdr = cdr_new(dir);
    assert_non_null(cdr);
    assert_int_equal(cdr_configure(cdr, "/nonexistent/cdr.conf"), 0);
    test_write(dir, "cdr.conf", "[general]\nenable=yes\n[csv]\nloguserfield=yes\n", conf,
               sizeof conf);
    assert_int_equal(cdr_configure(cdr, conf), 0);
    assert_int_equal(cdr_write(cdr, &r), 0);
    cdr_destroy(&cdr);
    snprintf(path, sizeof path, "%s/Master.csv", dir);
    test_read(path, csv, sizeof csv);
    assert_non_null(strstr(csv, "\"DOCUMENTATION\",\"vip \"\"x\"\"\"\n"));
    test_rmdir(dir);
}

static void test_write_appends(void **state)
{
    (void)state;
    char dir[64], sub[128], path[160], buf[2048];
    test_tmpdir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/a/b/cdr-csv", dir);
    cdr_t *cdr = cdr_new(sub);                 /* mkdir -p */
    assert_non_null(cdr);
    cdr_record_t r = {
        .accountcode = "", .src = "1", .dst = "2", .dcontext = "c", .clid = "",
        .channel = "ch", .dstchannel = "", .lastapp = "NoOp", .lastdata = "",
        .start = s_at(1, 2, 3, 0), .end = s_at(1, 2, 4, 0),
        .disposition = "NO ANSWER", .amaflags = "DOCUMENTATION",
    };
    assert_int_equal(cdr_write(cdr, &r), 0);
    assert_int_equal(cdr_write(cdr, &r), 0);
    snprintf(path, sizeof path, "%s/Master.csv", sub);
    test_read(path, buf, sizeof buf);          /* flushed: readable while open */
    const char *line = "\"\",\"1\",\"2\",\"c\",\"\",\"ch\",\"\",\"NoOp\",\"\",\"2024-03-07 01:02:03\","
                       "\"\",\"2024-03-07 01:02:04\",1,0,\"NO ANSWER\",\"DOCUMENTATION\"\n";
    char want[1024];
    snprintf(want, sizeof want, "%s%s", line, line);
    assert_string_equal(buf, want);
    cdr_destroy(&cdr);
    assert_null(cdr);
    cdr = cdr_new(sub);                        /* reopened: appends */
    assert_int_equal(cdr_write(cdr, &r), 0);
    cdr_destroy(&cdr);
    test_read(path, buf, sizeof buf);
    assert_int_equal(strlen(buf), 3 * strlen(line));
    /* A folder that cannot be made. */
    assert_null(cdr_new("/proc/no/such/dir"));
    test_rmdir(dir);
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_CRIT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_answered),
        cmocka_unit_test(test_format_unanswered),
        cmocka_unit_test(test_clid),
        cmocka_unit_test(test_format_control_chars),
        cmocka_unit_test(test_write_appends),
        cmocka_unit_test(test_extra_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
