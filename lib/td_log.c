/* td_log - see td_log.h. */
#include "td_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/time.h>
#include <event2/event.h>

int td_log_level = LOG_INFO;
static char s_process[32] = "tandem";
static char s_context[128];

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

void td_log_init(const char *process, int level)
{
    snprintf(s_process, sizeof s_process, "%s", process);
    td_log_level = level;
    event_set_log_callback(s_on_libevent_log);
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

void td_log_write(int level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - n, ".%03d %s %s ", (int)(tv.tv_usec / 1000),
                  s_process, s_level_name(level));
    if (s_context[0] && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - n, "[%s] ", s_context);
    if (n < (int)sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
    }
    if (n >= (int)sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
}
