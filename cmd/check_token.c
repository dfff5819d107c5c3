/* mcpauth check-token: is this access token good, and for what? Introspects
 * it (RFC 7662), verifies it locally as an RFC 9068 JWT, only decodes it, or
 * probes an MCP server's side of OAuth (--resource). Option parsing, reading
 * the token, and printing; the checks are in src/probe/ (token_report.c for
 * --verify and --introspect, probe.c for --resource) and src/jose/. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "common.h"
#include "mcpauth/credentials.h"
#include "mcpauth/introspection.h"
#include "mcpauth/jose.h"
#include "mcpauth/json.h"
#include "mcpauth/probe.h"
#include "mcpauth/secret.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/token_report.h"

#define MAX_LIST   32
#define MAX_LEEWAY (86400L * 365)

enum {
    OPT_INTROSPECT = 256,
    OPT_VERIFY,
    OPT_DECODE,
    OPT_RESOURCE,
    OPT_TOKEN_FILE,
    OPT_ISSUER,
    OPT_INTROSPECTION_ENDPOINT,
    OPT_JWKS_URI,
    OPT_JWKS_FILE,
    OPT_JWT_ALG,
    OPT_JWT_TYP_OPTIONAL,
    OPT_AUDIENCE,
    OPT_REQUIRE_SCOPE,
    OPT_LEEWAY,
    OPT_JSON,
};

static const cmd_option mode_options[] = {
    {"introspect", 0, NULL, OPT_INTROSPECT, "ask the issuer's RFC 7662 introspection endpoint"},
    {"verify", 0, NULL, OPT_VERIFY, "verify the JWT with the issuer's keys (RFC 9068)"},
    {"decode", 0, NULL, OPT_DECODE, "only decode the JWT; verifies nothing"},
    {"resource", 0, "MCP_URL", OPT_RESOURCE, "probe this MCP server (a token is optional)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option token_options[] = {
    {"token-file", 0, "FILE", OPT_TOKEN_FILE, "the token, - for standard input (or MCPAUTH_TOKEN)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option as_options[] = {
    {"issuer", 0, "URL", OPT_ISSUER, "the authorization server (default: from -c FILE)"},
    {"introspection-endpoint", 0, "URL", OPT_INTROSPECTION_ENDPOINT,
     "RFC 7662 endpoint (default: from the metadata)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option jwt_options[] = {
    {"jwks-uri", 0, "URL", OPT_JWKS_URI, "the issuer's keys (default: jwks_uri in its metadata)"},
    {"jwks-file", 0, "FILE", OPT_JWKS_FILE, "verify with the JWK Set in FILE instead"},
    {"jwt-alg", 0, "ALG", OPT_JWT_ALG,
     "allowed JWS algorithm, repeatable (RS256 ES256 EdDSA Ed25519 PS256)"},
    {"jwt-typ-optional", 0, NULL, OPT_JWT_TYP_OPTIONAL,
     "accept JWTs with no typ or the generic JWT (other types are refused)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option check_options[] = {
    {"audience", 0, "VALUE", OPT_AUDIENCE, "required audience, repeatable (default: not checked)"},
    {"require-scope", 0, "SCOPE", OPT_REQUIRE_SCOPE, "required scope, repeatable"},
    {"leeway", 0, "SECONDS", OPT_LEEWAY, "clock skew allowed on exp/nbf/iat (30)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option output_options[] = {
    {"json", 0, NULL, OPT_JSON, "print JSON (raw responses, claims or probe results)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option_group check_groups[] = {
    {"What to check", {mode_options}},
    {"Token", {token_options}},
    {"Authorization server", {as_options, cmd_client_options, cmd_client_auth_options}},
    {"Local JWT verification (RFC 9068)", {jwt_options}},
    {"Token checks", {check_options}},
    {"Output", {output_options}},
    {"Connection", {cmd_http_options}},
};

static const cmd_spec check_spec = {
    .name = "check-token",
    .usage = "(--introspect | --verify) [--issuer URL] [OPTIONS]\n"
             "       mcpauth check-token --decode [OPTIONS]\n"
             "       mcpauth check-token --resource MCP_URL [OPTIONS]",
    .summary = "Checks an access token for scripts: exit status 0 when it is good for what\n"
               "was asked, 1 when it is not (one line on standard error says why). The\n"
               "token is read from --token-file FILE (- for standard input) or MCPAUTH_TOKEN,\n"
               "never from the command line, where other users could see it in ps(1) and\n"
               "it would stay in shell history. --resource probes an MCP server instead: one\n"
               "PASS, FAIL, WARN or SKIP line per check, exit status 0 when none failed.",
    .groups = check_groups,
    .group_count = sizeof check_groups / sizeof check_groups[0],
    .epilog = "Environment:\n"
              "  MCPAUTH_TOKEN          the token, when no --token-file is given\n"
              "  MCPAUTH_CLIENT_SECRET  the client secret, when no file is given\n"
              "\n"
              "Examples:\n"
              "  mcpauth check-token --introspect -c rs.json --token-file tok "
              "--require-scope mcp\n"
              "  mcpauth check-token --verify --issuer https://auth.example.com --token-file tok\n"
              "  mcpauth check-token --decode --token-file - < tok\n"
              "  mcpauth check-token --resource https://mcp.example.com/mcp --token-file tok\n",
};

typedef struct check_args {
    bool introspect, verify, decode, json;
    const char *resource;
    const char *token_file;
    const char *issuer;
    cmd_client_args client;
    const char *jwks_uri;
    const char *jwks_file;
    mcpauth_introspection_config introspection;
    const char *audiences[MAX_LIST];
    size_t audience_count;
    const char *scopes[MAX_LIST];
    size_t scope_count;
    long leeway;
    mcpauth_jwt_policy jwt;
    bool jwt_algs_fresh; /* no --jwt-alg yet: the first replaces the defaults */
    mcpauth_http_options http;
} check_args;

