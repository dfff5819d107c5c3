/* The authorization request URL, the loopback redirect listener, and the
 * grant that joins them to the token endpoint. The listener is the HTTP
 * server of src/http/server.c on a loop of its own, so the command-line
 * tool can block on it like on any other request. */
#include "mcpauth/authorization.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "mcpauth/base64url.h"
#include "mcpauth/cimd.h"
#include "mcpauth/form.h"
#include "mcpauth/http_server.h"
#include "mcpauth/json.h"
#include "mcpauth/pkce.h"
#include "mcpauth/secret.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"

#define STATE_OCTETS 32
/* After the verdict, how long the browser's page may take to go out. */
#define LINGER_MS      2000
#define LINGER_POLL_MS 10

mcpauth_status mcpauth_authorization_new_state(char state[MCPAUTH_STATE_LENGTH + 1],
                                               mcpauth_error *err)
{
    uint8_t octets[STATE_OCTETS];
    memset(state, 0, MCPAUTH_STATE_LENGTH + 1);
    if (gnutls_rnd(GNUTLS_RND_RANDOM, octets, sizeof octets) != 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot get random bytes for state");
    char *encoded = mcpauth_base64url_encode(octets, sizeof octets);
    explicit_bzero(octets, sizeof octets);
    if (!encoded)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    memcpy(state, encoded, MCPAUTH_STATE_LENGTH);
    mcpauth_secret_free(encoded);
    return MCPAUTH_OK;
}

char *mcpauth_authorization_url(const mcpauth_authorization_request *req, mcpauth_error *err)
{
    mcpauth_url parsed;
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_url_quote(req->authorization_endpoint, quoted, sizeof quoted);
    if (mcpauth_url_parse(req->authorization_endpoint, &parsed, err) != MCPAUTH_OK) {
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "the authorization_endpoint %s is not a URL",
                          quoted);
        return NULL;
    }
    bool fragment = parsed.fragment != NULL;
    bool query = parsed.query != NULL;
    mcpauth_url_free(&parsed);
    if (fragment) {
        mcpauth_error_set(err, MCPAUTH_EREMOTE,
                          "the authorization_endpoint %s has a fragment (RFC 6749 §3.1)", quoted);
        return NULL;
    }
    mcpauth_strbuf params = MCPAUTH_STRBUF_INIT;
    mcpauth_form_add(&params, "response_type", "code");
    mcpauth_form_add(&params, "client_id", req->client_id);
    mcpauth_form_add(&params, "redirect_uri", req->redirect_uri);
    if (req->scope && *req->scope)
        mcpauth_form_add(&params, "scope", req->scope);
    mcpauth_form_add(&params, "state", req->state);
    mcpauth_form_add(&params, "code_challenge", req->code_challenge);
    mcpauth_form_add(&params, "code_challenge_method", "S256");
    for (size_t i = 0; i < req->resource_count; i++)
        mcpauth_form_add(&params, "resource", req->resources[i]);

    /* RFC 6749 §3.1: the endpoint's own query is kept; ours is added to it. */
    const char *endpoint = req->authorization_endpoint;
    size_t length = strlen(endpoint);
    char last = length ? endpoint[length - 1] : '\0';
    const char *joint = !query ? "?" : (last == '?' || last == '&') ? "" : "&";
    mcpauth_strbuf url = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&url, endpoint);
    mcpauth_strbuf_appends(&url, joint);
    if (params.data)
        mcpauth_strbuf_appends(&url, params.data);
    bool failed = mcpauth_strbuf_failed(&params);
    mcpauth_strbuf_free(&params);
    char *result = failed ? NULL : mcpauth_strbuf_detach(&url);
    mcpauth_strbuf_free(&url);
    if (!result)
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return result;
}

/* ---- the authorization response ---- */

typedef struct response_params {
    char *code, *state, *iss, *error, *error_description;
    const char *repeated; /* the first parameter seen twice */
} response_params;

static void response_params_free(response_params *p)
{
    mcpauth_secret_free(p->code);
    mcpauth_secret_free(p->state);
    free(p->iss);
    free(p->error);
    free(p->error_description);
}

/* The slot for a parameter name we read, NULL for one we ignore (RFC 6749
 * §4.1.2: unrecognised response parameters are ignored). */
