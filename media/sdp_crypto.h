/* sdp_crypto - SDES key exchange (RFC 4568): the a=crypto attribute.
 *
 * What chan_sip (res_srtp.c, res_sdp_crypto_parse_offer) accepts, and how it
 * answers: a line it cannot use is ignored, and the stream is refused (488)
 * only when no usable line is left; see sdp_crypto_check. Suites:
 * AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (Asterisk builds the
 * AES-192/256 and GCM suites only with ENABLE_SRTP_* defines, off by
 * default), a 30-byte master key and salt.
 *
 * Shared by signaling (policy checks on offers and answers, sip.conf
 * encryption=) and the media worker (keys). No libsrtp here. */
#ifndef SDP_CRYPTO_H
#define SDP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define SDP_CRYPTO_KEY_LEN 30          /* AES-128 master key (16) + salt (14) */
#define SDP_CRYPTO_LINE_MAX 96         /* "<tag> <suite> inline:<40 chars>" and more */

typedef struct {
    uint32_t tag;                      /* 0..999999999 */
    uint8_t taglen;                    /* 80 or 32: AES_CM_128_HMAC_SHA1_<taglen> */
    uint8_t key[SDP_CRYPTO_KEY_LEN];
} sdp_crypto_t;

/* Read the value of an a=crypto attribute (what follows "a=crypto:"),
 * v[0..n): "<tag> <suite> <key-params> [<session-params>]", key-params one
 * or more "inline:<base64>[|<lifetime>][|<mki>:<len>]" separated by ';'.
 * Returns 0 and fills out, or -1 with a static reason in *why when chan_sip
 * would not use the line:
 *  - the tag is not 1-9 digits, or the suite or key-params are missing;
 *  - session parameters are present (chan_sip: "Unsupported crypto
 *    parameters");
 *  - the suite is not one of the two above;
 *  - no key-param is usable: not "inline:", a lifetime below 2^20 packets or
 *    unreadable, an MKI other than 1 (chan_sip accepts MKI "1:<n>" and does
 *    nothing more with it; so does Tandem);
 *  - the key is not 30 bytes of base64. Stricter than chan_sip here: its
 *    decoder takes a character outside the alphabet as 63, so a 40-character
 *    key with stray characters gives it a wrong key; Tandem refuses it. */
int sdp_crypto_parse(const char *v, size_t n, sdp_crypto_t *out, const char **why);

/* Write "<tag> AES_CM_128_HMAC_SHA1_<taglen> inline:<base64 key>" (the
 * value of an a=crypto line) into out. Returns the length, or -1 if out is
 * too small. */
int sdp_crypto_format(const sdp_crypto_t *c, char *out, size_t outlen);

/* A fresh master key and salt from the kernel's CSPRNG (getrandom). 0/-1. */
int sdp_crypto_random_key(uint8_t key[SDP_CRYPTO_KEY_LEN]);

/* Base64 (RFC 4648, with padding). encode: out gets 4*ceil(n/3) + 1 bytes
 * (NUL-terminated); returns the length or -1 if it does not fit. decode:
 * src[0..n) in the standard alphabet, '=' padding only at the end; returns
 * the bytes written, or -1 on a bad character, bad padding or overflow. */
int sdp_base64_encode(const uint8_t *src, size_t n, char *out, size_t outlen);
int sdp_base64_decode(const char *src, size_t n, uint8_t *out, size_t outlen);

#endif
