/* sip_raw - see sip_raw.h. */
#include "sip_raw.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A header line kept from an unparsable request: where it starts, how long. */
typedef sip_raw_span_t span_t;

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

/* Past the end of the line ending at p (CRLF, CR or LF: libosip2's
 * __osip_find_next_crlf takes each as a line end). */
static const char *s_next_line(const char *p, const char *end)
{
    if (p < end && *p == '\r')
        p++;
    else if (p < end && *p == '\n')
        return p + 1;
    if (p < end && *p == '\n')
        p++;
    return p;
}

static const char *s_eol(const char *p, const char *end)
{
    while (p < end && *p != '\r' && *p != '\n')
        p++;
    return p;
}

/* An empty line at p ends a block of lines, unless the line after it
 * starts with a blank: libosip2 first joins every line end followed by a
 * blank to the line before (osip_util_replace_all_lws). */
static int s_block_ends(const char *p, const char *end)
{
    const char *next = s_next_line(p, end);
    return next >= end || (*next != ' ' && *next != '\t');
}

int sip_raw_mime_dup_type(const char *buf, size_t len)
{
    const char *end = buf + len, *line = buf;
    int multipart = 0;
    /* libosip2 skips line ends and blanks before the start line (RFC 3261
     * 7.5): an empty first line must not end the header block here */
    while (line < end && (*line == '\r' || *line == '\n' || *line == ' ' || *line == '\t'))
        line++;
    while (line < end) {                    /* the header block */
        const char *eol = s_eol(line, end);
        if (eol == line && s_block_ends(line, end))
            break;
        for (const char *p = line; !multipart && p + 9 <= eol; p++)
            multipart = strncasecmp(p, "multipart", 9) == 0;
        line = s_next_line(eol, end);
    }
    if (!multipart || line >= end)
        return 0;
    int types = 0;
    for (line = s_next_line(line, end); line < end;) {
        const char *eol = s_eol(line, end);
        if (eol == line) {
            if (s_block_ends(line, end))
                types = 0;
        } else {
            /* libosip2 takes any header name that starts so (strncasecmp of
             * 12), and a part's headers may start on the boundary's own line
             * after blanks ("--xx Content-Type: ..."): any occurrence in a
             * line counts, which may refuse a rare well-formed message whose
             * part text names the header twice, never let a leak through */
            for (const char *p = line; p + 12 <= eol; p++)
                if ((*p == 'c' || *p == 'C') && strncasecmp(p, "content-type", 12) == 0
                    && ++types > 1)
                    return 1;
        }
        line = s_next_line(eol, end);
    }
    return 0;
}

const char *sip_raw_mend(const char *buf, size_t len, char *fix)
{
    if (sip_raw_mime_dup_type(buf, len))
        return NULL;                        /* libosip2 would leak: refused (400) */
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

/* The header lines a stateless answer copies, found in one pass over the
 * lines [line, end) that follow the request line. */
typedef struct {
    span_t vias[16], callid, cseq, fromh, toh;
    size_t nvias;
    int folded;                              /* a folded line continued one of them */
} raw_lines_t;

/* 0 when Via, Call-ID, CSeq, From and To were all found, else -1. */
static int s_scan(const char *line, const char *end, raw_lines_t *l)
{
    span_t *last = NULL;
    memset(l, 0, sizeof *l);
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl)
            break;                           /* a cut-off last line is not used */
        size_t n = (size_t)(nl - line) - (nl > line && nl[-1] == '\r');
        if (n == 0)
            break;                           /* end of headers */
        if (*line == ' ' || *line == '\t') { /* folded continuation */
            if (last && last->p) {
                last->n = (size_t)(line + n - last->p);
                l->folded = 1;
            }
        } else {
            const char *colon = memchr(line, ':', n);
            size_t nn = colon ? (size_t)(colon - line) : 0;
            while (nn && (line[nn - 1] == ' ' || line[nn - 1] == '\t'))
                nn--;
            span_t s = { line, n };
            last = NULL;
            if (!colon)
                ;
            else if (s_name_is(line, nn, "via", "v") && l->nvias < 16)
                last = &l->vias[l->nvias], l->vias[l->nvias++] = s;
            else if (s_name_is(line, nn, "call-id", "i") && !l->callid.p)
                last = &l->callid, l->callid = s;
            else if (s_name_is(line, nn, "cseq", "\x01") && !l->cseq.p)
                last = &l->cseq, l->cseq = s;
            else if (s_name_is(line, nn, "from", "f") && !l->fromh.p)
                last = &l->fromh, l->fromh = s;
            else if (s_name_is(line, nn, "to", "t") && !l->toh.p)
                last = &l->toh, l->toh = s;
        }
        line = nl + 1;
    }
    return l->nvias && l->callid.p && l->cseq.p && l->fromh.p && l->toh.p ? 0 : -1;
}

