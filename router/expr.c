/* expr - see expr.h. A recursive-descent parser with one function per
 * precedence level of ast_expr2.y; it evaluates as it parses. Values live
 * in an arena that dies with the evaluation. */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "arena.h"
#include "expr.h"
#include "td_log.h"
#include "td_regex.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH 200          /* nested parentheses and unary operators */
#define S_NUM_FMT "%.18Lg"       /* ast_expr2.y's FP___PRINTF */

typedef enum {
    T_END, T_WORD, T_OR, T_AND, T_EQ, T_NE, T_LT, T_GT, T_LE, T_GE, T_PLUS, T_MINUS,
    T_MUL, T_DIV, T_MOD, T_COND, T_COLONCOLON, T_COLON, T_EQTILDE, T_CONCAT, T_NOT,
    T_LP, T_RP, T_COMMA
} s_tok_t;

/* ast_expr2.y's three kinds: a number, a string that looks like one (made
 * a number when an operator needs it), and a string. */
typedef enum { V_NUM, V_NUMSTR, V_STR } s_type_t;

typedef struct {
    s_type_t type;
    long double n;
    const char *s;
} s_val_t;

typedef struct {
    const char *p;               /* next unread character */
    s_tok_t tok;                 /* current token */
    const char *ts;              /* its text (T_WORD) */
    size_t tl;
    int numeric;                 /* T_WORD made of digits[.digits] */
    arena_t *arena;
    int err, depth;
    vars_lookup_fn func;
    void *arg;
    const char *input;
} s_parser_t;

/* --- values ----------------------------------------------------------- */

static s_val_t s_num(long double n)
{
    s_val_t v = { V_NUM, n, NULL };
    return v;
}

/* make_str(): digits and dots (starting with a digit, '-' or '.', though a
 * '-' then fails the loop) make a numeric string. */
static s_val_t s_str(s_parser_t *ps, const char *s, size_t n)
{
    char *c = arena_strndup(ps->arena, s, n);
    s_val_t v = { V_STR, 0, c ? c : "" };
    if (!c)
        return v;
    int isnum = isdigit((unsigned char)c[0]) || c[0] == '-' || c[0] == '.';
    for (size_t i = 0; isnum && c[i]; i++)
        if (!isdigit((unsigned char)c[i]) && c[i] != '.')
            isnum = 0;
    if (isnum)
        v.type = V_NUMSTR;
    return v;
}

static int s_to_number(s_val_t *v)
{
    if (v->type == V_NUM)
        return 1;
    if (v->type == V_STR)
        return 0;
    errno = 0;
    long double n = strtold(v->s, NULL);
    if (errno) {
        td_log(LOG_WARNING, "Conversion of %s to number under/overflowed!", v->s);
        v->type = V_STR;
        return 0;
    }
    v->type = V_NUM;
    v->n = n;
    return 1;
}

static void s_to_string(s_parser_t *ps, s_val_t *v)
{
    if (v->type != V_NUM)
        return;
    char buf[64];
    snprintf(buf, sizeof buf, S_NUM_FMT, v->n);
    char *c = arena_strdup(ps->arena, buf);
    v->type = V_STR;
    v->s = c ? c : "";
}

/* Regex operands lose their double quotes (all of them, as strip_quotes). */
static void s_strip_quotes(s_parser_t *ps, s_val_t *v)
{
    size_t n = strlen(v->s);
    if (!n || v->s[0] != '"' || v->s[n - 1] != '"')
        return;
    char *c = arena_alloc(ps->arena, n + 1);
    if (!c)
        return;
    char *w = c;
    for (const char *r = v->s; *r; r++)
        if (*r != '"')
            *w++ = *r;
    *w = '\0';
    v->s = c;
}

static int s_is_zero_or_null(s_val_t *v)
{
    if (v->type == V_NUM)
        return v->n == 0;
    return !*v->s || (s_to_number(v) && v->n == 0);
}

/* --- lexer ------------------------------------------------------------ */

static int s_word_char(const char *p)
{
    unsigned char c = (unsigned char)*p;
    if (isalnum(c) || c >= 0x80 || strchr(".';\\_^#@", c))
        return c ? 1 : 0;
    if (c == '$' && p[1] && p[1] != '{')   /* flex: ($[^{]) takes two */
        return 2;
    return 0;
}

