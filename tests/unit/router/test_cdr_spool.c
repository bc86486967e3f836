/* cdr_spool: the line codec (escapes, cuts, what it refuses), and the file:
 * appends, the oldest pending line, done lines, truncation when nothing is
 * pending, lines put in front of pending ones (the rewrite), 'U' marks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <sys/stat.h>

#include "cdr_spool.h"
#include "td_log.h"
#include "test_util.h"

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

static void test_encode_decode(void **state)
{
    (void)state;
    cdr_record_t r = s_record();
    char line[4096];
    size_t n = cdr_spool_encode(&r, 42, line, sizeof line);
    assert_int_equal(n, strlen(line));
    assert_string_equal(line, "P\t42\t1700000000.250000\t1700000003.000000\t1700000010.999999"
                              "\tacct\t1001\t1002\tinternal\t\"Alice\" <1001>\tSIP/1001-00000001"
                              "\tSIP/1002-00000002\tDial\tSIP/1002,30\tANSWERED\tDOCUMENTATION"
                              "\tc0ffee-1\t\n");
    cdr_record_t d;
    unsigned long seq = 0;
    assert_int_equal(cdr_spool_decode(line, &d, &seq), 0);
    assert_int_equal(seq, 42);
    assert_int_equal(d.start.tv_sec, 1700000000);
    assert_int_equal(d.start.tv_usec, 250000);
    assert_int_equal(d.answer.tv_sec, 1700000003);
    assert_int_equal(d.end.tv_usec, 999999);
    assert_string_equal(d.clid, "\"Alice\" <1001>");
    assert_string_equal(d.lastdata, "SIP/1002,30");
    assert_string_equal(d.uniqueid, "c0ffee-1");
    assert_string_equal(d.userfield, "");
    assert_string_equal(d.disposition, "ANSWERED");
    assert_int_equal(cdr_duration(&d), 11);
    assert_int_equal(cdr_billsec(&d), 8);
}

static void test_encode_escapes_and_cuts(void **state)
{
    (void)state;
    cdr_record_t r = s_record();
    r.userfield = "a\tb\nc\\d\re";
    r.src = NULL;                       /* a field never set: empty */
    r.answer = (struct timeval) { 0, 0 };
    char big[CDR_SPOOL_FIELD_MAX + 100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[CDR_SPOOL_FIELD_MAX - 1] = (char)0xc3;   /* an é across the cut */
    big[CDR_SPOOL_FIELD_MAX] = (char)0xa9;
    r.lastdata = big;
    char line[8192];
    size_t n = cdr_spool_encode(&r, 7, line, sizeof line);
    assert_int_equal(n, strlen(line));
    assert_null(strchr(line, '\r'));
    assert_ptr_equal(strchr(line, '\n'), line + n - 1);   /* one line */
    assert_non_null(strstr(line, "\ta\\tb\\nc\\\\d\\re\n"));
    cdr_record_t d;
    unsigned long seq;
    assert_int_equal(cdr_spool_decode(line, &d, &seq), 0);
    assert_string_equal(d.userfield, "a\tb\nc\\d\re");
    assert_string_equal(d.src, "");
    assert_int_equal(d.answer.tv_sec, 0);
    assert_int_equal(cdr_billsec(&d), 0);
    assert_int_equal(strlen(d.lastdata), CDR_SPOOL_FIELD_MAX - 1);   /* not inside the é */
    /* too small a buffer: terminated, the full length returned */
    char small[16];
    assert_int_equal(cdr_spool_encode(&r, 7, small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_decode_refuses(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "garbage\n",
        "X\t1\t1.0\t0.0\t2.0\ta\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\tm\n",    /* state */
        "P\t1\t1.0\t0.0\t2.0\ta\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\n",       /* a field short */
        "P\t1\t1.0\t0.0\t2.0\ta\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\tm\tn\n", /* one too many */
        "P\tx\t1.0\t0.0\t2.0\ta\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\tm\n",    /* sequence */
        "P\t1\t1\t0.0\t2.0\ta\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\tm\n",      /* a time */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "%s", bad[i]);
        cdr_record_t d;
        unsigned long seq;
        assert_int_equal(cdr_spool_decode(line, &d, &seq), -1);
    }
    char ok[] = "U\t1\t1.0\t0.0\t2.0\ta\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\tm\n";
    cdr_record_t d;
    unsigned long seq;
    assert_int_equal(cdr_spool_decode(ok, &d, &seq), 0);
    assert_string_equal(d.userfield, "m");
}

static char *s_line(const char *id, char *buf, size_t len)
{
    cdr_record_t r = s_record();
    r.uniqueid = id;
    cdr_spool_encode(&r, 1, buf, len);
    return buf;
}

/* The uniqueid of a spool line. */
static const char *s_id(const char *line, char *buf, size_t len)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", line);
    cdr_record_t r;
    unsigned long seq;
    if (cdr_spool_decode(copy, &r, &seq) < 0)
        return "?";
    snprintf(buf, len, "%s", r.uniqueid);
    return buf;
}

