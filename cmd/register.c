/* mcpauth register: RFC 7591 dynamic client registration with RFC 8414 / MCP
 * discovery, and RFC 7592 read / update / delete driven by the credentials
 * file it writes; or, instead of registering, a Client ID Metadata Document
 * written (--cimd) or a hosted one checked (--check-cimd). Option parsing and
 * printing only; the protocol work is in src/oauth/. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "mcpauth/cimd_report.h"
#include "mcpauth/client_metadata.h"
#include "mcpauth/credentials.h"
#include "mcpauth/discovery.h"
#include "mcpauth/fileio.h"
#include "mcpauth/json.h"
#include "mcpauth/registration.h"
#include "mcpauth/secret.h"
#include "mcpauth/strbuf.h"

#define METADATA_FILE_MAX (256 * 1024)

enum {
    OPT_ISSUER = 256,
    OPT_RESOURCE,
    OPT_REGISTRATION_ENDPOINT,
    OPT_SHOW,
    OPT_UPDATE,
    OPT_DELETE,
    OPT_NAME,
    OPT_REDIRECT_URI,
    OPT_GRANT_TYPE,
    OPT_RESPONSE_TYPE,
    OPT_SCOPE,
    OPT_AUTH_METHOD,
    OPT_APPLICATION_TYPE,
    OPT_CONTACT,
    OPT_CLIENT_URI,
    OPT_LOGO_URI,
    OPT_TOS_URI,
    OPT_POLICY_URI,
    OPT_JWKS_URI,
    OPT_SOFTWARE_ID,
    OPT_SOFTWARE_VERSION,
    OPT_SOFTWARE_STATEMENT_FILE,
    OPT_METADATA,
    OPT_INITIAL_ACCESS_TOKEN_FILE,
    OPT_OUTPUT,
    OPT_FORCE,
    OPT_FORMAT,
    OPT_CIMD,
    OPT_CHECK_CIMD,
};

static const cmd_option endpoint_options[] = {
    {"issuer", 0, "URL", OPT_ISSUER, "discover the registration endpoint from this issuer"},
    {"resource", 0, "MCP_URL", OPT_RESOURCE,
     "discover the authorization server through this MCP server"},
    {"registration-endpoint", 0, "URL", OPT_REGISTRATION_ENDPOINT,
     "register at this URL (no discovery)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option manage_options[] = {
    {"show", 0, "FILE", OPT_SHOW, "read the registration saved in FILE and refresh FILE"},
    {"update", 0, "FILE", OPT_UPDATE, "replace its metadata, applying the metadata options"},
    {"delete", 0, "FILE", OPT_DELETE, "delete the registration and then FILE"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option cimd_options[] = {
    {"cimd", 0, "URL", OPT_CIMD,
     "write the Client ID Metadata Document to host at URL instead of registering"},
    {"check-cimd", 0, "URL", OPT_CHECK_CIMD,
     "check the document hosted at URL with --issuer's (or --resource's AS's) metadata"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option metadata_options[] = {
    {"name", 0, "NAME", OPT_NAME, "client_name (default: mcpauth)"},
    {"redirect-uri", 0, "URI", OPT_REDIRECT_URI,
     "a redirect URI, repeatable (default: MCP Inspector's two)"},
    {"grant-type", 0, "TYPE", OPT_GRANT_TYPE,
     "a grant type, repeatable (default: authorization_code refresh_token)"},
    {"response-type", 0, "TYPE", OPT_RESPONSE_TYPE, "a response type, repeatable"},
    {"scope", 0, "SCOPES", OPT_SCOPE, "space-separated scopes (default: mcp)"},
    {"auth-method", 0, "METHOD", OPT_AUTH_METHOD,
     "none, client_secret_basic (default), client_secret_post or private_key_jwt"},
    {"application-type", 0, "TYPE", OPT_APPLICATION_TYPE,
     "native or web (default: native when all redirect URIs are loopback or private-use)"},
    {"contact", 0, "EMAIL", OPT_CONTACT, "a contact address, repeatable"},
    {"client-uri", 0, "URL", OPT_CLIENT_URI, "client_uri: the client's home page"},
    {"logo-uri", 0, "URL", OPT_LOGO_URI, "logo_uri"},
    {"tos-uri", 0, "URL", OPT_TOS_URI, "tos_uri: terms of service"},
    {"policy-uri", 0, "URL", OPT_POLICY_URI, "policy_uri: privacy policy"},
    {"jwks-uri", 0, "URL", OPT_JWKS_URI, "jwks_uri: the client's public keys"},
    {"software-id", 0, "ID", OPT_SOFTWARE_ID, "software_id"},
    {"software-version", 0, "VERSION", OPT_SOFTWARE_VERSION, "software_version"},
    {"software-statement-file", 0, "FILE", OPT_SOFTWARE_STATEMENT_FILE,
     "send the signed software statement (JWT) in FILE"},
    {"metadata", 0, "FILE", OPT_METADATA,
     "a JSON object of metadata ('-' for stdin); the options above override it"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option output_options[] = {
    {"initial-access-token-file", 0, "FILE", OPT_INITIAL_ACCESS_TOKEN_FILE,
     "send the initial access token in FILE (RFC 7591 §3)"},
    {"output", 'o', "FILE", OPT_OUTPUT, "save the credentials to FILE (mode 0600)"},
    {"force", 'f', NULL, OPT_FORCE, "let --output replace an existing file"},
    {"format", 0, "FORMAT", OPT_FORMAT, "what stdout gets: text (default), json or env"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option_group register_groups[] = {
    {"Where to register (one of)", {endpoint_options}},
    {"Managing a registration (RFC 7592)", {manage_options}},
    {"Client ID Metadata Documents (instead of registering)", {cimd_options}},
    {"Client metadata (RFC 7591 §2)", {metadata_options}},
    {"Credentials and output", {output_options}},
    {"Connection", {cmd_http_options}},
};

static const cmd_spec register_spec = {
    .name = "register",
    .usage = "(--issuer URL | --resource MCP_URL | --registration-endpoint URL) [OPTIONS]\n"
             "       mcpauth register (--show | --update | --delete) FILE [OPTIONS]\n"
             "       mcpauth register --cimd URL [METADATA OPTIONS] [-o FILE]\n"
             "       mcpauth register --check-cimd URL (--issuer URL | --resource MCP_URL) "
             "[OPTIONS]",
    .summary = "Registers an OAuth client with an authorization server by dynamic client\n"
               "registration (RFC 7591), finding the registration endpoint by RFC 8414 /\n"
               "OpenID discovery, and reads, updates or deletes it later (RFC 7592).\n"
               "Without metadata options it registers what MCP Inspector needs.",
    .groups = register_groups,
    .group_count = sizeof register_groups / sizeof register_groups[0],
    .epilog = "Environment:\n"
              "  MCPAUTH_INITIAL_ACCESS_TOKEN  initial access token, when no file is given\n"
              "\n"
              "Examples:\n"
              "  mcpauth register --issuer https://auth.example.com\n"
              "  mcpauth register --resource https://mcp.example.com/mcp -o client.json\n"
              "  eval \"$(mcpauth register --issuer https://auth.example.com --format env)\"\n"
              "  mcpauth register --update client.json --redirect-uri https://app.example/cb\n"
              "  mcpauth register --delete client.json\n"
              "  mcpauth register --cimd https://app.example/client.json "
              "--redirect-uri http://127.0.0.1:3000/cb -o client.json\n"
              "  mcpauth register --check-cimd https://app.example/client.json "
              "--issuer https://auth.example.com\n",
};

typedef enum {
    MODE_CREATE,
    MODE_SHOW,
    MODE_UPDATE,
    MODE_DELETE,
    MODE_CIMD,
    MODE_CHECK_CIMD
} register_mode;
typedef enum { FORMAT_DEFAULT, FORMAT_TEXT, FORMAT_JSON, FORMAT_ENV } output_format;

typedef struct register_args {
    mcpauth_http_options http;
    const char *issuer;
    const char *resource;
    const char *registration_endpoint;
    register_mode mode;
    const char *manage_file; /* or the document's URL with --cimd, --check-cimd */
    int mode_count;
    mcpauth_client_metadata_input meta;
    bool meta_given;
    const char *software_statement_file;
    const char *metadata_file;
    const char *initial_access_token_file;
    const char *output;
    bool force;
    output_format format;
} register_args;

