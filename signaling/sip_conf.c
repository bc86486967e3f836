/* sip_conf - see sip_conf.h. */
#include "td_hash.h"
#include "td_map.h"
#include "td_str.h"
#include "sip_conf.h"
#include "sip_acl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "sip_auth.h"
#include "td_conf.h"
#include "td_log.h"

/* chan_sip keys Tandem accepts without acting on them (yet). Each is logged
 * once per load, at the first place it is used. */
static const char *const s_ignored[] = {
    "srvlookup", "useragent", "language",
    "dtmfmode", "canreinvite", "rtpkeepalive", "t1min",
    "session-timers", "session-expires", "session-minse", "session-refresher",
    "videosupport", "textsupport",
    "maxcallbitrate", "musicclass", "musiconhold", "mohinterpret", "mohsuggest",
    "callcounter", "busylevel", "progressinband", "relaxdtmf", "trustrpid",
    "sendrpid", "rpid_update", "rpid_immediate", "allowoverlap", "allowsubscribe",
    "notifyringing", "notifyhold", "notifycid", "subscribecontext",
    "pedantic", "compactheaders", "vmexten", "mailbox", "autocreatepeer",
    "rtcachefriends", "rtsavesysname", "rtupdate", "rtautoclear", "ignoreregexpire",
    "externtcpport", "externtlsport", "sipdebug", "recordhistory",
    "dumphistory", "tos_sip", "tos_audio", "tos_video", "tos_text", "cos_sip",
    "cos_audio", "cos_video", "cos_text", "jbenable", "jbforce", "jbmaxsize",
    "jbresyncthreshold", "jbimpl", "jblog", "jbtargetextra", "accountcode", "amaflags",
    "callgroup", "pickupgroup", "namedcallgroup", "namedpickupgroup", "directrtpsetup",
    "callingpres", "t38pt_udptl", "t38pt_usertpsource", "faxdetect",
    "fullcontact", "regseconds", "ipaddr", "regserver", "useclientcode",
    "rfc2833compensate", "encryption", "avpf", "force_avp", "icesupport",
    "constantssrc", "allowexternaldomains", "domain", "autodomain", "g726nonstandard",
    "keepalive", "timert1", "timerb", "maxforwards", "buggymwi", "shrinkcallerid",
    "use_q850_reason", "ignoresdpversion", "authfailureevents",
    "legacy_useroption_parsing", "send_diversion", "preferred_codec_only",
    "unsolicited_mailbox", "maxexpirey", "defaultexpirey", "mwiexpiry",
    "mwiexpirey", "minexpirey", "tcpauthlimit", "websocket_enabled",
    "storesipcm", "callerid", "fromdomain", "fromuser",
    "notifymimetype", "checkmwi", "mwi_from", "parkinglot", "hasvoicemail", "setvar",
    "cid_number", "cid_name", "description", "subscribemwi", "regcontext",
    "regexten", "contactacl", "contactdeny", "contactpermit", "directmediaacl",
    "directmediadeny", "directmediapermit", "autoframing", "rtp_engine", "dtlsenable",
    "dtlsverify", "dtlscertfile", "dtlsprivatekey", "dtlscafile", "dtlssetup",
    "sdpsession", "sdpowner", "send_pai", "snom_aoc_enabled", "disallowed_methods",
    "outofcall_message_context", "hash_user", "hash_peer", "hash_dialog",
    "callevents", "contactuser", "allow_notify",
    NULL
};

/* Asterisk codec names Tandem does not list in its allow mask. Media is
 * relayed untouched, so they still work end to end; they only warn. */
static const char *const s_other_codecs[] = {
    "gsm", "g729", "g723", "g726", "g726aal2", "g722", "ilbc", "speex", "speex16",
    "speex32", "lpc10", "adpcm", "slin", "slin8", "slin12", "slin16", "slin24", "slin32",
    "slin44", "slin48", "slin96", "slin192", "g719", "siren7", "siren14", "testlaw",
    "opus", "h261", "h263", "h263p", "h264", "h265", "vp8", "vp9", "mpeg4", "jpeg",
    "png", "t140", "t140red", "red", "silk", "silk8", "silk12", "silk16", "silk24",
    "celt", "codec2", NULL
};

#define NIGNORED (sizeof s_ignored / sizeof s_ignored[0])

typedef struct s_node {
    const sip_peer_t *peer;
    td_map_node_t link;     /* in its index's map */
} s_node_t;

/* A td_map over a pool of one node per peer (the pool is allocated once at
 * load, so building the index allocates nothing per peer). */
typedef struct {
    td_map_t map;
    s_node_t *pool;
} s_index_t;

struct sip_conf {
    sip_general_t general;
    sip_peer_t *peers;
    size_t npeers;
    s_index_t by_name;
    s_index_t by_addr;      /* static peers by host ip:port */
    s_index_t by_ip;        /* static peers with insecure=port by host ip */
    s_index_t by_stream_ip; /* static peers whose transport= has tcp or tls, by host ip */
    sip_register_t *regs;   /* register => lines */
    size_t nregs;
    char **files;           /* copies of the file names peers point at */
    size_t nfiles;
    unsigned char ignored_logged[NIGNORED];
    char *err;
    size_t errlen;
    int warnings;           /* values loaded past with a fallback */
    sip_acl_t *named;       /* acl.conf beside sip.conf (sip_acl.h) */
    sip_acl_t **acls;       /* every permit/deny/acl list peers and [general] point at */
    size_t nacls;
};



