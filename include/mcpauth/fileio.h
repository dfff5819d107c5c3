/* Reading bounded files (or stdin) and writing private files atomically.
 * Blocking file I/O: for command-line use and start-up, not the event loop. */
#ifndef MCPAUTH_FILEIO_H
#define MCPAUTH_FILEIO_H

#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/error.h"

#define MCPAUTH_SECRET_MAX_BYTES (64 * 1024)

/* Reads the whole of path ("-" means standard input) into a NUL-terminated
 * buffer the caller frees. Larger than max_bytes, unreadable or missing ->
 * MCPAUTH_ELOCAL with a message naming the file and the reason. */
mcpauth_status mcpauth_file_read(const char *path, size_t max_bytes, char **out, size_t *length,
                                 mcpauth_error *err);

/* Reads a secret (token, client secret) from path ("-" for stdin): at most
 * 64 KiB, surrounding whitespace removed, must then be non-empty and free of
 * control characters. what names the secret in messages (never its value).
 * The caller wipes and frees *out with mcpauth_secret_free(). */
mcpauth_status mcpauth_file_read_secret(const char *path, const char *what, char **out,
                                        mcpauth_error *err);

/* Writes data to path with mode 0600. Without overwrite an existing path is an
 * error (MCPAUTH_ELOCAL, "refusing to overwrite"); with it, the new contents
 * are written to a temporary file in the same directory, synced and renamed
 * over path, so readers see the old or the new file, never a mix. */
mcpauth_status mcpauth_file_write_private(const char *path, const char *data, size_t length,
                                          bool overwrite, mcpauth_error *err);

/* Checks, before any work whose result would be lost, that
 * mcpauth_file_write_private(path, ..., overwrite) can succeed: path absent
 * (or, with overwrite, a regular file) and its directory writable. path
 * NULL is fine (nothing to write). MCPAUTH_ELOCAL naming the problem. */
mcpauth_status mcpauth_file_check_writable(const char *path, bool overwrite, mcpauth_error *err);

/* True when path's permissions let group or others read it. */
bool mcpauth_file_is_shared(const char *path);

#endif