/* The options that only keep their value, and where: a string member of
 * register_args, or a list member (repeatable options). */
static const struct {
    int id;
    size_t offset;
    bool list;
} kept[] = {
    {OPT_ISSUER, offsetof(register_args, issuer), false},
    {OPT_RESOURCE, offsetof(register_args, resource), false},
    {OPT_REGISTRATION_ENDPOINT, offsetof(register_args, registration_endpoint), false},
    {OPT_NAME, offsetof(register_args, meta.client_name), false},
    {OPT_REDIRECT_URI, offsetof(register_args, meta.redirect_uris), true},
    {OPT_GRANT_TYPE, offsetof(register_args, meta.grant_types), true},
    {OPT_RESPONSE_TYPE, offsetof(register_args, meta.response_types), true},
    {OPT_SCOPE, offsetof(register_args, meta.scope), false},
    {OPT_CONTACT, offsetof(register_args, meta.contacts), true},
    {OPT_CLIENT_URI, offsetof(register_args, meta.client_uri), false},
    {OPT_LOGO_URI, offsetof(register_args, meta.logo_uri), false},
    {OPT_TOS_URI, offsetof(register_args, meta.tos_uri), false},
    {OPT_POLICY_URI, offsetof(register_args, meta.policy_uri), false},
    {OPT_JWKS_URI, offsetof(register_args, meta.jwks_uri), false},
    {OPT_SOFTWARE_ID, offsetof(register_args, meta.software_id), false},
    {OPT_SOFTWARE_VERSION, offsetof(register_args, meta.software_version), false},
    {OPT_SOFTWARE_STATEMENT_FILE, offsetof(register_args, software_statement_file), false},
    {OPT_METADATA, offsetof(register_args, metadata_file), false},
    {OPT_INITIAL_ACCESS_TOKEN_FILE, offsetof(register_args, initial_access_token_file), false},
    {OPT_OUTPUT, offsetof(register_args, output), false},
};

