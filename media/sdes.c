/* sdes - one side's SRTP on libsrtp2; see sdes.h. */
#define TD_LOG_SUBSYS TD_LOG_MEDIA   /* td_log() here: [logging] media= */
#include "sdes.h"

#include <stdlib.h>
#include <string.h>
#include <srtp2/srtp.h>

#include "td_log.h"

/* libsrtp makes a stream per SSRC it protects, cloned from the policy.
 * What the worker protects comes partly from the other side, which may be
 * anyone: at most this many outbound SSRCs are kept, the oldest dropped
 * for a new one (a stream of 50 packets/s keeps its place easily). Inbound
 * streams are only made for packets that authenticate. */
#define SDES_TX_SSRCS 8

struct sdes {
    srtp_t tx;                         /* protects toward the side: local key */
    uint32_t tx_ssrc[SDES_TX_SSRCS];   /* the streams tx holds (network order) */
    uint8_t ntx, tx_next;
    srtp_t rx;                         /* unprotects from the side: its key */
    int taglen;                        /* 0 when inactive */
    uint8_t local[SDP_CRYPTO_KEY_LEN];
    uint8_t remote[SDP_CRYPTO_KEY_LEN];
};

static int s_ready;                    /* srtp_init done (once per process) */

int sdes_init(void)
{
    if (s_ready)
        return 0;
    srtp_err_status_t st = srtp_init();
    if (st != srtp_err_status_ok) {
        td_log(LOG_ERR, "libsrtp cannot start (error %d)", (int)st);
        return -1;
    }
    s_ready = 1;
    return 0;
}

sdes_t *sdes_new(void)
{
    if (sdes_init() < 0)
        return NULL;
    sdes_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (sdp_crypto_random_key(self->local) < 0) {
        td_log(LOG_ERR, "no random bytes for an SRTP key");
        free(self);
        return NULL;
    }
    return self;
}

void sdes_stop(sdes_t *self)
{
    if (self->tx)
        srtp_dealloc(self->tx);
    if (self->rx)
        srtp_dealloc(self->rx);
    self->tx = self->rx = NULL;
    self->taglen = 0;
    self->ntx = self->tx_next = 0;
}

void sdes_destroy(sdes_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sdes_t *self = *self_p;
    sdes_stop(self);
    memset(self, 0, sizeof *self);     /* the keys */
    free(self);
    *self_p = NULL;
}

const uint8_t *sdes_local_key(const sdes_t *self)
{
    return self->local;
}

int sdes_active(const sdes_t *self)
{
    return self->taglen;
}

/* One direction: any SSRC, the suite (SRTCP keeps its 80-bit tag with
 * the _32 suite, RFC 4568 section 6.2 and Asterisk's res_srtp). */
static int s_create(srtp_t *ctx, int taglen, const uint8_t *key, int inbound)
{
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (taglen == 32)
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
    else
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    policy.key = (unsigned char *)key;
    policy.window_size = 128;
    policy.next = NULL;
    srtp_err_status_t st = srtp_create(ctx, &policy);
    if (st != srtp_err_status_ok) {
        *ctx = NULL;
        td_log(LOG_WARNING, "cannot create an SRTP context (libsrtp error %d)", (int)st);
        return -1;
    }
    return 0;
}

int sdes_start(sdes_t *self, int taglen, const uint8_t remote_key[SDP_CRYPTO_KEY_LEN])
{
    taglen = taglen == 32 ? 32 : 80;
    if (self->taglen == taglen) {
        if (memcmp(self->remote, remote_key, sizeof self->remote) == 0)
            return 0;
        /* A new key from the side (a re-INVITE): only what it sends
         * changes; our streams to it go on as they were. */
        srtp_t rx;
        if (s_create(&rx, taglen, remote_key, 1) < 0)
            return -1;
        srtp_dealloc(self->rx);
        self->rx = rx;
        memcpy(self->remote, remote_key, sizeof self->remote);
        return 0;
    }
    sdes_stop(self);
    if (s_create(&self->tx, taglen, self->local, 0) < 0 ||
        s_create(&self->rx, taglen, remote_key, 1) < 0) {
        sdes_stop(self);
        return -1;
    }
    memcpy(self->remote, remote_key, sizeof self->remote);
    self->taglen = taglen;
    return 0;
}

/* Make room for the stream of ssrc (network order) in tx: see SDES_TX_SSRCS. */
static void s_tx_admit(sdes_t *self, uint32_t ssrc)
{
    for (uint8_t i = 0; i < self->ntx; i++)
        if (self->tx_ssrc[i] == ssrc)
            return;
    if (self->ntx < SDES_TX_SSRCS) {
        self->tx_ssrc[self->ntx++] = ssrc;
        return;
    }
    srtp_remove_stream(self->tx, self->tx_ssrc[self->tx_next]);
    self->tx_ssrc[self->tx_next] = ssrc;
    self->tx_next = (uint8_t)((self->tx_next + 1) % SDES_TX_SSRCS);
}

int sdes_protect(sdes_t *self, uint8_t *buf, size_t *len, size_t cap, int rtcp)
{
    if (!self->tx || *len + SDES_TRAILER_MAX > cap || *len > 0x7fffffff ||
        *len < (rtcp ? 8u : 12u))
        return -1;
    uint32_t ssrc;
    memcpy(&ssrc, buf + (rtcp ? 4 : 8), sizeof ssrc);
    s_tx_admit(self, ssrc);
    int n = (int)*len;
    srtp_err_status_t st = rtcp ? srtp_protect_rtcp(self->tx, buf, &n)
                                : srtp_protect(self->tx, buf, &n);
    if (st != srtp_err_status_ok)
        return -1;
    *len = (size_t)n;
    return 0;
}

int sdes_unprotect(sdes_t *self, uint8_t *buf, size_t *len, int rtcp, int *why)
{
    *why = 3;
    if (!self->rx || *len > 0x7fffffff)
        return -1;
    int n = (int)*len;
    srtp_err_status_t st = rtcp ? srtp_unprotect_rtcp(self->rx, buf, &n)
                                : srtp_unprotect(self->rx, buf, &n);
    if (st == srtp_err_status_ok) {
        *len = (size_t)n;
        *why = 0;
        return 0;
    }
    *why = st == srtp_err_status_auth_fail ? 1
         : (st == srtp_err_status_replay_fail || st == srtp_err_status_replay_old) ? 2 : 3;
    return -1;
}
