/* mcpauth token: obtain access tokens from an authorization server's token
 * endpoint with the client_credentials, authorization_code (PKCE S256,
 * loopback redirect) or refresh_token grant, for scripts and tests. Option
 * parsing, choosing the client and printing only; the protocol work is in
 * src/oauth/ (token_request.c, authorization.c, token_file.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "mcpauth/authorization.h"
#include "mcpauth/cimd.h"
#include "mcpauth/credentials.h"
#include "mcpauth/discovery.h"
#include "mcpauth/fileio.h"
#include "mcpauth/json.h"
#include "mcpauth/oauth_token.h"
#include "mcpauth/oauth_token_file.h"
#include "mcpauth/secret.h"
#include "mcpauth/url.h"

#define DEFAULT_WAIT_SECONDS 300
#define MAX_WAIT_SECONDS     86400

extern char **environ;

enum {
    OPT_ISSUER = 256,
    OPT_GRANT,
    OPT_SCOPE,
    OPT_RESOURCE,
    OPT_REFRESH_TOKEN_FILE,
    OPT_REDIRECT_URI,
    OPT_OPEN,
    OPT_WAIT_TIMEOUT,
    OPT_JSON,
    OPT_OUTPUT,
    OPT_FORCE,
};

static const cmd_option issuer_options[] = {
    {"issuer", 0, "URL", OPT_ISSUER,
     "the authorization server (default: from -c FILE or --resource)"},
    {NULL, 0, NULL, 0, NULL},
};

/* --auth-method, not --client-auth: the token endpoint also takes public
 * clients (none), which introspection does not. */