static int s_fail(sip_conf_t *self, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(sip_conf_t *self, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    td_conf_verror(self->err, self->errlen, file, line, fmt, ap);
    va_end(ap);
    return -1;
}

/* A permit=/deny=/acl= line into *slot (a new ACL on the first line). */
static int s_acl_line(sip_conf_t *self, const td_conf_var_t *v, const struct sip_acl **slot)
{
    if (!*slot) {
        sip_acl_t **more = realloc(self->acls, (self->nacls + 1) * sizeof *more);
        if (!more)
            return s_fail(self, v->file, v->line, "out of memory");
        self->acls = more;
        if (!(self->acls[self->nacls] = sip_acl_new()))
            return s_fail(self, v->file, v->line, "out of memory");
        *slot = self->acls[self->nacls++];
    }
    char why[160];
    int missing = 0;
    if (sip_acl_append((sip_acl_t *)*slot, v->name, v->value, self->named, &missing, why,
                       sizeof why) != 0)
        return s_fail(self, v->file, v->line, "%s: %s", v->name, why);
    if (missing && !v->inherited)   /* named_acl.c: "... will automatically fail if applied" */
        td_log(LOG_WARNING, "%s:%d: ACL '%s' does not exist (acl.conf): it denies every address",
               v->file, v->line, v->value);
    return 0;
}

/* A value chan_sip loads past: it warns (or says nothing) and goes on with a
 * fallback, so one typo never takes the whole switch down. Here: a warning
 * naming the file and line (once, at a template's own line), counted for
 * tandem-signaling --check; the caller's fallback applies. Returns 0. */
static int s_bad(sip_conf_t *self, const td_conf_var_t *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_bad(sip_conf_t *self, const td_conf_var_t *v, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!v->inherited) {
        self->warnings++;
        td_log(LOG_WARNING, "%s:%d: %s", v->file, v->line, msg);
    }
    return 0;
}

/* ---- small parsers -------------------------------------------------------- */

static int s_copy(sip_conf_t *self, char *dst, size_t len, const td_conf_var_t *v)
{
    if (strlen(v->value) >= len) {             /* ast_copy_string cuts it */
        snprintf(dst, len, "%s", v->value);
        return s_bad(self, v, "%s is too long (at most %zu characters): cut", v->name, len - 1);
    }
    memcpy(dst, v->value, strlen(v->value) + 1);
    return 0;
}

static int s_bool(sip_conf_t *self, const td_conf_var_t *v, int *out)
{
    int b = td_conf_bool(v->value);
    if (b < 0) {                                /* chan_sip's ast_true(): not true is false */
        *out = 0;
        return s_bad(self, v, "%s must be yes or no, not '%s': taken as no", v->name, v->value);
    }
    *out = b;
    return 0;
}

/* auth_algorithms_uas = SHA-256, MD5 (pjsip's name: chan_sip has MD5 only):
 * the algorithms a 401 offers, preferred first, into out (0-terminated). */
static int s_auth_algs(sip_conf_t *self, const td_conf_var_t *v, unsigned char out[3])
{
    char list[128];
    size_t n = 0;
    snprintf(list, sizeof list, "%s", v->value);
    char *save = NULL;
    for (char *t = strtok_r(list, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        sip_auth_alg_t a = sip_auth_alg_parse(t);
        if (!a || !*t)
            return s_fail(self, v->file, v->line, "auth_algorithms_uas: '%s' is not MD5 or "
                          "SHA-256", t);
        int dup = 0;
        for (size_t i = 0; i < n; i++)
            dup |= out[i] == a;
        if (!dup)
            out[n++] = (unsigned char)a;
    }
    if (!n)
        return s_fail(self, v->file, v->line, "auth_algorithms_uas is empty");
    out[n] = 0;
    return 0;
}

/* rtptimeout / rtpholdtimeout as chan_sip reads them: a number of seconds
 * (sscanf's %d: leading digits count), anything else or a negative one is
 * warned about and the default (dflt) kept. Never a load error. */
static void s_rtp_time(const td_conf_var_t *v, int dflt, int *out)
{
    int n;
    if (sscanf(v->value, "%30d", &n) != 1 || n < 0) {
        td_log(LOG_WARNING, "%s:%d: '%s' is not a valid RTP hold time at line %d.  Using default.",
               v->file, v->line, v->value, v->line);
        n = dflt;
    }
    *out = n;
}

static int s_int(sip_conf_t *self, const td_conf_var_t *v, long min, long max, int *out)
{
    long n;
    if (td_conf_int(v->value, min, max, &n) < 0)    /* chan_sip: a warning, the default */
        return s_bad(self, v, "%s must be a number from %ld to %ld, not '%s': default kept",
                     v->name, min, max, v->value);
    *out = (int)n;
    return 0;
}

/* An IPv4 address or a host name resolved now; 0 or -1. */
static int s_resolve(const char *host, struct in_addr *out)
{
    if (inet_pton(AF_INET, host, out) == 1)
        return 0;
    if (strspn(host, "0123456789.") == strlen(host))
        return -1;                          /* a bad dotted quad: no DNS for that */
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -1;
    *out = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

/* "addr[:port]" into sa; port stays as it is when not given. */
static int s_hostport(sip_conf_t *self, const td_conf_var_t *v, struct sockaddr_in *sa, int *has_port)
{
    char host[256];
    const char *colon = strrchr(v->value, ':');
    *has_port = 0;
    if (v->value[0] == '[' || (colon && strchr(v->value, ':') != colon))
        return s_fail(self, v->file, v->line, "%s: IPv6 is not supported yet ('%s')",
                      v->name, v->value);
    size_t hl = colon ? (size_t)(colon - v->value) : strlen(v->value);
    if (hl == 0 || hl >= sizeof host)
        return s_fail(self, v->file, v->line, "%s: bad address '%s'", v->name, v->value);
    memcpy(host, v->value, hl);
    host[hl] = '\0';
    if (colon) {
        long port;
        if (td_conf_int(colon + 1, 1, 65535, &port) < 0)
            return s_fail(self, v->file, v->line, "%s: port must be a number from 1 to 65535, not '%s'",
                          v->name, colon + 1);
        sa->sin_port = htons((uint16_t)port);
        *has_port = 1;
    }
    if (s_resolve(host, &sa->sin_addr) < 0)
        return s_fail(self, v->file, v->line, "%s: cannot resolve '%s' to an IPv4 address",
                      v->name, host);
    return 0;
}

/* As s_hostport for an address chan_sip only warns about ("Invalid address
 * for externaddr keyword"): the line is ignored (sa zeroed). */
static int s_soft_hostport(sip_conf_t *self, const td_conf_var_t *v, struct sockaddr_in *sa,
                           int *has_port)
{
    struct sockaddr_in keep = *sa;
    if (s_hostport(self, v, sa, has_port) == 0)
        return 0;
    char msg[512];                          /* s_hostport said "FILE:LINE: why" */
    const char *why = strstr(self->err, ": ");
    snprintf(msg, sizeof msg, "%s", why ? why + 2 : self->err);
    self->err[0] = '\0';
    *sa = keep;
    sa->sin_addr.s_addr = 0;
    return s_bad(self, v, "%s: ignored", msg);
}

static int s_in_list(const char *const *list, const char *name)
{
    for (size_t i = 0; list[i]; i++)
        if (strcasecmp(list[i], name) == 0)
            return (int)i;
    return -1;
}

/* Apply allow (or disallow) of one SIP_CODEC_* bit to the order. */
static void s_codec_order(sip_codec_order_t *order, unsigned bit, int allow)
{
    static const struct {
        unsigned bit;
        uint8_t pt;
    } codecs[] = { { SIP_CODEC_ULAW, 0 }, { SIP_CODEC_ALAW, 8 } };
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        if (!(bit & codecs[c].bit))
            continue;
        size_t at = 0;
        while (at < order->n && order->pt[at] != codecs[c].pt)
            at++;
        if (allow && at == order->n)
            order->pt[order->n++] = codecs[c].pt;
        else if (!allow && at < order->n) {
            memmove(order->pt + at, order->pt + at + 1, order->n - at - 1);
            order->n--;
        }
    }
}

/* allow= / disallow= with a comma list, applied to *mask and *order in order. */
static int s_codecs(sip_conf_t *self, const td_conf_var_t *v, unsigned *mask,
                    sip_codec_order_t *order, int warn)
{
    int allow = strcasecmp(v->name, "allow") == 0;
    char buf[512];
    if (strlen(v->value) >= sizeof buf)
        return s_bad(self, v, "%s list is too long: ignored", v->name);
    strcpy(buf, v->value);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && isspace((unsigned char)end[-1]))
            *--end = '\0';
        char *colon = strchr(tok, ':');      /* "ulaw:20" packetization */
        if (colon)
            *colon = '\0';
        unsigned bit;
        if (!*tok)
            continue;
        if (strcasecmp(tok, "all") == 0)
            bit = SIP_CODEC_ALL;
        else if (strcasecmp(tok, "ulaw") == 0 || strcasecmp(tok, "g711u") == 0)
            bit = SIP_CODEC_ULAW;
        else if (strcasecmp(tok, "alaw") == 0 || strcasecmp(tok, "g711a") == 0)
            bit = SIP_CODEC_ALAW;
        else if (s_in_list(s_other_codecs, tok) >= 0) {
            if (warn)
                td_log(LOG_WARNING, "%s:%d: codec '%s' is not one Tandem lists (ulaw, alaw); "
                       "ignored", v->file, v->line, tok);
            continue;
        } else {                    /* ast_format_cap_update_by_allow_disallow warns */
            if (s_bad(self, v, "unknown codec '%s': ignored", tok) < 0)
                return -1;
            continue;
        }
        *mask = allow ? (*mask | bit) : (*mask & ~bit);
        s_codec_order(order, bit, allow);
    }
    return 0;
}

/* nat = no | force_rport | comedia | auto_force_rport | auto_comedia | yes |
 * never | route, or a comma list of them (chan_sip's set_insecure_flags
 * sibling, handle_common_options "nat"): force_rport/auto_force_rport set the
 * signaling half, comedia/auto_comedia the media half, yes both, no neither. */
static int s_nat(sip_conf_t *self, const td_conf_var_t *v, sip_nat_t *out, sip_comedia_t *media)
{
    static const char *const known[] = { "no", "never", "force_rport", "comedia",
                                         "auto_force_rport", "auto_comedia", "yes", "route",
                                         NULL };
    char buf[128];
    if (strlen(v->value) >= sizeof buf)
        return s_bad(self, v, "nat value is too long: ignored");
    strcpy(buf, v->value);
    sip_nat_t nat = SIP_NAT_NO;
    sip_comedia_t comedia = SIP_COMEDIA_NO;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int i = s_in_list(known, tok);
        if (i < 0) {                        /* chan_sip skips a word it does not know */
            if (s_bad(self, v, "nat: unknown value '%s': ignored", tok) < 0)
                return -1;
            continue;
        }
        if (!strcasecmp(tok, "force_rport") || !strcasecmp(tok, "yes") || !strcasecmp(tok, "route"))
            nat = SIP_NAT_FORCE;
        else if (!strcasecmp(tok, "auto_force_rport") && nat != SIP_NAT_FORCE)
            nat = SIP_NAT_AUTO;
        if (!strcasecmp(tok, "comedia") || !strcasecmp(tok, "yes") || !strcasecmp(tok, "route"))
            comedia = SIP_COMEDIA_YES;
        else if (!strcasecmp(tok, "auto_comedia") && comedia != SIP_COMEDIA_YES)
            comedia = SIP_COMEDIA_AUTO;
    }
    *out = nat;
    *media = comedia;
    return 0;
}

