/* dialplan - see dialplan.h. */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "td_str.h"
#include "dialplan.h"
#include "dialplan_int.h"
#include "func.h"
#include "vars.h"
#include "arena.h"
#include "pattern.h"
#include "strmap.h"
#include "td_conf.h"
#include "td_log.h"
#include "timing.h"
#include "vars.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_INCLUDE_DEPTH 16   /* include chains deeper than this are not followed */
#define S_MAX_EXTEN 256

typedef struct dialplan_context s_context_t;

static const char *s_app_names[DIALPLAN_APP_COUNT] = {
    [DIALPLAN_APP_ANSWER]      = "Answer",
    [DIALPLAN_APP_BACKGROUND]  = "Background",
    [DIALPLAN_APP_BUSY]        = "Busy",
    [DIALPLAN_APP_CONGESTION]  = "Congestion",
    [DIALPLAN_APP_DIAL]        = "Dial",
    [DIALPLAN_APP_ECHO]        = "Echo",
    [DIALPLAN_APP_EXECIF]      = "ExecIf",
    [DIALPLAN_APP_GOSUB]       = "Gosub",
    [DIALPLAN_APP_GOTO]        = "Goto",
    [DIALPLAN_APP_GOTOIF]      = "GotoIf",
    [DIALPLAN_APP_GOTOIFTIME]  = "GotoIfTime",
    [DIALPLAN_APP_HANGUP]      = "Hangup",
    [DIALPLAN_APP_LOG]         = "Log",
    [DIALPLAN_APP_MSET]        = "MSet",
    [DIALPLAN_APP_MUSICONHOLD] = "MusicOnHold",
    [DIALPLAN_APP_NOOP]        = "NoOp",
    [DIALPLAN_APP_PLAYBACK]    = "Playback",
    [DIALPLAN_APP_PROGRESS]    = "Progress",
    [DIALPLAN_APP_READ]        = "Read",
    [DIALPLAN_APP_RECORD]      = "Record",
    [DIALPLAN_APP_RETURN]      = "Return",
    [DIALPLAN_APP_RINGING]     = "Ringing",
    [DIALPLAN_APP_SAYDIGITS]   = "SayDigits",
    [DIALPLAN_APP_SAYNUMBER]   = "SayNumber",
    [DIALPLAN_APP_SET]         = "Set",
    [DIALPLAN_APP_VERBOSE]     = "Verbose",
    [DIALPLAN_APP_WAIT]        = "Wait",
    [DIALPLAN_APP_WAITEXTEN]   = "WaitExten",
    [DIALPLAN_APP_WHILE]       = "While",
    [DIALPLAN_APP_ENDWHILE]    = "EndWhile",
    [DIALPLAN_APP_EXITWHILE]   = "ExitWhile",
    [DIALPLAN_APP_CONTINUEWHILE] = "ContinueWhile",
    [DIALPLAN_APP_GOSUBIF]     = "GosubIf",
    [DIALPLAN_APP_STACKPOP]    = "StackPop",
    [DIALPLAN_APP_EXEC]        = "Exec",
    [DIALPLAN_APP_TRYEXEC]     = "TryExec",
    [DIALPLAN_APP_EXECIFTIME]  = "ExecIfTime",
    [DIALPLAN_APP_RAISEEXCEPTION] = "RaiseException",
    [DIALPLAN_APP_MACRO]       = "Macro",
    [DIALPLAN_APP_MACROEXCLUSIVE] = "MacroExclusive",
    [DIALPLAN_APP_MACROIF]     = "MacroIf",
    [DIALPLAN_APP_MACROEXIT]   = "MacroExit",
    [DIALPLAN_APP_SAYALPHA]    = "SayAlpha",
    [DIALPLAN_APP_SAYALPHACASE] = "SayAlphaCase",
    [DIALPLAN_APP_READEXTEN]   = "ReadExten",
    [DIALPLAN_APP_DBDELTREE]   = "DBdeltree",
};

const char *dialplan_app_name(dialplan_app_t app)
{
    return app < DIALPLAN_APP_COUNT ? s_app_names[app] : "?";
}

int dialplan_app_find(const char *name)
{
    for (int i = 0; i < DIALPLAN_APP_COUNT; i++)
        if (strcasecmp(name, s_app_names[i]) == 0)
            return i;
    return -1;
}

static int s_error(dialplan_t *self, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_error(dialplan_t *self, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    td_conf_verror(self->err, self->errlen, file, line, fmt, ap);
    va_end(ap);
    self->failed = 1;
    return -1;
}

/* A problem Asterisk warns about and loads past: "file:line: reason" to
 * td_log (or to the --check output), counted. Returns 0: the load goes on. */
static int s_warn(dialplan_t *self, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_warn(dialplan_t *self, const char *file, int line, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    td_conf_verror(text, sizeof text, file, line, fmt, ap);
    va_end(ap);
    self->nwarnings++;
    if (self->out)
        fprintf(self->out, "%s\n", text);
    else
        td_log(LOG_WARNING, "%s", text);
    return 0;
}

/* Grow *arr (of elem bytes) to hold one more than *n. */
static int s_reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* --- contexts and extensions ------------------------------------------- */

static s_context_t *s_context_get(dialplan_t *self, const char *name)
{
    s_context_t *ctx = strmap_get(self->contexts, name);
    if (ctx)
        return ctx;
    if (s_reserve((void **)&self->ctx_list, &self->ctxcap, self->nctx, sizeof *self->ctx_list) < 0)
        return NULL;
    ctx = arena_alloc(&self->arena, sizeof *ctx);
    if (!ctx)
        return NULL;
    memset(ctx, 0, sizeof *ctx);
    ctx->name = arena_strdup(&self->arena, name);
    ctx->literals = strmap_new(16);
    ctx->pattern_keys = strmap_new(16);
    if (!ctx->name || !ctx->literals || !ctx->pattern_keys
        || strmap_put(self->contexts, ctx->name, ctx) < 0) {
        strmap_destroy(&ctx->literals);
        strmap_destroy(&ctx->pattern_keys);
        return NULL;
    }
    self->ctx_list[self->nctx++] = ctx;
    return ctx;
}

static void s_context_free(s_context_t *ctx)
{
    strmap_destroy(&ctx->literals);
    strmap_destroy(&ctx->pattern_keys);
    free(ctx->patterns);
    free(ctx->include_names);
    free(ctx->include_files);
    free(ctx->include_lines);
    free(ctx->includes);
    free(ctx->include_when);
}

/* The caller ID part of "100/1001" or "_1XXX/_2XXX": compiled into ext. */
static int s_ext_cid(dialplan_t *self, dialplan_ext_t *ext, const char *cid, const char *file,
                     int line)
{
    char why[256], norm[S_MAX_EXTEN];
    if (cid[0] == '_') {
        if (!(ext->cid_pattern = pattern_new(cid, why, sizeof why)))
            return s_warn(self, file, line, "%s; line ignored", why), -1;
        ext->cid = pattern_key(ext->cid_pattern);
        return 0;
    }
    if (!pattern_literal_normalize(cid, norm, sizeof norm) || !*norm)
        return s_warn(self, file, line, "bad caller ID '%s'; line ignored", cid), -1;
    if (!(ext->cid = arena_strdup(&self->arena, norm)))
        return s_error(self, file, line, "out of memory");
    return 0;
}

/* Order within a chain of one name: with a caller ID before without; among
 * caller IDs, literals before patterns, patterns in pattern order. */
static int s_cid_cmp(const dialplan_ext_t *a, const dialplan_ext_t *b)
{
    if (!a->cid || !b->cid)
        return (a->cid == NULL) - (b->cid == NULL);
    if (!a->cid_pattern || !b->cid_pattern)
        return a->cid_pattern || b->cid_pattern ? (a->cid_pattern != NULL) - (b->cid_pattern != NULL)
                                                : strcmp(a->cid, b->cid);
    return pattern_cmp(a->cid_pattern, b->cid_pattern);
}

/* Does the caller's number match ext's caller ID (if it has one)? */
static int s_cid_match(const dialplan_ext_t *ext, const char *cid)
{
    if (!ext->cid)
        return 1;
    if (!cid)
        cid = "";
    if (ext->cid_pattern)
        return pattern_match(ext->cid_pattern, cid);
    char norm[S_MAX_EXTEN];
    return pattern_literal_normalize(cid, norm, sizeof norm) && strcmp(norm, ext->cid) == 0;
}

/* The extension called name (with any "/callerid") in ctx, created if new.
 * NULL with err set on error. */
static dialplan_ext_t *s_ext_get(dialplan_t *self, s_context_t *ctx, const char *full,
                                 const char *file, int line)
{
    char why[256], name[S_MAX_EXTEN];
    pattern_t *pat = NULL;
    char norm[S_MAX_EXTEN];
    const char *key, *cid = NULL;
    dialplan_ext_t *head;
    snprintf(name, sizeof name, "%s", full);
    char *slash = strchr(name, '/');
    if (slash) {
        *slash = '\0';
        cid = slash + 1;
        if (!*cid)
            return s_warn(self, file, line, "empty caller ID in '%s'; line ignored", full), NULL;
    }
    if (name[0] == '_') {
        pat = pattern_new(name, why, sizeof why);
        if (!pat) {
            s_warn(self, file, line, "%s; line ignored", why);
            return NULL;
        }
        key = pattern_key(pat);
        head = strmap_get(ctx->pattern_keys, key);
    } else {
        if (!pattern_literal_normalize(name, norm, sizeof norm) || !*norm) {
            s_warn(self, file, line, "bad extension '%s'; line ignored", name);
            return NULL;
        }
        key = norm;
        head = strmap_get(ctx->literals, key);
    }
    dialplan_ext_t *ext = calloc(1, sizeof *ext);
    if (!ext) {
        pattern_destroy(&pat);
        s_error(self, file, line, "out of memory");
        return NULL;
    }
    ext->next = self->extens;
    self->extens = ext;
    if (cid && s_ext_cid(self, ext, cid, file, line) < 0) {
        pattern_destroy(&pat);
        return NULL;
    }
    /* The same name and caller ID as an existing one: that one. */
    for (dialplan_ext_t *e = head; e; e = e->alt)
        if ((!e->cid && !ext->cid) || (e->cid && ext->cid && s_cid_cmp(e, ext) == 0)) {
            pattern_destroy(&pat);
            return e;
        }
    ext->pattern = pat;
    ext->name = arena_strdup(&self->arena, full);
    ext->key = pat ? pattern_key(pat) : arena_strdup(&self->arena, norm);
    if (!ext->name || !ext->key) {
        s_error(self, file, line, "out of memory");
        return NULL;
    }
    if (head) {
        /* Into the chain in order; a new first one replaces the head. */
        dialplan_ext_t **pp = &head;
        while (*pp && s_cid_cmp(*pp, ext) <= 0)
            pp = &(*pp)->alt;
        dialplan_ext_t *old_head = head;
        ext->alt = *pp;
        *pp = ext;
        if (head == old_head)
            return ext;
        if (pat) {
            for (size_t i = 0; i < ctx->npatterns; i++)
                if (ctx->patterns[i] == old_head)
                    ctx->patterns[i] = head;
            if (strmap_put(ctx->pattern_keys, head->key, head) < 0)
                return s_error(self, file, line, "out of memory"), NULL;
        } else if (strmap_put(ctx->literals, head->key, head) < 0) {
            return s_error(self, file, line, "out of memory"), NULL;
        }
        return ext;
    }
    if (pat) {
        if (s_reserve((void **)&ctx->patterns, &ctx->pcap, ctx->npatterns, sizeof *ctx->patterns) < 0
            || strmap_put(ctx->pattern_keys, ext->key, ext) < 0) {
            s_error(self, file, line, "out of memory");
            return NULL;
        }
        ctx->patterns[ctx->npatterns++] = ext;
    } else if (strmap_put(ctx->literals, ext->key, ext) < 0) {
        s_error(self, file, line, "out of memory");
        return NULL;
    }
    return ext;
}

/* As pbx.c's add_priority (pbx_config adds with replace = 0): a label
 * already used at another priority is dropped (the priority stays); a
 * priority already defined keeps its first definition. Both warn. */
static int s_add_prio(dialplan_t *self, s_context_t *ctx, dialplan_ext_t *ext,
                      dialplan_prio_t *prio)
{
    for (size_t i = 0; i < ext->nprios; i++) {
        const dialplan_prio_t *p = &ext->prios[i];
        if (prio->label && p->label && p->priority != prio->priority
            && strcmp(p->label, prio->label) == 0) {
            s_warn(self, prio->file, prio->line,
                   "Extension '%s' priority %d in '%s', label '%s' already in use at "
                   "priority %d (%s:%d); label ignored", ext->name, prio->priority, ctx->name,
                   prio->label, p->priority, p->file, p->line);
            prio->label = NULL;
        }
    }
    for (size_t i = 0; i < ext->nprios; i++) {
        const dialplan_prio_t *p = &ext->prios[i];
        if (p->priority == prio->priority)
            return s_warn(self, prio->file, prio->line,
                          "Unable to register extension '%s' priority %d in '%s', already in "
                          "use (by %s:%d); line ignored", ext->name, prio->priority, ctx->name,
                          p->file, p->line);
    }
    if (s_reserve((void **)&ext->prios, &ext->cap, ext->nprios, sizeof *ext->prios) < 0)
        return s_error(self, prio->file, prio->line, "out of memory");
    ext->prios[ext->nprios++] = *prio;
    return 0;
}

/* --- one line ------------------------------------------------------------ */

/* Load-time substitution, as pbx_config.c's pbx_substitute_variables_helper
 * (NULL, ...): no channel, so ${NAME} reads [globals] (those read so far)
 * and ${FUNC()} runs without a channel. */
static const char *s_globals_value_get(const void *self, const char *name)
{
    return dialplan_global(self, name);
}

static const char *s_global_lookup(void *arg, const char *name, char *buf, size_t len)
{
    func_env_t env = { .dialplan_global = s_globals_value_get, .dialplan = arg };
    return func_is_call(name) ? func_read(&env, name, buf, len) : dialplan_global(arg, name);
}

/* pbx_config substitutes variables in extension names and includes at
 * load, with no channel: only [globals] are seen. text is rewritten in
 * place (len bytes). */
static void s_expand(dialplan_t *self, char *text, size_t len)
{
    if (!strstr(text, "${") && !strstr(text, "$["))
        return;
    char out[VARS_MAX];
    vars_substitute(text, out, sizeof out, s_global_lookup, self);
    size_t n = strnlen(out, len - 1);
    memcpy(text, out, n);
    text[n] = '\0';
}

/* "n(label)" -> priority and label, as pbx_config.c reads them: a number,
 * "n"/"next" (one more than the line before), "s"/"same" (the same), or a
 * label already defined on this extension (its priority: so the line then
 * collides with it); "+N" adds N. 0, or -1 when the line is to be skipped
 * (warned) or the load fails (self->failed). */
static int s_parse_priority(dialplan_t *self, s_context_t *ctx, const dialplan_ext_t *ext,
                            char *text, const char *file, int line, dialplan_prio_t *prio)
{
    char *label = NULL;
    char *open = strchr(text, '(');
    if (open) {
        char *close = strchr(open, ')');
        if (!close)
            return s_warn(self, file, line, "Label missing trailing ')'; line ignored"), -1;
        *close = '\0';         /* Asterisk ignores anything after the ')' */
        *open = '\0';
        label = open + 1;      /* an empty label is no label */
    }
    char *plus = strchr(text, '+');
    if (plus)
        *plus++ = '\0';
    text = td_str_trim(text);
    int n;
    if (strcmp(text, "n") == 0 || strcmp(text, "next") == 0) {
        if (ctx->last_prio < -1)
            return s_warn(self, file, line, "Can't use 'next' priority on the first entry; "
                          "line ignored"), -1;
        n = ctx->last_prio + 1;
    } else if (strcmp(text, "s") == 0 || strcmp(text, "same") == 0) {
        if (ctx->last_prio < -1)
            return s_warn(self, file, line, "Can't use 'same' priority on the first entry; "
                          "line ignored"), -1;
        n = ctx->last_prio;
    } else if (sscanf(text, "%30d", &n) != 1) {
        const dialplan_prio_t *p = ext && *text ? dialplan_label(ext, text) : NULL;
        if (!p)
            return s_warn(self, file, line, "Invalid priority/label '%s'; line ignored", text), -1;
        n = p->priority;
    } else if (n < 1) {
        return s_warn(self, file, line, "Invalid priority '%s'; line ignored", text), -1;
    }
    if (plus)
        n += atoi(plus);
    if (n < 1)
        return -1;             /* "n" after a hint: pbx_config skips it silently */
    prio->priority = n;
    ctx->last_prio = n;        /* as pbx_config: even if the line then fails to register */
    if (label && *label && !(prio->label = arena_strdup(&self->arena, label)))
        return s_error(self, file, line, "out of memory");
    return 0;
}

/* "App(args)" or "App", as pbx_config.c splits them: the name is up to the
 * first '(' (everything, with no '('), the arguments up to the last ')'.
 * An application Tandem does not have loads as DIALPLAN_APP_UNKNOWN with a
 * warning (Asterisk itself finds out only when a call reaches it). */
static int s_parse_app(dialplan_t *self, char *text, const char *file, int line,
                       dialplan_prio_t *prio)
{
    while (isspace((unsigned char)*text))
        text++;
    char *args = "";
    char *open = strchr(text, '(');
    if (open) {
        *open = '\0';
        if (strstr(text, "${") || strstr(text, "$[")) {
            /* A variable before the '(': the whole text is the name. */
            *open = '(';
        } else {
            args = open + 1;
            char *close = strrchr(args, ')');
            if (close)
                *close = '\0';
            else
                s_warn(self, file, line, "No closing parenthesis found? '%s(%s'", text, args);
        }
    }
    char *name = td_str_trim(text);
    int app = dialplan_app_find(name);
    if (app < 0) {
        if (!*name)
            s_warn(self, file, line, "missing application: a call reaching this line ends here");
        else
            s_warn(self, file, line, "unknown application '%s': a call reaching this line "
                   "ends here", name);
        app = DIALPLAN_APP_UNKNOWN;
    }
    prio->app = (dialplan_app_t)app;
    /* As written (`dialplan show` prints it so, as Asterisk keeps the
     * name pbx_config read); the interpreter goes by prio->app. */
    prio->app_name = arena_strdup(&self->arena, name);
    if (!prio->app_name || !(prio->args = arena_strdup(&self->arena, args)))
        return s_error(self, file, line, "out of memory");
    return 0;
}

/* The extension field of an "exten" line: up to the first comma outside
 * [] (a set may hold a comma); an unclosed '[' is left for the pattern
 * compiler to report, cut at the first comma. */
static char *s_cut_exten(char **rest)
{
    char *s = *rest, *cut = NULL;
    int brackets = 0;
    for (char *p = s; *p && !cut; p++) {
        if (*p == '[')
            brackets = 1;
        else if (*p == ']')
            brackets = 0;
        else if (*p == ',' && !brackets)
            cut = p;
    }
    if (!cut)
        cut = strchr(s, ',');
    if (cut) {
        *cut = '\0';
        *rest = cut + 1;
    } else {
        *rest = NULL;
    }
    return td_str_trim(s);
}

static int s_parse_exten(dialplan_t *self, s_context_t *ctx, const td_conf_var_t *v, int same)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", v->value);
    char *rest = buf;
    dialplan_ext_t *ext = NULL;
    const char *exten_name = NULL;
    if (same) {
        if (!ctx->last_ext)
            return s_warn(self, v->file, v->line, "No previous pattern in the first entry of "
                          "context '%s' to match 'same'; line ignored", ctx->name);
        ext = ctx->last_ext;
    } else {
        char *cut = s_cut_exten(&rest);
        char expanded[S_MAX_EXTEN];
        snprintf(expanded, sizeof expanded, "%s", cut);
        s_expand(self, expanded, sizeof expanded);
        exten_name = arena_strdup(&self->arena, expanded);
        if (!exten_name)
            return s_error(self, v->file, v->line, "out of memory");
        ctx->last_ext = NULL;
        if (!*exten_name)
            return s_warn(self, v->file, v->line, "missing extension; line ignored");
    }
    char *prio_text = rest ? rest : "";
    char *comma = rest ? strchr(rest, ',') : NULL;
    char *app_text = "";
    if (comma) {
        /* A label may hold no comma, so the first comma ends the priority. */
        *comma = '\0';
        app_text = comma + 1;
    }
    if (strcmp(td_str_trim(prio_text), "hint") == 0) {
        /* pbx_config registers the hint on the extension, so "same" lines
         * after it belong to that extension. */
        if (!ext && (ext = s_ext_get(self, ctx, exten_name, v->file, v->line)))
            ctx->last_ext = ext;
        ctx->last_prio = -1;
        if (self->failed)
            return -1;
        return s_warn(self, v->file, v->line, "hints are not supported; line ignored");
    }
    if (!ext) {
        if (!(ext = s_ext_get(self, ctx, exten_name, v->file, v->line)))
            return self->failed ? -1 : 0;
        ctx->last_ext = ext;   /* "same" follows the extension even if this line fails */
        const char *n = ext->name;
        if (strcmp(n, "_.") == 0 || strcmp(n, "_!") == 0)
            s_warn(self, v->file, v->line, "The use of '%s' for an extension is strongly "
                   "discouraged and can have unexpected behavior.  Please use '_X%c' instead",
                   n, n[1]);
    }
    dialplan_prio_t prio = { .file = v->file, .line = v->line };
    if (s_parse_priority(self, ctx, ext, prio_text, v->file, v->line, &prio) < 0)
        return self->failed ? -1 : 0;
    if (s_parse_app(self, app_text, v->file, v->line, &prio) < 0)
        return -1;
    return s_add_prio(self, ctx, ext, &prio);
}

static int s_parse_include(dialplan_t *self, s_context_t *ctx, const td_conf_var_t *v)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v->value);
    s_expand(self, buf, sizeof buf);
    char *name = td_str_trim(buf);
    if (!*name)
        return s_warn(self, v->file, v->line, "include needs a context name; line ignored");
    timing_t *when = NULL;
    char *sep = strpbrk(name, ",|");
    if (sep) {
        /* include => context,times,weekdays,mdays,months[,tz] ('|' is the old separator) */
        *sep = '\0';
        for (char *p = sep + 1; *p; p++)
            if (*p == '|')
                *p = ',';
        char warn[512];
        when = arena_alloc(&self->arena, sizeof *when);
        if (!when)
            return s_error(self, v->file, v->line, "out of memory");
        /* As ast_include_alloc: a malformed item warns and matches nothing,
         * the include stays; an empty spec is no condition. */
        if (!timing_parse(when, sep + 1, warn, sizeof warn))
            when = NULL;
        char *save = NULL;
        for (char *w = strtok_r(warn, "\n", &save); w; w = strtok_r(NULL, "\n", &save))
            s_warn(self, v->file, v->line, "include => %s: %s", td_str_trim(name), w);
        name = td_str_trim(name);
        if (!*name)
            return s_warn(self, v->file, v->line, "include needs a context name; line ignored");
    }
    for (size_t i = 0; i < ctx->nincludes; i++)
        if (strcasecmp(ctx->include_names[i], name) == 0)
            return s_warn(self, v->file, v->line, "Context '%s' already included in '%s' "
                          "context; line ignored", name, ctx->name);
    size_t n = ctx->nincludes, cap = ctx->icap;
    if (s_reserve((void **)&ctx->include_names, &cap, n, sizeof *ctx->include_names) < 0)
        return s_error(self, v->file, v->line, "out of memory");
    cap = ctx->icap;
    if (s_reserve((void **)&ctx->include_files, &cap, n, sizeof *ctx->include_files) < 0)
        return s_error(self, v->file, v->line, "out of memory");
    cap = ctx->icap;
    if (s_reserve((void **)&ctx->include_lines, &cap, n, sizeof *ctx->include_lines) < 0)
        return s_error(self, v->file, v->line, "out of memory");
    cap = ctx->icap;
    if (s_reserve((void **)&ctx->include_when, &cap, n, sizeof *ctx->include_when) < 0)
        return s_error(self, v->file, v->line, "out of memory");
    ctx->icap = cap;
    ctx->include_when[n] = when;
    if (!(ctx->include_names[n] = arena_strdup(&self->arena, name)))
        return s_error(self, v->file, v->line, "out of memory");
    ctx->include_files[n] = arena_strdup(&self->arena, v->file);
    ctx->include_lines[n] = v->line;
    ctx->nincludes++;
    return 0;
}

