/* timing - Asterisk's time conditions, as GotoIfTime, ExecIfTime and
 * time-conditional includes (include => context,times,weekdays,mdays,months[,timezone])
 * write them, built as main/pbx_timing.c's ast_build_timing builds them:
 *   times     "*" or "hh:mm-hh:mm" (both minutes included; may wrap
 *             midnight) or a single "hh:mm" (that minute)
 *   weekdays  "*" or "mon-fri", "sat&sun", ... (ranges may wrap: "fri-mon";
 *             a number counts from 1 = sun)
 *   mdays     "*" or "1-15", "1&15", ...
 *   months    "*" or "jan-mar", "dec", "1-3" ...
 * Items are joined with '&', fields with ',' or '|'; a missing field is
 * "*". A malformed item is skipped with a warning (it matches nothing), as
 * Asterisk does: the condition stays. Names are matched whole ("mon", not
 * "monday") and fields are not trimmed (" mon" is malformed), as in the
 * source. A timezone ("Europe/Paris") is the zone the time is read in; none:
 * local time; an unknown one reads as UTC (as Asterisk's ast_tzset falls
 * back to GMT, and glibc does). */
#ifndef TIMING_H
#define TIMING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct {
    uint32_t minmask[48];       /* per half hour, one bit a minute */
    uint32_t daymask;           /* bit d-1: day d of the month */
    uint16_t monthmask;         /* bit 0: January */
    uint8_t dowmask;            /* bit 0: Sunday */
    char timezone[48];          /* "" none */
} timing_t;

/* Build from "times,weekdays,mdays,months[,timezone]". Returns 0 for an
 * empty spec (no condition: Asterisk's ast_build_timing returns 0 and an
 * include then always applies), else 1. The warnings about skipped items
 * go into warn, '\n'-separated ("" none). */
int timing_parse(timing_t *self, const char *spec, char *warn, size_t warnlen);
/* 1 if tm falls inside the condition (ast_check_timing2). */
int timing_match(const timing_t *self, const struct tm *tm);
/* 1 if the time t, read in the condition's timezone (or local time), falls
 * inside it. Switches TZ for a moment when a timezone is given: the router
 * is single-threaded. */
int timing_check(const timing_t *self, time_t t);

/* Local time in another zone: TZ is set for the length of one conversion
 * and put back (the router has one thread). zone NULL or "": the local
 * zone, nothing is changed. */
typedef struct {
    int active, had;
    char saved[256];
} timing_zone_t;
void timing_zone_enter(timing_zone_t *z, const char *zone);
void timing_zone_leave(timing_zone_t *z);

#endif
