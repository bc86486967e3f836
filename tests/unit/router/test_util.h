/* Helpers shared by the router's unit tests (header only: each test is one
 * binary). Temporary folders under /tmp, removed at the end. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void test_rmdir(const char *dir);

/* Every folder test_tmpdir made, removed at exit too: a failed assertion
 * jumps out of a test before its own test_rmdir. */
static char test_dirs_[64][64];
static int test_ndirs_;

static inline void test_rmdirs_at_exit(void)
{
    for (int i = 0; i < test_ndirs_; i++)
        if (access(test_dirs_[i], F_OK) == 0)
            test_rmdir(test_dirs_[i]);
}

/* A fresh temporary folder into dir[len]. */
static inline void test_tmpdir(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/tandem-router-test-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    if (test_ndirs_ == 0)
        atexit(test_rmdirs_at_exit);
    if (test_ndirs_ < 64 && strlen(dir) < sizeof test_dirs_[0])
        snprintf(test_dirs_[test_ndirs_++], sizeof test_dirs_[0], "%s", dir);
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