static int s_parse_context(dialplan_t *self, td_conf_section_t *sec)
{
    s_context_t *ctx = s_context_get(self, sec->name);
    if (!ctx)
        return s_error(self, sec->file, sec->line, "out of memory");
    /* A section continues no earlier one: "same" and "n" start afresh. */
    ctx->last_ext = NULL;
    ctx->last_prio = -2;
    for (td_conf_var_t *v = sec->vars; v; v = v->next) {
        int rc = 0;
        if (strcasecmp(v->name, "exten") == 0) {
            rc = s_parse_exten(self, ctx, v, 0);
        } else if (strncasecmp(v->name, "same", 4) == 0) {   /* pbx_config's test */
            rc = s_parse_exten(self, ctx, v, 1);
        } else if (strcasecmp(v->name, "include") == 0) {
            rc = s_parse_include(self, ctx, v);
        } else if (strcasecmp(v->name, "ignorepat") == 0 || strcasecmp(v->name, "switch") == 0
                   || strcasecmp(v->name, "lswitch") == 0 || strcasecmp(v->name, "eswitch") == 0
                   || strcasecmp(v->name, "autohints") == 0) {
            s_warn(self, v->file, v->line, "'%s' is not supported; ignored", v->name);
        } else {
            s_warn(self, v->file, v->line, "Unknown directive: %s -- IGNORING", v->name);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* The keys pbx_config.c reads from [general]; it ignores the others
 * silently, Tandem warns (a typo would otherwise pass unseen). */
static void s_parse_general(dialplan_t *self, td_conf_section_t *sec)
{
    static const char *const known[] = {
        "static", "writeprotect", "autofallthrough", "extenpatternmatchnew", "clearglobalvars",
        "userscontext",
    };
    for (td_conf_var_t *v = sec->vars; v; v = v->next) {
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcasecmp(v->name, known[i]) == 0)
                ok = 1;
        if (strcasecmp(v->name, "autofallthrough") == 0)
            self->autofallthrough = td_conf_bool(v->value) == 1;   /* ast_true */
        if (strcasecmp(v->name, "clearglobalvars") == 0)
            self->clearglobalvars = td_conf_bool(v->value) == 1;
        if (strcasecmp(v->name, "overrideswitch") == 0)
            s_warn(self, v->file, v->line, "[general] overrideswitch is not supported; ignored");
        else if (!ok)
            s_warn(self, v->file, v->line, "[general] %s is not a setting of extensions.conf; "
                   "ignored", v->name);
    }
}

/* Each [globals] value is substituted with the globals above it, as
 * pbx_config.c does value by value. */
static int s_parse_globals(dialplan_t *self, td_conf_section_t *sec)
{
    for (td_conf_var_t *v = sec->vars; v; v = v->next) {
        char real[VARS_MAX];
        vars_substitute(v->value, real, sizeof real, s_global_lookup, self);
        const char *name = arena_strdup(&self->arena, v->name);
        char *value = arena_strdup(&self->arena, real);
        if (!name || !value || strmap_put(self->globals, name, value) < 0)
            return s_error(self, v->file, v->line, "out of memory");
    }
    return 0;
}

/* --- load ------------------------------------------------------------- */

static int s_cmp_prio(const void *a, const void *b)
{
    const dialplan_prio_t *pa = a, *pb = b;
    return (pa->priority > pb->priority) - (pa->priority < pb->priority);
}

static int s_cmp_pattern(const void *a, const void *b)
{
    const dialplan_ext_t *ea = *(dialplan_ext_t *const *)a, *eb = *(dialplan_ext_t *const *)b;
    return pattern_cmp(ea->pattern, eb->pattern);
}

static int s_finish(dialplan_t *self)
{
    for (dialplan_ext_t *e = self->extens; e; e = e->next)
        if (e->nprios > 1)
            qsort(e->prios, e->nprios, sizeof *e->prios, s_cmp_prio);
    for (size_t i = 0; i < self->nctx; i++) {
        s_context_t *ctx = self->ctx_list[i];
        if (ctx->npatterns > 1)
            qsort(ctx->patterns, ctx->npatterns, sizeof *ctx->patterns, s_cmp_pattern);
        strmap_destroy(&ctx->pattern_keys);
        if (ctx->nincludes) {
            ctx->includes = calloc(ctx->nincludes, sizeof *ctx->includes);
            if (!ctx->includes)
                return s_error(self, ctx->include_files[0], ctx->include_lines[0], "out of memory");
        }
        for (size_t k = 0; k < ctx->nincludes; k++) {
            ctx->includes[k] = strmap_get(self->contexts, ctx->include_names[k]);
            if (!ctx->includes[k])
                s_warn(self, ctx->include_files[k], ctx->include_lines[k],
                       "[%s] includes [%s], which does not exist", ctx->name,
                       ctx->include_names[k]);
        }
    }
    return 0;
}

static dialplan_t *s_load(const char *path, char *err, size_t errlen, FILE *out)
{
    td_conf_t *conf = td_conf_load(path, err, errlen);
    if (!conf)
        return NULL;
    dialplan_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "%s: out of memory", path);
        td_conf_destroy(&conf);
        return NULL;
    }
    arena_init(&self->arena, NULL, 0, 16384);
    self->refs = 1;
    self->autofallthrough = 1;   /* pbx_config's default */
    self->err = err;
    self->errlen = errlen;
    self->out = out;
    self->contexts = strmap_new(16);
    self->globals = strmap_new(16);
    int rc = 0;
    if (!self->contexts || !self->globals) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = -1;
    }
    for (const td_conf_warning_t *w = td_conf_warnings(conf); w && rc == 0; w = w->next)
        s_warn(self, w->file, w->line, "%s", w->text);
    /* As pbx_config.c: every [globals] first (extension names and includes
     * may use them), then the rest in order. */
    for (td_conf_section_t *sec = td_conf_first(conf); sec && rc == 0; sec = sec->next)
        if (!sec->is_template && strcasecmp(sec->name, "globals") == 0)
            rc = s_parse_globals(self, sec);
    for (td_conf_section_t *sec = td_conf_first(conf); sec && rc == 0; sec = sec->next) {
        if (sec->is_template || strcasecmp(sec->name, "globals") == 0)
            continue;
        if (sec->name[0] == '\0') {
            rc = sec->vars ? s_error(self, sec->vars->file, sec->vars->line,
                                     "'%s' before any [context]", sec->vars->name)
                           : 0;
        } else if (strcasecmp(sec->name, "general") == 0) {
            s_parse_general(self, sec);
        } else {
            rc = s_parse_context(self, sec);
        }
    }
    if (rc == 0)
        rc = s_finish(self);
    /* Strings that name a file point into conf: keep our own copies. */
    if (rc == 0) {
        for (dialplan_ext_t *e = self->extens; e && rc == 0; e = e->next)
            for (size_t i = 0; i < e->nprios; i++)
                if (!(e->prios[i].file = arena_strdup(&self->arena, e->prios[i].file))) {
                    snprintf(err, errlen, "%s: out of memory", path);
                    rc = -1;
                    break;
                }
    }
    td_conf_destroy(&conf);
    self->err = NULL;
    self->out = NULL;
    if (rc < 0)
        dialplan_destroy(&self);
    return self;
}

