/* func_time - STRFTIME and STRPTIME, as func_strings.c's acf_strftime and
 * acf_strptime with main/stdtime/localtime.c's ast_strftime (its %q). */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "func_int.h"
#include "timing.h"
#include "td_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ast_strftime: "%q" is the milliseconds, "%1q".."%6q" that many digits of
 * the fraction of a second; the rest goes to strftime(3). */
static size_t s_strftime(char *buf, size_t len, const char *fmt, const struct tm *tm, long usec)
{
    char f[1024];
    size_t n = 0;
    for (const char *p = fmt; *p && n + 8 < sizeof f; p++) {
        int decimals = -1;
        if (p[0] == '%' && p[1] >= '1' && p[1] <= '6' && p[2] == 'q') {
            decimals = p[1] - '0';
            p++;
        } else if (p[0] == '%' && p[1] == 'q') {
            decimals = 3;
        }
        if (decimals < 0) {
            f[n++] = *p;
            continue;
        }
        long fraction = usec;
        for (int i = 6; i > decimals; i--)
            fraction /= 10;
        n += (size_t)snprintf(f + n, sizeof f - n, "%0*ld", decimals, fraction);
        p++;   /* the 'q' */
    }
    f[n] = '\0';
    if (!len)
        return 0;
    buf[0] = '\0';
    return strftime(buf, len, f, tm);
}

/* STRFTIME([epoch][,timezone][,format]): epoch may have a fraction
 * (ast_get_timeval); now by default, local time, "%c". */
const char *func_time_strftime(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *argv[3];
    func_args(args, ',', 1, argv, 3);
    struct timeval when;
    gettimeofday(&when, NULL);
    long double t;
    /* An epoch past time_t's range (a cast undefined in Asterisk's
     * ast_get_timeval too) counts as unreadable: now. */
    if (argv[0] && *argv[0] && sscanf(argv[0], "%30Lf", &t) == 1 && t > -0x1p62L
        && t < 0x1p62L) {
        when.tv_sec = (time_t)t;
        when.tv_usec = (suseconds_t)((t - (long double)when.tv_sec) * 1000000.0L);
    }
    const char *fmt = argv[2] ? argv[2] : "%c";
    timing_zone_t z;
    timing_zone_enter(&z, argv[1]);
    struct tm tm;
    if (!localtime_r(&when.tv_sec, &tm)) {  /* a year past int's range */
        td_log(LOG_WARNING, "STRFTIME(): epoch %ld is out of range", (long)when.tv_sec);
        timing_zone_leave(&z);
        buf[0] = '\0';
        return buf;
    }
    if (s_strftime(buf, len, fmt, &tm, (long)when.tv_usec) == 0)
        td_log(LOG_WARNING, "C function strftime() output nothing?!!");
    timing_zone_leave(&z);
    return buf;
}

/* STRPTIME(datetime,timezone,format): the epoch of datetime read with
 * strptime(3) format in timezone ("" local). */
const char *func_time_strptime(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *argv[3];
    func_args(args, ',', 1, argv, 3);
    if (!argv[2] || !*argv[2]) {
        td_log(LOG_ERR, "No format supplied to STRPTIME(<timestring>,<timezone>,<format>)");
        return NULL;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!strptime(argv[0] ? argv[0] : "", argv[2], &tm)) {
        td_log(LOG_WARNING, "STRPTIME() found no time specified within the string");
        return buf;
    }
    tm.tm_isdst = -1;   /* strptime does not set it: let mktime decide */
    timing_zone_t z;
    timing_zone_enter(&z, argv[1]);
    time_t t = mktime(&tm);
    timing_zone_leave(&z);
    snprintf(buf, len, "%d", (int)t);
    return buf;
}