/* True if the key is one chan_sip knows that Tandem does not act on. */
static int s_ignored_key(sip_conf_t *self, const td_conf_var_t *v)
{
    int i = s_in_list(s_ignored, v->name);
    if (i < 0)
        return 0;
    if (!v->inherited && !self->ignored_logged[i]) {
        self->ignored_logged[i] = 1;
        td_log(LOG_NOTICE, "%s:%d: '%s' is accepted but not acted on", v->file, v->line, v->name);
    }
    return 1;
}

static void s_unknown_key(sip_conf_t *self, const td_conf_var_t *v, const char *section)
{
    if (!v->inherited && ++self->warnings)
        td_log(LOG_WARNING, "%s:%d: unknown key '%s' in [%s], ignored",
               v->file, v->line, v->name, section);
}

/* ---- register => ----------------------------------------------------------- */

static int s_why(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int s_why(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* Copy [a, a+n) into dst[size]; -1 if it does not fit. */
static int s_part(char *dst, size_t size, const char *a, size_t n)
{
    if (n >= size)
        return -1;
    memcpy(dst, a, n);
    dst[n] = '\0';
    return 0;
}

/* chan_sip's sip_register / sip_parse_register_line_*: the ~expiry comes off
 * the end first, then the last '@' splits the credentials from where to
 * send, '/' the Contact extension off the host, ':' the port; on the left,
 * ':' separates user[@domain], secret and authuser. */
int sip_conf_parse_register(const char *value, sip_register_t *out, char *why, size_t len)
{
    char buf[512];
    memset(out, 0, sizeof *out);
    out->transport = SIP_TRANSPORT_UDP;
    while (isspace((unsigned char)*value))
        value++;
    if (s_part(buf, sizeof buf, value, strlen(value)) < 0)
        return s_why(why, len, "register line is too long");
    for (char *e = buf + strlen(buf); e > buf && isspace((unsigned char)e[-1]); )
        *--e = '\0';
    if (!*buf)
        return s_why(why, len, "register => is empty");
    char *s = buf;
    char *q = strchr(s, '?');
    if (q) {
        if (q == s || s_part(out->peer, sizeof out->peer, s, (size_t)(q - s)) < 0)
            return s_why(why, len, "bad peer name before '?'");
        s = q + 1;
    }
    char *scheme = strstr(s, "://");
    if (scheme) {
        *scheme = '\0';
        if (!strcasecmp(s, "tcp"))
            out->transport = SIP_TRANSPORT_TCP;
        else if (!strcasecmp(s, "tls"))
            out->transport = SIP_TRANSPORT_TLS;
        else if (strcasecmp(s, "udp") != 0)
            return s_why(why, len, "transport '%s' is not supported (udp, tcp or tls)", s);
        s = scheme + 3;
    }
    char *tilde = strrchr(s, '~');
    if (tilde) {
        long e;
        *tilde = '\0';
        if (td_conf_int(tilde + 1, 1, 86400 * 7, &e) < 0)
            return s_why(why, len, "expiry after '~' must be a number of seconds, not '%s'",
                         tilde + 1);
        out->expiry = (int)e;
    }
    char *at = strrchr(s, '@');
    if (!at)
        return s_why(why, len, "no '@host' in '%s'", value);
    *at = '\0';
    char *hostpart = at + 1, *slash = strchr(hostpart, '/');
    if (slash) {
        *slash = '\0';
        if (!slash[1] || s_part(out->extension, sizeof out->extension, slash + 1,
                                strlen(slash + 1)) < 0)
            return s_why(why, len, "bad extension after '/'");
    }
    char *colon = strchr(hostpart, ':');
    if (colon) {
        long port;
        *colon = '\0';
        if (td_conf_int(colon + 1, 1, 65535, &port) < 0)
            return s_why(why, len, "port must be a number from 1 to 65535, not '%s'", colon + 1);
        out->port = (int)port;
    }
    if (!*hostpart || s_part(out->host, sizeof out->host, hostpart, strlen(hostpart)) < 0)
        return s_why(why, len, "bad host in '%s'", value);
    /* user[@domain][:secret[:authuser]] */
    char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c1)
        *c1 = '\0';
    if (c2) {
        *c2 = '\0';
        if (s_part(out->authuser, sizeof out->authuser, c2 + 1, strlen(c2 + 1)) < 0)
            return s_why(why, len, "authuser is too long");
    }
    if (c1 && s_part(out->secret, sizeof out->secret, c1 + 1, strlen(c1 + 1)) < 0)
        return s_why(why, len, "secret is too long");
    char *dom = strchr(s, '@');
    if (dom) {
        *dom = '\0';
        if (!dom[1] || s_part(out->domain, sizeof out->domain, dom + 1, strlen(dom + 1)) < 0)
            return s_why(why, len, "bad domain after 'user@'");
    }
    if (!*s || s_part(out->user, sizeof out->user, s, strlen(s)) < 0)
        return s_why(why, len, "no user before '@host' in '%s'", value);
    if (strpbrk(out->user, "<>\" ;") || strpbrk(out->host, "<>\" ;@")
        || strpbrk(out->extension, "<>\" ;@:"))
        return s_why(why, len, "a character that has no place in a SIP URI in '%s'", value);
    return 0;
}

static const char *s_keep_file(sip_conf_t *self, const char *file);

/* One register => line: parsed and resolved, or a warning naming file:line
 * and the line is skipped, as chan_sip skips a register line it cannot use. */
static int s_register(sip_conf_t *self, const td_conf_var_t *v)
{
    sip_register_t r;
    char why[200];
    if (sip_conf_parse_register(v->value, &r, why, sizeof why) < 0) {
        td_log(LOG_WARNING, "%s:%d: register => %s: skipped", v->file, v->line, why);
        return 0;
    }
    memset(&r.addr, 0, sizeof r.addr);
    r.addr.sin_family = AF_INET;
    r.addr.sin_port = htons((uint16_t)(r.port ? r.port : 5060));
    if (s_resolve(r.host, &r.addr.sin_addr) < 0) {
        td_log(LOG_WARNING, "%s:%d: register => cannot resolve '%s' to an IPv4 address: skipped",
               v->file, v->line, r.host);
        return 0;
    }
    sip_register_t *regs = realloc(self->regs, (self->nregs + 1) * sizeof *regs);
    if (!regs)
        return s_fail(self, v->file, v->line, "out of memory");
    self->regs = regs;
    r.file = s_keep_file(self, v->file);
    r.line = v->line;
    regs[self->nregs++] = r;
    return 0;
}

/* qualify = yes | no | milliseconds (chan_sip: yes is [general]'s qualify=,
 * else DEFAULT_MAXMS, 2000). */
static int s_qualify(sip_conf_t *self, const td_conf_var_t *v, int yes_ms, int *out)
{
    long ms;
    if (!strcasecmp(v->value, "no"))
        *out = 0;
    else if (!strcasecmp(v->value, "yes"))
        *out = yes_ms ? yes_ms : 2000;
    else if (td_conf_int(v->value, 0, 3600000, &ms) == 0)
        *out = (int)ms;
    else {                                  /* chan_sip: a warning, maxms 0 */
        *out = 0;
        return s_bad(self, v, "qualify must be yes, no or a number of milliseconds, not '%s': "
                     "taken as no", v->value);
    }
    return 0;
}

/* ---- [general] ------------------------------------------------------------ */

/* localnet = ip/mask (dotted) or ip/prefix, or a bare ip (/32), as chan_sip's
 * ast_append_ha; repeatable. */
static int s_localnet(sip_conf_t *self, const td_conf_var_t *v)
{
    sip_general_t *g = &self->general;
    char ip[64];
    const char *slash = strchr(v->value, '/');
    size_t il = slash ? (size_t)(slash - v->value) : strlen(v->value);
    struct in_addr net, mask = { .s_addr = 0xffffffffu };
    if (il == 0 || il >= sizeof ip)
        return s_bad(self, v, "localnet: bad network '%s': ignored", v->value);
    memcpy(ip, v->value, il);
    ip[il] = '\0';
    if (inet_pton(AF_INET, ip, &net) != 1)
        return s_bad(self, v, "localnet: '%s' is not an IPv4 address: ignored", ip);
    if (slash && strchr(slash + 1, '.')) {
        if (inet_pton(AF_INET, slash + 1, &mask) != 1)
            return s_bad(self, v, "localnet: bad mask '%s': ignored", slash + 1);
        uint32_t m = ntohl(mask.s_addr);
        if (m & (~m >> 1))          /* not contiguous: ones then zeros */
            return s_bad(self, v, "localnet: mask '%s' is not contiguous: ignored", slash + 1);
    } else if (slash) {
        long bits;
        if (td_conf_int(slash + 1, 0, 32, &bits) < 0)
            return s_bad(self, v, "localnet: prefix must be 0 to 32, not '%s': ignored",
                         slash + 1);
        mask.s_addr = bits ? htonl(0xffffffffu << (32 - bits)) : 0;
    }
    if (g->nlocalnet >= SIP_LOCALNET_MAX)
        return s_bad(self, v, "localnet: more than %d lines: ignored", SIP_LOCALNET_MAX);
    g->localnet[g->nlocalnet].net.s_addr = net.s_addr & mask.s_addr;
    g->localnet[g->nlocalnet].mask = mask;
    g->nlocalnet++;
    return 0;
}

/* ---- transports ----------------------------------------------------------- */

/* transport=udp,tcp,tls as chan_sip reads it: a mask and its first value
 * (the transport requests go out on). In a peer, tcp and tls count only
 * when [general] enables them (else a warning, as chan_sip); an unknown
 * word is a notice; nothing usable leaves the defaults. */
static int s_transports(const td_conf_var_t *v, const sip_general_t *g, int peer,
                        unsigned *mask, unsigned *first)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", v->value);
    unsigned m = 0, f = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        unsigned bit = !strncasecmp(t, "udp", 3) ? SIP_TRANSPORT_UDP
                     : !strncasecmp(t, "tcp", 3) ? SIP_TRANSPORT_TCP
                     : !strncasecmp(t, "tls", 3) ? SIP_TRANSPORT_TLS : 0;
        if (peer && ((bit == SIP_TRANSPORT_TCP && !g->tcpenable)
                     || (bit == SIP_TRANSPORT_TLS && !g->tlsenable))) {
            if (!v->inherited)
                td_log(LOG_WARNING, "%s:%d: '%.3s' is not a valid transport type when "
                       "%.3senable=no", v->file, v->line, t, t);
            bit = 0;
        } else if (!bit && !v->inherited)
            td_log(LOG_NOTICE, "%s:%d: '%s' is not a valid transport type (udp, tcp or tls)",
                   v->file, v->line, t);
        m |= bit;
        if (!f)
            f = bit;
    }
    if (m) {
        *mask = m;
        *first = f ? f : (m & SIP_TRANSPORT_UDP ? SIP_TRANSPORT_UDP : m & SIP_TRANSPORT_TCP
                          ? SIP_TRANSPORT_TCP : SIP_TRANSPORT_TLS);
    }
    return 0;
}

