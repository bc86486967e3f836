/* Unit tests for td_log: escaping (no forged lines), per-subsystem levels,
 * the ring buffer when nobody reads (drop, count, say so when room returns),
 * draining on the loop, reopening a moved log file, and the [logging]
 * settings. Output goes to a pipe the test reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "td_log.h"
#include "td_settings.h"

static int s_pipe[2];
static char s_out[1 << 20];   /* what the test read from the pipe */
static size_t s_out_len;

/* Read everything the pipe holds now into s_out. */
static void s_read_pipe(void)
{
    for (;;) {
        ssize_t r = read(s_pipe[0], s_out + s_out_len, sizeof s_out - 1 - s_out_len);
        if (r <= 0)
            break;
        s_out_len += (size_t)r;
    }
    s_out[s_out_len] = '\0';
}

static size_t s_count(const char *text, char c)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == c;
    return n;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(pipe2(s_pipe, O_NONBLOCK | O_CLOEXEC), 0);
    td_log_init("test", LOG_INFO);
    td_log_set_fd(s_pipe[1]);
    s_out_len = 0;
    s_out[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    s_read_pipe();
    td_log_flush();
    td_log_set_fd(2);
    close(s_pipe[0]);
    close(s_pipe[1]);
    td_log_set_level(-1, LOG_INFO);
    return 0;
}

/* Each row: input bytes, their escaped form. */
static void test_escape_table(void **state)
{
    (void)state;
    static const struct { const char *in; size_t n; const char *out; } rows[] = {
        { "plain text 123 <sip:a@b>", 24, "plain text 123 <sip:a@b>" },
        { "a\nb", 3, "a\\nb" },
        { "a\r\nFrom: forged", 15, "a\\r\\nFrom: forged" },
        { "tab\there", 8, "tab\\there" },
        { "\x01\x1b[2J", 5, "\\x01\\x1b[2J" },
        { "del\x7f", 4, "del\\x7f" },
        { "caf\xc3\xa9", 5, "caf\\xc3\\xa9" },
        { "nul\0x", 5, "nul\\x00x" },
        { "back\\slash", 10, "back\\slash" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[128];
        size_t n = td_log_escape(out, sizeof out, rows[i].in, rows[i].n);
        assert_string_equal(out, rows[i].out);
        assert_int_equal(n, strlen(rows[i].out));
    }
    /* too small: stops before a sequence that does not fit, never splits one */
    char small[6];
    assert_int_equal(td_log_escape(small, sizeof small, "ab\ncd", 5), 5);
    assert_string_equal(small, "ab\\nc");
    assert_int_equal(td_log_escape(small, sizeof small, "abc\x01", 4), 3);
    assert_string_equal(small, "abc");
}

/* A SIP From user "%0a..." decoded by a parser must not forge a log line:
 * one call, one line, the newline written as \n. */
static void test_no_forged_line(void **state)
{
    (void)state;
    const char *user = "alice\n2026-12-03 12:00:00.000 signaling NOTICE admin logged in";
    td_log_set_context("call-1\r\n");
    td_log(LOG_NOTICE, "INVITE from '%s'", user);
    td_log_set_context(NULL);
    s_read_pipe();
    assert_int_equal(s_count(s_out, '\n'), 1);
    assert_non_null(strstr(s_out, "[call-1\\r\\n] INVITE from 'alice\\n2026-12-03"));
    assert_non_null(strstr(s_out, " test NOTICE "));
}

/* td_log_every: a cap hit in a loop is one line per interval. */
static void test_every(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++)
        td_log_every(LOG_WARNING, 60, "cap reached (%d so far)", i + 1);
    s_read_pipe();
    assert_int_equal(s_count(s_out, '\n'), 1);
    assert_non_null(strstr(s_out, "cap reached (1 so far)"));
}

static int s_evaluated;
static int s_arg(void)
{
    return ++s_evaluated;
}

