/* td_regex - regcomp() with a bound on what compiling may cost.
 *
 * glibc's regcomp copies a subexpression once per repetition it implies:
 * "v++++...+" doubles the tree at every '+', "((a{255}){255}){255}" asks
 * for sixteen million nodes. A pattern written in a dialplan, or built
 * there from a caller's name or number ($[... : ...], REGEX(),
 * GROUP_MATCH_COUNT()), could so take the router's memory (found by
 * fuzz/router_expr: 1.1 GB for a 140-byte expression). td_regcomp
 * estimates the size of the compiled tree from the pattern alone, O(its
 * length), and refuses one past TD_REGEX_MAX_NODES with REG_ESIZE
 * ("Regular expression too big"), as if regcomp had; otherwise it is
 * regcomp. No real dialplan comes near the bound. */
#ifndef TD_REGEX_H
#define TD_REGEX_H

#include <regex.h>
#include <stddef.h>

#define TD_REGEX_MAX_NODES 50000

/* regcomp(re, pattern, flags), or REG_ESIZE without compiling (re is then
 * not to be freed) when the pattern would cost too much. */
int td_regcomp(regex_t *re, const char *pattern, int flags);

/* The estimate itself (at most TD_REGEX_MAX_NODES + 1): the atoms of the
 * pattern, each counted once per copy its repetitions make. Extended
 * syntax (REG_EXTENDED), as the dialplan uses it. */
size_t td_regex_cost(const char *pattern);

#endif