/* [general]'s tcp* and tls* keys: 1 if k is one (rc set), 0 if not. */
static int s_stream_key(sip_conf_t *self, const td_conf_var_t *v, sip_general_t *g, int *rc)
{
    const char *k = v->name;
    int has_port = 0;
    if (!strcasecmp(k, "tcpenable"))
        *rc = s_bool(self, v, &g->tcpenable);
    else if (!strcasecmp(k, "tcpbindaddr")) {
        g->tcpbind.sin_family = AF_INET;
        g->tcpbind.sin_port = 0;
        *rc = s_hostport(self, v, &g->tcpbind, &has_port);
        if (*rc == 0 && !has_port)
            g->tcpbind.sin_port = htons(5060);              /* STANDARD_SIP_PORT */
    } else if (!strcasecmp(k, "tcpauthtimeout"))
        *rc = s_int(self, v, 1, 86400, &g->tcpauthtimeout);
    else if (!strcasecmp(k, "tlsenable") || !strcasecmp(k, "sslenable"))
        *rc = s_bool(self, v, &g->tlsenable);
    else if (!strcasecmp(k, "tlsbindaddr") || !strcasecmp(k, "sslbindaddr")) {
        g->tlsbind.sin_family = AF_INET;
        g->tlsbind.sin_port = 0;
        *rc = s_hostport(self, v, &g->tlsbind, &has_port);
        if (*rc == 0 && !has_port)
            g->tlsbind.sin_port = htons(5061);              /* STANDARD_TLS_PORT */
    } else if (!strcasecmp(k, "tlscertfile") || !strcasecmp(k, "sslcert")
               || !strcasecmp(k, "tlscert"))
        *rc = s_copy(self, g->tlscertfile, sizeof g->tlscertfile, v);
    else if (!strcasecmp(k, "tlsprivatekey") || !strcasecmp(k, "sslprivatekey"))
        *rc = s_copy(self, g->tlsprivatekey, sizeof g->tlsprivatekey, v);
    else if (!strcasecmp(k, "tlscafile"))
        *rc = s_copy(self, g->tlscafile, sizeof g->tlscafile, v);
    else if (!strcasecmp(k, "tlscapath") || !strcasecmp(k, "tlscadir"))
        *rc = s_copy(self, g->tlscapath, sizeof g->tlscapath, v);
    else if (!strcasecmp(k, "tlscipher") || !strcasecmp(k, "sslcipher"))
        *rc = s_copy(self, g->tlscipher, sizeof g->tlscipher, v);
    else if (!strcasecmp(k, "tlsverifyclient"))
        *rc = s_bool(self, v, &g->tlsverifyclient);
    else if (!strcasecmp(k, "tlsdontverifyserver"))
        *rc = s_bool(self, v, &g->tlsdontverifyserver);
    else if (!strcasecmp(k, "tlsclientmethod") || !strcasecmp(k, "sslclientmethod")) {
        /* tlsv1, sslv3, sslv2: OpenSSL 3 negotiates TLS 1.2 or 1.3 whatever is asked */
        if (!v->inherited)
            td_log(LOG_NOTICE, "%s:%d: %s: Tandem always negotiates TLS 1.2 or later",
                   v->file, v->line, k);
    } else if (!strcasecmp(k, "transport"))
        *rc = s_transports(v, g, 0, &g->transports, &g->transport);
    else
        return 0;
    return 1;
}

