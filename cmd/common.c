#include "common.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/fileio.h"
#include "mcpauth/oauth_token.h"
#include "mcpauth/secret.h"
#include "mcpauth/url.h"

const cmd_option cmd_http_options[] = {
    {"timeout", 0, "SECONDS", CMD_OPT_TIMEOUT, "give up on a request after this long (15)"},
    {"cacert", 0, "FILE", CMD_OPT_CACERT, "trust the CA certificates in this PEM file"},
    {"insecure", 0, NULL, CMD_OPT_INSECURE, "do not verify TLS certificates (testing only)"},
    {"allow-http", 0, NULL, CMD_OPT_ALLOW_HTTP, "allow plain http:// to non-loopback hosts"},
    {"verbose", 'v', NULL, CMD_OPT_VERBOSE, "print requests and statuses to stderr"},
    {NULL, 0, NULL, 0, NULL},
};

int cmd_http_option(const cmd_spec *spec, mcpauth_http_options *opts, int id, const char *arg)
{
    long value;
    switch (id) {
    case CMD_OPT_TIMEOUT:
        if (cmd_parse_long(spec, "timeout", arg, 1, 3600, &value) != 0)
            return 2;
        opts->timeout_seconds = value;
        return 0;
    case CMD_OPT_CACERT:
        opts->cacert = arg;
        return 0;
    case CMD_OPT_INSECURE:
        opts->insecure = true;
        return 0;
    case CMD_OPT_ALLOW_HTTP:
        opts->allow_http = true;
        return 0;
    case CMD_OPT_VERBOSE:
        opts->verbose = stderr;
        return 0;
    default:
        return -1;
    }
}

const cmd_option cmd_client_options[] = {
    {"credentials", 'c', "FILE", CMD_OPT_CREDENTIALS,
     "client id, secret and issuer (register -o FILE)"},
    {"client-id", 0, "ID", CMD_OPT_CLIENT_ID, "the client's id at the authorization server"},
    {"client-secret-file", 0, "FILE", CMD_OPT_CLIENT_SECRET_FILE,
     "the client secret (or MCPAUTH_CLIENT_SECRET)"},
    {NULL, 0, NULL, 0, NULL},
};

const cmd_option cmd_client_auth_options[] = {
    {"client-auth", 0, "METHOD", CMD_OPT_CLIENT_AUTH,
     "client_secret_basic (default) or client_secret_post"},
    {NULL, 0, NULL, 0, NULL},
};

/* --client-auth and --auth-method name an RFC 7591 §2 method; --client-auth
 * also takes the short forms basic and post (mcpauth-serve(1)). */
static int client_auth_option(const cmd_spec *spec, cmd_client_args *client, int id,
                              const char *arg)
{
    const char *name = arg;
    if (id == CMD_OPT_CLIENT_AUTH && strcmp(arg, "basic") == 0)
        name = "client_secret_basic";
    else if (id == CMD_OPT_CLIENT_AUTH && strcmp(arg, "post") == 0)
        name = "client_secret_post";
    mcpauth_client_auth auth;
    bool known = mcpauth_client_auth_from_name(name, &auth);
    if (id == CMD_OPT_AUTH_METHOD && !known)
        return cmd_usage_error(spec,
                               "--auth-method: '%s' is not client_secret_basic, "
                               "client_secret_post or none",
                               arg);
    /* Introspection is for authenticated clients only (RFC 7662 §2.1). */
    if (id == CMD_OPT_CLIENT_AUTH && (!known || auth == MCPAUTH_CLIENT_AUTH_NONE))
        return cmd_usage_error(spec,
                               "--client-auth: '%s' is not client_secret_basic or "
                               "client_secret_post",
                               arg);
    client->auth = auth;
    client->auth_given = true;
    return 0;
}

