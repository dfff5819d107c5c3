/* What the subcommands share: the HTTP client options, the client
 * credentials options, reading secrets from files or the environment (never
 * argv), and printing errors. */
#ifndef MCPAUTH_CMD_COMMON_H
#define MCPAUTH_CMD_COMMON_H

#include <stdbool.h>
#include <stdio.h>

#include "mcpauth/client_auth.h"
#include "mcpauth/credentials.h"
#include "mcpauth/error.h"
#include "mcpauth/http_client.h"
#include "mcpauth/jose.h"
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

/* Option ids 800..899 are reserved for the shared client options. */
enum {
    CMD_OPT_CREDENTIALS = 800,
    CMD_OPT_CLIENT_ID,
    CMD_OPT_CLIENT_SECRET_FILE,
    CMD_OPT_CLIENT_AUTH,
    CMD_OPT_AUTH_METHOD,
};

/* The client a command acts as, from the shared client options. */
typedef struct cmd_client_args {
    const char *credentials_file; /* -c FILE: written by `mcpauth register -o FILE` */
    const char *client_id;
    const char *client_secret_file;
    bool auth_given; /* --client-auth or --auth-method was given: auth holds it */
    mcpauth_client_auth auth;
} cmd_client_args;

/* -c/--credentials, --client-id, --client-secret-file. */
extern const cmd_option cmd_client_options[];

/* --client-auth: how a resource server's introspection calls authenticate
 * (client_secret_basic or client_secret_post; RFC 7662 §2.1 wants one). */
extern const cmd_option cmd_client_auth_options[];

/* Handles a shared client option, and --auth-method (CMD_OPT_AUTH_METHOD,
 * which `token` lists in its own table: none is allowed there); returns 0,
 * 2 after a usage error, or -1 when id is not one of them. */
int cmd_client_option(const cmd_spec *spec, cmd_client_args *client, int id, const char *arg);

/* Loads the credentials file, when given, into *creds (with a warning when
 * other users can read it); returns 0 or an exit status after printing. */
int cmd_client_load(const char *name, const cmd_client_args *client, mcpauth_credentials *creds);

/* Saved client credentials belong to the authorization server that issued
 * them (MCP 2026-07-28 Client Registration §Authorization Server Binding):
 * when the credentials file file, registered at bound, meets another issuer,
 * named by source ("--issuer", a configuration file, a resource's
 * metadata), prints as command name why and how to register again, and
 * returns status; 0 when they agree or either issuer is unknown. */
int cmd_client_check_issuer(const char *name, const char *file, const char *bound,
                            const char *source, const char *issuer, int status);

/* The client secret for an authentication that needs one: from
 * --client-secret-file, else from the credentials file (creds_secret), else
 * from MCPAUTH_CLIENT_SECRET. *secret receives what was read (free with
 * mcpauth_secret_free); *out the secret to use, NULL when none. Returns 0 or
 * an exit status after printing. */
int cmd_client_secret(const char *name, const cmd_client_args *client, const char *creds_secret,
                      char **secret, const char **out);

/* --jwt-alg ALG: adds ALG to the allow-list of policy, which is emptied first
 * while *fresh is true (the first --jwt-alg replaces the default list;
 * *fresh is then cleared). Returns 0, or 2 after a usage error. */
int cmd_jwt_alg_option(const cmd_spec *spec, mcpauth_jwt_policy *policy, bool *fresh,
                       const char *arg);

/* Warns, as command name, when the file at path (not "-") is readable by
 * other users: it holds what (e.g. "secrets"). */
void cmd_warn_if_shared(const char *name, const char *path, const char *what);

/* Reads a secret from file (when not NULL) or else from the environment
 * variable env_name. *out is NULL when neither is given. The caller frees
 * with mcpauth_secret_free(). */
mcpauth_status cmd_read_secret(const char *file, const char *env_name, const char *what, char **out,
                               mcpauth_error *err);

/* Prints "mcpauth NAME: message" to stderr and returns err->status. */
int cmd_fail(const char *name, const mcpauth_error *err);

/* Prints "mcpauth NAME: warning: ..." to stderr. */
void cmd_warn(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes NAME='value' with the value quoted for POSIX sh (safe to eval). */
void cmd_print_shell_assignment(FILE *out, const char *name, const char *value);

#endif