static const cmd_option auth_method_options[] = {
    {"auth-method", 0, "METHOD", CMD_OPT_AUTH_METHOD,
     "client_secret_basic, client_secret_post or none"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option grant_options[] = {
    {"grant", 'g', "GRANT", OPT_GRANT, "the grant type (see Grants below)"},
    {"scope", 0, "SCOPES", OPT_SCOPE, "space-separated scopes (default: as registered)"},
    {"resource", 0, "URL", OPT_RESOURCE, "the MCP server's URL (RFC 8707), repeatable"},
    {"refresh-token-file", 0, "FILE", OPT_REFRESH_TOKEN_FILE,
     "the refresh token, or a file written by --output"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option browser_options[] = {
    {"redirect-uri", 0, "URI", OPT_REDIRECT_URI, "loopback URI to listen on (default: registered)"},
    {"open", 0, NULL, OPT_OPEN, "open the authorization URL with xdg-open"},
    {"wait-timeout", 0, "SECONDS", OPT_WAIT_TIMEOUT,
     "wait this long for the browser's redirect (300)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option output_options[] = {
    {"json", 0, NULL, OPT_JSON, "print the whole token response (JSON)"},
    {"output", 'o', "FILE", OPT_OUTPUT, "save the tokens to FILE (mode 0600), not stdout"},
    {"force", 'f', NULL, OPT_FORCE, "let --output replace an existing file"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option_group token_groups[] = {
    {"Authorization server and client", {issuer_options, cmd_client_options, auth_method_options}},
    {"Grant", {grant_options}},
    {"Authorization code grant (browser)", {browser_options}},
    {"Output", {output_options}},
    {"Connection", {cmd_http_options}},
};

static const cmd_spec token_spec = {
    .name = "token",
    .usage = "--grant GRANT (--credentials FILE | --client-id ID) [--issuer URL] [OPTIONS]",
    .summary = "Obtains an access token from the authorization server's token endpoint and\n"
               "prints it on standard output, for $(mcpauth token ...). The endpoints come\n"
               "from the issuer's metadata (RFC 8414); the client authenticates as it was\n"
               "registered. Secrets, codes and tokens never appear on the command line or\n"
               "on standard error.",
    .groups = token_groups,
    .group_count = sizeof token_groups / sizeof token_groups[0],
    .epilog =
        "Environment:\n"
        "  MCPAUTH_CLIENT_SECRET  the client secret, when no file is given\n"
        "\n"
        "Grants:\n"
        "  client_credentials   a token for the client itself, no user involved\n"
        "  authorization_code   a user signs in with a browser: the authorization URL is\n"
        "                       printed on standard error, the redirect is received on\n"
        "                       the loopback redirect URI, with PKCE S256, state and iss\n"
        "                       checked; refused when the server does not offer S256\n"
        "  refresh_token        a new access token for the refresh token in a file\n"
        "A --refresh-token-file without --grant means refresh_token; otherwise --grant\n"
        "is required.\n"
        "\n"
        "Examples:\n"
        "  TOKEN=$(mcpauth token -c cc.json -g client_credentials)\n"
        "  mcpauth token -c cc.json -g client_credentials --resource https://mcp.example/mcp\n"
        "  mcpauth token -c client.json -g authorization_code --open -o tokens.json\n"
        "  mcpauth token -c client.json --refresh-token-file tokens.json -o tokens.json -f\n"
        "\n"
        "Status 1 means the user or the server declined the authorization\n"
        "(error=access_denied); status 3 also means no redirect came within\n"
        "--wait-timeout.\n",
};

typedef struct token_args {
    mcpauth_http_options http;
    const char *issuer;
    cmd_client_args client;
    const char *grant;
    const char *scope;
    const char **resources;
    size_t resource_count;
    const char *refresh_token_file;
    const char *redirect_uri;
    bool open_browser;
    long wait_seconds;
    bool wait_given;
    bool json;
    const char *output;
    bool force;
} token_args;

/* Everything the command learnt on the way; freed by token_state_free. */
typedef struct token_state {
    mcpauth_credentials creds;
    char *secret;                   /* from --client-secret-file or the environment */
    mcpauth_oauth_token_file saved; /* from --refresh-token-file */
    mcpauth_as_metadata md;
    mcpauth_oauth_token_client client;
    const char *issuer; /* as asked, before discovery */
    char *found_issuer; /* the one a --resource names, when none was given */
    const char *scope;
    json_object *document; /* the client metadata document of a URL client id */
} token_state;

static void token_state_free(token_state *s)
{
    mcpauth_credentials_free(&s->creds);
    mcpauth_secret_free(s->secret);
    mcpauth_oauth_token_file_free(&s->saved);
    mcpauth_as_metadata_free(&s->md);
    free(s->found_issuer);
    json_object_put(s->document);
}

static int on_option(void *ctx, int id, const char *arg)
{
    token_args *a = ctx;
    int rc = cmd_http_option(&token_spec, &a->http, id, arg);
    if (rc < 0)
        rc = cmd_client_option(&token_spec, &a->client, id, arg);
    if (rc >= 0)
        return rc;
    switch (id) {
    case OPT_ISSUER:
        a->issuer = arg;
        return 0;
    case OPT_GRANT:
        a->grant = arg;
        if (strcmp(arg, "client_credentials") != 0 && strcmp(arg, "authorization_code") != 0 &&
            strcmp(arg, "refresh_token") != 0)
            return cmd_usage_error(&token_spec,
                                   "--grant: '%s' is not client_credentials, authorization_code "
                                   "or refresh_token",
                                   arg);
        return 0;
    case OPT_SCOPE:
        a->scope = arg;
        return 0;
    case OPT_RESOURCE:
        a->resources[a->resource_count++] = arg;
        return 0;
    case OPT_REFRESH_TOKEN_FILE:
        a->refresh_token_file = arg;
        return 0;
    case OPT_REDIRECT_URI:
        a->redirect_uri = arg;
        return 0;
    case OPT_OPEN:
        a->open_browser = true;
        return 0;
    case OPT_WAIT_TIMEOUT:
        a->wait_given = true;
        return cmd_parse_long(&token_spec, "wait-timeout", arg, 1, MAX_WAIT_SECONDS,
                              &a->wait_seconds);
    case OPT_JSON:
        a->json = true;
        return 0;
    case OPT_OUTPUT:
        a->output = arg;
        return 0;
    case OPT_FORCE:
        a->force = true;
        return 0;
    }
    return cmd_usage_error(&token_spec, "internal error: unhandled option %d", id);
}

static bool is_grant(const token_args *a, const char *grant)
{
    return strcmp(a->grant, grant) == 0;
}

/* RFC 8707 §2: a resource is an absolute URI without a fragment. */
static int check_resource(const char *resource)
{
    mcpauth_url url;
    mcpauth_error err;
    if (mcpauth_url_parse(resource, &url, &err) != MCPAUTH_OK)
        return cmd_usage_error(&token_spec, "--resource: %s", err.message);
    bool fragment = url.fragment != NULL;
    mcpauth_url_free(&url);
    if (fragment)
        return cmd_usage_error(&token_spec,
                               "--resource: '%s' has a fragment, which a resource indicator must "
                               "not have (RFC 8707 §2)",
                               resource);
    return 0;
}

/* Checks that the options make one coherent request; settles the grant. */
static int check_combination(token_args *a)
{
    if (!a->grant && a->refresh_token_file)
        a->grant = "refresh_token";
    if (!a->grant)
        return cmd_usage_error(&token_spec, "say which grant: --grant client_credentials, "
                                            "authorization_code or refresh_token");
    if (!a->client.credentials_file && !a->client.client_id && !a->refresh_token_file)
        return cmd_usage_error(&token_spec,
                               "say which client: --credentials FILE or --client-id ID");
    if (is_grant(a, "refresh_token") && !a->refresh_token_file)
        return cmd_usage_error(&token_spec, "--grant refresh_token needs --refresh-token-file");
    if (!is_grant(a, "refresh_token") && a->refresh_token_file)
        return cmd_usage_error(&token_spec, "--refresh-token-file goes with --grant "
                                            "refresh_token");
    if (!is_grant(a, "authorization_code") && (a->redirect_uri || a->open_browser || a->wait_given))
        return cmd_usage_error(&token_spec, "--redirect-uri, --open and --wait-timeout go with "
                                            "--grant authorization_code");
    if (a->force && !a->output)
        return cmd_usage_error(&token_spec, "--force goes with --output");
    mcpauth_error err;
    if (a->issuer && mcpauth_http_check_url(&a->http, a->issuer, &err) != MCPAUTH_OK)
        return cmd_usage_error(&token_spec, "%s", err.message);
    for (size_t i = 0; i < a->resource_count; i++) {
        int rc = check_resource(a->resources[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Settles the issuer: --issuer, else the credentials', else the token
 * file's. A client secret or refresh token belongs to one server: another
 * one named elsewhere is refused rather than sent the secret. */
static int choose_issuer(const token_args *a, token_state *s)
{
    const char *saved = mcpauth_oauth_token_file_member(&s->saved, "issuer");
    const char *candidates[] = {a->issuer, s->creds.issuer, saved};
    const char *sources[] = {"--issuer", a->client.credentials_file, a->refresh_token_file};
    s->issuer = NULL;
    size_t from = 0;
    for (size_t i = 0; i < 3; i++) {
        if (!candidates[i])
            continue;
        if (!s->issuer) {
            s->issuer = candidates[i];
            from = i;
        } else if (!mcpauth_url_canonical_equal(s->issuer, candidates[i])) {
            if (from == 0)
                return cmd_usage_error(&token_spec,
                                       "--issuer %s is not the issuer %s in %s: the client's "
                                       "credentials belong to one authorization server",
                                       s->issuer, candidates[i], sources[i]);
            fprintf(stderr,
                    "mcpauth token: %s names issuer %s, but %s names %s: the client's "
                    "credentials belong to one authorization server\n",
                    sources[from], s->issuer, sources[i], candidates[i]);
            return MCPAUTH_ELOCAL;
        }
    }
    /* Left to find_issuer(): a client with nothing saved may follow the
     * MCP server to its authorization server. */
    if (!s->issuer && a->resource_count > 0 && !a->client.credentials_file &&
        !a->refresh_token_file)
        return 0;
    if (!s->issuer)
        return cmd_usage_error(&token_spec, "say which authorization server: --issuer URL (%s)",
                               a->client.credentials_file ? "the credentials file names none"
                                                          : "or --credentials FILE");
    mcpauth_error err;
    if (from != 0 && mcpauth_http_check_url(&a->http, s->issuer, &err) != MCPAUTH_OK) {
        err.status = MCPAUTH_ELOCAL;
        return cmd_fail("token", &err);
    }
    return 0;
}

/* RFC 9728 / MCP: an MCP server names its authorization servers in its
 * protected-resource metadata. Credentials saved in a file are bound to the
 * issuer they came from; when a --resource now names another authorization
 * server, they must not be used (MCP 2026-07-28 Client Registration
 * §Authorization Server Binding): refused before anything is sent to either
 * server. A resource without metadata (not an MCP server, unreachable) only
 * earns a warning: the credentials still go to their own issuer alone. */
/* A refresh token is bound to its issuer too (RFC 6749 §6); the remedy is
 * a new grant there, not a credentials file written over the token file. */
static int refuse_refresh_token(const char *file, const char *bound,
                                const mcpauth_resource_metadata *prm)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_url_quote(prm->authorization_server, quoted, sizeof quoted);
    fprintf(stderr,
            "mcpauth token: %s holds a refresh token from %s, but %s names %s as the "
            "authorization server: refresh tokens are bound to the server that issued them; get "
            "a new grant there: mcpauth token --issuer %s -g authorization_code (with a client "
            "registered there)\n",
            file, bound, prm->metadata_url, quoted, quoted);
    return MCPAUTH_ELOCAL;
}

static int check_resources(const token_args *a, const token_state *s)
{
    const char *file = s->creds.issuer ? a->client.credentials_file : a->refresh_token_file;
    const char *bound =
        s->creds.issuer ? s->creds.issuer : mcpauth_oauth_token_file_member(&s->saved, "issuer");
    if (!bound)
        return 0;
    for (size_t i = 0; i < a->resource_count; i++) {
        mcpauth_resource_metadata prm = {0};
        mcpauth_error err = {0};
        int status = 0;
        if (mcpauth_discover_resource(&a->http, a->resources[i], &prm, &err) != MCPAUTH_OK)
            cmd_warn("token", "cannot confirm that %s still uses %s: %s", a->resources[i], bound,
                     err.message);
        else if (!mcpauth_resource_metadata_names_issuer(&prm, bound))
            status = s->creds.issuer
                         ? cmd_client_check_issuer("token", file, bound, prm.metadata_url,
                                                   prm.authorization_server, MCPAUTH_ELOCAL)
                         : refuse_refresh_token(file, bound, &prm);
        mcpauth_resource_metadata_free(&prm);
        if (status != 0)
            return status;
    }
    return 0;
}

/* A client id that is a Client ID Metadata Document URL: a public client.
 * Its document is fetched and checked as an authorization server will,
 * so that a broken one fails here with the rule named, and its redirect
 * URIs are known (the loopback one is listened on). */
static int use_document(const token_args *a, token_state *s)
{
    mcpauth_oauth_token_client *c = &s->client;
    mcpauth_error err = {0};
    if (mcpauth_oauth_cimd_check_url(c->client_id, true, &err) != MCPAUTH_OK)
        return cmd_usage_error(&token_spec, "--client-id %s: %s", c->client_id, err.message);
    if (!is_grant(a, "authorization_code") && !is_grant(a, "refresh_token"))
        return cmd_usage_error(&token_spec, "a client metadata document's client is public: "
                                            "--grant authorization_code or refresh_token");
    if (c->client_secret || (a->client.auth_given && c->auth != MCPAUTH_CLIENT_AUTH_NONE))
        return cmd_usage_error(&token_spec, "a client metadata document's client is public: no "
                                            "client secret, --auth-method none");
    c->auth = MCPAUTH_CLIENT_AUTH_NONE;
    if (!is_grant(a, "authorization_code") || a->redirect_uri)
        return 0;
    mcpauth_http_options opts = a->http;
    opts.max_response_bytes = MCPAUTH_OAUTH_CIMD_MAX_DOCUMENT;
    mcpauth_http_request req = {.method = "GET", .url = c->client_id};
    mcpauth_http_response resp = {0};
    if (mcpauth_http_perform(&opts, &req, &resp, &err) != MCPAUTH_OK)
        return cmd_fail("token", &err);
    char problem[512];
    const char *check = NULL;
    mcpauth_oauth_cimd_verdict verdict =
        resp.status == 200
            ? mcpauth_oauth_cimd_check_document(c->client_id, resp.body, resp.body_length,
                                                &s->document, &check, problem, sizeof problem)
            : MCPAUTH_OAUTH_CIMD_FOREIGN;
    if (resp.status != 200)
        snprintf(problem, sizeof problem, "HTTP %ld", resp.status);
    mcpauth_http_response_free(&resp);
    if (verdict != MCPAUTH_OAUTH_CIMD_VALID) {
        fprintf(stderr, "mcpauth token: the client metadata document %s is not usable (%s): %s\n",
                c->client_id, check ? check : "fetch", problem);
        return MCPAUTH_EREMOTE;
    }
    return 0;
}

/* Settles the client id, secret and authentication method. */
static int choose_client(const token_args *a, token_state *s)
{
    const cmd_client_args *given = &a->client;
    mcpauth_oauth_token_client *c = &s->client;
    const char *saved_id = mcpauth_oauth_token_file_member(&s->saved, "client_id");
    c->client_id = given->client_id          ? given->client_id
                   : given->credentials_file ? mcpauth_credentials_client_id(&s->creds)
                                             : saved_id;
    if (!c->client_id)
        return cmd_usage_error(&token_spec,
                               "say which client: --credentials FILE or --client-id ID");
    if (saved_id && strcmp(saved_id, c->client_id) != 0) {
        fprintf(stderr,
                "mcpauth token: %s holds a refresh token of client %s, not of %s: refresh "
                "tokens are bound to their client (RFC 6749 §6)\n",
                a->refresh_token_file, saved_id, c->client_id);
        return MCPAUTH_ELOCAL;
    }
    int status = cmd_client_secret("token", given, mcpauth_credentials_client_secret(&s->creds),
                                   &s->secret, &c->client_secret);
    if (status != 0)
        return status;
    const char *registered = mcpauth_json_string(s->creds.client, "token_endpoint_auth_method");
    if (given->auth_given) {
        c->auth = given->auth;
    } else if (!mcpauth_client_auth_default(registered, c->client_secret != NULL, &c->auth)) {
        fprintf(stderr,
                "mcpauth token: %s: the client was registered for %.64s, which mcpauth does "
                "not speak (use --auth-method)\n",
                given->credentials_file, registered);
        return MCPAUTH_ELOCAL;
    }
    if (mcpauth_oauth_cimd_is_url(c->client_id))
        return use_document(a, s);
    if (c->auth == MCPAUTH_CLIENT_AUTH_NONE)
        c->client_secret = NULL; /* a public client sends none */
    else if (!c->client_secret)
        return cmd_usage_error(&token_spec,
                               "%s needs the client secret: --client-secret-file FILE, "
                               "MCPAUTH_CLIENT_SECRET, or a credentials file that holds it",
                               mcpauth_client_auth_name(c->auth));
    return 0;
}

/* The scope to ask for: --scope, else (for a new grant) the registered one. */
static void choose_scope(const token_args *a, token_state *s)
{
    s->scope = a->scope;
    if (!s->scope && !is_grant(a, "refresh_token") && a->client.credentials_file)
        s->scope = mcpauth_json_string(s->creds.client, "scope");
}

/* Reports a failure after the command line was accepted. A URL refused by
 * the transport policy at this stage came from the server's metadata, so it
 * is the remote side's error, not usage. */
static int fail_remote(mcpauth_error *err)
{
    if (err->status == MCPAUTH_EUSAGE)
        err->status = MCPAUTH_EREMOTE;
    return cmd_fail("token", err);
}

/* No issuer given: the first authorization server the first --resource's
 * protected-resource metadata names (RFC 9728; MCP Authorization Server
 * Discovery), as an MCP client finds it. Only for a public client (a Client
 * ID Metadata Document's, say): a client secret goes only to a server named
 * on the command line or in the credentials file, never to one a resource
 * chose. */
static int find_issuer(const token_args *a, token_state *s)
{
    if (s->issuer)
        return 0;
    if (s->client.auth != MCPAUTH_CLIENT_AUTH_NONE)
        return cmd_usage_error(&token_spec,
                               "say which authorization server: --issuer URL (a client secret is "
                               "not sent to the one an MCP server names)");
    mcpauth_resource_metadata prm = {0};
    mcpauth_error err = {0};
    mcpauth_status st = mcpauth_discover_resource(&a->http, a->resources[0], &prm, &err);
    if (st == MCPAUTH_OK && !(s->found_issuer = strdup(prm.authorization_server)))
        st = mcpauth_error_set(&err, MCPAUTH_ELOCAL, "out of memory");
    mcpauth_resource_metadata_free(&prm);
    if (st == MCPAUTH_OK)
        st = mcpauth_http_check_url(&a->http, s->found_issuer, &err);
    if (st != MCPAUTH_OK)
        return fail_remote(&err);
    s->issuer = s->found_issuer;
    return 0;
}

static int discover(const token_args *a, token_state *s)
{
    mcpauth_error err = {0};
    if (mcpauth_discover_issuer(&a->http, s->issuer, &s->md, &err) != MCPAUTH_OK)
        return fail_remote(&err);
    s->client.token_endpoint = mcpauth_json_string(s->md.document, "token_endpoint");
    if (!s->client.token_endpoint) {
        fprintf(stderr,
                "mcpauth token: the authorization server %s advertises no "
                "token_endpoint (RFC 8414 §2)\n",
                s->md.issuer);
        return MCPAUTH_EREMOTE;
    }
    return 0;
}

/* The executable name in $PATH, as a path the caller frees; NULL when none.
 * Looked up here rather than by posix_spawnp, whose failure to find a
 * program some implementations only report through the child's exit. */
static char *find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return NULL;
    for (const char *dir = path; dir;) {
        const char *colon = strchr(dir, ':');
        size_t length = colon ? (size_t)(colon - dir) : strlen(dir);
        char *candidate = NULL;
        if (length > 0 && asprintf(&candidate, "%.*s/%s", (int)length, dir, name) >= 0) {
            struct stat st;
            if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0)
                return candidate;
            free(candidate);
        }
        dir = colon ? colon + 1 : NULL;
    }
    return NULL;
}

/* --open: xdg-open, detached from our standard streams so that nothing it
 * prints can mix with the token on standard output. Not waited for. */
static void open_browser(const char *url)
{
    char *program = find_in_path("xdg-open");
    if (!program) {
        cmd_warn("token", "cannot open a browser (no xdg-open in PATH); open the URL above "
                          "by hand");
        return;
    }
    posix_spawn_file_actions_t actions;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0) {
        for (int fd = 0; fd <= 2; fd++)
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY,
                                             0);
        char *argv[] = {program, (char *)url, NULL};
        pid_t pid;
        rc = posix_spawn(&pid, program, &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
    }
    if (rc != 0)
        cmd_warn("token", "cannot open a browser (%s: %s); open the URL above by hand", program,
                 strerror(rc));
    free(program);
}

/* Shows the authorization URL, and opens it with --open. */
static void show_authorization(const char *url, const char *redirect_uri, void *data)
{
    const token_args *a = data;
    fprintf(stderr,
            "mcpauth token: open this URL in a browser to authorize the client:\n\n  %s\n\n"
            "mcpauth token: waiting up to %ld s for the redirect to %s\n",
            url, a->wait_seconds, redirect_uri);
    fflush(stderr);
    if (a->open_browser)
        open_browser(url);
}

static int grant_authorization_code(const token_args *a, token_state *s,
                                    mcpauth_oauth_token_response *resp)
{
    mcpauth_authorization_grant grant = {
        .http = &a->http,
        .metadata = &s->md,
        .client = &s->client,
        .redirect_uri = a->redirect_uri,
        .registered = s->creds.client ? s->creds.client : s->document,
        .scope = s->scope,
        .resources = a->resources,
        .resource_count = a->resource_count,
        .timeout_ms = (uint64_t)a->wait_seconds * 1000,
        .show = show_authorization,
        .show_data = (void *)a,
    };
    /* A browser that hangs up while its page is written must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    mcpauth_error err = {0};
    if (mcpauth_authorization_code_grant(&grant, resp, &err) == MCPAUTH_OK)
        return 0;
    if (err.status == MCPAUTH_EUSAGE)
        return cmd_usage_error(&token_spec, "%s", err.message);
    return cmd_fail("token", &err);
}

static int obtain(const token_args *a, token_state *s, mcpauth_oauth_token_response *resp)
{
    if (is_grant(a, "authorization_code"))
        return grant_authorization_code(a, s, resp);
    mcpauth_oauth_token_params params = {
        .grant_type = a->grant,
        .scope = s->scope,
        .resources = a->resources,
        .resource_count = a->resource_count,
        .refresh_token = s->saved.refresh_token,
    };
    mcpauth_error err = {0};
    if (mcpauth_oauth_token_request(&a->http, &s->client, &params, resp, &err) != MCPAUTH_OK)
        return fail_remote(&err);
    return 0;
}

static int save_output(const token_args *a, const token_state *s,
                       const mcpauth_oauth_token_response *resp)
{
    mcpauth_oauth_token_file_origin origin = {
        .issuer = s->md.issuer,
        .client_id = s->client.client_id,
        .token_endpoint = s->client.token_endpoint,
        .refresh_token = s->saved.refresh_token,
        .now = (long long)time(NULL),
    };
    mcpauth_error err = {0};
    if (mcpauth_oauth_token_file_save(a->output, resp, &origin, a->force, &err) != MCPAUTH_OK)
        return cmd_fail("token", &err);
    return 0;
}

static int print_result(const token_args *a, const token_state *s,
                        const mcpauth_oauth_token_response *resp)
{
    if (a->output) {
        int status = save_output(a, s, resp);
        if (status != 0)
            return status;
    }
    if (a->json)
        printf("%s\n", mcpauth_json_pretty(resp->document));
    else if (!a->output)
        printf("%s\n", resp->access_token);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mcpauth token: cannot write to standard output: %s\n", strerror(errno));
        return MCPAUTH_ELOCAL;
    }
    return 0;
}

/* Loads what the files hold: credentials and the refresh token. */
static int load_files(const token_args *a, token_state *s)
{
    mcpauth_error err = {0};
    if (mcpauth_file_check_writable(a->output, a->force, &err) != MCPAUTH_OK)
        return cmd_fail("token", &err);
    int status = cmd_client_load("token", &a->client, &s->creds);
    if (status != 0)
        return status;
    if (!a->refresh_token_file)
        return 0;
    cmd_warn_if_shared("token", a->refresh_token_file, "a refresh token");
    if (mcpauth_oauth_token_file_load(a->refresh_token_file, &s->saved, &err) != MCPAUTH_OK)
        return cmd_fail("token", &err);
    return 0;
}

static int run(token_args *a)
{
    token_state s = {0};
    mcpauth_oauth_token_response resp = {0};
    int status = load_files(a, &s);
    if (status == 0)
        status = choose_issuer(a, &s);
    if (status == 0)
        status = check_resources(a, &s);
    if (status == 0)
        status = choose_client(a, &s);
    if (status == 0)
        status = find_issuer(a, &s);
    if (status == 0) {
        choose_scope(a, &s);
        status = discover(a, &s);
    }
    if (status == 0)
        status = obtain(a, &s, &resp);
    if (status == 0)
        status = print_result(a, &s, &resp);
    mcpauth_oauth_token_response_free(&resp);
    token_state_free(&s);
    /* Reap an xdg-open that has finished; one still running is left be. */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return status;
}

int cmd_token(int argc, char **argv)
{
    token_args a = {0};
    mcpauth_http_options_init(&a.http);
    a.wait_seconds = DEFAULT_WAIT_SECONDS;
    /* --resource can occur at most argc times. */
    a.resources = calloc((size_t)argc + 1, sizeof *a.resources);
    if (!a.resources) {
        fprintf(stderr, "mcpauth token: out of memory\n");
        return MCPAUTH_ELOCAL;
    }
    int status = cmd_parse_options_only(&token_spec, argc, argv, on_option, &a);
    if (status >= 0 || (status = check_combination(&a)) != 0)
        goto done; /* --help, or a usage error already printed */
    status = run(&a);
done:
    free(a.resources);
    return status;
}
