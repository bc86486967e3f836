/* td_log - see td_log.h. */
#include "td_log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <event2/event.h>

#define S_LINE_MAX 2048          /* one formatted line, newline included */
#define S_RING_SIZE (256 * 1024) /* lines waiting for a slow reader */
#define S_EXIT_FLUSH_MS 1000     /* at exit, wait at most this for the reader */

int td_log_levels[TD_LOG_SUBSYS_COUNT] = {
#define S_X(name, NAME) LOG_INFO,
    TD_LOG_SUBSYSTEMS(S_X)
#undef S_X
};

static const char *const s_subsys_names[TD_LOG_SUBSYS_COUNT] = {
#define S_X(name, NAME) #name,
    TD_LOG_SUBSYSTEMS(S_X)
#undef S_X
};

static char s_process[32] = "tandem";
static char s_context[128];

/* The output. Before td_log_init, fd 2 as it is (blocking). */
static struct {
    int fd;                  /* where lines go */
    int owned;               /* we opened fd: close it when replaced */
    int regular;             /* a regular file (or /dev/null): never EAGAIN, no poll */
    int socket;              /* write with send(MSG_DONTWAIT) */
    char path[512];          /* the log file, for td_log_reopen; "" = stderr/stdout/fd */
    struct event_base *base;
    struct event *writable;  /* EV_WRITE on fd while the ring holds bytes */
    int busy;                /* inside td_log_write (libevent may log back) */
    int exit_hooked;
} s_out = { .fd = 2, .regular = 1 };

/* The ring: len bytes from head, wrapping. */
static char s_ring[S_RING_SIZE];
static size_t s_head, s_len;
static unsigned long s_dropped;   /* lines not queued since the last notice */

static const char *s_level_name(int level)
{
    switch (level) {
    case LOG_EMERG: case LOG_ALERT: case LOG_CRIT:
    case LOG_ERR:     return "ERROR";
    case LOG_WARNING: return "WARNING";
    case LOG_NOTICE:  return "NOTICE";
    case LOG_INFO:    return "INFO";
    default:          return "DEBUG";
    }
}

static void s_on_libevent_log(int severity, const char *msg)
{
    int level = severity == EVENT_LOG_ERR ? LOG_ERR
              : severity == EVENT_LOG_WARN ? LOG_WARNING
              : severity == EVENT_LOG_MSG ? LOG_INFO : LOG_DEBUG;
    td_log(level, "libevent: %s", msg);
}

int td_log_level_parse(const char *name)
{
    static const struct { const char *name; int level; } levels[] = {
        { "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
        { "info", LOG_INFO }, { "verbose", LOG_INFO }, { "debug", LOG_DEBUG },
    };
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcasecmp(name, levels[i].name) == 0)
            return levels[i].level;
    char *end;
    long n = strtol(name, &end, 10);
    if (*name && !*end && n >= LOG_EMERG && n <= LOG_DEBUG)
        return (int)n;
    return -1;
}

int td_log_subsys_parse(const char *name)
{
    for (int i = 0; i < TD_LOG_SUBSYS_COUNT; i++)
        if (strcasecmp(name, s_subsys_names[i]) == 0)
            return i;
    return -1;
}

const char *td_log_subsys_name(int subsys)
{
    return subsys >= 0 && subsys < TD_LOG_SUBSYS_COUNT ? s_subsys_names[subsys] : "?";
}

void td_log_set_level(int subsys, int level)
{
    if (subsys >= 0 && subsys < TD_LOG_SUBSYS_COUNT) {
        td_log_levels[subsys] = level;
        return;
    }
    for (int i = 0; i < TD_LOG_SUBSYS_COUNT; i++)
        td_log_levels[i] = level;
}

void td_log_set_context(const char *context)
{
    if (context)
        snprintf(s_context, sizeof s_context, "%s", context);
    else
        s_context[0] = '\0';
}

long td_log_now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (long)ts.tv_sec;
}

