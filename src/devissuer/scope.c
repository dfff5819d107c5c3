/* What the development issuer grants: the scopes it supports (RFC 6749
 * §3.3) and the one resource it issues tokens for (RFC 8707). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devissuer_internal.h"
#include "mcpauth/strbuf.h"

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

/* Length of uri without one trailing '/'. */
static size_t trimmed_length(const char *uri)
{
    size_t n = strlen(uri);
    return n > 0 && uri[n - 1] == '/' ? n - 1 : n;
}

bool mcpauth__devissuer_resource_known(const mcpauth_devissuer *dev, const char *resource)
{
    const char *mine = dev->config->resource;
    size_t n = trimmed_length(mine);
    if (!resource || trimmed_length(resource) != n)
        return false;
    /* Scheme and host compare case-insensitively, the path exactly. */
    const char *path = strstr(mine, "://");
    size_t authority_end = path ? (size_t)(strchrnul(path + 3, '/') - mine) : n;
    if (authority_end > n)
        authority_end = n;
    return strncasecmp(mine, resource, authority_end) == 0 &&
           strncmp(mine + authority_end, resource + authority_end, n - authority_end) == 0;
}
