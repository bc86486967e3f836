/* timing - see timing.h. */
#include "timing.h"
#include "td_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const s_days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
static const char *const s_months[] = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"
};

/* A day or month by its first three letters (its index + lo), or a number
 * in [lo,hi]. */
static int s_unit(const char *text, const char *const *names, int n, int lo, int hi)
{
    for (int i = 0; names && i < n; i++)
        if (strncasecmp(text, names[i], 3) == 0)
            return i + lo;
    char *end;
    long v = strtol(text, &end, 10);
    return end != text && !*end && v >= lo && v <= hi ? (int)v : -1;
}

/* Does value fall in spec? -1 if spec is malformed. */
static int s_in_list(const char *spec, int value, const char *const *names, int n, int lo,
                     int hi)
{
    if (!*spec || strcmp(spec, "*") == 0)
        return 1;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", spec);
    int hit = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, "&", &save); item; item = strtok_r(NULL, "&", &save)) {
        char *dash = strchr(item, '-');
        if (dash)
            *dash = '\0';
        int a = s_unit(td_str_trim(item), names, n, lo, hi);
        int b = dash ? s_unit(td_str_trim(dash + 1), names, n, lo, hi) : a;
        if (a < 0 || b < 0)
            return -1;
        if (a <= b ? value >= a && value <= b : value >= a || value <= b)
            hit = 1;
    }
    return hit;
}

static int s_in_times(const char *spec, int minute)
{
    if (!*spec || strcmp(spec, "*") == 0)
        return 1;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", spec);
    int hit = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, "&", &save); item; item = strtok_r(NULL, "&", &save)) {
        int h1, m1, h2, m2;
        char tail;
        if (sscanf(item, "%d:%d-%d:%d%c", &h1, &m1, &h2, &m2, &tail) != 4
            || h1 < 0 || h1 > 23 || h2 < 0 || h2 > 23 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59)
            return -1;
        int a = h1 * 60 + m1, b = h2 * 60 + m2;
        if (a <= b ? minute >= a && minute <= b : minute >= a || minute <= b)
            hit = 1;
    }
    return hit;
}

int timing_parse(timing_t *self, const char *spec, char *err, size_t errlen)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *fields[5] = { "*", "*", "*", "*", "" };
    char *p = buf;
    for (int i = 0; i < 5 && p; i++) {
        char *comma = i < 4 ? strchr(p, ',') : NULL;
        if (comma)
            *comma = '\0';
        fields[i] = td_str_trim(p);
        p = comma ? comma + 1 : NULL;
    }
    snprintf(self->times, sizeof self->times, "%s", fields[0]);
    snprintf(self->weekdays, sizeof self->weekdays, "%s", fields[1]);
    snprintf(self->mdays, sizeof self->mdays, "%s", fields[2]);
    snprintf(self->months, sizeof self->months, "%s", fields[3]);
    static const char *const what[] = { "time range", "days of week", "days of month", "months" };
    int bad = s_in_times(self->times, 0) < 0 ? 0
              : s_in_list(self->weekdays, 0, s_days, 7, 0, 6) < 0 ? 1
              : s_in_list(self->mdays, 1, NULL, 0, 1, 31) < 0 ? 2
              : s_in_list(self->months, 1, s_months, 12, 1, 12) < 0 ? 3 : -1;
    if (bad >= 0) {
        snprintf(err, errlen, "invalid %s '%s'", what[bad], fields[bad]);
        return -1;
    }
    return 0;
}

int timing_match(const timing_t *self, const struct tm *tm)
{
    return s_in_times(self->times, tm->tm_hour * 60 + tm->tm_min) == 1
           && s_in_list(self->weekdays, tm->tm_wday, s_days, 7, 0, 6) == 1
           && s_in_list(self->mdays, tm->tm_mday, NULL, 0, 1, 31) == 1
           && s_in_list(self->months, tm->tm_mon + 1, s_months, 12, 1, 12) == 1;
}