static char **param_slot(response_params *p, const char *name, size_t length)
{
    static const struct {
        const char *name;
        size_t offset;
    } known[] = {
        {"code", offsetof(response_params, code)},
        {"state", offsetof(response_params, state)},
        {"iss", offsetof(response_params, iss)},
        {"error", offsetof(response_params, error)},
        {"error_description", offsetof(response_params, error_description)},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strlen(known[i].name) == length && memcmp(known[i].name, name, length) == 0)
            return (char **)((char *)p + known[i].offset);
    }
    return NULL;
}

static const char *param_name(response_params *p, char **slot)
{
    static const char *const names[] = {"code", "state", "iss", "error", "error_description"};
    char **slots[] = {&p->code, &p->state, &p->iss, &p->error, &p->error_description};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if (slots[i] == slot)
            return names[i];
    }
    return "?";
}

/* Splits query into p; false on a broken escape or allocation failure. */
static bool parse_query(const char *query, response_params *p)
{
    const char *item = query;
    while (*item) {
        size_t length = strcspn(item, "&");
        const char *eq = memchr(item, '=', length);
        size_t name_length = eq ? (size_t)(eq - item) : length;
        char **slot = param_slot(p, item, name_length);
        if (slot) {
            const char *value = eq ? eq + 1 : item + length;
            char *decoded = mcpauth_form_decode(value, (size_t)(item + length - value));
            if (!decoded)
                return false;
            /* RFC 6749 §3.1: parameters must not appear more than once. */
            if (*slot) {
                if (!p->repeated)
                    p->repeated = param_name(p, slot);
                mcpauth_secret_free(decoded);
            } else {
                *slot = decoded;
            }
        }
        item += length;
        if (*item == '&')
            item++;
    }
    return true;
}

static mcpauth_status error_answer(const response_params *p, mcpauth_error *err)
{
    char error[MCPAUTH_URL_QUOTE_SIZE], description[MCPAUTH_URL_QUOTE_SIZE + 200];
    mcpauth_url_quote(p->error, error, sizeof error);
    if (p->error_description)
        mcpauth_url_quote(p->error_description, description, sizeof description);
    bool denied = strcmp(p->error, "access_denied") == 0;
    return mcpauth_error_set(err, denied ? MCPAUTH_ENEGATIVE : MCPAUTH_EREMOTE,
                             "the authorization server answered the authorization request with "
                             "error %s%s%s%s",
                             error, p->error_description ? ": " : "",
                             p->error_description ? description : "",
                             denied ? " (the user or the server declined)" : "");
}

/* RFC 9207 §2.4 */
static mcpauth_status check_issuer(const response_params *p,
                                   const mcpauth_authorization_expect *expect, mcpauth_error *err)
{
    char got[MCPAUTH_URL_QUOTE_SIZE], want[MCPAUTH_URL_QUOTE_SIZE];
    if (!p->iss) {
        if (!expect->require_iss)
            return MCPAUTH_OK;
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the authorization response has no iss, but the authorization "
                                 "server says it sends one (RFC 9207 §2.4): rejected");
    }
    if (expect->issuer && strcmp(p->iss, expect->issuer) == 0)
        return MCPAUTH_OK;
    mcpauth_url_quote(p->iss, got, sizeof got);
    mcpauth_url_quote(expect->issuer ? expect->issuer : "", want, sizeof want);
    return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                             "the authorization response comes from issuer %s, not %s "
                             "(RFC 9207: a mix-up attack?): rejected",
                             got, want);
}

static mcpauth_status judge(response_params *p, const mcpauth_authorization_expect *expect,
                            char **code, mcpauth_error *err)
{
    if (!p->code && !p->error && !p->state)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "not an authorization response");
    if (p->repeated)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the authorization response repeats %s (RFC 6749 §3.1): "
                                 "rejected",
                                 p->repeated);
    /* RFC 6749 §10.12: the state ties the response to our request; an error
     * response must match it too, or anyone could end the flow. */
    if (!p->state)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the authorization response has no state: rejected");
    if (!mcpauth_secret_equal(p->state, expect->state))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the authorization response's state does not match the request "
                                 "(a forged or stale redirect?): rejected");
    if (check_issuer(p, expect, err) != MCPAUTH_OK)
        return MCPAUTH_EREMOTE;
    if (p->error)
        return error_answer(p, err);
    if (!p->code || !*p->code)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the authorization response has neither code nor error");
    *code = p->code;
    p->code = NULL;
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_authorization_response_check(const char *query,
                                                    const mcpauth_authorization_expect *expect,
                                                    char **code, mcpauth_error *err)
{
    *code = NULL;
    response_params p = {0};
    mcpauth_status st;
    if (!query)
        st = mcpauth_error_set(err, MCPAUTH_EUSAGE, "not an authorization response");
    else if (!parse_query(query, &p))
        st = mcpauth_error_set(err, MCPAUTH_EREMOTE,
                               "the authorization response is not properly form-encoded");
    else
        st = judge(&p, expect, code, err);
    response_params_free(&p);
    return st;
}

