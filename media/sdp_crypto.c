/* sdp_crypto - the a=crypto attribute of RFC 4568; see sdp_crypto.h. */
#include "sdp_crypto.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char s_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sdp_base64_encode(const uint8_t *src, size_t n, char *out, size_t outlen)
{
    size_t need = (n + 2) / 3 * 4;
    if (need + 1 > outlen)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)src[i + 1] << 8;
        if (i + 2 < n)
            v |= src[i + 2];
        out[o++] = s_b64[(v >> 18) & 63];
        out[o++] = s_b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? s_b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? s_b64[v & 63] : '=';
    }
    out[o] = '\0';
    return (int)o;
}

static int s_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int sdp_base64_decode(const char *src, size_t n, uint8_t *out, size_t outlen)
{
    size_t pad = 0;
    while (pad < 2 && n > pad && src[n - 1 - pad] == '=')
        pad++;
    size_t data = n - pad;
    if (pad && n % 4)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < data; i++) {
        int v = s_b64_value(src[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outlen)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6)                    /* one stray character: not a whole byte */
        return -1;
    return (int)o;
}

/* The next field of [*pp, end) up to sep (or end); advances past sep. */
static int s_field(const char **pp, const char *end, char sep, const char **f, size_t *fn)
{
    const char *p = *pp;
    if (!p)
        return 0;
    const char *s = memchr(p, sep, (size_t)(end - p));
    *f = p;
    *fn = (size_t)((s ? s : end) - p);
    *pp = s ? s + 1 : NULL;            /* NULL: no field left */
    return 1;
}

/* A decimal that fits in 32 bits (what sscanf("%30u") would read whole). */
static int s_uint(const char *p, size_t n, unsigned long long *out)
{
    if (n == 0 || n > 10)
        return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > 0xFFFFFFFFull)
        return -1;
    *out = v;
    return 0;
}

/* One key-param "inline:<key>[|lifetime][|mki:len]": 0 and the key, or -1
 * (chan_sip skips the param; the caller tries the next). A lifetime below
 * 2^20 packets, one it cannot read, or an MKI whose value does not start
 * with '1', is skipped as chan_sip does. */
static int s_key_param(const char *p, size_t n, uint8_t *key, int *key_len, const char **why)
{
    const char *end = p + n;
    const char *colon = memchr(p, ':', n);
    if (!colon || (size_t)(colon - p) != 6 || memcmp(p, "inline", 6) != 0) {
        *why = "key method is not inline:";
        return -1;
    }
    const char *q = colon + 1, *key64, *life = NULL, *mki = NULL;
    size_t key64n, lifen = 0, mkin = 0;
    s_field(&q, end, '|', &key64, &key64n);
    if (s_field(&q, end, '|', &life, &lifen)) {
        if (memchr(life, ':', lifen)) {        /* no lifetime: this is the MKI */
            mki = life;
            mkin = lifen;
            life = NULL;
        } else {
            s_field(&q, end, '|', &mki, &mkin);
        }
    }
    if (mki && (mkin == 0 || mki[0] != '1')) {
        *why = "MKI other than 1";
        return -1;
    }
    if (life) {
        unsigned long long v;
        double packets;
        if (lifen >= 2 && life[0] == '2' && life[1] == '^') {
            if (s_uint(life + 2, lifen - 2, &v) < 0) {
                *why = "bad key lifetime";
                return -1;
            }
            packets = (double)(1ull << (v > 48 ? 48 : v));
        } else {
            if (s_uint(life, lifen, &v) < 0) {
                *why = "bad key lifetime";
                return -1;
            }
            packets = (double)v;
        }
        if (packets < 1048576.0) {
            *why = "key lifetime below 2^20 packets";
            return -1;
        }
    }
    *key_len = sdp_base64_decode(key64, key64n, key, SDP_CRYPTO_KEY_LEN);
    if (*key_len < 0)
        *why = "key is not base64 (or longer than 30 bytes)";
    return 0;
}

int sdp_crypto_parse(const char *v, size_t n, sdp_crypto_t *out, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    const char *end = v + n, *p = v, *tag, *suite, *params = NULL, *sess;
    size_t tagn, suiten, paramsn = 0, sessn;
    /* chan_sip splits on single spaces (strsep); so does this. */
    if (!s_field(&p, end, ' ', &tag, &tagn) || !s_field(&p, end, ' ', &suite, &suiten) ||
        suiten == 0) {
        *why = "needs a tag and a suite";
        return -1;
    }
    int have_params = s_field(&p, end, ' ', &params, &paramsn);
    if (s_field(&p, end, ' ', &sess, &sessn) && sessn > 0) {
        *why = "session parameters are not supported";
        return -1;
    }
    unsigned long long t;
    if (tagn > 9 || s_uint(tag, tagn, &t) < 0) {
        *why = "tag is not 1-9 digits";
        return -1;
    }
    uint8_t taglen;
    if (suiten == 23 && memcmp(suite, "AES_CM_128_HMAC_SHA1_80", 23) == 0)
        taglen = 80;
    else if (suiten == 23 && memcmp(suite, "AES_CM_128_HMAC_SHA1_32", 23) == 0)
        taglen = 32;
    else {
        *why = "unsupported crypto suite";
        return -1;
    }
    if (!have_params || paramsn == 0) {
        *why = "no key parameters";
        return -1;
    }
    /* The first usable key-param wins; chan_sip then checks its length. */
    const char *q = params, *pend = params + paramsn, *kp;
    size_t kpn;
    int key_len = -1, found = 0;
    uint8_t key[SDP_CRYPTO_KEY_LEN];
    while (s_field(&q, pend, ';', &kp, &kpn))
        if (s_key_param(kp, kpn, key, &key_len, why) == 0) {
            found = 1;
            break;
        }
    if (!found)
        return -1;
    if (key_len != SDP_CRYPTO_KEY_LEN) {
        if (key_len >= 0)
            *why = "key is not 30 bytes";
        return -1;
    }
    out->tag = (uint32_t)t;
    out->taglen = taglen;
    memcpy(out->key, key, sizeof out->key);
    *why = NULL;
    return 0;
}

int sdp_crypto_format(const sdp_crypto_t *c, char *out, size_t outlen)
{
    char key64[48];
    sdp_base64_encode(c->key, sizeof c->key, key64, sizeof key64);
    int n = snprintf(out, outlen, "%u AES_CM_128_HMAC_SHA1_%u inline:%s", c->tag,
                     c->taglen == 32 ? 32u : 80u, key64);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int sdp_crypto_random_key(uint8_t key[SDP_CRYPTO_KEY_LEN])
{
    return getrandom(key, SDP_CRYPTO_KEY_LEN, 0) == SDP_CRYPTO_KEY_LEN ? 0 : -1;
}
