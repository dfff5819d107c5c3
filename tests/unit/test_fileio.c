#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcpauth/fileio.h"
#include "mcpauth/secret.h"
#include "testlib.h"

/* A directory per test case (the unchecked fixture, run by the runner, so it
 * is removed even when a forked test dies) holding a directory per test. */
static char base_dir[64];
static char test_dir[128];

static void make_base_dir(void)
{
    testlib_tmpdir_make(base_dir, sizeof base_dir, "mcpauth-fileio");
}

static void remove_base_dir(void)
{
    testlib_tmpdir_remove(base_dir);
}

static void make_test_dir(void)
{
    testlib_tmpdir_make_in(test_dir, sizeof test_dir, base_dir);
}

static void stdin_restore(void);

static void remove_test_dir(void)
{
    stdin_restore();
    testlib_tmpdir_remove(test_dir);
}

static const char *test_path(const char *name)
{
    return testlib_path(test_dir, name);
}

static void put_file(const char *path, const char *data, size_t length, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, length), (ssize_t)length);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
}

static char *get_file(const char *path)
{
    char *data = NULL;
    mcpauth_error err = {0};
    ck_assert_msg(mcpauth_file_read(path, 1 << 20, &data, NULL, &err) == MCPAUTH_OK, "%s",
                  err.message);
    return data;
}

static mode_t file_mode(const char *path)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Points standard input at a pipe holding data; stdin_restore() undoes it
 * (the fixture calls it too, for runs without fork). */
static int saved_stdin = -1;

static void stdin_from(const char *data, size_t length)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    /* Small enough for the pipe buffer, so the write cannot block. */
    ck_assert_uint_lt(length, 32 * 1024);
    ck_assert_int_eq(write(fds[1], data, length), (ssize_t)length);
    close(fds[1]);
    saved_stdin = dup(STDIN_FILENO);
    ck_assert_int_ge(saved_stdin, 0);
    ck_assert_int_eq(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    close(fds[0]);
}

static void stdin_restore(void)
{
    if (saved_stdin >= 0) {
        dup2(saved_stdin, STDIN_FILENO);
        close(saved_stdin);
        saved_stdin = -1;
    }
}

/* --- mcpauth_file_read -------------------------------------------------- */

START_TEST(read_whole_file)
{
    const char *path = test_path("data.json");
    const char content[] = "{\"a\": 1}\nsecond line\n";
    put_file(path, content, sizeof content - 1, 0600);

    char *data = (char *)0x1;
    size_t length = 0;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(path, 1024, &data, &length, &err), MCPAUTH_OK);
    ck_assert_uint_eq(length, sizeof content - 1);
    ck_assert_str_eq(data, content);
    free(data);
}
END_TEST

START_TEST(read_binary_and_large)
{
    const char *path = test_path("big.bin");
    size_t size = 100000; /* several times the initial buffer */
    char *content = malloc(size);
    ck_assert_ptr_nonnull(content);
    for (size_t i = 0; i < size; i++)
        content[i] = (char)(i * 7 + 3);
    content[500] = '\0';
    put_file(path, content, size, 0600);

    char *data = NULL;
    size_t length = 0;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(path, size, &data, &length, &err), MCPAUTH_OK);
    ck_assert_uint_eq(length, size);
    ck_assert_int_eq(memcmp(data, content, size), 0);
    ck_assert_int_eq(data[size], '\0');
    free(data);
    free(content);
}
END_TEST

START_TEST(read_empty_file)
{
    const char *path = test_path("empty");
    put_file(path, "", 0, 0600);

    char *data = NULL;
    size_t length = 99;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(path, 10, &data, &length, &err), MCPAUTH_OK);
    ck_assert_uint_eq(length, 0);
    ck_assert_str_eq(data, "");
    free(data);
}
END_TEST

