/* Reading the claims of an RFC 7662 introspection response or of a verified
 * JWT access token (RFC 9068 §2.2) into mcpauth_token_info, and copying and
 * freeing that struct. */
#include "mcpauth/token.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Where the claims come from: both carry the same members (RFC 7662 §2.2
 * borrows them from RFC 7519 §4.1) but differ in the details below. */
typedef struct claims_source {
    const char *what; /* names the document in error messages */
    /* RFC 7519 §2: a NumericDate may be non-integer; RFC 7662 §2.2 says
     * "integer timestamp". */
    bool fractional_times;
} claims_source;

static const claims_source introspection_source = {"introspection response", false};
static const claims_source jwt_source = {"JWT claims", true};

typedef enum list_result {
    LIST_ADDED,
    LIST_DUPLICATE,
    LIST_FULL,
    LIST_NO_MEMORY,
} list_result;

/* Adds text[0..length) to a bounded list of unique strings. Duplicates are
 * dropped so that a repeated value cannot use up the bound. */
static list_result list_add(char ***items, size_t *count, size_t max, const char *text,
                            size_t length)
{
    for (size_t i = 0; i < *count; i++) {
        if (strlen((*items)[i]) == length && memcmp((*items)[i], text, length) == 0)
            return LIST_DUPLICATE;
    }
    if (*count >= max)
        return LIST_FULL;
    char **grown = realloc(*items, (*count + 1) * sizeof *grown);
    if (!grown)
        return LIST_NO_MEMORY;
    *items = grown;
    char *copy = strndup(text, length);
    if (!copy)
        return LIST_NO_MEMORY;
    grown[(*count)++] = copy;
    return LIST_ADDED;
}

static void list_free(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

static mcpauth_status no_memory(mcpauth_error *err)
{
    return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
}

static mcpauth_status add_checked(const claims_source *src, char ***items, size_t *count,
                                  size_t max, const char *text, size_t length, const char *member,
                                  mcpauth_error *err)
{
    switch (list_add(items, count, max, text, length)) {
    case LIST_ADDED:
    case LIST_DUPLICATE:
        return MCPAUTH_OK;
    case LIST_FULL:
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s has more than %zu values in \"%s\"",
                                 src->what, max, member);
    case LIST_NO_MEMORY:
        break;
    }
    return no_memory(err);
}

/* The member key of claims; NULL when absent. A JSON null counts as absent:
 * some servers write optional members that way. */
static json_object *member_of(json_object *claims, const char *key)
{
    json_object *value = NULL;
    if (!json_object_object_get_ex(claims, key, &value))
        return NULL;
    return json_object_is_type(value, json_type_null) ? NULL : value;
}

/* The text of a JSON string and its length. JSON may carry "\u0000"; a C
 * string would silently end there, so that "https://rs/mcp\u0000x" would
 * pass for "https://rs/mcp". Such strings are refused. */
static mcpauth_status string_of(const claims_source *src, json_object *value, const char *key,
                                const char **text, size_t *length, mcpauth_error *err)
{
    if (!json_object_is_type(value, json_type_string))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s member \"%s\" is not a string",
                                 src->what, key);
    *text = json_object_get_string(value);
    *length = (size_t)json_object_get_string_len(value);
    if (strlen(*text) != *length)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s member \"%s\" contains a NUL character",
                                 src->what, key);
    return MCPAUTH_OK;
}

static mcpauth_status take_string(const claims_source *src, json_object *claims, const char *key,
                                  char **out, mcpauth_error *err)
{
    json_object *value = member_of(claims, key);
    if (!value)
        return MCPAUTH_OK;
    const char *text = NULL;
    size_t length = 0;
    mcpauth_status status = string_of(src, value, key, &text, &length, err);
    if (status != MCPAUTH_OK)
        return status;
    *out = strndup(text, length);
    return *out ? MCPAUTH_OK : no_memory(err);
}

