/* sip_raw - see sip_raw.h. */
#include "sip_raw.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A header line kept from an unparsable request: where it starts, how long. */
typedef struct { const char *p; size_t n; } span_t;

static int s_name_is(const char *p, size_t n, const char *full, const char *compact)
{
    return (n == strlen(full) && strncasecmp(p, full, n) == 0)
        || (n == 1 && tolower((unsigned char)*p) == *compact);
}

/* RFC 3261 25.1 token characters (a method). */
static int s_is_token_char(unsigned char c)
{
    return isalnum(c) || (c && strchr("-.!%*_+`'~", c));
}

/* The status for a request line the parser refused: 416 when the
 * Request-URI [uri, uri + n) has a scheme that is well formed but not sip or
 * sips (libosip2 cannot parse some, e.g. "soap.beep://...", RFC 4475 3.3.3),
 * else 400. */
static int s_unparsable_status(const char *uri, size_t n)
{
    size_t i = 0;
    while (i < n && (isalnum((unsigned char)uri[i]) || uri[i] == '+' || uri[i] == '-'
                     || uri[i] == '.'))
        i++;
    if (i == 0 || i >= n || uri[i] != ':' || !isalpha((unsigned char)uri[0])
        || memchr(uri, ' ', n) || memchr(uri, '\t', n))
        return 400;
    if ((i == 3 && strncasecmp(uri, "sip", 3) == 0) || (i == 4 && strncasecmp(uri, "sips", 4) == 0))
        return 400;
    return 416;
}

/* Whether the header line [p, p + n) (a To) has a tag parameter. */
static int s_has_tag(const char *p, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++) {
        if (p[i] != ';')
            continue;
        size_t j = i + 1;
        while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r' || p[j] == '\n'))
            j++;
        if (j + 3 <= n && strncasecmp(p + j, "tag", 3) == 0) {
            j += 3;
            while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r' || p[j] == '\n'))
                j++;
            if (j < n && p[j] == '=')
                return 1;
        }
    }
    return 0;
}

const char *sip_raw_mend(const char *buf, size_t len, char *fix)
{
    if (!memchr(buf, '\0', len))
        return buf;                         /* nearly every datagram: one fast scan */
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    size_t hlen = end ? (size_t)(end - buf) : len;
    if (!memchr(buf, '\0', hlen))
        return buf;
    memcpy(fix, buf, len);
    fix[len] = '\0';
    int quoted = 0;
    for (size_t i = 0; i < hlen; i++) {
        char c = fix[i];
        if (quoted && c == '\\' && i + 1 < hlen) {
            if (fix[++i] == '\0')
                fix[i] = ' ';
        } else if (c == '"')
            quoted = !quoted;
        else if (c == '\0')
            return NULL;
        else if (c == '\n' && i + 1 < hlen && fix[i + 1] != ' ' && fix[i + 1] != '\t')
            quoted = 0;                     /* a new header line (not a folded one) */
    }
    return fix;
}

int sip_raw_bare_uri_headers(const char *buf, size_t len)
{
    const char *end = buf + len, *line = memchr(buf, '\n', len);
    while (line && ++line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)((nl ? nl : end) - line);
        if (n == 0 || (n == 1 && *line == '\r'))
            break;                                  /* end of headers */
        const char *colon = memchr(line, ':', n);
        size_t nn = colon ? (size_t)(colon - line) : 0;
        while (nn && (line[nn - 1] == ' ' || line[nn - 1] == '\t'))
            nn--;
        if (colon && (s_name_is(line, nn, "contact", "m") || s_name_is(line, nn, "from", "f")
                      || s_name_is(line, nn, "to", "t"))) {
            const char *v = colon + 1, *ve = line + n;
            if (!memchr(v, '<', (size_t)(ve - v)) && !memchr(v, '"', (size_t)(ve - v))) {
                for (; v < ve && *v != ';' && *v != ','; v++)
                    if (*v == '?')
                        return 1;
            }
        }
        line = nl;
    }
    return 0;
}