dialplan_t *dialplan_load(const char *path, char *err, size_t errlen)
{
    return s_load(path, err, errlen, NULL);
}

int dialplan_check(const char *path, FILE *out)
{
    char err[1024] = "";
    dialplan_t *self = s_load(path, err, sizeof err, out);
    if (!self) {
        fprintf(out, "%s\n", err);
        return 1;
    }
    int n = self->nwarnings;
    dialplan_destroy(&self);
    return n;
}

int dialplan_warnings(const dialplan_t *self)
{
    return self->nwarnings;
}

int dialplan_clearglobalvars(const dialplan_t *self)
{
    return self->clearglobalvars;
}

typedef struct {
    void (*fn)(void *arg, const char *name, const char *value);
    void *arg;
} s_globals_visit_t;

static void s_on_global(void *arg, const char *key, void *value)
{
    s_globals_visit_t *v = arg;
    v->fn(v->arg, key, value);
}

void dialplan_globals_foreach(const dialplan_t *self,
                              void (*fn)(void *arg, const char *name, const char *value),
                              void *arg)
{
    s_globals_visit_t v = { fn, arg };
    strmap_foreach(self->globals, s_on_global, &v);
}

int dialplan_autofallthrough(const dialplan_t *self)
{
    return self->autofallthrough;
}

