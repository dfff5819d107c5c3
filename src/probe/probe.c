/* The probe's runner: the checks in order, each reported as soon as it is
 * done, and the state they share. The checks themselves are in
 * metadata_checks.c, as_checks.c, token_checks.c, modern_checks.c and
 * scope_checks.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/url.h"
#include "probe_internal.h"

typedef struct probe_step {
    const char *name;
    const char *ref;
    mcpauth__probe_check_fn run;
} probe_step;

/* Those needing nothing but the server first, then the token's. */
static const probe_step steps[] = {
    {"no-token-401", "PR-1", mcpauth__probe_no_token_401},
    {"no-token-challenge", "PR-1", mcpauth__probe_no_token_challenge},
    {"no-token-no-error", "PR-1", mcpauth__probe_no_token_no_error},
    {"metadata-document", "PR-2", mcpauth__probe_metadata_document},
    {"metadata-resource", "PR-2", mcpauth__probe_metadata_resource},
    {"metadata-authorization-servers", "PR-2", mcpauth__probe_metadata_authorization_servers},
    {"metadata-path-inserted", "PR-3", mcpauth__probe_metadata_path_inserted},
    {"metadata-root", "PR-3", mcpauth__probe_metadata_root},
    {"as-metadata", "PR-15", mcpauth__probe_as_metadata},
    {"as-issuer", "PR-15", mcpauth__probe_as_issuer},
    {"as-pkce-s256", "PR-15", mcpauth__probe_as_pkce},
    {"bogus-token", "PR-4", mcpauth__probe_bogus_token},
    {"basic-scheme", "PR-8", mcpauth__probe_basic_scheme},
    {"query-token-ignored", "PR-6", mcpauth__probe_query_token},
    {"token-initialize", "PR-5", mcpauth__probe_token_initialize},
    {"token-tools-list", "PR-5", mcpauth__probe_token_tools_list},
    {"query-token-beside-header", "PR-7", mcpauth__probe_query_beside_header},
    {"forged-alg-none", "PR-5", mcpauth__probe_forged_alg_none},
    {"forged-signature", "PR-5", mcpauth__probe_forged_signature},
    {"foreign-origin", "PR-10", mcpauth__probe_foreign_origin},
    {"modern-discover", "M26-DS-01", mcpauth__probe_modern_discover},
    {"modern-header-mismatch", "M26-HD-09", mcpauth__probe_modern_header_mismatch},
    {"modern-unsupported-version", "M26-HD-02", mcpauth__probe_modern_unsupported_version},
    {"modern-get-405", "M26-HT-11", mcpauth__probe_modern_get_405},
    {"insufficient-scope-all", "M26-RS-10", mcpauth__probe_insufficient_scope_all},
    {"offline-access-absent", "M26-RS-04", mcpauth__probe_offline_access_absent},
};

const char *mcpauth_probe_verdict_name(mcpauth_probe_verdict verdict)
{
    switch (verdict) {
    case MCPAUTH_PROBE_PASS:
        return "PASS";
    case MCPAUTH_PROBE_FAIL:
        return "FAIL";
    case MCPAUTH_PROBE_WARN:
        return "WARN";
    case MCPAUTH_PROBE_SKIP:
        return "SKIP";
    }
    return "?";
}

void mcpauth__probe_verdict(mcpauth_probe_check *c, mcpauth_probe_verdict verdict, const char *fmt,
                            ...)
{
    va_list ap;
    c->verdict = verdict;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
}

mcpauth_status mcpauth__probe_request_failed(mcpauth_probe_check *c, const char *what,
                                             const mcpauth_error *err)
{
    if (err->status == MCPAUTH_ENETWORK || err->status == MCPAUTH_ELOCAL)
        return err->status;
    mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s: %s", what, err->message);
    return MCPAUTH_OK;
}

static mcpauth_status state_init(mcpauth__probe_state *s, const mcpauth_http_options *opts,
                                 const mcpauth_probe_config *config, mcpauth_error *err)
{
    memset(s, 0, sizeof *s);
    s->opts = opts;
    s->config = config;
    mcpauth_url url;
    if (mcpauth_url_parse(config->resource_url, &url, err) != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "MCP server URL");
    bool fragment = url.fragment != NULL;
    s->origin = mcpauth_url_origin(&url);
    mcpauth_url_free(&url);
    if (fragment)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "the MCP server URL must not have a fragment (RFC 9728 §1.2)");
    if (!s->origin)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    s->path_metadata_url =
        mcpauth_url_well_known_inserted(config->resource_url, "oauth-protected-resource", err);
    s->root_metadata_url =
        s->path_metadata_url
            ? mcpauth_url_well_known_inserted(s->origin, "oauth-protected-resource", err)
            : NULL;
    if (!s->root_metadata_url)
        return err->status;
    return mcpauth_http_check_url(opts, config->resource_url, err);
}

/* Sessions the probe opened are ended (MCP 2025-11-25 transports §Session
 * Management 5); servers that do not allow it answer 405, which is fine. */
static void delete_sessions(mcpauth__probe_state *s)
{
    for (size_t i = 0; i < s->session_count; i++) {
        mcpauth__probe_request r = {.method = "DELETE",
                                    .bearer_token = s->config->token,
                                    .session_id = s->sessions[i],
                                    .protocol_version = s->protocol_version};
        mcpauth_http_response resp;
        mcpauth_error ignored;
        if (mcpauth__probe_send(s, &r, &resp, &ignored) == MCPAUTH_OK)
            mcpauth_http_response_free(&resp);
    }
}

static void state_free(mcpauth__probe_state *s)
{
    free(s->origin);
    free(s->path_metadata_url);
    free(s->root_metadata_url);
    mcpauth_http_response_free(&s->no_token);
    mcpauth_challenge_list_free(&s->no_token_challenges);
    free(s->header_metadata_url);
    json_object_put(s->metadata);
    json_object_put(s->path_metadata);
    free(s->issuer);
    json_object_put(s->as_metadata);
    free(s->as_metadata_url);
    free(s->session_id);
    free(s->protocol_version);
    for (size_t i = 0; i < s->session_count; i++)
        free(s->sessions[i]);
    free(s->forbidden_scope);
}

mcpauth_status mcpauth_probe_run(const mcpauth_http_options *opts,
                                 const mcpauth_probe_config *config, mcpauth_probe_cb cb,
                                 void *data, mcpauth_probe_summary *summary, mcpauth_error *err)
{
    mcpauth__probe_state s;
    memset(summary, 0, sizeof *summary);
    mcpauth_status st = state_init(&s, opts, config, err);
    for (size_t i = 0; st == MCPAUTH_OK && i < sizeof steps / sizeof steps[0]; i++) {
        mcpauth_probe_check c = {
            .name = steps[i].name, .ref = steps[i].ref, .verdict = MCPAUTH_PROBE_SKIP};
        if ((st = steps[i].run(&s, &c, err)) != MCPAUTH_OK)
            break;
        switch (c.verdict) {
        case MCPAUTH_PROBE_PASS:
            summary->passed++;
            break;
        case MCPAUTH_PROBE_FAIL:
            summary->failed++;
            break;
        case MCPAUTH_PROBE_WARN:
            summary->warned++;
            break;
        case MCPAUTH_PROBE_SKIP:
            summary->skipped++;
            break;
        }
        cb(&c, data);
    }
    delete_sessions(&s);
    state_free(&s);
    return st;
}