static int add_to(const char **list, size_t *count, const char *name, const char *value)
{
    if (*count == MAX_LIST)
        return cmd_usage_error(&check_spec, "--%s: at most %d values", name, MAX_LIST);
    list[(*count)++] = value;
    return 0;
}

static int on_option(void *ctx, int id, const char *arg)
{
    check_args *a = ctx;
    int rc = cmd_http_option(&check_spec, &a->http, id, arg);
    if (rc < 0)
        rc = cmd_client_option(&check_spec, &a->client, id, arg);
    if (rc >= 0)
        return rc;
    switch (id) {
    case OPT_INTROSPECT:
        a->introspect = true;
        return 0;
    case OPT_VERIFY:
        a->verify = true;
        return 0;
    case OPT_DECODE:
        a->decode = true;
        return 0;
    case OPT_RESOURCE:
        a->resource = arg;
        return 0;
    case OPT_TOKEN_FILE:
        a->token_file = arg;
        return 0;
    case OPT_ISSUER:
        a->issuer = arg;
        return 0;
    case OPT_INTROSPECTION_ENDPOINT:
        a->introspection.endpoint = arg;
        return 0;
    case OPT_JWKS_URI:
        a->jwks_uri = arg;
        return 0;
    case OPT_JWKS_FILE:
        a->jwks_file = arg;
        return 0;
    case OPT_JWT_ALG:
        return cmd_jwt_alg_option(&check_spec, &a->jwt, &a->jwt_algs_fresh, arg);
    case OPT_JWT_TYP_OPTIONAL:
        a->jwt.typ_optional = true;
        return 0;
    case OPT_AUDIENCE:
        return add_to(a->audiences, &a->audience_count, "audience", arg);
    case OPT_REQUIRE_SCOPE:
        return add_to(a->scopes, &a->scope_count, "require-scope", arg);
    case OPT_LEEWAY:
        return cmd_parse_long(&check_spec, "leeway", arg, 0, MAX_LEEWAY, &a->leeway);
    case OPT_JSON:
        a->json = true;
        return 0;
    }
    return cmd_usage_error(&check_spec, "internal error: unhandled option %d", id);
}

/* A token typed on the command line is visible to every user in ps(1) and
 * stays in shell history, so there is no option for it: say so rather
 * than "unknown option", and never echo what followed. */
static int refuse_token_argument(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--token") == 0 || strncmp(argv[i], "--token=", 8) == 0)
            return cmd_usage_error(&check_spec,
                                   "there is no --token option: a token on the command line is "
                                   "visible in ps(1) and shell history; use --token-file FILE "
                                   "(- for standard input) or MCPAUTH_TOKEN");
    }
    return 0;
}