START_TEST(read_length_optional)
{
    const char *path = test_path("x");
    put_file(path, "abc", 3, 0600);

    char *data = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(path, 10, &data, NULL, &err), MCPAUTH_OK);
    ck_assert_str_eq(data, "abc");
    free(data);
}
END_TEST

START_TEST(read_exactly_at_limit)
{
    const char *path = test_path("limit");
    put_file(path, "0123456789", 10, 0600);

    char *data = NULL;
    size_t length = 0;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(path, 10, &data, &length, &err), MCPAUTH_OK);
    ck_assert_uint_eq(length, 10);
    free(data);
}
END_TEST

START_TEST(read_over_limit)
{
    const char *path = test_path("limit");
    put_file(path, "0123456789A", 11, 0600);

    char *data = (char *)0x1;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(path, 10, &data, NULL, &err), MCPAUTH_ELOCAL);
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    ck_assert_ptr_null(data);
    char expected[512];
    snprintf(expected, sizeof expected, "%s is larger than 10 bytes", path);
    ck_assert_str_eq(err.message, expected);
}
END_TEST

START_TEST(read_far_over_limit)
{
    const char *path = test_path("huge");
    size_t size = 300000;
    char *content = calloc(1, size);
    ck_assert_ptr_nonnull(content);
    put_file(path, content, size, 0600);
    free(content);

    char *data = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(path, 5000, &data, NULL, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(err.message, "larger than 5000 bytes"));
}
END_TEST

START_TEST(read_missing_file)
{
    const char *path = test_path("does-not-exist");
    char *data = (char *)0x1;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(path, 10, &data, NULL, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_null(data);
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    char expected[512];
    snprintf(expected, sizeof expected, "cannot open %s: %s", path, strerror(ENOENT));
    ck_assert_str_eq(err.message, expected);
}
END_TEST

START_TEST(read_unreadable_file)
{
    if (geteuid() == 0)
        return; /* root reads anything */
    const char *path = test_path("locked");
    put_file(path, "x", 1, 0000);
    char *data = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(path, 10, &data, NULL, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, path));
    ck_assert_ptr_nonnull(strstr(err.message, strerror(EACCES)));
}
END_TEST

START_TEST(read_directory_refused)
{
    char *data = (char *)0x1;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read(test_dir, 1024, &data, NULL, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_null(data);
    char expected[512];
    snprintf(expected, sizeof expected, "cannot read %s: it is a directory", test_dir);
    ck_assert_str_eq(err.message, expected);
}
END_TEST

START_TEST(read_stdin)
{
    const char content[] = "from a pipe\n";
    stdin_from(content, sizeof content - 1);

    char *data = NULL;
    size_t length = 0;
    mcpauth_error err = {0};
    mcpauth_status st = mcpauth_file_read("-", 1024, &data, &length, &err);
    stdin_restore();
    ck_assert_int_eq(st, MCPAUTH_OK);
    ck_assert_uint_eq(length, sizeof content - 1);
    ck_assert_str_eq(data, content);
    free(data);
}
END_TEST

START_TEST(read_stdin_over_limit)
{
    stdin_from("0123456789", 10);

    char *data = NULL;
    mcpauth_error err = {0};
    mcpauth_status st = mcpauth_file_read("-", 4, &data, NULL, &err);
    stdin_restore();
    ck_assert_int_eq(st, MCPAUTH_ELOCAL);
    ck_assert_str_eq(err.message, "standard input is larger than 4 bytes");
}
END_TEST

START_TEST(read_stdin_leaves_stdin_open)
{
    stdin_from("abc", 3);
    char *data = NULL;
    mcpauth_error err = {0};
    mcpauth_status st = mcpauth_file_read("-", 16, &data, NULL, &err);
    /* The library reads a duplicate: fd 0 itself stays valid. */
    int flags = fcntl(STDIN_FILENO, F_GETFD);
    stdin_restore();
    ck_assert_int_eq(st, MCPAUTH_OK);
    ck_assert_int_ne(flags, -1);
    free(data);
}
END_TEST

/* --- mcpauth_file_read_secret ------------------------------------------- */

START_TEST(secret_trimmed)
{
    const char *path = test_path("secret");
    put_file(path, " \t s3cr3t-value.with~chars \r\n\n", 31, 0600);

    char *secret = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read_secret(path, "client secret", &secret, &err), MCPAUTH_OK);
    ck_assert_str_eq(secret, "s3cr3t-value.with~chars");
    mcpauth_secret_free(secret);
}
END_TEST

