/* td_conf - reader for Asterisk-style .conf files.
 *
 * Syntax accepted (as Asterisk's config.c):
 *   ; comment            (a "\;" is a literal semicolon)
 *   [section]            [name](!)  a template      [name](tmpl1,tmpl2)  inherits
 *   key = value          key => value   (the arrow is recorded: td_conf_var_t.arrow)
 *   #include "file"      #include file   (relative to the including file's folder)
 *   [name](+)            adds to the section of that name
 * A section that names templates starts with copies of the templates' variables
 * (in template order), then its own. A name given to several sections stays
 * several sections; a template or a (+) names the first of them. Every
 * variable keeps the file and line it was written on, so callers can report
 * "file:line: reason".
 * Nothing here knows what a key means: sip.conf, extensions.conf, rtp.conf and
 * tandem.conf readers walk the sections and validate. */
#ifndef TD_CONF_H
#define TD_CONF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct td_conf_var {
    char *name;
    char *value;
    const char *file;          /* owned by the td_conf_t */
    int line;
    int arrow;                 /* written with "=>" rather than "=" */
    int inherited;             /* copied from a template */
    struct td_conf_var *next;
} td_conf_var_t;

typedef struct td_conf_section {
    char *name;
    const char *file;
    int line;
    int is_template;           /* [name](!) */
    td_conf_var_t *vars;       /* in file order */
    struct td_conf_section *next;
} td_conf_section_t;

/* What Asterisk's config.c warns about and reads past (a line with no '=',
 * an unterminated ";--" block): kept in file order for the reader to report
 * (td_conf_warnings) the way it reports its own. */
typedef struct td_conf_warning {
    const char *file;          /* owned by the td_conf_t */
    int line;
    struct td_conf_warning *next;
    char text[];
} td_conf_warning_t;

typedef struct td_conf td_conf_t;

/* Read `path`. Returns NULL on failure and writes "file:line: reason" into err.
 * Variables before the first section go into a section named "" . */
td_conf_t *td_conf_load(const char *path, char *err, size_t errlen);
void td_conf_destroy(td_conf_t **self_p);

/* The warnings of the load, in file order, or NULL. Borrowed until destroy. */
const td_conf_warning_t *td_conf_warnings(const td_conf_t *self);
/* Log each warning once as "file:line: text" (td_log, LOG_WARNING): for the
 * readers that have no warning channel of their own. */
void td_conf_log_warnings(const td_conf_t *self);

/* The sections in file order (templates included; skip is_template ones). */
td_conf_section_t *td_conf_first(td_conf_t *self);
/* The first section called name, or NULL. Borrowed until destroy. */
td_conf_section_t *td_conf_section(td_conf_t *self, const char *name);
/* The last value of key in section (later lines win), or NULL. */
td_conf_var_t *td_conf_var(td_conf_section_t *section, const char *key);
const char *td_conf_get(td_conf_section_t *section, const char *key);

/* Helpers for readers: parse "yes/no/true/false/on/off/1/0" (-1 if neither),
 * and a decimal integer in [min,max] (-1 on error, value in *out). */
int td_conf_bool(const char *value);
int td_conf_int(const char *value, long min, long max, long *out);

/* Write "file:line: message" into err (len bytes; line <= 0 leaves the line
 * out). Returns -1, so a reader can `return td_conf_error(...)`. Every
 * config reader reports through this, so errors read the same everywhere. */
int td_conf_error(char *err, size_t len, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int td_conf_verror(char *err, size_t len, const char *file, int line, const char *fmt,
                   va_list ap);

/* "dir/name" in buf; returns buf. */
char *td_conf_path(char *buf, size_t len, const char *dir, const char *name);

#endif
