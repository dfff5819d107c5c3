/* A blocking HTTP client on libcurl for the command-line tools.
 *
 * Every subcommand's outbound request goes through here, so the safety rules
 * live in one place: TLS verification on unless insecure is set, plain http
 * only to loopback hosts unless allow_http is set, a cap on response size,
 * timeouts, no redirects on anything but GET (and then re-checked per hop),
 * and -v output with Authorization values redacted.
 *
 * mcpauth_http_perform() blocks the calling thread: never call it from an
 * event loop. Call mcpauth_http_global_init() once at program start.
 */
#ifndef MCPAUTH_HTTP_CLIENT_H
#define MCPAUTH_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mcpauth/error.h"

#define MCPAUTH_HTTP_DEFAULT_TIMEOUT      15
#define MCPAUTH_HTTP_DEFAULT_MAX_RESPONSE (1024 * 1024)
#define MCPAUTH_HTTP_MAX_REDIRECTS        5

typedef struct mcpauth_http_options {
    long timeout_seconds;      /* total time per request; also caps connect */
    size_t max_response_bytes; /* larger bodies fail with MCPAUTH_EREMOTE */
    const char *cacert;        /* PEM bundle to trust instead of the system's */
    bool insecure;             /* skip TLS certificate and host verification */
    bool allow_http;           /* permit http:// to non-loopback hosts */
    /* Connect only to public addresses and loopback, checked on each address
     * the name resolves to, before connecting (no proxy is used): for URLs a
     * remote party chose, against server-side request forgery. */
    bool public_addresses_only;
    FILE *verbose; /* when set: request lines and statuses go here */
} mcpauth_http_options;

/* Fills opts with the defaults (15 s, 1 MiB, verification on). */
void mcpauth_http_options_init(mcpauth_http_options *opts);

typedef struct mcpauth_http_header {
    char *name;  /* as received */
    char *value; /* trimmed */
} mcpauth_http_header;

typedef struct mcpauth_http_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE" */
    const char *url;
    const char *content_type; /* for the body; NULL when there is none */
    const char *body;
    size_t body_length;
    const char *accept;       /* Accept header; NULL for application/json */
    const char *bearer_token; /* sent as Authorization: Bearer; redacted in -v */
    const char *basic_user;   /* with basic_password: RFC 6749 §2.3.1 client auth */
    const char *basic_password;
    /* More request header lines, "Name: value" each (an upstream MCP
     * server's session and credentials); borrowed, copied by start. */
    const char *const *headers;
    size_t header_count;
} mcpauth_http_request;

typedef struct mcpauth_http_response {
    long status;
    char *url;  /* the final URL after redirects */
    char *body; /* NUL-terminated; body_length excludes the NUL */
    size_t body_length;
    mcpauth_http_header *headers; /* of the final response */
    size_t header_count;
} mcpauth_http_response;

/* Initialises libcurl; returns MCPAUTH_OK or MCPAUTH_ELOCAL. */
mcpauth_status mcpauth_http_global_init(mcpauth_error *err);
void mcpauth_http_global_cleanup(void);

/* Checks the URL against the transport policy (scheme, loopback) without
 * sending anything. MCPAUTH_EUSAGE with a message on refusal. */
mcpauth_status mcpauth_http_check_url(const mcpauth_http_options *opts, const char *url,
                                      mcpauth_error *err);

/* Performs one request. Any HTTP status is MCPAUTH_OK (the caller judges it);
 * failures to get a response are MCPAUTH_ENETWORK (connect, timeout, TLS),
 * MCPAUTH_EREMOTE (oversized or malformed response) or MCPAUTH_EUSAGE (URL
 * refused by policy). On success the caller frees *resp with
 * mcpauth_http_response_free(). Blocks. */
mcpauth_status mcpauth_http_perform(const mcpauth_http_options *opts,
                                    const mcpauth_http_request *req, mcpauth_http_response *resp,
                                    mcpauth_error *err);

void mcpauth_http_response_free(mcpauth_http_response *resp);

/* The index-th header named name (case-insensitive) or NULL. */
const char *mcpauth_http_response_header(const mcpauth_http_response *resp, const char *name,
                                         size_t index);

/* True when the response's Content-Type is application/json or +json. */
bool mcpauth_http_response_is_json(const mcpauth_http_response *resp);

/* The reason phrase for common statuses ("Not Found"), or "". */
const char *mcpauth_http_status_text(long status);

#endif
