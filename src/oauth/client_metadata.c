#include "mcpauth/client_metadata.h"

#include <stdio.h>
#include <string.h>

#include "mcpauth/url.h"

static mcpauth_status oom(mcpauth_error *err)
{
    return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
}

static mcpauth_status set_string(json_object *doc, const char *key, const char *value,
                                 mcpauth_error *err)
{
    if (!value)
        return MCPAUTH_OK;
    json_object *s = json_object_new_string(value);
    if (!s || json_object_object_add(doc, key, s) != 0)
        return oom(err);
    return MCPAUTH_OK;
}

static mcpauth_status set_list(json_object *doc, const char *key, const mcpauth_string_list *list,
                               mcpauth_error *err)
{
    if (list->count == 0)
        return MCPAUTH_OK;
    json_object *array = json_object_new_array();
    if (!array)
        return oom(err);
    for (size_t i = 0; i < list->count; i++) {
        json_object *s = json_object_new_string(list->items[i]);
        if (!s || json_object_array_add(array, s) != 0) {
            json_object_put(s);
            json_object_put(array);
            return oom(err);
        }
    }
    if (json_object_object_add(doc, key, array) != 0)
        return oom(err);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_client_metadata_apply(json_object *doc,
                                             const mcpauth_client_metadata_input *in,
                                             mcpauth_error *err)
{
    struct {
        const char *key;
        const char *value;
    } strings[] = {
        {"client_name", in->client_name},
        {"scope", in->scope},
        {"token_endpoint_auth_method", in->token_endpoint_auth_method},
        {"application_type", in->application_type},
        {"client_uri", in->client_uri},
        {"logo_uri", in->logo_uri},
        {"tos_uri", in->tos_uri},
        {"policy_uri", in->policy_uri},
        {"jwks_uri", in->jwks_uri},
        {"software_id", in->software_id},
        {"software_version", in->software_version},
        {"software_statement", in->software_statement},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (set_string(doc, strings[i].key, strings[i].value, err) != MCPAUTH_OK)
            return MCPAUTH_ELOCAL;
    }
    /* A jwks_uri given on the command line replaces a jwks from --metadata
     * rather than colliding with it (RFC 7591 §2: never both). */
    if (in->jwks_uri)
        json_object_object_del(doc, "jwks");
    if (set_list(doc, "redirect_uris", &in->redirect_uris, err) != MCPAUTH_OK ||
        set_list(doc, "grant_types", &in->grant_types, err) != MCPAUTH_OK ||
        set_list(doc, "response_types", &in->response_types, err) != MCPAUTH_OK ||
        set_list(doc, "contacts", &in->contacts, err) != MCPAUTH_OK)
        return MCPAUTH_ELOCAL;
    return MCPAUTH_OK;
}

static bool array_contains(json_object *array, const char *value)
{
    if (!json_object_is_type(array, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(array, i));
        if (s && strcmp(s, value) == 0)
            return true;
    }
    return false;
}

mcpauth_status mcpauth_client_metadata_defaults(json_object *doc, mcpauth_error *err)
{
    static const char *grants[] = {"authorization_code", "refresh_token"};
    static const char *redirects[] = {MCPAUTH_INSPECTOR_REDIRECT_URI,
                                      MCPAUTH_INSPECTOR_REDIRECT_URI_DEBUG};
    json_object *member;
    if (!json_object_object_get_ex(doc, "client_name", &member) &&
        set_string(doc, "client_name", "mcpauth", err) != MCPAUTH_OK)
        return MCPAUTH_ELOCAL;
    if (!json_object_object_get_ex(doc, "grant_types", &member)) {
        mcpauth_string_list list = {grants, 2};
        if (set_list(doc, "grant_types", &list, err) != MCPAUTH_OK)
            return MCPAUTH_ELOCAL;
    }
    json_object_object_get_ex(doc, "grant_types", &member);
    bool redirect_flow =
        array_contains(member, "authorization_code") || array_contains(member, "implicit");
    if (array_contains(member, "authorization_code") &&
        !json_object_object_get_ex(doc, "redirect_uris", NULL)) {
        mcpauth_string_list list = {redirects, 2};
        if (set_list(doc, "redirect_uris", &list, err) != MCPAUTH_OK)
            return MCPAUTH_ELOCAL;
    }
    /* RFC 7591 §2: response_types defaults to ["code"], which a client
     * without a redirect-based grant (client_credentials only) cannot use:
     * say so explicitly, or servers demand redirect URIs. */
    if (!redirect_flow && !json_object_object_get_ex(doc, "response_types", NULL)) {
        json_object *empty = json_object_new_array();
        if (!empty || json_object_object_add(doc, "response_types", empty) != 0)
            return oom(err);
    }
    if (!json_object_object_get_ex(doc, "scope", NULL) &&
        set_string(doc, "scope", "mcp", err) != MCPAUTH_OK)
        return MCPAUTH_ELOCAL;
    if (!json_object_object_get_ex(doc, "token_endpoint_auth_method", NULL) &&
        set_string(doc, "token_endpoint_auth_method", "client_secret_basic", err) != MCPAUTH_OK)
        return MCPAUTH_ELOCAL;
    return MCPAUTH_OK;
}

/* Loopback http or a private-use scheme (RFC 8252 §7.1, §7.3): the redirect
 * URIs of an app on the user's own machine. */
static bool is_native_redirect(const char *uri)
{
    mcpauth_url url;
    if (mcpauth_url_parse(uri, &url, NULL) != MCPAUTH_OK) {
        const char *colon = strchr(uri, ':');
        return colon && memchr(uri, '.', (size_t)(colon - uri)) != NULL;
    }
    bool native = strcmp(url.scheme, "http") == 0 && mcpauth_url_is_loopback(&url);
    mcpauth_url_free(&url);
    return native;
}

mcpauth_status mcpauth_client_metadata_set_application_type(json_object *doc, mcpauth_error *err)
{
    if (json_object_object_get_ex(doc, "application_type", NULL))
        return MCPAUTH_OK;
    json_object *redirects = NULL;
    json_object_object_get_ex(doc, "redirect_uris", &redirects);
    size_t count =
        json_object_is_type(redirects, json_type_array) ? json_object_array_length(redirects) : 0;
    bool native = count > 0;
    for (size_t i = 0; i < count && native; i++) {
        const char *uri = json_object_get_string(json_object_array_get_idx(redirects, i));
        native = uri && is_native_redirect(uri);
    }
    return set_string(doc, "application_type", native ? "native" : "web", err);
}

static bool one_of(const char *value, const char *const *allowed)
{
    for (; *allowed; allowed++) {
        if (strcmp(value, *allowed) == 0)
            return true;
    }
    return false;
}

/* The member key of doc, which must be of type (named "an array", "a
 * string" in the message) when present: *member is NULL when it is absent. */
static mcpauth_status typed_member(json_object *doc, const char *key, json_type type,
                                   const char *type_name, json_object **member, mcpauth_error *err)
{
    if (!json_object_object_get_ex(doc, key, member)) {
        *member = NULL;
        return MCPAUTH_OK;
    }
    if (!json_object_is_type(*member, type))
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "client metadata: %s must be %s", key,
                                 type_name);
    return MCPAUTH_OK;
}