static void test_subsystem_levels(void **state)
{
    (void)state;
    assert_int_equal(td_log_subsys_parse("sip"), TD_LOG_SIP);
    assert_int_equal(td_log_subsys_parse("RTP"), TD_LOG_RTP);
    assert_int_equal(td_log_subsys_parse("core"), TD_LOG_CORE);
    assert_int_equal(td_log_subsys_parse("nope"), -1);
    assert_string_equal(td_log_subsys_name(TD_LOG_DIALPLAN), "dialplan");

    td_log_set_level(-1, LOG_WARNING);
    td_log_set_level(TD_LOG_SIP, LOG_DEBUG);
    s_evaluated = 0;
    td_logs(TD_LOG_SIP, LOG_DEBUG, "sip debug %d", s_arg());       /* in */
    td_logs(TD_LOG_RTP, LOG_INFO, "rtp info %d", s_arg());         /* out, not formatted */
    td_log(LOG_INFO, "core info %d", s_arg());                     /* out */
    td_log(LOG_WARNING, "core warning %d", s_arg());               /* in */
    td_logs(TD_LOG_BUS, LOG_ERR, "bus error %d", s_arg());         /* in */
    assert_int_equal(s_evaluated, 3);
    assert_int_equal(td_log_level, LOG_WARNING);    /* the old name is core's level */
    s_read_pipe();
    assert_int_equal(s_count(s_out, '\n'), 3);
    assert_non_null(strstr(s_out, "sip debug 1"));
    assert_non_null(strstr(s_out, "core warning 2"));
    assert_non_null(strstr(s_out, "bus error 3"));
    assert_null(strstr(s_out, "info"));
}

/* At most per_second lines a second from one call site. */
static void test_rate_limit(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++)
        td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 3, "bad packet %d", i);
    s_read_pipe();
    /* 3 a second; the loop may straddle one second boundary */
    size_t lines = s_count(s_out, '\n');
    assert_true(lines >= 3 && lines <= 7);
}

/* Nobody reads: the ring fills, further lines are dropped and counted, the
 * caller never blocks; once the reader catches up, "N log lines dropped"
 * comes first, then new lines. */