int cmd_client_option(const cmd_spec *spec, cmd_client_args *client, int id, const char *arg)
{
    switch (id) {
    case CMD_OPT_CREDENTIALS:
        client->credentials_file = arg;
        return 0;
    case CMD_OPT_CLIENT_ID:
        client->client_id = arg;
        return 0;
    case CMD_OPT_CLIENT_SECRET_FILE:
        client->client_secret_file = arg;
        return 0;
    case CMD_OPT_CLIENT_AUTH:
    case CMD_OPT_AUTH_METHOD:
        return client_auth_option(spec, client, id, arg);
    default:
        return -1;
    }
}

void cmd_warn_if_shared(const char *name, const char *path, const char *what)
{
    if (strcmp(path, "-") != 0 && mcpauth_file_is_shared(path))
        cmd_warn(name, "%s is readable by other users; it holds %s (chmod 600 it)", path, what);
}

int cmd_client_load(const char *name, const cmd_client_args *client, mcpauth_credentials *creds)
{
    mcpauth_error err = {0};
    if (!client->credentials_file)
        return 0;
    if (mcpauth_credentials_load(client->credentials_file, creds, &err) != MCPAUTH_OK)
        return cmd_fail(name, &err);
    cmd_warn_if_shared(name, client->credentials_file, "secrets");
    return 0;
}

int cmd_client_check_issuer(const char *name, const char *file, const char *bound,
                            const char *source, const char *issuer, int status)
{
    if (!file || !bound || !issuer || mcpauth_url_canonical_equal(bound, issuer))
        return 0;
    /* The issuer may come from a remote document: quoted, so that it
     * cannot write to the terminal. */
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_url_quote(issuer, quoted, sizeof quoted);
    fprintf(stderr,
            "mcpauth %s: %s was registered at %s, but %s names %s as the authorization server: "
            "client credentials are bound to the server that issued them; register again: "
            "mcpauth register --issuer %s -o %s --force\n",
            name, file, bound, source, quoted, quoted, file);
    return status;
}

int cmd_client_secret(const char *name, const cmd_client_args *client, const char *creds_secret,
                      char **secret, const char **out)
{
    mcpauth_error err = {0};
    *out = creds_secret;
    if (!client->client_secret_file && creds_secret)
        return 0;
    if (cmd_read_secret(client->client_secret_file, "MCPAUTH_CLIENT_SECRET", "client secret",
                        secret, &err) != MCPAUTH_OK)
        return cmd_fail(name, &err);
    if (*secret)
        *out = *secret;
    return 0;
}

int cmd_jwt_alg_option(const cmd_spec *spec, mcpauth_jwt_policy *policy, bool *fresh,
                       const char *arg)
{
    mcpauth_jws_alg alg;
    if (!mcpauth_jws_alg_parse(arg, &alg))
        return cmd_usage_error(spec,
                               "--jwt-alg: '%s' is not allowed (RS256/384/512, PS256/384/512, "
                               "ES256/384/512, EdDSA, Ed25519, Ed448; never none or HMAC)",
                               arg);
    if (*fresh) {
        memset(policy->allowed, 0, sizeof policy->allowed);
        *fresh = false;
    }
    policy->allowed[alg] = true;
    return 0;
}

mcpauth_status cmd_read_secret(const char *file, const char *env_name, const char *what, char **out,
                               mcpauth_error *err)
{
    *out = NULL;
    if (file)
        return mcpauth_file_read_secret(file, what, out, err);
    const char *value = getenv(env_name);
    if (!value || !*value)
        return MCPAUTH_OK;
    *out = strdup(value);
    if (!*out)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return MCPAUTH_OK;
}

int cmd_fail(const char *name, const mcpauth_error *err)
{
    fprintf(stderr, "mcpauth %s: %s\n", name, err->message);
    return err->status;
}

void cmd_warn(const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mcpauth %s: warning: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cmd_print_shell_assignment(FILE *out, const char *name, const char *value)
{
    /* Inside single quotes sh takes every byte literally except the quote
     * itself, which is written as '\'' (close, escaped quote, reopen). */
    fprintf(out, "%s='", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", out);
        else
            fputc(*p, out);
    }
    fputs("'\n", out);
}
