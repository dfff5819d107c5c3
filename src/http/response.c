/* A received HTTP response: its headers, its media type, freeing it, and
 * the reason phrases of the status codes mcpauth meets (RFC 9110 §15).
 * Shared by the clients and the server; calls nothing else in http/. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"
#include "mcpauth/http_client.h"

void mcpauth__http_headers_free(mcpauth_http_header *headers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(headers[i].name);
        free(headers[i].value);
    }
    free(headers);
}

void mcpauth_http_response_free(mcpauth_http_response *resp)
{
    free(resp->url);
    free(resp->body);
    mcpauth__http_headers_free(resp->headers, resp->header_count);
    memset(resp, 0, sizeof *resp);
}

const char *mcpauth_http_response_header(const mcpauth_http_response *resp, const char *name,
                                         size_t index)
{
    for (size_t i = 0; i < resp->header_count; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0 && index-- == 0)
            return resp->headers[i].value;
    }
    return NULL;
}

bool mcpauth_http_response_is_json(const mcpauth_http_response *resp)
{
    const char *type = mcpauth_http_response_header(resp, "Content-Type", 0);
    if (!type)
        return false;
    size_t length = strcspn(type, "; \t");
    if (length == 16 && strncasecmp(type, "application/json", 16) == 0)
        return true;
    return length > 5 && strncasecmp(type + length - 5, "+json", 5) == 0;
}

const char *mcpauth_http_status_text(long status)
{
    /* One status per line reads as a table. */
    /* clang-format off */
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
    /* clang-format on */
}
