/* --dev-state FILE: the development issuer's signing key and registered
 * clients, kept across restarts in one JSON file of mode 0600. Secrets are
 * stored only as SHA-256 hashes; the private key is there in the clear,
 * which is why the file is private. Codes and tokens are not kept: they
 * are short-lived, and a restart is a good moment to forget them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devissuer_internal.h"
#include "mcpauth/fileio.h"
#include "mcpauth/json.h"

#define STATE_MAX_BYTES (16 * 1024 * 1024)
#define STATE_VERSION   1

static bool is_hash(const char *text)
{
    if (!text)
        return false;
    if (!text[0])
        return true;
    if (strlen(text) != MCPAUTH__DEVISSUER_HASH_SIZE - 1)
        return false;
    return strspn(text, "0123456789abcdef") == MCPAUTH__DEVISSUER_HASH_SIZE - 1;
}

static mcpauth_status load_client(mcpauth_devissuer *dev, json_object *item, mcpauth_error *err)
{
    const char *id = mcpauth_json_string(item, "client_id");
    const char *secret = mcpauth_json_string(item, "client_secret_sha256");
    const char *registration = mcpauth_json_string(item, "registration_token_sha256");
    json_object *metadata, *issued;
    if (!id || !id[0] || strlen(id) >= MCPAUTH__DEVISSUER_ID_SIZE || !is_hash(secret) ||
        !is_hash(registration) || !json_object_object_get_ex(item, "metadata", &metadata) ||
        !json_object_is_type(metadata, json_type_object) ||
        !json_object_object_get_ex(item, "issued_at", &issued) ||
        !json_object_is_type(issued, json_type_int) ||
        mcpauth__devissuer_client_find(&dev->store, id))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "a client entry is malformed");
    mcpauth__devissuer_client client = {.issued_at = json_object_get_int64(issued),
                                        .metadata = json_object_get(metadata)};
    memcpy(client.id, id, strlen(id) + 1);
    memcpy(client.secret_hash, secret, strlen(secret) + 1);
    memcpy(client.registration_hash, registration, strlen(registration) + 1);
    if (!mcpauth__devissuer_client_add(&dev->store, &client))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "too many clients");
    return MCPAUTH_OK;
}

static mcpauth_status load_document(mcpauth_devissuer *dev, json_object *doc, mcpauth_error *err)
{
    json_object *version, *key, *clients;
    if (!json_object_object_get_ex(doc, "version", &version) ||
        json_object_get_int(version) != STATE_VERSION)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "not a version %d state file", STATE_VERSION);
    if (!json_object_object_get_ex(doc, "signing_key", &key) ||
        !(dev->signer = mcpauth_jws_signer_from_jwk(key, err)))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "no usable signing_key");
    if (!json_object_object_get_ex(doc, "clients", &clients) ||
        !json_object_is_type(clients, json_type_array) ||
        json_object_array_length(clients) > MCPAUTH__DEVISSUER_MAX_CLIENTS)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "clients must be an array of at most %d",
                                 MCPAUTH__DEVISSUER_MAX_CLIENTS);
    for (size_t i = 0; i < json_object_array_length(clients); i++)
        if (load_client(dev, json_object_array_get_idx(clients, i), err) != MCPAUTH_OK)
            return err->status;
    return MCPAUTH_OK;
}

mcpauth_status mcpauth__devissuer_state_load(mcpauth_devissuer *dev, mcpauth_error *err)
{
    const char *path = dev->config->state_file;
    struct stat st;
    if (!path || (stat(path, &st) != 0 && errno == ENOENT))
        return MCPAUTH_OK;
    char *text = NULL;
    size_t length = 0;
    if (mcpauth_file_read(path, STATE_MAX_BYTES, &text, &length, err) != MCPAUTH_OK)
        return err->status;
    json_object *doc = mcpauth_json_parse_object(text, length, "state file", err);
    explicit_bzero(text, length);
    free(text);
    mcpauth_status status = doc ? load_document(dev, doc, err) : MCPAUTH_ELOCAL;
    json_object_put(doc);
    if (status != MCPAUTH_OK) {
        err->status = MCPAUTH_ELOCAL;
        return mcpauth_error_prefix(err, "--dev-state %s", path);
    }
    return MCPAUTH_OK;
}

static json_object *client_entry(const mcpauth__devissuer_client *c)
{
    json_object *item = json_object_new_object();
    json_object_object_add(item, "client_id", json_object_new_string(c->id));
    json_object_object_add(item, "client_secret_sha256", json_object_new_string(c->secret_hash));
    json_object_object_add(item, "registration_token_sha256",
                           json_object_new_string(c->registration_hash));
    json_object_object_add(item, "issued_at", json_object_new_int64(c->issued_at));
    json_object_object_add(item, "metadata", json_object_get(c->metadata));
    return item;
}

mcpauth_status mcpauth__devissuer_state_save(const mcpauth_devissuer *dev, mcpauth_error *err)
{
    const char *path = dev->config->state_file;
    if (!path)
        return MCPAUTH_OK;
    json_object *doc = json_object_new_object(), *clients = json_object_new_array();
    json_object_object_add(doc, "version", json_object_new_int(STATE_VERSION));
    json_object_object_add(doc, "signing_key", mcpauth_jws_signer_private_jwk(dev->signer));
    for (size_t i = 0; i < dev->store.client_count; i++)
        if (!dev->store.clients[i].builtin)
            json_object_array_add(clients, client_entry(&dev->store.clients[i]));
    json_object_object_add(doc, "clients", clients);
    const char *text = mcpauth_json_pretty(doc);
    mcpauth_status status = text ? mcpauth_file_write_private(path, text, strlen(text), true, err)
                                 : mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    if (text)
        explicit_bzero((char *)text, strlen(text));
    json_object_put(doc);
    if (status != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "--dev-state %s", path);
    return MCPAUTH_OK;
}
