/* dialplan_show - `dialplan show [[exten@]context]`, as Asterisk 20's
 * pbx.c (handle_show_dialplan, show_dialplan_helper) prints it for a plan
 * pbx_config loaded; see dialplan.h. Not a hot path.
 *
 * Order, as Asterisk keeps its lists:
 *  - contexts: ast_context_find_or_create links a new context at the head
 *    of the list ast_walk_contexts follows, and pbx_config creates them in
 *    file order, so the context written LAST comes first;
 *  - extensions: the context's list is sorted by ext_cmp (literals before
 *    patterns, literals by character, patterns as pattern_cmp); for one
 *    name, those with a caller ID come first (as dialplan.c chains them);
 *  - priorities in order; an include list in the order written.
 * Tandem keeps no hints, ignore patterns or switches (dialplan.c warns and
 * drops them at load), so none of their lines is printed. */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "dialplan.h"
#include "dialplan_int.h"
#include "td_log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_STACK 512      /* AST_PBX_MAX_STACK: include depth followed */
#define S_REGISTRAR "pbx_config"

typedef struct {
    FILE *out;
    const char *exten;        /* NULL: every extension */
    char exten_norm[256];     /* exten without its '-' */
    pattern_t *exten_pattern; /* exten as a pattern, when it starts with '_' */
    int total_context, total_exten, total_prio;
    int context_existence, extension_existence;
    const char *includes[S_MAX_STACK];
} s_show_t;

/* --- the extension list in Asterisk's order ---------------------------- */

typedef struct {
    const dialplan_ext_t **list;
    size_t n, cap;
} s_list_t;

static void s_collect_one(void *arg, const char *key, void *value)
{
    (void)key;
    s_list_t *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        const dialplan_ext_t **p = realloc(l->list, cap * sizeof *p);
        if (!p)
            return;
        l->list = p;
        l->cap = cap;
    }
    l->list[l->n++] = value;
}

/* ext_cmp_exten on two literals: their keys are already without '-'. */
static int s_cmp_literal(const void *a, const void *b)
{
    const dialplan_ext_t *ea = *(const dialplan_ext_t *const *)a;
    const dialplan_ext_t *eb = *(const dialplan_ext_t *const *)b;
    return strcmp(ea->key, eb->key);
}

/* The heads of ctx's chains: literals sorted, then its patterns (already
 * in pattern order). Each head's ->alt chain follows it. */
static void s_heads(const struct dialplan_context *ctx, s_list_t *l)
{
    strmap_foreach(ctx->literals, s_collect_one, l);
    if (l->n > 1)
        qsort(l->list, l->n, sizeof *l->list, s_cmp_literal);
    for (size_t i = 0; i < ctx->npatterns; i++)
        s_collect_one(l, NULL, ctx->patterns[i]);
}

/* --- matching and display -------------------------------------------- */

/* ast_extension_match(name, exten): a literal equals exten (both without
 * '-'); a pattern is the same pattern as exten (when exten is one) or
 * matches it. The caller ID plays no part. */
static int s_match(const s_show_t *sh, const dialplan_ext_t *ext)
{
    if (!ext->pattern)
        return strcmp(ext->key, sh->exten_norm) == 0;
    if (sh->exten_pattern && pattern_cmp(ext->pattern, sh->exten_pattern) == 0)
        return 1;
    return pattern_match(ext->pattern, sh->exten);
}

/* The name as Asterisk stores it (ext_strncpy without nofluff: blanks
 * outside a pattern's [] dropped), without the "/callerid". */
static void s_display_name(const char *full, char *out, size_t len)
{
    size_t o = 0;
    int pattern = full[0] == '_', insquares = 0;
    for (const char *s = full; *s && *s != '/' && o + 1 < len; s++) {
        if (*s == '[' && pattern)
            insquares = 1;
        else if (*s == ']')
            insquares = 0;
        else if (*s == ' ' && !insquares)
            continue;
        out[o++] = *s;
    }
    out[o] = '\0';
}

/* The caller ID as Asterisk shows it (e->cidmatch): pbx_config's
 * ast_shrink_phone_number (no '(', ')', ' ', no '-' outside [], no '.'
 * but a last one), then, for a literal, no '-' at all (ext_strncpy). */
static void s_display_cid(const char *cid, char *out, size_t len)
{
    size_t o = 0;
    int bracketed = 0;
    for (const char *s = cid; *s && o + 1 < len; s++) {
        if (*s == '[')
            bracketed++;
        else if (*s == ']')
            bracketed--;
        else if (*s == '-' && !bracketed)
            continue;
        else if (*s == '.' && s[1])
            continue;
        else if (*s == '(' || *s == ')' || *s == ' ')
            continue;
        out[o++] = *s;
    }
    out[o] = '\0';
    if (out[0] != '_') {
        char *w = out;
        for (const char *r = out; *r; r++)
            if (*r != '-')
                *w++ = *r;
        *w = '\0';
    }
}

/* "  %-17s %-45s [file:line]": the file without its folders, as pbx_config
 * registers it. */
static void s_line(FILE *out, const char *first, const dialplan_prio_t *p)
{
    char app[1024];
    const char *file = strrchr(p->file, '/');
    file = file ? file + 1 : p->file;
    snprintf(app, sizeof app, "%d. %s(%s)", p->priority, p->app_name, p->args);
    fprintf(out, "  %-17s %-45s [%s:%d]\n", first, app, file, p->line);
}