/* RFC 7662 §2.2: exp, iat and nbf are integer timestamps (seconds since the
 * epoch). A fraction, a string or a negative number is not one. exp 0 would
 * read as "no expiry" here, so it is refused rather than trusted. */
static mcpauth_status take_time(json_object *claims, const char *key, bool positive, int64_t *out,
                                mcpauth_error *err)
{
    json_object *value = member_of(claims, key);
    if (!value)
        return MCPAUTH_OK;
    if (!json_object_is_type(value, json_type_int))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, WHAT " member \"%s\" is not an integer",
                                 key);
    /* json-c keeps integers above INT64_MAX as unsigned and clamps them
     * here, which for a timestamp is as good as the real value. */
    int64_t seconds = json_object_get_int64(value);
    if (seconds < 0 || (positive && seconds == 0))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, WHAT " member \"%s\" is not a %s timestamp",
                                 key, positive ? "positive" : "non-negative");
    *out = seconds;
    return MCPAUTH_OK;
}

/* A member that is one string or an array of strings, as "aud" (RFC 7662
 * §2.2, RFC 7519 §4.1.3) and "resource" (RFC 8707) are; empty strings name
 * nothing and are skipped. */
static mcpauth_status take_string_or_array(json_object *claims, const char *key, char ***items,
                                           size_t *count, size_t max, mcpauth_error *err)
{
    json_object *value = member_of(claims, key);
    if (!value)
        return MCPAUTH_OK;
    bool is_array = json_object_is_type(value, json_type_array);
    if (!is_array && !json_object_is_type(value, json_type_string))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 WHAT " member \"%s\" is neither a string nor an array", key);
    size_t n = is_array ? json_object_array_length(value) : 1;
    for (size_t i = 0; i < n; i++) {
        json_object *item = is_array ? json_object_array_get_idx(value, i) : value;
        const char *text = NULL;
        size_t length = 0;
        mcpauth_status status = string_of(item, key, &text, &length, err);
        if (status == MCPAUTH_OK && length > 0)
            status = add_checked(items, count, max, text, length, key, err);
        if (status != MCPAUTH_OK)
            return status;
    }
    return MCPAUTH_OK;
}

/* RFC 7662 §2.2 "scope": space-separated scope tokens (RFC 6749 §3.3). Runs
 * of spaces are tolerated; servers are not always tidy. */
static mcpauth_status take_scope_string(json_object *value, mcpauth_token_info *out,
                                        mcpauth_error *err)
{
    const char *p = NULL;
    size_t length = 0;
    mcpauth_status status = string_of(value, "scope", &p, &length, err);
    if (status != MCPAUTH_OK)
        return status;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        if (p == start)
            break;
        status = add_checked(&out->scopes, &out->scope_count, MCPAUTH_TOKEN_MAX_SCOPES, start,
                             (size_t)(p - start), "scope", err);
        if (status != MCPAUTH_OK)
            return status;
    }
    return MCPAUTH_OK;
}

/* "scope" is the RFC 7662 / RFC 9068 claim; "scp" (an array) is what some
 * servers send instead. When both are present "scope" wins: merging them
 * could grant more than either says. */
static mcpauth_status take_scopes(json_object *claims, mcpauth_token_info *out, mcpauth_error *err)
{
    json_object *scope = member_of(claims, "scope");
    if (scope)
        return take_scope_string(scope, out, err);
    json_object *scp = member_of(claims, "scp");
    if (!scp)
        return MCPAUTH_OK;
    if (!json_object_is_type(scp, json_type_array))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, WHAT " member \"scp\" is not an array");
    return take_string_or_array(claims, "scp", &out->scopes, &out->scope_count,
                                MCPAUTH_TOKEN_MAX_SCOPES, err);
}

/* Members of the wrong type are errors, not "absent": a server that sends
 * "aud": 5 is broken, and guessing could let a token through. */
