/* timing - Asterisk's time conditions, as GotoIfTime and time-conditional
 * includes (include => context,times,weekdays,mdays,months[,timezone])
 * write them:
 *   times     "*" or "hh:mm-hh:mm" (both minutes included; may wrap midnight)
 *   weekdays  "*" or "mon-fri", "sat&sun", ... (ranges may wrap: "fri-mon")
 *   mdays     "*" or "1-15", "1&15", ...
 *   months    "*" or "jan-mar", "dec", ...
 * Items are joined with '&'. The timezone is not supported (local time). */
#ifndef TIMING_H
#define TIMING_H

#include <stddef.h>
#include <time.h>

typedef struct {
    char times[64], weekdays[64], mdays[64], months[64];
} timing_t;

/* Parse "times,weekdays,mdays,months[,timezone]" (missing fields are "*").
 * 0, or -1 with a reason in err. */
int timing_parse(timing_t *self, const char *spec, char *err, size_t errlen);
/* 1 if tm falls inside the condition. */
int timing_match(const timing_t *self, const struct tm *tm);

#endif
