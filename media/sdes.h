/* sdes - one side's SRTP (RFC 3711) with keys from SDES (RFC 4568), on
 * libsrtp2: a context that protects what the worker sends to the side (the
 * worker's key, sent in its a=crypto) and one that unprotects what the side
 * sends (the side's key, from its a=crypto). RTCP goes through the same
 * contexts as SRTCP. Both take any SSRC: the worker relays the phones' own
 * streams, and plays its own.
 *
 * Protecting and unprotecting work in place in the caller's buffer and
 * allocate nothing (libsrtp makes a stream per new SSRC, once). A packet
 * that fails to unprotect (authentication, replay, malformed) is the
 * caller's to drop and count. */
#ifndef SDES_H
#define SDES_H

#include <stddef.h>
#include <stdint.h>

#include "sdp_crypto.h"

/* Room a packet needs beyond its length to be protected (SRTP tag, or the
 * SRTCP index and tag). */
#define SDES_TRAILER_MAX 32

typedef struct sdes sdes_t;

/* Start libsrtp (srtp_init), once per process; later calls do nothing once
 * it started. 0, or -1 (logged). Call it at start, before the event loop:
 * srtp_init runs every cipher's self-test (Debian's libsrtp2 initialises and
 * shuts down NSS for each one), some 30 ms of CPU that, left to the first
 * call's sdes_new, would stall the worker's loop in the middle of that
 * call's set-up, long enough under load to miss the bus heartbeat. */
int sdes_init(void);

/* A side's SRTP state with a fresh local key (getrandom). NULL on failure
 * (libsrtp cannot start, or no random bytes). Not active until sdes_start.
 * Starts libsrtp if sdes_init has not. */
sdes_t *sdes_new(void);
void sdes_destroy(sdes_t **self_p);

/* The worker's key for this side (SDP_CRYPTO_KEY_LEN bytes). */
const uint8_t *sdes_local_key(const sdes_t *self);

/* Start (or restart) with the suite (taglen 80 or 32) and the side's key.
 * Nothing is redone when both are as before (the same answer seen twice:
 * 183 then 200), so replay state survives; a new key with the same suite
 * only replaces the unprotecting context. 0, or -1 (logged): on a first
 * start or a new suite the side is then plain, on a new key it keeps the
 * old one. */
int sdes_start(sdes_t *self, int taglen, const uint8_t remote_key[SDP_CRYPTO_KEY_LEN]);
/* Back to plain RTP (the contexts are freed; the local key stays). */
void sdes_stop(sdes_t *self);
/* 0 (plain), or the active suite's tag length (80 or 32). */
int sdes_active(const sdes_t *self);

/* Protect buf[0..*len) in place for sending; cap is the buffer's size
 * (*len + SDES_TRAILER_MAX at least). rtcp: it is an RTCP packet. 0 and
 * the new *len, or -1. */
int sdes_protect(sdes_t *self, uint8_t *buf, size_t *len, size_t cap, int rtcp);
/* Unprotect a received buf[0..*len) in place. 0 and the plain *len, or -1:
 * 1 = authentication failed, 2 = replayed, 3 = anything else, in *why. */
int sdes_unprotect(sdes_t *self, uint8_t *buf, size_t *len, int rtcp, int *why);

#endif
