/* td_hash - the one hash for tables keyed by what a remote party chooses.
 *
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012), 64-bit output, keyed with one random 128-bit seed per process read
 * from getrandom() on first use (or at td_hash_init()). An attacker who
 * does not know the seed cannot choose Call-IDs, branches, user names or
 * addresses that share a bucket, so a chained table stays O(1) whatever
 * is sent to it (the unseeded FNV-1a it replaces let a script fill one chain).
 *
 * Values differ between processes and between runs: never persist them,
 * send them to another process or use them to pick a node. Rendezvous
 * hashing (td_hrw) stays on its unseeded FNV for that reason.
 *
 * The streaming form (begin, add..., end) hashes a key made of several
 * parts without copying them together; td_hash_bytes and friends are the
 * one-call forms. Not thread-safe per state; the seed is set once
 * (pthread_once) and only read afterwards. */
#ifndef TD_HASH_H
#define TD_HASH_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

typedef struct {
    uint64_t v0, v1, v2, v3;
    uint64_t tail;              /* the bytes not yet in a full word, little-endian */
    size_t len;                 /* bytes added so far */
} td_hash_t;

/* Read the process seed now (each main calls it at start, so the first
 * packet does not pay for getrandom). Later calls do nothing. */
void td_hash_init(void);

/* Start a hash with the process seed, or with an explicit 16-byte key. */
void td_hash_begin(td_hash_t *h);
void td_hash_begin_key(td_hash_t *h, const uint8_t key[16]);
/* Add n bytes; _lower folds ASCII A-Z to a-z while hashing (no copy). */
void td_hash_add(td_hash_t *h, const void *p, size_t n);
void td_hash_add_lower(td_hash_t *h, const void *p, size_t n);
/* Add a NUL-terminated string's bytes (not the NUL); NULL adds nothing. */
void td_hash_add_str(td_hash_t *h, const char *s);
/* The 64-bit result; h is spent. */
uint64_t td_hash_end(td_hash_t *h);

/* One-call forms, with the process seed. NULL strings hash as "". */
uint64_t td_hash_bytes(const void *p, size_t n);
uint64_t td_hash_str(const char *s);
uint64_t td_hash_str_lower(const char *s);      /* ASCII case-blind */
/* A socket address: family, port and the whole address (IPv4 or IPv6), so
 * addresses that differ only in their low bytes spread over the table.
 * Other families hash their family alone. */
uint64_t td_hash_addr(const struct sockaddr *sa);

/* SipHash-2-4 of [p, p + n) under key: the reference function (tests). */
uint64_t td_siphash24(const uint8_t key[16], const void *p, size_t n);

#endif
