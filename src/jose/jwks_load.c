/* Where a JWK Set comes from: a local file, or an HTTP answer from jwks_uri
 * (RFC 8414 §2), either fetched here in one blocking request or handed over
 * by the event-loop cache in jwks_cache.c. One place judges both, so every
 * caller reports a bad set the same way. */
#include <stdlib.h>

#include "mcpauth/fileio.h"
#include "mcpauth/jwks_cache.h"
#include "mcpauth/url.h"

mcpauth_status mcpauth_jwks_load_file(const char *path, mcpauth_jwks **out, mcpauth_error *err)
{
    char *text = NULL;
    size_t length = 0;
    *out = NULL;
    mcpauth_status st = mcpauth_file_read(path, MCPAUTH_JWKS_FILE_MAX, &text, &length, err);
    if (st == MCPAUTH_OK && mcpauth_jwks_parse(text, length, out, err) != MCPAUTH_OK) {
        /* The file is ours, whatever it holds: a local error. */
        st = MCPAUTH_ELOCAL;
        if (err)
            err->status = st;
        mcpauth_error_prefix(err, "%s", path);
    }
    free(text);
    return st;
}

mcpauth_status mcpauth_jwks_from_response(const mcpauth_http_response *resp, const char *uri,
                                          mcpauth_jwks **out, mcpauth_error *err)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    *out = NULL;
    if (resp->status != 200)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "JWK Set at %s: HTTP %ld %s",
                                 mcpauth_url_quote(uri, quoted, sizeof quoted), resp->status,
                                 mcpauth_http_status_text(resp->status));
    if (mcpauth_jwks_parse(resp->body, resp->body_length, out, err) != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "JWK Set at %s",
                                    mcpauth_url_quote(uri, quoted, sizeof quoted));
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_jwks_fetch(const mcpauth_http_options *opts, const char *uri,
                                  mcpauth_jwks **out, mcpauth_error *err)
{
    mcpauth_http_request req = {.method = "GET", .url = uri, .accept = MCPAUTH_JWKS_ACCEPT};
    mcpauth_http_response resp;
    *out = NULL;
    mcpauth_status st = mcpauth_http_perform(opts, &req, &resp, err);
    if (st != MCPAUTH_OK)
        return st;
    st = mcpauth_jwks_from_response(&resp, uri, out, err);
    mcpauth_http_response_free(&resp);
    return st;
}
