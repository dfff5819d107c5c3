/* Client authentication at the token, introspection and revocation
 * endpoints (RFC 6749 §2.3.1, OAuth 2.1 §2.4): client_secret_basic,
 * client_secret_post, or a public client naming itself ("none"). Secrets
 * are compared as SHA-256 hashes in constant time. */
#include <nettle/base64.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devissuer_internal.h"
#include "mcpauth/secret.h"

typedef struct presented {
    char *id;     /* owned */
    char *secret; /* owned; NULL for a public client */
    bool basic;
} presented;

static void presented_free(presented *p)
{
    free(p->id);
    mcpauth_secret_free(p->secret);
}

/* "Basic base64(form(id):form(secret))". False when malformed. */
static bool parse_basic(const char *header, presented *out)
{
    const char *b64 = header + 6;
    size_t length = strlen(b64);
    if (length == 0 || length > 4096)
        return false;
    uint8_t *plain = malloc(BASE64_DECODE_LENGTH(length) + 1);
    struct base64_decode_ctx ctx;
    size_t plain_length = BASE64_DECODE_LENGTH(length);
    base64_decode_init(&ctx);
    bool ok = plain && base64_decode_update(&ctx, &plain_length, plain, length, b64) &&
              base64_decode_final(&ctx);
    const char *colon = ok ? memchr(plain, ':', plain_length) : NULL;
    if (colon) {
        size_t id_length = (size_t)((const uint8_t *)colon - plain);
        out->id = mcpauth_form_decode((const char *)plain, id_length);
        out->secret = mcpauth_form_decode(colon + 1, plain_length - id_length - 1);
        out->basic = true;
    }
    if (plain) {
        explicit_bzero(plain, BASE64_DECODE_LENGTH(length));
        free(plain);
    }
    return out->id && out->secret && out->id[0];
}

static mcpauth__devissuer_client *refuse(mcpauth_devissuer_response *resp, const char *description)
{
    /* RFC 6749 §5.2: 401 with a challenge for the scheme the client may use. */
    mcpauth__devissuer_add_field(resp, "WWW-Authenticate",
                                 "Basic realm=\"mcpauth development issuer\"");
    mcpauth__devissuer_respond_error(resp, 401, "invalid_client", description);
    return NULL;
}

static bool secret_matches(const mcpauth__devissuer_client *client, const char *secret)
{
    char hash[MCPAUTH__DEVISSUER_HASH_SIZE];
    mcpauth__devissuer_hash(secret, hash);
    return mcpauth_secret_equal(hash, client->secret_hash);
}

mcpauth__devissuer_client *
mcpauth__devissuer_authenticate_client(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                                       const mcpauth_form *form, bool confidential_only,
                                       mcpauth__devissuer_client *document_client,
                                       mcpauth_devissuer_response *resp)
{
    presented p = {0};
    const char *body_id = mcpauth_form_get(form, "client_id");
    const char *body_secret = mcpauth_form_get(form, "client_secret");
    if (req->authorization && strncasecmp(req->authorization, "Basic ", 6) == 0) {
        if (!parse_basic(req->authorization, &p)) {
            presented_free(&p);
            return refuse(resp, "malformed Basic credentials");
        }
        /* OAuth 2.1 §2.4: one authentication method per request. */
        if (body_secret || (body_id && strcmp(body_id, p.id) != 0)) {
            presented_free(&p);
            mcpauth__devissuer_respond_error(resp, 400, "invalid_request",
                                             "use one client authentication method");
            return NULL;
        }
    } else {
        p.id = body_id ? strdup(body_id) : NULL;
        p.secret = body_secret ? strdup(body_secret) : NULL;
    }
    mcpauth__devissuer_client *client = NULL;
    const char *problem = NULL;
    if (mcpauth_oauth_cimd_is_url(p.id)) {
        mcpauth__devissuer_cimd_result found =
            mcpauth__devissuer_cimd_lookup(dev, p.id, req->now, document_client, &problem);
        if (found == MCPAUTH__DEVISSUER_CIMD_VALID)
            client = document_client;
        else
            mcpauth__devissuer_cimd_release(document_client);
    } else {
        client = mcpauth__devissuer_client_find(&dev->store, p.id);
    }
    if (problem)
        ;
    else if (!p.id)
        problem = "client authentication is required";
    else if (!client)
        problem = "unknown client";
    else if (client->secret_hash[0] && !p.secret)
        problem = "this client must authenticate with its secret";
    else if (client->secret_hash[0] && !secret_matches(client, p.secret))
        problem = "bad client secret";
    else if (!client->secret_hash[0] && p.secret)
        problem = "a public client has no secret";
    else if (!client->secret_hash[0] && confidential_only)
        problem = "a public client cannot use this endpoint";
    presented_free(&p);
    return problem ? refuse(resp, problem) : client;
}
