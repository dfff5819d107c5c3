/* Temporary directories for tests: see testlib.h. */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"

void testlib_tmpdir_make(char *dir, size_t size, const char *prefix)
{
    int n = snprintf(dir, size, "/tmp/%s-XXXXXX", prefix);
    ck_assert(n > 0 && (size_t)n < size);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

void testlib_tmpdir_make_in(char *dir, size_t size, const char *parent)
{
    int n = snprintf(dir, size, "%s/t-XXXXXX", parent);
    ck_assert(n > 0 && (size_t)n < size);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

void testlib_tmpdir_remove(const char *dir)
{
    if (dir[0])
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *testlib_path(const char *dir, const char *name)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    int n = snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < sizeof paths[0]);
    return path;
}

void testlib_put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    fclose(f);
}
