/* Shared by the fuzz harnesses: logging goes through td_log as in the
 * processes (so its formatting and escaping of what the input put in a line
 * are exercised too), at info level, into /dev/null. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <fcntl.h>
#include <syslog.h>

#include "td_log.h"

static inline void fuzz_log_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    td_log_init("fuzz", LOG_INFO);
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0)
        td_log_set_fd(fd);
}

#endif