static int s_general(sip_conf_t *self, td_conf_section_t *sec)
{
    sip_general_t *g = &self->general;
    const td_conf_var_t *udpbind = NULL, *bindaddr = NULL, *bindport = NULL;
    for (td_conf_var_t *v = sec->vars; v; v = v->next) {
        const char *k = v->name;
        int rc = 0;
        if (!strcasecmp(k, "udpbindaddr"))
            udpbind = v;
        else if (!strcasecmp(k, "bindaddr"))
            bindaddr = v;
        else if (!strcasecmp(k, "bindport")) {
            int port = 0;
            rc = s_int(self, v, 1, 65535, &port);
            bindport = port ? v : NULL;
        } else if (!strcasecmp(k, "realm")) {
            rc = !*v->value ? s_bad(self, v, "realm is empty: '%s' kept", g->realm)
                            : s_copy(self, g->realm, sizeof g->realm, v);
        } else if (!strcasecmp(k, "context")) {
            rc = !*v->value ? s_bad(self, v, "context is empty: '%s' kept", g->context)
                            : s_copy(self, g->context, sizeof g->context, v);
        } else if (!strcasecmp(k, "allowguest"))
            rc = s_bool(self, v, &g->allowguest);
        else if (!strcasecmp(k, "allowtransfer"))
            rc = s_bool(self, v, &g->allowtransfer);
        else if (!strcasecmp(k, "supportpath"))
            rc = s_bool(self, v, &g->supportpath);
        else if (!strcasecmp(k, "alwaysauthreject"))
            rc = s_bool(self, v, &g->alwaysauthreject);
        else if (!strcasecmp(k, "match_auth_username"))
            rc = s_bool(self, v, &g->match_auth_username);
        else if (!strcasecmp(k, "auth_options_requests"))
            rc = s_bool(self, v, &g->auth_options_requests);
        else if (!strcasecmp(k, "auth_algorithms_uas"))
            rc = s_auth_algs(self, v, g->auth_algs);
        else if (!strcasecmp(k, "directmedia")) {
            static const char *const ok[] = { "nonat", "update", "outgoing", "update,nonat",
                                              "nonat,update", NULL };
            if (td_conf_bool(v->value) < 0 && s_in_list(ok, v->value) < 0)
                rc = s_bad(self, v, "directmedia must be yes, no, nonat, update or outgoing, "
                           "not '%s': taken as no", v->value);
            else if (td_conf_bool(v->value) != 0 && !v->inherited)
                td_log(LOG_NOTICE, "%s:%d: directmedia: Tandem always anchors media on a "
                       "media worker", v->file, v->line);
        } else if (!strcasecmp(k, "allow") || !strcasecmp(k, "disallow"))
            rc = s_codecs(self, v, &g->codecs, &g->codec_order, 1);
        else if (!strcasecmp(k, "nat"))
            rc = s_nat(self, v, &g->nat, &g->comedia);
        else if (!strcasecmp(k, "rtptimeout"))
            s_rtp_time(v, 0, &g->rtptimeout);
        else if (!strcasecmp(k, "rtpholdtimeout"))
            s_rtp_time(v, 0, &g->rtpholdtimeout);
        else if (!strcasecmp(k, "defaultexpiry"))
            rc = s_int(self, v, 1, 86400 * 7, &g->defaultexpiry);
        else if (!strcasecmp(k, "minexpiry"))
            rc = s_int(self, v, 1, 86400 * 7, &g->minexpiry);
        else if (!strcasecmp(k, "maxexpiry"))
            rc = s_int(self, v, 1, 86400 * 7, &g->maxexpiry);
        else if (!strcasecmp(k, "registertimeout"))
            rc = s_int(self, v, 1, 3600, &g->registertimeout);
        else if (!strcasecmp(k, "registerattempts"))
            rc = s_int(self, v, 0, 1000000, &g->registerattempts);
        else if (!strcasecmp(k, "register"))
            rc = s_register(self, v);
        else if (!strcasecmp(k, "qualify"))
            rc = s_qualify(self, v, 0, &g->qualify);
        else if (!strcasecmp(k, "qualifyfreq"))
            rc = s_int(self, v, 1, 86400, &g->qualifyfreq);
        else if (!strcasecmp(k, "session-timers")) {
            if (!strcasecmp(v->value, "accept"))
                g->session_timers = 1;
            else if (!strcasecmp(v->value, "originate"))
                g->session_timers = 2;
            else if (!strcasecmp(v->value, "refuse"))
                g->session_timers = 0;
            else
            {
                g->session_timers = 1;      /* chan_sip: "Invalid session-timers", accept */
                rc = s_bad(self, v, "session-timers must be accept, originate or refuse, "
                           "not '%s': accept", v->value);
            }
        } else if (!strcasecmp(k, "session-refresher")) {
            if (!strcasecmp(v->value, "uas") || !strcasecmp(v->value, "uac"))
                g->session_refresher_uas = !strcasecmp(v->value, "uas");
            else
            {
                g->session_refresher_uas = 1;
                rc = s_bad(self, v, "session-refresher must be uac or uas, not '%s': uas",
                           v->value);
            }
        } else if (!strcasecmp(k, "session-expires"))
            rc = s_int(self, v, 1, 86400, &g->session_expires);
        else if (!strcasecmp(k, "session-minse"))
            rc = s_int(self, v, 1, 86400, &g->session_minse);
        else if (!strcasecmp(k, "externaddr") || !strcasecmp(k, "externip")) {
            int has;
            g->externaddr.sin_port = 0;
            g->externhost[0] = '\0';
            rc = s_soft_hostport(self, v, &g->externaddr, &has);
        } else if (!strcasecmp(k, "externhost")) {
            int has;
            g->externaddr.sin_port = 0;
            rc = s_soft_hostport(self, v, &g->externaddr, &has);
            if (rc == 0 && g->externaddr.sin_addr.s_addr) {
                const char *colon = strrchr(v->value, ':');
                size_t hl = colon ? (size_t)(colon - v->value) : strlen(v->value);
                snprintf(g->externhost, sizeof g->externhost, "%.*s", (int)hl, v->value);
            }
        } else if (!strcasecmp(k, "externrefresh"))
            rc = s_int(self, v, 1, 86400, &g->externrefresh);
        else if (!strcasecmp(k, "localnet"))
            rc = s_localnet(self, v);
        else if (!strcasecmp(k, "permit") || !strcasecmp(k, "deny") || !strcasecmp(k, "acl"))
            rc = s_acl_line(self, v, &g->acl);
        else if (s_stream_key(self, v, g, &rc))
            ;
        else if (!s_ignored_key(self, v))
            s_unknown_key(self, v, sec->name);
        if (rc < 0)
            return -1;
    }
    /* chan_sip drops from transport= what is not enabled (udp if nothing is left) */
    if (!g->tcpenable)
        g->transports &= ~SIP_TRANSPORT_TCP;
    if (!g->tlsenable)
        g->transports &= ~SIP_TRANSPORT_TLS;
    if (!g->transports)
        g->transports = SIP_TRANSPORT_UDP;
    if (!(g->transport & g->transports))
        g->transport = g->transports & SIP_TRANSPORT_UDP ? SIP_TRANSPORT_UDP
                     : g->transports & SIP_TRANSPORT_TCP ? SIP_TRANSPORT_TCP : SIP_TRANSPORT_TLS;
    if (g->tlsenable && !*g->tlscertfile) {
        /* chan_sip: "SIP TLS server did not load because of errors", and goes on */
        td_conf_var_t at = { .name = "tlsenable", .value = "yes", .file = sec->file,
                             .line = sec->line };
        g->tlsenable = 0;
        g->transports &= ~SIP_TRANSPORT_TLS;
        if (!g->transports)
            g->transports = SIP_TRANSPORT_UDP;
        if (g->transport == SIP_TRANSPORT_TLS)
            g->transport = SIP_TRANSPORT_UDP;
        if (s_bad(self, &at, "tlsenable=yes needs tlscertfile: TLS is off") < 0)
            return -1;
    }
    int has_port;
    struct sockaddr_in *b = &g->bind;
    if (bindport)
        b->sin_port = htons((uint16_t)atoi(bindport->value));
    if (udpbind) {
        if (s_hostport(self, udpbind, b, &has_port) < 0)
            return -1;
    } else if (bindaddr) {
        if (s_hostport(self, bindaddr, b, &has_port) < 0)
            return -1;
    }
    if (g->minexpiry > g->maxexpiry)
        return s_fail(self, sec->file, sec->line, "minexpiry (%d) is greater than maxexpiry (%d)",
                      g->minexpiry, g->maxexpiry);
    if (g->defaultexpiry < g->minexpiry)
        g->defaultexpiry = g->minexpiry;
    if (g->defaultexpiry > g->maxexpiry)
        g->defaultexpiry = g->maxexpiry;
    return 0;
}

/* ---- peers ---------------------------------------------------------------- */

static int s_insecure(sip_conf_t *self, const td_conf_var_t *v, sip_peer_t *p)
{
    char buf[128];
    if (strlen(v->value) >= sizeof buf)
        return s_bad(self, v, "insecure value is too long: ignored");
    strcpy(buf, v->value);
    p->insecure_port = p->insecure_invite = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (!strcasecmp(tok, "port"))
            p->insecure_port = 1;
        else if (!strcasecmp(tok, "invite"))
            p->insecure_invite = 1;
        else if (!strcasecmp(tok, "very"))          /* chan_sip 1.4: both */
            p->insecure_port = p->insecure_invite = 1;
        else if (!strcasecmp(tok, "yes"))           /* chan_sip 1.4: port */
            p->insecure_port = 1;
        else if (!strcasecmp(tok, "no"))
            ;
        else if (s_bad(self, v, "insecure: unknown value '%s' (port, invite, or both): "
                       "ignored", tok) < 0)   /* set_insecure_flags: "Unknown insecure mode" */
            return -1;
    }
    return 0;
}