/* Keeps arg where kept[] says; false when id is not one of those. */
static bool keep(register_args *a, int id, const char *arg)
{
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        if (kept[i].id != id)
            continue;
        void *member = (char *)a + kept[i].offset;
        if (kept[i].list) {
            mcpauth_string_list *list = member;
            list->items[list->count++] = arg;
        } else {
            *(const char **)member = arg;
        }
        return true;
    }
    return false;
}

static int set_mode(register_args *a, register_mode mode, const char *file)
{
    a->mode = mode;
    a->manage_file = file;
    a->mode_count++;
    return 0;
}

static int check_choice(const char *option, const char *arg, const char *const *choices)
{
    for (const char *const *c = choices; *c; c++) {
        if (strcmp(arg, *c) == 0)
            return 0;
    }
    return cmd_usage_error(&register_spec, "--%s: '%s' is not one of the accepted values", option,
                           arg);
}

static int on_option(void *ctx, int id, const char *arg)
{
    static const char *const auth_methods[] = {"none", "client_secret_basic", "client_secret_post",
                                               "private_key_jwt", NULL};
    static const char *const app_types[] = {"native", "web", NULL};
    register_args *a = ctx;
    int rc = cmd_http_option(&register_spec, &a->http, id, arg);
    if (rc >= 0)
        return rc;
    if (id >= OPT_NAME && id <= OPT_METADATA)
        a->meta_given = true;
    if (keep(a, id, arg))
        return 0;
    switch (id) {
    case OPT_SHOW:
        return set_mode(a, MODE_SHOW, arg);
    case OPT_UPDATE:
        return set_mode(a, MODE_UPDATE, arg);
    case OPT_DELETE:
        return set_mode(a, MODE_DELETE, arg);
    case OPT_CIMD:
        return set_mode(a, MODE_CIMD, arg);
    case OPT_CHECK_CIMD:
        return set_mode(a, MODE_CHECK_CIMD, arg);
    case OPT_AUTH_METHOD:
        a->meta.token_endpoint_auth_method = arg;
        return check_choice("auth-method", arg, auth_methods);
    case OPT_APPLICATION_TYPE:
        a->meta.application_type = arg;
        return check_choice("application-type", arg, app_types);
    case OPT_FORCE:
        a->force = true;
        return 0;
    case OPT_FORMAT:
        if (strcmp(arg, "text") == 0)
            a->format = FORMAT_TEXT;
        else if (strcmp(arg, "json") == 0)
            a->format = FORMAT_JSON;
        else if (strcmp(arg, "env") == 0)
            a->format = FORMAT_ENV;
        else
            return cmd_usage_error(&register_spec, "--format: '%s' is not text, json or env", arg);
        return 0;
    }
    return cmd_usage_error(&register_spec, "internal error: unhandled option %d", id);
}

