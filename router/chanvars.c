/* chanvars - see chanvars.h. */
#include "chanvars.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;                 /* as written: "VAR", "_VAR", "__VAR" */
    char *value;
} s_var_t;

typedef struct {
    char *name;                 /* the outer variable's name as written (bare if none) */
    char *value;                /* its value, NULL: there was none */
} s_saved_t;

typedef struct {
    s_saved_t *saved;
    size_t n, cap;
} s_frame_t;

struct chanvars {
    s_var_t *vars;              /* in the order set */
    size_t n, cap;
    s_frame_t *frames;          /* innermost last */
    size_t nframes, fcap;
};

/* "__VAR" -> "VAR": what lookups compare (Asterisk's ast_var_name). */
static const char *s_bare(const char *name)
{
    if (name[0] == '_')
        name += name[1] == '_' ? 2 : 1;
    return name;
}

static long s_find(const chanvars_t *self, const char *bare)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(s_bare(self->vars[i].name), bare) == 0)
            return (long)i;
    return -1;
}

static int s_grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

chanvars_t *chanvars_new(void)
{
    return calloc(1, sizeof(chanvars_t));
}

static void s_free_frame(s_frame_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->saved[i].name);
        free(f->saved[i].value);
    }
    free(f->saved);
}

void chanvars_destroy(chanvars_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chanvars_t *self = *self_p;
    for (size_t i = self->nframes; i > 0; i--)
        s_free_frame(&self->frames[i - 1]);
    free(self->frames);
    for (size_t i = 0; i < self->n; i++) {
        free(self->vars[i].name);
        free(self->vars[i].value);
    }
    free(self->vars);
    free(self);
    *self_p = NULL;
}

static void s_delete(chanvars_t *self, long i)
{
    free(self->vars[i].name);
    free(self->vars[i].value);
    memmove(&self->vars[i], &self->vars[i + 1], (self->n - (size_t)i - 1) * sizeof *self->vars);
    self->n--;
}

static int s_store(chanvars_t *self, const char *name, const char *value, int keep_empty)
{
    const char *bare = s_bare(name);
    if (!self || !*bare)
        return -1;
    long i = s_find(self, bare);
    if (!value || (!*value && !keep_empty)) {
        if (i >= 0)
            s_delete(self, i);
        return 0;
    }
    char *v = strdup(value);
    if (!v)
        return -1;
    /* pbx_builtin_setvar_helper deletes the old variable and inserts the new
     * one as the newest (HASHKEYS lists newest first), whatever underscores
     * either was written with. */
    char *n = strdup(name);
    if (!n || s_grow((void **)&self->vars, &self->cap, self->n, sizeof *self->vars) < 0) {
        free(n);
        free(v);
        return -1;
    }
    if (i >= 0)
        s_delete(self, i);
    self->vars[self->n].name = n;
    self->vars[self->n].value = v;
    self->n++;
    return 0;
}

int chanvars_set(chanvars_t *self, const char *name, const char *value)
{
    return s_store(self, name, value, 0);
}

int chanvars_put(chanvars_t *self, const char *name, const char *value)
{
    return s_store(self, name, value, 1);
}

const char *chanvars_get(const chanvars_t *self, const char *name)
{
    if (!self)
        return NULL;
    /* The stored name loses its underscores, the asked one keeps them
     * (ast_str_retrieve_variable compares ast_var_name with the name as
     * written): ${__X} finds nothing. */
    long i = s_find(self, name);
    return i >= 0 ? self->vars[i].value : NULL;
}

size_t chanvars_count(const chanvars_t *self)
{
    return self ? self->n : 0;
}

void chanvars_foreach(const chanvars_t *self,
                      void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    for (size_t i = 0; self && i < self->n; i++)
        fn(arg, self->vars[i].name, self->vars[i].value);
}

int chanvars_inherit(const chanvars_t *parent, chanvars_t *child)
{
    for (size_t i = 0; parent && i < parent->n; i++) {
        const char *name = parent->vars[i].name;
        int rc = 0;
        if (name[0] == '_' && name[1] == '_')
            rc = chanvars_put(child, name, parent->vars[i].value);
        else if (name[0] == '_')
            rc = chanvars_put(child, name + 1, parent->vars[i].value);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int chanvars_push_frame(chanvars_t *self)
{
    if (s_grow((void **)&self->frames, &self->fcap, self->nframes, sizeof *self->frames) < 0)
        return -1;
    memset(&self->frames[self->nframes++], 0, sizeof *self->frames);
    return 0;
}

int chanvars_pop_frame(chanvars_t *self)
{
    if (!self->nframes)
        return -1;
    s_frame_t *f = &self->frames[--self->nframes];
    /* Newest first, so the value from before the frame wins. */
    for (size_t i = f->n; i > 0; i--) {
        s_saved_t *s = &f->saved[i - 1];
        if (s->value)
            chanvars_put(self, s->name, s->value);
        else
            chanvars_set(self, s->name, NULL);
    }
    s_free_frame(f);
    return 0;
}

int chanvars_depth(const chanvars_t *self)
{
    return self ? (int)self->nframes : 0;
}

static s_saved_t *s_local(const s_frame_t *f, const char *bare)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(s_bare(f->saved[i].name), bare) == 0)
            return &f->saved[i];
    return NULL;
}

int chanvars_set_local(chanvars_t *self, const char *name, const char *value)
{
    if (!self || !self->nframes)
        return -1;
    s_frame_t *f = &self->frames[self->nframes - 1];
    const char *bare = s_bare(name);
    if (!*bare)
        return -1;
    if (!s_local(f, bare)) {
        if (s_grow((void **)&f->saved, &f->cap, f->n, sizeof *f->saved) < 0)
            return -1;
        long i = s_find(self, bare);
        s_saved_t s = { strdup(i >= 0 ? self->vars[i].name : bare),
                        i >= 0 ? strdup(self->vars[i].value) : NULL };
        if (!s.name || (i >= 0 && !s.value)) {
            free(s.name);
            free(s.value);
            return -1;
        }
        f->saved[f->n++] = s;
    }
    return chanvars_set(self, name, value);
}

const char *chanvars_get_local(const chanvars_t *self, const char *name)
{
    if (!self || !self->nframes)
        return NULL;
    const char *bare = s_bare(name);
    if (!s_local(&self->frames[self->nframes - 1], bare))
        return NULL;
    return chanvars_get(self, bare);
}
