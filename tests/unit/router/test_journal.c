/* journal: a router that dies with calls up writes their CDRs when it starts
 * again; ended calls are forgotten; torn records and escapes survive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <sys/stat.h>

#include "cdr.h"
#include "journal.h"
#include "td_log.h"
#include "test_util.h"

static cdr_record_t s_rec(const char *id, const char *channel, int answered)
{
    cdr_record_t r = {
        .accountcode = "", .src = "1001", .dst = "1002", .dcontext = "internal",
        .clid = "\"Alice\" <1001>", .channel = channel, .dstchannel = "SIP/1002-00000002",
        .lastapp = "Dial", .lastdata = "SIP/1002,30",
        .start = { 1700000000, 0 }, .answer = { answered ? 1700000003 : 0, 0 },
        .disposition = answered ? "ANSWERED" : "NO ANSWER", .amaflags = "DOCUMENTATION",
        .uniqueid = id, .userfield = "",
    };
    return r;
}

/* CDR lines (a quoted field may hold a newline: count their ends). */
static size_t s_lines(const char *path)
{
    char buf[8192];
    if (!test_read(path, buf, sizeof buf))
        return 0;
    size_t n = 0;
    for (char *p = buf; (p = strstr(p, "\"DOCUMENTATION\"\n")); p++)
        n++;
    return n;
}

/* The first run journals three calls and ends one, then "dies" (the journal
 * is flushed, as the loop would have, and dropped without any clean-up);
 * the second run writes a CDR for each of the two that never ended. */
static void test_recover_live_calls(void **state)
{
    (void)state;
    char dir[64], master[128], jpath[128], buf[8192];
    test_tmpdir(dir, sizeof dir);
    snprintf(master, sizeof master, "%s/Master.csv", dir);
    snprintf(jpath, sizeof jpath, "%s/calls.journal", dir);
    struct event_base *base = event_base_new();
    cdr_t *cdr = cdr_new(dir);
    size_t n = 99;
    journal_t *j = journal_new(base, dir, cdr, &n);
    assert_non_null(j);
    assert_int_equal(n, 0);
    cdr_record_t a = s_rec("call-a", "SIP/1001-00000001", 0);
    cdr_record_t b = s_rec("call-b", "SIP/1001-00000003", 0);
    cdr_record_t c = s_rec("call-c", "SIP/1001-00000005", 0);
    journal_update(j, &a);
    journal_update(j, &b);
    journal_update(j, &c);
    a = s_rec("call-a", "SIP/1001-00000001", 1);      /* answered since */
    a.lastdata = "tab\there, new\nline \\ done";
    journal_update(j, &a);
    journal_end(j, "call-b");
    journal_flush(j);
    assert_true(journal_size(j) > 0);
    event_base_loop(base, EVLOOP_NONBLOCK);            /* nothing left to write */
    /* A torn last record, as a kill in the middle of a write leaves. */
    FILE *fp = fopen(jpath, "a");
    fputs("U\tcall-d\t1700000000.000000", fp);
    fclose(fp);
    journal_destroy(&j);        /* (a crash would not even flush: nothing is buffered) */
    assert_int_equal(s_lines(master), 0);

    j = journal_new(base, dir, cdr, &n);
    assert_non_null(j);
    assert_int_equal(n, 2);
    assert_int_equal(s_lines(master), 2);
    assert_non_null(test_read(master, buf, sizeof buf));
    /* the value came back whole; Master.csv writes its tab and newline
     * escaped (cdr.h: one call, one line) */
    assert_non_null(strstr(buf, "\"SIP/1001-00000001\",\"SIP/1002-00000002\",\"Dial\","
                                "\"tab\\there, new\\nline \\ done\""));
    assert_non_null(strstr(buf, "\"ANSWERED\""));
    assert_non_null(strstr(buf, "\"SIP/1001-00000005\""));
    assert_non_null(strstr(buf, "\"NO ANSWER\""));
    assert_null(strstr(buf, "SIP/1001-00000003"));
    struct stat st;
    assert_int_equal(stat(jpath, &st), 0);
    assert_int_equal(st.st_size, 0);                   /* a fresh journal */
    journal_destroy(&j);

    /* A third start finds nothing more to recover. */
    j = journal_new(base, dir, cdr, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s_lines(master), 2);
    journal_destroy(&j);
    cdr_destroy(&cdr);
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(base);
    test_rmdir(dir);
}

/* Cluster mode: the answered call of the previous run is the store's (the
 * router that adopts it writes its line); the one never answered gets its
 * line here. */