/* --cimd registers nowhere; --check-cimd asks one authorization server. */
static int check_cimd_combination(const register_args *a, int endpoints)
{
    if (a->mode == MODE_CIMD && endpoints)
        return cmd_usage_error(&register_spec,
                               "--cimd writes a document and registers nowhere: do not give "
                               "--issuer, --resource or --registration-endpoint (check the hosted "
                               "document with --check-cimd URL --issuer URL)");
    if (a->mode == MODE_CHECK_CIMD && (a->registration_endpoint || endpoints != 1))
        return cmd_usage_error(&register_spec,
                               "--check-cimd needs --issuer URL, or --resource MCP_URL to find "
                               "it: the authorization server that will fetch the document");
    if (a->mode == MODE_CHECK_CIMD && (a->meta_given || a->output || a->force))
        return cmd_usage_error(&register_spec, "--check-cimd checks the hosted document: metadata "
                                               "options, --output and --force go with --cimd");
    if (a->initial_access_token_file || a->format != FORMAT_DEFAULT)
        return cmd_usage_error(&register_spec, "--initial-access-token-file and --format do not "
                                               "apply to --cimd and --check-cimd");
    mcpauth_error err;
    const char *endpoint = a->issuer ? a->issuer : a->resource;
    if (endpoint && mcpauth_http_check_url(&a->http, endpoint, &err) != MCPAUTH_OK)
        return cmd_usage_error(&register_spec, "%s", err.message);
    return 0;
}

/* Checks that the options given make one coherent request. */
static int check_combination(const register_args *a)
{
    int endpoints = !!a->issuer + !!a->resource + !!a->registration_endpoint;
    if (a->mode_count > 1)
        return cmd_usage_error(&register_spec, "give only one of --show, --update, --delete, "
                                               "--cimd and --check-cimd");
    if (a->mode == MODE_CIMD || a->mode == MODE_CHECK_CIMD)
        return check_cimd_combination(a, endpoints);
    if (a->mode == MODE_CREATE && endpoints != 1)
        return cmd_usage_error(&register_spec,
                               endpoints ? "give only one of --issuer, --resource and "
                                           "--registration-endpoint"
                                         : "say where to register: --issuer, --resource or "
                                           "--registration-endpoint");
    if (a->mode != MODE_CREATE && endpoints)
        return cmd_usage_error(&register_spec,
                               "--show, --update and --delete use the endpoint saved in the "
                               "credentials file; do not give --issuer, --resource or "
                               "--registration-endpoint");
    if ((a->mode == MODE_SHOW || a->mode == MODE_DELETE) && a->meta_given)
        return cmd_usage_error(&register_spec, "metadata options go with registering or --update");
    if (a->mode == MODE_DELETE && a->format != FORMAT_DEFAULT)
        return cmd_usage_error(&register_spec, "--format does not apply to --delete");
    if (a->mode != MODE_CREATE && (a->output || a->force || a->initial_access_token_file))
        return cmd_usage_error(&register_spec, "--output, --force and "
                                               "--initial-access-token-file go with registering");
    const char *urls[] = {a->issuer, a->resource, a->registration_endpoint};
    for (size_t i = 0; i < 3; i++) {
        mcpauth_error err;
        if (urls[i] && mcpauth_http_check_url(&a->http, urls[i], &err) != MCPAUTH_OK)
            return cmd_usage_error(&register_spec, "%s", err.message);
    }
    return 0;
}

static mcpauth_status merge_metadata_sources(register_args *a, json_object *doc,
                                             mcpauth_error *err);

