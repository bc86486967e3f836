/* sip_auth - see sip_auth.h. */
#include "sip_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <osipparser2/osip_md5.h>
#include <osipparser2/osip_parser.h>

struct sip_auth {
    char realm[128];
    char secret[33];           /* 16 random bytes as hex */
};

static void s_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* MD5 over the parts joined by ':' (NULL ends the list), as 32 hex digits. */
static void s_md5_join(char out[33], const char *const *parts)
{
    osip_MD5_CTX ctx;
    unsigned char digest[16];
    osip_MD5Init(&ctx);
    for (size_t i = 0; parts[i]; i++) {
        if (i)
            osip_MD5Update(&ctx, (unsigned char *)":", 1);
        osip_MD5Update(&ctx, (unsigned char *)parts[i], (unsigned)strlen(parts[i]));
    }
    osip_MD5Final(digest, &ctx);
    s_hex(digest, 16, out);
}

/* Compare without an early exit, so timing says nothing about where two
 * digests differ. */
static int s_equal(const char *a, const char *b, size_t n)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

sip_auth_t *sip_auth_new(const char *realm)
{
    sip_auth_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->realm, sizeof self->realm, "%s", realm ? realm : "tandem");
    unsigned char seed[16];
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        /* No entropy source: still unique per run, if guessable. */
        struct timeval tv;
        gettimeofday(&tv, NULL);
        unsigned long v[2] = { (unsigned long)tv.tv_sec ^ (unsigned long)getpid(),
                               (unsigned long)tv.tv_usec };
        memcpy(seed, v, sizeof seed < sizeof v ? sizeof seed : sizeof v);
    }
    s_hex(seed, sizeof seed, self->secret);
    return self;
}

void sip_auth_destroy(sip_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const char *sip_auth_realm(const sip_auth_t *self)
{
    return self->realm;
}

void sip_auth_ha1(const char *user, const char *realm, const char *password, char out[33])
{
    const char *parts[] = { user, realm, password, NULL };
    s_md5_join(out, parts);
}

void sip_auth_response(const char *ha1, const char *nonce, const char *nc,
                       const char *cnonce, const char *qop, const char *method,
                       const char *uri, char out[33])
{
    char ha2[33];
    const char *a2[] = { method, uri, NULL };
    s_md5_join(ha2, a2);
    if (qop && *qop) {
        const char *parts[] = { ha1, nonce, nc ? nc : "", cnonce ? cnonce : "", qop, ha2, NULL };
        s_md5_join(out, parts);
    } else {
        const char *parts[] = { ha1, nonce, ha2, NULL };
        s_md5_join(out, parts);
    }
}

static void s_nonce_mac(const sip_auth_t *self, const char *stamp, char out[33])
{
    const char *parts[] = { stamp, self->secret, NULL };
    s_md5_join(out, parts);
}

void sip_auth_nonce(const sip_auth_t *self, long now, char *buf, size_t len)
{
    char stamp[9], mac[33];
    snprintf(stamp, sizeof stamp, "%08lx", (unsigned long)now & 0xffffffffUL);
    s_nonce_mac(self, stamp, mac);
    snprintf(buf, len, "%s%s", stamp, mac);
}

/* -1: forged or malformed; 0: good; 1: well formed but too old. */
static int s_nonce_check(const sip_auth_t *self, const char *nonce, long now)
{
    if (strlen(nonce) != SIP_AUTH_NONCE_LEN)
        return -1;
    char stamp[9], mac[33];
    memcpy(stamp, nonce, 8);
    stamp[8] = '\0';
    for (int i = 0; i < 8; i++)
        if (!strchr("0123456789abcdef", stamp[i]))
            return -1;
    s_nonce_mac(self, stamp, mac);
    if (!s_equal(mac, nonce + 8, 32))
        return -1;
    long minted = (long)strtoul(stamp, NULL, 16);
    long age = (long)(((unsigned long)now - (unsigned long)minted) & 0xffffffffUL);
    return age <= SIP_AUTH_NONCE_TTL ? 0 : 1;
}

int sip_auth_challenge(const sip_auth_t *self, osip_message_t *resp, int stale, long now)
{
    char nonce[SIP_AUTH_NONCE_LEN + 1], value[512];
    sip_auth_nonce(self, now, nonce, sizeof nonce);
    snprintf(value, sizeof value,
             "Digest realm=\"%s\", nonce=\"%s\", algorithm=MD5, qop=\"auth\"%s",
             self->realm, nonce, stale ? ", stale=true" : "");
    return osip_message_set_www_authenticate(resp, value);
}

char *sip_auth_unquote(const char *value, char *buf, size_t len)
{
    if (!value) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    size_t n = strlen(value);
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
        value++;
        n -= 2;
    }
    if (n >= len)
        n = len ? len - 1 : 0;
    if (len) {
        memcpy(buf, value, n);
        buf[n] = '\0';
    }
    return buf;
}

osip_authorization_t *sip_auth_credentials(const sip_auth_t *self, osip_message_t *req,
                                           char *user, size_t len)
{
    osip_list_t *lists[] = { &req->authorizations, &req->proxy_authorizations };
    char realm[sizeof self->realm + 2];
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        for (int i = 0; i < osip_list_size(lists[l]); i++) {
            osip_authorization_t *a = osip_list_get(lists[l], i);
            if (!a || !a->auth_type || strcasecmp(a->auth_type, "Digest") != 0)
                continue;
            sip_auth_unquote(a->realm, realm, sizeof realm);
            if (strcmp(realm, self->realm) != 0)
                continue;
            sip_auth_unquote(a->username, user, len);
            return a;
        }
    }
    if (len)
        user[0] = '\0';
    return NULL;
}

