/* One access token checked locally (RFC 9068) and by introspection (RFC
 * 7662), the claims judged as `serve` judges them, and the two answers
 * compared: the work behind `check-token --verify / --introspect`. */
#include "mcpauth/token_report.h"

#include <stdio.h>
#include <string.h>

#include "mcpauth/discovery.h"
#include "mcpauth/json.h"
#include "mcpauth/jwks_cache.h"
#include "mcpauth/url.h"

typedef struct token_run {
    const mcpauth_http_options *opts;
    const mcpauth_probe_token_config *config;
    const char *token;
    mcpauth_as_metadata metadata; /* fetched once, when needed */
    bool have_metadata;
    mcpauth_probe_token_report *report;
} token_run;

static const char *issuer_of(const token_run *run)
{
    return run->config->policy.issuer;
}

static mcpauth_status issuer_metadata(token_run *run, mcpauth_error *err)
{
    if (run->have_metadata)
        return MCPAUTH_OK;
    mcpauth_status st = mcpauth_discover_issuer(run->opts, issuer_of(run), &run->metadata, err);
    run->have_metadata = st == MCPAUTH_OK;
    return st;
}

/* An endpoint named in the issuer's metadata (RFC 8414 §2); option is the
 * check-token option that gives it instead, for the message. */
static mcpauth_status metadata_endpoint(token_run *run, const char *key, const char *option,
                                        const char **out, mcpauth_error *err)
{
    mcpauth_status st = issuer_metadata(run, err);
    if (st != MCPAUTH_OK)
        return st;
    *out = mcpauth_json_string(run->metadata.document, key);
    if (!*out)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the metadata of issuer %s has no %s (give --%s)", issuer_of(run),
                                 key, option);
    if (mcpauth_http_check_url(run->opts, *out, err) != MCPAUTH_OK) {
        err->status = MCPAUTH_EREMOTE;
        return mcpauth_error_prefix(err, "%s in the issuer's metadata", key);
    }
    return MCPAUTH_OK;
}

/* The keys: the file, the jwks_uri given, or jwks_uri from the issuer's
 * metadata. */
static mcpauth_status load_jwks(token_run *run, mcpauth_jwks **jwks, mcpauth_error *err)
{
    const mcpauth_probe_token_config *c = run->config;
    mcpauth_probe_token_finding *f = &run->report->jwt;
    if (c->jwks_file) {
        snprintf(f->source, sizeof f->source, "keys from %s", c->jwks_file);
        return mcpauth_jwks_load_file(c->jwks_file, jwks, err);
    }
    const char *uri = c->jwks_uri;
    mcpauth_status st =
        uri ? MCPAUTH_OK : metadata_endpoint(run, "jwks_uri", "jwks-uri", &uri, err);
    if (st != MCPAUTH_OK)
        return st;
    snprintf(f->source, sizeof f->source, "keys from %s", uri);
    return mcpauth_jwks_fetch(run->opts, uri, jwks, err);
}

/* {"header": ..., "claims": ...} as decoded. */
static json_object *decoded_token(const char *token)
{
    json_object *header = NULL, *claims = NULL;
    if (mcpauth_jwt_decode(token, strlen(token), &header, &claims, NULL) != MCPAUTH_OK)
        return NULL;
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "header", header);
    json_object_object_add(doc, "claims", claims);
    return doc;
}

static mcpauth_status verify(token_run *run, mcpauth_error *err)
{
    mcpauth_probe_token_finding *f = &run->report->jwt;
    f->asked = true;
    size_t length = strlen(run->token);
    if (!mcpauth_jwt_looks_like(run->token, length)) {
        snprintf(f->reason, sizeof f->reason, "not a JWT (an opaque token: use --introspect)");
        return MCPAUTH_OK;
    }
    mcpauth_jwks *jwks = NULL;
    mcpauth_status st = load_jwks(run, &jwks, err);
    if (st != MCPAUTH_OK)
        return st;
    f->raw = decoded_token(run->token);
    f->accepted = mcpauth_jwt_verify(run->token, length, jwks, &run->config->jwt, &f->info,
                                     f->reason, sizeof f->reason) == MCPAUTH_JWT_VERIFIED;
    mcpauth_jwks_free(jwks);
    json_object *header = NULL;
    if (f->accepted && f->raw && json_object_object_get_ex(f->raw, "header", &header)) {
        const char *kid = mcpauth_json_string(header, "kid");
        char quoted[MCPAUTH_URL_QUOTE_SIZE];
        snprintf(f->how, sizeof f->how, " (%s%s%s)", mcpauth_json_string(header, "alg"),
                 kid ? ", kid " : "", kid ? mcpauth_url_quote(kid, quoted, sizeof quoted) : "");
    }
    return MCPAUTH_OK;
}