static mcpauth_status check_string_array(json_object *doc, const char *key, mcpauth_error *err)
{
    json_object *array;
    mcpauth_status st = typed_member(doc, key, json_type_array, "an array", &array, err);
    if (st != MCPAUTH_OK || !array)
        return st;
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        json_object *item = json_object_array_get_idx(array, i);
        if (!json_object_is_type(item, json_type_string) || json_object_get_string_len(item) == 0)
            return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                     "client metadata: %s must hold non-empty strings", key);
    }
    return MCPAUTH_OK;
}

static mcpauth_status check_uri_member(json_object *doc, const char *key, mcpauth_error *err)
{
    json_object *member;
    mcpauth_status st = typed_member(doc, key, json_type_string, "a string", &member, err);
    if (st != MCPAUTH_OK || !member)
        return st;
    mcpauth_url url;
    mcpauth_error parse_err;
    if (mcpauth_url_parse(json_object_get_string(member), &url, &parse_err) != MCPAUTH_OK)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "client metadata: %s: %s", key,
                                 parse_err.message);
    bool has_fragment = url.fragment != NULL;
    mcpauth_url_free(&url);
    if (has_fragment)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "client metadata: %s must not contain a fragment", key);
    return MCPAUTH_OK;
}

static mcpauth_status check_enum(json_object *doc, const char *key, const char *const *allowed,
                                 bool extensible, mcpauth_error *err)
{
    json_object *member;
    mcpauth_status st = typed_member(doc, key, json_type_string, "a string", &member, err);
    if (st != MCPAUTH_OK || !member)
        return st;
    const char *value = json_object_get_string(member);
    /* Extension values (RFC 7591 §2: absolute URIs or registered names) pass
     * when the member is extensible and the value looks like a URI. */
    if (one_of(value, allowed) || (extensible && strchr(value, ':')))
        return MCPAUTH_OK;
    mcpauth_error_set(err, MCPAUTH_EUSAGE, "client metadata: %s \"%.200s\" is not one of:", key,
                      value);
    for (; err && *allowed; allowed++) {
        size_t used = strlen(err->message);
        snprintf(err->message + used, sizeof err->message - used, " %s", *allowed);
    }
    return MCPAUTH_EUSAGE;
}