static void s_next(s_parser_t *ps)
{
    static const struct { const char *op; s_tok_t tok; } ops[] = {
        { "||", T_OR }, { "&&", T_AND }, { "==", T_EQ }, { "=~", T_EQTILDE },
        { "~~", T_CONCAT }, { ">=", T_GE }, { "<=", T_LE }, { "!=", T_NE },
        { "::", T_COLONCOLON }, { "|", T_OR }, { "&", T_AND }, { "=", T_EQ },
        { ">", T_GT }, { "<", T_LT }, { "+", T_PLUS }, { ",", T_COMMA }, { "-", T_MINUS },
        { "*", T_MUL }, { "/", T_DIV }, { "%", T_MOD }, { "?", T_COND }, { "!", T_NOT },
        { ":", T_COLON }, { "(", T_LP }, { ")", T_RP },
    };
    for (;;) {
        const char *p = ps->p;
        if (!*p) {
            ps->tok = T_END;
            return;
        }
        if (strchr(" \t\r\n", *p)) {
            ps->p++;
            continue;
        }
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            size_t n = strlen(ops[i].op);
            if (strncmp(p, ops[i].op, n) == 0) {
                ps->tok = ops[i].tok;
                ps->p += n;
                return;
            }
        }
        if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (q) {
                ps->tok = T_WORD;
                ps->ts = p;
                ps->tl = (size_t)(q + 1 - p);
                ps->numeric = 0;
                ps->p = q + 1;
                return;
            }
        }
        size_t n = 0;
        for (int k; (k = s_word_char(p + n)) > 0;)
            n += (size_t)k;
        if (!n) {                  /* flex's default rule: the character is dropped */
            ps->p++;
            continue;
        }
        size_t d = 0;
        while (isdigit((unsigned char)p[d]))
            d++;
        if (d && p[d] == '.' && isdigit((unsigned char)p[d + 1])) {
            d++;
            while (isdigit((unsigned char)p[d]))
                d++;
        }
        ps->tok = T_WORD;
        ps->ts = p;
        ps->tl = n;
        ps->numeric = d == n;      /* equal lengths: the number rule comes first */
        ps->p = p + n;
        return;
    }
}

static s_val_t s_error(s_parser_t *ps)
{
    if (!ps->err) {
        ps->err = 1;
        td_log(LOG_WARNING, "ast_yyerror(): syntax error near column %d; Input: %.200s",
               (int)(ps->p - ps->input), ps->input);
    }
    return s_num(0);
}

/* --- operators (ast_expr2.y's op_*) --------------------------------------- */

static s_val_t s_compare(s_parser_t *ps, s_tok_t op, s_val_t a, s_val_t b)
{
    int c;
    if (a.type == V_STR || b.type == V_STR) {
        s_to_string(ps, &a);
        s_to_string(ps, &b);
        c = strcoll(a.s, b.s);
    } else {
        s_to_number(&a);
        s_to_number(&b);
        c = a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
    }
    switch (op) {
    case T_EQ: return s_num(c == 0);
    case T_NE: return s_num(c != 0);
    case T_LT: return s_num(c < 0);
    case T_GT: return s_num(c > 0);
    case T_LE: return s_num(c <= 0);
    default:   return s_num(c >= 0);
    }
}

