/* td_hrw - rendezvous (highest random weight) hashing: which of a set of
 * nodes owns a key. Every node of the cluster computes the same answer from
 * the same set, without talking: the owner of `key` is the node whose
 * td_hrw_weight(key, node) is highest. Adding a node moves to it only the
 * keys it now wins (about 1/N of them); removing one moves only its own keys,
 * each to the node that was second for it. Used to pick the router that owns
 * a call (the call id over the live routers' identities). */
#ifndef TD_HRW_H
#define TD_HRW_H

#include <stddef.h>
#include <stdint.h>

/* The weight of (key, node): a 64-bit FNV-1a over key, a zero byte, then
 * node, finished with MurmurHash3's fmix64 so that nodes whose names differ
 * in their last character still get unrelated weights. The same on every
 * host and every build (no seed, no pointer, no endianness). */
uint64_t td_hrw_weight(const char *key, const char *node);

/* The index in nodes[0..n-1] of the owner of key, or -1 when n is 0. Ties
 * (equal weights, in practice never) go to the node whose name sorts first,
 * so the answer does not depend on the order of nodes. O(n). */
int td_hrw_pick(const char *key, const char *const *nodes, size_t n);

#endif