/* The metadata document to send: base, then --metadata over it, then the
 * options over that. Takes ownership of base; *out is base on success. */
static mcpauth_status build_metadata(register_args *a, json_object *base, json_object **out,
                                     mcpauth_error *err)
{
    *out = NULL;
    mcpauth_status st = base ? merge_metadata_sources(a, base, err)
                             : mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    if (st == MCPAUTH_OK && (a->mode == MODE_CREATE || a->mode == MODE_CIMD))
        st = mcpauth_client_metadata_defaults(base, err);
    if (st == MCPAUTH_OK)
        st = mcpauth_client_metadata_set_application_type(base, err);
    if (st == MCPAUTH_OK)
        st = mcpauth_client_metadata_validate(base, err);
    if (st == MCPAUTH_OK)
        *out = base;
    else
        json_object_put(base);
    return st;
}

/* Applies --metadata and the metadata options to doc. */
static mcpauth_status merge_metadata_sources(register_args *a, json_object *doc, mcpauth_error *err)
{
    if (a->metadata_file) {
        char *text = NULL;
        size_t length = 0;
        if (mcpauth_file_read(a->metadata_file, METADATA_FILE_MAX, &text, &length, err) !=
            MCPAUTH_OK)
            return err->status;
        json_object *extra = mcpauth_json_parse_object(text, length, "--metadata", err);
        free(text);
        if (!extra) {
            err->status = MCPAUTH_ELOCAL;
            return mcpauth_error_prefix(err, "%s", a->metadata_file);
        }
        json_object_object_foreach(extra, key, value)
        {
            json_object_object_add(doc, key, json_object_get(value));
        }
        json_object_put(extra);
    }
    char *statement = NULL;
    if (a->software_statement_file &&
        mcpauth_file_read_secret(a->software_statement_file, "software statement", &statement,
                                 err) != MCPAUTH_OK)
        return err->status;
    a->meta.software_statement = statement;
    mcpauth_status st = mcpauth_client_metadata_apply(doc, &a->meta, err);
    a->meta.software_statement = NULL;
    mcpauth_secret_free(statement);
    return st;
}

static void print_text(const char *headline, json_object *client)
{
    const char *secret = mcpauth_json_string(client, "client_secret");
    printf("%s\n%s\n\n=== Save these credentials ===\nClient ID: %s\n", headline,
           mcpauth_json_pretty(client), mcpauth_json_string(client, "client_id"));
    printf("Client Secret: %s\n", secret ? secret : "(none: a public client)");
}

static void print_env(const mcpauth_credentials *creds)
{
    static const struct {
        const char *var, *key;
    } members[] = {
        {"MCPAUTH_CLIENT_ID", "client_id"},
        {"MCPAUTH_CLIENT_SECRET", "client_secret"},
        {"MCPAUTH_REGISTRATION_CLIENT_URI", "registration_client_uri"},
        {"MCPAUTH_REGISTRATION_ACCESS_TOKEN", "registration_access_token"},
    };
    if (creds->issuer)
        cmd_print_shell_assignment(stdout, "MCPAUTH_ISSUER", creds->issuer);
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        const char *value = mcpauth_json_string(creds->client, members[i].key);
        if (value)
            cmd_print_shell_assignment(stdout, members[i].var, value);
    }
    long long expiry = mcpauth_credentials_secret_expiry(creds);
    if (mcpauth_credentials_client_secret(creds))
        printf("MCPAUTH_CLIENT_SECRET_EXPIRES_AT=%lld\n", expiry);
}

static void print_result(const register_args *a, const char *headline,
                         const mcpauth_credentials *creds)
{
    switch (a->format) {
    case FORMAT_JSON:
        printf("%s\n", mcpauth_json_pretty(creds->client));
        break;
    case FORMAT_ENV:
        print_env(creds);
        break;
    case FORMAT_DEFAULT:
        /* With --output the secret is in the file: keep it off the terminal. */
        if (a->output) {
            printf("%s\nClient ID: %s\nCredentials saved to %s (mode 0600).\n", headline,
                   mcpauth_credentials_client_id(creds), a->output);
            break;
        }
        /* fall through */
    case FORMAT_TEXT:
        print_text(headline, creds->client);
        break;
    }
    fflush(stdout);
}