START_TEST(secret_inner_space_kept)
{
    const char *path = test_path("secret");
    put_file(path, "pass phrase words\n", 18, 0600);

    char *secret = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read_secret(path, "token", &secret, &err), MCPAUTH_OK);
    ck_assert_str_eq(secret, "pass phrase words");
    mcpauth_secret_free(secret);
}
END_TEST

START_TEST(secret_utf8_allowed)
{
    const char *path = test_path("secret");
    put_file(path, "p\xc3\xa4ss\n", 6, 0600);

    char *secret = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read_secret(path, "token", &secret, &err), MCPAUTH_OK);
    ck_assert_str_eq(secret, "p\xc3\xa4ss");
    mcpauth_secret_free(secret);
}
END_TEST

START_TEST(secret_from_stdin)
{
    stdin_from("tok-123\n", 8);
    char *secret = NULL;
    mcpauth_error err = {0};
    mcpauth_status st = mcpauth_file_read_secret("-", "access token", &secret, &err);
    stdin_restore();
    ck_assert_int_eq(st, MCPAUTH_OK);
    ck_assert_str_eq(secret, "tok-123");
    mcpauth_secret_free(secret);
}
END_TEST

typedef struct bad_secret {
    const char *content;
    size_t length;
} bad_secret;

/* The message is compared whole, so none of these values can leak into it. */
static const bad_secret bad_secrets[] = {
    {"", 0},
    {" \n\t\r\n ", 6},
    {"abc\x01"
     "def",
     7},
    {"top\tsecret", 10},
    {"top\nsecret\n", 11},
    {"hidden\x7fvalue", 12},
    {"nul\0value", 9},
    {"esc\x1b[31mred", 11},
};

START_TEST(secret_refused)
{
    const bad_secret *c = &bad_secrets[_i];
    const char *path = test_path("secret");
    put_file(path, c->content, c->length, 0600);

    char *secret = (char *)0x1;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read_secret(path, "client secret", &secret, &err),
                     MCPAUTH_ELOCAL);
    ck_assert_ptr_null(secret);
    char expected[512];
    snprintf(expected, sizeof expected,
             "client secret in %s is empty or contains control characters", path);
    ck_assert_str_eq(err.message, expected);
}
END_TEST

START_TEST(secret_refused_stdin_names_stdin)
{
    stdin_from("\n", 1);
    char *secret = NULL;
    mcpauth_error err = {0};
    mcpauth_status st = mcpauth_file_read_secret("-", "token", &secret, &err);
    stdin_restore();
    ck_assert_int_eq(st, MCPAUTH_ELOCAL);
    ck_assert_str_eq(err.message,
                     "token in standard input is empty or contains control characters");
}
END_TEST

START_TEST(secret_missing_file)
{
    const char *path = test_path("nope");
    char *secret = (char *)0x1;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read_secret(path, "client secret", &secret, &err),
                     MCPAUTH_ELOCAL);
    ck_assert_ptr_null(secret);
    char expected[512];
    snprintf(expected, sizeof expected, "client secret: cannot open %s: %s", path,
             strerror(ENOENT));
    ck_assert_str_eq(err.message, expected);
}
END_TEST

