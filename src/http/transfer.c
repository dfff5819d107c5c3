#include "transfer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_internal.h"
#include "mcpauth/form.h"
#include "mcpauth/secret.h"
#include "mcpauth/url.h"
#include "mcpauth_config.h"

#define HTTP_MAX_HEADERS      100
#define HTTP_MAX_HEADER_BYTES (64 * 1024)

static size_t on_body(char *data, size_t size, size_t count, void *userdata)
{
    mcpauth__http_transfer *t = userdata;
    size_t length = size * count;
    if (t->on_data)
        return t->on_data(t, data, length) ? length : 0;
    if (t->body.length + length > t->max_body) {
        t->body_too_large = true;
        return 0; /* makes libcurl abort with CURLE_WRITE_ERROR */
    }
    mcpauth_strbuf_append(&t->body, data, length);
    return mcpauth_strbuf_failed(&t->body) ? 0 : length;
}

static size_t on_header(char *data, size_t size, size_t count, void *userdata)
{
    mcpauth__http_transfer *t = userdata;
    size_t length = size * count;
    t->header_bytes += length;
    if (t->header_bytes > HTTP_MAX_HEADER_BYTES || t->header_count >= HTTP_MAX_HEADERS) {
        t->headers_too_large = true;
        return 0;
    }
    /* A new status line starts a new header block (after 1xx responses or
     * when curl reports an intermediate response): keep only the last one. */
    if (length >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        mcpauth__http_headers_free(t->headers, t->header_count);
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
    mcpauth_http_header *grown = realloc(t->headers, (t->header_count + 1) * sizeof *t->headers);
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

/* curl_slist_free_all() does not clear memory, and one line may be an
 * Authorization header. */
static void wipe_header_list(struct curl_slist *list)
{
    for (struct curl_slist *item = list; item; item = item->next)
        explicit_bzero(item->data, strlen(item->data));
    curl_slist_free_all(list);
}

static bool append_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *next = curl_slist_append(*list, line);
    if (!next)
        return false;
    *list = next;
    return true;
}

/* Appends the Authorization line for req to line, nothing when it carries
 * no credentials; false on allocation failure. */
static bool format_authorization(const mcpauth_http_request *req, mcpauth_strbuf *line)
{
    if (req->bearer_token) {
        mcpauth_strbuf_appendf(line, "Authorization: Bearer %s", req->bearer_token);
    } else if (req->basic_user && req->basic_password) {
        char *basic = mcpauth_form_basic_credentials(req->basic_user, req->basic_password);
        if (!basic)
            return false;
        mcpauth_strbuf_appendf(line, "Authorization: %s", basic);
        mcpauth_secret_free(basic);
    }
    return !mcpauth_strbuf_failed(line);
}

/* Builds the request header list into t; false on allocation failure. */
static bool build_headers(mcpauth__http_transfer *t, const mcpauth_http_request *req,
                          bool *has_auth)
{
    char line[512];
    snprintf(line, sizeof line, "Accept: %s", req->accept ? req->accept : "application/json");
    if (!append_header(&t->request_headers, line))
        return false;
    if (req->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
        if (!append_header(&t->request_headers, line))
            return false;
    }
    /* No "Expect: 100-continue" round trip for our small bodies. */
    if (!append_header(&t->request_headers, "Expect:"))
        return false;
    for (size_t i = 0; i < req->header_count; i++)
        if (!append_header(&t->request_headers, req->headers[i]))
            return false;

    /* Built in a buffer that is wiped when freed; the list keeps a copy,
     * which wipe_header_list() clears. */
    mcpauth_strbuf auth = MCPAUTH_STRBUF_INIT;
    bool ok = format_authorization(req, &auth);
    *has_auth = ok && auth.length > 0;
    if (*has_auth)
        ok = append_header(&t->request_headers, auth.data);
    mcpauth_strbuf_free(&auth);
    return ok;
}

/* public_addresses_only: libcurl asks for a socket once per address it has
 * resolved, before connecting; a refused address gets none, so the name is
 * checked as it resolved at connect time (no second lookup to race). */
static curl_socket_t open_checked_socket(void *clientp, curlsocktype purpose,
                                         struct curl_sockaddr *address)
{
    mcpauth__http_transfer *t = clientp;
    if (purpose == CURLSOCKTYPE_IPCXN && !mcpauth__http_address_allowed(&address->addr)) {
        const void *raw = address->family == AF_INET6
                              ? (const void *)&((struct sockaddr_in6 *)&address->addr)->sin6_addr
                              : (const void *)&((struct sockaddr_in *)&address->addr)->sin_addr;
        if (!inet_ntop(address->family, raw, t->refused_address, sizeof t->refused_address))
            snprintf(t->refused_address, sizeof t->refused_address, "?");
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static void set_options(mcpauth__http_transfer *t, const mcpauth_http_request *req)
{
    CURL *curl = t->easy;
    const mcpauth_http_options *opts = t->opts;
    curl_easy_setopt(curl, CURLOPT_URL, t->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    /* No SIGALRM for DNS timeouts: a signal would interrupt the caller's
     * program or event loop and is unsafe once there are threads. */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, t->timeout);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, t->timeout);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mcpauth/" MCPAUTH_VERSION);
    /* Redirects are the caller's decision: each hop must pass the policy. */
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, t->request_headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, t->detail);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opts->max_response_bytes);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, opts->insecure ? 0L : 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, opts->insecure ? 0L : 2L);
    if (opts->cacert) {
        /* --cacert replaces the system's trust store rather than adding to
         * it: Debian's libcurl also has a CA directory configured. */
        curl_easy_setopt(curl, CURLOPT_CAINFO, opts->cacert);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }
    if (opts->public_addresses_only) {
        /* A proxy's address would be checked instead of the target's. */
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, t);
    }
    if (strcmp(req->method, "GET") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_length);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
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