size_t td_log_escape(char *out, size_t len, const char *in, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x20 && c < 0x7f) {
            if (o + 1 >= len)
                break;
            out[o++] = (char)c;
            continue;
        }
        char esc = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
        size_t need = esc ? 2 : 4;
        if (o + need >= len)
            break;
        out[o++] = '\\';
        if (esc)
            out[o++] = esc;
        else {
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

/* ---- the ring and the output ---- */

static ssize_t s_write_fd(const char *p, size_t n)
{
    if (s_out.socket)
        return send(s_out.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    return write(s_out.fd, p, n);
}

/* Write from the ring until it is empty or the output would block. */
static void s_drain(void)
{
    while (s_len) {
        size_t chunk = S_RING_SIZE - s_head < s_len ? S_RING_SIZE - s_head : s_len;
        ssize_t w = s_write_fd(s_ring + s_head, chunk);
        if (w > 0) {
            s_head = (s_head + (size_t)w) % S_RING_SIZE;
            s_len -= (size_t)w;
        } else if (w < 0 && errno == EINTR)
            continue;
        else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        else {
            /* the reader is gone (EPIPE), the disk is full, ...: nowhere to
             * write these; drop them rather than keep them forever */
            s_head = s_len = 0;
            return;
        }
    }
    s_head = 0;          /* empty: start over at 0, so lines rarely wrap */
}

static int s_ring_put(const char *p, size_t n)
{
    if (n > S_RING_SIZE - s_len)
        return -1;
    size_t tail = (s_head + s_len) % S_RING_SIZE;
    size_t first = S_RING_SIZE - tail < n ? S_RING_SIZE - tail : n;
    memcpy(s_ring + tail, p, first);
    memcpy(s_ring, p + first, n - first);
    s_len += n;
    return 0;
}

/* The header of a line: time, process, level. */
static size_t s_header(char *buf, int level)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, S_LINE_MAX, "%Y-%m-%d %H:%M:%S", &tm);
    int k = snprintf(buf + n, S_LINE_MAX - n, ".%03d %s %s ", (int)(tv.tv_usec / 1000),
                     s_process, s_level_name(level));
    return n + (k > 0 ? (size_t)k : 0);
}

/* Format one line into buf (S_LINE_MAX bytes): header, escaped message, '\n'. */
static size_t s_format(char *buf, int level, const char *fmt, va_list ap)
{
    size_t n = s_header(buf, level);
    if (s_context[0] && n < S_LINE_MAX - 8) {
        buf[n++] = '[';
        n += td_log_escape(buf + n, S_LINE_MAX - 4 - n, s_context, strlen(s_context));
        buf[n++] = ']';
        buf[n++] = ' ';
    }
    char msg[S_LINE_MAX];
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t mlen = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
    if (n < S_LINE_MAX - 1)
        n += td_log_escape(buf + n, S_LINE_MAX - 1 - n, msg, mlen);
    buf[n++] = '\n';
    return n;
}

static void s_arm(void)
{
    if (s_len && s_out.writable && !event_pending(s_out.writable, EV_WRITE, NULL))
        event_add(s_out.writable, NULL);
}

/* Queue the "dropped" notice if lines were dropped: 0 if queued or none
 * was due, -1 if it does not fit yet. */
static int s_put_dropped(void)
{
    if (!s_dropped)
        return 0;
    char line[S_LINE_MAX];
    size_t n = s_header(line, LOG_WARNING);
    n += (size_t)snprintf(line + n, sizeof line - n, "%lu log lines dropped: the log output "
                          "was not read fast enough\n", s_dropped);
    if (s_ring_put(line, n) < 0)
        return -1;
    s_dropped = 0;
    return 0;
}

static void s_queue(const char *line, size_t n)
{
    /* While the write event waits, the reader is known to be full: queue
     * only, no write() that would fail with EAGAIN. */
    int waiting = s_out.writable && event_pending(s_out.writable, EV_WRITE, NULL);
    if (!waiting)
        s_drain();
    if (s_put_dropped() < 0 || s_ring_put(line, n) < 0)
        s_dropped++;
    if (!waiting) {
        s_drain();
        s_arm();
    }
}

