/* td_str - small string helpers every process uses. */
#ifndef TD_STR_H
#define TD_STR_H

#include <stdint.h>

#define TD_STR_HASH_SEED 14695981039346656037ULL

/* FNV-1a, 64 bits, continuing from h (start with TD_STR_HASH_SEED). */
static inline uint64_t td_str_hash_from(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static inline uint64_t td_str_hash(const char *s)
{
    return td_str_hash_from(s, TD_STR_HASH_SEED);
}

/* Strip leading and trailing white space in place; returns the new start. */
char *td_str_trim(char *s);

#endif
