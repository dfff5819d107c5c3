/* The token file of `mcpauth token`: read back for a refresh, written after
 * a grant. Its secrets are wiped from every buffer that held them. */
#include "mcpauth/oauth_token_file.h"

#include <stdlib.h>
#include <string.h>

#include "mcpauth/fileio.h"
#include "mcpauth/json.h"
#include "mcpauth/secret.h"
#include "oauth_internal.h"

static mcpauth_status from_document(const char *text, size_t length, const char *name,
                                    mcpauth_oauth_token_file *out, mcpauth_error *err)
{
    out->document = mcpauth_json_parse_object(text, length, "token file", err);
    if (!out->document)
        return mcpauth_error_prefix(err, "%s", name);
    const char *token = mcpauth_json_string(out->document, "refresh_token");
    if (!token || !mcpauth__oauth_token_syntax_ok(token))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "%s holds no refresh_token", name);
    if (!(out->refresh_token = strdup(token)))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return MCPAUTH_OK;
}

static mcpauth_status from_text(const char *start, const char *name, mcpauth_oauth_token_file *out,
                                mcpauth_error *err)
{
    size_t n = strlen(start);
    while (n > 0 && strchr(" \t\r\n", start[n - 1]))
        n--;
    if (!(out->refresh_token = strndup(start, n)))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    if (!mcpauth__oauth_token_syntax_ok(out->refresh_token))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "%s does not hold a refresh token (one line of visible "
                                 "characters, or a file written by --output)",
                                 name);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_oauth_token_file_load(const char *path, mcpauth_oauth_token_file *out,
                                             mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t length = 0;
    if (mcpauth_file_read(path, MCPAUTH_OAUTH_TOKEN_FILE_MAX, &text, &length, err) != MCPAUTH_OK)
        return MCPAUTH_ELOCAL;
    const char *start = text + strspn(text, " \t\r\n");
    const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
    mcpauth_status st = *start == '{' ? from_document(text, length, name, out, err)
                                      : from_text(start, name, out, err);
    if (st != MCPAUTH_OK) {
        st = MCPAUTH_ELOCAL; /* whatever it holds, the file is ours */
        if (err)
            err->status = st;
    }
    explicit_bzero(text, length);
    free(text);
    return st;
}

const char *mcpauth_oauth_token_file_member(const mcpauth_oauth_token_file *file, const char *key)
{
    return mcpauth_json_string(file->document, key);
}

void mcpauth_oauth_token_file_free(mcpauth_oauth_token_file *file)
{
    mcpauth_secret_free(file->refresh_token);
    json_object_put(file->document);
    memset(file, 0, sizeof *file);
}

static void add_string(json_object *doc, const char *key, const char *value)
{
    if (value)
        json_object_object_add(doc, key, json_object_new_string(value));
}

static json_object *document(const mcpauth_oauth_token_response *resp,
                             const mcpauth_oauth_token_file_origin *origin)
{
    json_object *doc = json_object_new_object();
    if (!doc)
        return NULL;
    json_object_object_foreach(resp->document, key, value)
    {
        json_object_object_add(doc, key, json_object_get(value));
    }
    if (!resp->refresh_token)
        add_string(doc, "refresh_token", origin->refresh_token);
    json_object_object_add(doc, "version", json_object_new_int(MCPAUTH_OAUTH_TOKEN_FILE_VERSION));
    add_string(doc, "issuer", origin->issuer);
    add_string(doc, "client_id", origin->client_id);
    add_string(doc, "token_endpoint", origin->token_endpoint);
    json_object_object_add(doc, "obtained_at", json_object_new_int64(origin->now));
    if (resp->expires_in >= 0)
        json_object_object_add(doc, "expires_at",
                               json_object_new_int64(origin->now + resp->expires_in));
    return doc;
}

mcpauth_status mcpauth_oauth_token_file_save(const char *path,
                                             const mcpauth_oauth_token_response *resp,
                                             const mcpauth_oauth_token_file_origin *origin,
                                             bool overwrite, mcpauth_error *err)
{
    json_object *doc = document(resp, origin);
    const char *text = doc ? mcpauth_json_pretty(doc) : NULL;
    char *copy = text ? malloc(strlen(text) + 2) : NULL;
    if (!copy) {
        json_object_put(doc);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    size_t length = strlen(text);
    memcpy(copy, text, length);
    copy[length] = '\n';
    copy[length + 1] = '\0';
    mcpauth_status st = mcpauth_file_write_private(path, copy, length + 1, overwrite, err);
    explicit_bzero(copy, length + 1);
    free(copy);
    json_object_put(doc);
    return st;
}