/* A response from the lines l into out: the status line, the Vias, From,
 * To (with ";tag=<to_tag>" when it has none, RFC 3261 8.2.6.2), Call-ID,
 * CSeq, the extra line (without CRLF; NULL: none), Content-Length: 0. Its
 * length, or 0 when it does not fit. */
static size_t s_build(const raw_lines_t *l, int code, const char *reason, const char *extra,
                      const char *to_tag, char *out, size_t cap, int *status)
{
    static const char tail[] = "Content-Length: 0\r\n\r\n";
    span_t keep[20];
    size_t nkeep = 0, need = 64 + sizeof tail + strlen(to_tag) + 8
                             + (extra ? strlen(extra) + 2 : 0) + strlen(reason);
    for (size_t i = 0; i < l->nvias; i++)
        keep[nkeep++] = l->vias[i];
    keep[nkeep++] = l->fromh, keep[nkeep++] = l->toh, keep[nkeep++] = l->callid;
    keep[nkeep++] = l->cseq;
    for (size_t i = 0; i < nkeep; i++)
        need += keep[i].n + 2;
    if (need > cap)
        return 0;
    size_t off = (size_t)snprintf(out, 64 + strlen(reason), "SIP/2.0 %d %s\r\n", code, reason);
    for (size_t i = 0; i < nkeep; i++) {     /* the lines are disjoint parts of buf */
        memcpy(out + off, keep[i].p, keep[i].n);
        off += keep[i].n;
        if (keep[i].p == l->toh.p && !s_has_tag(l->toh.p, l->toh.n))
            off += (size_t)sprintf(out + off, ";tag=%s", to_tag);
        memcpy(out + off, "\r\n", 2);
        off += 2;
    }
    if (extra) {
        size_t n = strlen(extra);
        memcpy(out + off, extra, n);
        memcpy(out + off + n, "\r\n", 2);
        off += n + 2;
    }
    memcpy(out + off, tail, sizeof tail - 1);
    off += sizeof tail - 1;
    *status = code;
    return off;
}

