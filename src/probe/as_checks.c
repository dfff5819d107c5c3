/* The authorization server the resource metadata names, as an MCP client
 * finds it: RFC 8414 metadata in the MCP 2025-11-25 order (MCP Authorization
 * "Authorization Server Metadata Discovery"), whose issuer must be the one
 * asked for (RFC 8414 §3.3), and which should let clients use PKCE S256 (MCP
 * Authorization "Authorization Code Protection"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/discovery.h"
#include "mcpauth/json.h"
#include "mcpauth/url.h"
#include "probe_internal.h"

/* Tries one candidate URL: true when it settled the check (found, or a
 * failure that ends the walk); false to go on with the next. As discovery
 * does: 4xx means "not here", anything else unusable ends the walk. */
static bool try_candidate(mcpauth__probe_state *s, const char *url, mcpauth_probe_check *c,
                          mcpauth_status *st, mcpauth_error *err)
{
    char q[MCPAUTH_URL_QUOTE_SIZE], shown[64];
    mcpauth_http_response resp;
    if (mcpauth__probe_get(s, url, &resp, err) != MCPAUTH_OK) {
        *st = mcpauth__probe_request_failed(c, mcpauth_url_quote(url, q, sizeof q), err);
        return true;
    }
    bool settled = true;
    mcpauth_error parse_err;
    if (resp.status >= 400 && resp.status <= 499) {
        settled = false;
    } else if (resp.status != 200) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s at %s",
                               mcpauth__probe_status_text(resp.status, shown, sizeof shown),
                               mcpauth_url_quote(url, q, sizeof q));
    } else if (!(s->as_metadata = mcpauth_json_parse_object(resp.body, resp.body_length,
                                                            "the document", &parse_err))) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s: %s", mcpauth_url_quote(url, q, sizeof q),
                               parse_err.message);
    } else if (!(s->as_metadata_url = strdup(url))) {
        *st = mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    } else {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "at %s", mcpauth_url_quote(url, q, sizeof q));
    }
    mcpauth_http_response_free(&resp);
    return settled;
}

mcpauth_status mcpauth__probe_as_metadata(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                          mcpauth_error *err)
{
    char q[MCPAUTH_URL_QUOTE_SIZE];
    if (!s->issuer) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "no authorization server named");
        return MCPAUTH_OK;
    }
    char *urls[3];
    mcpauth_error why;
    size_t count = mcpauth_discovery_issuer_urls(s->issuer, urls, &why);
    if (count == 0) {
        if (why.status == MCPAUTH_ELOCAL)
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "%s", why.message);
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s", why.message);
        return MCPAUTH_OK;
    }
    mcpauth_status st = MCPAUTH_OK;
    size_t i = 0;
    while (i < count && !try_candidate(s, urls[i], c, &st, err))
        i++;
    if (i == count) {
        char tried[MCPAUTH_PROBE_DETAIL_MAX - 96] = "";
        size_t used = 0;
        for (size_t j = 0; j < count; j++) {
            int n = snprintf(tried + used, sizeof tried - used, "%s%s", j ? ", " : "",
                             mcpauth_url_quote(urls[j], q, sizeof q));
            if (n > 0 && (size_t)n < sizeof tried - used)
                used += (size_t)n;
        }
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "no authorization server metadata for %s (4xx at %s)",
                               mcpauth_url_quote(s->issuer, q, sizeof q), tried);
    }
    for (size_t j = 0; j < count; j++)
        free(urls[j]);
    return st;
}

mcpauth_status mcpauth__probe_as_issuer(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                        mcpauth_error *err)
{
    (void)err;
    char q[MCPAUTH_URL_QUOTE_SIZE], q_asked[MCPAUTH_URL_QUOTE_SIZE];
    if (!s->as_metadata) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "no authorization server metadata");
        return MCPAUTH_OK;
    }
    const char *issuer = mcpauth_json_string(s->as_metadata, "issuer");
    mcpauth_url_quote(s->issuer, q_asked, sizeof q_asked);
    if (!issuer)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "the metadata has no \"issuer\" string (RFC 8414 §2)");
    /* RFC 8414 §3.3: identical, or clients MUST NOT use the metadata. */
    else if (strcmp(issuer, s->issuer) != 0)
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_FAIL,
            "issuer %s, not %s as the resource metadata names it (RFC 8414 §3.3: they "
            "must be identical)",
            mcpauth_url_quote(issuer, q, sizeof q), q_asked);
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "issuer %s", q_asked);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth__probe_as_pkce(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                      mcpauth_error *err)
{
    (void)err;
    if (!s->as_metadata) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "no authorization server metadata");
        return MCPAUTH_OK;
    }
    /* Worth knowing about the server while here. */
    json_object *cimd = NULL;
    bool has_cimd =
        json_object_object_get_ex(s->as_metadata, "client_id_metadata_document_supported", &cimd) &&
        json_object_is_type(cimd, json_type_boolean) && json_object_get_boolean(cimd);
    char also[160];
    snprintf(also, sizeof also, "; registration_endpoint %s; client ID metadata documents %s",
             mcpauth_json_string(s->as_metadata, "registration_endpoint") ? "yes" : "no",
             has_cimd ? "yes" : "no");
    /* MCP 2025-11-25 §Authorization Code Protection: clients MUST refuse the
     * authorization code flow without S256 in the metadata. */
    if (mcpauth_json_array_has(s->as_metadata, "code_challenge_methods_supported", "S256"))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "S256 in code_challenge_methods_supported%s",
                               also);
    else
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_WARN,
            "no S256 in code_challenge_methods_supported: MCP clients refuse the "
            "authorization code flow%s",
            also);
    return MCPAUTH_OK;
}
