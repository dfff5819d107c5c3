/* The development issuer's endpoints (src/devissuer/), driven without
 * sockets through mcpauth_devissuer_handle(): metadata, registration and
 * client management (RFC 7591/7592), /authorize with PKCE, /token, /introspect,
 * /revoke, /jwks. Input: a flags byte (1: approve without the consent page,
 * 2: opaque tokens), then up to three requests, each five fields separated
 * by \x01 (method, target with its query, Authorization, Content-Type, body).
 * What the issuer hands out can be used by the next request: "@cid@",
 * "@sec@", "@rat@", "@code@", "@at@" and "@rt@" in a field become the last
 * client id, client secret, registration access token, authorization code,
 * access and refresh token, and "@basic@" the client's HTTP Basic credentials. */
#include <stdbool.h>
#include <stdio.h>

#include "fuzz.h"
#include "mcpauth/devissuer.h"
#include "mcpauth/form.h"
#include "mcpauth/jose.h"
#include "mcpauth/json.h"
#include "mcpauth/secret.h"
#include "mcpauth/token.h"

#define NOW      1765000000
#define ISSUER   "http://127.0.0.1:8000"
#define RESOURCE "http://127.0.0.1:8000/mcp"

typedef struct handed_out {
    char *cid, *sec, *rat, *code, *at, *rt, *basic;
    mcpauth_jwks *jwks; /* the issuer's keys, when it issues JWTs */
} handed_out;

/* A JWT the issuer hands out verifies against its own keys and is for the
 * resource it serves (RFC 9068 §4), whatever the request that got it. */
static void check_access_token(const handed_out *h, const char *token)
{
    if (!h->jwks)
        return;
    mcpauth_jwt_policy policy;
    mcpauth_jwt_policy_init(&policy);
    mcpauth_token_info info = {0};
    char reason[256] = "";
    if (mcpauth_jwt_verify(token, strlen(token), h->jwks, &policy, &info, reason, sizeof reason) !=
        MCPAUTH_JWT_VERIFIED) {
        fprintf(stderr, "issued token does not verify: %s\n", reason);
        abort();
    }
    static const char *const audiences[] = {RESOURCE};
    mcpauth_token_policy check = {
        .issuer = ISSUER,
        .audiences = audiences,
        .audience_count = 1,
        .require_expiry = true,
    };
    if (mcpauth_token_check(&check, &info, NOW, reason, sizeof reason) != MCPAUTH_TOKEN_VALID) {
        fprintf(stderr, "issued token is refused: %s\n", reason);
        abort();
    }
    mcpauth_token_info_free(&info);
}

static void keep(char **slot, const char *value)
{
    if (!value)
        return;
    free(*slot);
    *slot = strdup(value);
}

/* The code= parameter of a redirect's Location. */
static void keep_code(handed_out *h, const char *location)
{
    const char *q = strchr(location, '?');
    if (!q)
        return;
    mcpauth_form form = {0};
    const char *problem;
    if (mcpauth_form_parse(q + 1, strlen(q + 1), &form, &problem))
        keep(&h->code, mcpauth_form_get(&form, "code"));
    mcpauth_form_free(&form);
}

static void learn(handed_out *h, const mcpauth_devissuer_response *resp)
{
    for (size_t i = 0; i < resp->field_count; i++)
        if (strcmp(resp->fields[i].name, "Location") == 0)
            keep_code(h, resp->fields[i].value);
    json_object *doc =
        resp->body ? mcpauth_json_parse_object(resp->body, resp->body_length, "body", NULL) : NULL;
    if (!doc)
        return;
    keep(&h->cid, mcpauth_json_string(doc, "client_id"));
    keep(&h->sec, mcpauth_json_string(doc, "client_secret"));
    keep(&h->rat, mcpauth_json_string(doc, "registration_access_token"));
    keep(&h->at, mcpauth_json_string(doc, "access_token"));
    if (mcpauth_json_string(doc, "access_token"))
        check_access_token(h, h->at);
    keep(&h->rt, mcpauth_json_string(doc, "refresh_token"));
    json_object_put(doc);
    if (h->cid && h->sec) {
        mcpauth_secret_free(h->basic);
        h->basic = mcpauth_form_basic_credentials(h->cid, h->sec);
    }
}

