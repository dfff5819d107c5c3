#include "mcpauth/introspection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/form.h"
#include "mcpauth/json.h"
#include "mcpauth/oauth_error.h"
#include "mcpauth/strbuf.h"

typedef struct introspection_call {
    mcpauth_introspection_cb cb;
    void *data;
    char *token; /* kept to redact it from the answer's messages; wiped on free */
    size_t length;
} introspection_call;

/* An authorization server may echo the token it was asked about in an
 * error body or error_description, and our messages quote those (they end
 * in logs): every occurrence becomes "[token]". In place; the text only
 * shrinks, or grows by at most what fits in size. */
static void redact_token(char *text, size_t size, const char *token, size_t length)
{
    static const char mark[] = "[token]";
    if (length == 0)
        return;
    char *at = text;
    while ((at = strstr(at, token)) != NULL) {
        size_t pos = (size_t)(at - text), rest = strlen(at + length);
        size_t keep = sizeof mark - 1;
        if (pos + keep + 1 > size) {
            *at = '\0'; /* no room for the mark: cut the text here */
            return;
        }
        if (pos + keep + rest + 1 > size)
            rest = size - pos - keep - 1;
        memmove(at + keep, at + length, rest);
        memcpy(at, mark, keep);
        at[keep + rest] = '\0';
        at += keep;
    }
}

static void call_free(introspection_call *call)
{
    if (call->token) {
        explicit_bzero(call->token, call->length);
        free(call->token);
    }
    free(call);
}

/* The request both variants send (RFC 7662 §2.1; Basic credentials form-
 * encoded first, RFC 6749 §2.3.1): the form body goes into
 * *body, which the caller wipes with mcpauth_strbuf_free() once the request
 * has been sent; req borrows it and cfg. */
static mcpauth_status build_request(const mcpauth_introspection_config *cfg, const char *token,
                                    size_t length, mcpauth_strbuf *body, mcpauth_http_request *req,
                                    mcpauth_error *err)
{
    char *token_copy = strndup(token, length);
    if (token_copy) {
        mcpauth_form_add(body, "token", token_copy);
        mcpauth_form_add(body, "token_type_hint", "access_token");
        if (cfg->auth == MCPAUTH_CLIENT_AUTH_POST) {
            mcpauth_form_add(body, "client_id", cfg->client_id);
            mcpauth_form_add(body, "client_secret", cfg->client_secret);
        }
        explicit_bzero(token_copy, length);
        free(token_copy);
    }
    if (!token_copy || mcpauth_strbuf_failed(body))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    bool basic = cfg->auth == MCPAUTH_CLIENT_AUTH_BASIC;
    *req = (mcpauth_http_request){
        .method = "POST",
        .url = cfg->endpoint,
        .content_type = "application/x-www-form-urlencoded",
        .body = body->data,
        .body_length = body->length,
        .basic_user = basic ? cfg->client_id : NULL,
        .basic_password = basic ? cfg->client_secret : NULL,
    };
    return MCPAUTH_OK;
}

/* Judges the endpoint's answer (RFC 7662 §2.2, §2.3). ACTIVE fills *info
 * (the caller frees it); FAILED sets err (MCPAUTH_EREMOTE) with one line.
 * *doc receives the parsed response when it is a JSON object (the caller
 * releases it), whatever the outcome. */
static mcpauth_introspection_outcome classify_response(const mcpauth_http_response *resp,
                                                       mcpauth_token_info *info, json_object **doc,
                                                       mcpauth_error *err)
{
    memset(info, 0, sizeof *info);
    *doc = NULL;
    if (resp->status != 200) {
        char description[400];
        mcpauth_oauth_error_describe(resp, description, sizeof description);
        /* RFC 7662 §2.3: 401 means our own credentials were refused. */
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "introspection endpoint answered %s%s", description,
                          resp->status == 401 ? " (check the resource server's client credentials)"
                                              : "");
        return MCPAUTH_INTROSPECTION_FAILED;
    }
    *doc = mcpauth_json_parse_object(resp->body, resp->body_length, "introspection response", err);
    if (!*doc || mcpauth_token_info_from_json(*doc, info, err) != MCPAUTH_OK)
        return MCPAUTH_INTROSPECTION_FAILED;
    return info->active ? MCPAUTH_INTROSPECTION_ACTIVE : MCPAUTH_INTROSPECTION_INACTIVE;
}

