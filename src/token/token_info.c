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

/* The seconds in a JSON number for a time claim. RFC 7519 §2 NumericDates
 * may carry a fraction, which is rounded towards the stricter reading: an
 * expiry down, a start (nbf, iat) up. */
static bool seconds_of(const claims_source *src, json_object *value, bool round_up,
                       int64_t *seconds)
{
    if (json_object_is_type(value, json_type_int)) {
        /* json-c keeps integers above INT64_MAX as unsigned and clamps them
         * here, which for a timestamp is as good as the real value. */
        *seconds = json_object_get_int64(value);
        return true;
    }
    if (!src->fractional_times || !json_object_is_type(value, json_type_double))
        return false;
    double d = json_object_get_double(value);
    if (!isfinite(d))
        return false;
    if (d < 0) {
        *seconds = -1; /* refused by the caller; no need to round */
        return true;
    }
    if (d >= 9.2e18) {
        *seconds = INT64_MAX;
        return true;
    }
    *seconds = (int64_t)d; /* truncation is floor for d >= 0 */
    if (round_up && (double)*seconds < d)
        (*seconds)++;
    return true;
}

/* RFC 7662 §2.2: exp, iat and nbf are integer timestamps (seconds since the
 * epoch); RFC 7519 §4.1.4-6 NumericDates in a JWT. A string or a negative
 * number is not one. exp 0 would read as "no expiry" here, so it is refused
 * rather than trusted. */
static mcpauth_status take_time(const claims_source *src, json_object *claims, const char *key,
                                bool is_expiry, int64_t *out, mcpauth_error *err)
{
    json_object *value = member_of(claims, key);
    if (!value)
        return MCPAUTH_OK;
    int64_t seconds = 0;
    if (!seconds_of(src, value, !is_expiry, &seconds))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s member \"%s\" is not %s", src->what, key,
                                 src->fractional_times ? "a number" : "an integer");
    if (seconds < 0 || (is_expiry && seconds == 0))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s member \"%s\" is not a %s timestamp",
                                 src->what, key, is_expiry ? "positive" : "non-negative");
    *out = seconds;
    return MCPAUTH_OK;
}

/* A member that is one string or an array of strings, as "aud" (RFC 7662
 * §2.2, RFC 7519 §4.1.3) and "resource" (RFC 8707) are; empty strings name
 * nothing and are skipped. */
static mcpauth_status take_string_or_array(const claims_source *src, json_object *claims,
                                           const char *key, char ***items, size_t *count,
                                           size_t max, mcpauth_error *err)
{
    json_object *value = member_of(claims, key);
    if (!value)
        return MCPAUTH_OK;
    bool is_array = json_object_is_type(value, json_type_array);
    if (!is_array && !json_object_is_type(value, json_type_string))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "%s member \"%s\" is neither a string nor an array", src->what,
                                 key);
    size_t n = is_array ? json_object_array_length(value) : 1;
    for (size_t i = 0; i < n; i++) {
        json_object *item = is_array ? json_object_array_get_idx(value, i) : value;
        const char *text = NULL;
        size_t length = 0;
        mcpauth_status status = string_of(src, item, key, &text, &length, err);
        if (status == MCPAUTH_OK && length > 0)
            status = add_checked(src, items, count, max, text, length, key, err);
        if (status != MCPAUTH_OK)
            return status;
    }
    return MCPAUTH_OK;
}

/* RFC 7662 §2.2 "scope": space-separated scope tokens (RFC 6749 §3.3). Runs
 * of spaces are tolerated; servers are not always tidy. */
static mcpauth_status take_scope_string(const claims_source *src, json_object *value,
                                        mcpauth_token_info *out, mcpauth_error *err)
{
    const char *p = NULL;
    size_t length = 0;
    mcpauth_status status = string_of(src, value, "scope", &p, &length, err);
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
        status = add_checked(src, &out->scopes, &out->scope_count, MCPAUTH_TOKEN_MAX_SCOPES, start,
                             (size_t)(p - start), "scope", err);
        if (status != MCPAUTH_OK)
            return status;
    }
    return MCPAUTH_OK;
}

/* "scope" is the RFC 7662 / RFC 9068 claim; "scp" (an array) is what some
 * servers send instead. When both are present "scope" wins: merging them
 * could grant more than either says. */
static mcpauth_status take_scopes(const claims_source *src, json_object *claims,
                                  mcpauth_token_info *out, mcpauth_error *err)
{
    json_object *scope = member_of(claims, "scope");
    if (scope)
        return take_scope_string(src, scope, out, err);
    json_object *scp = member_of(claims, "scp");
    if (!scp)
        return MCPAUTH_OK;
    if (!json_object_is_type(scp, json_type_array))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s member \"scp\" is not an array",
                                 src->what);
    return take_string_or_array(src, claims, "scp", &out->scopes, &out->scope_count,
                                MCPAUTH_TOKEN_MAX_SCOPES, err);
}

/* Members of the wrong type are errors, not "absent": a server that sends
 * "aud": 5 is broken, and guessing could let a token through. */
