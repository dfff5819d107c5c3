/* What every subcommand shares: the HTTP client options, reading secrets from
 * files or the environment (never argv), and printing errors. */
#ifndef MCPAUTH_CMD_COMMON_H
#define MCPAUTH_CMD_COMMON_H

#include <stdio.h>

#include "mcpauth/error.h"
#include "mcpauth/http_client.h"
#include "options.h"

/* Option ids 900..999 are reserved for the shared HTTP options. */
enum {
    CMD_OPT_TIMEOUT = 900,
    CMD_OPT_CACERT,
    CMD_OPT_INSECURE,
    CMD_OPT_ALLOW_HTTP,
    CMD_OPT_VERBOSE,
};

extern const cmd_option cmd_http_options[];

/* Handles a shared HTTP option; returns 0, 2 after a usage error, or -1 when
 * id is not one of them. */
int cmd_http_option(const cmd_spec *spec, mcpauth_http_options *opts, int id, const char *arg);

/* Reads a secret from file (when not NULL) or else from the environment
 * variable env_name. *out is NULL when neither is given. The caller frees
 * with mcpauth_secret_free(). */
mcpauth_status cmd_read_secret(const char *file, const char *env_name, const char *what,
                               char **out, mcpauth_error *err);

/* Prints "mcpauth NAME: message" to stderr and returns err->status. */
int cmd_fail(const char *name, const mcpauth_error *err);

/* Prints "mcpauth NAME: warning: ..." to stderr. */
void cmd_warn(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes NAME='value' with the value quoted for POSIX sh (safe to eval). */
void cmd_print_shell_assignment(FILE *out, const char *name, const char *value);

#endif