static mcpauth_status introspect(token_run *run, mcpauth_error *err)
{
    mcpauth_probe_token_finding *f = &run->report->introspection;
    mcpauth_introspection_config cfg = run->config->introspection;
    f->asked = true;
    mcpauth_status st = MCPAUTH_OK;
    if (!cfg.endpoint)
        st = metadata_endpoint(run, "introspection_endpoint", "introspection-endpoint",
                               &cfg.endpoint, err);
    if (st != MCPAUTH_OK)
        return st;
    snprintf(f->source, sizeof f->source, "at %s", cfg.endpoint);
    st = mcpauth_introspect_sync(run->opts, &cfg, run->token, strlen(run->token), &f->info, &f->raw,
                                 err);
    if (st != MCPAUTH_OK)
        return st;
    f->accepted = f->info.active;
    if (!f->accepted)
        snprintf(f->reason, sizeof f->reason, "token is not active");
    return MCPAUTH_OK;
}

/* The checks serve makes on any token, whatever validated it. */
static void judge_claims(const mcpauth_token_policy *policy, mcpauth_probe_token_finding *f,
                         int64_t now)
{
    if (!f->accepted)
        return;
    f->claims_ok = mcpauth_token_check(policy, &f->info, now, f->reason, sizeof f->reason) ==
                   MCPAUTH_TOKEN_VALID;
}

static bool same_text(const char *x, const char *y)
{
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

static bool same_set(char *const *x, size_t nx, char *const *y, size_t ny)
{
    if (nx != ny)
        return false;
    for (size_t i = 0; i < nx; i++) {
        bool found = false;
        for (size_t j = 0; j < ny && !found; j++)
            found = strcmp(x[i], y[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

void mcpauth_probe_token_compare(const mcpauth_token_info *j, const mcpauth_token_info *i,
                                 char *buf, size_t size)
{
    const struct {
        const char *name;
        bool same;
    } claims[] = {
        {"sub", same_text(j->subject, i->subject)},
        {"client_id", same_text(j->client_id, i->client_id)},
        {"iss", same_text(j->issuer, i->issuer)},
        {"exp", j->expires_at == i->expires_at},
        {"scope", same_set(j->scopes, j->scope_count, i->scopes, i->scope_count)},
        {"aud", same_set(j->audiences, j->audience_count, i->audiences, i->audience_count)},
    };
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof claims / sizeof claims[0]; k++) {
        if (claims[k].same)
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", claims[k].name);
        if (n < 0 || (size_t)n >= size - used) {
            buf[used] = '\0'; /* whole names only */
            return;
        }
        used += (size_t)n;
    }
}

/* The one-line answer when the token is not good, "" when it is. With
 * both checks, where they disagree comes first. */
static void verdict(mcpauth_probe_token_report *r)
{
    const mcpauth_probe_token_finding *j = &r->jwt, *i = &r->introspection;
    char *why = r->why;
    size_t size = sizeof r->why;
    why[0] = '\0';
    if (j->asked && i->asked && j->accepted && !i->accepted)
        snprintf(why, size, "signature valid, but introspection says inactive: revoked?");
    else if (j->asked && i->asked && !j->accepted && i->accepted)
        snprintf(why, size, "introspection says active, but local verification failed: %s",
                 j->reason);
    else if (j->asked && !j->claims_ok)
        snprintf(why, size, "%s", j->reason);
    else if (i->asked && !i->claims_ok)
        snprintf(why, size, "%s", i->reason);
}

mcpauth_status mcpauth_probe_token(const mcpauth_http_options *opts,
                                   const mcpauth_probe_token_config *config, const char *token,
                                   int64_t now, mcpauth_probe_token_report *report,
                                   mcpauth_error *err)
{
    memset(report, 0, sizeof *report);
    token_run run = {.opts = opts, .config = config, .token = token, .report = report};
    mcpauth_status st = MCPAUTH_OK;
    if (config->verify)
        st = verify(&run, err);
    if (st == MCPAUTH_OK && config->introspect)
        st = introspect(&run, err);
    if (run.have_metadata)
        mcpauth_as_metadata_free(&run.metadata);
    if (st != MCPAUTH_OK)
        return st;
    judge_claims(&config->policy, &report->jwt, now);
    judge_claims(&config->policy, &report->introspection, now);
    if (report->jwt.accepted && report->introspection.accepted)
        mcpauth_probe_token_compare(&report->jwt.info, &report->introspection.info,
                                    report->disagree, sizeof report->disagree);
    verdict(report);
    return MCPAUTH_OK;
}

static void finding_free(mcpauth_probe_token_finding *f)
{
    mcpauth_token_info_free(&f->info);
    json_object_put(f->raw);
    f->raw = NULL;
}

void mcpauth_probe_token_report_free(mcpauth_probe_token_report *report)
{
    finding_free(&report->jwt);
    finding_free(&report->introspection);
}