/* ---- the loopback listener ---- */

#define MAX_ADDRESSES 2

struct mcpauth_redirect_listener {
    uv_loop_t loop;
    mcpauth_http_server *servers[MAX_ADDRESSES];
    uv_timer_t timeout;
    uv_timer_t linger;
    bool handles_closed;
    char *redirect_uri;
    char *path; /* the redirect URI's path, "/" when it has none */
    FILE *log;
    /* While waiting: */
    const mcpauth_authorization_expect *expect;
    uint64_t timeout_ms;
    bool decided;
    uint64_t linger_deadline;
    mcpauth_status status;
    char *code;
    mcpauth_error err;
};

static const char page_done[] = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                                "<title>mcpauth</title></head><body>"
                                "<h1>Authorization complete</h1>"
                                "<p>mcpauth received the authorization. You can close this window."
                                "</p></body></html>\n";
static const char page_denied[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>mcpauth</title></head><body>"
    "<h1>Authorization denied</h1>"
    "<p>No token was issued. You can close this window.</p>"
    "</body></html>\n";
static const char page_failed[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>mcpauth</title></head><body>"
    "<h1>Authorization failed</h1>"
    "<p>mcpauth rejected this response; the terminal says why. "
    "You can close this window.</p></body></html>\n";
static const char page_not_response[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>mcpauth</title></head><body><h1>Waiting for the authorization</h1>"
    "<p>This request carries no authorization response; mcpauth is still waiting.</p>"
    "</body></html>\n";

static void respond_html(mcpauth_http_exchange *ex, int status, const char *page)
{
    /* The page's URL holds the code: no referrer, no cache, nothing loaded. */
    static const mcpauth_http_field fields[] = {
        {"Content-Type", "text/html; charset=utf-8"},
        {"Cache-Control", "no-store"},
        {"Referrer-Policy", "no-referrer"},
        {"Content-Security-Policy", "default-src 'none'"},
        {"X-Content-Type-Options", "nosniff"},
    };
    mcpauth_http_respond(ex, status, fields, sizeof fields / sizeof fields[0], page, strlen(page));
}

static void respond_text(mcpauth_http_exchange *ex, int status, const char *text)
{
    static const mcpauth_http_field fields[] = {
        {"Content-Type", "text/plain; charset=utf-8"},
        {"Cache-Control", "no-store"},
        {"Allow", "GET"},
    };
    mcpauth_http_respond(ex, status, fields, status == 405 ? 3 : 2, text, strlen(text));
}

static void close_handles(mcpauth_redirect_listener *l)
{
    if (l->handles_closed)
        return;
    l->handles_closed = true;
    for (size_t i = 0; i < MAX_ADDRESSES; i++) {
        if (l->servers[i])
            mcpauth_http_server_close(l->servers[i], NULL, NULL);
        l->servers[i] = NULL;
    }
    uv_close((uv_handle_t *)&l->timeout, NULL);
    uv_close((uv_handle_t *)&l->linger, NULL);
}

/* Closes the servers once the browser has its page (or LINGER_MS passed). */
static void on_linger(uv_timer_t *timer)
{
    mcpauth_redirect_listener *l = timer->data;
    size_t open = 0;
    for (size_t i = 0; i < MAX_ADDRESSES; i++)
        open += l->servers[i] ? mcpauth_http_server_connection_count(l->servers[i]) : 0;
    if (open == 0 || uv_now(&l->loop) >= l->linger_deadline)
        close_handles(l);
}

static void decide(mcpauth_redirect_listener *l, mcpauth_status status)
{
    l->decided = true;
    l->status = status;
    uv_timer_stop(&l->timeout);
    for (size_t i = 0; i < MAX_ADDRESSES; i++) {
        if (l->servers[i])
            mcpauth_http_server_drain(l->servers[i]);
    }
    l->linger_deadline = uv_now(&l->loop) + LINGER_MS;
    uv_timer_start(&l->linger, on_linger, 0, LINGER_POLL_MS);
}

static void on_timeout(uv_timer_t *timer)
{
    mcpauth_redirect_listener *l = timer->data;
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_error_set(&l->err, MCPAUTH_ENETWORK,
                      "no authorization response arrived at %s within %llu seconds",
                      mcpauth_url_quote(l->redirect_uri, quoted, sizeof quoted),
                      (unsigned long long)(l->timeout_ms / 1000));
    decide(l, MCPAUTH_ENETWORK);
}

static void on_request(mcpauth_http_exchange *ex, void *data)
{
    mcpauth_redirect_listener *l = data;
    const char *method = mcpauth_http_exchange_method(ex);
    const char *path = mcpauth_http_exchange_path(ex);
    if (l->log) {
        char quoted[MCPAUTH_URL_QUOTE_SIZE];
        fprintf(l->log, "< %s %s (redirect listener)\n", method,
                mcpauth_url_quote(path ? path : "", quoted, sizeof quoted));
    }
    if (l->decided || !l->expect) {
        respond_text(ex, 503, "mcpauth is not waiting for an authorization response.\n");
        return;
    }
    if (!path || strcmp(path, l->path) != 0) {
        respond_text(ex, 404, "Not found.\n");
        return;
    }
    if (strcmp(method, "GET") != 0) {
        respond_text(ex, 405, "Only GET is expected here.\n");
        return;
    }
    char *code = NULL;
    mcpauth_error err = {0};
    mcpauth_status st = mcpauth_authorization_response_check(mcpauth_http_exchange_query(ex),
                                                             l->expect, &code, &err);
    if (st == MCPAUTH_EUSAGE) {
        respond_html(ex, 400, page_not_response);
        return;
    }
    if (st == MCPAUTH_OK) {
        l->code = code;
        respond_html(ex, 200, page_done);
    } else {
        l->err = err;
        respond_html(ex, st == MCPAUTH_ENEGATIVE ? 200 : 400,
                     st == MCPAUTH_ENEGATIVE ? page_denied : page_failed);
    }
    decide(l, st);
}

/* The addresses to listen on for a loopback host. */
static size_t listen_addresses(const char *host, const char *addresses[MAX_ADDRESSES])
{
    if (strcmp(host, "localhost") == 0) {
        /* RFC 8252 §8.3 prefers IP literals, but "localhost" is common; the
         * browser may resolve it to either family. */
        addresses[0] = "127.0.0.1";
        addresses[1] = "::1";
        return 2;
    }
    addresses[0] = host;
    return 1;
}

/* Checks the redirect URI and fills l's path and uri; *host and *port out. */
static mcpauth_status parse_redirect(mcpauth_redirect_listener *l, const char *redirect_uri,
                                     mcpauth_url *url, mcpauth_error *err)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_url_quote(redirect_uri, quoted, sizeof quoted);
    if (mcpauth_url_parse(redirect_uri, url, err) != MCPAUTH_OK)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "redirect URI %s is not an http URL", quoted);
    if (strcmp(url->scheme, "http") != 0 || !mcpauth_url_is_loopback(url))
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "redirect URI %s: mcpauth can only receive the redirect on "
                                 "http:// to a loopback host (RFC 8252 §7.3)",
                                 quoted);
    if (url->fragment)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "redirect URI %s has a fragment (RFC 6749 §3.1.2)", quoted);
    l->redirect_uri = strdup(redirect_uri);
    l->path = strdup(*url->path ? url->path : "/");
    if (!l->redirect_uri || !l->path)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return MCPAUTH_OK;
}