static s_val_t s_arith(s_tok_t op, s_val_t a, s_val_t b)
{
    int an = s_to_number(&a), bn = s_to_number(&b);
    switch (op) {
    case T_PLUS:
        /* A non-number side is left out (a warning only if it is the left). */
        if (!an) {
            td_log(LOG_WARNING, "non-numeric argument");
            return bn ? b : s_num(0);
        }
        return bn ? s_num(a.n + b.n) : a;
    case T_MINUS:
        if (!an) {
            td_log(LOG_WARNING, "non-numeric argument");
            return bn ? s_num(-b.n) : s_num(0);
        }
        if (!bn) {
            td_log(LOG_WARNING, "non-numeric argument");
            return a;
        }
        return s_num(a.n - b.n);
    case T_MUL:
        if (!an || !bn) {
            td_log(LOG_WARNING, "non-numeric argument");
            return s_num(0);
        }
        return s_num(a.n * b.n);
    case T_DIV:
        /* Asterisk answers INT_MAX to a division by zero (and to a
         * non-number divisor). */
        if (!an) {
            td_log(LOG_WARNING, "non-numeric argument");
            return s_num(0);
        }
        if (!bn) {
            td_log(LOG_WARNING, "non-numeric argument");
            return s_num(INT_MAX);
        }
        if (b.n == 0) {
            td_log(LOG_WARNING, "division by zero");
            return s_num(INT_MAX);
        }
        return s_num(a.n / b.n);
    default: /* T_MOD: fmodl; x%0 warns and is the 0 divisor */
        if (!an || !bn) {
            td_log(LOG_WARNING, "non-numeric argument");
            return s_num(0);
        }
        if (b.n == 0) {
            td_log(LOG_WARNING, "div by zero");
            return b;
        }
        return s_num(fmodl(a.n, b.n));
    }
}

static s_val_t s_regex(s_parser_t *ps, s_tok_t op, s_val_t a, s_val_t b)
{
    s_to_string(ps, &a);
    s_to_string(ps, &b);
    s_strip_quotes(ps, &a);
    s_strip_quotes(ps, &b);
    if (op == T_CONCAT) {
        size_t al = strlen(a.s), bl = strlen(b.s);
        char *c = arena_alloc(ps->arena, al + bl + 1);
        if (!c)
            return s_str(ps, "", 0);
        memcpy(c, a.s, al);
        memcpy(c + al, b.s, bl + 1);
        return s_str(ps, c, al + bl);
    }
    regex_t re;
    int rc = td_regcomp(&re, b.s, REG_EXTENDED);   /* bounded: td_regex.h */
    if (rc) {
        char err[256];
        regerror(rc, &re, err, sizeof err);
        td_log(LOG_WARNING, "regcomp() error : %s", err);
        return s_str(ps, "", 0);
    }
    regmatch_t m[2];
    s_val_t v;
    /* ':' is anchored at the start: a match that begins later does not count. */
    if (regexec(&re, a.s, 2, m, 0) == 0 && (op == T_EQTILDE || m[0].rm_so == 0)) {
        if (re.re_nsub > 0 && m[1].rm_so >= 0)
            v = s_str(ps, a.s + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
        else
            v = s_num((long double)(m[0].rm_eo - m[0].rm_so));
    } else {
        v = re.re_nsub == 0 ? s_num(0) : s_str(ps, "", 0);
    }
    regfree(&re);
    return v;
}

/* --- functions inside an expression (op_func) ------------------------- */

typedef struct {
    const char *name;
    long double (*f1)(long double);
    long double (*f2)(long double, long double);
} s_math_t;

static long double s_absl(long double x) { return x < 0 ? -x : x; }

static const s_math_t s_math[] = {
    { "ABS", s_absl, NULL }, { "COS", cosl, NULL }, { "SIN", sinl, NULL },
    { "TAN", tanl, NULL }, { "ACOS", acosl, NULL }, { "ASIN", asinl, NULL },
    { "ATAN", atanl, NULL }, { "SQRT", sqrtl, NULL }, { "FLOOR", floorl, NULL },
    { "CEIL", ceill, NULL }, { "ROUND", roundl, NULL }, { "RINT", rintl, NULL },
    { "TRUNC", truncl, NULL }, { "EXP", expl, NULL }, { "EXP2", exp2l, NULL },
    { "LOG", logl, NULL }, { "LOG2", log2l, NULL }, { "LOG10", log10l, NULL },
    { "ATAN2", NULL, atan2l }, { "POW", NULL, powl }, { "REMAINDER", NULL, remainderl },
};

static s_val_t s_call(s_parser_t *ps, const char *name, s_val_t *args, int nargs)
{
    if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") != strlen(name)) {
        td_log(LOG_ERR, "Error! '%s' is not possibly a function name!", name);
        return s_num(0);
    }
    for (size_t i = 0; i < sizeof s_math / sizeof s_math[0]; i++) {
        if (strcmp(name, s_math[i].name) != 0)
            continue;
        int want = s_math[i].f1 ? 1 : 2;
        if (nargs != want) {
            td_log(LOG_WARNING, "Wrong args to %s() function", name);
            return s_num(0);
        }
        long double x[2] = { 0, 0 };
        for (int k = 0; k < want; k++)
            x[k] = s_to_number(&args[k]) ? args[k].n : 0;
        return s_num(want == 1 ? s_math[i].f1(x[0]) : s_math[i].f2(x[0], x[1]));
    }
    /* A dialplan function: "NAME(a,b)" through the caller's lookup. */
    char call[VARS_MAX];
    size_t n = (size_t)snprintf(call, sizeof call, "%s(", name);
    for (int k = 0; k < nargs && n < sizeof call; k++) {
        s_to_string(ps, &args[k]);
        n += (size_t)snprintf(call + n, sizeof call - n, "%s%s", k ? "," : "", args[k].s);
    }
    if (n < sizeof call)
        snprintf(call + n, sizeof call - n, ")");
    char buf[VARS_MAX];
    buf[0] = '\0';
    const char *r = ps->func ? ps->func(ps->arg, call, buf, sizeof buf) : NULL;
    if (!r)
        r = "";
    /* is_really_num(): only digits, '-', '.', blanks (even none) is a number. */
    if (strspn(r, "-0123456789. \t") == strlen(r))
        return s_num(strtold(r, NULL));
    return s_str(ps, r, strlen(r));
}

