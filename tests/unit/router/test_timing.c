/* timing: Asterisk's time conditions as main/pbx_timing.c builds and checks
 * them (ast_build_timing, ast_check_timing2), malformed items included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "timing.h"

/* Wed 2026-06-17 09:30 */
static struct tm s_tm(int hour, int min, int wday, int mday, int mon)
{
    struct tm tm = { .tm_hour = hour, .tm_min = min, .tm_wday = wday, .tm_mday = mday,
                     .tm_mon = mon, .tm_year = 126 };
    return tm;
}

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        int built, match;       /* against Wed 17 Jun 09:30 */
        const char *warn;
    } rows[] = {
        { "", 0, 0, "" },
        { "*,*,*,*", 1, 1, "" },
        { "09:00-17:00,mon-fri,*,*", 1, 1, "" },
        { "09:00-17:00|mon-fri|*|*", 1, 1, "" },
        { "09:31-09:29,*,*,*", 1, 0, "" },                  /* wraps: all but 09:30 */
        { "17:00-09:30,*,*,*", 1, 1, "" },                  /* both ends included */
        { "09:30,*,*,*", 1, 1, "" },                        /* one minute */
        { "*,fri-wed,*,*", 1, 1, "" },                      /* weekdays wrap */
        { "*,4,*,*", 1, 1, "" },                            /* 4 = wed (1 = sun) */
        { "*,*,17&18,jun", 1, 1, "" },
        { "*,*,*,6", 1, 1, "" },
        { "*,monday,*,*", 1, 0, "Invalid day of week 'monday', skipping element" },
        { "*,monday&wed,*,*", 1, 1, "Invalid day of week 'monday', skipping element" },
        { "*, wed,*,*", 1, 0, "Invalid day of week ' wed', skipping element" },
        { "*,mon-xyz,*,*", 1, 0, "Invalid end day of week 'xyz', skipping element" },
        { "*,*,32,*", 1, 0, "Invalid day '32', skipping element" },
        { "*,*,*,june", 1, 0, "Invalid month 'june', skipping element" },
        { "25:00-26:00,*,*,*", 1, 0, "'25:00' isn't a valid start time." },
        { "09:00-99:00,*,*,*", 1, 0, "'99:00' isn't a valid end time." },
        { "09:00-,*,*,*", 1, 0, "Invalid time range starting with '09:00-'." },
        { "nine,*,*,*", 1, 0, "nine isn't a valid time." },
        { "09:00-10:00,*,*,*,Europe/Paris", 1, 1, "" },
    };
    struct tm tm = s_tm(9, 30, 3, 17, 5);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        timing_t t;
        char warn[256];
        int built = timing_parse(&t, rows[i].spec, warn, sizeof warn);
        int match = built && timing_match(&t, &tm);
        if (built != rows[i].built || match != rows[i].match || strcmp(warn, rows[i].warn))
            fail_msg("row %zu '%s': built %d match %d warn '%s'", i, rows[i].spec, built, match,
                     warn);
    }
    timing_t t;
    char warn[64];
    timing_parse(&t, "1:00-2:00,*,*,*,America/New_York", warn, sizeof warn);
    assert_string_equal(t.timezone, "America/New_York");
}

/* The condition's timezone: the time is read there (unknown: UTC). */
static void test_timezone(void **state)
{
    (void)state;
    static const struct { const char *spec; int match; } rows[] = {
        { "11:30-12:30,*,*,*,UTC", 1 },
        { "11:30-12:30,*,*,*,Asia/Tokyo", 0 },     /* 21:00 there */
        { "20:30-21:30,*,*,*,Asia/Tokyo", 1 },
        { "20:30-21:30,thu,*,*,Asia/Tokyo", 0 },   /* still Wednesday */
        { "11:30-12:30,*,*,*,Bogus/Zone", 1 },
    };
    time_t t = 1781697600;                          /* Wed 2026-06-17 12:00 UTC */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        timing_t tm;
        char warn[64];
        assert_int_equal(timing_parse(&tm, rows[i].spec, warn, sizeof warn), 1);
        if (timing_check(&tm, t) != rows[i].match)
            fail_msg("row %zu '%s': expected %d", i, rows[i].spec, rows[i].match);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_timezone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