/* field with every placeholder replaced (*out_length bytes). Caller frees. */
static char *expand(const char *field, size_t length, const handed_out *h, size_t *out_length)
{
    static const char *const names[] = {"@cid@", "@sec@", "@rat@",  "@code@",
                                        "@at@",  "@rt@",  "@basic@"};
    const char *values[] = {h->cid, h->sec, h->rat, h->code, h->at, h->rt, h->basic};
    mcpauth_strbuf sb = {0};
    mcpauth_strbuf_append(&sb, "", 0);
    for (size_t i = 0; i < length;) {
        size_t k = 0;
        while (k < 7 && strncmp(field + i, names[k], strlen(names[k])) != 0)
            k++;
        if (k < 7) {
            if (values[k])
                mcpauth_strbuf_appends(&sb, values[k]);
            i += strlen(names[k]);
        } else {
            mcpauth_strbuf_append(&sb, field + i, 1);
            i++;
        }
    }
    if (mcpauth_strbuf_failed(&sb))
        abort();
    if (out_length)
        *out_length = sb.length;
    return mcpauth_strbuf_detach(&sb);
}

static void one_request(mcpauth_devissuer *dev, char **field, const size_t *length, handed_out *h)
{
    char *target = expand(field[1], length[1], h, NULL);
    char *query = strchr(target, '?');
    if (query)
        *query++ = '\0';
    if (!mcpauth_devissuer_handles(dev, target)) {
        free(target);
        return;
    }
    char *authorization = expand(field[2], length[2], h, NULL);
    size_t body_length;
    char *body = expand(field[4], length[4], h, &body_length);
    mcpauth_devissuer_request req = {
        .method = field[0],
        .path = target,
        .query = query,
        .authorization = length[2] ? authorization : NULL,
        .content_type = length[3] ? field[3] : NULL,
        .body = body,
        .body_length = body_length,
        .now = NOW,
    };
    mcpauth_devissuer_response resp = {0};
    mcpauth_devissuer_handle(dev, &req, &resp);
    if (resp.status < 200 || resp.status > 599 || resp.field_count > MCPAUTH_DEVISSUER_MAX_FIELDS ||
        (resp.body == NULL && resp.body_length != 0))
        abort();
    if (getenv("MCPAUTH_FUZZ_VERBOSE")) /* for writing seeds */
        fprintf(stderr, "%s %s -> %d %s\n", req.method, req.path, resp.status,
                resp.detail ? resp.detail : "");
    learn(h, &resp);
    mcpauth_devissuer_response_free(&resp);
    free(target);
    free(authorization);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    fuzz_pieces in;
    fuzz_split(data + 1, size - 1, 15, &in);
    mcpauth_devissuer_config config;
    mcpauth_devissuer_config_init(&config);
    config.issuer = ISSUER;
    config.resource = RESOURCE;
    config.scopes[0] = "mcp";
    config.scopes[1] = "mcp:admin";
    config.scope_count = 2;
    config.user = "alice";
    config.auto_approve = flags & 1;
    config.token_format = flags & 2 ? MCPAUTH_DEVISSUER_OPAQUE : MCPAUTH_DEVISSUER_JWT;
    mcpauth_error err;
    mcpauth_devissuer *dev = mcpauth_devissuer_new(&config, &err);
    if (!dev)
        abort();
    handed_out h = {0};
    if (config.token_format == MCPAUTH_DEVISSUER_JWT) {
        const char *jwks = mcpauth_devissuer_jwks(dev);
        if (mcpauth_jwks_parse(jwks, strlen(jwks), &h.jwks, &err) != MCPAUTH_OK)
            abort();
    }
    for (size_t r = 0; r + 5 <= in.count; r += 5)
        if (in.length[r] || r == 0)
            one_request(dev, &in.piece[r], &in.length[r], &h);
    mcpauth_devissuer_free(dev);
    free(h.cid);
    mcpauth_secret_free(h.sec);
    free(h.rat);
    free(h.code);
    free(h.at);
    free(h.rt);
    mcpauth_secret_free(h.basic);
    mcpauth_jwks_free(h.jwks);
    fuzz_pieces_free(&in);
    return 0;
}