mcpauth_status mcpauth__http_transfer_init(mcpauth__http_transfer *t,
                                           const mcpauth_http_options *opts,
                                           const mcpauth_http_request *req, const char *url,
                                           mcpauth_error *err)
{
    memset(t, 0, sizeof *t);
    if (mcpauth_http_check_url(opts, url, err) != MCPAUTH_OK)
        return err ? err->status : MCPAUTH_EUSAGE;
    t->opts = opts;
    t->url = url;
    t->timeout = opts->timeout_seconds > 0 ? opts->timeout_seconds : MCPAUTH_HTTP_DEFAULT_TIMEOUT;
    t->body = (mcpauth_strbuf)MCPAUTH_STRBUF_INIT;
    t->max_body = opts->max_response_bytes;
    bool has_auth = false;
    t->easy = curl_easy_init();
    if (!t->easy || !build_headers(t, req, &has_auth)) {
        mcpauth__http_transfer_cleanup(t);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    set_options(t, req);
    log_request(opts, req, url, has_auth);
    return MCPAUTH_OK;
}

static mcpauth_status map_curl_error(const mcpauth__http_transfer *t, CURLcode code,
                                     mcpauth_error *err)
{
    /* CURLE_FILESIZE_EXCEEDED: a declared Content-Length over the cap. */
    if (t->body_too_large || code == CURLE_FILESIZE_EXCEEDED)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "response from %s is larger than the %zu-byte limit", t->url,
                                 t->max_body);
    if (t->headers_too_large)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "response headers from %s are too large",
                                 t->url);
    if (t->refused_address[0] && code == CURLE_COULDNT_CONNECT)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "refusing to connect to %s: %s is not a public address", t->url,
                                 t->refused_address);
    const char *reason = t->detail[0] ? t->detail : curl_easy_strerror(code);
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return mcpauth_error_set(err, MCPAUTH_ENETWORK, "request to %s timed out after %ld s",
                                 t->url, t->timeout);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_PARTIAL_FILE:
    /* Only http and https reach libcurl, so an unsupported protocol means
     * the server answered with something that is not HTTP ("HTTP/0.9"). */
    case CURLE_UNSUPPORTED_PROTOCOL:
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "malformed HTTP response from %s: %s",
                                 t->url, reason);
    case CURLE_OUT_OF_MEMORY:
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    case CURLE_SSL_CACERT_BADFILE:
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot load CA certificates: %s", reason);
    default:
        /* Connection refused, DNS, reset, TLS handshake and certificate
         * failures, empty replies: all mean no usable answer arrived. */
        return mcpauth_error_set(err, MCPAUTH_ENETWORK, "cannot reach %s: %s", t->url, reason);
    }
}

mcpauth_status mcpauth__http_transfer_finish(mcpauth__http_transfer *t, CURLcode code,
                                             mcpauth_http_response *resp, mcpauth_error *err)
{
    if (code != CURLE_OK || t->body_too_large || t->headers_too_large)
        return map_curl_error(t, code, err);
    mcpauth_http_response out = {0};
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &out.status);
    out.body_length = t->body.length;
    out.body = mcpauth_strbuf_detach(&t->body);
    out.headers = t->headers;
    out.header_count = t->header_count;
    t->headers = NULL;
    t->header_count = 0;
    out.url = strdup(t->url);
    if (!out.body || !out.url) {
        mcpauth_http_response_free(&out);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    log_response(t->opts, out.status, out.body_length);
    *resp = out;
    return MCPAUTH_OK;
}

void mcpauth__http_transfer_cleanup(mcpauth__http_transfer *t)
{
    curl_easy_cleanup(t->easy);
    wipe_header_list(t->request_headers);
    mcpauth_strbuf_free(&t->body);
    mcpauth__http_headers_free(t->headers, t->header_count);
    memset(t, 0, sizeof *t);
}
