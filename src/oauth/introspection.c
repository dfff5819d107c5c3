#include "mcpauth/introspection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/form.h"
#include "mcpauth/json.h"
#include "mcpauth/registration.h"
#include "mcpauth/strbuf.h"

typedef struct introspection_call {
    mcpauth_introspection_cb cb;
    void *data;
} introspection_call;

static void on_response(mcpauth_status status, const mcpauth_http_response *resp,
                        const mcpauth_error *err, void *data)
{
    introspection_call *call = data;
    mcpauth_introspection_cb cb = call->cb;
    void *cb_data = call->data;
    free(call);

    char reason[512];
    if (status != MCPAUTH_OK) {
        snprintf(reason, sizeof reason, "introspection failed: %s", err->message);
        cb(MCPAUTH_INTROSPECTION_FAILED, NULL, reason, cb_data);
        return;
    }
    if (resp->status != 200) {
        char description[400];
        mcpauth_oauth_error_describe(resp, description, sizeof description);
        /* RFC 7662 §2.3: 401 means our own credentials were refused. */
        snprintf(reason, sizeof reason, "introspection endpoint answered %s%s", description,
                 resp->status == 401 ? " (check the resource server's client credentials)" : "");
        cb(MCPAUTH_INTROSPECTION_FAILED, NULL, reason, cb_data);
        return;
    }
    mcpauth_error parse_err = {0};
    json_object *doc = mcpauth_json_parse_object(resp->body, resp->body_length,
                                                 "introspection response", &parse_err);
    mcpauth_token_info info = {0};
    if (!doc || mcpauth_token_info_from_json(doc, &info, &parse_err) != MCPAUTH_OK) {
        snprintf(reason, sizeof reason, "%s", parse_err.message);
        cb(MCPAUTH_INTROSPECTION_FAILED, NULL, reason, cb_data);
    } else if (!info.active) {
        cb(MCPAUTH_INTROSPECTION_INACTIVE, NULL, "token is not active (introspection)", cb_data);
    } else {
        cb(MCPAUTH_INTROSPECTION_ACTIVE, &info, NULL, cb_data);
    }
    mcpauth_token_info_free(&info);
    json_object_put(doc);
}

mcpauth_status mcpauth_introspect(mcpauth_http_async *http, const mcpauth_introspection_config *cfg,
                                  const char *token, size_t length, mcpauth_introspection_cb cb,
                                  void *data, mcpauth_error *err)
{
    char *token_copy = strndup(token, length);
    bool copied = token_copy != NULL;
    introspection_call *call = malloc(sizeof *call);
    mcpauth_strbuf body = MCPAUTH_STRBUF_INIT;
    if (copied) {
        mcpauth_form_add(&body, "token", token_copy);
        mcpauth_form_add(&body, "token_type_hint", "access_token");
        if (cfg->auth == MCPAUTH_CLIENT_AUTH_POST) {
            mcpauth_form_add(&body, "client_id", cfg->client_id);
            mcpauth_form_add(&body, "client_secret", cfg->client_secret);
        }
        explicit_bzero(token_copy, length);
        free(token_copy);
    }
    if (!copied || !call || mcpauth_strbuf_failed(&body)) {
        free(call);
        mcpauth_strbuf_free(&body);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    call->cb = cb;
    call->data = data;
    bool basic = cfg->auth == MCPAUTH_CLIENT_AUTH_BASIC;
    mcpauth_http_request req = {
        .method = "POST",
        .url = cfg->endpoint,
        .content_type = "application/x-www-form-urlencoded",
        .body = body.data,
        .body_length = body.length,
        .basic_user = basic ? cfg->client_id : NULL,
        .basic_password = basic ? cfg->client_secret : NULL,
    };
    mcpauth_status st = mcpauth_http_async_start(http, &req, on_response, call, err);
    mcpauth_strbuf_free(&body); /* wipes the token */
    if (st != MCPAUTH_OK)
        free(call);
    return st;
}