static void warn_expired_secret(const mcpauth_credentials *creds)
{
    long long expiry = mcpauth_credentials_secret_expiry(creds);
    if (expiry <= 0 || expiry > (long long)time(NULL))
        return;
    char when[64];
    time_t t = (time_t)expiry;
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
    cmd_warn("register", "the client secret expired at %s (client_secret_expires_at)", when);
}

/* Reports a failure after the command line was accepted. A URL refused by
 * the transport policy at this stage came from the server (metadata, a
 * registration_client_uri), so it is the remote side's error, not usage. */
static int fail_remote(const char *name, mcpauth_error *err)
{
    if (err->status == MCPAUTH_EUSAGE)
        err->status = MCPAUTH_EREMOTE;
    return cmd_fail(name, err);
}

/* Finds the registration endpoint; fills creds->issuer when discovered. */
static mcpauth_status find_endpoint(const register_args *a, mcpauth_credentials *creds,
                                    mcpauth_error *err)
{
    if (!a->registration_endpoint)
        return mcpauth_discover_registration_endpoint(
            &a->http, a->issuer, a->resource, &creds->issuer, &creds->registration_endpoint, err);
    creds->registration_endpoint = strdup(a->registration_endpoint);
    return creds->registration_endpoint ? MCPAUTH_OK
                                        : mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
}

static int run_create(register_args *a)
{
    mcpauth_error err = {0};
    mcpauth_credentials creds = {0};
    json_object *metadata = NULL, *client = NULL;
    char *token = NULL;
    int status = MCPAUTH_OK;

    if (build_metadata(a, json_object_new_object(), &metadata, &err) != MCPAUTH_OK) {
        status = err.status == MCPAUTH_EUSAGE ? cmd_usage_error(&register_spec, "%s", err.message)
                                              : cmd_fail("register", &err);
        goto done;
    }
    if (mcpauth_file_check_writable(a->output, a->force, &err) != MCPAUTH_OK ||
        cmd_read_secret(a->initial_access_token_file, "MCPAUTH_INITIAL_ACCESS_TOKEN",
                        "initial access token", &token, &err) != MCPAUTH_OK ||
        find_endpoint(a, &creds, &err) != MCPAUTH_OK ||
        mcpauth_registration_create(&a->http, creds.registration_endpoint, metadata, token, &client,
                                    &err) != MCPAUTH_OK) {
        status = fail_remote("register", &err);
        goto done;
    }
    creds.client = client;
    if (a->output && mcpauth_credentials_save(a->output, &creds, a->force, &err) != MCPAUTH_OK) {
        /* Registered but not saved: print everything so the secret is not lost. */
        cmd_fail("register", &err);
        print_text("Client registered, but the credentials could not be saved:", client);
        status = MCPAUTH_ELOCAL;
        goto done;
    }
    print_result(a, "Client registered successfully!", &creds);
    warn_expired_secret(&creds);
done:
    json_object_put(metadata);
    mcpauth_credentials_free(&creds);
    mcpauth_secret_free(token);
    return status;
}

/* Loads a credentials file that supports RFC 7592 management. */
static mcpauth_status load_managed(const char *path, mcpauth_credentials *creds, mcpauth_error *err)
{
    if (mcpauth_credentials_load(path, creds, err) != MCPAUTH_OK)
        return err->status;
    if (mcpauth_file_is_shared(path))
        cmd_warn("register", "%s is readable by other users; it holds secrets (chmod 600 it)",
                 path);
    if (!mcpauth_credentials_client_uri(creds) || !mcpauth_credentials_registration_token(creds))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "%s has no registration_client_uri and registration_access_token: "
                                 "the authorization server did not offer RFC 7592 management",
                                 path);
    warn_expired_secret(creds);
    return MCPAUTH_OK;
}

