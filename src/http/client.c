#include "mcpauth/http_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

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