mcpauth_status mcpauth_client_metadata_validate(json_object *doc, mcpauth_error *err)
{
    static const char *const auth_methods[] = {"none",
                                               "client_secret_basic",
                                               "client_secret_post",
                                               "private_key_jwt",
                                               "client_secret_jwt",
                                               "tls_client_auth",
                                               "self_signed_tls_client_auth",
                                               NULL};
    static const char *const app_types[] = {"native", "web", NULL};
    static const char *const string_members[] = {
        "client_name", "scope", "software_id", "software_version", "software_statement", NULL};
    static const char *const uri_members[] = {"client_uri", "logo_uri", "tos_uri",
                                              "policy_uri", "jwks_uri", NULL};
    static const char *const arrays[] = {"redirect_uris", "grant_types", "response_types",
                                         "contacts", NULL};

    if (!json_object_is_type(doc, json_type_object))
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "client metadata must be a JSON object");
    for (const char *const *key = arrays; *key; key++) {
        if (check_string_array(doc, *key, err) != MCPAUTH_OK)
            return MCPAUTH_EUSAGE;
    }
    for (const char *const *key = string_members; *key; key++) {
        json_object *member;
        if (json_object_object_get_ex(doc, *key, &member) &&
            !json_object_is_type(member, json_type_string))
            return mcpauth_error_set(err, MCPAUTH_EUSAGE, "client metadata: %s must be a string",
                                     *key);
    }
    for (const char *const *key = uri_members; *key; key++) {
        if (check_uri_member(doc, *key, err) != MCPAUTH_OK)
            return MCPAUTH_EUSAGE;
    }
    if (check_enum(doc, "token_endpoint_auth_method", auth_methods, true, err) != MCPAUTH_OK ||
        check_enum(doc, "application_type", app_types, false, err) != MCPAUTH_OK)
        return MCPAUTH_EUSAGE;

    json_object *redirects;
    if (json_object_object_get_ex(doc, "redirect_uris", &redirects)) {
        for (size_t i = 0; i < json_object_array_length(redirects); i++) {
            mcpauth_error uri_err;
            const char *uri = json_object_get_string(json_object_array_get_idx(redirects, i));
            if (mcpauth_url_check_redirect_uri(uri, &uri_err) != MCPAUTH_OK)
                return mcpauth_error_set(err, MCPAUTH_EUSAGE, "client metadata: redirect_uris: %s",
                                         uri_err.message);
        }
    }
    json_object *jwks;
    if (json_object_object_get_ex(doc, "jwks", &jwks)) {
        if (json_object_object_get_ex(doc, "jwks_uri", NULL))
            return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                     "client metadata: jwks and jwks_uri must not both be given "
                                     "(RFC 7591 §2)");
        if (!json_object_is_type(jwks, json_type_object))
            return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                     "client metadata: jwks must be a JSON object");
    }
    return MCPAUTH_OK;
}

void mcpauth_client_metadata_strip_server_fields(json_object *doc)
{
    static const char *const fields[] = {"registration_access_token", "registration_client_uri",
                                         "client_secret_expires_at", "client_id_issued_at"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        json_object_object_del(doc, fields[i]);
}
