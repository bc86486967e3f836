/* expr - Asterisk's $[...] expressions (main/ast_expr2.y), evaluated.
 *
 * Operators, lowest precedence first (all left-associative but unary):
 *   a ? b :: c           conditional
 *   |  ||                a if a is neither "" nor 0, else b
 *   &  &&                a if neither is "" or 0, else 0
 *   = == != < > <= >=    numeric if both sides are numbers, else strcoll()
 *   + -                  (a non-number operand counts as absent, with a warning)
 *   * / %
 *   - !                  unary (right-associative)
 *   : =~ ~~              regex match anchored at the start / anywhere
 *                        (POSIX ERE: the first (...) group's text, else the
 *                        match length; no match: "" or 0), and concatenation
 *   ( )  FUNC(a,b)       grouping; ABS SQRT FLOOR CEIL ROUND TRUNC POW, other
 *                        names go to the lookup callback as "FUNC(a,b)"
 *
 * As Asterisk: numbers are long doubles printed with "%.18Lg" (so 7/2 is
 * 3.5 and 10/3 is 3.33333333333333333); a token that is only digits (with an
 * optional .digits) is a number, anything else a string; double-quoted
 * strings keep their quotes except as regex operands; x/0 warns and gives
 * 2147483647 (INT_MAX) and x%0 warns and gives 0. A syntax error logs a
 * warning and the result is "0", as ast_expr() returns (io.val stays NULL
 * when the parse fails; ast_expr writes "0" and returns 1, and
 * pbx_substitute_variables_helper_full copies those bytes into the line;
 * re-checked against Asterisk 20.9.3, the "empty string" is not
 * what the source does). An empty expression
 * gives "". ${...} must already be expanded (vars_substitute does that). */
#ifndef EXPR_H
#define EXPR_H

#include <stddef.h>

#include "vars.h"

/* Evaluate in into out (outlen bytes, always terminated). func resolves
 * dialplan functions called inside the expression (may be NULL). Returns 0,
 * or -1 after a syntax error (out holds "0"). */
int expr_eval(const char *in, char *out, size_t outlen, vars_lookup_fn func, void *arg);

#endif
