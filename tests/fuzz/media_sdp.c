/* Fuzz harness: SDP reading and rewriting (media/sdp.c, media/sdp_crypto.c),
 * as the worker and signaling run them on a body a phone sent: parse, then
 * every rewrite (relay, answer, filter, SRTP, restamp) into a roomy buffer
 * and into one that is too small, and each a=crypto value on its own. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"
#include "sdp_crypto.h"

static void s_rewrites(const char *sdp, size_t len, const sdp_media_t *m, char *out,
                       size_t outlen)
{
    char err[128];
    static const uint8_t codecs[] = { 8, 0 };
    uint8_t keep[3];
    size_t nkeep = sdp_keep(m, codecs, 2, 1, keep);
    sdp_rewrite(sdp, len, "192.0.2.1", 40000, out, outlen, err, sizeof err);
    sdp_answer(sdp, len, "192.0.2.1", 40000, keep, nkeep, out, outlen, err, sizeof err);
    nkeep = sdp_keep(m, codecs, 2, 2, keep);
    sdp_filter(sdp, len, keep, nkeep, out, outlen, err, sizeof err);
    sdp_set_crypto(sdp, len, 1, "1 AES_CM_128_HMAC_SHA1_80 inline:"
                   "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", out, outlen);
    sdp_set_crypto(sdp, len, 0, NULL, out, outlen);
    sdp_origin_t o;
    if (sdp_origin(sdp, len, &o) == 0) {
        o.version++;
        sdp_restamp(sdp, len, &o, SDP_DIR_SEND, out, outlen);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sdp = (const char *)data;
    char err[128];
    sdp_media_t m;
    memset(&m, 0, sizeof m);
    if (sdp_parse(sdp, size, &m, err, sizeof err) == 0) {
        sdp_crypto_offer_status(&m, 0);
        sdp_crypto_offer_status(&m, 1);
        sdp_crypto_answer_status(&m, 0);
        sdp_crypto_answer_status(&m, 1);
    }
    /* Out buffers sized exactly, so that an overrun is ASan's to see. */
    size_t big = 2 * size + 512;
    char *out = malloc(big);
    s_rewrites(sdp, size, &m, out, big);
    free(out);
    size_t small = size / 2 + 1;
    out = malloc(small);
    s_rewrites(sdp, size, &m, out, small);
    free(out);
    /* Each line on its own as an a=crypto value (what follows "a=crypto:"). */
    for (size_t i = 0; i < size;) {
        const char *nl = memchr(sdp + i, '\n', size - i);
        size_t n = nl ? (size_t)(nl - sdp - i) : size - i;
        if (n > 9 && memcmp(sdp + i, "a=crypto:", 9) == 0) {
            sdp_crypto_t c;
            const char *why = NULL;
            if (sdp_crypto_parse(sdp + i + 9, n - 9, &c, &why) == 0) {
                char line[SDP_CRYPTO_LINE_MAX];
                sdp_crypto_format(&c, line, sizeof line);
            }
            uint8_t key[64];
            sdp_base64_decode(sdp + i + 9, n - 9, key, sizeof key);
        }
        i += n + 1;
    }
    return 0;
}