START_TEST(secret_too_large)
{
    const char *path = test_path("big-secret");
    size_t size = MCPAUTH_SECRET_MAX_BYTES + 1;
    char *content = malloc(size);
    ck_assert_ptr_nonnull(content);
    memset(content, 'k', size);
    put_file(path, content, size, 0600);
    free(content);

    char *secret = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read_secret(path, "token", &secret, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_null(secret);
    ck_assert(strncmp(err.message, "token: ", 7) == 0);
    ck_assert_ptr_nonnull(strstr(err.message, "larger than 65536 bytes"));
    ck_assert_ptr_null(strstr(err.message, "kkkk"));
}
END_TEST

START_TEST(secret_at_max_size)
{
    const char *path = test_path("max-secret");
    size_t size = MCPAUTH_SECRET_MAX_BYTES;
    char *content = malloc(size);
    ck_assert_ptr_nonnull(content);
    memset(content, 'k', size);
    content[size - 1] = '\n';
    put_file(path, content, size, 0600);
    free(content);

    char *secret = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_read_secret(path, "token", &secret, &err), MCPAUTH_OK);
    ck_assert_uint_eq(strlen(secret), size - 1);
    mcpauth_secret_free(secret);
}
END_TEST

/* --- mcpauth_file_write_private ----------------------------------------- */

static mode_t saved_umask;

static void permissive_umask(void)
{
    make_test_dir();
    saved_umask = umask(0);
}

static void restore_umask(void)
{
    umask(saved_umask);
    remove_test_dir();
}

START_TEST(write_creates_0600)
{
    const char *path = test_path("creds.json");
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(path, "hello\n", 6, false, &err), MCPAUTH_OK);
    ck_assert_int_eq(file_mode(path), 0600);
    char *data = get_file(path);
    ck_assert_str_eq(data, "hello\n");
    free(data);
    ck_assert_int_eq(count_entries(test_dir), 1);
}
END_TEST

START_TEST(write_empty_data)
{
    const char *path = test_path("empty");
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(path, "", 0, false, &err), MCPAUTH_OK);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    ck_assert_int_eq(file_mode(path), 0600);
}
END_TEST

START_TEST(write_refuses_existing)
{
    const char *path = test_path("creds.json");
    put_file(path, "old", 3, 0600);
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(path, "new", 3, false, &err), MCPAUTH_ELOCAL);
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "refusing to overwrite"));
    ck_assert_ptr_nonnull(strstr(err.message, path));
    char *data = get_file(path);
    ck_assert_str_eq(data, "old");
    free(data);
}
END_TEST

START_TEST(write_overwrite_replaces)
{
    const char *path = test_path("creds.json");
    put_file(path, "old contents that are longer", 28, 0644);
    ck_assert_int_eq(file_mode(path), 0644);
    struct stat before;
    ck_assert_int_eq(stat(path, &before), 0);

    /* A reader holding the old file keeps seeing the old contents. */
    int reader = open(path, O_RDONLY);
    ck_assert_int_ge(reader, 0);

    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(path, "new", 3, true, &err), MCPAUTH_OK);
    ck_assert_int_eq(file_mode(path), 0600);
    char *data = get_file(path);
    ck_assert_str_eq(data, "new");
    free(data);

    struct stat after;
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_msg(after.st_ino != before.st_ino, "file was rewritten in place, not renamed");
    char old[64] = "";
    ck_assert_int_eq(read(reader, old, sizeof old - 1), 28);
    ck_assert_str_eq(old, "old contents that are longer");
    close(reader);

    /* No temporary file left beside it. */
    ck_assert_int_eq(count_entries(test_dir), 1);
}
END_TEST

START_TEST(write_overwrite_missing_creates)
{
    const char *path = test_path("fresh");
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(path, "x", 1, true, &err), MCPAUTH_OK);
    ck_assert_int_eq(file_mode(path), 0600);
    char *data = get_file(path);
    ck_assert_str_eq(data, "x");
    free(data);
}
END_TEST