static void test_ring_full_drops_and_counts(void **state)
{
    (void)state;
    char filler[200];
    memset(filler, 'x', sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    size_t pending = 0;
    unsigned long dropped = 0;
    int written = 0;
    while (dropped == 0 && written < 100000) {
        td_log(LOG_INFO, "line %d %s", written, filler);
        written++;
        td_log_stats(&pending, &dropped);
    }
    assert_int_equal(dropped, 1);
    assert_true(pending > 0 && pending <= 256 * 1024);
    for (int i = 0; i < 10; i++)
        td_log(LOG_INFO, "more %d", i);
    td_log_stats(NULL, &dropped);
    assert_int_equal(dropped, 11);
    int queued = written - 1;

    /* the reader catches up */
    for (int round = 0; round < 1000; round++) {
        s_read_pipe();
        td_log_flush();
        td_log_stats(&pending, &dropped);
        if (!pending && !dropped)
            break;
    }
    s_read_pipe();
    assert_int_equal(pending, 0);
    assert_int_equal(dropped, 0);
    td_log(LOG_INFO, "after");
    s_read_pipe();
    assert_int_equal(s_count(s_out, '\n'), (size_t)queued + 2);
    const char *note = strstr(s_out, "WARNING 11 log lines dropped");
    assert_non_null(note);
    const char *after = strstr(s_out, "after\n");
    assert_non_null(after);
    assert_true(note < after);
    /* the last queued line was whole, and nothing dropped got in */
    char last[32];
    snprintf(last, sizeof last, "line %d ", queued - 1);
    assert_non_null(strstr(s_out, last));
    assert_null(strstr(s_out, "more "));
}

static void s_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* With a loop attached, the ring drains when the pipe becomes writable,
 * with no further td_log call; detach leaves no event behind. */
static void test_drains_on_the_loop(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_non_null(base);
    assert_int_equal(td_log_attach(base), 0);
    char filler[500];
    memset(filler, 'y', sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    for (int i = 0; i < 300; i++)            /* 150 kB: more than the pipe holds */
        td_log(LOG_INFO, "%d %s", i, filler);
    size_t pending;
    td_log_stats(&pending, NULL);
    assert_true(pending > 0);
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 1);
    struct event *timeout = evtimer_new(base, s_on_timeout, base);
    for (int round = 0; round < 100 && pending; round++) {
        s_read_pipe();
        struct timeval tv = { 1, 0 };   /* a bound only: the write event ends each turn */
        evtimer_add(timeout, &tv);
        event_base_loop(base, EVLOOP_ONCE);
        evtimer_del(timeout);
        td_log_stats(&pending, NULL);
    }
    assert_int_equal(pending, 0);
    s_read_pipe();
    assert_int_equal(s_count(s_out, '\n'), 300);
    event_free(timeout);
    td_log_detach();
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(base);
}

static void s_read_file(const char *path, char *buf, size_t len)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, len - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

/* logrotate: the file is moved, SIGHUP → td_log_reopen, new lines go to a
 * new file at the configured path. */
static void test_reopen_after_move(void **state)
{
    (void)state;
    char dir[] = "/tmp/td_log_test.XXXXXX", path[64], moved[64], buf[4096];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tandem.log", dir);
    snprintf(moved, sizeof moved, "%s/tandem.log.1", dir);
    assert_int_equal(td_log_open(path), 0);
    td_log(LOG_NOTICE, "before rotation");
    assert_int_equal(rename(path, moved), 0);
    td_log(LOG_NOTICE, "still the old file");
    assert_int_equal(td_log_reopen(), 0);
    td_log(LOG_NOTICE, "in the new file");
    s_read_file(moved, buf, sizeof buf);
    assert_non_null(strstr(buf, "before rotation"));
    assert_non_null(strstr(buf, "still the old file"));
    assert_null(strstr(buf, "in the new file"));
    s_read_file(path, buf, sizeof buf);
    assert_non_null(strstr(buf, "in the new file"));
    assert_int_equal(s_count(buf, '\n'), 1);
    /* a missing directory is an error, and the output stays */
    assert_int_equal(td_log_open("/nonexistent/dir/x.log"), -1);
    td_log(LOG_NOTICE, "still here");
    s_read_file(path, buf, sizeof buf);
    assert_non_null(strstr(buf, "still here"));
    td_log_set_fd(s_pipe[1]);
    unlink(path);
    unlink(moved);
    rmdir(dir);
}

/* tandem.conf: [logging] level and per-subsystem levels, [general] logfile
 * and the process's own logfile over it. */
static void test_settings(void **state)
{
    (void)state;
    char dir[] = "/tmp/td_log_conf.XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tandem.conf", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("[signaling]\nlogfile=/tmp/sig.log\n[general]\nloglevel=notice\nlogfile=-\n"
          "[logging]\nsip=debug\nbus=warning\n", fp);
    fclose(fp);
    unsetenv("TANDEM_LOGLEVEL");
    char *argv[] = { "t", "-c", dir, NULL };
    td_settings_t s;
    assert_int_equal(td_settings_load(&s, "signaling", 3, argv), 0);
    assert_int_equal(s.loglevel, LOG_NOTICE);
    assert_int_equal(s.sublevels[TD_LOG_SIP], LOG_DEBUG);
    assert_int_equal(s.sublevels[TD_LOG_BUS], LOG_WARNING);
    assert_int_equal(s.sublevels[TD_LOG_RTP], -1);
    assert_string_equal(s.logfile, "/tmp/sig.log");
    assert_int_equal(td_settings_load(&s, "router", 3, argv), 0);
    assert_string_equal(s.logfile, "-");

    fp = fopen(path, "w");
    fputs("[logging]\nlevel=debug\nsip=loud\n", fp);
    fclose(fp);
    assert_int_equal(td_settings_load(&s, "router", 3, argv), -1);
    fp = fopen(path, "w");
    fputs("[logging]\nlevel=error\nnosuch=debug\n", fp);
    fclose(fp);
    assert_int_equal(td_settings_load(&s, "router", 3, argv), -1);
    fp = fopen(path, "w");
    fputs("[logging]\nlevel=error\n", fp);
    fclose(fp);
    assert_int_equal(td_settings_load(&s, "router", 3, argv), 0);
    assert_int_equal(s.loglevel, LOG_ERR);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test_setup_teardown(test_every, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_forged_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subsystem_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_full_drops_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drains_on_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_move, setup, teardown),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
