/* One libcurl transfer, shared by the blocking client (client.c) and the
 * libuv-driven one (async_client.c): the policy check, the request headers,
 * every CURLOPT, the capped body/header callbacks, mapping the outcome to an
 * mcpauth_status with a message, and the -v log lines. The callers only
 * decide how the easy handle is driven (curl_easy_perform or a multi handle)
 * and what happens around it (redirects, callbacks).
 *
 * Library-internal: not installed, not for cmd/. */
#ifndef MCPAUTH_HTTP_TRANSFER_H
#define MCPAUTH_HTTP_TRANSFER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/error.h"
#include "mcpauth/http_client.h"
#include "mcpauth/strbuf.h"

/* The state of one exchange. libcurl keeps pointers into it (callback data,
 * error buffer), so it must not move between init and cleanup. */
typedef struct mcpauth__http_transfer {
    CURL *easy;
    struct curl_slist *request_headers; /* may hold Authorization: wiped on cleanup */
    const mcpauth_http_options *opts;   /* borrowed */
    const char *url;                    /* borrowed; used in messages and resp->url */
    long timeout;                       /* seconds actually applied */
    mcpauth_strbuf body;
    size_t max_body;
    bool body_too_large;
    mcpauth_http_header *headers; /* of the latest response header block */
    size_t header_count;
    size_t header_bytes;
    bool headers_too_large;
    char detail[CURL_ERROR_SIZE]; /* libcurl's own description of a failure */
    char refused_address[64];     /* the private address not connected to, "" when none */
    /* Set by a streaming caller after init: every body chunk goes here
     * instead of into body (no size cap); returning false aborts. */
    bool (*on_data)(struct mcpauth__http_transfer *t, const char *bytes, size_t length);
    void *on_data_arg;
} mcpauth__http_transfer;

/* Checks url against the policy (mcpauth_http_check_url), then prepares t
 * with a configured easy handle for req sent to url, and logs the request
 * line when opts->verbose is set. opts, url and req->body are borrowed and
 * must outlive t; the other strings of req are copied. On failure t holds
 * nothing that needs cleaning up. Does no I/O. */
mcpauth_status mcpauth__http_transfer_init(mcpauth__http_transfer *t,
                                           const mcpauth_http_options *opts,
                                           const mcpauth_http_request *req, const char *url,
                                           mcpauth_error *err);

/* Turns a finished transfer (code is what libcurl returned for it) into
 * either *resp (MCPAUTH_OK, any HTTP status; the caller frees it with
 * mcpauth_http_response_free) or an error in err with *resp untouched. The
 * body and headers move into *resp; t still needs cleanup. */
mcpauth_status mcpauth__http_transfer_finish(mcpauth__http_transfer *t, CURLcode code,
                                             mcpauth_http_response *resp, mcpauth_error *err);

/* Frees the easy handle (remove it from any multi handle first) and
 * everything t still owns, wiping the request headers and body. */
void mcpauth__http_transfer_cleanup(mcpauth__http_transfer *t);

#endif
