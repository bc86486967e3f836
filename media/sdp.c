/* sdp - read and rewrite SDP bodies; see sdp.h.
 *
 * One scanner does both jobs: sdp_parse runs it without an output buffer,
 * sdp_rewrite with one, so the two can never disagree on what is valid. */
#include "sdp.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The output buffer; NULL when only parsing. Always leaves room for a NUL. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    int overflow;
} s_out_t;

typedef struct {
    const char *p;
    size_t n;
} s_tok_t;

typedef enum { S_SESSION, S_AUDIO, S_OTHER } s_section_t;

static void s_put(s_out_t *o, const char *p, size_t n)
{
    if (!o || o->overflow)
        return;
    if (n >= o->cap - o->len) {
        o->overflow = 1;
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void s_puts(s_out_t *o, const char *s)
{
    s_put(o, s, strlen(s));
}

static void s_putu(s_out_t *o, unsigned v)
{
    char tmp[16];
    int n = snprintf(tmp, sizeof tmp, "%u", v);
    s_put(o, tmp, (size_t)n);
}

static int s_fail(char *err, size_t errlen, int lineno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(char *err, size_t errlen, int lineno, const char *fmt, ...)
{
    if (!err || !errlen)
        return -1;
    int n = 0;
    if (lineno > 0)
        n = snprintf(err, errlen, "line %d: ", lineno);
    if (n < 0 || (size_t)n >= errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The next run of non-blank bytes in [*pp, end); advances *pp past it. */
static int s_token(const char **pp, const char *end, s_tok_t *t)
{
    const char *p = *pp;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *start = p;
    while (p < end && *p != ' ' && *p != '\t')
        p++;
    *pp = p;
    t->p = start;
    t->n = (size_t)(p - start);
    return t->n > 0;
}

static int s_tok_is(const s_tok_t *t, const char *s)
{
    return t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

/* A decimal port 0..65535 (digits only, up to a '/' if slash_ok). */
static int s_port(const s_tok_t *t, int slash_ok, uint16_t *out)
{
    unsigned v = 0;
    size_t i = 0;
    for (; i < t->n && t->p[i] != '/'; i++) {
        if (t->p[i] < '0' || t->p[i] > '9' || i >= 5)
            return -1;
        v = v * 10 + (unsigned)(t->p[i] - '0');
    }
    if (i == 0 || v > 65535 || (i < t->n && !slash_ok))
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* An IPv4 address token, "/ttl" suffix ignored. */
static int s_ipv4(const s_tok_t *t, struct in_addr *out)
{
    char tmp[INET_ADDRSTRLEN];
    size_t n = 0;
    while (n < t->n && t->p[n] != '/')
        n++;
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, t->p, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET, tmp, out) == 1 ? 0 : -1;
}

/* Is this a=<name> line one of the ICE attributes? */
static int s_is_ice(const char *name, size_t n)
{
    static const char *const ice[] = {
        "candidate", "remote-candidates", "end-of-candidates",
    };
    if (n > 4 && memcmp(name, "ice-", 4) == 0)
        return 1;
    for (size_t i = 0; i < sizeof ice / sizeof ice[0]; i++)
        if (n == strlen(ice[i]) && memcmp(name, ice[i], n) == 0)
            return 1;
    return 0;
}

/* What a scan changes: addresses and ports (addr not NULL), the audio
 * formats (keep not NULL). Neither: a parse. */
typedef struct {
    const char *addr;
    uint16_t port;
    const uint8_t *keep;
    size_t nkeep;
} s_edit_t;

static int s_kept(const s_edit_t *e, unsigned pt)
{
    for (size_t i = 0; i < e->nkeep; i++)
        if (e->keep[i] == pt)
            return 1;
    return 0;
}

/* A decimal of at most 19 digits. */
static int s_ull(const s_tok_t *t, unsigned long long *out)
{
    unsigned long long v = 0;
    if (t->n == 0 || t->n > 19)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->p[i] < '0' || t->p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(t->p[i] - '0');
    }
    *out = v;
    return 0;
}

/* A payload type: a decimal below 128. */
static int s_pt(const s_tok_t *t, unsigned *out)
{
    unsigned long long v;
    if (t->n > 3 || s_ull(t, &v) < 0 || v > 127)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* The payload type an a=rtpmap/fmtp/rtcp-fb value starts with; -1 if it
 * starts with something else ("*" in rtcp-fb). */
static int s_attr_pt(const char *v, const char *end)
{
    s_tok_t t;
    unsigned pt;
    if (!s_token(&v, end, &t) || s_pt(&t, &pt) < 0)
        return -1;
    return (int)pt;
}

/* Is this an a=rtpmap value "<pt> telephone-event/8000[/1]"? */
static int s_rtpmap_dtmf(const char *v, const char *end)
{
    s_tok_t t;
    if (!s_token(&v, end, &t) || !s_token(&v, end, &t))
        return 0;
    if (t.n < 20 || strncasecmp(t.p, "telephone-event/8000", 20) != 0)
        return 0;
    return t.n == 20 || t.p[20] == '/';
}

static const char *const s_dir_names[4] = { "inactive", "sendonly", "recvonly", "sendrecv" };

/* SDP_DIR_* for a direction attribute's name, else -1. */
static int s_dir_attr(const char *name, size_t n)
{
    for (int d = 0; d < 4; d++)
        if (n == 8 && memcmp(name, s_dir_names[d], 8) == 0)
            return d;
    return -1;
}

const char *sdp_dir_name(int dir)
{
    return s_dir_names[dir & SDP_DIR_SENDRECV];
}

int sdp_dir_answer(int offer)
{
    return ((offer & SDP_DIR_SEND) ? SDP_DIR_RECV : 0) | ((offer & SDP_DIR_RECV) ? SDP_DIR_SEND : 0);
}

/* The line at *pp (below end): its text in [*line, *lend) without the CR LF
 * or LF, which stays in [*lend, the new *pp). 0 when there is none left. */
static int s_line(const char **pp, const char *end, const char **line, const char **lend)
{
    const char *p = *pp;
    if (p >= end)
        return 0;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    if (e > p && e[-1] == '\r')
        e--;
    *line = p;
    *lend = e;
    *pp = nl ? nl + 1 : end;
    return 1;
}

static int s_scan(const char *sdp, size_t len, s_out_t *o, const s_edit_t *e,
                  sdp_media_t *m, char *err, size_t errlen)
{
    s_section_t section = S_SESSION;
    int lineno = 0, seen_v = 0, seen_audio = 0;
    int have_sess_c = 0, have_audio_c = 0, have_rtcp = 0, have_rtcp_addr = 0;
    struct in_addr sess_c = { 0 }, audio_c = { 0 }, rtcp_addr = { 0 };
    uint16_t audio_port = 0, rtcp_port = 0;
    int g711_pt = -1;
    uint8_t nfmt = 0, fmt[SDP_MAX_FORMATS];
    uint8_t dtmf_map[128 / 8] = { 0 };   /* pt -> rtpmap says telephone-event/8000 */
    const char *addr = e->addr;
    const char *p = sdp, *end = sdp + len;
    int sess_dir = -1, audio_dir = -1;
    int secure = 0, crypto_ok = 0;
    unsigned ncrypto = 0;
    sdp_crypto_t crypto;
    memset(&crypto, 0, sizeof crypto);

    const char *line, *lend;
    while (s_line(&p, end, &line, &lend)) {
        size_t n = (size_t)(lend - line);
        const char *eol = lend;
        size_t eoln = (size_t)(p - lend);
        lineno++;

        if (n == 0) {                    /* blank line: tolerated, kept */
            s_put(o, eol, eoln);
            continue;
        }
        if (n < 2 || line[0] < 'a' || line[0] > 'z' || line[1] != '=')
            return s_fail(err, errlen, lineno, "not an SDP line (<letter>=<value>)");
        for (size_t i = 2; i < n; i++) {
            unsigned char c = (unsigned char)line[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return s_fail(err, errlen, lineno, "control character 0x%02x", c);
        }
        if (!seen_v) {
            if (line[0] != 'v')
                return s_fail(err, errlen, lineno, "SDP must start with v=");
            seen_v = 1;
        }
        const char *q = line + 2;
        s_tok_t t[4];

        switch (line[0]) {
        case 'o': {
            /* o=<user> <sess-id> <sess-version> <nettype> <addrtype> <address> */
            s_tok_t ot[6];
            const char *after_version = NULL;
            for (int i = 0; i < 6; i++) {
                if (!s_token(&q, lend, &ot[i]))
                    return s_fail(err, errlen, lineno, "o= line needs 6 fields");
                if (i == 2)
                    after_version = q;
            }
            if (addr) {
                s_put(o, line, (size_t)(after_version - line));
                s_puts(o, " IN IP4 ");
                s_puts(o, addr);
            } else {
                s_put(o, line, n);
            }
            s_put(o, eol, eoln);
            break;
        }
        case 'c': {
            /* c=<nettype> <addrtype> <address>[/ttl] */
            if (!s_token(&q, lend, &t[0]) || !s_token(&q, lend, &t[1]) ||
                !s_token(&q, lend, &t[2]) || !s_tok_is(&t[0], "IN"))
                return s_fail(err, errlen, lineno, "c= line must read c=IN IP4 <address>");
            struct in_addr a = { 0 };
            int ip4 = s_tok_is(&t[1], "IP4") && s_ipv4(&t[2], &a) == 0;
            if (section != S_OTHER && !ip4) {
                if (!s_tok_is(&t[1], "IP4"))
                    return s_fail(err, errlen, lineno, "only IPv4 is supported (c=IN %.*s)",
                                  (int)t[1].n, t[1].p);
                return s_fail(err, errlen, lineno, "bad IPv4 address in c= line");
            }
            if (section == S_SESSION) {
                sess_c = a;
                have_sess_c = 1;
            } else if (section == S_AUDIO) {
                audio_c = a;
                have_audio_c = 1;
            }
            if (!addr || (ip4 && a.s_addr == INADDR_ANY)) {
                s_put(o, line, n);       /* c=IN IP4 0.0.0.0: on hold, keep */
            } else {
                s_puts(o, "c=IN IP4 ");
                s_puts(o, addr);
            }
            s_put(o, eol, eoln);
            break;
        }
        case 'm': {
            /* m=<media> <port>[/<count>] <proto> <fmt> ... */
            if (!s_token(&q, lend, &t[0]) || !s_token(&q, lend, &t[1]))
                return s_fail(err, errlen, lineno, "m= line needs media, port, proto and formats");
            const char *rest = q;
            if (!s_token(&q, lend, &t[2]) || !s_token(&q, lend, &t[3]))
                return s_fail(err, errlen, lineno, "m= line needs media, port, proto and formats");
            uint16_t mport;
            if (s_port(&t[1], 1, &mport) < 0)
                return s_fail(err, errlen, lineno, "bad port in m= line");
            if (!seen_audio && s_tok_is(&t[0], "audio")) {
                section = S_AUDIO;
                seen_audio = 1;
                audio_port = mport;
                secure = t[2].n >= 4 && memmem(t[2].p, t[2].n, "SAVP", 4) != NULL;
                /* Every numeric format; the first the worker can play: PCMU (0)
                 * or PCMA (8). */
                const char *f = t[3].p;
                s_tok_t ft;
                unsigned pt;
                while (s_token(&f, lend, &ft)) {
                    if (s_pt(&ft, &pt) < 0)
                        continue;
                    if (g711_pt < 0 && (pt == 0 || pt == 8))
                        g711_pt = (int)pt;
                    if (nfmt < SDP_MAX_FORMATS)
                        fmt[nfmt++] = (uint8_t)pt;
                }
                if (addr) {
                    s_put(o, line, (size_t)(t[0].p + t[0].n - line));
                    s_puts(o, " ");
                    s_putu(o, mport ? e->port : 0);
                } else {
                    s_put(o, line, (size_t)(rest - line));
                }
                if (e->keep) {
                    s_puts(o, " ");
                    s_put(o, t[2].p, t[2].n);
                    for (size_t i = 0; i < e->nkeep; i++) {
                        s_puts(o, " ");
                        s_putu(o, e->keep[i]);
                    }
                } else {
                    s_put(o, rest, (size_t)(lend - rest));
                }
            } else {
                section = S_OTHER;
                if (addr) {
                    s_put(o, line, (size_t)(t[0].p + t[0].n - line));
                    s_puts(o, " 0");
                    s_put(o, rest, (size_t)(lend - rest));
                } else {
                    s_put(o, line, n);
                }
            }
            s_put(o, eol, eoln);
            break;
        }
        case 'a': {
            const char *colon = memchr(q, ':', (size_t)(lend - q));
            size_t name_n = (size_t)((colon ? colon : lend) - q);
            if (addr && name_n == 4 && memcmp(q, "rtcp", 4) == 0) {
                if (section != S_AUDIO)
                    break;               /* dropped: not a stream we relay */
                /* a=rtcp:<port> [<nettype> <addrtype> <address>] */
                const char *v = colon ? colon + 1 : lend;
                if (!s_token(&v, lend, &t[0]) || s_port(&t[0], 0, &rtcp_port) < 0)
                    return s_fail(err, errlen, lineno, "bad port in a=rtcp");
                have_rtcp = 1;
                int with_addr = s_token(&v, lend, &t[1]) && s_token(&v, lend, &t[2]) &&
                                s_token(&v, lend, &t[3]);
                if (with_addr && s_tok_is(&t[2], "IP4") && s_ipv4(&t[3], &rtcp_addr) == 0)
                    have_rtcp_addr = 1;
                s_puts(o, "a=rtcp:");
                s_putu(o, e->port < 65535 ? e->port + 1u : 0);
                if (with_addr) {
                    s_puts(o, " IN IP4 ");
                    s_puts(o, addr);
                }
                s_put(o, eol, eoln);
                break;
            }
            if (!addr && name_n == 4 && memcmp(q, "rtcp", 4) == 0 && section == S_AUDIO) {
                /* Parse only: a=rtcp:<port> [IN IP4 <address>] is still read. */
                const char *v = colon ? colon + 1 : lend;
                if (!s_token(&v, lend, &t[0]) || s_port(&t[0], 0, &rtcp_port) < 0)
                    return s_fail(err, errlen, lineno, "bad port in a=rtcp");
                have_rtcp = 1;
                if (s_token(&v, lend, &t[1]) && s_token(&v, lend, &t[2]) &&
                    s_token(&v, lend, &t[3]) && s_tok_is(&t[2], "IP4") &&
                    s_ipv4(&t[3], &rtcp_addr) == 0)
                    have_rtcp_addr = 1;
            }
            if (addr && s_is_ice(q, name_n))
                break;                   /* dropped */
            if (name_n == 6 && memcmp(q, "crypto", 6) == 0 && colon) {
                if (section == S_AUDIO) {
                    ncrypto += ncrypto < 255;
                    if (!crypto_ok &&
                        sdp_crypto_parse(colon + 1, (size_t)(lend - colon - 1), &crypto, NULL) == 0)
                        crypto_ok = 1;
                }
                if (addr)
                    break;               /* dropped: the other side's key */
            }
            if (!colon && section != S_OTHER) {
                int d = s_dir_attr(q, name_n);
                if (d >= 0 && section == S_SESSION)
                    sess_dir = d;
                else if (d >= 0)
                    audio_dir = d;
            }
            if (section == S_AUDIO && colon) {
                int is_rtpmap = name_n == 6 && memcmp(q, "rtpmap", 6) == 0;
                int is_fmtp = name_n == 4 && memcmp(q, "fmtp", 4) == 0;
                int is_fb = name_n == 7 && memcmp(q, "rtcp-fb", 7) == 0;
                int pt = is_rtpmap || is_fmtp || is_fb ? s_attr_pt(colon + 1, lend) : -1;
                if (is_rtpmap && pt >= 0 && s_rtpmap_dtmf(colon + 1, lend))
                    dtmf_map[pt / 8] |= (uint8_t)(1u << (pt % 8));
                if (e->keep && pt >= 0 && !s_kept(e, (unsigned)pt))
                    break;               /* a format the answer leaves out */
            }
            s_put(o, line, n);
            s_put(o, eol, eoln);
            break;
        }
        default:
            s_put(o, line, n);
            s_put(o, eol, eoln);
            break;
        }
    }

    if (!seen_v)
        return s_fail(err, errlen, 0, "empty SDP");
    if (!seen_audio)
        return s_fail(err, errlen, 0, "no m=audio line");
    if (!have_audio_c && !have_sess_c)
        return s_fail(err, errlen, 0, "no c= line for the audio stream");
    if (o && o->overflow)
        return s_fail(err, errlen, 0, "rewritten SDP does not fit in %zu bytes", o->cap);
    if (m) {
        m->addr = have_audio_c ? audio_c : sess_c;
        m->port = audio_port;
        m->rtcp_port = have_rtcp ? rtcp_port
                     : (audio_port && audio_port < 65535) ? (uint16_t)(audio_port + 1) : 0;
        m->rtcp_addr = have_rtcp_addr ? rtcp_addr : m->addr;
        m->g711_pt = g711_pt;
        m->dtmf_pt = -1;
        m->nfmt = nfmt;
        for (uint8_t i = 0; i < nfmt; i++) {
            unsigned pt = fmt[i];
            m->fmt[i] = (uint8_t)pt;
            m->kind[i] = pt == 0 ? SDP_KIND_PCMU
                       : pt == 8 ? SDP_KIND_PCMA
                       : (dtmf_map[pt / 8] & (1u << (pt % 8))) ? SDP_KIND_DTMF
                                                             : SDP_KIND_OTHER;
            if (m->kind[i] == SDP_KIND_DTMF && m->dtmf_pt < 0)
                m->dtmf_pt = (int)pt;
        }
        m->dtmf_offered = m->dtmf_pt >= 0;
        m->dir = audio_dir >= 0 ? audio_dir : sess_dir >= 0 ? sess_dir : SDP_DIR_SENDRECV;
        if (m->addr.s_addr == INADDR_ANY)
            m->dir &= ~SDP_DIR_RECV;
        if (m->dtmf_pt < 0)
            m->dtmf_pt = SDP_DTMF_PT_DEFAULT;
        m->secure = secure;
        m->ncrypto = (uint8_t)ncrypto;
        m->crypto_ok = crypto_ok;
        m->crypto = crypto;
    }
    return 0;
}

int sdp_parse(const char *sdp, size_t len, sdp_media_t *out, char *err, size_t errlen)
{
    s_edit_t e = { 0 };
    return s_scan(sdp, len, NULL, &e, out, err, errlen);
}

static int s_edit(const char *sdp, size_t len, const s_edit_t *e, char *out, size_t outlen,
                  char *err, size_t errlen)
{
    if (!out || outlen == 0)
        return s_fail(err, errlen, 0, "no output buffer");
    s_out_t o = { .buf = out, .cap = outlen, .len = 0, .overflow = 0 };
    if (s_scan(sdp, len, &o, e, NULL, err, errlen) < 0) {
        out[0] = '\0';
        return -1;
    }
    out[o.len] = '\0';
    return (int)o.len;
}

int sdp_rewrite(const char *sdp, size_t len, const char *addr, uint16_t port,
                char *out, size_t outlen, char *err, size_t errlen)
{
    s_edit_t e = { .addr = addr, .port = port };
    return s_edit(sdp, len, &e, out, outlen, err, errlen);
}

int sdp_answer(const char *sdp, size_t len, const char *addr, uint16_t port,
               const uint8_t *keep, size_t nkeep, char *out, size_t outlen,
               char *err, size_t errlen)
{
    s_edit_t e = { .addr = addr, .port = port, .keep = keep, .nkeep = nkeep };
    return s_edit(sdp, len, &e, out, outlen, err, errlen);
}

int sdp_filter(const char *sdp, size_t len, const uint8_t *keep, size_t nkeep,
               char *out, size_t outlen, char *err, size_t errlen)
{
    s_edit_t e = { .keep = keep, .nkeep = nkeep };
    return s_edit(sdp, len, &e, out, outlen, err, errlen);
}

size_t sdp_keep(const sdp_media_t *offer, const uint8_t *codecs, size_t ncodecs,
                size_t max_audio, uint8_t *keep)
{
    size_t n = 0;
    for (size_t c = 0; c < ncodecs && n < max_audio; c++) {
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            dup |= keep[k] == codecs[c];
        if (dup || (codecs[c] != 0 && codecs[c] != 8))
            continue;
        for (uint8_t i = 0; i < offer->nfmt; i++)
            if (offer->fmt[i] == codecs[c]) {
                keep[n++] = codecs[c];
                break;
            }
    }
    if (n && offer->dtmf_offered)
        keep[n++] = (uint8_t)offer->dtmf_pt;
    return n;
}

int sdp_offer(const char *addr, uint16_t port, unsigned long sess_id, int first_pt,
              char *out, size_t outlen)
{
    int first = first_pt == 8 ? 8 : 0;
    int second = first == 8 ? 0 : 8;
    int n = snprintf(out, outlen,
                     "v=0\r\n"
                     "o=tandem %lu %lu IN IP4 %s\r\n"
                     "s=Tandem\r\n"
                     "c=IN IP4 %s\r\n"
                     "t=0 0\r\n"
                     "m=audio %u RTP/AVP %d %d %d\r\n"
                     "a=rtpmap:%d %s/8000\r\n"
                     "a=rtpmap:%d %s/8000\r\n"
                     "a=rtpmap:%d telephone-event/8000\r\n"
                     "a=fmtp:%d 0-16\r\n"
                     "a=ptime:20\r\n"
                     "a=sendrecv\r\n",
                     sess_id, sess_id, addr, addr, port, first, second, SDP_DTMF_PT_DEFAULT,
                     first, first == 8 ? "PCMA" : "PCMU", second, second == 8 ? "PCMA" : "PCMU",
                     SDP_DTMF_PT_DEFAULT, SDP_DTMF_PT_DEFAULT);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return -1;
    }
    return n;
}

/* ---- origin and direction (RFC 3264 section 8) ---------------------------- */

/* The o= line of sdp[0..len): its value in [*v, *vend). */
static int s_find_o(const char *sdp, size_t len, const char **v, const char **vend)
{
    const char *p = sdp, *end = sdp + len, *line, *lend;
    while (s_line(&p, end, &line, &lend))
        if (lend - line >= 2 && line[0] == 'o' && line[1] == '=') {
            *v = line + 2;
            *vend = lend;
            return 0;
        }
    return -1;
}

int sdp_origin(const char *sdp, size_t len, sdp_origin_t *out)
{
    const char *v, *vend;
    s_tok_t user, id, ver;
    if (s_find_o(sdp, len, &v, &vend) < 0 || !s_token(&v, vend, &user) ||
        !s_token(&v, vend, &id) || !s_token(&v, vend, &ver) || user.n >= sizeof out->user ||
        s_ull(&id, &out->id) < 0 || s_ull(&ver, &out->version) < 0)
        return -1;
    memcpy(out->user, user.p, user.n);
    out->user[user.n] = '\0';
    return 0;
}

int sdp_restamp(const char *sdp, size_t len, const sdp_origin_t *origin, int dir,
                char *out, size_t outlen)
{
    if (!outlen)
        return -1;
    s_out_t o = { out, outlen, 0, 0 };
    const char *next = sdp, *end = sdp + len, *p, *lend;
    int in_audio = 0, seen_audio = 0, seen_o = 0;
    char tmp[80];
    while (s_line(&next, end, &p, &lend)) {
        size_t n = (size_t)(lend - p);
        if (n >= 2 && p[0] == 'm' && p[1] == '=') {
            if (in_audio) {
                s_puts(&o, "a=");
                s_puts(&o, sdp_dir_name(dir));
                s_puts(&o, "\r\n");
            }
            in_audio = !seen_audio && n >= 8 && memcmp(p, "m=audio ", 8) == 0;
            seen_audio |= in_audio;
        }
        if (n >= 2 && p[0] == 'o' && p[1] == '=' && !seen_o) {
            const char *q = p + 2;
            s_tok_t t;
            for (int i = 0; i < 3; i++)
                if (!s_token(&q, lend, &t))
                    return -1;
            snprintf(tmp, sizeof tmp, "o=%s %llu %llu", origin->user, origin->id,
                     origin->version);
            s_puts(&o, tmp);
            s_put(&o, q, (size_t)(lend - q));
            s_put(&o, lend, (size_t)(next - lend));
            seen_o = 1;
        } else if (!(n >= 2 && p[0] == 'a' && p[1] == '=' && s_dir_attr(p + 2, n - 2) >= 0)) {
            s_put(&o, p, (size_t)(next - p));
        }
    }
    if (in_audio) {
        if (o.len && out[o.len - 1] != '\n')
            s_puts(&o, "\r\n");
        s_puts(&o, "a=");
        s_puts(&o, sdp_dir_name(dir));
        s_puts(&o, "\r\n");
    }
    if (!seen_o || o.overflow)
        return -1;
    out[o.len] = '\0';
    return (int)o.len;
}

/* ---- SRTP (SDES) ------------------------------------------------------------- */

int sdp_set_crypto(const char *sdp, size_t len, int secure, const char *crypto,
                   char *out, size_t outlen)
{
    if (!outlen)
        return -1;
    s_out_t o = { out, outlen, 0, 0 };
    const char *next = sdp, *end = sdp + len, *p, *lend;
    int in_audio = 0, seen_audio = 0;
    while (s_line(&next, end, &p, &lend)) {
        size_t n = (size_t)(lend - p);
        if (n >= 2 && p[0] == 'm' && p[1] == '=') {
            if (in_audio && crypto) {
                s_puts(&o, "a=crypto:");
                s_puts(&o, crypto);
                s_puts(&o, "\r\n");
            }
            in_audio = !seen_audio && n >= 8 && memcmp(p, "m=audio ", 8) == 0;
            seen_audio |= in_audio;
            if (in_audio) {
                /* m=audio <port> <proto> <fmt>...: swap the profile */
                const char *q = p + 2;
                s_tok_t media, port, proto;
                if (!s_token(&q, lend, &media) || !s_token(&q, lend, &port) ||
                    !s_token(&q, lend, &proto))
                    return -1;
                const char *now = NULL;
                if (secure && s_tok_is(&proto, "RTP/AVP"))
                    now = "RTP/SAVP";
                else if (secure && s_tok_is(&proto, "RTP/AVPF"))
                    now = "RTP/SAVPF";
                else if (!secure && s_tok_is(&proto, "RTP/SAVP"))
                    now = "RTP/AVP";
                else if (!secure && s_tok_is(&proto, "RTP/SAVPF"))
                    now = "RTP/AVPF";
                if (now) {
                    s_put(&o, p, (size_t)(proto.p - p));
                    s_puts(&o, now);
                    s_put(&o, q, (size_t)(next - q));
                    continue;
                }
            }
        }
        if (in_audio && n > 9 && memcmp(p, "a=crypto:", 9) == 0)
            continue;
        s_put(&o, p, (size_t)(next - p));
    }
    if (in_audio && crypto) {
        if (o.len && out[o.len - 1] != '\n')
            s_puts(&o, "\r\n");
        s_puts(&o, "a=crypto:");
        s_puts(&o, crypto);
        s_puts(&o, "\r\n");
    }
    if (!seen_audio || o.overflow)
        return -1;
    out[o.len] = '\0';
    return (int)o.len;
}

int sdp_crypto_offer_status(const sdp_media_t *offer, int encryption)
{
    if (offer->crypto_ok)
        return 0;
    if (offer->secure || offer->ncrypto || encryption)
        return 488;
    return 0;
}

int sdp_crypto_answer_status(const sdp_media_t *answer, int offered)
{
    if (!offered)
        return answer->secure ? -1 : 0;
    return answer->crypto_ok ? 0 : -1;
}
