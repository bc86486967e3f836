/* td_path - see td_path.h. */
#include "td_path.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* 1 if one of path's '/'-separated components is "..". */
static int s_has_dotdot(const char *path)
{
    for (const char *p = path; *p; ) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n;
        p += strspn(p, "/");
    }
    return 0;
}

/* dir made absolute, without trailing slashes, into out; -1 if it cannot. */
static int s_absolute(const char *dir, char *out, size_t len)
{
    char cwd[PATH_MAX];
    if (dir[0] == '/') {
        snprintf(out, len, "%s", dir);
    } else {
        if (!getcwd(cwd, sizeof cwd))
            return -1;
        const char *d = dir;
        while (d[0] == '.' && d[1] == '/')
            d += 2;
        if ((size_t)snprintf(out, len, "%s/%s", cwd, d) >= len)
            return -1;
    }
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    return 0;
}

int td_path_confined(const char *name, const char *const *dirs, size_t n, char *why,
                     size_t whylen)
{
    if (!name || !*name) {
        snprintf(why, whylen, "no file name");
        return -1;
    }
    if (s_has_dotdot(name)) {
        snprintf(why, whylen, "'..' in a file name is not allowed");
        return -1;
    }
    if (name[0] != '/')
        return 0;
    char abs[PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        if (!dirs[i] || !*dirs[i] || s_has_dotdot(dirs[i])
            || s_absolute(dirs[i], abs, sizeof abs) < 0)
            continue;
        size_t k = strlen(abs);
        if (strncmp(name, abs, k) != 0)
            continue;
        const char *rest = abs[k - 1] == '/' ? name + k : name[k] == '/' ? name + k + 1 : NULL;
        if (rest && rest[strspn(rest, "/")])
            return 0;                 /* something inside, not the directory itself */
    }
    snprintf(why, whylen, "an absolute name outside the %s directory%s", n > 1 ? "allowed" : "configured",
             n > 1 ? "s" : "");
    return -1;
}