static void test_answered_elsewhere(void **state)
{
    (void)state;
    char dir[64], master[128], buf[8192];
    test_tmpdir(dir, sizeof dir);
    snprintf(master, sizeof master, "%s/Master.csv", dir);
    struct event_base *base = event_base_new();
    cdr_t *cdr = cdr_new(dir);
    size_t n = 99;
    journal_t *j = journal_open(base, dir, cdr, 1, &n);
    assert_non_null(j);
    cdr_record_t a = s_rec("call-a", "SIP/1001-00000001", 1);
    cdr_record_t b = s_rec("call-b", "SIP/1001-00000003", 0);
    journal_update(j, &a);
    journal_update(j, &b);
    journal_flush(j);
    journal_destroy(&j);
    j = journal_open(base, dir, cdr, 1, &n);
    assert_non_null(j);
    assert_int_equal(n, 1);
    assert_int_equal(s_lines(master), 1);
    assert_non_null(test_read(master, buf, sizeof buf));
    assert_non_null(strstr(buf, "\"SIP/1001-00000003\""));
    assert_null(strstr(buf, "SIP/1001-00000001"));
    journal_destroy(&j);
    cdr_destroy(&cdr);
    event_base_free(base);
    test_rmdir(dir);
}

/* The fields a record holds, as text and back (call:<id> in the cluster
 * store keeps them so). */
static void test_fields_round_trip(void **state)
{
    (void)state;
    cdr_record_t a = s_rec("call-a", "SIP/1001-00000001", 1);
    a.answer.tv_usec = 42;
    a.userfield = NULL;
    char start[48], answer[48];
    const char *f[JOURNAL_FIELDS];
    journal_fields(&a, start, answer, f);
    assert_string_equal(journal_field_names[0], "uniqueid");
    assert_string_equal(f[0], "call-a");
    assert_string_equal(f[2], "1700000003.000042");
    assert_string_equal(f[13], "");
    cdr_record_t b;
    journal_record(f, &b);
    assert_int_equal(b.answer.tv_sec, 1700000003);
    assert_int_equal(b.answer.tv_usec, 42);
    assert_int_equal(b.start.tv_sec, 1700000000);
    assert_string_equal(b.channel, "SIP/1001-00000001");
    assert_string_equal(b.disposition, "ANSWERED");
    assert_string_equal(b.amaflags, "DOCUMENTATION");
    assert_int_equal(b.end.tv_sec, 0);
}

/* Records wait in the buffer until the loop's pass ends (one write). */
static void test_buffered_until_loop(void **state)
{
    (void)state;
    char dir[64], jpath[128];
    test_tmpdir(dir, sizeof dir);
    snprintf(jpath, sizeof jpath, "%s/calls.journal", dir);
    struct event_base *base = event_base_new();
    journal_t *j = journal_new(base, dir, NULL, NULL);
    cdr_record_t a = s_rec("call-a", "SIP/1001-00000001", 0);
    journal_update(j, &a);
    struct stat st;
    assert_int_equal(stat(jpath, &st), 0);
    assert_int_equal(st.st_size, 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(stat(jpath, &st), 0);
    assert_true(st.st_size > 0);
    assert_int_equal((size_t)st.st_size, journal_size(j));
    journal_destroy(&j);
    event_base_free(base);
    test_rmdir(dir);
}

/* No call live: emptied. Too big: rewritten with the live calls only. */
static void test_clear_and_rewrite(void **state)
{
    (void)state;
    char dir[64], master[128];
    test_tmpdir(dir, sizeof dir);
    snprintf(master, sizeof master, "%s/Master.csv", dir);
    struct event_base *base = event_base_new();
    journal_t *j = journal_new(base, dir, NULL, NULL);
    cdr_record_t a = s_rec("call-a", "SIP/1001-00000001", 1);
    journal_update(j, &a);
    journal_end(j, "call-a");
    journal_clear(j);
    journal_flush(j);
    assert_int_equal(journal_size(j), 0);

    assert_false(journal_too_big(j));
    char id[32];
    for (int i = 0; journal_size(j) <= JOURNAL_MAX_BYTES; i++) {
        snprintf(id, sizeof id, "old-%d", i);
        cdr_record_t r = s_rec(id, "SIP/1001-0000000f", 0);
        journal_update(j, &r);
        journal_end(j, id);
        if (i % 1000 == 0)
            journal_flush(j);
    }
    assert_true(journal_too_big(j));
    assert_int_equal(journal_rewrite_begin(j), 0);
    cdr_record_t live = s_rec("live-1", "SIP/1001-00000077", 1);
    journal_update(j, &live);
    assert_int_equal(journal_rewrite_end(j), 0);
    assert_false(journal_too_big(j));
    size_t small = journal_size(j);
    assert_true(small > 0 && small < 1024);
    journal_destroy(&j);

    cdr_t *cdr = cdr_new(dir);
    size_t n = 0;
    j = journal_new(base, dir, cdr, &n);
    assert_int_equal(n, 1);                            /* live-1 only */
    journal_destroy(&j);
    cdr_destroy(&cdr);
    event_base_free(base);
    test_rmdir(dir);
}

int main(void)
{
    td_log_init("test", getenv("VERBOSE") ? LOG_DEBUG : LOG_CRIT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recover_live_calls),
        cmocka_unit_test(test_answered_elsewhere),
        cmocka_unit_test(test_fields_round_trip),
        cmocka_unit_test(test_buffered_until_loop),
        cmocka_unit_test(test_clear_and_rewrite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
