/* pattern - see pattern.h. */
#include "pattern.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scores as Asterisk ranks a position: bits 0-7 the lowest character of the
 * set, bits 8-15 its size; wildcards and the end of the pattern above any set. */
#define S_SCORE_ONE_OR_MORE  0x18000u
#define S_SCORE_ZERO_OR_MORE 0x28000u
#define S_SCORE_END          0x30000u

typedef struct {
    uint32_t score;
    uint8_t bits[32];      /* bit (7 - c % 8) of byte c / 8: lower characters in higher bits */
} s_pos_t;

struct pattern {
    char *text;
    char *key;
    size_t npos;
    s_pos_t pos[];         /* npos positions, the last one may be a wildcard */
};

static int s_has(const s_pos_t *p, unsigned char c)
{
    return (p->bits[c / 8] >> (7 - c % 8)) & 1;
}

static int s_add(s_pos_t *p, unsigned char c)
{
    if (s_has(p, c))
        return 0;
    p->bits[c / 8] |= (uint8_t)(1u << (7 - c % 8));
    return 1;
}

static void s_range(s_pos_t *p, int lo, int hi)
{
    int count = 0, min = 256;
    for (int c = lo; c <= hi; c++)
        count += s_add(p, (unsigned char)c);
    if (lo <= hi && lo < min)
        min = lo;
    p->score = (uint32_t)count << 8 | (uint32_t)min;
}

static int s_is_wild(const s_pos_t *p)
{
    return p->score == S_SCORE_ONE_OR_MORE || p->score == S_SCORE_ZERO_OR_MORE;
}

static int s_build_key(pattern_t *self)
{
    size_t len = 2;
    for (size_t i = 0; i < self->npos; i++)
        len += s_is_wild(&self->pos[i]) ? 1 : 2 + (self->pos[i].score >> 8);
    char *k = malloc(len);
    if (!k)
        return -1;
    char *o = k;
    *o++ = '_';
    for (size_t i = 0; i < self->npos; i++) {
        const s_pos_t *p = &self->pos[i];
        if (p->score == S_SCORE_ONE_OR_MORE) {
            *o++ = '.';
        } else if (p->score == S_SCORE_ZERO_OR_MORE) {
            *o++ = '!';
        } else if ((p->score >> 8) == 1) {
            *o++ = (char)(p->score & 0xff);
        } else {
            *o++ = '[';
            for (int c = 0; c < 256; c++)
                if (s_has(p, (unsigned char)c))
                    *o++ = (char)c;
            *o++ = ']';
        }
    }
    *o = '\0';
    self->key = k;
    return 0;
}

pattern_t *pattern_new(const char *text, char *err, size_t errlen)
{
    if (text[0] != '_') {
        snprintf(err, errlen, "pattern '%s' does not start with '_'", text);
        return NULL;
    }
    size_t n = strlen(text);
    pattern_t *self = calloc(1, sizeof *self + n * sizeof(s_pos_t));
    if (!self || !(self->text = strdup(text))) {
        free(self);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (const char *s = text + 1; *s; s++) {
        s_pos_t *p = &self->pos[self->npos];
        memset(p, 0, sizeof *p);
        switch (*s) {
        case '-':
            continue;
        case 'X': case 'x':
            s_range(p, '0', '9');
            break;
        case 'Z': case 'z':
            s_range(p, '1', '9');
            break;
        case 'N': case 'n':
            s_range(p, '2', '9');
            break;
        case '.':
            p->score = S_SCORE_ONE_OR_MORE;
            break;
        case '!':
            p->score = S_SCORE_ZERO_OR_MORE;
            break;
        case '[': {
            const char *end = strchr(s + 1, ']');
            if (!end) {
                snprintf(err, errlen, "bad pattern '%s': missing ']'", text);
                pattern_destroy(&self);
                return NULL;
            }
            int count = 0, min = 256;
            for (const char *c = s + 1; c < end; c++) {
                int lo = (unsigned char)c[0], hi = lo;
                if (c + 2 < end && c[1] == '-') {
                    hi = (unsigned char)c[2];
                    c += 2;
                }
                if (lo <= hi && lo < min)
                    min = lo;
                for (int ch = lo; ch <= hi; ch++)
                    count += s_add(p, (unsigned char)ch);
            }
            s = end;
            if (!count)            /* an empty set is ignored, as Asterisk does */
                continue;
            p->score = (uint32_t)count << 8 | (uint32_t)min;
            break;
        }
        default:
            s_add(p, (unsigned char)*s);
            p->score = 0x100u | (unsigned char)*s;
            break;
        }
        self->npos++;
        if (s_is_wild(p))
            break;                 /* nothing after a wildcard can matter */
    }
    if (self->npos == 0) {
        snprintf(err, errlen, "bad pattern '%s': empty", text);
        pattern_destroy(&self);
        return NULL;
    }
    if (s_build_key(self) < 0) {
        snprintf(err, errlen, "out of memory");
        pattern_destroy(&self);
        return NULL;
    }
    return self;
}

void pattern_destroy(pattern_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->key);
    free((*self_p)->text);
    free(*self_p);
    *self_p = NULL;
}