static int check_modes(const check_args *a)
{
    if (!a->introspect && !a->verify && !a->decode && !a->resource)
        return cmd_usage_error(&check_spec,
                               "say what to check: --introspect, --verify, --decode or --resource");
    if (a->decode && (a->introspect || a->verify))
        return cmd_usage_error(&check_spec, "--decode verifies nothing, so it cannot go with "
                                            "--introspect or --verify");
    if (a->resource && (a->introspect || a->verify || a->decode))
        return cmd_usage_error(&check_spec,
                               "--resource probes the server on its own; check the token "
                               "separately with --introspect, --verify or --decode");
    if (a->jwks_uri && a->jwks_file)
        return cmd_usage_error(&check_spec, "give --jwks-uri or --jwks-file, not both");
    if (a->token_file && a->client.client_secret_file && strcmp(a->token_file, "-") == 0 &&
        strcmp(a->client.client_secret_file, "-") == 0)
        return cmd_usage_error(&check_spec,
                               "the token and the client secret cannot both come from standard "
                               "input");
    return 0;
}

/* The URLs given on the command line, against the transport policy. */
static int check_urls(const check_args *a)
{
    const struct {
        const char *name, *url;
    } urls[] = {
        {"issuer", a->issuer},
        {"introspection-endpoint", a->introspection.endpoint},
        {"jwks-uri", a->jwks_uri},
        {"resource", a->resource},
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        mcpauth_error err = {0};
        if (urls[i].url && mcpauth_http_check_url(&a->http, urls[i].url, &err) != MCPAUTH_OK)
            return cmd_usage_error(&check_spec, "--%s: %s", urls[i].name, err.message);
    }
    return 0;
}

/* The token from --token-file or MCPAUTH_TOKEN, without surrounding white
 * space (a file's is removed when read). NULL in *token when neither is
 * given. */
static int read_token(const check_args *a, char **token)
{
    mcpauth_error err = {0};
    if (cmd_read_secret(a->token_file, "MCPAUTH_TOKEN", "access token", token, &err) != MCPAUTH_OK)
        return cmd_fail("check-token", &err);
    if (!*token)
        return 0;
    size_t total = strlen(*token);
    char *start = *token + strspn(*token, " \t\r\n");
    size_t length = strlen(start);
    while (length > 0 && strchr(" \t\r\n", start[length - 1]))
        length--;
    memmove(*token, start, length);
    explicit_bzero(*token + length, total - length); /* what the move left behind */
    if (length == 0) {
        mcpauth_secret_free(*token);
        *token = NULL;
    }
    return 0;
}

/* Fills the resource server's client from --credentials and the secret
 * sources, as `serve` does. */
static int load_credentials(check_args *a, mcpauth_credentials *creds, char **secret)
{
    mcpauth_introspection_config *cfg = &a->introspection;
    int status = cmd_client_load("check-token", &a->client, creds);
    if (status == 0)
        status = cmd_client_check_issuer("check-token", a->client.credentials_file, creds->issuer,
                                         "--issuer", a->issuer, MCPAUTH_EUSAGE);
    if (status != 0)
        return status;
    cfg->client_id =
        a->client.client_id ? a->client.client_id : mcpauth_credentials_client_id(creds);
    if (!a->issuer)
        a->issuer = creds->issuer;
    if (a->client.auth_given)
        cfg->auth = a->client.auth;
    if (!a->introspect)
        return 0;
    status = cmd_client_secret("check-token", &a->client, mcpauth_credentials_client_secret(creds),
                               secret, &cfg->client_secret);
    if (status != 0)
        return status;
    /* RFC 7662 §2.1: the endpoint requires the resource server's
     * authentication. */
    if (!cfg->client_id || !cfg->client_secret)
        return cmd_usage_error(&check_spec,
                               "--introspect needs the resource server's client credentials: "
                               "--credentials FILE, or --client-id with --client-secret-file "
                               "FILE or MCPAUTH_CLIENT_SECRET");
    if (!cfg->endpoint && !a->issuer)
        return cmd_usage_error(&check_spec,
                               "--introspect needs --issuer URL (or a credentials file naming "
                               "one) or --introspection-endpoint URL");
    return 0;
}

/* ---- printing ---- */

/* Writes remote text with control and non-ASCII bytes escaped, so that a
 * token's claims cannot write to the terminal. */
static void put_clean(FILE *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
}

