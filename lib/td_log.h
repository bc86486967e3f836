/* td_log - one logging macro for every Tandem process.
 *
 * Lines go to stderr (or the configured log file, or stdout) as
 * "YYYY-mm-dd HH:MM:SS.mmm process LEVEL [context] message".
 * The level is checked before anything is formatted. The context (a call id or
 * a SIP Call-ID) is set when a handler starts and cleared when it returns, so
 * every line a handler logs names the call it was working for.
 *
 * Each line is one line: every byte of the message below 0x20 or from 0x7f up
 * is written as \n, \r, \t or \xNN, so a "%0a" in a SIP From user cannot forge
 * a second line.
 *
 * Logging never blocks the event loop. A line is formatted on the stack and
 * copied into one fixed ring buffer (no allocation per line), which is written
 * to a non-blocking descriptor as far as the reader takes it; the rest waits
 * for a write event on the loop given to td_log_attach(). When the ring is
 * full, lines are dropped and counted, and "N log lines dropped" is written
 * once there is room again. At exit (td_log_detach, or atexit) what is left is
 * flushed for at most a second. Single-threaded, like the processes.
 *
 * Levels are per subsystem (rtpengine's ll()): td_log() logs under the
 * file's TD_LOG_SUBSYS (core unless the file says otherwise, below),
 * td_logs(TD_LOG_SIP, ...) under sip, each with its own level ([logging] in
 * tandem.conf). */
#ifndef TD_LOG_H
#define TD_LOG_H

#include <stddef.h>
#include <syslog.h>   /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

struct event_base;

/* The subsystems: name in tandem.conf's [logging], enum constant. */
#define TD_LOG_SUBSYSTEMS(X) \
    X(core, CORE)         /* everything logged with td_log() */ \
    X(sip, SIP)           /* SIP messages, transport, authentication */ \
    X(txn, TXN)           /* SIP transactions */ \
    X(dialplan, DIALPLAN) /* extensions.conf, applications, functions */ \
    X(bus, BUS)           /* the ZeroMQ bus between processes */ \
    X(media, MEDIA)       /* media sessions, IVR */ \
    X(rtp, RTP)           /* RTP packets */ \
    X(cdr, CDR)           /* call detail records */ \
    X(cli, CLI)           /* tandemctl */

typedef enum {
#define TD_LOG_X_(name, NAME) TD_LOG_##NAME,
    TD_LOG_SUBSYSTEMS(TD_LOG_X_)
#undef TD_LOG_X_
    TD_LOG_SUBSYS_COUNT
} td_log_subsys_t;

/* The level of each subsystem (LOG_*); td_log_level is core's. */
extern int td_log_levels[TD_LOG_SUBSYS_COUNT];
#define td_log_level (td_log_levels[TD_LOG_CORE])

/* Name the process ("signaling"), set every subsystem to `level`, write to
 * stderr (a non-blocking descriptor of its own); also routes libevent's own
 * warnings into td_log. Call once from main(). */
void td_log_init(const char *process, int level);

/* Parse "error", "warning", "notice", "info", "debug" (or a number); -1 if unknown. */
int td_log_level_parse(const char *name);

/* Parse a subsystem name ("sip"); -1 if unknown. */
int td_log_subsys_parse(const char *name);
const char *td_log_subsys_name(int subsys);

/* Set one subsystem's level, or every subsystem's if subsys is -1. */
void td_log_set_level(int subsys, int level);

/* Write to `path` from now on: NULL or "" or "stderr" is stderr, "-" or
 * "stdout" stdout, anything else a file opened for appending (created 0640)
 * or a FIFO that has a reader. 0, or -1 with errno set (the output is then
 * unchanged). */
int td_log_open(const char *path);

/* Write to fd (borrowed: not closed; made non-blocking) from now on. For
 * tests and for callers that own their descriptor. */
void td_log_set_fd(int fd);

/* Reopen the log file (logrotate's SIGHUP): lines from now on go to a file
 * at the configured path. Does nothing for stderr/stdout. 0, or -1 (logged;
 * the old descriptor stays). */
int td_log_reopen(void);

/* Drain the ring on base's loop when the output is writable. Call
 * td_log_detach() before event_base_free(base): it flushes for at most a
 * second, then frees the event. */
int td_log_attach(struct event_base *base);
void td_log_detach(void);

/* Write what the output takes now without blocking. */
void td_log_flush(void);

/* Bytes waiting in the ring, and lines dropped since the last "dropped"
 * notice (for tests and metrics). */
void td_log_stats(size_t *pending, unsigned long *dropped);

/* Set (NULL clears) the context printed in brackets. The string is copied. */
void td_log_set_context(const char *context);

/* Format, escape and queue one line (the level was checked by the caller). */
void td_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Escape `in` (n bytes) into out (room for len bytes, len >= 1): bytes below
 * 0x20 and from 0x7f up become \n, \r, \t or \xNN. Stops before a sequence
 * that would not fit; returns the length written, out is NUL-terminated. */
size_t td_log_escape(char *out, size_t len, const char *in, size_t n);

#define td_logs(subsys, level, ...) \
    do { if ((level) <= td_log_levels[(subsys)]) td_log_write((level), __VA_ARGS__); } while (0)

/* A file may name the subsystem its td_log() lines belong to, before its
 * first #include:  #define TD_LOG_SUBSYS TD_LOG_SIP  (default: core). */
#ifndef TD_LOG_SUBSYS
#define TD_LOG_SUBSYS TD_LOG_CORE
#endif

#define td_log(level, ...) td_logs(TD_LOG_SUBSYS, (level), __VA_ARGS__)

/* At most `per_second` lines a second from one call site; the rest are counted
 * and the count is reported with the next line that gets through. Use it for
 * anything a remote party can trigger. */
#define td_logs_limited(subsys, level, per_second, ...) do { \
        static long td_rl_sec_; static int td_rl_n_; static long td_rl_dropped_; \
        if ((level) <= td_log_levels[(subsys)]) { \
            long td_rl_now_ = td_log_now_sec(); \
            if (td_rl_now_ != td_rl_sec_) { td_rl_sec_ = td_rl_now_; td_rl_n_ = 0; } \
            if (td_rl_n_++ < (per_second)) { \
                if (td_rl_dropped_) { td_log_write((level), "(%ld similar lines suppressed)", td_rl_dropped_); td_rl_dropped_ = 0; } \
                td_log_write((level), __VA_ARGS__); \
            } else td_rl_dropped_++; \
        } } while (0)

#define td_log_limited(level, per_second, ...) \
    td_logs_limited(TD_LOG_SUBSYS, (level), (per_second), __VA_ARGS__)

/* At most one line every `interval` seconds from one call site: for a cap
 * that remote input hits (the message says how many times so far). */
#define td_logs_every(subsys, level, interval, ...) do { \
        static long td_ev_next_; \
        if ((level) <= td_log_levels[(subsys)]) { \
            long td_ev_now_ = td_log_now_sec(); \
            if (td_ev_now_ >= td_ev_next_) { \
                td_ev_next_ = td_ev_now_ + (interval); \
                td_log_write((level), __VA_ARGS__); \
            } \
        } } while (0)

#define td_log_every(level, interval, ...) \
    td_logs_every(TD_LOG_SUBSYS, (level), (interval), __VA_ARGS__)

long td_log_now_sec(void);

#endif
