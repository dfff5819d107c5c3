#include "mcpauth/http_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcpauth/url.h"
#include "transfer.h"

void mcpauth_http_options_init(mcpauth_http_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->timeout_seconds = MCPAUTH_HTTP_DEFAULT_TIMEOUT;
    opts->max_response_bytes = MCPAUTH_HTTP_DEFAULT_MAX_RESPONSE;
}

mcpauth_status mcpauth_http_global_init(mcpauth_error *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot initialise libcurl");
    return MCPAUTH_OK;
}

void mcpauth_http_global_cleanup(void)
{
    curl_global_cleanup();
}

mcpauth_status mcpauth_http_check_url(const mcpauth_http_options *opts, const char *url,
                                      mcpauth_error *err)
{
    mcpauth_url parsed;
    if (mcpauth_url_parse(url, &parsed, err) != MCPAUTH_OK)
        return err ? err->status : MCPAUTH_EUSAGE;
    mcpauth_status st = MCPAUTH_OK;
    if (strcmp(parsed.scheme, "http") == 0 && !opts->allow_http &&
        !mcpauth_url_is_loopback(&parsed))
        st = mcpauth_error_set(err, MCPAUTH_EUSAGE,
                               "refusing plain http:// to non-loopback host %s: tokens and "
                               "secrets would travel unencrypted (use https, or --allow-http)",
                               parsed.host);
    mcpauth_url_free(&parsed);
    return st;
}

/* One request/response exchange with no redirect handling. */
static mcpauth_status perform_once(const mcpauth_http_options *opts,
                                   const mcpauth_http_request *req, const char *url,
                                   mcpauth_http_response *resp, mcpauth_error *err)
{
    mcpauth__http_transfer t;
    mcpauth_status st = mcpauth__http_transfer_init(&t, opts, req, url, err);
    if (st != MCPAUTH_OK)
        return st;
    st = mcpauth__http_transfer_finish(&t, curl_easy_perform(t.easy), resp, err);
    mcpauth__http_transfer_cleanup(&t);
    return st;
}

/* True when a and b have the same scheme, host and port. */
static bool same_origin(const char *a, const char *b)
{
    mcpauth_url ua, ub;
    if (mcpauth_url_parse(a, &ua, NULL) != MCPAUTH_OK)
        return false;
    bool same = false;
    if (mcpauth_url_parse(b, &ub, NULL) == MCPAUTH_OK) {
        same = strcmp(ua.scheme, ub.scheme) == 0 && strcmp(ua.host, ub.host) == 0 &&
               ua.port == ub.port;
        mcpauth_url_free(&ub);
    }
    mcpauth_url_free(&ua);
    return same;
}

static bool is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

mcpauth_status mcpauth_http_perform(const mcpauth_http_options *opts,
                                    const mcpauth_http_request *req, mcpauth_http_response *resp,
                                    mcpauth_error *err)
{
    memset(resp, 0, sizeof *resp);
    char *url = strdup(req->url);
    if (!url)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    mcpauth_http_request hop = *req;
    /* Redirects are followed by hand, and only for GET, so that every hop is
     * checked against the same https/loopback policy as the first URL, and a
     * POST carrying credentials is never replayed somewhere else. */
    for (int hops = 0;; hops++) {
        mcpauth_status st = perform_once(opts, &hop, url, resp, err);
        if (st != MCPAUTH_OK) {
            free(url);
            return st;
        }
        const char *location = mcpauth_http_response_header(resp, "Location", 0);
        if (strcmp(req->method, "GET") != 0 || !is_redirect(resp->status) || !location)
            break;
        if (hops == MCPAUTH_HTTP_MAX_REDIRECTS) {
            mcpauth_http_response_free(resp);
            mcpauth_error_set(err, MCPAUTH_EREMOTE, "too many redirects starting at %s", req->url);
            free(url);
            return MCPAUTH_EREMOTE;
        }
        char *next = mcpauth_url_resolve(url, location, err);
        mcpauth_http_response_free(resp);
        free(url);
        if (!next)
            return mcpauth_error_prefix(err, "bad redirect from %s", req->url);
        /* Credentials were meant for the first origin only: a redirect
         * elsewhere must not carry them (as curl learned in CVE-2022-27776). */
        if (!same_origin(req->url, next)) {
            hop.bearer_token = NULL;
            hop.basic_user = hop.basic_password = NULL;
        }
        url = next;
    }
    free(url);
    return MCPAUTH_OK;
}

void mcpauth_http_response_free(mcpauth_http_response *resp)
{
    free(resp->url);
    free(resp->body);
    mcpauth__http_transfer_free_headers(resp->headers, resp->header_count);
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