dialplan_t *dialplan_ref(dialplan_t *self)
{
    self->refs++;
    return self;
}

void dialplan_destroy(dialplan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dialplan_t *self = *self_p;
    *self_p = NULL;
    if (--self->refs > 0)
        return;
    for (size_t i = 0; i < self->nctx; i++)
        s_context_free(self->ctx_list[i]);
    free(self->ctx_list);
    dialplan_ext_t *e = self->extens;
    while (e) {
        dialplan_ext_t *next = e->next;
        pattern_destroy(&e->pattern);
        pattern_destroy(&e->cid_pattern);
        free(e->prios);
        free(e);
        e = next;
    }
    strmap_destroy(&self->contexts);
    strmap_destroy(&self->globals);
    arena_clear(&self->arena);
    free(self);
}

/* --- search ------------------------------------------------------------ */

typedef enum { S_MATCH, S_CANMATCH, S_MATCHMORE } s_mode_t;

/* What a search wants of an extension besides its name: nothing (prio 0,
 * no label), a priority, or a label. */
typedef struct {
    int prio;
    const char *label;
} s_want_t;

static int s_has(const dialplan_ext_t *ext, const s_want_t *want)
{
    if (want->label)
        return dialplan_label(ext, want->label) != NULL;
    return !want->prio || dialplan_priority(ext, want->prio) != NULL;
}