/* "59 min", "12 s", "3 h", "40 days": the larger unit once it reads well. */
static void describe_span(int64_t seconds, char *buf, size_t size)
{
    if (seconds < 120)
        snprintf(buf, size, "%" PRId64 " s", seconds);
    else if (seconds < 120 * 60)
        snprintf(buf, size, "%" PRId64 " min", seconds / 60);
    else if (seconds < 48 * 3600)
        snprintf(buf, size, "%" PRId64 " h", seconds / 3600);
    else
        snprintf(buf, size, "%" PRId64 " days", seconds / 86400);
}

/* "2026-11-26 12:00:00 UTC (in 59 min)" or "(expired 3 min ago)". */
static void describe_time(int64_t when, int64_t now, bool is_expiry, char *buf, size_t size)
{
    char absolute[64] = "?", span[32];
    time_t t = (time_t)when;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(absolute, sizeof absolute, "%Y-%m-%d %H:%M:%S UTC", &tm);
    int64_t delta = when >= now ? when - now : now - when;
    describe_span(delta, span, sizeof span);
    if (when >= now)
        snprintf(buf, size, "%s (in %s)", absolute, span);
    else
        snprintf(buf, size, "%s (%s%s ago)", absolute, is_expiry ? "expired " : "", span);
}

static void print_list(FILE *out, const char *label, char *const *items, size_t count)
{
    fprintf(out, "  %-12s", label);
    if (count == 0)
        fputs("(none)", out);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            fputc(' ', out);
        put_clean(out, items[i]);
    }
    fputc('\n', out);
}

static void print_field(FILE *out, const char *label, const char *value)
{
    fprintf(out, "  %-12s", label);
    put_clean(out, value ? value : "(none)");
    fputc('\n', out);
}

static void print_claims(FILE *out, const mcpauth_token_info *info, int64_t now)
{
    char when[128];
    print_field(out, "subject:", info->subject);
    print_field(out, "client id:", info->client_id);
    if (info->username)
        print_field(out, "username:", info->username);
    print_list(out, "scopes:", info->scopes, info->scope_count);
    print_list(out, "audience:", info->audiences, info->audience_count);
    print_field(out, "issuer:", info->issuer);
    if (info->expires_at)
        describe_time(info->expires_at, now, true, when, sizeof when);
    print_field(out, "expires:", info->expires_at ? when : "(never: no exp)");
    if (info->issued_at) {
        describe_time(info->issued_at, now, false, when, sizeof when);
        print_field(out, "issued:", when);
    }
    if (info->not_before) {
        describe_time(info->not_before, now, false, when, sizeof when);
        print_field(out, "not before:", when);
    }
}

/* ---- --decode ---- */

static int run_decode(const check_args *a, const char *token)
{
    json_object *header = NULL, *claims = NULL;
    mcpauth_error err = {0};
    if (mcpauth_jwt_decode(token, strlen(token), &header, &claims, &err) != MCPAUTH_OK) {
        fprintf(stderr, "mcpauth check-token: not a JWT: %s\n", err.message);
        return MCPAUTH_ENEGATIVE;
    }
    fprintf(stderr, "mcpauth check-token: decoded only: nothing was verified (no signature, "
                    "expiry, issuer or audience check)\n");
    json_object *missing = mcpauth_jwt_missing_claims(claims);
    bool typ_ok = mcpauth_jwt_typ_is_at_jwt(header);
    if (a->json) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "header", json_object_get(header));
        json_object_object_add(doc, "claims", json_object_get(claims));
        json_object_object_add(doc, "verified", json_object_new_boolean(false));
        json_object_object_add(doc, "missing_claims", json_object_get(missing));
        json_object_object_add(doc, "typ_at_jwt", json_object_new_boolean(typ_ok));
        printf("%s\n", mcpauth_json_pretty(doc));
        json_object_put(doc);
    } else {
        printf("Header (not verified):\n%s\n", mcpauth_json_pretty(header));
        printf("Claims (not verified):\n%s\n", mcpauth_json_pretty(claims));
        if (json_object_array_length(missing) > 0) {
            printf("Missing RFC 9068 claims:");
            for (size_t i = 0; i < json_object_array_length(missing); i++)
                printf(" %s", json_object_get_string(json_object_array_get_idx(missing, i)));
            printf("\n");
        }
        if (!typ_ok) {
            const char *typ = mcpauth_json_string(header, "typ");
            printf("typ: ");
            put_clean(stdout, typ ? typ : "(none)");
            printf(", not at+jwt (RFC 9068 §2.1)\n");
        }
    }
    json_object_put(missing);
    json_object_put(header);
    json_object_put(claims);
    return 0;
}