sip_auth_result_t sip_auth_verify(const sip_auth_t *self, osip_authorization_t *cred,
                                  const char *method, const char *ha1, long now)
{
    if (!cred)
        return SIP_AUTH_MISSING;
    char realm[160], nonce[64], uri[512], response[64], qop[16], nc[16], cnonce[128], alg[16];
    sip_auth_unquote(cred->realm, realm, sizeof realm);
    sip_auth_unquote(cred->nonce, nonce, sizeof nonce);
    sip_auth_unquote(cred->uri, uri, sizeof uri);
    sip_auth_unquote(cred->response, response, sizeof response);
    sip_auth_unquote(cred->message_qop, qop, sizeof qop);
    sip_auth_unquote(cred->nonce_count, nc, sizeof nc);
    sip_auth_unquote(cred->cnonce, cnonce, sizeof cnonce);
    sip_auth_unquote(cred->algorithm, alg, sizeof alg);

    /* chan_sip's check_auth looks at the nonce first: one that is not the
     * current challenge's gets a new challenge (stale=true if the answer
     * was right), and only a wrong answer to the current one is a failure.
     * Here "current" is: minted by this process and younger than the TTL. */
    int fresh = s_nonce_check(self, nonce, now);
    int right = ha1 && method && strcmp(realm, self->realm) == 0 && *uri
                && strlen(response) == 32
                && (!*alg || strcasecmp(alg, "MD5") == 0)      /* MD5-sess and others: not offered */
                && (!*qop || (strcasecmp(qop, "auth") == 0 && *nc && *cnonce));
    if (right) {
        char expect[33], got[33];
        sip_auth_response(ha1, nonce, nc, cnonce, qop, method, uri, expect);
        for (int i = 0; i < 32; i++) {           /* hex digits may arrive in upper case */
            char c = response[i];
            got[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
        }
        got[32] = '\0';
        right = s_equal(expect, got, 32);
    }
    if (fresh == 0)
        return right ? SIP_AUTH_OK : SIP_AUTH_FAILED;
    return right ? SIP_AUTH_STALE : SIP_AUTH_NONCE;
}

/* ---- the client side --------------------------------------------------------- */

int sip_auth_remote_read(const osip_message_t *resp, sip_auth_remote_t *out)
{
    memset(out, 0, sizeof *out);
    out->proxy = resp->status_code == 407;
    const osip_list_t *list = out->proxy ? &resp->proxy_authenticates : &resp->www_authenticates;
    for (int i = 0; i < osip_list_size(list); i++) {
        osip_www_authenticate_t *w = osip_list_get(list, i);
        char alg[32], qop[128];
        if (!w || !w->auth_type || strcasecmp(w->auth_type, "Digest") != 0)
            continue;
        sip_auth_unquote(w->algorithm, alg, sizeof alg);
        if (*alg && strcasecmp(alg, "MD5") != 0)
            continue;                        /* MD5-sess, SHA-256: not answered (yet) */
        sip_auth_unquote(w->realm, out->realm, sizeof out->realm);
        sip_auth_unquote(w->nonce, out->nonce, sizeof out->nonce);
        sip_auth_unquote(w->opaque, out->opaque, sizeof out->opaque);
        if (!out->realm[0] || !out->nonce[0])
            continue;
        /* qop="auth,auth-int": look for the auth token itself */
        sip_auth_unquote(w->qop_options, qop, sizeof qop);
        char *save = NULL;
        for (char *t = strtok_r(qop, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
            if (strcasecmp(t, "auth") == 0)
                out->qop_auth = 1;
        return 0;
    }
    return -1;
}

int sip_auth_remote_value(sip_auth_remote_t *ch, const char *method, const char *uri,
                          const char *user, const char *secret, const char *cnonce,
                          char *buf, size_t len)
{
    char ha1[33], resp[33], nc[9] = "", cn[33] = "", opaque[300] = "";
    sip_auth_ha1(user, ch->realm, secret ? secret : "", ha1);
    if (ch->qop_auth) {
        snprintf(nc, sizeof nc, "%08x", ++ch->nc);
        if (cnonce)
            snprintf(cn, sizeof cn, "%s", cnonce);
        else {
            unsigned char r[8];
            if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
                unsigned long v = (unsigned long)getpid() ^ (unsigned long)time(NULL);
                memcpy(r, &v, sizeof r < sizeof v ? sizeof r : sizeof v);
            }
            s_hex(r, sizeof r, cn);
        }
    } else
        ch->nc++;
    sip_auth_response(ha1, ch->nonce, nc, cn, ch->qop_auth ? "auth" : NULL, method, uri, resp);
    if (ch->opaque[0])
        snprintf(opaque, sizeof opaque, ", opaque=\"%s\"", ch->opaque);
    int n;
    if (ch->qop_auth)
        n = snprintf(buf, len, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                     "response=\"%s\", algorithm=MD5, cnonce=\"%s\", qop=auth, nc=%s%s",
                     user, ch->realm, ch->nonce, uri, resp, cn, nc, opaque);
    else
        n = snprintf(buf, len, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                     "response=\"%s\", algorithm=MD5%s", user, ch->realm, ch->nonce, uri, resp,
                     opaque);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

int sip_auth_remote_answer(sip_auth_remote_t *ch, osip_message_t *req, const char *user,
                           const char *secret)
{
    char *uri = NULL, value[1400];
    if (!req->req_uri || osip_uri_to_str(req->req_uri, &uri) != 0 || !uri)
        return -1;
    int rc = sip_auth_remote_value(ch, req->sip_method, uri, user, secret, NULL, value,
                                   sizeof value);
    osip_free(uri);
    if (rc < 0)
        return -1;
    return ch->proxy ? osip_message_set_proxy_authorization(req, value)
                     : osip_message_set_authorization(req, value);
}