/* The first of ext's chain the caller ID matches and that has what is
 * wanted, or NULL. */
static const dialplan_ext_t *s_chain(const dialplan_ext_t *ext, const char *cid,
                                     const s_want_t *want)
{
    for (; ext; ext = ext->alt)
        if (s_cid_match(ext, cid) && s_has(ext, want))
            return ext;
    return NULL;
}

typedef struct {
    const char *norm, *cid;
    s_mode_t mode;
    const dialplan_ext_t *found;
} s_prefix_t;

static void s_prefix_one(void *arg, const char *key, void *value)
{
    s_prefix_t *p = arg;
    size_t n = strlen(p->norm);
    if (p->found || strncmp(key, p->norm, n) != 0)
        return;
    if (p->mode == S_MATCHMORE && !key[n])
        return;
    static const s_want_t any = { 0, NULL };
    p->found = s_chain(value, p->cid, &any);
}

static const dialplan_ext_t *s_search(const s_context_t *ctx, const char *exten,
                                      const char *norm, const char *cid, s_mode_t mode,
                                      const s_want_t *want, time_t now,
                                      const s_context_t **seen, int depth)
{
    for (int i = 0; i < depth; i++)
        if (seen[i] == ctx)
            return NULL;               /* an include loop: been here */
    const dialplan_ext_t *ext = NULL;
    if (mode == S_MATCH) {
        ext = s_chain(strmap_get(ctx->literals, norm), cid, want);
    } else {
        s_prefix_t p = { norm, cid, mode, NULL };
        strmap_foreach(ctx->literals, s_prefix_one, &p);
        ext = p.found;
    }
    if (ext)
        return ext;
    for (size_t i = 0; i < ctx->npatterns; i++) {
        const pattern_t *pat = ctx->patterns[i]->pattern;
        int hit = mode == S_MATCH ? pattern_match(pat, exten)
                  : mode == S_CANMATCH ? pattern_canmatch(pat, exten)
                  : pattern_matchmore(pat, exten);
        if (hit && (ext = s_chain(ctx->patterns[i], cid, want)))
            return ext;
    }
    if (depth + 1 >= S_MAX_INCLUDE_DEPTH)
        return NULL;
    seen[depth] = ctx;
    for (size_t i = 0; ctx->includes && i < ctx->nincludes; i++) {   /* NULL while loading */
        if (!ctx->includes[i] || (ctx->include_when[i] && !timing_check(ctx->include_when[i], now)))
            continue;
        ext = s_search(ctx->includes[i], exten, norm, cid, mode, want, now, seen, depth + 1);
        if (ext)
            return ext;
    }
    return NULL;
}

