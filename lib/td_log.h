/* td_log - one logging macro for every Tandem process.
 *
 * Lines go to stderr as "YYYY-mm-dd HH:MM:SS.mmm process LEVEL [context] message".
 * The level is checked before anything is formatted. The context (a call id or
 * a SIP Call-ID) is set when a handler starts and cleared when it returns, so
 * every line a handler logs names the call it was working for. */
#ifndef TD_LOG_H
#define TD_LOG_H

#include <syslog.h>   /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

extern int td_log_level;

/* Name the process ("signaling") and pick the level; also routes libevent's
 * own warnings into td_log. Call once from main(). */
void td_log_init(const char *process, int level);

/* Parse "error", "warning", "notice", "info", "debug" (or a number); -1 if unknown. */
int td_log_level_parse(const char *name);

/* Set (NULL clears) the context printed in brackets. The string is copied. */
void td_log_set_context(const char *context);

void td_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define td_log(level, ...) \
    do { if ((level) <= td_log_level) td_log_write((level), __VA_ARGS__); } while (0)

/* At most `per_second` lines a second from one call site; the rest are counted
 * and the count is reported with the next line that gets through. */
#define td_log_limited(level, per_second, ...) do { \
        static long td_rl_sec_; static int td_rl_n_; static long td_rl_dropped_; \
        if ((level) <= td_log_level) { \
            long td_rl_now_ = td_log_now_sec(); \
            if (td_rl_now_ != td_rl_sec_) { td_rl_sec_ = td_rl_now_; td_rl_n_ = 0; } \
            if (td_rl_n_++ < (per_second)) { \
                if (td_rl_dropped_) { td_log_write((level), "(%ld similar lines suppressed)", td_rl_dropped_); td_rl_dropped_ = 0; } \
                td_log_write((level), __VA_ARGS__); \
            } else td_rl_dropped_++; \
        } } while (0)

long td_log_now_sec(void);

#endif
