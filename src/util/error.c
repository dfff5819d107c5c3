#include "mcpauth/error.h"

#include <stdio.h>
#include <string.h>

mcpauth_status mcpauth_error_set(mcpauth_error *err, mcpauth_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->status = status;
    return status;
}

mcpauth_status mcpauth_error_prefix(mcpauth_error *err, const char *fmt, ...)
{
    if (!err)
        return MCPAUTH_ELOCAL; /* the caller had an error to prefix */
    char prefix[MCPAUTH_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[MCPAUTH_ERROR_MESSAGE_MAX];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->message);
    memcpy(err->message, joined, sizeof joined);
    return err->status;
}

void mcpauth_error_clear(mcpauth_error *err)
{
    if (!err)
        return;
    err->status = MCPAUTH_OK;
    err->message[0] = '\0';
}

const char *mcpauth_status_name(mcpauth_status status)
{
    switch (status) {
    case MCPAUTH_OK:
        return "success";
    case MCPAUTH_ENEGATIVE:
        return "negative answer";
    case MCPAUTH_EUSAGE:
        return "usage error";
    case MCPAUTH_ENETWORK:
        return "network error";
    case MCPAUTH_EREMOTE:
        return "remote error";
    case MCPAUTH_ELOCAL:
        return "local error";
    }
    return "unknown error";
}
