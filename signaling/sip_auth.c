/* sip_auth - see sip_auth.h. */
#include "sip_auth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <osipparser2/osip_md5.h>
#include <osipparser2/osip_parser.h>

/* One minted nonce. serial 0: an empty slot. nc is the highest nonce count
 * accepted with qop=auth, 0 for none yet, and NC_SPENT once the nonce has
 * answered a request without qop (RFC 2069 form: good for one request). */
#define NC_SPENT 0xffffffffu
typedef struct {
    uint64_t serial;
    long minted;
    uint32_t nc;
    unsigned offered;          /* SIP_AUTH_* bits: the algorithms challenged with it */
} s_slot_t;

struct sip_auth {
    char realm[128];
    unsigned char ipad[64];    /* HMAC-SHA-256 key blocks of the per-process secret */
    unsigned char opad[64];
    char fake_md5[33];         /* HA1s checked for an unknown user, so that its answer */
    char fake_sha256[65];      /* costs the same work as a known user's (never match) */
    unsigned lifetime;         /* seconds a nonce is current */
    const char *why;           /* the reason of the last verify (static text) */
    sip_auth_failure_fn on_failure;
    void *on_failure_arg;
    uint64_t next;             /* the serial of the next nonce; slot = serial % SIP_AUTH_NONCES */
    s_slot_t slots[SIP_AUTH_NONCES];
};

/* ---- SHA-256 (FIPS 180-4), for RFC 7616 digests --------------------------- */

typedef struct {
    uint32_t h[8];
    uint64_t len;              /* bytes hashed so far */
    unsigned char buf[64];
    size_t fill;
} s_sha256_t;

static const uint32_t s_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void s_sha256_block(s_sha256_t *c, const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16
               | (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
    uint32_t e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + s_k[i]
                      + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
    c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void s_sha256_init(s_sha256_t *c)
{
    static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(c->h, iv, sizeof iv);
    c->len = 0;
    c->fill = 0;
}

static void s_sha256_update(s_sha256_t *c, const unsigned char *p, size_t n)
{
    c->len += n;
    while (n) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->buf + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill == 64) {
            s_sha256_block(c, c->buf);
            c->fill = 0;
        }
    }
}