START_TEST(write_overwrite_relative_path)
{
    int cwd = open(".", O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(cwd, 0);
    ck_assert_int_eq(chdir(test_dir), 0);
    put_file("rel.json", "old", 3, 0644);
    mcpauth_error err = {0};
    mcpauth_status st = mcpauth_file_write_private("rel.json", "newer", 5, true, &err);
    ck_assert_int_eq(fchdir(cwd), 0);
    close(cwd);
    ck_assert_msg(st == MCPAUTH_OK, "%s", err.message);

    const char *path = test_path("rel.json");
    ck_assert_int_eq(file_mode(path), 0600);
    char *data = get_file(path);
    ck_assert_str_eq(data, "newer");
    free(data);
    ck_assert_int_eq(count_entries(test_dir), 1);
}
END_TEST

START_TEST(write_refuses_dangling_symlink)
{
    const char *target = test_path("target");
    const char *link = test_path("link");
    ck_assert_int_eq(symlink(target, link), 0);

    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(link, "secret", 6, false, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, link));
    ck_assert_int_eq(access(target, F_OK), -1);
}
END_TEST

START_TEST(write_refuses_symlink_to_file)
{
    const char *target = test_path("target");
    const char *link = test_path("link");
    put_file(target, "keep", 4, 0644);
    ck_assert_int_eq(symlink(target, link), 0);

    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(link, "secret", 6, false, &err), MCPAUTH_ELOCAL);
    char *data = get_file(target);
    ck_assert_str_eq(data, "keep");
    free(data);
    ck_assert_int_eq(file_mode(target), 0644);
}
END_TEST

START_TEST(write_overwrite_refuses_symlink)
{
    const char *target = test_path("target");
    const char *link = test_path("link");
    put_file(target, "keep", 4, 0644);
    ck_assert_int_eq(symlink(target, link), 0);

    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(link, "secret", 6, true, &err), MCPAUTH_ELOCAL);
    char expected[512];
    snprintf(expected, sizeof expected, "refusing to overwrite %s: not a regular file", link);
    ck_assert_str_eq(err.message, expected);
    char *data = get_file(target);
    ck_assert_str_eq(data, "keep");
    free(data);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
}
END_TEST

START_TEST(write_overwrite_refuses_directory)
{
    const char *dir = test_path("subdir");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(dir, "x", 1, true, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "not a regular file"));
    ck_assert_int_eq(count_entries(dir), 0);
}
END_TEST

START_TEST(write_overwrite_refuses_fifo)
{
    const char *fifo = test_path("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(fifo, "x", 1, true, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "not a regular file"));
}
END_TEST

START_TEST(write_missing_directory)
{
    const char *path = test_path("no/such/dir/file");
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(path, "x", 1, false, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "cannot create"));
    ck_assert_ptr_nonnull(strstr(err.message, path));
}
END_TEST

START_TEST(write_binary_data)
{
    const char *path = test_path("bin");
    const char content[] = {'a', '\0', 'b', '\n', (char)0xff};
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(path, content, sizeof content, false, &err),
                     MCPAUTH_OK);
    char *data = NULL;
    size_t length = 0;
    ck_assert_int_eq(mcpauth_file_read(path, 100, &data, &length, &err), MCPAUTH_OK);
    ck_assert_uint_eq(length, sizeof content);
    ck_assert_int_eq(memcmp(data, content, sizeof content), 0);
    free(data);
}
END_TEST

/* --- mcpauth_file_is_shared --------------------------------------------- */

START_TEST(is_shared_modes)
{
    static const struct {
        mode_t mode;
        bool shared;
    } cases[] = {
        {0600, false}, {0400, false}, {0700, false}, {0640, true},
        {0604, true},  {0644, true},  {0660, true},  {0601, true},
    };
    const char *path = test_path("perm");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_file(path, "x", 1, cases[i].mode);
        ck_assert_msg(mcpauth_file_is_shared(path) == cases[i].shared, "mode %o",
                      (unsigned)cases[i].mode);
        unlink(path);
    }
}
END_TEST

START_TEST(is_shared_missing)
{
    ck_assert(!mcpauth_file_is_shared(test_path("missing")));
}
END_TEST

