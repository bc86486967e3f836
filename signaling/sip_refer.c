/* sip_refer - see sip_refer.h. */
#include "sip_refer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip_msg.h"

/* Copy s[0..n) into buf, %XX-decoded (RFC 3261 19.1.2). -1 when it does
 * not fit or an escape is broken. */
static int s_decode(const char *s, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1])
                || !isxdigit((unsigned char)s[i + 2]))
                return -1;
            char hex[3] = { s[i + 1], s[i + 2], 0 };
            c = (char)strtol(hex, NULL, 16);
            if (c == '\0')
                return -1;
            i += 2;
        }
        if (o + 1 >= len)
            return -1;
        buf[o++] = c;
    }
    buf[o] = '\0';
    return 0;
}

static int s_copy(const char *s, size_t n, char *buf, size_t len)
{
    if (n >= len)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

static const char *s_skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* The value of parameter name (case-insensitive) in ";a=b;c=d", up to the
 * next ';' into buf. 1 found, 0 absent, -1 too long or empty. */
static int s_param(const char *params, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = params; p && *p; ) {
        p = s_skip_ws(p);
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > nl && strncasecmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t vn = n - nl - 1;
            while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
            if (!vn || s_copy(v, vn, buf, len) < 0)
                return -1;
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static int s_flag(const char *params, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = params; p && *p; ) {
        p = s_skip_ws(p);
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == nl && strncasecmp(p, name, nl) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int sip_refer_parse_replaces(const char *value, sip_replaces_t *out)
{
    memset(out, 0, sizeof *out);
    if (!value)
        return 400;
    const char *v = s_skip_ws(value);
    const char *semi = strchr(v, ';');
    size_t n = semi ? (size_t)(semi - v) : strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    /* RFC 3891 6.1: callid *(SEMI replaces-param), to-tag and from-tag
     * both required. A call id has no blanks, commas or brackets. */
    if (!n || s_copy(v, n, out->call_id, sizeof out->call_id) < 0)
        return 400;
    for (const char *c = out->call_id; *c; c++)
        if (*c == ' ' || *c == ',' || *c == '<' || *c == '>' || *c == '"')
            return 400;
    if (!semi)
        return 400;
    if (s_param(semi + 1, "to-tag", out->to_tag, sizeof out->to_tag) != 1
        || s_param(semi + 1, "from-tag", out->from_tag, sizeof out->from_tag) != 1)
        return 400;
    out->early_only = s_flag(semi + 1, "early-only");
    return 0;
}

int sip_refer_parse_to(const char *value, sip_refer_t *out)
{
    memset(out, 0, sizeof *out);
    if (!value)
        return 400;
    const char *v = s_skip_ws(value);
    const char *lt = strchr(v, '<');
    const char *uri, *uri_end;
    if (lt) {                               /* name-addr: the URI is in brackets */
        uri = lt + 1;
        uri_end = strchr(uri, '>');
        if (!uri_end)
            return 400;
    } else {                                /* addr-spec: up to the header params */
        uri = v;
        uri_end = strchr(uri, ';');
        if (!uri_end)
            uri_end = uri + strlen(uri);
        while (uri_end > uri && (uri_end[-1] == ' ' || uri_end[-1] == '\t'))
            uri_end--;
    }
    if (uri_end == uri)
        return 400;
    const char *colon = memchr(uri, ':', (size_t)(uri_end - uri));
    if (!colon)
        return 400;
    size_t scheme = (size_t)(colon - uri);
    if (!((scheme == 3 && strncasecmp(uri, "sip", 3) == 0)
          || (scheme == 4 && strncasecmp(uri, "sips", 4) == 0)))
        return 603;                         /* chan_sip: "603 Declined (Non sip: uri)" */
    const char *p = colon + 1;
    /* URI headers (?Replaces=...) end the hostport and its params. */
    const char *q = memchr(p, '?', (size_t)(uri_end - p));
    const char *hp_end = q ? q : uri_end;
    const char *at = memchr(p, '@', (size_t)(hp_end - p));
    if (!at)
        return 400;                         /* no user: nothing to dial */
    const char *user_end = at;
    const char *usemi = memchr(p, ';', (size_t)(at - p));
    if (usemi)
        user_end = usemi;                   /* user params (;phone-context) */
    const char *upw = memchr(p, ':', (size_t)(user_end - p));
    if (upw)
        user_end = upw;                     /* user:password */
    if (user_end == p || s_decode(p, (size_t)(user_end - p), out->exten, sizeof out->exten) < 0)
        return 400;
    for (const char *c = out->exten; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == '<' || *c == '>' || *c == '"')
            return 400;
    const char *host = at + 1;
    const char *host_end = host;
    int bracket = 0;
    for (; host_end < hp_end; host_end++) {
        if (*host_end == '[')
            bracket++;
        else if (*host_end == ']')
            bracket--;
        else if (!bracket && (*host_end == ':' || *host_end == ';'))
            break;
    }
    if (host_end == host || s_copy(host, (size_t)(host_end - host), out->domain,
                                   sizeof out->domain) < 0)
        return 400;
    if (q) {
        /* headers: hname=hvalue *( "&" hname=hvalue ) */
        for (const char *h = q + 1; h < uri_end; ) {
            const char *amp = memchr(h, '&', (size_t)(uri_end - h));
            const char *h_end = amp ? amp : uri_end;
            const char *eq = memchr(h, '=', (size_t)(h_end - h));
            if (!eq)
                return 400;
            if ((size_t)(eq - h) == 8 && strncasecmp(h, "replaces", 8) == 0) {
                char dec[600];
                if (out->attended || s_decode(eq + 1, (size_t)(h_end - eq - 1), dec,
                                              sizeof dec) < 0)
                    return 400;
                if (sip_refer_parse_replaces(dec, &out->replaces) != 0)
                    return 400;
                out->attended = 1;
            }
            h = amp ? amp + 1 : uri_end;
        }
    }
    return 0;
}

/* The one header named name or its compact form (NULL: none); *count the
 * number found. */
static const char *s_header(const osip_message_t *req, const char *name, const char *compact,
                            int *count)
{
    const char *first = NULL;
    *count = 0;
    int n = osip_list_size(&req->headers);
    for (int i = 0; i < n; i++) {
        const osip_header_t *h = osip_list_get(&req->headers, i);
        if (!h || !h->hname)
            continue;
        if (strcasecmp(h->hname, name) == 0 || (compact && strcasecmp(h->hname, compact) == 0)) {
            if (!first)
                first = h->hvalue ? h->hvalue : "";
            (*count)++;
        }
    }
    return first;
}

int sip_refer_parse(const osip_message_t *req, sip_refer_t *out)
{
    int count;
    const char *to = s_header(req, "refer-to", "r", &count);
    if (count != 1) {
        memset(out, 0, sizeof *out);
        return 400;
    }
    int rc = sip_refer_parse_to(to, out);
    if (rc)
        return rc;
    const char *by = s_header(req, "referred-by", "b", &count);
    if (by && count == 1) {
        /* chan_sip keeps "<sip:user@host>" of a sip: Referred-By and
         * ignores any other. */
        const char *lt = strchr(by, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        const char *u = lt ? lt + 1 : s_skip_ws(by);
        size_t n = gt ? (size_t)(gt - u) : strcspn(u, "; \t");
        if ((strncasecmp(u, "sip:", 4) == 0 || strncasecmp(u, "sips:", 5) == 0)
            && n + 3 < sizeof out->referred_by) {
            size_t k = strcspn(u, ";>");
            if (k < n)
                n = k;
            snprintf(out->referred_by, sizeof out->referred_by, "<%.*s>", (int)n, u);
        }
    }
    return 0;
}

int sip_refer_invite_replaces(const osip_message_t *req, sip_replaces_t *out)
{
    int count;
    const char *v = s_header(req, "replaces", NULL, &count);
    if (!count)
        return 1;
    if (count > 1)
        return 400;
    return sip_refer_parse_replaces(v, out) ? 400 : 0;
}

osip_message_t *sip_refer_notify(sip_dialog_t *d, uint32_t refer_cseq, const char *status,
                                 int terminated, const char *contact_user,
                                 const struct sockaddr_in *me)
{
    osip_message_t *n = sip_dialog_request(d, "NOTIFY", ++d->local_cseq);
    if (!n)
        return NULL;
    char event[48], body[160];
    snprintf(event, sizeof event, "refer;id=%u", refer_cseq);
    snprintf(body, sizeof body, "SIP/2.0 %s\r\n", status);
    sip_msg_add_contact(n, contact_user, me);
    osip_message_set_header(n, "Event", event);
    osip_message_set_header(n, "Subscription-State",
                            terminated ? "terminated;reason=noresource" : "active;expires=60");
    osip_message_set_header(n, "Allow", SIP_MSG_ALLOW);
    if (osip_message_set_body(n, body, strlen(body)) != 0
        || osip_message_set_content_type(n, "message/sipfrag;version=2.0") != 0) {
        osip_message_free(n);
        return NULL;
    }
    return n;
}

int sip_refer_sendrecv(const char *sdp, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = sdp; *p; ) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) + 1 : strlen(p);
        const char *line = p;
        size_t ln = n;
        if (strncmp(p, "a=sendonly", 10) == 0 || strncmp(p, "a=recvonly", 10) == 0
            || strncmp(p, "a=inactive", 10) == 0) {
            const char *rest = p + 10;          /* the line end as it was: "\r\n", "\n" */
            if (o + 10 >= len)
                return -1;
            memcpy(out + o, "a=sendrecv", 10);
            o += 10;
            line = rest;
            ln = n - 10;
        }
        if (o + ln >= len)
            return -1;
        memcpy(out + o, line, ln);
        o += ln;
        p += n;
    }
    out[o] = '\0';
    return 0;
}

/* The o= line of sdp: its start and length without the line end. */
static const char *s_origin(const char *sdp, size_t *n)
{
    for (const char *p = sdp; p && *p; ) {
        if (strncmp(p, "o=", 2) == 0) {
            *n = strcspn(p, "\r\n");
            return p;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

int sip_refer_restamp(const char *prev, const char *sdp, char *out, size_t len)
{
    size_t pn = 0, sn = 0;
    const char *po = prev ? s_origin(prev, &pn) : NULL;
    const char *so = s_origin(sdp, &sn);
    if (!so)
        return -1;
    if (!po) {
        if (strlen(sdp) >= len)
            return -1;
        strcpy(out, sdp);
        return 0;
    }
    /* o=<user> <sess-id> <version> <nettype> <addrtype> <address> */
    char user[64], sess[32], addr[160];
    unsigned long long version;
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)pn, po);
    if (sscanf(line, "o=%63s %31s %llu", user, sess, &version) != 3)
        return -1;
    snprintf(line, sizeof line, "%.*s", (int)sn, so);
    char u2[64], s2[32], v2[32];
    if (sscanf(line, "o=%63s %31s %31s %159[^\r\n]", u2, s2, v2, addr) != 4)
        return -1;
    int w = snprintf(out, len, "%.*so=%s %s %llu %s%s", (int)(so - sdp), sdp, user, sess,
                     version + 1, addr, so + sn);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}