/* [p, e) without blanks at either end. */
static void s_trim(const char **p, const char **e)
{
    while (*p < *e && (**p == ' ' || **p == '\t'))
        (*p)++;
    while (*e > *p && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* The value of parameter `name` (";name=value" or ";name") in [p, e), up
 * to the next ';' or ','; *found says whether it was there at all. */
static span_t s_param(const char *p, const char *e, const char *name, int *found)
{
    size_t nl = strlen(name);
    span_t v = { NULL, 0 };
    *found = 0;
    for (const char *q = p; q < e; q++) {
        if (*q == ',')
            break;
        if (*q != ';')
            continue;
        const char *k = q + 1;
        while (k < e && *k == ' ')
            k++;
        if ((size_t)(e - k) < nl || strncasecmp(k, name, nl) != 0)
            continue;
        const char *a = k + nl;
        while (a < e && *a == ' ')
            a++;
        if (a < e && *a != '=' && *a != ';' && *a != ',')
            continue;                        /* a longer name that starts alike */
        *found = 1;
        if (a < e && *a == '=') {
            a++;
            while (a < e && *a == ' ')
                a++;
            const char *z = a;
            while (z < e && *z != ';' && *z != ',' && *z != ' ' && *z != '\t')
                z++;
            v.p = a;
            v.n = (size_t)(z - a);
        }
        return v;
    }
    return v;
}

int sip_raw_head(const char *buf, size_t len, sip_raw_head_t *out)
{
    memset(out, 0, sizeof *out);
    const char *end = buf + len, *eol = memchr(buf, '\n', len);
    if (!eol)
        return -1;
    const char *sp = memchr(buf, ' ', (size_t)(eol - buf));
    if (!sp || sp == buf || (size_t)(sp - buf) >= sizeof out->method)
        return -1;
    memcpy(out->method, buf, (size_t)(sp - buf));
    out->method[sp - buf] = '\0';
    raw_lines_t l;
    if (s_scan(eol + 1, end, &l) != 0 || l.folded)
        return -1;
    /* the top Via: "SIP/2.0/UDP host[:port];params", the first of its line */
    const char *v = memchr(l.vias[0].p, ':', l.vias[0].n) + 1, *ve = l.vias[0].p + l.vias[0].n;
    s_trim(&v, &ve);
    if (ve - v < 8 || strncasecmp(v, "SIP/2.0/", 8) != 0)
        return -1;
    const char *h = v + 8;
    while (h < ve && *h != ' ' && *h != '\t')
        h++;                                 /* the transport */
    while (h < ve && (*h == ' ' || *h == '\t'))
        h++;
    const char *he = h;
    while (he < ve && (isalnum((unsigned char)*he) || *he == '.' || *he == '-' || *he == '_'))
        he++;
    if (he == h || he - h > 64)
        return -1;                           /* an IPv6 reference or odd host: not simple */
    out->host.p = h, out->host.n = (size_t)(he - h);
    const char *pe = he;
    if (pe < ve && *pe == ':') {
        const char *ps = ++pe;
        while (pe < ve && isdigit((unsigned char)*pe))
            pe++;
        if (pe == ps || pe - ps > 5)
            return -1;
        out->port.p = ps, out->port.n = (size_t)(pe - ps);
    }
    if (pe < ve && *pe != ';' && *pe != ',')
        return -1;                           /* blanks or other text before the params */
    int found;
    out->branch = s_param(pe, ve, "branch", &found);
    if (!out->branch.p || out->branch.n <= 7 || strncmp(out->branch.p, "z9hG4bK", 7) != 0)
        return -1;                           /* RFC 2543 keys: the parser's business */
    s_param(pe, ve, "rport", &out->rport);
    /* Call-ID: number@host, split at the first '@' as libosip2 does */
    const char *c = memchr(l.callid.p, ':', l.callid.n) + 1, *ce = l.callid.p + l.callid.n;
    s_trim(&c, &ce);
    if (c == ce || memchr(c, ' ', (size_t)(ce - c)) || memchr(c, '\t', (size_t)(ce - c)))
        return -1;
    const char *at = memchr(c, '@', (size_t)(ce - c));
    out->callid_number.p = c;
    out->callid_number.n = (size_t)((at ? at : ce) - c);
    if (at)
        out->callid_host.p = at + 1, out->callid_host.n = (size_t)(ce - at - 1);
    /* the To tag */
    const char *t = memchr(l.toh.p, ':', l.toh.n) + 1, *te = l.toh.p + l.toh.n;
    const char *gt = memchr(t, '>', (size_t)(te - t));   /* params after the name-addr */
    if (!gt && memchr(t, '<', (size_t)(te - t)))
        return -1;
    out->to_tag = s_param(gt ? gt + 1 : t, te, "tag", &found);
    if (found && !out->to_tag.p)
        return -1;                           /* ";tag" without a value */
    out->lines = l.vias[0].p;                /* for sip_raw_reply */
    out->buf = buf, out->len = len;
    return 0;
}

size_t sip_raw_reply(const sip_raw_head_t *head, int code, const char *reason,
                     const char *extra, const char *to_tag, char *out, size_t cap)
{
    const char *eol = memchr(head->buf, '\n', head->len);
    raw_lines_t l;
    int status;
    if (!eol || s_scan(eol + 1, head->buf + head->len, &l) != 0)
        return 0;
    return s_build(&l, code, reason, extra, to_tag, out, cap, &status);
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

    raw_lines_t l;
    if (s_scan(eol + 1, end, &l) != 0)
        return 0;
    return s_build(&l, code, code == 416 ? "Unsupported URI Scheme" : "Bad Request", NULL,
                   to_tag, out, cap, status);
}

