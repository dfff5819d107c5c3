/* URLs (src/util/url.c): parsing, the Host authority's strict parse and the
 * loopback test, canonical comparison, RFC 8414 / RFC 9728 well-known URLs,
 * reference resolution and the redirect URI rules. Input: two strings
 * separated by \x01. */
#include <stdbool.h>

#include "fuzz.h"
#include "mcpauth/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_pieces in;
    fuzz_split(data, size, 2, &in);
    const char *a = in.piece[0], *b = in.piece[1];
    mcpauth_error err;
    mcpauth_url url;

    if (mcpauth_url_parse(a, &url, &err) == MCPAUTH_OK) {
        (void)mcpauth_url_is_loopback(&url);
        free(mcpauth_url_origin(&url));
        mcpauth_url_free(&url);
    }
    /* An authority has no scheme, so no origin. */
    if (mcpauth_url_parse_authority(a, &url, &err) == MCPAUTH_OK) {
        if (url.scheme || url.path || !url.host)
            abort();
        (void)mcpauth_url_is_loopback(&url);
        mcpauth_url_free(&url);
    }
    /* Equality is symmetric and reflexive for whatever parses. */
    if (mcpauth_url_canonical_equal(a, b) != mcpauth_url_canonical_equal(b, a))
        abort();
    if (mcpauth_url_parse(a, &url, &err) == MCPAUTH_OK) {
        mcpauth_url_free(&url);
        if (!mcpauth_url_canonical_equal(a, a))
            abort();
    }
    free(mcpauth_url_well_known_inserted(a, "oauth-authorization-server", &err));
    free(mcpauth_url_well_known_appended(a, "openid-configuration", &err));
    free(mcpauth_url_resolve(a, b, &err));
    (void)mcpauth_url_check_redirect_uri(a, &err);
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    const char *q = mcpauth_url_quote(a, quoted, sizeof quoted);
    if (!q || strlen(q) >= sizeof quoted)
        abort();
    fuzz_pieces_free(&in);
    return 0;
}
