/* timing - see timing.h. */
#include "timing.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const s_days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };
static const char *const s_months[] = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL
};

static void s_warn(char *warn, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_warn(char *warn, size_t len, const char *fmt, ...)
{
    size_t n = strlen(warn);
    if (n + 2 >= len)
        return;
    if (n)
        warn[n++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(warn + n, len - n, fmt, ap);
    va_end(ap);
}

/* A name (whole, any case, when s does not start with a digit) or a number
 * 1..max: its offset (number - 1), or -1. */
static int s_lookup(const char *s, const char *const names[], int max)
{
    int i;
    if (names && *s > '9')
        for (i = 0; names[i]; i++)
            if (strcasecmp(s, names[i]) == 0)
                return i;
    if (sscanf(s, "%2d", &i) == 1 && i >= 1 && i <= max)
        return i - 1;
    return -1;
}

/* "a-b&c..." over max cyclic values: the mask. */
static unsigned s_range(char *src, int max, const char *const names[], const char *what,
                        char *warn, size_t warnlen)
{
    if (!src || !*src || strcmp(src, "*") == 0)
        return (1u << max) - 1;
    unsigned mask = 0;
    for (char *part; (part = strsep(&src, "&"));) {
        char *endpart = strchr(part, '-');
        if (endpart)
            *endpart++ = '\0';
        int start = s_lookup(part, names, max), end;
        if (start < 0) {
            s_warn(warn, warnlen, "Invalid %s '%s', skipping element", what, part);
            continue;
        }
        if (endpart) {
            if ((end = s_lookup(endpart, names, max)) < 0) {
                s_warn(warn, warnlen, "Invalid end %s '%s', skipping element", what, endpart);
                continue;
            }
        } else {
            end = start;
        }
        mask |= 1u << end;
        while (start != end) {
            mask |= 1u << start;
            if (++start >= max)
                start = 0;
        }
    }
    return mask;
}

static int s_hhmm(const char *s, int *minute)
{
    int h, m;
    if (sscanf(s, "%2d:%2d", &h, &m) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
        return -1;
    *minute = h * 60 + m;
    return 0;
}

static void s_set_minute(timing_t *self, int x)
{
    self->minmask[x / 30] |= 1u << (x % 30);
}

static void s_times(timing_t *self, char *times, char *warn, size_t warnlen)
{
    memset(self->minmask, 0, sizeof self->minmask);
    if (!times || !*times || strcmp(times, "*") == 0) {
        for (int x = 0; x < 48; x++)
            self->minmask[x] = 0x3fffffff;
        return;
    }
    for (char *part; (part = strsep(&times, "&"));) {
        int a, b;
        char *endpart = strchr(part, '-');
        if (!endpart) {
            if (s_hhmm(part, &a) < 0)
                s_warn(warn, warnlen, "%s isn't a valid time.", part);
            else
                s_set_minute(self, a);
            continue;
        }
        *endpart++ = '\0';
        while (*endpart && !isdigit((unsigned char)*endpart))
            endpart++;          /* skips spaces, as Asterisk (and anything else) */
        if (!*endpart) {
            s_warn(warn, warnlen, "Invalid time range starting with '%s-'.", part);
            continue;
        }
        if (s_hhmm(part, &a) < 0) {
            s_warn(warn, warnlen, "'%s' isn't a valid start time.", part);
            continue;
        }
        if (s_hhmm(endpart, &b) < 0) {
            s_warn(warn, warnlen, "'%s' isn't a valid end time.", endpart);
            continue;
        }
        for (; a != b; a = (a + 1) % (24 * 60))
            s_set_minute(self, a);
        s_set_minute(self, a);
    }
}

int timing_parse(timing_t *self, const char *spec, char *warn, size_t warnlen)
{
    if (warnlen)
        warn[0] = '\0';
    memset(self, 0, sizeof *self);
    if (!spec || !*spec)
        return 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    int fields = 1;
    char *last = NULL;
    for (char *p = buf; *p; p++)
        if (*p == '|' || *p == ',') {
            last = p;
            fields++;
        }
    if (fields == 5)
        snprintf(self->timezone, sizeof self->timezone, "%s", last + 1);
    self->monthmask = 0xfff;
    self->daymask = 0x7fffffffu;
    self->dowmask = 0x7f;
    char *info = buf;
    s_times(self, strsep(&info, "|,"), warn, warnlen);
    if (info)
        self->dowmask = (uint8_t)s_range(strsep(&info, "|,"), 7, s_days, "day of week", warn,
                                         warnlen);
    if (info)
        self->daymask = s_range(strsep(&info, "|,"), 31, NULL, "day", warn, warnlen);
    if (info)
        self->monthmask = (uint16_t)s_range(strsep(&info, "|,"), 12, s_months, "month", warn,
                                            warnlen);
    return 1;
}

int timing_match(const timing_t *self, const struct tm *tm)
{
    if (!(self->monthmask & (1u << tm->tm_mon)) || !(self->daymask & (1u << (tm->tm_mday - 1)))
        || !(self->dowmask & (1u << tm->tm_wday)) || tm->tm_hour < 0 || tm->tm_hour > 23)
        return 0;
    int half = tm->tm_hour * 2 + (tm->tm_min >= 30), bit = tm->tm_min % 30;
    return (self->minmask[half] >> bit) & 1;
}

void timing_zone_enter(timing_zone_t *z, const char *zone)
{
    z->active = zone && *zone;
    if (!z->active)
        return;
    const char *old = getenv("TZ");
    z->had = old && strlen(old) < sizeof z->saved;
    if (z->had)
        snprintf(z->saved, sizeof z->saved, "%s", old);
    setenv("TZ", zone, 1);
    tzset();
}

void timing_zone_leave(timing_zone_t *z)
{
    if (!z->active)
        return;
    if (z->had)
        setenv("TZ", z->saved, 1);
    else
        unsetenv("TZ");
    tzset();
}

int timing_check(const timing_t *self, time_t t)
{
    struct tm tm;
    timing_zone_t z;
    timing_zone_enter(&z, self->timezone);
    localtime_r(&t, &tm);
    timing_zone_leave(&z);
    return timing_match(self, &tm);
}