static mcpauth_status start_servers(mcpauth_redirect_listener *l, const mcpauth_url *url,
                                    mcpauth_error *err)
{
    mcpauth_http_server_limits limits;
    mcpauth_http_server_limits_init(&limits);
    limits.max_body_bytes = 64 * 1024;
    limits.max_connections = 64;
    limits.max_pipelined = 4;
    limits.idle_timeout_ms = 10000;
    const char *addresses[MAX_ADDRESSES];
    size_t count = listen_addresses(url->host, addresses);
    for (size_t i = 0; i < count; i++) {
        int rc = mcpauth_http_server_new(&l->loop, &limits, on_request, l, &l->servers[i]);
        if (rc == 0)
            rc = mcpauth_http_server_listen(l->servers[i], addresses[i], url->port, false);
        if (rc == 0)
            continue;
        if (l->servers[i]) {
            mcpauth_http_server_close(l->servers[i], NULL, NULL);
            l->servers[i] = NULL;
        }
        /* The second address of "localhost" (::1) is a courtesy: a host
         * without IPv6 still works through 127.0.0.1. */
        if (i > 0 && rc != UV_EADDRINUSE)
            continue;
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "cannot listen on %s%s%s:%d for the redirect URI: %s",
                                 strchr(addresses[i], ':') ? "[" : "", addresses[i],
                                 strchr(addresses[i], ':') ? "]" : "", url->port, uv_strerror(rc));
    }
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_redirect_listener_open(const char *redirect_uri, FILE *log,
                                              mcpauth_redirect_listener **out, mcpauth_error *err)
{
    *out = NULL;
    mcpauth_redirect_listener *l = calloc(1, sizeof *l);
    if (!l)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    int rc = uv_loop_init(&l->loop);
    if (rc != 0) {
        free(l);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot create an event loop: %s",
                                 uv_strerror(rc));
    }
    uv_timer_init(&l->loop, &l->timeout);
    uv_timer_init(&l->loop, &l->linger);
    l->timeout.data = l->linger.data = l;
    l->log = log;
    mcpauth_url url = {0};
    mcpauth_status st = parse_redirect(l, redirect_uri, &url, err);
    if (st == MCPAUTH_OK)
        st = start_servers(l, &url, err);
    mcpauth_url_free(&url);
    if (st != MCPAUTH_OK) {
        mcpauth_redirect_listener_free(l);
        return st;
    }
    *out = l;
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_redirect_listener_wait(mcpauth_redirect_listener *l,
                                              const mcpauth_authorization_expect *expect,
                                              uint64_t timeout_ms, char **code, mcpauth_error *err)
{
    *code = NULL;
    if (l->handles_closed || l->expect)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "the redirect listener was used already");
    l->expect = expect;
    l->timeout_ms = timeout_ms;
    uv_timer_start(&l->timeout, on_timeout, timeout_ms, 0);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    l->expect = NULL;
    if (!l->decided)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "the redirect listener stopped early");
    if (l->status != MCPAUTH_OK) {
        if (err)
            *err = l->err;
        return l->status;
    }
    *code = l->code;
    l->code = NULL;
    return MCPAUTH_OK;
}