/* --- parser ----------------------------------------------------------- */

static s_val_t s_cond(s_parser_t *ps);
static s_val_t s_unary(s_parser_t *ps);

static s_val_t s_primary(s_parser_t *ps)
{
    if (ps->tok == T_LP) {
        s_next(ps);
        s_val_t v = s_cond(ps);
        if (ps->tok != T_RP)
            return s_error(ps);
        s_next(ps);
        return v;
    }
    if (ps->tok != T_WORD)
        return s_error(ps);
    s_val_t v = s_str(ps, ps->ts, ps->tl);
    v.type = ps->numeric ? V_NUMSTR : V_STR;  /* the lexer's rule, not make_str's */
    s_next(ps);
    if (ps->tok != T_LP)
        return v;
    /* TOKEN ( arglist ): at least one argument; a trailing comma adds "". */
    s_val_t args[16];
    int nargs = 0;
    s_next(ps);
    for (;;) {
        s_val_t a;
        if (nargs > 0 && (ps->tok == T_COMMA || ps->tok == T_RP))
            a = s_str(ps, "", 0);
        else
            a = s_cond(ps);
        if (ps->err)
            return a;
        if (nargs < (int)(sizeof args / sizeof args[0]))
            args[nargs++] = a;
        if (ps->tok == T_RP)
            break;
        if (ps->tok != T_COMMA)
            return s_error(ps);
        s_next(ps);
    }
    s_next(ps);
    return s_call(ps, v.s, args, nargs);
}

static s_val_t s_match(s_parser_t *ps)
{
    s_val_t a = s_primary(ps);
    while (!ps->err && (ps->tok == T_COLON || ps->tok == T_EQTILDE || ps->tok == T_CONCAT)) {
        s_tok_t op = ps->tok;
        s_next(ps);
        s_val_t b = (ps->tok == T_NOT || ps->tok == T_MINUS) ? s_unary(ps) : s_primary(ps);
        if (ps->err)
            break;
        a = s_regex(ps, op, a, b);
    }
    return a;
}

static s_val_t s_unary(s_parser_t *ps)
{
    if (ps->tok != T_NOT && ps->tok != T_MINUS)
        return s_match(ps);
    if (++ps->depth > S_MAX_DEPTH)
        return s_error(ps);
    s_tok_t op = ps->tok;
    s_next(ps);
    s_val_t a = s_unary(ps);
    ps->depth--;
    if (ps->err)
        return a;
    if (op == T_MINUS) {
        if (!s_to_number(&a)) {
            td_log(LOG_WARNING, "non-numeric argument");
            return s_num(0);
        }
        return s_num(-a.n);
    }
    /* op_compl: a string is false if "" or "0", else as atoi() reads it. */
    int truth;
    if (a.type == V_NUM)
        truth = a.n != 0;
    else
        truth = a.s[0] && strcmp(a.s, "0") != 0 && atoi(a.s) != 0;
    return s_num(!truth);
}