/* ---- --introspect and --verify ---- */

static void print_finding(const char *title, const mcpauth_probe_token_finding *f,
                          const char *accepted_text, int64_t now)
{
    printf("%s: %s%s", title, f->accepted ? accepted_text : "REJECTED", f->how);
    if (!f->accepted && f->reason[0])
        printf(" (%s)", f->reason);
    if (f->source[0]) {
        printf(", ");
        put_clean(stdout, f->source);
    }
    printf("\n");
    if (f->accepted)
        print_claims(stdout, &f->info, now);
}

static void print_text(const check_args *a, const mcpauth_probe_token_report *r, int64_t now)
{
    if (r->jwt.asked)
        print_finding("JWT", &r->jwt, "signature valid", now);
    if (r->introspection.asked)
        print_finding("Introspection", &r->introspection, "active", now);
    if (r->disagree[0])
        printf("JWT and introspection disagree on %s\n", r->disagree);
    if (!a->issuer)
        printf("Issuer: not checked (no --issuer)\n");
    if (a->audience_count == 0)
        printf("Audience: not checked (no --audience)\n");
    printf("Result: %s%s\n", r->why[0] ? "NOT GOOD: " : "good", r->why);
}

static void print_json(const check_args *a, const mcpauth_probe_token_report *r)
{
    json_object *doc = json_object_new_object();
    if (r->jwt.asked) {
        json_object *jwt = r->jwt.raw ? json_object_get(r->jwt.raw) : json_object_new_object();
        json_object_object_add(jwt, "signature_valid", json_object_new_boolean(r->jwt.accepted));
        if (!r->jwt.accepted)
            json_object_object_add(jwt, "reason", json_object_new_string(r->jwt.reason));
        json_object_object_add(doc, "jwt", jwt);
    }
    if (r->introspection.asked)
        json_object_object_add(doc, "introspection", json_object_get(r->introspection.raw));
    if (r->disagree[0])
        json_object_object_add(doc, "disagree", json_object_new_string(r->disagree));
    json_object_object_add(doc, "issuer_checked", json_object_new_boolean(a->issuer != NULL));
    json_object_object_add(doc, "audience_checked", json_object_new_boolean(a->audience_count > 0));
    json_object_object_add(doc, "good", json_object_new_boolean(!r->why[0]));
    if (r->why[0])
        json_object_object_add(doc, "reason", json_object_new_string(r->why));
    printf("%s\n", mcpauth_json_pretty(doc));
    json_object_put(doc);
}

static int run_checks(check_args *a, const char *token)
{
    if (a->verify && !a->jwks_file && !a->jwks_uri && !a->issuer)
        return cmd_usage_error(&check_spec,
                               "--verify needs the issuer's keys: --issuer URL, --jwks-uri URL "
                               "or --jwks-file FILE");
    mcpauth_probe_token_config config = {
        .verify = a->verify,
        .introspect = a->introspect,
        .jwks_uri = a->jwks_uri,
        .jwks_file = a->jwks_file,
        .jwt = a->jwt,
        .introspection = a->introspection,
        .policy =
            {
                .issuer = a->issuer,
                .audiences = a->audiences,
                .audience_count = a->audience_count,
                .required_scopes = a->scopes,
                .required_scope_count = a->scope_count,
                .leeway_seconds = a->leeway,
                .require_expiry = true,
            },
    };
    mcpauth_probe_token_report report;
    mcpauth_error err = {0};
    int64_t now = (int64_t)time(NULL);
    int status;
    if (mcpauth_probe_token(&a->http, &config, token, now, &report, &err) != MCPAUTH_OK) {
        status = cmd_fail("check-token", &err);
    } else {
        if (a->json)
            print_json(a, &report);
        else
            print_text(a, &report, now);
        status = report.why[0] ? MCPAUTH_ENEGATIVE : 0;
        if (report.why[0])
            fprintf(stderr, "mcpauth check-token: %s\n", report.why);
    }
    mcpauth_probe_token_report_free(&report);
    return status;
}

/* ---- --resource ---- */

typedef struct probe_output {
    bool json;
    json_object *checks;   /* for --json */
    mcpauth_strbuf failed; /* names of failed checks */
} probe_output;

