/* vars - see vars.h. */
#include "expr.h"
#include "td_str.h"
#include "vars.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH 8      /* nested ${ inside a name */

typedef struct {
    char *p;
    size_t len, n;         /* capacity, bytes written (never past len - 1) */
} s_out_t;

static void s_put(s_out_t *o, const char *s, size_t n)
{
    if (o->n + 1 >= o->len)
        return;
    size_t room = o->len - 1 - o->n;
    if (n > room)
        n = room;
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

char *vars_substring(const char *value, int offset, int length, char *buf, size_t len)
{
    if (!len)
        return buf;
    size_t vl = strlen(value);
    if (vl >= len)
        vl = len - 1;
    memcpy(buf, value, vl);
    buf[vl] = '\0';
    long lr = (long)vl;
    long off = offset;
    if (off < 0) {
        off += lr;
        if (off < 0)
            off = 0;
    }
    if (off >= lr)
        return buf + lr;
    char *ret = buf + off;
    if (length >= 0) {
        if (length < lr - off)
            ret[length] = '\0';
    } else if (lr - off + length > 0) {
        ret[lr - off + length] = '\0';
    } else {
        ret[0] = '\0';
    }
    return ret;
}

/* "name:offset:length" -> name, and whether a ':' was there. Parentheses
 * protect colons inside function arguments. As Asterisk's sscanf("%d:%d"), a
 * missing offset stops the parse: "${X::3}" is the whole of X. */
static int s_split_name(char *name, int *offset, int *length)
{
    int parens = 0;
    *offset = 0;
    *length = INT_MAX;
    for (char *p = name; *p; p++) {
        if (*p == '(') {
            parens++;
        } else if (*p == ')') {
            parens--;
        } else if (*p == ':' && parens == 0) {
            *p++ = '\0';
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p)
                return 1;
            *offset = v < INT_MIN ? INT_MIN : v > INT_MAX ? INT_MAX : (int)v;
            if (*end != ':')
                return 1;
            p = end + 1;
            v = strtol(p, &end, 10);
            if (end != p)
                *length = v < INT_MIN ? INT_MIN : v > INT_MAX ? INT_MAX : (int)v;
            return 1;
        }
    }
    return 0;
}

static void s_expand(const char *in, size_t inlen, s_out_t *o, vars_lookup_fn lookup, void *arg,
                     int depth);

/* $[...] at in[d]: expand what is inside (${} and nested $[]), evaluate it
 * and put the result. Brackets nest as in pbx_substitute_variables: every
 * '[' opens, every ']' closes. Returns the index after the closing ']'; an
 * unterminated $[ is kept as written. */
static size_t s_expression(const char *in, size_t inlen, size_t d, s_out_t *o,
                           vars_lookup_fn lookup, void *arg, int depth)
{
    size_t j = d + 2;
    int brackets = 1;
    for (; j < inlen; j++) {
        if (in[j] == '[') {
            brackets++;
        } else if (in[j] == ']' && --brackets == 0) {
            break;
        }
    }
    if (j >= inlen) {
        s_put(o, in + d, inlen - d);
        return inlen;
    }
    char text[VARS_MAX], result[VARS_MAX];
    s_out_t sub = { text, sizeof text, 0 };
    text[0] = '\0';
    if (depth < S_MAX_DEPTH)
        s_expand(in + d + 2, j - (d + 2), &sub, lookup, arg, depth + 1);
    expr_eval(text, result, sizeof result, lookup, arg);
    s_put(o, result, strlen(result));
    return j + 1;
}

static void s_expand(const char *in, size_t inlen, s_out_t *o, vars_lookup_fn lookup, void *arg,
                     int depth)
{
    size_t i = 0;
    while (i < inlen) {
        const char *dollar = memchr(in + i, '$', inlen - i);
        if (!dollar) {
            s_put(o, in + i, inlen - i);
            return;
        }
        size_t d = (size_t)(dollar - in);
        s_put(o, in + i, d - i);
        if (d + 1 < inlen && in[d + 1] == '[') {
            i = s_expression(in, inlen, d, o, lookup, arg, depth);
            continue;
        }
        if (d + 1 >= inlen || in[d + 1] != '{') {
            s_put(o, "$", 1);
            i = d + 1;
            continue;
        }
        /* Find the matching '}', counting every brace in between. */
        size_t j = d + 2;
        int braces = 1, nested = 0;
        for (; j < inlen; j++) {
            if (in[j] == '{') {
                braces++;
            } else if (in[j] == '}') {
                if (--braces == 0)
                    break;
            } else if (in[j] == '$') {
                nested = 1;
            }
        }
        if (j >= inlen) {          /* no closing brace: keep the text as written */
            s_put(o, in + d, inlen - d);
            return;
        }
        char name[VARS_MAX];
        size_t nl = j - (d + 2);
        if (nested && depth < S_MAX_DEPTH) {
            s_out_t sub = { name, sizeof name, 0 };
            name[0] = '\0';
            s_expand(in + d + 2, nl, &sub, lookup, arg, depth + 1);
        } else {
            if (nl >= sizeof name)
                nl = sizeof name - 1;
            memcpy(name, in + d + 2, nl);
            name[nl] = '\0';
        }
        int offset, length;
        int has_range = s_split_name(name, &offset, &length);
        char vbuf[VARS_MAX];
        vbuf[0] = '\0';
        const char *value = lookup ? lookup(arg, name, vbuf, sizeof vbuf) : NULL;
        if (value) {
            if (has_range) {
                char sbuf[VARS_MAX];
                value = vars_substring(value, offset, length, sbuf, sizeof sbuf);
                s_put(o, value, strlen(value));
            } else {
                s_put(o, value, strlen(value));
            }
        }
        i = j + 1;
    }
}

size_t vars_substitute(const char *in, char *out, size_t outlen, vars_lookup_fn lookup, void *arg)
{
    if (!outlen)
        return 0;
    out[0] = '\0';
    s_out_t o = { out, outlen, 0 };
    s_expand(in, strlen(in), &o, lookup, arg, 0);
    return o.n;
}

int vars_split_args(char *s, char sep, char **argv, int max)
{
    if (max <= 0)
        return 0;
    s = td_str_trim(s);
    if (!*s)
        return 0;
    int argc = 0;
    char *field = s, *w = s;
    int quoted = 0, parens = 0;
    for (char *r = s;; r++) {
        char c = *r;
        if (c == '\0' || (c == sep && !quoted && parens == 0 && argc < max - 1)) {
            *w = '\0';
            argv[argc++] = td_str_trim(field);
            if (c == '\0')
                break;
            field = w = r + 1;
            continue;
        }
        if (c == '\\' && r[1]) {
            *w++ = *++r;
        } else if (c == '"') {
            quoted = !quoted;
        } else {
            if (!quoted) {
                if (c == '(' || c == '[' || c == '{')
                    parens++;
                else if ((c == ')' || c == ']' || c == '}') && parens > 0)
                    parens--;
            }
            *w++ = c;
        }
    }
    return argc;
}