static s_val_t s_product(s_parser_t *ps)
{
    s_val_t a = s_unary(ps);
    while (!ps->err && (ps->tok == T_MUL || ps->tok == T_DIV || ps->tok == T_MOD)) {
        s_tok_t op = ps->tok;
        s_next(ps);
        s_val_t b = s_unary(ps);
        if (!ps->err)
            a = s_arith(op, a, b);
    }
    return a;
}

static s_val_t s_sum(s_parser_t *ps)
{
    s_val_t a = s_product(ps);
    while (!ps->err && (ps->tok == T_PLUS || ps->tok == T_MINUS)) {
        s_tok_t op = ps->tok;
        s_next(ps);
        s_val_t b = s_product(ps);
        if (!ps->err)
            a = s_arith(op, a, b);
    }
    return a;
}

static s_val_t s_comparison(s_parser_t *ps)
{
    s_val_t a = s_sum(ps);
    while (!ps->err && ps->tok >= T_EQ && ps->tok <= T_GE) {
        s_tok_t op = ps->tok;
        s_next(ps);
        s_val_t b = s_sum(ps);
        if (!ps->err)
            a = s_compare(ps, op, a, b);
    }
    return a;
}

static s_val_t s_and(s_parser_t *ps)
{
    s_val_t a = s_comparison(ps);
    while (!ps->err && ps->tok == T_AND) {
        s_next(ps);
        s_val_t b = s_comparison(ps);
        if (!ps->err)
            a = (s_is_zero_or_null(&a) || s_is_zero_or_null(&b)) ? s_num(0) : a;
    }
    return a;
}

static s_val_t s_or(s_parser_t *ps)
{
    s_val_t a = s_and(ps);
    while (!ps->err && ps->tok == T_OR) {
        s_next(ps);
        s_val_t b = s_and(ps);
        if (!ps->err)
            a = s_is_zero_or_null(&a) ? b : a;
    }
    return a;
}

/* a ? b :: c, left-associative; b may itself hold a conditional. */
static s_val_t s_cond(s_parser_t *ps)
{
    if (++ps->depth > S_MAX_DEPTH)
        return s_error(ps);
    s_val_t a = s_or(ps);
    while (!ps->err && ps->tok == T_COND) {
        s_next(ps);
        s_val_t b = s_cond(ps);
        if (ps->err)
            break;
        if (ps->tok != T_COLONCOLON) {
            s_error(ps);
            break;
        }
        s_next(ps);
        s_val_t c = s_or(ps);
        if (ps->err)
            break;
        int truth;
        if (a.type == V_STR)  /* op_cond: "", "\"\"" and "0" are false */
            truth = a.s[0] && strcmp(a.s, "\"\"") != 0 && strcmp(a.s, "0") != 0;
        else
            truth = s_to_number(&a) && a.n != 0;
        a = truth ? b : c;
    }
    ps->depth--;
    return a;
}

int expr_eval(const char *in, char *out, size_t outlen, vars_lookup_fn func, void *arg)
{
    if (!outlen)
        return 0;
    char first[2048];
    arena_t arena;
    arena_init(&arena, first, sizeof first, 4096);
    s_parser_t ps = { .p = in, .arena = &arena, .func = func, .arg = arg, .input = in };
    s_next(&ps);
    int rc = 0;
    if (ps.tok == T_END) {
        out[0] = '\0';
    } else {
        s_val_t v = s_cond(&ps);
        if (!ps.err && ps.tok != T_END)
            s_error(&ps);
        if (ps.err) {
            snprintf(out, outlen, "0");
            rc = -1;
        } else if (v.type == V_NUM) {
            snprintf(out, outlen, S_NUM_FMT, v.n);
        } else {
            snprintf(out, outlen, "%s", v.s);
        }
    }
    arena_clear(&arena);
    return rc;
}