static mcpauth_status read_active_claims(const claims_source *src, json_object *claims,
                                         mcpauth_token_info *out, mcpauth_error *err)
{
    mcpauth_status status = take_string(src, claims, "sub", &out->subject, err);
    if (status == MCPAUTH_OK)
        status = take_string(src, claims, "client_id", &out->client_id, err);
    if (status == MCPAUTH_OK)
        status = take_string(src, claims, "username", &out->username, err);
    if (status == MCPAUTH_OK)
        status = take_string(src, claims, "iss", &out->issuer, err);
    if (status == MCPAUTH_OK)
        status = take_scopes(src, claims, out, err);
    if (status == MCPAUTH_OK)
        status = take_string_or_array(src, claims, "aud", &out->audiences, &out->audience_count,
                                      MCPAUTH_TOKEN_MAX_AUDIENCES, err);
    /* RFC 8707 §2: a token bound to a resource may say so in "resource"
     * rather than "aud"; both name who may accept it. That holds for an
     * introspection response only: in a JWT, RFC 9068 §3 and §4 put the
     * resource in "aud", and "resource" is no registered claim. */
    if (status == MCPAUTH_OK && src == &introspection_source)
        status = take_string_or_array(src, claims, "resource", &out->audiences,
                                      &out->audience_count, MCPAUTH_TOKEN_MAX_AUDIENCES, err);
    if (status == MCPAUTH_OK)
        status = take_time(src, claims, "exp", true, &out->expires_at, err);
    if (status == MCPAUTH_OK)
        status = take_time(src, claims, "iat", false, &out->issued_at, err);
    if (status == MCPAUTH_OK)
        status = take_time(src, claims, "nbf", false, &out->not_before, err);
    if (status != MCPAUTH_OK)
        mcpauth_token_info_free(out);
    return status;
}

mcpauth_status mcpauth_token_info_from_json(json_object *claims, mcpauth_token_info *out,
                                            mcpauth_error *err)
{
    const claims_source *src = &introspection_source;
    memset(out, 0, sizeof *out);
    if (!claims || !json_object_is_type(claims, json_type_object))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s is not a JSON object", src->what);

    json_object *active = NULL;
    if (!json_object_object_get_ex(claims, "active", &active) ||
        !json_object_is_type(active, json_type_boolean))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s has no boolean active (RFC 7662 §2.2)",
                                 src->what);
    /* RFC 7662 §2.2: for an inactive token the server need say nothing else,
     * and whatever it does say is not to be relied on. */
    if (!json_object_get_boolean(active))
        return MCPAUTH_OK;

    out->active = true;
    return read_active_claims(src, claims, out, err);
}

/* RFC 9068 §2.2: a JWT access token carries its claims itself, and having
 * verified its signature is what makes it active; an "active" member means
 * nothing there. */
mcpauth_status mcpauth_token_info_from_claims(json_object *claims, mcpauth_token_info *out,
                                              mcpauth_error *err)
{
    const claims_source *src = &jwt_source;
    memset(out, 0, sizeof *out);
    if (!claims || !json_object_is_type(claims, json_type_object))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s are not a JSON object", src->what);
    out->active = true;
    return read_active_claims(src, claims, out, err);
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

static bool add_member(json_object *obj, const char *key, json_object *value)
{
    if (!value || json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

static bool add_text(json_object *obj, const char *key, const char *text)
{
    return !text || add_member(obj, key, json_object_new_string(text));
}

static bool add_time(json_object *obj, const char *key, int64_t seconds)
{
    return seconds == 0 || add_member(obj, key, json_object_new_int64(seconds));
}

/* Scope tokens hold no space (RFC 6749 §3.3), so joining them is exact. */
static json_object *scope_string(const mcpauth_token_info *info)
{
    size_t size = 1;
    for (size_t i = 0; i < info->scope_count; i++)
        size += strlen(info->scopes[i]) + 1;
    char *text = malloc(size);
    if (!text)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < info->scope_count; i++) {
        size_t n = strlen(info->scopes[i]);
        if (i > 0)
            text[used++] = ' ';
        memcpy(text + used, info->scopes[i], n);
        used += n;
    }
    text[used] = '\0';
    json_object *value = json_object_new_string(text);
    free(text);
    return value;
}

json_object *mcpauth_token_info_to_json(const mcpauth_token_info *info)
{
    json_object *obj = json_object_new_object();
    json_object *aud = json_object_new_array();
    bool ok = obj && aud && add_member(obj, "active", json_object_new_boolean(info->active));
    for (size_t i = 0; ok && i < info->audience_count; i++) {
        json_object *item = json_object_new_string(info->audiences[i]);
        ok = item && json_object_array_add(aud, item) == 0;
        if (!ok)
            json_object_put(item);
    }
    if (ok) {
        ok = add_member(obj, "aud", aud); /* takes aud, even when it fails */
        aud = NULL;
    }
    ok = ok && add_text(obj, "sub", info->subject) && add_text(obj, "client_id", info->client_id) &&
         add_text(obj, "username", info->username) && add_text(obj, "iss", info->issuer) &&
         (info->scope_count == 0 || add_member(obj, "scope", scope_string(info))) &&
         add_time(obj, "exp", info->expires_at) && add_time(obj, "iat", info->issued_at) &&
         add_time(obj, "nbf", info->not_before);
    json_object_put(aud);
    if (!ok) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
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