size_t sip_raw_answer(const char *buf, size_t len, const char *to_tag, char *out, size_t cap,
                      int *status)
{
    const char *end = buf + len, *eol = memchr(buf, '\n', len);
    const char *hend = memmem(buf, len, "\r\n\r\n", 4);
    if (!eol || memchr(buf, '\0', hend ? (size_t)(hend - buf) : len))
        return 0;                           /* a NUL in the headers: too broken */
    size_t first = (size_t)(eol - buf) - (eol > buf && eol[-1] == '\r');
    while (first && (buf[first - 1] == ' ' || buf[first - 1] == '\t'))
        first--;
    const char *sp = memchr(buf, ' ', first);
    if (!sp || sp == buf || first < 8 || strncasecmp(buf + first - 8, " SIP/2.0", 8) != 0
        || strncasecmp(buf, "SIP/", 4) == 0 || (sp - buf == 3 && strncmp(buf, "ACK", 3) == 0))
        return 0;
    for (const char *c = buf; c < sp; c++)
        if (!s_is_token_char((unsigned char)*c))
            return 0;
    const char *uri = sp + 1, *uri_end = buf + first - 8;
    while (uri < uri_end && *uri == ' ')
        uri++;
    int code = uri < uri_end ? s_unparsable_status(uri, (size_t)(uri_end - uri)) : 400;

    span_t vias[16], callid = { 0 }, cseq = { 0 }, fromh = { 0 }, toh = { 0 }, *last = NULL;
    size_t nvias = 0;
    for (const char *line = eol + 1; line < end; ) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl)
            break;                           /* a cut-off last line is not used */
        size_t n = (size_t)(nl - line) - (nl > line && nl[-1] == '\r');
        if (n == 0)
            break;                           /* end of headers */
        if (*line == ' ' || *line == '\t') { /* folded continuation */
            if (last && last->p)
                last->n = (size_t)(line + n - last->p);
        } else {
            const char *colon = memchr(line, ':', n);
            size_t nn = colon ? (size_t)(colon - line) : 0;
            while (nn && (line[nn - 1] == ' ' || line[nn - 1] == '\t'))
                nn--;
            span_t s = { line, n };
            last = NULL;
            if (!colon)
                ;
            else if (s_name_is(line, nn, "via", "v") && nvias < 16)
                last = &vias[nvias], vias[nvias++] = s;
            else if (s_name_is(line, nn, "call-id", "i") && !callid.p)
                last = &callid, callid = s;
            else if (s_name_is(line, nn, "cseq", "\x01") && !cseq.p)
                last = &cseq, cseq = s;
            else if (s_name_is(line, nn, "from", "f") && !fromh.p)
                last = &fromh, fromh = s;
            else if (s_name_is(line, nn, "to", "t") && !toh.p)
                last = &toh, toh = s;
        }
        line = nl + 1;
    }
    if (!nvias || !callid.p || !cseq.p || !fromh.p || !toh.p)
        return 0;

    static const char tail[] = "Content-Length: 0\r\n\r\n";
    span_t keep[20];
    size_t nkeep = 0, need = 64 + sizeof tail + strlen(to_tag) + 8;
    for (size_t i = 0; i < nvias; i++)
        keep[nkeep++] = vias[i];
    keep[nkeep++] = fromh, keep[nkeep++] = toh, keep[nkeep++] = callid, keep[nkeep++] = cseq;
    for (size_t i = 0; i < nkeep; i++)
        need += keep[i].n + 2;
    if (need > cap)
        return 0;
    size_t off = (size_t)snprintf(out, 64, "SIP/2.0 %d %s\r\n", code,
                                  code == 416 ? "Unsupported URI Scheme" : "Bad Request");
    for (size_t i = 0; i < nkeep; i++) {     /* the lines are disjoint parts of buf */
        memcpy(out + off, keep[i].p, keep[i].n);
        off += keep[i].n;
        if (keep[i].p == toh.p && !s_has_tag(toh.p, toh.n))
            off += (size_t)sprintf(out + off, ";tag=%s", to_tag);   /* RFC 3261 8.2.6.2 */
        memcpy(out + off, "\r\n", 2);
        off += 2;
    }
    memcpy(out + off, tail, sizeof tail - 1);
    off += sizeof tail - 1;
    *status = code;
    return off;
}