static void on_check(const mcpauth_probe_check *c, void *data)
{
    probe_output *out = data;
    const char *verdict_name = mcpauth_probe_verdict_name(c->verdict);
    if (c->verdict == MCPAUTH_PROBE_FAIL)
        mcpauth_strbuf_appendf(&out->failed, "%s%s", out->failed.length ? ", " : "", c->name);
    if (!out->json) {
        printf("%s %s: %s\n", verdict_name, c->name, c->detail);
        fflush(stdout);
        return;
    }
    json_object *item = json_object_new_object();
    json_object_object_add(item, "name", json_object_new_string(c->name));
    json_object_object_add(item, "probe", json_object_new_string(c->ref));
    json_object_object_add(item, "result", json_object_new_string(verdict_name));
    json_object_object_add(item, "detail", json_object_new_string(c->detail));
    json_object_array_add(out->checks, item);
}

static void print_probe_json(const check_args *a, const probe_output *out,
                             const mcpauth_probe_summary *sum, const mcpauth_error *err)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "resource", json_object_new_string(a->resource));
    json_object_object_add(doc, "checks", json_object_get(out->checks));
    json_object_object_add(doc, "passed", json_object_new_int64((int64_t)sum->passed));
    json_object_object_add(doc, "failed", json_object_new_int64((int64_t)sum->failed));
    json_object_object_add(doc, "warnings", json_object_new_int64((int64_t)sum->warned));
    json_object_object_add(doc, "skipped", json_object_new_int64((int64_t)sum->skipped));
    if (err)
        json_object_object_add(doc, "error", json_object_new_string(err->message));
    printf("%s\n", mcpauth_json_pretty(doc));
    json_object_put(doc);
}

static int run_probe(const check_args *a, const char *token)
{
    probe_output out = {.json = a->json, .failed = MCPAUTH_STRBUF_INIT};
    out.checks = json_object_new_array();
    mcpauth_probe_config config = {.resource_url = a->resource, .token = token};
    mcpauth_probe_summary sum;
    mcpauth_error err = {0};
    mcpauth_status st = mcpauth_probe_run(&a->http, &config, on_check, &out, &sum, &err);
    if (a->json)
        print_probe_json(a, &out, &sum, st == MCPAUTH_OK ? NULL : &err);
    else if (st == MCPAUTH_OK)
        printf("%zu passed, %zu failed, %zu warnings, %zu skipped\n", sum.passed, sum.failed,
               sum.warned, sum.skipped);
    int status = 0;
    if (st != MCPAUTH_OK) {
        status = cmd_fail("check-token", &err);
    } else if (sum.failed > 0) {
        fprintf(stderr, "mcpauth check-token: %zu check%s failed: %s\n", sum.failed,
                sum.failed == 1 ? "" : "s", out.failed.data ? out.failed.data : "");
        status = MCPAUTH_ENEGATIVE;
    }
    json_object_put(out.checks);
    mcpauth_strbuf_free(&out.failed);
    return status;
}

int cmd_check_token(int argc, char **argv)
{
    check_args a = {.leeway = 30, .jwt_algs_fresh = true};
    mcpauth_http_options_init(&a.http);
    mcpauth_jwt_policy_init(&a.jwt);
    a.introspection.auth = MCPAUTH_CLIENT_AUTH_BASIC;
    mcpauth_credentials creds = {0};
    char *secret = NULL, *token = NULL;
    int operands = 0;

    int status = refuse_token_argument(argc, argv);
    if (status != 0)
        return status;
    status = cmd_parse_options(&check_spec, argc, argv, on_option, &a, &operands);
    if (status >= 0)
        return status;
    /* Not echoed: a stray argument may well be a token. */
    if (operands < argc)
        return cmd_usage_error(&check_spec,
                               "unexpected argument (not shown, in case it is a token); tokens "
                               "are read from --token-file FILE or MCPAUTH_TOKEN, never from "
                               "the command line");
    if ((status = check_modes(&a)) != 0 || (status = load_credentials(&a, &creds, &secret)) != 0 ||
        (status = check_urls(&a)) != 0 || (status = read_token(&a, &token)) != 0)
        goto done;
    if (a.resource) {
        status = run_probe(&a, token);
    } else if (!token) {
        status = cmd_usage_error(&check_spec, "no token: give --token-file FILE (- for standard "
                                              "input) or set MCPAUTH_TOKEN");
    } else if (a.decode) {
        status = run_decode(&a, token);
    } else {
        status = run_checks(&a, token);
    }
done:
    mcpauth_secret_free(token);
    mcpauth_secret_free(secret);
    mcpauth_credentials_free(&creds);
    return status;
}
