/* astdb - see astdb.h. */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "astdb.h"
#include "strmap.h"
#include "td_log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *key;                   /* "family/key", the map's key */
    char *value;
} s_entry_t;

struct astdb {
    char *path;
    strmap_t *map;               /* key -> s_entry_t */
    FILE *log;                   /* open for appending; NULL: in memory only */
    astdb_change_fn *on_change;
    void *on_change_arg;
};

static char *s_key(const char *family, const char *key)
{
    size_t fl = strlen(family), kl = strlen(key);
    char *k = malloc(fl + kl + 2);
    if (!k)
        return NULL;
    memcpy(k, family, fl);
    k[fl] = '/';
    memcpy(k + fl + 1, key, kl + 1);
    return k;
}

static void s_entry_free(s_entry_t *e)
{
    if (!e)
        return;
    free(e->key);
    free(e->value);
    free(e);
}

/* In memory only; takes key. */
static int s_set(astdb_t *self, char *key, const char *value)
{
    s_entry_t *e = strmap_get(self->map, key);
    char *v = strdup(value);
    if (!v) {
        free(key);
        return -1;
    }
    if (e) {
        free(key);
        free(e->value);
        e->value = v;
        return 0;
    }
    e = malloc(sizeof *e);
    if (!e || strmap_put(self->map, key, e) < 0) {
        free(e);
        free(key);
        free(v);
        return -1;
    }
    e->key = key;
    e->value = v;
    return 0;
}

static int s_unset(astdb_t *self, const char *key)
{
    s_entry_t *e = strmap_remove(self->map, key);
    if (!e)
        return -1;
    s_entry_free(e);
    return 0;
}

static void s_escape(FILE *fp, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", fp);
        else if (*s == '\t')
            fputs("\\t", fp);
        else if (*s == '\n')
            fputs("\\n", fp);
        else
            fputc(*s, fp);
    }
}

/* In place; returns s. */
static char *s_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return s;
}

static int s_replay(astdb_t *self, FILE *fp)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    while ((n = getline(&line, &cap, fp)) > 0) {
        lineno++;
        if (line[n - 1] != '\n') {     /* cut short by a crash: never completed */
            td_log(LOG_WARNING, "%s:%d: incomplete last record ignored", self->path, lineno);
            break;
        }
        line[n - 1] = '\0';
        if (line[0] == 'P' && line[1] == ' ') {
            char *tab = strchr(line + 2, '\t');
            if (!tab) {
                td_log(LOG_WARNING, "%s:%d: bad record ignored", self->path, lineno);
                continue;
            }
            *tab = '\0';
            char *key = strdup(s_unescape(line + 2));
            if (!key || s_set(self, key, s_unescape(tab + 1)) < 0) {
                rc = -1;
                break;
            }
        } else if (line[0] == 'D' && line[1] == ' ') {
            s_unset(self, s_unescape(line + 2));
        } else if (line[0]) {
            td_log(LOG_WARNING, "%s:%d: bad record ignored", self->path, lineno);
        }
    }
    free(line);
    return rc;
}

typedef struct {
    FILE *fp;
} s_dump_t;

static void s_dump_one(void *arg, const char *key, void *value)
{
    s_dump_t *d = arg;
    s_entry_t *e = value;
    fputs("P ", d->fp);
    s_escape(d->fp, key);
    fputc('\t', d->fp);
    s_escape(d->fp, e->value);
    fputc('\n', d->fp);
}

