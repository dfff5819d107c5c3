#include "mcpauth/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcpauth/secret.h"

static const char *file_display_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "standard input" : path;
}

mcpauth_status mcpauth_file_read(const char *path, size_t max_bytes, char **out, size_t *length,
                                 mcpauth_error *err)
{
    *out = NULL;
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot open %s: %s",
                                 file_display_name(path), strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot read %s: it is a directory", path);
    }
    size_t capacity = 4096, used = 0;
    char *data = malloc(capacity);
    while (data) {
        if (used + 1 >= capacity) {
            char *bigger = capacity > SIZE_MAX / 2 ? NULL : realloc(data, capacity * 2);
            if (!bigger) {
                free(data);
                data = NULL;
                break;
            }
            data = bigger;
            capacity *= 2;
        }
        ssize_t n = read(fd, data + used, capacity - used - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            explicit_bzero(data, used);
            free(data);
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot read %s: %s",
                                     file_display_name(path), strerror(saved));
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > max_bytes) {
            close(fd);
            explicit_bzero(data, used);
            free(data);
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "%s is larger than %zu bytes",
                                     file_display_name(path), max_bytes);
        }
    }
    close(fd);
    if (!data)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory reading %s", path);
    data[used] = '\0';
    *out = data;
    if (length)
        *length = used;
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_file_read_secret(const char *path, const char *what, char **out,
                                        mcpauth_error *err)
{
    char *data = NULL;
    size_t length = 0;
    *out = NULL;
    if (mcpauth_file_read(path, MCPAUTH_SECRET_MAX_BYTES, &data, &length, err) != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "%s", what);
    size_t full = length;
    size_t start = 0;
    while (start < length && strchr(" \t\r\n", data[start]))
        start++;
    while (length > start && strchr(" \t\r\n", data[length - 1]))
        length--;
    bool clean = length > start;
    for (size_t i = start; i < length && clean; i++)
        clean = (unsigned char)data[i] >= 0x20 && data[i] != 0x7f;
    if (!clean) {
        explicit_bzero(data, full);
        free(data);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "%s in %s is empty or contains control characters", what,
                                 file_display_name(path));
    }
    size_t kept = length - start;
    memmove(data, data + start, kept);
    explicit_bzero(data + kept, full - kept + 1);
    *out = data;
    return MCPAUTH_OK;
}

static mcpauth_status write_all(int fd, const char *data, size_t length, const char *path,
                                mcpauth_error *err)
{
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot write %s: %s", path,
                                     strerror(errno));
        data += n;
        length -= (size_t)n;
    }
    if (fsync(fd) != 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot write %s: %s", path,
                                 strerror(errno));
    return MCPAUTH_OK;
}

static mcpauth_status write_new(const char *path, const char *data, size_t length,
                                mcpauth_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "refusing to overwrite existing file %s (use --force)", path);
    if (fd < 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot create %s: %s", path,
                                 strerror(errno));
    mcpauth_status st = write_all(fd, data, length, path, err);
    close(fd);
    if (st != MCPAUTH_OK)
        unlink(path);
    return st;
}

static mcpauth_status write_replace(const char *path, const char *data, size_t length,
                                    mcpauth_error *err)
{
    /* dirname() and basename() may modify their argument: one copy each. */
    char *dir_copy = strdup(path), *base_copy = strdup(path);
    size_t tmp_size = strlen(path) + 32;
    char *tmp = malloc(tmp_size);
    if (!dir_copy || !base_copy || !tmp) {
        free(dir_copy);
        free(base_copy);
        free(tmp);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    snprintf(tmp, tmp_size, "%s/.%s.XXXXXX", dirname(dir_copy), basename(base_copy));
    free(dir_copy);
    free(base_copy);
    /* mkstemp creates the file 0600, so the secret is never readable by others
     * even for the moment before rename. */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot create a temporary file beside %s: %s",
                          path, strerror(errno));
        free(tmp);
        return MCPAUTH_ELOCAL;
    }
    mcpauth_status st = write_all(fd, data, length, path, err);
    close(fd);
    if (st == MCPAUTH_OK && rename(tmp, path) != 0)
        st = mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot replace %s: %s", path,
                               strerror(errno));
    if (st != MCPAUTH_OK)
        unlink(tmp);
    free(tmp);
    return st;
}

mcpauth_status mcpauth_file_write_private(const char *path, const char *data, size_t length,
                                          bool overwrite, mcpauth_error *err)
{
    struct stat st;
    if (overwrite && lstat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                     "refusing to overwrite %s: not a regular file", path);
        return write_replace(path, data, length, err);
    }
    return write_new(path, data, length, err);
}

mcpauth_status mcpauth_file_check_writable(const char *path, bool overwrite, mcpauth_error *err)
{
    if (!path)
        return MCPAUTH_OK;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!overwrite)
            return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                     "refusing to overwrite existing file %s (use --force)", path);
        if (!S_ISREG(st.st_mode))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                     "refusing to overwrite %s: not a regular file", path);
    }
    char *copy = strdup(path);
    if (!copy)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    const char *dir = dirname(copy);
    mcpauth_status status = MCPAUTH_OK;
    if (access(dir, W_OK) != 0)
        status = mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                   "cannot write %s: directory %s is not writable", path, dir);
    free(copy);
    return status;
}

bool mcpauth_file_is_shared(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
}
