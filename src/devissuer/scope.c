/* What the development issuer grants: the scopes it supports (RFC 6749
 * §3.3) and the one resource it issues tokens for (RFC 8707). */
#include <stdlib.h>
#include <string.h>

#include "devissuer_internal.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"

static bool scope_supported(const mcpauth_devissuer *dev, const char *scope, size_t length)
{
    for (size_t i = 0; i < dev->config->scope_count; i++) {
        const char *s = dev->config->scopes[i];
        if (strlen(s) == length && strncmp(s, scope, length) == 0)
            return true;
    }
    return false;
}

char *mcpauth__devissuer_scope_grant(const mcpauth_devissuer *dev, const char *requested)
{
    if (!requested) {
        mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
        mcpauth_strbuf_appends(&sb, "");
        for (size_t i = 0; i < dev->config->scope_count; i++)
            mcpauth_strbuf_appendf(&sb, "%s%s", i ? " " : "", dev->config->scopes[i]);
        return mcpauth_strbuf_detach(&sb);
    }
    /* RFC 6749 §3.3: space-delimited scope tokens. */
    for (const char *p = requested; *p;) {
        size_t n = strcspn(p, " ");
        if (n == 0 || !scope_supported(dev, p, n))
            return NULL;
        p += n;
        if (*p == ' ')
            p++;
    }
    return strdup(requested);
}

bool mcpauth__devissuer_resource_known(const mcpauth_devissuer *dev, const char *resource)
{
    return resource && mcpauth_url_canonical_equal(dev->config->resource, resource);
}