/* callerid = "Name" <num> | Name <num> | <num> | num | Name */
static int s_callerid(sip_conf_t *self, const td_conf_var_t *v, sip_peer_t *p)
{
    const char *s = v->value, *lt = strchr(s, '<');
    char name[160] = "", num[160] = "";
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt)
            return s_bad(self, v, "callerid: missing '>' in '%s': ignored", s);
        snprintf(num, sizeof num, "%.*s", (int)(gt - lt - 1), lt + 1);
        const char *a = s, *b = lt;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b - a >= 2 && *a == '"' && b[-1] == '"')
            a++, b--;
        snprintf(name, sizeof name, "%.*s", (int)(b - a), a);
    } else {
        const char *a = s;
        size_t n = strlen(a);
        if (n >= 2 && a[0] == '"' && a[n - 1] == '"')
            snprintf(name, sizeof name, "%.*s", (int)n - 2, a + 1);
        else if (strspn(a, "0123456789+*#") == n)
            snprintf(num, sizeof num, "%s", a);
        else
            snprintf(name, sizeof name, "%s", a);
    }
    if (strlen(name) >= sizeof p->cid_name || strlen(num) >= sizeof p->cid_num)
        return s_bad(self, v, "callerid is too long: ignored");
    strcpy(p->cid_name, name);
    strcpy(p->cid_num, num);
    return 0;
}

/* The type= lines of a section, as chan_sip reads them: reload_config
 * checks the first (missing: "Section lacks type", unknown: "Unknown type";
 * either way the section is skipped before build_peer), and build_peer ORs
 * every one in (type=peer then type=user is a friend). Returns the
 * SIP_TYPE-like mask (1 user, 2 peer), 0 when the section is skipped. */
static int s_type_mask(sip_conf_t *self, const td_conf_section_t *sec)
{
    int mask = 0;
    const td_conf_var_t *first = NULL;
    for (const td_conf_var_t *v = sec->vars; v; v = v->next) {
        if (strcasecmp(v->name, "type") != 0)
            continue;
        int bits = !strcasecmp(v->value, "friend") ? 3 : !strcasecmp(v->value, "user") ? 1
                 : !strcasecmp(v->value, "peer") ? 2 : 0;
        if (!first && !bits) {
            s_bad(self, v, "type must be friend, user or peer, not '%s': [%s] skipped",
                  v->value, sec->name);
            return 0;
        }
        if (!bits)
            s_bad(self, v, "type must be friend, user or peer, not '%s': this line is ignored",
                  v->value);
        first = v;
        mask |= bits;
    }
    if (!first && !sec->is_template)
        td_log(LOG_WARNING, "%s:%d: section [%s] lacks type=, skipped",
               sec->file, sec->line, sec->name);
    return mask;
}

/* One peer section onto p. Templates are checked the same way (their
 * errors point at the template), but not required to say type=. merge: p
 * is the peer an earlier section of the same name built, and this one is
 * applied on top of it, as chan_sip's build_peer does when it finds the
 * peer unmarked in the same load (firstpass = 0): no defaults, type ORed
 * in, ACL and codec lines added to what is there, transports started over
 * (build_peer clears them each time); what the section does not name
 * stays. Returns 0 (built), 1 (the
 * section is skipped: p untouched) or 2 (p is to be removed: its host
 * cannot be resolved, build_peer's "removing peer"); -1 on a fatal error. */
static int s_peer(sip_conf_t *self, td_conf_section_t *sec, sip_peer_t *p, int merge)
{
    const sip_general_t *g = &self->general;
    int mask = s_type_mask(self, sec);
    if (!mask && !sec->is_template)
        return 1;
    if (merge) {
        p->transports = g->transports;
        p->transport = g->transport;
    } else {
        memset(p, 0, sizeof *p);
        if (strlen(sec->name) >= sizeof p->name)
            return s_fail(self, sec->file, sec->line, "section name [%s] is too long", sec->name);
        strcpy(p->name, sec->name);
        p->codecs = g->codecs;
        p->codec_order = g->codec_order;
        p->nat = g->nat;
        p->rtptimeout = g->rtptimeout;
        p->rtpholdtimeout = g->rtpholdtimeout;
        p->comedia = g->comedia;
        p->supportpath = g->supportpath;
        p->srtp_taglen = 80;
        p->allowtransfer = g->allowtransfer;
        p->dynamic = 1;
        p->qualifyfreq = g->qualifyfreq;
        p->maxms = g->qualify;                  /* chan_sip's default_qualify */
        p->transports = g->transports;
        p->transport = g->transport;
        p->file = sec->file;
        p->line = sec->line;
    }
    const td_conf_var_t *secret = NULL, *md5secret = NULL, *host = NULL, *port = NULL,
                        *defaultuser = NULL;
    int md5secret_bad = 0;
    for (td_conf_var_t *v = sec->vars; v; v = v->next) {
        const char *k = v->name;
        int rc = 0, dummy;
        if (!strcasecmp(k, "type"))
            ;                                   /* s_type_mask */
        else if (!strcasecmp(k, "secret")) {
            secret = v;
            rc = s_copy(self, p->secret, sizeof p->secret, v);
        } else if (!strcasecmp(k, "remotesecret"))
            rc = s_copy(self, p->remotesecret, sizeof p->remotesecret, v);
        else if (!strcasecmp(k, "outboundproxy")) {
            /* "host[:port]", optionally "sip:host[:port]" and ",force" (chan_sip's
             * proxy_update); only the address is used. */
            td_conf_var_t tmp = *v;
            char pbuf[256];
            const char *val = v->value;
            if (!strncasecmp(val, "sip:", 4))
                val += 4;
            snprintf(pbuf, sizeof pbuf, "%.*s", (int)strcspn(val, ",;"), val);
            tmp.value = pbuf;
            p->proxy.sin_family = AF_INET;
            p->proxy.sin_port = htons(5060);
            int hp;
            rc = s_soft_hostport(self, &tmp, &p->proxy, &hp);
            p->has_proxy = rc == 0 && p->proxy.sin_addr.s_addr != 0;
        }
        else if (!strcasecmp(k, "md5secret")) {
            md5secret = v;
            if (strlen(v->value) != 32 || strspn(v->value, "0123456789abcdefABCDEF") != 32) {
                /* chan_sip takes it as it is: no answer can match it */
                rc = s_bad(self, v, "md5secret must be 32 hex digits: every login of [%s] "
                           "will fail", sec->name);
                md5secret_bad = 1;
            }
        } else if (!strcasecmp(k, "host"))
            host = v;
        else if (!strcasecmp(k, "port")) {
            dummy = 0;
            rc = s_int(self, v, 1, 65535, &dummy);
            port = dummy ? v : NULL;                /* a bad one: 5060 stays */
        } else if (!strcasecmp(k, "context")) {
            rc = !*v->value ? s_bad(self, v, "context is empty: [general]'s kept")
                            : s_copy(self, p->context, sizeof p->context, v);
        } else if (!strcasecmp(k, "insecure"))
            rc = s_insecure(self, v, p);
        else if (!strcasecmp(k, "callerid"))
            rc = s_callerid(self, v, p);
        else if (!strcasecmp(k, "allow") || !strcasecmp(k, "disallow"))
            rc = s_codecs(self, v, &p->codecs, &p->codec_order, !v->inherited);
        else if (!strcasecmp(k, "defaultuser") || !strcasecmp(k, "username"))
            defaultuser = v;
        else if (!strcasecmp(k, "fromuser"))
            rc = s_copy(self, p->fromuser, sizeof p->fromuser, v);
        else if (!strcasecmp(k, "fromdomain"))
            rc = s_copy(self, p->fromdomain, sizeof p->fromdomain, v);
        else if (!strcasecmp(k, "nat"))
            rc = s_nat(self, v, &p->nat, &p->comedia);
        else if (!strcasecmp(k, "rtptimeout"))
            s_rtp_time(v, g->rtptimeout, &p->rtptimeout);
        else if (!strcasecmp(k, "rtpholdtimeout"))
            s_rtp_time(v, g->rtpholdtimeout, &p->rtpholdtimeout);
        else if (!strcasecmp(k, "supportpath"))
            rc = s_bool(self, v, &p->supportpath);
        else if (!strcasecmp(k, "encryption"))
            rc = s_bool(self, v, &p->encryption);
        else if (!strcasecmp(k, "encryption_taglen"))
            p->srtp_taglen = !strcmp(v->value, "32") ? 32 : 80;   /* chan_sip: "32" or 80 */
        else if (!strcasecmp(k, "allowtransfer"))
            rc = s_bool(self, v, &p->allowtransfer);
        else if (!strcasecmp(k, "qualify"))
            rc = s_qualify(self, v, g->qualify, &p->maxms);
        else if (!strcasecmp(k, "qualifyfreq"))
            rc = s_int(self, v, 1, 86400, &p->qualifyfreq);
        else if (!strcasecmp(k, "call-limit")) {
            /* build_peer: atoi(), a negative one is 0 (no limit) */
            p->call_limit = atoi(v->value);
            if (p->call_limit < 0)
                p->call_limit = 0;
        }
        else if (!strcasecmp(k, "directmedia"))
            ;                                        /* accepted: media is always anchored */
        else if (!strcasecmp(k, "transport"))
            rc = s_transports(v, g, 1, &p->transports, &p->transport);
        else if (!strcasecmp(k, "permit") || !strcasecmp(k, "deny") || !strcasecmp(k, "acl"))
            rc = s_acl_line(self, v, &p->acl);
        else if (!s_ignored_key(self, v))
            s_unknown_key(self, v, sec->name);
        if (rc < 0)
            return -1;
    }
    if (!mask)
        return 1;                               /* a template without type= */
    if (merge)
        mask |= p->type == SIP_PEER_USER ? 1 : p->type == SIP_PEER_PEER ? 2 : 3;
    p->type = mask == 1 ? SIP_PEER_USER : mask == 2 ? SIP_PEER_PEER : SIP_PEER_FRIEND;
    if (defaultuser && s_copy(self, p->defaultuser, sizeof p->defaultuser, defaultuser) < 0)
        return -1;
    if (md5secret && md5secret_bad) {
        memset(p->ha1, 'x', 32);                /* not hex: no digest ever matches it */
        p->ha1[32] = '\0';
        p->ha1_sha256[0] = '\0';
        p->has_secret = 1;
    } else if (md5secret) {
        for (int i = 0; i < 32; i++)
            p->ha1[i] = (char)tolower((unsigned char)md5secret->value[i]);
        p->ha1[32] = '\0';
        p->ha1_sha256[0] = '\0';                /* MD5 only: SHA-256 is not challenged */
        p->has_secret = 1;
    } else if (secret && *secret->value) {
        sip_auth_ha1(p->name, g->realm, secret->value, p->ha1);
        sip_auth_ha1_alg(SIP_AUTH_SHA256, p->name, g->realm, secret->value, p->ha1_sha256);
        p->has_secret = 1;
    }
    p->addr.sin_family = AF_INET;
    if (!merge || port || host)                 /* build_peer's port: this section's, or 5060 */
        p->addr.sin_port = htons(port ? (uint16_t)atoi(port->value) : 5060);
    if (host && strcasecmp(host->value, "dynamic") != 0) {
        if (s_copy(self, p->host, sizeof p->host, host) < 0)
            return -1;
        if (s_resolve(p->host, &p->addr.sin_addr) < 0) {
            /* build_peer: "srvlookup failed for host: %s, on peer %s, removing peer" */
            if (s_bad(self, host, "host: cannot resolve '%s' to an IPv4 address: [%s] %s",
                      p->host, sec->name, merge ? "removed" : "skipped") < 0)
                return -1;
            return merge ? 2 : 1;
        }
        p->dynamic = 0;
    } else if (host || !merge) {
        strcpy(p->host, "dynamic");
        p->dynamic = 1;
        p->addr.sin_addr.s_addr = 0;
    }
    if (!p->codecs && !sec->is_template)
        td_log(LOG_WARNING, "%s:%d: [%s] allows neither ulaw nor alaw", sec->file, sec->line,
               sec->name);
    if (!p->has_secret && !sec->is_template && p->type != SIP_PEER_PEER)
        td_log(LOG_NOTICE, "%s:%d: [%s] has no secret: it is accepted without authentication",
               sec->file, sec->line, sec->name);
    return 0;
}

