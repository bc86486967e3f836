/* test_quality - quality.csv lines (router/quality.c) and the rows of
 * `sip show channelstats` (router/chanstats.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chanstats.h"
#include "quality.h"

static void s_sides(Tandem__MediaSessionStats *s, Tandem__MediaSideStats *a,
                    Tandem__MediaSideStats *b)
{
    tandem__media_session_stats__init(s);
    tandem__media_side_stats__init(a);
    tandem__media_side_stats__init(b);
    s->call_id = "abc@host";
    s->a = a;
    s->b = b;
    a->remote = "127.0.0.1:4000";
    a->rx_packets = 900;
    a->tx_packets = 1000;
    a->expected = 1000;
    a->lost = 100;
    a->jitter_us = 2500;
    a->mos_x100 = 339;
    b->remote = "10.0.0.2:5000";
    b->rx_packets = 1000;
    b->tx_packets = 900;
    b->expected = 1000;
    b->lost = 0;
    b->jitter_us = 0;
    b->far_valid = 1;
    b->far_lost = 90;
    b->far_jitter_us = 20000;
    b->rtt_us = 12300;
    b->mos_x100 = 339;
}

static void test_line(void **state)
{
    (void)state;
    Tandem__MediaSessionStats s;
    Tandem__MediaSideStats a, b;
    s_sides(&s, &a, &b);
    char line[1024];
    setenv("TZ", "UTC", 1);
    size_t n = quality_format("media-1", 0, &s, line, sizeof line);
    assert_int_equal(n, strlen(line));
    assert_string_equal(line,
        "\"abc@host\",\"abc@host\",\"1970-01-01 00:00:00\",\"media-1\","
        "\"127.0.0.1:4000\",900,1000,100,10.00,2.50,,,,,3.39,"
        "\"10.0.0.2:5000\",1000,900,0,0.00,0.00,90,10.00,20.00,12.3,3.39,3.39\n");
    /* the header has as many columns */
    int cols_h = 1, cols_l = 1;
    for (const char *p = quality_header(); *p; p++)
        cols_h += *p == ',';
    for (const char *p = line; *p; p++)
        cols_l += *p == ',';
    assert_int_equal(cols_h, cols_l);
    /* a side that carried nothing has no MOS; the call's is the other's */
    b.rx_packets = 0;
    a.mos_x100 = 420;
    quality_format("media-1", 0, &s, line, sizeof line);
    assert_non_null(strstr(line, ",12.3,,4.20\n"));
    /* too small a buffer: the length it needs */
    char small[8];
    assert_true(quality_format("media-1", 0, &s, small, sizeof small) > sizeof small);
    /* quotes doubled, as cdr_csv */
    s.call_id = "a\"b";
    quality_format("w", 0, &s, line, sizeof line);
    assert_true(strncmp(line, "\"a\"\"b\",\"a\"\"b\",", 14) == 0);
    /* control characters escaped (issue 12): one line */
    s.call_id = "a\nb\x1b";
    size_t qn = quality_format("w", 0, &s, line, sizeof line);
    assert_ptr_equal(strchr(line, '\n'), line + qn - 1);
    assert_true(strncmp(line, "\"a\\nb\\x1b\",", 11) == 0);
}

static void test_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_quality.XXXXXX";
    assert_non_null(mkdtemp(dir));
    Tandem__MediaSessionStats s;
    Tandem__MediaSideStats a, b;
    s_sides(&s, &a, &b);
    quality_t *q = quality_new(dir);
    assert_non_null(q);
    assert_int_equal(quality_write(q, "media-1", &s), 0);
    quality_destroy(&q);
    assert_null(q);
    q = quality_new(dir);                  /* reopened: no second header */
    assert_int_equal(quality_write(q, "media-2", &s), 0);
    quality_destroy(&q);
    char path[256], buf[4096];
    snprintf(path, sizeof path, "%s/quality.csv", dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    assert_true(strncmp(buf, quality_header(), strlen(quality_header())) == 0);
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
    assert_non_null(strstr(buf, "\"media-2\""));
    unlink(path);
    rmdir(dir);
}

static void test_chanstats_row(void **state)
{
    (void)state;
    Tandem__MediaSessionStats s;
    Tandem__MediaSideStats a, b;
    s_sides(&s, &a, &b);
    char buf[512];
    size_t n = chanstats_row(buf, sizeof buf, 0, "abc@host", "00:01:05", &a);
    assert_int_equal(n, strlen(buf));
    /* Recv: 900 packets, 100 lost = 10 % of 1000, 2.5 ms; Send: 1000, no
     * report. Counts zero-padded to 10 digits: chan_sip's %-10.10u does so. */
    assert_string_equal(buf, "127.0.0.1        abc@host     00:01:05 0000000900  0000000100 "
                             "(10.00%) 0.0025 0000001000  0000000000 ( 0.00%) 0.0000\n");
    n = chanstats_row(buf, sizeof buf, 0, "abc@host", "", &b);
    assert_string_equal(buf, "10.0.0.2         abc@host              0000001000  0000000000 "
                             "( 0.00%) 0.0000 0000000900  0000000090 (10.00%) 0.0200\n");
    /* over 100000 packets: thousands, with a K */
    a.rx_packets = 250000;
    chanstats_row(buf, sizeof buf, 0, "x", "", &a);
    assert_non_null(strstr(buf, " 0000000250K 0000000100 "));
    assert_true(chanstats_handles("sip show channelstats"));
    assert_true(chanstats_handles("  SIP  show ChannelStats"));
    assert_false(chanstats_handles("sip show channels"));
    assert_false(chanstats_handles("sip show"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_chanstats_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
