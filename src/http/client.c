#include "mcpauth/http_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcpauth/form.h"
#include "mcpauth/secret.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"
#include "mcpauth_config.h"

#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_HEADER_BYTES (64 * 1024)

/* What libcurl's callbacks fill while one request runs. */
typedef struct http_transfer {
    mcpauth_strbuf body;
    size_t max_body;
    bool body_too_large;
    mcpauth_http_header *headers;
    size_t header_count;
    size_t header_bytes;
    bool headers_too_large;
} http_transfer;

static void free_headers(mcpauth_http_header *headers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(headers[i].name);
        free(headers[i].value);
    }
    free(headers);
}

static size_t on_body(char *data, size_t size, size_t count, void *userdata)
{
    http_transfer *t = userdata;
    size_t length = size * count;
    if (t->body.length + length > t->max_body) {
        t->body_too_large = true;
        return 0; /* makes libcurl abort with CURLE_WRITE_ERROR */
    }
    mcpauth_strbuf_append(&t->body, data, length);
    return mcpauth_strbuf_failed(&t->body) ? 0 : length;
}

static size_t on_header(char *data, size_t size, size_t count, void *userdata)
{
    http_transfer *t = userdata;
    size_t length = size * count;
    t->header_bytes += length;
    if (t->header_bytes > HTTP_MAX_HEADER_BYTES || t->header_count >= HTTP_MAX_HEADERS) {
        t->headers_too_large = true;
        return 0;
    }
    /* A new status line starts a new header block (after 1xx responses or
     * when curl reports an intermediate response): keep only the last one. */
    if (length >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        free_headers(t->headers, t->header_count);
        t->headers = NULL;
        t->header_count = 0;
        return length;
    }
    const char *colon = memchr(data, ':', length);
    if (!colon)
        return length;
    const char *value = colon + 1, *end = data + length;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && strchr(" \t\r\n", end[-1]))
        end--;
    mcpauth_http_header *grown =
        realloc(t->headers, (t->header_count + 1) * sizeof *t->headers);
    if (!grown)
        return 0;
    t->headers = grown;
    mcpauth_http_header *h = &t->headers[t->header_count];
    h->name = strndup(data, (size_t)(colon - data));
    h->value = strndup(value, (size_t)(end - value));
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        return 0;
    }
    t->header_count++;
    return length;
}

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

static mcpauth_status map_curl_error(CURLcode code, const http_transfer *t, const char *url,
                                     const char *detail, long timeout, mcpauth_error *err)
{
    if (t->body_too_large)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "response from %s is larger than the %zu-byte limit", url,
                                 t->max_body);
    if (t->headers_too_large)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "response headers from %s are too large",
                                 url);
    const char *reason = detail[0] ? detail : curl_easy_strerror(code);
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return mcpauth_error_set(err, MCPAUTH_ENETWORK, "request to %s timed out after %ld s",
                                 url, timeout);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_BAD_CONTENT_ENCODING:
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "malformed HTTP response from %s: %s", url,
                                 reason);
    case CURLE_OUT_OF_MEMORY:
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    case CURLE_SSL_CACERT_BADFILE:
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot load CA certificates: %s", reason);
    default:
        /* Connection refused, DNS, reset, TLS handshake and certificate
         * failures, empty replies: all mean no usable answer arrived. */
        return mcpauth_error_set(err, MCPAUTH_ENETWORK, "cannot reach %s: %s", url, reason);
    }
}

static void log_request(const mcpauth_http_options *opts, const mcpauth_http_request *req,
                        const char *url, bool has_auth)
{
    if (!opts->verbose)
        return;
    fprintf(opts->verbose, "> %s %s\n", req->method, url);
    if (has_auth)
        fprintf(opts->verbose, "> Authorization: [redacted]\n");
    if (req->content_type && req->body)
        fprintf(opts->verbose, "> Content-Type: %s (%zu bytes)\n", req->content_type,
                req->body_length);
}

static void log_response(const mcpauth_http_options *opts, long status, size_t length)
{
    if (opts->verbose)
        fprintf(opts->verbose, "< HTTP %ld %s (%zu bytes)\n", status,
                mcpauth_http_status_text(status), length);
}

/* Builds the header list; *auth_value receives the Authorization value to be
 * wiped after the request. NULL on allocation failure. */
static struct curl_slist *build_headers(const mcpauth_http_request *req, char **auth_value)
{
    struct curl_slist *list = NULL, *next;
    char line[512];
    snprintf(line, sizeof line, "Accept: %s", req->accept ? req->accept : "application/json");
    if (!(next = curl_slist_append(list, line)))
        goto fail;
    list = next;
    if (req->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
        if (!(next = curl_slist_append(list, line)))
            goto fail;
        list = next;
    }
    /* No "Expect: 100-continue" round trip for our small bodies. */
    if (!(next = curl_slist_append(list, "Expect:")))
        goto fail;
    list = next;

