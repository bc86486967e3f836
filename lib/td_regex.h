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
 * regcomp. No real dialplan comes near the bound. Time is bounded the same
 * way (below). */
#ifndef TD_REGEX_H
#define TD_REGEX_H

#include <regex.h>
#include <stddef.h>

#define TD_REGEX_MAX_NODES 50000
/* A repetition of something that can match the empty string ("(a|)+",
 * "()*", "(x?){9}") costs glibc's regcomp time that grows with the square
 * of its copies and again with every such loop nested or stacked in it:
 * "(a|){5000}" took 5.7 s, "((((((((((a|)+)+)+)+)+)+)+)+)+)+" 13 s (found
 * by fuzz/router_expr). At most TD_REGEX_MAX_EMPTY_LOOPS of them one in
 * another, TD_REGEX_MAX_EMPTY_LOOP_NODES nodes in all of them (0.1 s at
 * worst here); no dialplan pattern comes near either. */
#define TD_REGEX_MAX_EMPTY_LOOPS      3
#define TD_REGEX_MAX_EMPTY_LOOP_NODES 1000

/* regcomp(re, pattern, flags), or REG_ESIZE without compiling (re is then
 * not to be freed) when the pattern would cost too much. */
int td_regcomp(regex_t *re, const char *pattern, int flags);

/* The estimate itself (at most TD_REGEX_MAX_NODES + 1): the atoms of the
 * pattern, each counted once per copy its repetitions make, or the most
 * when the loops over empty-matching parts pass their bounds. Extended
 * syntax (REG_EXTENDED), as the dialplan uses it. */
size_t td_regex_cost(const char *pattern);

#endif