static const dialplan_ext_t *s_find(const dialplan_t *self, const char *context,
                                    const char *exten, const char *cid, s_mode_t mode,
                                    const s_want_t *want)
{
    const s_context_t *ctx = strmap_get(self->contexts, context);
    char norm[S_MAX_EXTEN];
    if (!ctx || (mode == S_MATCH && !*exten)
        || !pattern_literal_normalize(exten, norm, sizeof norm))
        return NULL;
    const s_context_t *seen[S_MAX_INCLUDE_DEPTH];
    return s_search(ctx, exten, norm, cid, mode, want, time(NULL), seen, 0);
}

static const s_want_t s_any = { 0, NULL };

const dialplan_ext_t *dialplan_find_prio(const dialplan_t *self, const char *context,
                                         const char *exten, const char *cid, int n,
                                         const char *label)
{
    s_want_t want = { n, label };
    if (!label && n < 1)
        return NULL;
    return s_find(self, context, exten, cid, S_MATCH, &want);
}

const dialplan_ext_t *dialplan_find(const dialplan_t *self, const char *context,
                                    const char *exten)
{
    return s_find(self, context, exten, NULL, S_MATCH, &s_any);
}

const dialplan_ext_t *dialplan_find_cid(const dialplan_t *self, const char *context,
                                        const char *exten, const char *cid)
{
    return s_find(self, context, exten, cid, S_MATCH, &s_any);
}

