/* td_hrw - see td_hrw.h. */
#include "td_hrw.h"

#include <string.h>

#define S_FNV_OFFSET 14695981039346656037ULL
#define S_FNV_PRIME  1099511628211ULL

static uint64_t s_fnv(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= S_FNV_PRIME;
    }
    return h;
}

/* MurmurHash3's 64-bit finalizer: every input bit reaches every output bit. */
static uint64_t s_fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

uint64_t td_hrw_weight(const char *key, const char *node)
{
    uint64_t h = s_fnv(key ? key : "", S_FNV_OFFSET);
    h *= S_FNV_PRIME;                 /* the zero byte between them: h ^= 0, then multiply */
    h = s_fnv(node ? node : "", h);
    return s_fmix64(h);
}

int td_hrw_pick(const char *key, const char *const *nodes, size_t n)
{
    int best = -1;
    uint64_t best_w = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = td_hrw_weight(key, nodes[i]);
        if (best < 0 || w > best_w || (w == best_w && strcmp(nodes[i], nodes[best]) < 0)) {
            best = (int)i;
            best_w = w;
        }
    }
    return best;
}
