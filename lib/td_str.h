/* td_str - small string helpers every process uses. */
#ifndef TD_STR_H
#define TD_STR_H

#include <stdint.h>

#include "td_hash.h"

/* The seeded td_hash_str (see td_hash.h): the unseeded FNV-1a that was here
 * let a remote party fill one chain of any table. An unseeded hash for
 * values that must agree across processes is td_hrw's, not this. */
static inline uint64_t td_str_hash(const char *s)
{
    return td_hash_str(s);
}

/* Strip leading and trailing white space in place; returns the new start. */
char *td_str_trim(char *s);

#endif
