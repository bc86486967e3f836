/* td_strbuf - see td_strbuf.h. */
#include "td_strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void td_strbuf_printf(td_strbuf_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (self->len + (size_t)n + 1 > self->cap) {
        size_t cap = self->cap ? self->cap : 1024;
        while (self->len + (size_t)n + 1 > cap)
            cap *= 2;
        char *b = realloc(self->buf, cap);
        if (!b)
            return;
        self->buf = b;
        self->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(self->buf + self->len, self->cap - self->len, fmt, ap);
    va_end(ap);
    self->len += (size_t)n;
}