static int run_show_or_update(register_args *a)
{
    mcpauth_error err = {0};
    mcpauth_credentials creds = {0};
    json_object *response = NULL, *metadata = NULL;
    const char *path = a->manage_file;
    int status = MCPAUTH_OK;

    if (load_managed(path, &creds, &err) != MCPAUTH_OK)
        goto fail;
    if (a->mode == MODE_SHOW) {
        if (mcpauth_registration_read(&a->http, mcpauth_credentials_client_uri(&creds),
                                      mcpauth_credentials_registration_token(&creds), &response,
                                      &err) != MCPAUTH_OK)
            goto fail;
    } else {
        /* RFC 7592 §2.2: the PUT replaces everything, so start from all we
         * know, minus what the server manages, and keep client_id. */
        json_object *base = NULL;
        json_object_deep_copy(creds.client, &base, NULL);
        if (base)
            mcpauth_client_metadata_strip_server_fields(base);
        if (build_metadata(a, base, &metadata, &err) != MCPAUTH_OK) {
            status = err.status == MCPAUTH_EUSAGE
                         ? cmd_usage_error(&register_spec, "%s", err.message)
                         : cmd_fail("register", &err);
            goto done;
        }
        if (mcpauth_registration_update(&a->http, mcpauth_credentials_client_uri(&creds),
                                        mcpauth_credentials_registration_token(&creds), metadata,
                                        &response, &err) != MCPAUTH_OK)
            goto fail;
    }
    mcpauth_credentials_replace_client(&creds, response);
    if (mcpauth_credentials_save(path, &creds, true, &err) != MCPAUTH_OK) {
        cmd_fail("register", &err);
        print_text("The registration changed, but the credentials could not be saved:",
                   creds.client);
        status = MCPAUTH_ELOCAL;
        goto done;
    }
    print_result(a, a->mode == MODE_SHOW ? "Client registration:" : "Client updated successfully!",
                 &creds);
    goto done;
fail:
    status = fail_remote("register", &err);
done:
    json_object_put(metadata);
    mcpauth_credentials_free(&creds);
    return status;
}

static int run_delete(register_args *a)
{
    mcpauth_error err = {0};
    mcpauth_credentials creds = {0};
    const char *path = a->manage_file;
    if (load_managed(path, &creds, &err) != MCPAUTH_OK ||
        mcpauth_registration_delete(&a->http, mcpauth_credentials_client_uri(&creds),
                                    mcpauth_credentials_registration_token(&creds),
                                    &err) != MCPAUTH_OK) {
        mcpauth_credentials_free(&creds);
        return fail_remote("register", &err);
    }
    printf("Client %s deleted.\n", mcpauth_credentials_client_id(&creds));
    mcpauth_credentials_free(&creds);
    /* Its credentials are now void (RFC 7592 §2.3): the file has no use left. */
    if (unlink(path) != 0) {
        cmd_warn("register", "cannot remove %s: %s", path, strerror(errno));
        return MCPAUTH_ELOCAL;
    }
    printf("Removed %s.\n", path);
    return MCPAUTH_OK;
}

/* The first check that failed, for --cimd's one-line error. */
typedef struct cimd_failure {
    const char *name;
    char detail[512];
} cimd_failure;

static void on_cimd_failure(const mcpauth_oauth_cimd_report_result *result, void *data)
{
    cimd_failure *first = data;
    if (result->verdict != MCPAUTH_OAUTH_CIMD_REPORT_FAIL || first->name)
        return;
    first->name = result->name;
    snprintf(first->detail, sizeof first->detail, "%s", result->detail);
}

/* Writes the document to -o FILE (0600, atomically, as credentials are),
 * or to standard output without -o or with "-". */
static int write_cimd(const register_args *a, json_object *doc)
{
    mcpauth_error err = {0};
    const char *text = mcpauth_json_pretty(doc);
    if (!a->output || strcmp(a->output, "-") == 0) {
        printf("%s\n", text);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "mcpauth register: cannot write to standard output: %s\n",
                    strerror(errno));
            return MCPAUTH_ELOCAL;
        }
        return 0;
    }
    mcpauth_strbuf out = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&out, "%s\n", text);
    mcpauth_status st =
        mcpauth_strbuf_failed(&out)
            ? mcpauth_error_set(&err, MCPAUTH_ELOCAL, "out of memory")
            : mcpauth_file_write_private(a->output, out.data, out.length, a->force, &err);
    mcpauth_strbuf_free(&out);
    if (st != MCPAUTH_OK)
        return cmd_fail("register", &err);
    printf("Client ID Metadata Document saved to %s.\nServe it at %s as application/json, "
           "with no redirect.\n",
           a->output, a->manage_file);
    return 0;
}