void mcpauth_redirect_listener_free(mcpauth_redirect_listener *l)
{
    if (!l)
        return;
    close_handles(l);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
    mcpauth_secret_free(l->code);
    free(l->redirect_uri);
    free(l->path);
    free(l);
}

/* ---- the whole grant ---- */

bool mcpauth_authorization_offers_s256(const mcpauth_as_metadata *md)
{
    return mcpauth_json_array_has(md->document, "code_challenge_methods_supported", "S256");
}

bool mcpauth_authorization_requires_iss(const mcpauth_as_metadata *md)
{
    return mcpauth_json_true(md->document, "authorization_response_iss_parameter_supported");
}

bool mcpauth_authorization_supports_cimd(const mcpauth_as_metadata *md)
{
    return mcpauth_json_true(md->document, "client_id_metadata_document_supported");
}

const char *mcpauth_authorization_loopback_uri(json_object *client)
{
    json_object *uris = NULL;
    if (!client || !json_object_object_get_ex(client, "redirect_uris", &uris) ||
        !json_object_is_type(uris, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(uris); i++) {
        const char *uri = json_object_get_string(json_object_array_get_idx(uris, i));
        mcpauth_url url;
        if (!uri || mcpauth_url_parse(uri, &url, NULL) != MCPAUTH_OK)
            continue;
        bool usable =
            strcmp(url.scheme, "http") == 0 && mcpauth_url_is_loopback(&url) && !url.fragment;
        mcpauth_url_free(&url);
        if (usable)
            return uri;
    }
    return NULL;
}

/* A URL refused by the transport policy after the grant started came from
 * the server's metadata: the remote side's error, not usage. */
static mcpauth_status remote(mcpauth_error *err, mcpauth_status st)
{
    if (st == MCPAUTH_EUSAGE) {
        st = MCPAUTH_EREMOTE;
        if (err)
            err->status = st;
    }
    return st;
}

/* The front channel: authorization URL, listener, show, redirect. On
 * success *code is the authorization code. */
static mcpauth_status front_channel(const mcpauth_authorization_grant *g, const char *redirect_uri,
                                    const mcpauth_pkce *pkce, char **code, mcpauth_error *err)
{
    const char *endpoint = mcpauth_json_string(g->metadata->document, "authorization_endpoint");
    if (!endpoint)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the authorization server %s advertises no "
                                 "authorization_endpoint (RFC 8414 §2)",
                                 g->metadata->issuer);
    mcpauth_status st = mcpauth_http_check_url(g->http, endpoint, err);
    if (st != MCPAUTH_OK)
        return remote(err, st);
    char state[MCPAUTH_STATE_LENGTH + 1];
    if ((st = mcpauth_authorization_new_state(state, err)) != MCPAUTH_OK)
        return st;
    mcpauth_authorization_request req = {
        .authorization_endpoint = endpoint,
        .client_id = g->client->client_id,
        .redirect_uri = redirect_uri,
        .scope = g->scope,
        .state = state,
        .code_challenge = pkce->challenge,
        .resources = g->resources,
        .resource_count = g->resource_count,
    };
    char *url = mcpauth_authorization_url(&req, err);
    mcpauth_redirect_listener *listener = NULL;
    if (!url)
        st = remote(err, err ? err->status : MCPAUTH_EREMOTE);
    else
        st = mcpauth_redirect_listener_open(redirect_uri, g->http->verbose, &listener, err);
    if (st == MCPAUTH_OK) {
        if (g->show)
            g->show(url, redirect_uri, g->show_data);
        mcpauth_authorization_expect expect = {
            .state = state,
            .issuer = g->metadata->issuer,
            .require_iss = mcpauth_authorization_requires_iss(g->metadata),
        };
        st = mcpauth_redirect_listener_wait(listener, &expect, g->timeout_ms, code, err);
    }
    mcpauth_redirect_listener_free(listener);
    explicit_bzero(state, sizeof state);
    free(url);
    return st;
}