    *auth_value = NULL;
    if (req->bearer_token) {
        mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
        mcpauth_strbuf_appendf(&sb, "Authorization: Bearer %s", req->bearer_token);
        *auth_value = mcpauth_strbuf_detach(&sb);
    } else if (req->basic_user && req->basic_password) {
        char *basic = mcpauth_form_basic_credentials(req->basic_user, req->basic_password);
        if (basic) {
            mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
            mcpauth_strbuf_appendf(&sb, "Authorization: %s", basic);
            *auth_value = mcpauth_strbuf_detach(&sb);
            mcpauth_secret_free(basic);
        }
    } else {
        return list;
    }
    if (!*auth_value || !(next = curl_slist_append(list, *auth_value)))
        goto fail;
    return next;
fail:
    curl_slist_free_all(list);
    return NULL;
}

/* One request/response exchange with no redirect handling. */
static mcpauth_status perform_once(const mcpauth_http_options *opts,
                                   const mcpauth_http_request *req, const char *url,
                                   mcpauth_http_response *resp, mcpauth_error *err)
{
    if (mcpauth_http_check_url(opts, url, err) != MCPAUTH_OK)
        return err ? err->status : MCPAUTH_EUSAGE;
    CURL *curl = curl_easy_init();
    char *auth_value = NULL;
    struct curl_slist *headers = curl ? build_headers(req, &auth_value) : NULL;
    if (!curl || !headers) {
        curl_easy_cleanup(curl);
        mcpauth_secret_free(auth_value);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    http_transfer t = {.body = MCPAUTH_STRBUF_INIT, .max_body = opts->max_response_bytes};
    char detail[CURL_ERROR_SIZE] = "";
    long timeout = opts->timeout_seconds > 0 ? opts->timeout_seconds : MCPAUTH_HTTP_DEFAULT_TIMEOUT;

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mcpauth/" MCPAUTH_VERSION);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opts->max_response_bytes);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, opts->insecure ? 0L : 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, opts->insecure ? 0L : 2L);
    if (opts->cacert)
        curl_easy_setopt(curl, CURLOPT_CAINFO, opts->cacert);
    if (strcmp(req->method, "GET") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_length);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
    }

    log_request(opts, req, url, auth_value != NULL);
    CURLcode code = curl_easy_perform(curl);
    mcpauth_status st = MCPAUTH_OK;
    if (code != CURLE_OK || t.body_too_large || t.headers_too_large) {
        st = map_curl_error(code, &t, url, detail, timeout, err);
        mcpauth_strbuf_free(&t.body);
        free_headers(t.headers, t.header_count);
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->body_length = t.body.length;
        resp->body = mcpauth_strbuf_detach(&t.body);
        resp->headers = t.headers;
        resp->header_count = t.header_count;
        resp->url = strdup(url);
        if (!resp->body || !resp->url) {
            mcpauth_http_response_free(resp);
            st = mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        } else {
            log_response(opts, resp->status, resp->body_length);
        }
    }
    curl_slist_free_all(headers);
    mcpauth_secret_free(auth_value);
    curl_easy_cleanup(curl);
    return st;
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
    /* Redirects are followed by hand, and only for GET, so that every hop is
     * checked against the same https/loopback policy as the first URL, and a
     * POST carrying credentials is never replayed somewhere else. */
    for (int hops = 0;; hops++) {
        mcpauth_status st = perform_once(opts, req, url, resp, err);
        if (st != MCPAUTH_OK) {
            free(url);
            return st;
        }
        const char *location = mcpauth_http_response_header(resp, "Location", 0);
        if (strcmp(req->method, "GET") != 0 || !is_redirect(resp->status) || !location)
            break;
        if (hops == MCPAUTH_HTTP_MAX_REDIRECTS) {
            mcpauth_http_response_free(resp);
            mcpauth_error_set(err, MCPAUTH_EREMOTE, "too many redirects starting at %s",
                              req->url);
            free(url);
            return MCPAUTH_EREMOTE;
        }
        char *next = mcpauth_url_resolve(url, location, err);
        mcpauth_http_response_free(resp);
        free(url);
        if (!next)
            return mcpauth_error_prefix(err, "bad redirect from %s", req->url);
        url = next;
    }
    free(url);
    return MCPAUTH_OK;
}

void mcpauth_http_response_free(mcpauth_http_response *resp)
{
    free(resp->url);
    free(resp->body);
    free_headers(resp->headers, resp->header_count);
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
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}