/* --cimd: the document built as for registering, then judged by the checks
 * an authorization server applies; refused with the first failing check. */
static int run_cimd(register_args *a)
{
    mcpauth_error err = {0};
    json_object *doc = NULL, *base = json_object_new_object();
    /* Filled first, so that client_id leads the document and the options
     * and --metadata can still override both members. */
    if (base && mcpauth_oauth_cimd_report_fill(base, a->manage_file, &err) != MCPAUTH_OK) {
        json_object_put(base);
        return cmd_fail("register", &err);
    }
    if (build_metadata(a, base, &doc, &err) != MCPAUTH_OK)
        return err.status == MCPAUTH_EUSAGE ? cmd_usage_error(&register_spec, "%s", err.message)
                                            : cmd_fail("register", &err);
    cimd_failure first = {0};
    mcpauth_oauth_cimd_report report = {.cb = on_cimd_failure, .data = &first};
    mcpauth_oauth_cimd_report_url(&report, a->manage_file);
    mcpauth_oauth_cimd_report_document(&report, a->manage_file, doc);
    int status = first.name ? cmd_usage_error(&register_spec,
                                              "--cimd: authorization servers would refuse this "
                                              "document: %s: %s",
                                              first.name, first.detail)
                            : write_cimd(a, doc);
    json_object_put(doc);
    return status;
}

static void on_cimd_check(const mcpauth_oauth_cimd_report_result *result, void *data)
{
    mcpauth_strbuf *failed = data;
    if (result->verdict == MCPAUTH_OAUTH_CIMD_REPORT_FAIL)
        mcpauth_strbuf_appendf(failed, "%s%s", failed->length ? ", " : "", result->name);
    printf("%s %s: %s\n", mcpauth_oauth_cimd_report_verdict_name(result->verdict), result->name,
           result->detail);
    fflush(stdout);
}

/* --check-cimd: one line a check; exit 1 when any failed. */
static int run_check_cimd(register_args *a)
{
    mcpauth_strbuf failed = MCPAUTH_STRBUF_INIT;
    mcpauth_oauth_cimd_report report = {.cb = on_cimd_check, .data = &failed};
    mcpauth_oauth_cimd_report_run(&a->http, a->manage_file, a->issuer, a->resource, &report);
    printf("%zu passed, %zu failed, %zu skipped\n", report.passed, report.failed, report.skipped);
    int status = 0;
    if (report.failed > 0) {
        fprintf(stderr, "mcpauth register: %zu check%s failed: %s\n", report.failed,
                report.failed == 1 ? "" : "s", failed.data ? failed.data : "");
        status = MCPAUTH_ENEGATIVE;
    }
    mcpauth_strbuf_free(&failed);
    return status;
}

int cmd_register(int argc, char **argv)
{
    register_args a = {0};
    mcpauth_http_options_init(&a.http);
    /* Repeatable options can each occur at most argc times. */
    const char **lists = calloc(4 * (size_t)argc + 4, sizeof *lists);
    if (!lists) {
        fprintf(stderr, "mcpauth register: out of memory\n");
        return MCPAUTH_ELOCAL;
    }
    a.meta.redirect_uris.items = lists;
    a.meta.grant_types.items = lists + argc + 1;
    a.meta.response_types.items = lists + 2 * (argc + 1);
    a.meta.contacts.items = lists + 3 * (argc + 1);

    int status = cmd_parse_options_only(&register_spec, argc, argv, on_option, &a);
    if (status >= 0 || (status = check_combination(&a)) != 0)
        goto done; /* --help, or a usage error already printed */
    switch (a.mode) {
    case MODE_CREATE:
        status = run_create(&a);
        break;
    case MODE_SHOW:
    case MODE_UPDATE:
        status = run_show_or_update(&a);
        break;
    case MODE_DELETE:
        status = run_delete(&a);
        break;
    case MODE_CIMD:
        status = run_cimd(&a);
        break;
    case MODE_CHECK_CIMD:
        status = run_check_cimd(&a);
        break;
    }
done:
    free(lists);
    return status;
}