void td_log_write(int level, const char *fmt, ...)
{
    if (s_out.busy) {          /* libevent logging from inside event_add */
        s_dropped++;
        return;
    }
    s_out.busy = 1;
    char line[S_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t n = s_format(line, level, fmt, ap);
    va_end(ap);
    s_queue(line, n);
    s_out.busy = 0;
}

void td_log_flush(void)
{
    if (s_out.busy)
        return;
    s_out.busy = 1;
    s_drain();
    if (s_put_dropped() == 0)
        s_drain();
    s_arm();
    s_out.busy = 0;
}

void td_log_stats(size_t *pending, unsigned long *dropped)
{
    if (pending)
        *pending = s_len;
    if (dropped)
        *dropped = s_dropped;
}

/* Write what is left, waiting at most S_EXIT_FLUSH_MS for the reader. */
static void s_flush_bounded(void)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        td_log_flush();
        if (!s_len || s_out.regular)
            return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= S_EXIT_FLUSH_MS)
            return;
        struct pollfd p = { .fd = s_out.fd, .events = POLLOUT };
        if (poll(&p, 1, (int)(S_EXIT_FLUSH_MS - spent)) <= 0 && errno != EINTR)
            return;
    }
}

static void s_at_exit(void)
{
    s_flush_bounded();
}

static void s_on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    td_log_flush();
}

/* Make the event that drains the ring for the current fd (if a loop is
 * attached and the fd can be polled). */
static void s_make_event(void)
{
    if (s_out.writable) {
        event_free(s_out.writable);
        s_out.writable = NULL;
    }
    if (s_out.base && !s_out.regular)
        s_out.writable = event_new(s_out.base, s_out.fd, EV_WRITE, s_on_writable, NULL);
}

/* Take fd (owned or not) as the output; path is the file to reopen, or "". */
static void s_use(int fd, int owned, const char *path)
{
    if (s_out.busy)
        return;
    s_out.busy = 1;
    s_drain();                 /* what the old output takes now; the rest goes to the new */
    s_out.busy = 0;
    if (s_out.owned && s_out.fd != fd)
        close(s_out.fd);
    struct stat st;
    s_out.fd = fd;
    s_out.owned = owned;
    s_out.regular = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
    s_out.socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    if (!s_out.regular && !s_out.socket) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK))
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
    snprintf(s_out.path, sizeof s_out.path, "%s", path);
    s_make_event();
    td_log_flush();
}

/* A non-blocking descriptor for stdout or stderr (std = 1 or 2) that does not
 * change the flags the shell and our siblings share: a pipe, FIFO or tty is
 * opened again through /proc, which gives it a description of its own. A
 * regular file is used as it is (it never blocks on a reader). */
static int s_open_std(int std, int *owned)
{
    struct stat st;
    *owned = 0;
    if (fstat(std, &st) != 0 || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode))
        return std;
    char path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", std);
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_APPEND);
    if (fd >= 0) {
        *owned = 1;
        return fd;
    }
    return std;    /* s_use sets O_NONBLOCK on the shared description */
}

void td_log_init(const char *process, int level)
{
    snprintf(s_process, sizeof s_process, "%s", process);
    td_log_set_level(-1, level);
    event_set_log_callback(s_on_libevent_log);
    td_log_open(NULL);
    if (!s_out.exit_hooked) {
        s_out.exit_hooked = 1;
        atexit(s_at_exit);
    }
}

int td_log_open(const char *path)
{
    int owned = 0, fd;
    if (!path || !*path || !strcmp(path, "stderr"))
        fd = s_open_std(2, &owned);
    else if (!strcmp(path, "-") || !strcmp(path, "stdout"))
        fd = s_open_std(1, &owned);
    else {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);
        if (fd < 0)
            return -1;
        owned = 1;
    }
    s_use(fd, owned, owned && path && *path && strcmp(path, "-") && strcmp(path, "stdout")
                     && strcmp(path, "stderr") ? path : "");
    return 0;
}

void td_log_set_fd(int fd)
{
    s_use(fd, 0, "");
}

int td_log_reopen(void)
{
    if (!s_out.path[0])
        return 0;
    char path[sizeof s_out.path];
    snprintf(path, sizeof path, "%s", s_out.path);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        td_log(LOG_ERR, "cannot reopen the log file %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    s_use(fd, 1, path);
    return 0;
}

int td_log_attach(struct event_base *base)
{
    s_out.base = base;
    s_make_event();
    if (!s_out.regular && !s_out.writable)
        return -1;
    s_arm();
    return 0;
}

void td_log_detach(void)
{
    if (s_out.writable) {
        event_free(s_out.writable);
        s_out.writable = NULL;
    }
    s_out.base = NULL;
    s_flush_bounded();
}