static void on_response(mcpauth_status status, const mcpauth_http_response *resp,
                        const mcpauth_error *err, void *data)
{
    introspection_call *call = data;
    mcpauth_introspection_cb cb = call->cb;
    void *cb_data = call->data;

    if (status != MCPAUTH_OK) {
        char reason[512];
        snprintf(reason, sizeof reason, "introspection failed: %s", err->message);
        redact_token(reason, sizeof reason, call->token, call->length);
        call_free(call);
        cb(MCPAUTH_INTROSPECTION_FAILED, NULL, reason, cb_data);
        return;
    }
    mcpauth_error judged = {0};
    mcpauth_token_info info;
    json_object *doc = NULL;
    mcpauth_introspection_outcome outcome = classify_response(resp, &info, &doc, &judged);
    redact_token(judged.message, sizeof judged.message, call->token, call->length);
    call_free(call);
    switch (outcome) {
    case MCPAUTH_INTROSPECTION_ACTIVE:
        cb(MCPAUTH_INTROSPECTION_ACTIVE, &info, NULL, cb_data);
        break;
    case MCPAUTH_INTROSPECTION_INACTIVE:
        cb(MCPAUTH_INTROSPECTION_INACTIVE, NULL, "token is not active (introspection)", cb_data);
        break;
    case MCPAUTH_INTROSPECTION_FAILED:
        cb(MCPAUTH_INTROSPECTION_FAILED, NULL, judged.message, cb_data);
        break;
    }
    mcpauth_token_info_free(&info);
    json_object_put(doc);
}

mcpauth_status mcpauth_introspect(mcpauth_http_async *http, const mcpauth_introspection_config *cfg,
                                  const char *token, size_t length, mcpauth_introspection_cb cb,
                                  void *data, mcpauth_error *err)
{
    mcpauth_strbuf body = MCPAUTH_STRBUF_INIT;
    mcpauth_http_request req;
    mcpauth_status st = build_request(cfg, token, length, &body, &req, err);
    introspection_call *call = st == MCPAUTH_OK ? calloc(1, sizeof *call) : NULL;
    if (call && !(call->token = strndup(token, length))) {
        free(call);
        call = NULL;
    }
    if (st == MCPAUTH_OK && !call)
        st = mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    if (st == MCPAUTH_OK) {
        call->length = strlen(call->token);
        call->cb = cb;
        call->data = data;
        st = mcpauth_http_async_start(http, &req, on_response, call, err);
        if (st != MCPAUTH_OK)
            call_free(call);
    }
    mcpauth_strbuf_free(&body); /* wipes the token */
    return st;
}

mcpauth_status mcpauth_introspect_sync(const mcpauth_http_options *opts,
                                       const mcpauth_introspection_config *cfg, const char *token,
                                       size_t length, mcpauth_token_info *out, json_object **raw,
                                       mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    if (raw)
        *raw = NULL;
    mcpauth_strbuf body = MCPAUTH_STRBUF_INIT;
    mcpauth_http_request req;
    mcpauth_http_response resp;
    mcpauth_status st = build_request(cfg, token, length, &body, &req, err);
    if (st == MCPAUTH_OK)
        st = mcpauth_http_perform(opts, &req, &resp, err);
    mcpauth_strbuf_free(&body); /* wipes the token */
    if (st != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "introspection failed");

    json_object *doc = NULL;
    if (classify_response(&resp, out, &doc, err) == MCPAUTH_INTROSPECTION_FAILED) {
        char *copy = strndup(token, length);
        if (copy) {
            redact_token(err->message, sizeof err->message, copy, strlen(copy));
            explicit_bzero(copy, strlen(copy));
            free(copy);
        }
        st = err->status;
    }
    mcpauth_http_response_free(&resp);
    if (st == MCPAUTH_OK && raw)
        *raw = doc;
    else
        json_object_put(doc);
    return st;
}
