#include "mcpauth/credentials.h"

#include <stdlib.h>
#include <string.h>

#include "mcpauth/fileio.h"
#include "mcpauth/json.h"

static char *dup_member(json_object *doc, const char *key)
{
    const char *value = mcpauth_json_string(doc, key);
    return value ? strdup(value) : NULL;
}

mcpauth_status mcpauth_credentials_load(const char *path, mcpauth_credentials *out,
                                        mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t length = 0;
    if (mcpauth_file_read(path, MCPAUTH_CREDENTIALS_MAX_BYTES, &text, &length, err) != MCPAUTH_OK)
        return MCPAUTH_ELOCAL;
    json_object *doc = mcpauth_json_parse_object(text, length, "credentials file", err);
    explicit_bzero(text, length);
    free(text);
    if (!doc) {
        if (err) {
            err->status = MCPAUTH_ELOCAL;
            mcpauth_error_prefix(err, "%s", path);
        }
        return MCPAUTH_ELOCAL;
    }
    json_object *client = NULL;
    if (!json_object_object_get_ex(doc, "client", &client) ||
        !json_object_is_type(client, json_type_object) ||
        !mcpauth_json_string(client, "client_id")) {
        json_object_put(doc);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "%s is not an mcpauth credentials file (no client.client_id)",
                                 path);
    }
    out->issuer = dup_member(doc, "issuer");
    out->registration_endpoint = dup_member(doc, "registration_endpoint");
    out->client = json_object_get(client);
    json_object_put(doc);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_credentials_save(const char *path, const mcpauth_credentials *creds,
                                        bool overwrite, mcpauth_error *err)
{
    json_object *doc = json_object_new_object();
    if (!doc)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    json_object_object_add(doc, "version", json_object_new_int(MCPAUTH_CREDENTIALS_VERSION));
    if (creds->issuer)
        json_object_object_add(doc, "issuer", json_object_new_string(creds->issuer));
    if (creds->registration_endpoint)
        json_object_object_add(doc, "registration_endpoint",
                               json_object_new_string(creds->registration_endpoint));
    json_object_object_add(doc, "client", json_object_get(creds->client));
    const char *text = mcpauth_json_pretty(doc);
    mcpauth_status st = MCPAUTH_ELOCAL;
    if (!text) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    } else {
        size_t length = strlen(text);
        char *copy = malloc(length + 2);
        if (copy) {
            memcpy(copy, text, length);
            copy[length] = '\n';
            copy[length + 1] = '\0';
            st = mcpauth_file_write_private(path, copy, length + 1, overwrite, err);
            explicit_bzero(copy, length + 1);
            free(copy);
        } else {
            mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        }
    }
    json_object_put(doc);
    return st;
}

/* Carries key over from the old client when the response lacks it. */
static void keep_member(json_object *response, json_object *old, const char *key)
{
    json_object *value;
    if (!json_object_object_get_ex(response, key, NULL) &&
        json_object_object_get_ex(old, key, &value))
        json_object_object_add(response, key, json_object_get(value));
}

void mcpauth_credentials_replace_client(mcpauth_credentials *creds, json_object *response)
{
    keep_member(response, creds->client, "registration_access_token");
    keep_member(response, creds->client, "registration_client_uri");
    /* A secret is kept only while the client id stays the same. */
    const char *old_id = mcpauth_json_string(creds->client, "client_id");
    const char *new_id = mcpauth_json_string(response, "client_id");
    if (old_id && new_id && strcmp(old_id, new_id) == 0) {
        keep_member(response, creds->client, "client_secret");
        keep_member(response, creds->client, "client_secret_expires_at");
    }
    json_object_put(creds->client);
    creds->client = response;
}

const char *mcpauth_credentials_client_id(const mcpauth_credentials *creds)
{
    return mcpauth_json_string(creds->client, "client_id");
}

const char *mcpauth_credentials_client_secret(const mcpauth_credentials *creds)
{
    return mcpauth_json_string(creds->client, "client_secret");
}

const char *mcpauth_credentials_client_uri(const mcpauth_credentials *creds)
{
    return mcpauth_json_string(creds->client, "registration_client_uri");
}

const char *mcpauth_credentials_registration_token(const mcpauth_credentials *creds)
{
    return mcpauth_json_string(creds->client, "registration_access_token");
}

long long mcpauth_credentials_secret_expiry(const mcpauth_credentials *creds)
{
    json_object *value;
    if (!json_object_object_get_ex(creds->client, "client_secret_expires_at", &value) ||
        !json_object_is_type(value, json_type_int))
        return 0;
    return (long long)json_object_get_int64(value);
}

void mcpauth_credentials_free(mcpauth_credentials *creds)
{
    free(creds->issuer);
    free(creds->registration_endpoint);
    json_object_put(creds->client);
    memset(creds, 0, sizeof *creds);
}