static long s_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_spool_order(void **state)
{
    (void)state;
    char dir[64], path[256], l[4][1024], id[64];
    test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/spool", dir);
    struct event_base *base = event_base_new();
    cdr_spool_t *sp = cdr_spool_new(base, path);
    assert_non_null(sp);
    off_t off;
    size_t len;
    assert_null(cdr_spool_first(sp, &off, &len));
    /* nothing pending: put_front appends */
    char *front[] = { s_line("a", l[0], sizeof l[0]), s_line("b", l[1], sizeof l[1]) };
    assert_int_equal(cdr_spool_put_front(sp, front, 2), 0);
    assert_int_equal(cdr_spool_pending(sp), 2);
    const char *first = cdr_spool_first(sp, &off, &len);
    assert_string_equal(s_id(first, id, sizeof id), "a");
    assert_int_equal(off, 0);
    cdr_spool_done(sp, off, len);
    assert_int_equal(cdr_spool_pending(sp), 1);
    /* "b" pending: c and d go in front of it (a rewrite), "a" is dropped */
    char *front2[] = { s_line("c", l[2], sizeof l[2]), s_line("d", l[3], sizeof l[3]) };
    assert_int_equal(cdr_spool_put_front(sp, front2, 2), 0);
    assert_int_equal(cdr_spool_pending(sp), 3);
    const char *want[] = { "c", "d", "b" };
    for (int i = 0; i < 3; i++) {
        first = cdr_spool_first(sp, &off, &len);
        assert_non_null(first);
        assert_string_equal(s_id(first, id, sizeof id), want[i]);
        if (i == 1) {
            /* the INSERT of "d" had its answer lost: marked, still first */
            cdr_spool_mark(sp, off, 'U');
            first = cdr_spool_first(sp, &off, &len);
            assert_int_equal(first[0], 'U');
            assert_string_equal(s_id(first, id, sizeof id), "d");
        }
        cdr_spool_done(sp, off, len);
    }
    assert_int_equal(cdr_spool_pending(sp), 0);
    assert_int_equal(s_size(path), 0);                  /* emptied */
    assert_null(cdr_spool_first(sp, &off, &len));
    /* appended, reopened: still pending, in order */
    assert_int_equal(cdr_spool_append(sp, l[0], strlen(l[0])), 0);
    assert_int_equal(cdr_spool_append(sp, l[1], strlen(l[1])), 0);
    first = cdr_spool_first(sp, &off, &len);
    cdr_spool_done(sp, off, len);                       /* "a" done, "b" not */
    cdr_spool_destroy(&sp);
    assert_null(sp);
    sp = cdr_spool_new(base, path);
    assert_int_equal(cdr_spool_pending(sp), 1);
    first = cdr_spool_first(sp, &off, &len);
    assert_string_equal(s_id(first, id, sizeof id), "b");
    assert_int_equal(off, (off_t)strlen(l[0]));
    cdr_spool_destroy(&sp);
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(base);
    test_rmdir(dir);
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_CRIT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_encode_escapes_and_cuts),
        cmocka_unit_test(test_decode_refuses),
        cmocka_unit_test(test_spool_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