/* ---- indexes -------------------------------------------------------------- */

static int s_index_init(s_index_t *ix, size_t count, td_map_eq_fn eq)
{
    ix->pool = calloc(count ? count : 1, sizeof *ix->pool);
    return td_map_init(&ix->map, count, eq) == 0 && ix->pool ? 0 : -1;
}

/* Pushed on the front of its chain: see s_build_indexes for the order. */
static void s_index_add(s_index_t *ix, size_t slot, uint64_t h, const sip_peer_t *p)
{
    s_node_t *node = &ix->pool[slot];
    node->peer = p;
    td_map_insert(&ix->map, &node->link, h);
}

static void s_index_free(s_index_t *ix)
{
    td_map_fini(&ix->map);
    free(ix->pool);
}

static const sip_peer_t *s_peer_of(const td_map_node_t *n)
{
    return n ? TD_MAP_ENTRY(n, s_node_t, link)->peer : NULL;
}

static int s_name_eq(const td_map_node_t *n, const void *key)
{
    return strcmp(s_peer_of(n)->name, key) == 0;
}

static int s_addr_eq(const td_map_node_t *n, const void *key)
{
    const struct sockaddr_in *a = &s_peer_of(n)->addr, *k = key;
    return a->sin_addr.s_addr == k->sin_addr.s_addr && a->sin_port == k->sin_port;
}

static int s_ip_eq(const td_map_node_t *n, const void *key)
{
    return s_peer_of(n)->addr.sin_addr.s_addr == ((const struct sockaddr_in *)key)->sin_addr.s_addr;
}

static const char *s_keep_file(sip_conf_t *self, const char *file)
{
    for (size_t i = 0; i < self->nfiles; i++)
        if (strcmp(self->files[i], file) == 0)
            return self->files[i];
    char **f = realloc(self->files, (self->nfiles + 1) * sizeof *f);
    if (!f)
        return "sip.conf";
    self->files = f;
    f[self->nfiles] = strdup(file);
    return f[self->nfiles] ? f[self->nfiles++] : "sip.conf";
}

/* The seeded td_hash of the whole address (and port): a /16 of sources
 * spreads over the table (the old multiplicative key did not). */
static uint64_t s_addr_key(const struct sockaddr_in *a, int with_port)
{
    td_hash_t h;
    td_hash_begin(&h);
    td_hash_add(&h, &a->sin_addr.s_addr, sizeof a->sin_addr.s_addr);
    if (with_port)
        td_hash_add(&h, &a->sin_port, sizeof a->sin_port);
    return td_hash_end(&h);
}

/* chan_sip links a peer into peers_by_ip when it is a type=peer or friend
 * with an address (reload_config); a type=user never is, whatever its host=.
 * Static peers go in at load, in file order; chan_sip's lookup walks that
 * order, so the first section wins a tie. */
static int s_static_addr(const sip_peer_t *p)
{
    return !p->dynamic && p->type != SIP_PEER_USER;
}

static int s_build_indexes(sip_conf_t *self)
{
    if (s_index_init(&self->by_name, self->npeers, s_name_eq) < 0
        || s_index_init(&self->by_addr, self->npeers, s_addr_eq) < 0
        || s_index_init(&self->by_ip, self->npeers, s_ip_eq) < 0
        || s_index_init(&self->by_stream_ip, self->npeers, s_ip_eq) < 0)
        return -1;
    for (size_t i = 0; i < self->npeers; i++) {
        sip_peer_t *p = &self->peers[i];     /* one per name: sip_conf_load merges */
        s_index_add(&self->by_name, i, td_hash_str(p->name), p);
    }
    /* backwards, so that pushing on the chain heads leaves them in file order */
    size_t naddr = 0, nip = 0, nstream = 0;
    for (size_t i = self->npeers; i-- > 0; ) {
        const sip_peer_t *p = &self->peers[i];
        if (!s_static_addr(p))
            continue;
        s_index_add(&self->by_addr, naddr++, s_addr_key(&p->addr, 1), p);
        if (p->insecure_port)
            s_index_add(&self->by_ip, nip++, s_addr_key(&p->addr, 0), p);
        if (p->transports & (SIP_TRANSPORT_TCP | SIP_TRANSPORT_TLS))
            s_index_add(&self->by_stream_ip, nstream++, s_addr_key(&p->addr, 0), p);
    }
    return 0;
}

/* ---- the class ------------------------------------------------------------ */

int sip_conf_warnings(const sip_conf_t *self)
{
    return self->warnings;
}

