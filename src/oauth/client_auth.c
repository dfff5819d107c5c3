#include "mcpauth/client_auth.h"

#include <string.h>

bool mcpauth_client_auth_from_name(const char *name, mcpauth_client_auth *out)
{
    static const struct {
        const char *name;
        mcpauth_client_auth auth;
    } methods[] = {
        {"client_secret_basic", MCPAUTH_CLIENT_AUTH_BASIC},
        {"client_secret_post", MCPAUTH_CLIENT_AUTH_POST},
        {"none", MCPAUTH_CLIENT_AUTH_NONE},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(name, methods[i].name) == 0) {
            *out = methods[i].auth;
            return true;
        }
    }
    return false;
}

const char *mcpauth_client_auth_name(mcpauth_client_auth auth)
{
    switch (auth) {
    case MCPAUTH_CLIENT_AUTH_BASIC:
        return "client_secret_basic";
    case MCPAUTH_CLIENT_AUTH_POST:
        return "client_secret_post";
    case MCPAUTH_CLIENT_AUTH_NONE:
        return "none";
    }
    return "unknown";
}

bool mcpauth_client_auth_default(const char *registered, bool has_secret, mcpauth_client_auth *out)
{
    if (registered)
        return mcpauth_client_auth_from_name(registered, out);
    *out = has_secret ? MCPAUTH_CLIENT_AUTH_BASIC : MCPAUTH_CLIENT_AUTH_NONE;
    return true;
}