START_TEST(is_shared_after_write_private)
{
    const char *path = test_path("written");
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_file_write_private(path, "x", 1, false, &err), MCPAUTH_OK);
    ck_assert(!mcpauth_file_is_shared(path));
}
END_TEST

/* Refusals come before any work whose result would otherwise be lost. */
START_TEST(check_writable)
{
    mcpauth_error err = {0};
    const char *fresh = test_path("fresh.json");
    ck_assert_int_eq(mcpauth_file_check_writable(NULL, false, &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_file_check_writable(fresh, false, &err), MCPAUTH_OK);

    put_file(fresh, "x", 1, 0600);
    ck_assert_int_eq(mcpauth_file_check_writable(fresh, false, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "refusing to overwrite existing file"));
    ck_assert_int_eq(mcpauth_file_check_writable(fresh, true, &err), MCPAUTH_OK);

    ck_assert_int_eq(mcpauth_file_check_writable(test_dir, true, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "not a regular file"));

    ck_assert_int_eq(mcpauth_file_check_writable(test_path("no/such/dir/f"), false, &err),
                     MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "is not writable"));
}
END_TEST

static Suite *fileio_suite(void)
{
    Suite *s = suite_create("fileio");

    TCase *tc = tcase_create("read");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, remove_test_dir);
    tcase_add_test(tc, read_whole_file);
    tcase_add_test(tc, read_binary_and_large);
    tcase_add_test(tc, read_empty_file);
    tcase_add_test(tc, read_length_optional);
    tcase_add_test(tc, read_exactly_at_limit);
    tcase_add_test(tc, read_over_limit);
    tcase_add_test(tc, read_far_over_limit);
    tcase_add_test(tc, read_missing_file);
    tcase_add_test(tc, read_unreadable_file);
    tcase_add_test(tc, read_directory_refused);
    tcase_add_test(tc, read_stdin);
    tcase_add_test(tc, read_stdin_over_limit);
    tcase_add_test(tc, read_stdin_leaves_stdin_open);
    suite_add_tcase(s, tc);

    tc = tcase_create("read_secret");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, remove_test_dir);
    tcase_add_test(tc, secret_trimmed);
    tcase_add_test(tc, secret_inner_space_kept);
    tcase_add_test(tc, secret_utf8_allowed);
    tcase_add_test(tc, secret_from_stdin);
    tcase_add_loop_test(tc, secret_refused, 0, (int)(sizeof bad_secrets / sizeof bad_secrets[0]));
    tcase_add_test(tc, secret_refused_stdin_names_stdin);
    tcase_add_test(tc, secret_missing_file);
    tcase_add_test(tc, secret_too_large);
    tcase_add_test(tc, secret_at_max_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("write_private");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, permissive_umask, restore_umask);
    tcase_add_test(tc, write_creates_0600);
    tcase_add_test(tc, write_empty_data);
    tcase_add_test(tc, write_refuses_existing);
    tcase_add_test(tc, write_overwrite_replaces);
    tcase_add_test(tc, write_overwrite_missing_creates);
    tcase_add_test(tc, write_overwrite_relative_path);
    tcase_add_test(tc, write_refuses_dangling_symlink);
    tcase_add_test(tc, write_refuses_symlink_to_file);
    tcase_add_test(tc, write_overwrite_refuses_symlink);
    tcase_add_test(tc, write_overwrite_refuses_directory);
    tcase_add_test(tc, write_overwrite_refuses_fifo);
    tcase_add_test(tc, write_missing_directory);
    tcase_add_test(tc, write_binary_data);
    suite_add_tcase(s, tc);

    tc = tcase_create("is_shared");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, permissive_umask, restore_umask);
    tcase_add_test(tc, is_shared_modes);
    tcase_add_test(tc, is_shared_missing);
    tcase_add_test(tc, is_shared_after_write_private);
    tcase_add_test(tc, check_writable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(fileio_suite());
}