/* Write the live records to path.tmp, fsync, rename over path. */
static int s_compact(astdb_t *self)
{
    size_t n = strlen(self->path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.%ld", self->path, (long)getpid());  /* two routers, one file */
    FILE *fp = fopen(tmp, "w");
    if (!fp) {
        td_log(LOG_ERR, "astdb: cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    s_dump_t d = { fp };
    strmap_foreach(self->map, s_dump_one, &d);
    int bad = fflush(fp) != 0 || fsync(fileno(fp)) != 0;
    bad |= fclose(fp) != 0;
    if (bad || rename(tmp, self->path) != 0) {
        td_log(LOG_ERR, "astdb: cannot replace %s: %s", self->path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    /* Make the rename itself durable. */
    char *dir = strdup(self->path);
    if (dir) {
        int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        free(dir);
    }
    return 0;
}

/* mkdir -p of path's folder. */
static void s_make_folder(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(dir, 0755);
        *p = '/';
    }
    free(dir);
}

astdb_t *astdb_open(const char *path)
{
    astdb_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->map = strmap_new(64);
    if (!self->map) {
        astdb_close(&self);
        return NULL;
    }
    if (!path)
        return self;
    self->path = strdup(path);
    if (!self->path) {
        astdb_close(&self);
        return NULL;
    }
    s_make_folder(path);
    FILE *fp = fopen(path, "r");
    if (fp) {
        int rc = s_replay(self, fp);
        fclose(fp);
        if (rc < 0) {
            td_log(LOG_ERR, "astdb: out of memory reading %s", path);
            astdb_close(&self);
            return NULL;
        }
    } else if (errno != ENOENT) {
        td_log(LOG_ERR, "astdb: cannot read %s: %s", path, strerror(errno));
        astdb_close(&self);
        return NULL;
    }
    if (s_compact(self) < 0 || !(self->log = fopen(path, "a"))) {
        td_log(LOG_ERR, "astdb: cannot open %s", path);
        astdb_close(&self);
        return NULL;
    }
    return self;
}

static void s_free_one(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    s_entry_free(value);
}

void astdb_close(astdb_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    astdb_t *self = *self_p;
    if (self->log)
        fclose(self->log);
    if (self->map)
        strmap_foreach(self->map, s_free_one, NULL);
    strmap_destroy(&self->map);
    free(self->path);
    free(self);
    *self_p = NULL;
}

const char *astdb_get(const astdb_t *self, const char *family, const char *key)
{
    if (!self)
        return NULL;
    char *k = s_key(family, key);
    if (!k)
        return NULL;
    s_entry_t *e = strmap_get(self->map, k);
    free(k);
    return e ? e->value : NULL;
}

const char *astdb_find(const astdb_t *self, const char *key)
{
    s_entry_t *e = self ? strmap_get(self->map, key) : NULL;
    return e ? e->value : NULL;
}

static int s_append(astdb_t *self, char op, const char *key, const char *value)
{
    if (!self->log)
        return 0;
    fputc(op, self->log);
    fputc(' ', self->log);
    s_escape(self->log, key);
    if (value) {
        fputc('\t', self->log);
        s_escape(self->log, value);
    }
    fputc('\n', self->log);
    if (fflush(self->log) != 0) {
        td_log(LOG_ERR, "astdb: cannot write %s: %s", self->path, strerror(errno));
        clearerr(self->log);
        return -1;
    }
    return 0;
}

int astdb_put(astdb_t *self, const char *family, const char *key, const char *value)
{
    if (!self)
        return -1;
    char *k = s_key(family, key);
    if (!k)
        return -1;
    if (s_append(self, 'P', k, value) < 0) {
        free(k);
        return -1;
    }
    if (s_set(self, k, value) < 0)
        return -1;
    if (self->on_change) {
        char *full = s_key(family, key);   /* k now belongs to the map */
        if (full)
            self->on_change(self->on_change_arg, full, value);
        free(full);
    }
    return 0;
}

int astdb_del(astdb_t *self, const char *family, const char *key)
{
    if (!self)
        return -1;
    char *k = s_key(family, key);
    if (!k)
        return -1;
    int rc = s_unset(self, k);
    if (rc == 0)
        rc = s_append(self, 'D', k, NULL);
    if (rc == 0 && self->on_change)
        self->on_change(self->on_change_arg, k, NULL);
    free(k);
    return rc;
}

void astdb_on_change(astdb_t *self, astdb_change_fn *fn, void *arg)
{
    self->on_change = fn;
    self->on_change_arg = arg;
}

int astdb_apply(astdb_t *self, const char *key, const char *value)
{
    if (!self)
        return -1;
    if (!value) {
        if (s_unset(self, key) < 0)
            return -1;
        return s_append(self, 'D', key, NULL);
    }
    char *k = strdup(key);
    if (!k || s_append(self, 'P', key, value) < 0) {
        free(k);
        return -1;
    }
    return s_set(self, k, value);
}

size_t astdb_count(const astdb_t *self)
{
    return self ? strmap_size(self->map) : 0;
}

typedef struct {
    void (*fn)(void *arg, const char *key, const char *value);
    void *arg;
} s_visit_t;

static void s_on_entry(void *arg, const char *key, void *value)
{
    s_visit_t *v = arg;
    v->fn(v->arg, key, ((s_entry_t *)value)->value);
}

void astdb_foreach(const astdb_t *self, void (*fn)(void *arg, const char *key, const char *value),
                   void *arg)
{
    if (!self)
        return;
    s_visit_t v = { fn, arg };
    strmap_foreach(self->map, s_on_entry, &v);
}