mcpauth_status mcpauth_authorization_code_grant(const mcpauth_authorization_grant *g,
                                                mcpauth_oauth_token_response *out,
                                                mcpauth_error *err)
{
    if (!mcpauth_authorization_offers_s256(g->metadata))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the authorization server %s does not list S256 in "
                                 "code_challenge_methods_supported: refusing the authorization "
                                 "code flow without PKCE (MCP authorization, OAuth 2.1 §7.5)",
                                 g->metadata->issuer);
    if (mcpauth_oauth_cimd_is_url(g->client->client_id)) {
        if (!mcpauth_authorization_supports_cimd(g->metadata))
            return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                     "the authorization server %s does not say "
                                     "client_id_metadata_document_supported: it would not fetch "
                                     "the client metadata document %s; register a client instead "
                                     "(mcpauth register)",
                                     g->metadata->issuer, g->client->client_id);
        if (g->client->client_secret || g->client->auth != MCPAUTH_CLIENT_AUTH_NONE)
            return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                     "a client metadata document's client is public: no client "
                                     "secret, --auth-method none");
    }
    const char *redirect_uri =
        g->redirect_uri ? g->redirect_uri : mcpauth_authorization_loopback_uri(g->registered);
    if (!redirect_uri)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "no loopback redirect URI to listen on: give --redirect-uri "
                                 "http://127.0.0.1:PORT/callback (registered with the client)");
    mcpauth_pkce pkce;
    mcpauth_status st = mcpauth_pkce_generate(&pkce, err);
    if (st != MCPAUTH_OK)
        return st;
    char *code = NULL;
    st = front_channel(g, redirect_uri, &pkce, &code, err);
    if (st == MCPAUTH_OK) {
        /* RFC 8707 §2.2: the same resources again, at the token endpoint. */
        mcpauth_oauth_token_params params = {
            .grant_type = "authorization_code",
            .resources = g->resources,
            .resource_count = g->resource_count,
            .code = code,
            .redirect_uri = redirect_uri,
            .code_verifier = pkce.verifier,
        };
        st = remote(err, mcpauth_oauth_token_request(g->http, g->client, &params, out, err));
    }
    mcpauth_secret_free(code);
    mcpauth_pkce_clear(&pkce);
    return st;
}