int pattern_match(const pattern_t *self, const char *exten)
{
    const unsigned char *d = (const unsigned char *)exten;
    size_t i = 0;
    for (;; i++) {
        while (*d == '-')
            d++;
        if (!*d || i == self->npos)
            break;
        const s_pos_t *p = &self->pos[i];
        if (s_is_wild(p))
            return 1;              /* "." with at least one character left, or "!" */
        if (!s_has(p, *d))
            return 0;
        d++;
    }
    if (*d)
        return 0;                  /* the number is longer than the pattern */
    if (i == self->npos)
        return 1;
    return self->pos[i].score == S_SCORE_ZERO_OR_MORE;
}

/* more = 0: can exten (plus anything) match; more = 1: must the match be
 * longer than exten. */
static int s_prefix(const pattern_t *self, const char *exten, int more)
{
    const unsigned char *d = (const unsigned char *)exten;
    size_t i = 0;
    for (;; i++) {
        while (*d == '-')
            d++;
        if (i == self->npos)
            return !*d && !more;   /* the pattern ended: only an exact match */
        const s_pos_t *p = &self->pos[i];
        if (s_is_wild(p))
            return 1;              /* "." and "!" take any number of digits more */
        if (!*d)
            return 1;              /* digits still to come can fill the rest */
        if (!s_has(p, *d))
            return 0;
        d++;
    }
}

int pattern_canmatch(const pattern_t *self, const char *exten)
{
    return s_prefix(self, exten, 0);
}

int pattern_matchmore(const pattern_t *self, const char *exten)
{
    return s_prefix(self, exten, 1);
}

int pattern_cmp(const pattern_t *a, const pattern_t *b)
{
    for (size_t i = 0;; i++) {
        uint32_t sa = i < a->npos ? a->pos[i].score : S_SCORE_END;
        uint32_t sb = i < b->npos ? b->pos[i].score : S_SCORE_END;
        if (sa != sb)
            return sa < sb ? -1 : 1;
        if (sa == S_SCORE_END)
            return 0;
        /* Same size and lowest character: the set holding lower characters
         * first. Lower characters sit in higher bits, so the bigger byte wins. */
        int c = memcmp(b->pos[i].bits, a->pos[i].bits, sizeof a->pos[i].bits);
        if (c)
            return c;
    }
}

const char *pattern_key(const pattern_t *self)
{
    return self->key;
}

const char *pattern_text(const pattern_t *self)
{
    return self->text;
}

char *pattern_literal_normalize(const char *exten, char *out, size_t len)
{
    size_t o = 0;
    for (const char *s = exten; *s; s++) {
        if (*s == '-')
            continue;
        if (o + 1 >= len)
            return NULL;
        out[o++] = *s;
    }
    if (!len)
        return NULL;
    out[o] = '\0';
    return out;
}
