/* How every development issuer endpoint answers: headers, JSON bodies,
 * RFC 6749 §5.2 errors, the consent page, and reading a form body. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devissuer_internal.h"
#include "mcpauth/json.h"
#include "mcpauth/secret.h"

void mcpauth__devissuer_add_field(mcpauth_devissuer_response *resp, const char *name,
                                  const char *value)
{
    if (!value || resp->field_count == MCPAUTH_DEVISSUER_MAX_FIELDS)
        return;
    char *copy = strdup(value);
    if (copy)
        resp->fields[resp->field_count++] = (mcpauth_devissuer_field){name, copy};
}

void mcpauth__devissuer_respond_json(mcpauth_devissuer_response *resp, int status,
                                     json_object *json)
{
    const char *text = json ? mcpauth_json_compact(json) : NULL;
    resp->body = text ? strdup(text) : NULL;
    resp->body_length = resp->body ? strlen(resp->body) : 0;
    resp->status = resp->body ? status : 500;
    mcpauth__devissuer_add_field(resp, "Content-Type", "application/json");
    /* RFC 6749 §5.1: token responses (and anything else with credentials)
     * must not be cached. */
    mcpauth__devissuer_add_field(resp, "Cache-Control", "no-store");
    json_object_put(json);
}

void mcpauth__devissuer_respond_error(mcpauth_devissuer_response *resp, int status,
                                      const char *error, const char *description)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "error", json_object_new_string(error));
    if (description)
        json_object_object_add(doc, "error_description", json_object_new_string(description));
    resp->detail = description ? description : error;
    mcpauth__devissuer_respond_json(resp, status, doc);
}

void mcpauth__devissuer_respond_html(mcpauth_devissuer_response *resp, int status, char *html)
{
    resp->status = html ? status : 500;
    resp->body = html;
    resp->body_length = html ? strlen(html) : 0;
    mcpauth__devissuer_add_field(resp, "Content-Type", "text/html; charset=utf-8");
    mcpauth__devissuer_add_field(resp, "Cache-Control", "no-store");
    /* The consent page must not be framed (clickjacking) nor run scripts. */
    mcpauth__devissuer_add_field(resp, "X-Frame-Options", "DENY");
    mcpauth__devissuer_add_field(
        resp, "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'");
}

bool mcpauth__devissuer_parse_body_form(const mcpauth_devissuer_request *req, mcpauth_form *form,
                                        mcpauth_devissuer_response *resp)
{
    const char *problem = NULL;
    if (!req->content_type ||
        strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33) != 0) {
        memset(form, 0, sizeof *form);
        mcpauth__devissuer_respond_error(resp, 400, "invalid_request",
                                         "the body must be application/x-www-form-urlencoded");
        return false;
    }
    if (req->body_length > MCPAUTH__DEVISSUER_MAX_BODY ||
        !mcpauth_form_parse(req->body, req->body_length, form, &problem)) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_request",
                                         problem ? problem : "body too large");
        return false;
    }
    return true;
}

void mcpauth_devissuer_response_free(mcpauth_devissuer_response *resp)
{
    for (size_t i = 0; i < resp->field_count; i++)
        free(resp->fields[i].value);
    mcpauth_secret_free(resp->body); /* token responses carry secrets */
    memset(resp, 0, sizeof *resp);
}