static void s_sha256_final(s_sha256_t *c, unsigned char out[32])
{
    uint64_t bits = c->len * 8;
    unsigned char pad = 0x80, zero = 0, lenb[8];
    s_sha256_update(c, &pad, 1);
    while (c->fill != 56)
        s_sha256_update(c, &zero, 1);
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    s_sha256_update(c, lenb, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

/* ---- helpers -------------------------------------------------------------- */

static void s_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* H(parts joined by ':') (NULL ends the list) as lowercase hex: 32 digits
 * for MD5, 64 for SHA-256. */
static void s_hash_join(sip_auth_alg_t alg, char *out, const char *const *parts)
{
    if (alg == SIP_AUTH_SHA256) {
        s_sha256_t c;
        unsigned char digest[32];
        s_sha256_init(&c);
        for (size_t i = 0; parts[i]; i++) {
            if (i)
                s_sha256_update(&c, (const unsigned char *)":", 1);
            s_sha256_update(&c, (const unsigned char *)parts[i], strlen(parts[i]));
        }
        s_sha256_final(&c, digest);
        s_hex(digest, 32, out);
        return;
    }
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

static size_t s_hexlen(sip_auth_alg_t alg)
{
    return alg == SIP_AUTH_SHA256 ? 64 : 32;
}

const char *sip_auth_alg_name(sip_auth_alg_t alg)
{
    return alg == SIP_AUTH_SHA256 ? "SHA-256" : "MD5";
}

sip_auth_alg_t sip_auth_alg_parse(const char *name)
{
    if (!name || !*name || strcasecmp(name, "MD5") == 0)
        return SIP_AUTH_MD5;              /* RFC 2617 3.2.1: absent means MD5 */
    if (strcasecmp(name, "SHA-256") == 0)
        return SIP_AUTH_SHA256;
    return 0;                             /* MD5-sess, SHA-512-256, ...: not offered */
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

/* n random bytes; without an entropy source still unique per run, if
 * guessable. */
static void s_random(unsigned char *out, size_t n)
{
    if (getrandom(out, n, 0) == (ssize_t)n)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t x = (uint64_t)tv.tv_sec * 1000003u ^ (uint64_t)tv.tv_usec ^ (uint64_t)getpid() << 32;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;                            /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = (unsigned char)x;
    }
}

sip_auth_t *sip_auth_new(const char *realm)
{
    sip_auth_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->realm, sizeof self->realm, "%s", realm ? realm : "tandem");
    unsigned char key[32], fake[32];
    s_random(key, sizeof key);
    for (size_t i = 0; i < 64; i++) {
        unsigned char k = i < sizeof key ? key[i] : 0;
        self->ipad[i] = k ^ 0x36;
        self->opad[i] = k ^ 0x5c;
    }
    s_random(fake, sizeof fake);
    s_hex(fake, 16, self->fake_md5);
    s_hex(fake, 32, self->fake_sha256);
    self->lifetime = SIP_AUTH_NONCE_TTL;
    self->why = "";
    self->next = 1;
    return self;
}

void sip_auth_set_lifetime(sip_auth_t *self, unsigned seconds)
{
    self->lifetime = seconds ? seconds : SIP_AUTH_NONCE_TTL;
}

unsigned sip_auth_lifetime(const sip_auth_t *self)
{
    return self->lifetime;
}

void sip_auth_set_on_failure(sip_auth_t *self, sip_auth_failure_fn fn, void *arg)
{
    self->on_failure = fn;
    self->on_failure_arg = arg;
}

void sip_auth_on_failure(sip_auth_t *self, const struct sockaddr_in *from, const char *user,
                         const char *method, const char *why)
{
    if (self->on_failure)
        self->on_failure(self->on_failure_arg, from, user ? user : "", method ? method : "",
                         why ? why : "");
}

const char *sip_auth_why(const sip_auth_t *self)
{
    return self->why;
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

void sip_auth_ha1_alg(sip_auth_alg_t alg, const char *user, const char *realm,
                      const char *password, char *out)
{
    const char *parts[] = { user, realm, password, NULL };
    s_hash_join(alg, out, parts);
}

void sip_auth_ha1(const char *user, const char *realm, const char *password, char out[33])
{
    sip_auth_ha1_alg(SIP_AUTH_MD5, user, realm, password, out);
}

void sip_auth_response_alg(sip_auth_alg_t alg, const char *ha1, const char *nonce,
                           const char *nc, const char *cnonce, const char *qop,
                           const char *method, const char *uri, char *out)
{
    char ha2[65];
    const char *a2[] = { method, uri, NULL };
    s_hash_join(alg, ha2, a2);
    if (qop && *qop) {
        const char *parts[] = { ha1, nonce, nc ? nc : "", cnonce ? cnonce : "", qop, ha2, NULL };
        s_hash_join(alg, out, parts);
    } else {
        const char *parts[] = { ha1, nonce, ha2, NULL };
        s_hash_join(alg, out, parts);
    }
}

void sip_auth_response(const char *ha1, const char *nonce, const char *nc,
                       const char *cnonce, const char *qop, const char *method,
                       const char *uri, char out[33])
{
    sip_auth_response_alg(SIP_AUTH_MD5, ha1, nonce, nc, cnonce, qop, method, uri, out);
}

/* HMAC-SHA-256(secret, serial ":" source address) cut to 128 bits, as 32
 * hex digits. The port is left out on purpose (sip_auth.h). */
static void s_nonce_mac(const sip_auth_t *self, const char *serial,
                        const struct sockaddr_in *from, char out[33])
{
    unsigned char addr[4] = { 0, 0, 0, 0 }, inner[32], outer[32];
    if (from)
        memcpy(addr, &from->sin_addr.s_addr, sizeof addr);
    s_sha256_t c;
    s_sha256_init(&c);
    s_sha256_update(&c, self->ipad, sizeof self->ipad);
    s_sha256_update(&c, (const unsigned char *)serial, strlen(serial));
    s_sha256_update(&c, (const unsigned char *)":", 1);
    s_sha256_update(&c, addr, sizeof addr);
    s_sha256_final(&c, inner);
    s_sha256_init(&c);
    s_sha256_update(&c, self->opad, sizeof self->opad);
    s_sha256_update(&c, inner, sizeof inner);
    s_sha256_final(&c, outer);
    s_hex(outer, 16, out);
}

void sip_auth_nonce(sip_auth_t *self, const struct sockaddr_in *from, long now,
                    unsigned offered, char *buf, size_t len)
{
    char serial[17], mac[33];
    uint64_t n = self->next++;
    if (!self->next)
        self->next = 1;                          /* 0 marks an empty slot */
    s_slot_t *s = &self->slots[n % SIP_AUTH_NONCES];  /* the oldest nonce gives way */
    s->serial = n;
    s->minted = now;
    s->nc = 0;
    s->offered = offered ? offered : SIP_AUTH_MD5;
    snprintf(serial, sizeof serial, "%016llx", (unsigned long long)n);
    s_nonce_mac(self, serial, from, mac);
    snprintf(buf, len, "%s%s", serial, mac);
}

/* The slot of a nonce we minted for this source address and still hold, or
 * NULL with *why set (forged, malformed, another process's or address's, or
 * evicted by newer ones). *expired: older than the lifetime. */
static s_slot_t *s_nonce_find(sip_auth_t *self, const char *nonce,
                              const struct sockaddr_in *from, long now, int *expired,
                              const char **why)
{
    *expired = 0;
    *why = "not a nonce of ours";
    if (strlen(nonce) != SIP_AUTH_NONCE_LEN)
        return NULL;
    char serial[17], mac[33];
    memcpy(serial, nonce, 16);
    serial[16] = '\0';
    for (int i = 0; i < 16; i++)
        if (!strchr("0123456789abcdef", serial[i]))
            return NULL;
    s_nonce_mac(self, serial, from, mac);
    if (!s_equal(mac, nonce + 16, 32)) {
        *why = "nonce not ours or minted for another address";
        return NULL;
    }
    uint64_t n = strtoull(serial, NULL, 16);
    s_slot_t *s = &self->slots[n % SIP_AUTH_NONCES];
    if (!n || s->serial != n) {
        *why = "nonce evicted by newer ones";
        return NULL;
    }
    *expired = now - s->minted > (long)self->lifetime || now < s->minted;
    if (*expired)
        *why = "nonce expired";
    return s;
}

int sip_auth_challenge(sip_auth_t *self, osip_message_t *resp, const struct sockaddr_in *from,
                       int stale, long now, const unsigned char *algs)
{
    static const unsigned char md5_only[] = { SIP_AUTH_MD5, 0 };
    if (!algs || !algs[0])
        algs = md5_only;
    unsigned offered = 0;
    for (size_t i = 0; algs[i]; i++)
        offered |= algs[i];
    char nonce[SIP_AUTH_NONCE_LEN + 1], value[512];
    sip_auth_nonce(self, from, now, offered, nonce, sizeof nonce);
    /* One nonce for every algorithm offered: it is one challenge the phone
     * answers once, with the algorithm it picks (RFC 8760 2.4: one header
     * per algorithm, the preferred first). */
    for (size_t i = 0; algs[i]; i++) {
        snprintf(value, sizeof value,
                 "Digest realm=\"%s\", nonce=\"%s\", algorithm=%s, qop=\"auth\"%s",
                 self->realm, nonce, sip_auth_alg_name(algs[i]), stale ? ", stale=true" : "");
        if (osip_message_set_www_authenticate(resp, value) != 0)
            return -1;
    }
    return 0;
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

/* nc: exactly 8 hex digits (RFC 7616 3.4), not 0. 0 when malformed. */
static uint32_t s_nc(const char *nc)
{
    if (strlen(nc) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        if (!strchr("0123456789abcdefABCDEF", nc[i]))
            return 0;
    return (uint32_t)strtoul(nc, NULL, 16);
}

/* The value of hex digit c, or -1. */
static int s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The next character of a URI part, %XX decoded (RFC 3261 19.1.4: escaped
 * and unescaped characters compare alike); *i moves past it. */
static int s_unescaped(const char *p, size_t n, size_t *i)
{
    if (p[*i] == '%' && *i + 2 < n && s_hexval(p[*i + 1]) >= 0 && s_hexval(p[*i + 2]) >= 0) {
        int v = s_hexval(p[*i + 1]) * 16 + s_hexval(p[*i + 2]);
        *i += 3;
        return v;
    }
    return (unsigned char)p[(*i)++];
}

/* a[0..an) and b (a C string) equal once %XX escapes are decoded. */
static int s_part_equal(const char *a, size_t an, const char *b)
{
    size_t i = 0, j = 0, bn = b ? strlen(b) : 0;
    while (i < an && j < bn)
        if (s_unescaped(a, an, &i) != s_unescaped(b, bn, &j))
            return 0;
    return i == an && j == bn;
}

/* Whether the digest uri may stand for the Request-URI (RFC 2617 3.2.2.5):
 * the same scheme and, where both name a user, the same user part, %XX
 * escapes decoded. The user part is the number dialled (what Tandem routes
 * on, and what a replay would change); the host and port are left out
 * because a proxy in front of us (Kamailio's dispatcher, an SBC) rewrites
 * them on the way, so the phone's digest uri names the proxy. A digest uri
 * with no user part names the server, not a number: sipp's [authentication]
 * sends "sip:SERVER_IP:PORT" unless told otherwise, and Asterisk accepts it
 * (it compares nothing), so we do too; such an answer cannot be turned to
 * another number anyway, since its nonce serves one source and its nc
 * cannot be replayed. Parameters and headers aside. A non-SIP scheme must
 * match character for character. No allocation on the SIP path. */
static int s_uri_matches(const char *duri, const osip_uri_t *ru)
{
    if (!ru || !duri || !*duri)
        return 0;
    const char *colon = strchr(duri, ':');
    const char *scheme = ru->scheme ? ru->scheme : "sip";
    if (!colon || (size_t)(colon - duri) != strlen(scheme)
        || strncasecmp(duri, scheme, strlen(scheme)) != 0)
        return 0;
    if (strcasecmp(scheme, "sips") != 0 && strcasecmp(scheme, "sip") != 0) {
        char *text = NULL;
        int same = osip_uri_to_str(ru, &text) == 0 && text && strcmp(text, duri) == 0;
        osip_free(text);
        return same;
    }
    const char *p = colon + 1, *end = p + strcspn(p, "?");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (!at || !ru->username || !*ru->username)
        return 1;                                /* one side names no user */
    size_t ulen = strcspn(p, ":@");              /* the password, if any, aside */
    if (p + ulen > at)
        ulen = (size_t)(at - p);
    return s_part_equal(p, ulen, ru->username);
}

sip_auth_result_t sip_auth_verify(sip_auth_t *self, osip_authorization_t *cred,
                                  const osip_uri_t *req_uri, const struct sockaddr_in *from,
                                  const char *method, const char *ha1_md5,
                                  const char *ha1_sha256, long now)
{
    if (!cred) {
        self->why = "no credentials";
        return SIP_AUTH_MISSING;
    }
    char realm[160], nonce[80], uri[512], response[80], qop[16], nc[16], cnonce[128], alg[16];
    char user[96];
    sip_auth_unquote(cred->realm, realm, sizeof realm);
    sip_auth_unquote(cred->nonce, nonce, sizeof nonce);
    sip_auth_unquote(cred->uri, uri, sizeof uri);
    sip_auth_unquote(cred->response, response, sizeof response);
    sip_auth_unquote(cred->message_qop, qop, sizeof qop);
    sip_auth_unquote(cred->nonce_count, nc, sizeof nc);
    sip_auth_unquote(cred->cnonce, cnonce, sizeof cnonce);
    sip_auth_unquote(cred->algorithm, alg, sizeof alg);
    sip_auth_unquote(cred->username, user, sizeof user);

    /* chan_sip's check_auth looks at the nonce first: one that is not the
     * current challenge's gets a new challenge (stale=true if the answer
     * was right), and only a wrong answer to the current one is a failure.
     * Here "current" is: minted by this process for this source address,
     * still in the table, younger than the lifetime, and not used up (RFC
     * 7616 3.4.5: a nonce answers one request, or with qop=auth one per
     * increasing nc). */
    int expired = 0;
    const char *nonce_why = "";
    s_slot_t *slot = s_nonce_find(self, nonce, from, now, &expired, &nonce_why);
    sip_auth_alg_t a = sip_auth_alg_parse(alg);
    if (slot && !(slot->offered & a))
        a = 0;                                   /* an algorithm this nonce was not offered with */
    const char *ha1 = a == SIP_AUTH_SHA256 ? ha1_sha256 : ha1_md5;
    /* An unknown user (chan_sip's bogus peer) is checked against a random
     * HA1 that never matches: the same hashing, so the same time. */
    int known = ha1 && *ha1;
    if (!known)
        ha1 = a == SIP_AUTH_SHA256 ? self->fake_sha256 : self->fake_md5;
    uint32_t ncv = *qop ? s_nc(nc) : 0;
    int fields = a && method && strcmp(realm, self->realm) == 0 && *uri
                 && strlen(response) == s_hexlen(a)
                 && (!*qop || (strcasecmp(qop, "auth") == 0 && ncv && *cnonce));
    /* RFC 2617 3.2.2.5: the digest uri must be the Request-URI, or a
     * sniffed Authorization places a request anywhere (the hash covers the
     * digest uri only). chan_sip 20 does not compare them: its check_auth
     * hashes S_OR(the digest uri, the Request-URI) and nothing more. We
     * compare, and answer a mismatch as chan_sip answers any wrong
     * response: 403 to the current nonce, else a new challenge. */
    int uri_ok = s_uri_matches(uri, req_uri);
    int right = 0;
    {
        sip_auth_alg_t h = a ? a : SIP_AUTH_MD5;
        char expect[65], got[65];
        size_t n = s_hexlen(h), rn = strlen(response);
        sip_auth_response_alg(h, ha1, nonce, nc, cnonce, qop, method ? method : "", uri, expect);
        for (size_t i = 0; i < n; i++) {         /* hex digits may arrive in upper case */
            char c = i < rn ? response[i] : '\0';
            got[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
        }
        got[n] = '\0';
        right = s_equal(expect, got, n) && fields && known && uri_ok;
    }
    const char *wrong = !known ? "unknown user" : !uri_ok && fields
                        ? "digest uri is not the Request-URI" : "wrong response";
    int current = slot && !expired;
    if (current) {
        /* a replay: the nonce already answered a request without qop, or
         * this nc is not above the last one accepted */
        int replay = slot->nc == NC_SPENT || (*qop ? ncv <= slot->nc : slot->nc != 0);
        if (replay) {
            current = 0;
            nonce_why = slot->nc == NC_SPENT ? "nonce already used (no qop: one request)"
                                             : "nc not above the last one (a replay)";
        }
    }
    if (!current) {
        self->why = right ? nonce_why : wrong;
        if (!right)
            sip_auth_on_failure(self, from, user, method, wrong);
        return right ? SIP_AUTH_STALE : SIP_AUTH_NONCE;
    }
    if (!right) {
        self->why = wrong;
        sip_auth_on_failure(self, from, user, method, wrong);
        return SIP_AUTH_FAILED;
    }
    slot->nc = *qop ? ncv : NC_SPENT;
    self->why = "ok";
    return SIP_AUTH_OK;
}

/* ---- the client side --------------------------------------------------------- */

int sip_auth_remote_read(const osip_message_t *resp, sip_auth_remote_t *out)
{
    memset(out, 0, sizeof *out);
    int proxy = resp->status_code == 407;
    const osip_list_t *list = proxy ? &resp->proxy_authenticates : &resp->www_authenticates;
    /* RFC 8760 2.4 lists the server's preference first; we answer with
     * SHA-256 whenever it is offered (the stronger hash), else with the
     * first MD5 challenge. */
    for (int pass = 0; pass < 2; pass++) {
        sip_auth_alg_t want = pass == 0 ? SIP_AUTH_SHA256 : SIP_AUTH_MD5;
        for (int i = 0; i < osip_list_size(list); i++) {
            osip_www_authenticate_t *w = osip_list_get(list, i);
            char alg[32], qop[128];
            if (!w || !w->auth_type || strcasecmp(w->auth_type, "Digest") != 0)
                continue;
            sip_auth_unquote(w->algorithm, alg, sizeof alg);
            if (sip_auth_alg_parse(alg) != want)
                continue;                    /* MD5-sess, SHA-512-256: not answered */
            memset(out, 0, sizeof *out);
            out->proxy = proxy;
            out->alg = want;
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
    }
    memset(out, 0, sizeof *out);
    return -1;
}

int sip_auth_remote_value(sip_auth_remote_t *ch, const char *method, const char *uri,
                          const char *user, const char *secret, const char *cnonce,
                          char *buf, size_t len)
{
    sip_auth_alg_t alg = ch->alg ? ch->alg : SIP_AUTH_MD5;
    char ha1[65], resp[65], nc[9] = "", cn[129] = "", opaque[300] = "";
    sip_auth_ha1_alg(alg, user, ch->realm, secret ? secret : "", ha1);
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
    sip_auth_response_alg(alg, ha1, ch->nonce, nc, cn, ch->qop_auth ? "auth" : NULL, method, uri,
                          resp);
    if (ch->opaque[0])
        snprintf(opaque, sizeof opaque, ", opaque=\"%s\"", ch->opaque);
    int n;
    if (ch->qop_auth)
        n = snprintf(buf, len, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                     "response=\"%s\", algorithm=%s, cnonce=\"%s\", qop=auth, nc=%s%s",
                     user, ch->realm, ch->nonce, uri, resp, sip_auth_alg_name(alg), cn, nc,
                     opaque);
    else
        n = snprintf(buf, len, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                     "response=\"%s\", algorithm=%s%s", user, ch->realm, ch->nonce, uri, resp,
                     sip_auth_alg_name(alg), opaque);
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