sip_conf_t *sip_conf_load(const char *path, char *err, size_t errlen)
{
    static char scratch[512];
    sip_conf_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    self->err = err ? err : scratch;
    self->errlen = err ? errlen : sizeof scratch;
    self->err[0] = '\0';
    sip_general_t *g = &self->general;
    g->bind.sin_family = AF_INET;
    g->bind.sin_addr.s_addr = htonl(INADDR_ANY);
    g->bind.sin_port = htons(5060);
    strcpy(g->realm, "tandem");
    strcpy(g->context, "default");
    g->allowguest = 1;
    g->allowtransfer = 1;
    g->alwaysauthreject = 1;
    /* MD5 alone, as chan_sip challenges: phones and tools that read only
     * the first WWW-Authenticate and know only MD5 (sipp 3.6.1, older desk
     * phones) fail on a SHA-256 one first. SHA-256 is opt-in. */
    g->auth_algs[0] = SIP_AUTH_MD5;
    g->auth_algs[1] = 0;
    g->auth_algs[2] = 0;
    g->codecs = SIP_CODEC_ALL;
    g->codec_order = (sip_codec_order_t){ { 0, 8 }, 2 };
    g->defaultexpiry = 120;
    g->minexpiry = 60;
    g->maxexpiry = 3600;
    g->registertimeout = 20;
    g->qualifyfreq = 60;
    g->session_timers = 1;
    g->session_expires = 1800;
    g->session_minse = 90;
    g->session_refresher_uas = 1;
    g->externrefresh = 10;

    g->transports = g->transport = SIP_TRANSPORT_UDP;
    g->tcpauthtimeout = 30;                 /* DEFAULT_AUTHTIMEOUT */

    /* acl.conf beside sip.conf: the named ACLs acl= lines use */
    char aclpath[1024];
    const char *slash = strrchr(path, '/');
    snprintf(aclpath, sizeof aclpath, "%.*s%sacl.conf", slash ? (int)(slash - path) : 0, path,
             slash ? "/" : "");
    if (sip_acl_named_load(aclpath, &self->named, self->err, self->errlen) != 0) {
        free(self);
        return NULL;
    }
    td_conf_t *conf = td_conf_load(path, self->err, self->errlen);
    if (!conf) {
        sip_acl_destroy(&self->named);
        free(self);
        return NULL;
    }
    td_conf_log_warnings(conf);
    size_t nsec = 0;
    s_index_t built = { 0 };        /* the peers built so far, by name */
    unsigned char *gone = NULL;     /* per peer: removed by a later section */
    td_conf_section_t *gen = td_conf_section(conf, "general");
    if (gen && s_general(self, gen) < 0)
        goto fail;
    for (td_conf_section_t *sec = td_conf_first(conf); sec; sec = sec->next)
        nsec++;
    self->peers = calloc(nsec ? nsec : 1, sizeof *self->peers);
    gone = calloc(nsec ? nsec : 1, 1);
    if (!self->peers || !gone || s_index_init(&built, nsec, s_name_eq) < 0) {
        snprintf(self->err, self->errlen, "%s: out of memory", path);
        goto fail;
    }
    for (td_conf_section_t *sec = td_conf_first(conf); sec; sec = sec->next) {
        if (sec == gen)
            continue;
        if (!strcmp(sec->name, "general")) {
            /* chan_sip reads [general] with ast_variable_browse(cfg,
             * "general"): the first section of that name; its peer loop
             * skips every section named general. */
            self->warnings++;
            td_log(LOG_WARNING, "%s:%d: [general] again (first at %s:%d): ignored, as chan_sip "
                   "reads only the first (append to it with [general](+))", sec->file,
                   sec->line, gen->file, gen->line);
            continue;
        }
        if (!*sec->name) {
            for (td_conf_var_t *v = sec->vars; v; v = v->next)
                td_log(LOG_WARNING, "%s:%d: '%s' outside any section, ignored",
                       v->file, v->line, v->name);
            continue;
        }
        if (!strcmp(sec->name, "authentication")) {
            td_log(LOG_NOTICE, "%s:%d: [authentication] (outbound credentials) is not used yet",
                   sec->file, sec->line);
            continue;
        }
        /* A name already built: chan_sip's build_peer finds that peer and
         * applies this section on top (s_peer's merge). */
        td_map_node_t *seen = sec->is_template ? NULL
                            : td_map_find(&built.map, td_hash_str(sec->name), sec->name);
        if (seen) {
            sip_peer_t *p = (sip_peer_t *)s_peer_of(seen);
            td_log(LOG_NOTICE, "%s:%d: [%s] again (first at %s:%d): its lines are added to "
                   "the peer's, as chan_sip does", sec->file, sec->line, sec->name, p->file,
                   p->line);
            int rc = s_peer(self, sec, p, 1);
            if (rc < 0)
                goto fail;
            if (rc == 2) {
                gone[p - self->peers] = 1;
                td_map_remove(&built.map, seen);
            }
            continue;
        }
        sip_peer_t *p = &self->peers[self->npeers];
        int rc = s_peer(self, sec, p, 0);
        if (rc < 0)
            goto fail;
        if (rc == 0 && !sec->is_template) {
            p->file = s_keep_file(self, sec->file);
            s_index_add(&built, self->npeers, td_hash_str(p->name), p);
            self->npeers++;
        }
    }
    /* drop the peers a later section removed (their slots move up) */
    size_t kept = 0;
    for (size_t i = 0; i < self->npeers; i++)
        if (!gone[i])
            self->peers[kept++] = self->peers[i];
    self->npeers = kept;
    if (s_build_indexes(self) < 0) {
        if (!*self->err)
            snprintf(self->err, self->errlen, "%s: out of memory", path);
        goto fail;
    }
    s_index_free(&built);
    free(gone);
    td_conf_destroy(&conf);
    self->err = NULL;
    self->errlen = 0;
    return self;
fail:
    s_index_free(&built);
    free(gone);
    td_conf_destroy(&conf);
    self->err = NULL;
    sip_conf_destroy(&self);
    return NULL;
}

void sip_conf_destroy(sip_conf_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_conf_t *self = *self_p;
    s_index_free(&self->by_stream_ip);
    s_index_free(&self->by_ip);
    s_index_free(&self->by_addr);
    s_index_free(&self->by_name);
    for (size_t i = 0; i < self->nfiles; i++)
        free(self->files[i]);
    free(self->files);
    free(self->regs);
    free(self->peers);
    for (size_t i = 0; i < self->nacls; i++)
        sip_acl_destroy(&self->acls[i]);
    free(self->acls);
    sip_acl_destroy(&self->named);
    free(self);
    *self_p = NULL;
}

const sip_general_t *sip_conf_general(const sip_conf_t *self)
{
    return &self->general;
}

size_t sip_conf_peer_count(const sip_conf_t *self)
{
    return self->npeers;
}

const sip_peer_t *sip_conf_peer_at(const sip_conf_t *self, size_t i)
{
    return i < self->npeers ? &self->peers[i] : NULL;
}

const sip_peer_t *sip_conf_peer(const sip_conf_t *self, const char *name)
{
    if (!name || !self->by_name.map.buckets)
        return NULL;
    return s_peer_of(td_map_find(&self->by_name.map, td_hash_str(name), name));
}

const sip_peer_t *sip_conf_peer_by_addr(const sip_conf_t *self, const struct sockaddr_in *src)
{
    if (!src || !self->by_addr.map.buckets)
        return NULL;
    return s_peer_of(td_map_find(&self->by_addr.map, s_addr_key(src, 1), src));
}

const sip_peer_t *sip_conf_peer_by_ip(const sip_conf_t *self, const struct sockaddr_in *src)
{
    if (!src || !self->by_ip.map.buckets)
        return NULL;
    return s_peer_of(td_map_find(&self->by_ip.map, s_addr_key(src, 0), src));
}

const sip_peer_t *sip_conf_peer_by_stream_ip(const sip_conf_t *self, const struct sockaddr_in *src,
                                             unsigned transport)
{
    if (!src || !self->by_stream_ip.map.buckets)
        return NULL;
    const td_map_t *m = &self->by_stream_ip.map;
    for (const td_map_node_t *n = td_map_find(m, s_addr_key(src, 0), src); n;
         n = td_map_find_next(m, n, src))
        if (s_peer_of(n)->transports & transport)
            return s_peer_of(n);
    return NULL;
}

size_t sip_conf_register_count(const sip_conf_t *self)
{
    return self->nregs;
}

const sip_register_t *sip_conf_register_at(const sip_conf_t *self, size_t i)
{
    return i < self->nregs ? &self->regs[i] : NULL;
}
