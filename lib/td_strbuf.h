/* td_strbuf - a string that grows as it is printed into: the text of a CLI
 * reply (tandemctl's commands in the router and in signaling). Not for hot
 * paths: it reallocates as it grows. */
#ifndef TD_STRBUF_H
#define TD_STRBUF_H

#include <stddef.h>

typedef struct {
    char *buf;              /* NUL-terminated once anything is printed; NULL before */
    size_t len, cap;
} td_strbuf_t;

/* Append, printf-style. Out of memory: the text is left as it was. */
void td_strbuf_printf(td_strbuf_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
