/* vars - Asterisk's ${...} substitution, and splitting application arguments.
 *
 * vars_substitute() expands ${NAME}, ${NAME:offset}, ${NAME:offset:length}
 * and ${FUNC(args)} (with an optional :offset:length too), with nested
 * references inside the name (${${X}} and ${EXTEN:${N}}). The value of a
 * name comes from a lookup callback, so the caller decides which names exist
 * (channel variables, built-ins, functions, globals) and a later dialplan
 * language can add more without touching this file. Values are inserted as
 * they are: a value holding "${" is not expanded again, as in Asterisk.
 * $[expression] has its inside expanded first (${} and nested $[]), then
 * is evaluated by expr_eval (expr.h), which calls lookup with "FUNC(args)"
 * for a dialplan function used inside the expression. */
#ifndef VARS_H
#define VARS_H

#include <stddef.h>

#define VARS_MAX 4096   /* longest expansion of one argument string (Asterisk's VAR_BUF_SIZE) */

/* Return the value of name ("EXTEN", "CALLERID(num)"), either a string the
 * callee keeps alive until the next call or one written into buf (len
 * bytes); NULL if the name is unset (expands to ""). */
typedef const char *(*vars_lookup_fn)(void *arg, const char *name, char *buf, size_t len);

/* Expand in into out (outlen bytes, always terminated, truncated if need be).
 * Returns the length written. */
size_t vars_substitute(const char *in, char *out, size_t outlen, vars_lookup_fn lookup, void *arg);

/* Asterisk's substring rule for ${VAR:offset:length}: a negative offset
 * counts from the end; a negative length drops that many characters from the
 * end; a length past the end takes the rest. Copies into buf and returns a
 * pointer into it. */
char *vars_substring(const char *value, int offset, int length, char *buf, size_t len);

/* Split s in place at sep characters that are outside double quotes and
 * parentheses/brackets, as Asterisk's standard application arguments are;
 * removes the quotes and backslash escapes and trims spaces around each
 * field. Up to max fields (the last one keeps any further separators).
 * Returns the number of fields (an empty string gives 0). */
int vars_split_args(char *s, char sep, char **argv, int max);

#endif
