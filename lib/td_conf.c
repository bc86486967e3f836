/* td_conf - see td_conf.h. */
#include "td_conf.h"
#include "td_log.h"
#include "td_str.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TD_CONF_MAX_DEPTH 10
#define TD_CONF_MAX_LINE  4096

typedef struct s_file {
    struct s_file *next;
    char path[];
} s_file_t;

struct td_conf {
    td_conf_section_t *first, *last;
    s_file_t *files;            /* every file read, for var->file */
    char *err;
    size_t errlen;
    int block_depth;            /* open ";--" block comments in the file being read */
    int block_line;             /* where the outermost open one began */
    td_conf_warning_t *warnings, *last_warning;
};

static void s_warn(td_conf_t *self, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_warn(td_conf_t *self, const char *file, int line, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    size_t n = strlen(text) + 1;
    td_conf_warning_t *w = malloc(sizeof *w + n);
    if (!w)
        return;
    w->file = file;
    w->line = line;
    w->next = NULL;
    memcpy(w->text, text, n);
    if (self->last_warning)
        self->last_warning->next = w;
    else
        self->warnings = w;
    self->last_warning = w;
}

static int s_error(td_conf_t *self, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_error(td_conf_t *self, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    td_conf_verror(self->err, self->errlen, file, line, fmt, ap);
    va_end(ap);
    return -1;
}

/* Remove comments as main/config.c's config_text_file_load does, one ';'
 * at a time: "\;" is a literal ';' (the backslash goes), ";--" (but not
 * ";---") opens a block comment and block comments nest, "--;" closes one,
 * and any other ';' outside a block ends the line, even inside an
 * application's parentheses. Text on either side of a block comment on one
 * line is joined. */
static void s_strip_comments(td_conf_t *self, char *line)
{
    char *out = line;
    for (char *p = line; *p; p++) {
        if (p[0] == '\\' && p[1] == ';') {
            if (!self->block_depth)
                *out++ = ';';
            p++;
        } else if (p[0] == ';' && p[1] == '-' && p[2] == '-' && p[3] != '-') {
            self->block_depth++;
            p += 2;
        } else if (p[0] == '-' && p[1] == '-' && p[2] == ';' && self->block_depth) {
            self->block_depth--;
            p += 2;
        } else if (self->block_depth) {
            continue;
        } else if (p[0] == ';') {
            break;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
}

static const char *s_remember_file(td_conf_t *self, const char *path)
{
    for (s_file_t *f = self->files; f; f = f->next)
        if (strcmp(f->path, path) == 0)
            return f->path;
    size_t n = strlen(path) + 1;
    s_file_t *f = malloc(sizeof *f + n);
    if (!f)
        return NULL;
    memcpy(f->path, path, n);
    f->next = self->files;
    self->files = f;
    return f->path;
}

static td_conf_var_t *s_var_new(const char *name, const char *value, const char *file, int line)
{
    td_conf_var_t *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->name = strdup(name);
    v->value = strdup(value);
    v->file = file;
    v->line = line;
    if (!v->name || !v->value) {
        free(v->name);
        free(v->value);
        free(v);
        return NULL;
    }
    return v;
}

static void s_section_append(td_conf_section_t *sec, td_conf_var_t *v)
{
    td_conf_var_t **pp = &sec->vars;
    while (*pp)
        pp = &(*pp)->next;
    *pp = v;
}

static td_conf_section_t *s_section_new(td_conf_t *self, const char *name,
                                        const char *file, int line)
{
    td_conf_section_t *sec = calloc(1, sizeof *sec);
    if (!sec || !(sec->name = strdup(name))) {
        free(sec);
        return NULL;
    }
    sec->file = file;
    sec->line = line;
    if (self->last)
        self->last->next = sec;
    else
        self->first = sec;
    self->last = sec;
    return sec;
}

static int s_inherit(td_conf_t *self, td_conf_section_t *sec, td_conf_section_t *tmpl)
{
    for (td_conf_var_t *v = tmpl->vars; v; v = v->next) {
        td_conf_var_t *copy = s_var_new(v->name, v->value, v->file, v->line);
        if (!copy)
            return s_error(self, sec->file, sec->line, "out of memory");
        copy->arrow = v->arrow;
        copy->inherited = 1;
        s_section_append(sec, copy);
    }
    return 0;
}

/* "[name](opts)" -> new current section. */
static int s_parse_header(td_conf_t *self, char *text, const char *file, int line,
                          td_conf_section_t **cur)
{
    char *close = strchr(text, ']');
    if (!close)
        return s_error(self, file, line, "missing ']' in section header");
    *close = '\0';
    char *name = td_str_trim(text + 1);
    if (!*name)
        return s_error(self, file, line, "empty section name");
    char *rest = td_str_trim(close + 1);
    int is_template = 0, append = 0;
    char *opts = NULL;
    if (*rest) {
        if (*rest != '(')
            return s_error(self, file, line, "unexpected text after section header: %s", rest);
        char *end = strchr(rest, ')');
        if (!end)
            return s_error(self, file, line, "missing ')' in section options");
        *end = '\0';
        if (*td_str_trim(end + 1))
            return s_error(self, file, line, "unexpected text after section options");
        opts = rest + 1;
    }
    /* Options: "!" template, "+" append to an existing section, else template names. */
    char *tmpls[32];
    int ntmpl = 0;
    if (opts) {
        char *save = NULL;
        for (char *tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            tok = td_str_trim(tok);
            if (!*tok)
                continue;
            if (strcmp(tok, "!") == 0)
                is_template = 1;
            else if (strcmp(tok, "+") == 0)
                append = 1;
            else if (ntmpl < 32)
                tmpls[ntmpl++] = tok;
            else
                return s_error(self, file, line, "too many templates");
        }
    }
    if (append) {
        td_conf_section_t *found = NULL;   /* the first of that name, as config.c */
        for (td_conf_section_t *s = self->first; s && !found; s = s->next)
            if (strcmp(s->name, name) == 0)
                found = s;
        if (!found)
            return s_error(self, file, line, "section [%s] to append to (+) is not defined", name);
        *cur = found;
        return 0;
    }
    /* Resolve templates before the new section exists, so [a](a) is an error. */
    td_conf_section_t *resolved[32];
    for (int i = 0; i < ntmpl; i++) {
        resolved[i] = NULL;                 /* the first of that name, as config.c */
        for (td_conf_section_t *s = self->first; s && !resolved[i]; s = s->next)
            if (strcmp(s->name, tmpls[i]) == 0)
                resolved[i] = s;
        if (!resolved[i])
            return s_error(self, file, line, "template [%s] is not defined before [%s]",
                           tmpls[i], name);
    }
    td_conf_section_t *sec = s_section_new(self, name, file, line);
    if (!sec)
        return s_error(self, file, line, "out of memory");
    sec->is_template = is_template;
    for (int i = 0; i < ntmpl; i++)
        if (s_inherit(self, sec, resolved[i]) < 0)
            return -1;
    *cur = sec;
    return 0;
}

static int s_load_file(td_conf_t *self, const char *path, const char *from_file,
                       int from_line, int depth, td_conf_section_t **cur);

static int s_parse_directive(td_conf_t *self, char *text, const char *file, int line,
                             int depth, td_conf_section_t **cur)
{
    if (strncmp(text, "#include", 8) != 0 || !(isspace((unsigned char)text[8]) || text[8] == '"'))
        return s_error(self, file, line, "unknown directive: %s", text);
    char *arg = td_str_trim(text + 8);
    size_t n = strlen(arg);
    if (n >= 2 && ((arg[0] == '"' && arg[n - 1] == '"') || (arg[0] == '<' && arg[n - 1] == '>'))) {
        arg[n - 1] = '\0';
        arg++;
    }
    if (!*arg)
        return s_error(self, file, line, "#include needs a file name");
    char full[PATH_MAX];
    if (arg[0] == '/') {
        snprintf(full, sizeof full, "%s", arg);
    } else {
        const char *slash = strrchr(file, '/');
        int dirlen = slash ? (int)(slash - file) : 0;
        if (slash)
            snprintf(full, sizeof full, "%.*s/%s", dirlen, file, arg);
        else
            snprintf(full, sizeof full, "%s", arg);
    }
    return s_load_file(self, full, file, line, depth + 1, cur);
}

static int s_parse_line(td_conf_t *self, char *raw, const char *file, int line,
                        int depth, td_conf_section_t **cur)
{
    s_strip_comments(self, raw);
    char *text = td_str_trim(raw);
    if (!*text)
        return 0;
    if (*text == '[')
        return s_parse_header(self, text, file, line, cur);
    if (*text == '#')
        return s_parse_directive(self, text, file, line, depth, cur);
    char *eq = strchr(text, '=');
    if (!eq) {
        /* main/config.c process_text_line: warned about and skipped. */
        s_warn(self, file, line, "No '=' (equal sign) in line; ignored: %s", text);
        return 0;
    }
    int arrow = eq[1] == '>';
    *eq = '\0';
    char *name = td_str_trim(text);
    char *value = td_str_trim(eq + (arrow ? 2 : 1));
    if (!*name)
        return s_error(self, file, line, "missing key before '%s'", arrow ? "=>" : "=");
    if (!*cur) {
        td_conf_section_t *sec = s_section_new(self, "", file, line);
        if (!sec)
            return s_error(self, file, line, "out of memory");
        *cur = sec;
    }
    td_conf_var_t *v = s_var_new(name, value, file, line);
    if (!v)
        return s_error(self, file, line, "out of memory");
    v->arrow = arrow;
    s_section_append(*cur, v);
    return 0;
}

static int s_load_file(td_conf_t *self, const char *path, const char *from_file,
                       int from_line, int depth, td_conf_section_t **cur)
{
    if (depth > TD_CONF_MAX_DEPTH)
        return s_error(self, from_file, from_line, "#include nested too deep (loop?)");
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (from_file)
            return s_error(self, from_file, from_line, "cannot read included file %s: %s",
                           path, strerror(errno));
        return s_error(self, path, 0, "cannot read: %s", strerror(errno));
    }
    const char *file = s_remember_file(self, path);
    if (!file) {
        fclose(fp);
        return s_error(self, path, 0, "out of memory");
    }
    char buf[TD_CONF_MAX_LINE];
    int line = 0, rc = 0;
    int outer_depth = self->block_depth;    /* each file has its own comments */
    int outer_line = self->block_line;
    self->block_depth = 0;
    while (rc == 0 && fgets(buf, sizeof buf, fp)) {
        line++;
        size_t n = strlen(buf);
        if (n == sizeof buf - 1 && buf[n - 1] != '\n' && !feof(fp)) {
            rc = s_error(self, file, line, "line longer than %d characters", TD_CONF_MAX_LINE - 2);
            break;
        }
        int was_open = self->block_depth > 0;
        rc = s_parse_line(self, buf, file, line, depth, cur);
        if (!was_open && self->block_depth > 0)
            self->block_line = line;
    }
    fclose(fp);
    /* Asterisk warns about an unterminated ";--" and ignores the rest of
     * the file. */
    if (rc == 0 && self->block_depth > 0)
        s_warn(self, file, self->block_line,
               "Unterminated comment detected beginning on line %d", self->block_line);
    self->block_depth = outer_depth;
    self->block_line = outer_line;
    return rc;
}

td_conf_t *td_conf_load(const char *path, char *err, size_t errlen)
{
    td_conf_t *self = calloc(1, sizeof *self);
    if (!self) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    self->err = err;
    self->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    td_conf_section_t *cur = NULL;
    if (s_load_file(self, path, NULL, 0, 0, &cur) < 0) {
        td_conf_destroy(&self);
        return NULL;
    }
    self->err = NULL;
    return self;
}

void td_conf_destroy(td_conf_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    td_conf_t *self = *self_p;
    td_conf_section_t *sec = self->first;
    while (sec) {
        td_conf_section_t *next_sec = sec->next;
        td_conf_var_t *v = sec->vars;
        while (v) {
            td_conf_var_t *next = v->next;
            free(v->name);
            free(v->value);
            free(v);
            v = next;
        }
        free(sec->name);
        free(sec);
        sec = next_sec;
    }
    td_conf_warning_t *w = self->warnings;
    while (w) {
        td_conf_warning_t *next = w->next;
        free(w);
        w = next;
    }
    s_file_t *f = self->files;
    while (f) {
        s_file_t *next = f->next;
        free(f);
        f = next;
    }
    free(self);
    *self_p = NULL;
}

const td_conf_warning_t *td_conf_warnings(const td_conf_t *self)
{
    return self ? self->warnings : NULL;
}

void td_conf_log_warnings(const td_conf_t *self)
{
    for (const td_conf_warning_t *w = td_conf_warnings(self); w; w = w->next)
        td_log(LOG_WARNING, "%s:%d: %s", w->file, w->line, w->text);
}

td_conf_section_t *td_conf_first(td_conf_t *self)
{
    return self ? self->first : NULL;
}

td_conf_section_t *td_conf_section(td_conf_t *self, const char *name)
{
    for (td_conf_section_t *s = self ? self->first : NULL; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

td_conf_var_t *td_conf_var(td_conf_section_t *section, const char *key)
{
    td_conf_var_t *found = NULL;
    for (td_conf_var_t *v = section ? section->vars : NULL; v; v = v->next)
        if (strcasecmp(v->name, key) == 0)
            found = v;
    return found;
}

const char *td_conf_get(td_conf_section_t *section, const char *key)
{
    td_conf_var_t *v = td_conf_var(section, key);
    return v ? v->value : NULL;
}

int td_conf_bool(const char *value)
{
    static const char *yes[] = { "yes", "true", "y", "t", "1", "on" };
    static const char *no[] = { "no", "false", "n", "f", "0", "off" };
    if (!value)
        return -1;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcasecmp(value, yes[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcasecmp(value, no[i]) == 0)
            return 0;
    return -1;
}

int td_conf_int(const char *value, long min, long max, long *out)
{
    if (!value || !*value)
        return -1;
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

int td_conf_verror(char *err, size_t len, const char *file, int line, const char *fmt,
                   va_list ap)
{
    if (!err || !len)
        return -1;
    int n = line > 0 ? snprintf(err, len, "%s:%d: ", file, line)
                     : snprintf(err, len, "%s: ", file);
    if (n >= 0 && (size_t)n < len)
        vsnprintf(err + n, len - (size_t)n, fmt, ap);
    return -1;
}

int td_conf_error(char *err, size_t len, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    td_conf_verror(err, len, file, line, fmt, ap);
    va_end(ap);
    return -1;
}

char *td_conf_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}