static mcpauth_status read_active_claims(json_object *claims, mcpauth_token_info *out,
                                         mcpauth_error *err)
{
    mcpauth_status status = take_string(claims, "sub", &out->subject, err);
    if (status == MCPAUTH_OK)
        status = take_string(claims, "client_id", &out->client_id, err);
    if (status == MCPAUTH_OK)
        status = take_string(claims, "username", &out->username, err);
    if (status == MCPAUTH_OK)
        status = take_string(claims, "iss", &out->issuer, err);
    if (status == MCPAUTH_OK)
        status = take_scopes(claims, out, err);
    /* RFC 8707 §2: a token bound to a resource may say so in "resource"
     * rather than "aud"; both name who may accept it. */
    if (status == MCPAUTH_OK)
        status = take_string_or_array(claims, "aud", &out->audiences, &out->audience_count,
                                      MCPAUTH_TOKEN_MAX_AUDIENCES, err);
    if (status == MCPAUTH_OK)
        status = take_string_or_array(claims, "resource", &out->audiences, &out->audience_count,
                                      MCPAUTH_TOKEN_MAX_AUDIENCES, err);
    if (status == MCPAUTH_OK)
        status = take_time(claims, "exp", true, &out->expires_at, err);
    if (status == MCPAUTH_OK)
        status = take_time(claims, "iat", false, &out->issued_at, err);
    if (status == MCPAUTH_OK)
        status = take_time(claims, "nbf", false, &out->not_before, err);
    return status;
}

mcpauth_status mcpauth_token_info_from_json(json_object *claims, mcpauth_token_info *out,
                                            mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    if (!claims || !json_object_is_type(claims, json_type_object))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, WHAT " is not a JSON object");

    json_object *active = NULL;
    if (!json_object_object_get_ex(claims, "active", &active) ||
        !json_object_is_type(active, json_type_boolean))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 WHAT " has no boolean active (RFC 7662 §2.2)");
    /* RFC 7662 §2.2: for an inactive token the server need say nothing else,
     * and whatever it does say is not to be relied on. */
    if (!json_object_get_boolean(active))
        return MCPAUTH_OK;

    out->active = true;
    mcpauth_status status = read_active_claims(claims, out, err);
    if (status != MCPAUTH_OK)
        mcpauth_token_info_free(out);
    return status;
}

static bool copy_string(const char *in, char **out)
{
    if (!in)
        return true;
    *out = strdup(in);
    return *out != NULL;
}

static bool copy_list(char *const *in, size_t count, char ***out, size_t *out_count)
{
    if (count == 0)
        return true;
    *out = calloc(count, sizeof **out);
    if (!*out)
        return false;
    for (size_t i = 0; i < count; i++) {
        (*out)[i] = strdup(in[i]);
        if (!(*out)[i])
            return false;
        *out_count = i + 1;
    }
    return true;
}

bool mcpauth_token_info_copy(const mcpauth_token_info *in, mcpauth_token_info *out)
{
    memset(out, 0, sizeof *out);
    if (!in)
        return false;
    out->active = in->active;
    out->expires_at = in->expires_at;
    out->issued_at = in->issued_at;
    out->not_before = in->not_before;
    if (copy_string(in->subject, &out->subject) && copy_string(in->client_id, &out->client_id) &&
        copy_string(in->username, &out->username) && copy_string(in->issuer, &out->issuer) &&
        copy_list(in->scopes, in->scope_count, &out->scopes, &out->scope_count) &&
        copy_list(in->audiences, in->audience_count, &out->audiences, &out->audience_count))
        return true;
    mcpauth_token_info_free(out);
    return false;
}

void mcpauth_token_info_free(mcpauth_token_info *info)
{
    if (!info)
        return;
    free(info->subject);
    free(info->client_id);
    free(info->username);
    free(info->issuer);
    list_free(info->scopes, info->scope_count);
    list_free(info->audiences, info->audience_count);
    memset(info, 0, sizeof *info);
}
