/* Errors as values: every library call that can fail fills an mcpauth_error.
 *
 * The status doubles as the process exit code of every subcommand, so the
 * table below is the one documented in mcpauth(1). Library code never prints
 * or exits; the commands in cmd/ print err->message and return err->status.
 */
#ifndef MCPAUTH_ERROR_H
#define MCPAUTH_ERROR_H

#include <stdarg.h>

typedef enum mcpauth_status {
    MCPAUTH_OK = 0,       /* success */
    MCPAUTH_ENEGATIVE = 1, /* a negative answer the caller asked about */
    MCPAUTH_EUSAGE = 2,   /* bad command line or invalid option value */
    MCPAUTH_ENETWORK = 3, /* cannot connect, timeout, TLS or certificate failure */
    MCPAUTH_EREMOTE = 4,  /* the remote side answered with an error or garbage */
    MCPAUTH_ELOCAL = 5,   /* local file or configuration error */
} mcpauth_status;

#define MCPAUTH_ERROR_MESSAGE_MAX 1024

typedef struct mcpauth_error {
    mcpauth_status status;
    char message[MCPAUTH_ERROR_MESSAGE_MAX]; /* one line, no trailing newline */
} mcpauth_error;

/* Sets status and a printf-style message; returns status so callers can write
 * `return mcpauth_error_set(err, MCPAUTH_EREMOTE, "...")`. err may be NULL. */
mcpauth_status mcpauth_error_set(mcpauth_error *err, mcpauth_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message, keeping the status, which it
 * returns (MCPAUTH_ELOCAL when err is NULL: it is only called on failure). */
mcpauth_status mcpauth_error_prefix(mcpauth_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears err to MCPAUTH_OK with an empty message. */
void mcpauth_error_clear(mcpauth_error *err);

/* A short name for a status ("network error", ...), for logs. */
const char *mcpauth_status_name(mcpauth_status status);

#endif
