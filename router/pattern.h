/* pattern - Asterisk extension patterns: "_" followed by
 *   X (0-9)  Z (1-9)  N (2-9)  (letters case-insensitive)
 *   [1-5a]   a set of characters and ranges
 *   .        one or more of anything, !  zero or more of anything
 *   -        ignored (eye candy, "_NXX-XXXX"), in patterns and in dialled numbers
 * Anything else matches itself. A pattern is compiled once at load.
 *
 * Order: pattern_cmp() ranks patterns as Asterisk's ext_cmp() does: position
 * by position, a smaller set beats a bigger one, at equal size the set with
 * the lower characters comes first, "." sorts after every set and "!" after
 * ".", and a pattern that has ended sorts after everything. The first pattern
 * in that order that matches wins. */
#ifndef PATTERN_H
#define PATTERN_H

#include <stddef.h>

typedef struct pattern pattern_t;

/* Compile text (with its leading '_'). NULL and a reason in err if malformed. */
pattern_t *pattern_new(const char *text, char *err, size_t errlen);
void pattern_destroy(pattern_t **self_p);

/* 1 if exten matches (E_MATCH: the whole number), else 0. */
int pattern_match(const pattern_t *self, const char *exten);

/* As Asterisk's E_CANMATCH: 1 if exten, or exten followed by more digits,
 * matches. As E_MATCHMORE: 1 if exten followed by at least one more digit
 * matches (WaitExten keeps collecting while this holds). */
int pattern_canmatch(const pattern_t *self, const char *exten);
int pattern_matchmore(const pattern_t *self, const char *exten);

/* <0 if a sorts before b (is more specific), 0 if they are the same pattern. */
int pattern_cmp(const pattern_t *a, const pattern_t *b);

/* A canonical spelling: two patterns have the same key iff pattern_cmp() == 0.
 * Borrowed until destroy. */
const char *pattern_key(const pattern_t *self);

/* The pattern as written. Borrowed until destroy. */
const char *pattern_text(const pattern_t *self);

/* A literal extension without its '-' separators, into out. Returns out, or
 * NULL if it does not fit. */
char *pattern_literal_normalize(const char *exten, char *out, size_t len);

#endif