int dialplan_canmatch(const dialplan_t *self, const char *context, const char *exten,
                      const char *cid)
{
    return s_find(self, context, exten, cid, S_CANMATCH, &s_any) != NULL;
}

int dialplan_matchmore(const dialplan_t *self, const char *context, const char *exten,
                       const char *cid)
{
    return s_find(self, context, exten, cid, S_MATCHMORE, &s_any) != NULL;
}

int dialplan_has_context(const dialplan_t *self, const char *context)
{
    return strmap_get(self->contexts, context) != NULL;
}

const char *dialplan_ext_name(const dialplan_ext_t *ext)
{
    return ext->name;
}

const dialplan_prio_t *dialplan_priority(const dialplan_ext_t *ext, int n)
{
    size_t lo = 0, hi = ext->nprios;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int p = ext->prios[mid].priority;
        if (p == n)
            return &ext->prios[mid];
        if (p < n)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const dialplan_prio_t *dialplan_label(const dialplan_ext_t *ext, const char *label)
{
    for (size_t i = 0; i < ext->nprios; i++)
        if (ext->prios[i].label && strcmp(ext->prios[i].label, label) == 0)
            return &ext->prios[i];
    return NULL;
}

const char *dialplan_global(const dialplan_t *self, const char *name)
{
    return strmap_get(self->globals, name);
}