static void s_ext(s_show_t *sh, const dialplan_ext_t *ext)
{
    char first[1024], name[256];
    s_display_name(ext->name, name, sizeof name);
    const char *slash = strchr(ext->name, '/');
    if (ext->cid && slash) {
        char cid[256];
        s_display_cid(slash + 1, cid, sizeof cid);
        snprintf(first, sizeof first, "'%s' (CID match '%s') => ", name, cid);
    } else {
        snprintf(first, sizeof first, "'%s' =>", name);
    }
    sh->total_prio++;
    s_line(sh->out, first, &ext->prios[0]);
    sh->total_exten++;
    for (size_t i = 1; i < ext->nprios; i++) {
        const dialplan_prio_t *p = &ext->prios[i];
        sh->total_prio++;
        if (p->label)
            snprintf(first, sizeof first, "   [%s]", p->label);
        else
            first[0] = '\0';
        s_line(sh->out, first, p);
    }
}

/* --- the walk ------------------------------------------------------------ */

/* show_dialplan_helper: every context named context (all when NULL); with
 * an extension, each include is searched in turn (rinclude), once. */
static void s_walk(s_show_t *sh, const dialplan_t *self, const char *context, int rinclude,
                   int includecount)
{
    for (size_t c = self->nctx; c-- > 0;) {
        const struct dialplan_context *ctx = self->ctx_list[c];
        if (context && strcmp(ctx->name, context) != 0)
            continue;
        sh->context_existence = 1;
        int printed = 0;
        if (!sh->exten) {
            sh->total_context++;
            fprintf(sh->out, "[ Context '%s' created by '%s' ]\n", ctx->name, S_REGISTRAR);
            printed = 1;
        }
        s_list_t heads = { NULL, 0, 0 };
        s_heads(ctx, &heads);
        for (size_t h = 0; h < heads.n; h++) {
            for (const dialplan_ext_t *ext = heads.list[h]; ext; ext = ext->alt) {
                /* A name whose every line failed (or only a hint): Asterisk
                 * has registered nothing. */
                if (!ext->nprios || (sh->exten && !s_match(sh, ext)))
                    continue;
                sh->extension_existence = 1;
                if (!printed) {
                    sh->total_context++;
                    fprintf(sh->out, "[ %s '%s' created by '%s' ]\n",
                            rinclude ? "Included context" : "Context", ctx->name, S_REGISTRAR);
                    printed = 1;
                }
                s_ext(sh, ext);
            }
        }
        free(heads.list);
        for (size_t i = 0; i < ctx->nincludes; i++) {
            const char *name = ctx->include_names[i];
            if (!sh->exten) {
                char quoted[1024];
                snprintf(quoted, sizeof quoted, "'%s'", name);
                fprintf(sh->out, "  Include =>        %-45s [%s]\n", quoted, S_REGISTRAR);
                continue;
            }
            if (includecount >= S_MAX_STACK) {
                td_log(LOG_WARNING, "Maximum include depth exceeded!");
                continue;
            }
            int dupe = 0;
            for (int x = 0; x < includecount && !dupe; x++)
                dupe = strcasecmp(sh->includes[x], name) == 0;
            if (dupe) {
                td_log(LOG_WARNING, "Avoiding circular include of %s within %s", name,
                       context ? context : "(null)");
                continue;
            }
            sh->includes[includecount] = name;
            s_walk(sh, self, name, 1, includecount + 1);
        }
        if (printed)
            fputc('\n', sh->out);
    }
}

int dialplan_show(const dialplan_t *self, const char *context, const char *exten, FILE *out)
{
    s_show_t *sh = calloc(1, sizeof *sh);
    if (!sh) {
        fprintf(out, "Out of memory\n");
        return -1;
    }
    sh->out = out;
    sh->exten = exten && *exten ? exten : NULL;
    if (context && !*context)
        context = NULL;
    if (sh->exten) {
        if (!pattern_literal_normalize(sh->exten, sh->exten_norm, sizeof sh->exten_norm))
            sh->exten_norm[0] = '\0';
        if (sh->exten[0] == '_') {
            char why[256];
            sh->exten_pattern = pattern_new(sh->exten, why, sizeof why);
        }
    }
    s_walk(sh, self, context, 0, 0);
    int rc = 0;
    if (context && !sh->context_existence) {
        fprintf(out, "There is no existence of '%s' context\n", context);
        rc = -1;
    } else if (sh->exten && !sh->extension_existence) {
        if (context)
            fprintf(out, "There is no existence of %s@%s extension\n", sh->exten, context);
        else
            fprintf(out, "There is no existence of '%s' extension in all contexts\n", sh->exten);
        rc = -1;
    } else {
        fprintf(out, "-= %d %s (%d %s) in %d %s. =-\n", sh->total_exten,
                sh->total_exten == 1 ? "extension" : "extensions", sh->total_prio,
                sh->total_prio == 1 ? "priority" : "priorities", sh->total_context,
                sh->total_context == 1 ? "context" : "contexts");
    }
    pattern_destroy(&sh->exten_pattern);
    free(sh);
    return rc;
}
