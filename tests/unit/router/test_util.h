/* Helpers shared by the router's unit tests (header only: each test is one
 * binary). Temporary folders under /tmp, removed at the end. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh temporary folder into dir[len]. */
static inline void test_tmpdir(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/tandem-router-test-XXXXXX");
    if (!mkdtemp(dir))
        abort();
}

/* Write text to dir/name; the path into path[len]. */
static inline void test_write(const char *dir, const char *name, const char *text,
                              char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp)
        abort();
    fputs(text, fp);
    fclose(fp);
}

/* The whole of a (small) file into buf; "" if missing. */
static inline char *test_read(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *fp = fopen(path, "r");
    if (!fp)
        return buf;
    size_t n = fread(buf, 1, len - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* rm -r dir (only files one level down, which is all the tests make). */
static inline void test_rmdir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (strncmp(dir, "/tmp/tandem-router-test-", 24) == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif
