/* The development issuer through its synchronous API: metadata, client
 * registration and management, the code lifecycle (PKCE, single use,
 * expiry), refresh rotation, introspection and revocation, the state file,
 * and the form decoder it relies on. Time is passed in, so expiry needs no
 * sleeping. */
#include <check.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcpauth/devissuer.h"
#include "mcpauth/form.h"
#include "mcpauth/jose.h"
#include "mcpauth/json.h"
#include "mcpauth/pkce.h"
#include "mcpauth/strbuf.h"
#include "testlib.h"

#define ISSUER   "http://127.0.0.1:8000"
#define RESOURCE "http://127.0.0.1:8000/mcp"
#define REDIRECT "http://127.0.0.1:9/cb"
#define NOW      1800000000

static mcpauth_devissuer_config config;
static mcpauth_devissuer *dev;

static void make_issuer(const char *state_file, bool auto_approve)
{
    mcpauth_devissuer_config_init(&config);
    config.issuer = ISSUER;
    config.resource = RESOURCE;
    config.scopes[0] = "mcp";
    config.scope_count = 1;
    config.user = "alice";
    config.auto_approve = auto_approve;
    config.state_file = state_file;
    mcpauth_error err = {0};
    dev = mcpauth_devissuer_new(&config, &err);
    ck_assert_msg(dev != NULL, "%s", err.message);
}

static void setup(void)
{
    make_issuer(NULL, true);
}

static void teardown(void)
{
    mcpauth_devissuer_free(dev);
    dev = NULL;
}

/* One request; the caller frees *resp. */
static void call(const char *method, const char *path, const char *query, const char *type,
                 const char *body, const char *authorization, int64_t now,
                 mcpauth_devissuer_response *resp)
{
    mcpauth_devissuer_request req = {
        .method = method,
        .path = path,
        .query = query,
        .authorization = authorization,
        .content_type = type,
        .body = body,
        .body_length = body ? strlen(body) : 0,
        .now = now,
    };
    ck_assert(mcpauth_devissuer_handles(dev, path));
    mcpauth_devissuer_handle(dev, &req, resp);
}

static json_object *body_json(const mcpauth_devissuer_response *resp)
{
    mcpauth_error err = {0};
    json_object *doc = mcpauth_json_parse_object(resp->body, resp->body_length, "body", &err);
    ck_assert_msg(doc != NULL, "%s", err.message);
    return doc;
}

static const char *field(const mcpauth_devissuer_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->field_count; i++)
        if (strcmp(resp->fields[i].name, name) == 0)
            return resp->fields[i].value;
    return NULL;
}

typedef struct client {
    char id[64];
    char secret[64];
    char basic[256];
    char registration_token[64];
} client;

static void basic_header(client *c)
{
    char plain[160];
    snprintf(plain, sizeof plain, "%s:%s", c->id, c->secret);
    char encoded[BASE64_ENCODE_RAW_LENGTH(160) + 1];
    base64_encode_raw(encoded, strlen(plain), (const uint8_t *)plain);
    encoded[BASE64_ENCODE_RAW_LENGTH(strlen(plain))] = '\0';
    snprintf(c->basic, sizeof c->basic, "Basic %s", encoded);
}

static client register_client(const char *metadata)
{
    mcpauth_devissuer_response resp;
    call("POST", "/register", NULL, "application/json", metadata, NULL, NOW, &resp);
    ck_assert_int_eq(resp.status, 201);
    json_object *doc = body_json(&resp);
    client c = {0};
    snprintf(c.id, sizeof c.id, "%s", mcpauth_json_string(doc, "client_id"));
    const char *secret = mcpauth_json_string(doc, "client_secret");
    snprintf(c.secret, sizeof c.secret, "%s", secret ? secret : "");
    snprintf(c.registration_token, sizeof c.registration_token, "%s",
             mcpauth_json_string(doc, "registration_access_token"));
    json_object_put(doc);
    mcpauth_devissuer_response_free(&resp);
    basic_header(&c);
    return c;
}

static client default_client(void)
{
    return register_client("{\"redirect_uris\":[\"" REDIRECT "\"],\"grant_types\":["
                           "\"authorization_code\",\"refresh_token\",\"client_credentials\"]}");
}

/* An authorization code for c, and its verifier in pkce. */
static char *get_code(const client *c, mcpauth_pkce *pkce, int64_t now)
{
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_pkce_generate(pkce, &err), MCPAUTH_OK);
    char query[1024];
    snprintf(query, sizeof query,
             "response_type=code&client_id=%s&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A9%%2Fcb"
             "&code_challenge=%s&code_challenge_method=S256&state=xyz"
             "&resource=http%%3A%%2F%%2F127.0.0.1%%3A8000%%2Fmcp",
             c->id, pkce->challenge);
    mcpauth_devissuer_response resp;
    call("GET", "/authorize", query, NULL, NULL, NULL, now, &resp);
    ck_assert_int_eq(resp.status, 302);
    const char *location = field(&resp, "Location");
    ck_assert_ptr_nonnull(strstr(location, "state=xyz"));
    ck_assert_ptr_nonnull(strstr(location, "iss=http%3A%2F%2F127.0.0.1%3A8000"));
    const char *code = strstr(location, "code=");
    ck_assert_ptr_nonnull(code);
    char *copy = strndup(code + 5, strcspn(code + 5, "&"));
    mcpauth_devissuer_response_free(&resp);
    return copy;
}

static int redeem(const client *c, const char *code, const char *verifier, int64_t now,
                  json_object **doc)
{
    char body[1024];
    snprintf(body, sizeof body,
             "grant_type=authorization_code&code=%s&code_verifier=%s"
             "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A9%%2Fcb",
             code, verifier);
    mcpauth_devissuer_response resp;
    call("POST", "/token", NULL, "application/x-www-form-urlencoded", body, c->basic, now, &resp);
    int status = resp.status;
    *doc = body_json(&resp);
    mcpauth_devissuer_response_free(&resp);
    return status;
}

static bool introspect_active(const client *c, const char *token)
{
    char body[4096];
    snprintf(body, sizeof body, "token=%s", token);
    mcpauth_devissuer_response resp;
    call("POST", "/introspect", NULL, "application/x-www-form-urlencoded", body, c->basic, NOW,
         &resp);
    ck_assert_int_eq(resp.status, 200);
    json_object *doc = body_json(&resp), *active;
    ck_assert(json_object_object_get_ex(doc, "active", &active));
    bool result = json_object_get_boolean(active);
    json_object_put(doc);
    mcpauth_devissuer_response_free(&resp);
    return result;
}

/* ---- tests ---- */

START_TEST(metadata_document)
{
    mcpauth_devissuer_response resp;
    call("GET", "/.well-known/oauth-authorization-server", NULL, NULL, NULL, NULL, NOW, &resp);
    ck_assert_int_eq(resp.status, 200);
    json_object *doc = body_json(&resp);
    ck_assert_str_eq(mcpauth_json_string(doc, "issuer"), ISSUER);
    ck_assert_str_eq(mcpauth_json_string(doc, "token_endpoint"), ISSUER "/token");
    ck_assert_str_eq(mcpauth_json_string(doc, "jwks_uri"), ISSUER "/jwks");
    json_object *methods;
    ck_assert(json_object_object_get_ex(doc, "code_challenge_methods_supported", &methods));
    ck_assert_str_eq(json_object_to_json_string(methods), "[ \"S256\" ]");
    json_object_put(doc);
    mcpauth_devissuer_response_free(&resp);
    ck_assert(!mcpauth_devissuer_handles(dev, "/mcp"));
    ck_assert(!mcpauth_devissuer_handles(dev, "/register/a/b"));
    ck_assert(mcpauth_devissuer_handles(dev, "/register/abc"));
}
END_TEST

START_TEST(code_lifecycle)
{
    client c = default_client();
    mcpauth_pkce pkce;
    json_object *doc;
    /* Good verifier, once. */
    char *code = get_code(&c, &pkce, NOW);
    ck_assert_int_eq(redeem(&c, code, pkce.verifier, NOW + 1, &doc), 200);
    const char *access = mcpauth_json_string(doc, "access_token");
    ck_assert(mcpauth_jwt_looks_like(access, strlen(access)));
    char *access_copy = strdup(access);
    json_object_put(doc);
    ck_assert(introspect_active(&c, access_copy));
    /* The same code again: refused, and the token it gave is revoked. */
    ck_assert_int_eq(redeem(&c, code, pkce.verifier, NOW + 2, &doc), 400);
    ck_assert_str_eq(mcpauth_json_string(doc, "error"), "invalid_grant");
    json_object_put(doc);
    ck_assert(!introspect_active(&c, access_copy));
    free(access_copy);
    free(code);
    /* A wrong verifier. */
    code = get_code(&c, &pkce, NOW);
    mcpauth_pkce other;
    mcpauth_error err = {0};
    mcpauth_pkce_generate(&other, &err);
    ck_assert_int_eq(redeem(&c, code, other.verifier, NOW + 1, &doc), 400);
    json_object_put(doc);
    free(code);
    /* Expired: the code lives 60 s. */
    code = get_code(&c, &pkce, NOW);
    ck_assert_int_eq(redeem(&c, code, pkce.verifier, NOW + 60, &doc), 400);
    ck_assert_str_eq(mcpauth_json_string(doc, "error"), "invalid_grant");
    json_object_put(doc);
    free(code);
}
END_TEST

START_TEST(refresh_rotation)
{
    client c = default_client();
    mcpauth_pkce pkce;
    json_object *doc;
    char *code = get_code(&c, &pkce, NOW);
    ck_assert_int_eq(redeem(&c, code, pkce.verifier, NOW, &doc), 200);
    char *refresh = strdup(mcpauth_json_string(doc, "refresh_token"));
    json_object_put(doc);
    free(code);
    char body[256];
    snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s", refresh);
    mcpauth_devissuer_response resp;
    call("POST", "/token", NULL, "application/x-www-form-urlencoded", body, c.basic, NOW, &resp);
    ck_assert_int_eq(resp.status, 200);
    doc = body_json(&resp);
    ck_assert_str_ne(mcpauth_json_string(doc, "refresh_token"), refresh);
    json_object_put(doc);
    mcpauth_devissuer_response_free(&resp);
    call("POST", "/token", NULL, "application/x-www-form-urlencoded", body, c.basic, NOW, &resp);
    ck_assert_int_eq(resp.status, 400);
    mcpauth_devissuer_response_free(&resp);
    free(refresh);
}
END_TEST

START_TEST(client_authentication)
{
    client c = default_client();
    client wrong = c;
    snprintf(wrong.secret, sizeof wrong.secret, "not-the-secret");
    basic_header(&wrong);
    const char *body = "grant_type=client_credentials&resource=http%3A%2F%2F127.0.0.1%3A8000%2Fmcp";
    mcpauth_devissuer_response resp;
    call("POST", "/token", NULL, "application/x-www-form-urlencoded", body, wrong.basic, NOW,
         &resp);
    ck_assert_int_eq(resp.status, 401);
    ck_assert_ptr_nonnull(field(&resp, "WWW-Authenticate"));
    mcpauth_devissuer_response_free(&resp);
    call("POST", "/token", NULL, "application/x-www-form-urlencoded", body, c.basic, NOW, &resp);
    ck_assert_int_eq(resp.status, 200);
    json_object *doc = body_json(&resp);
    char *token = strdup(mcpauth_json_string(doc, "access_token"));
    json_object_put(doc);
    mcpauth_devissuer_response_free(&resp);
    /* The built-in resource server client may introspect; then revoke. */
    client rs = {0};
    snprintf(rs.id, sizeof rs.id, "%s", mcpauth_devissuer_resource_client_id(dev));
    snprintf(rs.secret, sizeof rs.secret, "%s", mcpauth_devissuer_resource_client_secret(dev));
    basic_header(&rs);
    ck_assert(introspect_active(&rs, token));
    char revoke[4096];
    snprintf(revoke, sizeof revoke, "token=%s", token);
    call("POST", "/revoke", NULL, "application/x-www-form-urlencoded", revoke, c.basic, NOW, &resp);
    ck_assert_int_eq(resp.status, 200);
    mcpauth_devissuer_response_free(&resp);
    ck_assert(!introspect_active(&rs, token));
    free(token);
}
END_TEST

START_TEST(registration_management)
{
    client c = register_client("{\"redirect_uris\":[\"" REDIRECT "\"],\"client_name\":\"a\"}");
    char auth[128], path[128];
    snprintf(auth, sizeof auth, "Bearer %s", c.registration_token);
    snprintf(path, sizeof path, "/register/%s", c.id);
    mcpauth_devissuer_response resp;
    call("GET", path, NULL, NULL, NULL, auth, NOW, &resp);
    ck_assert_int_eq(resp.status, 200);
    mcpauth_devissuer_response_free(&resp);
    call("GET", path, NULL, NULL, NULL, "Bearer nope", NOW, &resp);
    ck_assert_int_eq(resp.status, 401);
    mcpauth_devissuer_response_free(&resp);
    call("DELETE", path, NULL, NULL, NULL, auth, NOW, &resp);
    ck_assert_int_eq(resp.status, 204);
    mcpauth_devissuer_response_free(&resp);
    call("GET", path, NULL, NULL, NULL, auth, NOW, &resp);
    ck_assert_int_eq(resp.status, 401);
    mcpauth_devissuer_response_free(&resp);
    /* Bad metadata. */
    call("POST", "/register", NULL, "application/json",
         "{\"redirect_uris\":[\"http://evil.example/cb\"]}", NULL, NOW, &resp);
    ck_assert_int_eq(resp.status, 400);
    mcpauth_devissuer_response_free(&resp);
}
END_TEST

START_TEST(state_file_round_trip)
{
    char dir[64], file[256];
    testlib_tmpdir_make(dir, sizeof dir, "test_devissuer");
    snprintf(file, sizeof file, "%s", testlib_path(dir, "state.json"));
    mcpauth_devissuer_free(dev);
    make_issuer(file, true);
    client c = default_client();
    char kid_jwks[4096];
    snprintf(kid_jwks, sizeof kid_jwks, "%s", mcpauth_devissuer_jwks(dev));
    struct stat st;
    ck_assert_int_eq(stat(file, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    mcpauth_devissuer_free(dev);
    make_issuer(file, true);
    /* Same key, same client. */
    ck_assert_str_eq(mcpauth_devissuer_jwks(dev), kid_jwks);
    const char *body = "grant_type=client_credentials&resource=http%3A%2F%2F127.0.0.1%3A8000%2Fmcp";
    mcpauth_devissuer_response resp;
    call("POST", "/token", NULL, "application/x-www-form-urlencoded", body, c.basic, NOW, &resp);
    ck_assert_int_eq(resp.status, 200);
    mcpauth_devissuer_response_free(&resp);
    /* A corrupt file is refused. */
    FILE *f = fopen(file, "w");
    fputs("{\"version\":1}", f);
    fclose(f);
    mcpauth_devissuer_free(dev);
    mcpauth_devissuer_config_init(&config);
    config.issuer = ISSUER;
    config.resource = RESOURCE;
    config.user = "alice";
    config.state_file = file;
    mcpauth_error err = {0};
    dev = mcpauth_devissuer_new(&config, &err);
    ck_assert_ptr_null(dev);
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    unlink(file);
    testlib_tmpdir_remove(dir);
    make_issuer(NULL, true);
}
END_TEST

START_TEST(consent_ticket)
{
    mcpauth_devissuer_free(dev);
    make_issuer(NULL, false);
    client c = default_client();
    mcpauth_pkce pkce;
    mcpauth_error err = {0};
    mcpauth_pkce_generate(&pkce, &err);
    char query[1024];
    snprintf(query, sizeof query,
             "response_type=code&client_id=%s&code_challenge=%s&code_challenge_method=S256"
             "&resource=http%%3A%%2F%%2F127.0.0.1%%3A8000%%2Fmcp&state=s1",
             c.id, pkce.challenge);
    mcpauth_devissuer_response resp;
    call("GET", "/authorize", query, NULL, NULL, NULL, NOW, &resp);
    ck_assert_int_eq(resp.status, 200);
    const char *ticket = strstr(resp.body, "name=\"ticket\" value=\"");
    ck_assert_ptr_nonnull(ticket);
    ticket += strlen("name=\"ticket\" value=\"");
    char form[256];
    snprintf(form, sizeof form, "ticket=%.*s&decision=deny", (int)strcspn(ticket, "\""), ticket);
    mcpauth_devissuer_response_free(&resp);
    call("POST", "/authorize", NULL, "application/x-www-form-urlencoded", form, NULL, NOW, &resp);
    ck_assert_int_eq(resp.status, 302);
    ck_assert_ptr_nonnull(strstr(field(&resp, "Location"), "error=access_denied"));
    ck_assert_ptr_nonnull(strstr(field(&resp, "Location"), "state=s1"));
    mcpauth_devissuer_response_free(&resp);
    /* Used once only. */
    call("POST", "/authorize", NULL, "application/x-www-form-urlencoded", form, NULL, NOW, &resp);
    ck_assert_int_eq(resp.status, 400);
    mcpauth_devissuer_response_free(&resp);
}
END_TEST

/* One request from a browser page at origin; the caller frees *resp. */
static void call_from(const char *origin, const char *method, const char *path, const char *type,
                      const char *body, mcpauth_devissuer_response *resp)
{
    mcpauth_devissuer_request req = {
        .method = method,
        .path = path,
        .content_type = type,
        .origin = origin,
        .body = body,
        .body_length = body ? strlen(body) : 0,
        .now = NOW,
    };
    mcpauth_devissuer_handle(dev, &req, resp);
}

static void assert_preflight(const char *origin, const char *path, bool allowed)
{
    mcpauth_devissuer_response resp;
    call_from(origin, "OPTIONS", path, NULL, NULL, &resp);
    const char *acao = field(&resp, "Access-Control-Allow-Origin");
    if (allowed) {
        ck_assert_msg(resp.status == 204, "%s %s: %d", origin, path, resp.status);
        ck_assert_msg(acao && strcmp(acao, origin) == 0, "%s %s: %s", origin, path,
                      acao ? acao : "(none)");
        ck_assert_ptr_nonnull(strstr(field(&resp, "Access-Control-Allow-Methods"), "POST"));
        ck_assert_str_eq(field(&resp, "Vary"), "Origin");
    } else {
        ck_assert_msg(resp.status == 403, "%s %s: %d", origin, path, resp.status);
        ck_assert_msg(acao == NULL, "%s %s: %s", origin, path, acao);
        ck_assert_str_eq(resp.detail, "Origin not allowed");
    }
    mcpauth_devissuer_response_free(&resp);
}

/* Registration and token endpoints answer pages of loopback origins (MCP
 * Inspector's web UI), the issuer's own and the configured ones; any other
 * page is refused, preflight or not. The metadata and keys stay public. */
START_TEST(cors_origins)
{
    static const char *const endpoints[] = {"/register", "/token", "/introspect", "/revoke",
                                            "/register/abc"};
    static const char *const loopback[] = {"http://localhost:6274", "http://127.0.0.1:6274",
                                           "http://[::1]:6274", "http://127.0.0.1", ISSUER};
    static const char *const strangers[] = {
        "https://evil.example",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
        "null",
        "http://localhost:6274/page",
        "http://user@localhost:6274",
        "http://[::1]evil.example",
        "file://",
        "",
    };
    for (size_t e = 0; e < sizeof endpoints / sizeof endpoints[0]; e++) {
        for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++)
            assert_preflight(loopback[i], endpoints[e], true);
        for (size_t i = 0; i < sizeof strangers / sizeof strangers[0]; i++)
            assert_preflight(strangers[i], endpoints[e], false);
    }

    /* Not only the preflight: a form POST needs none. */
    mcpauth_devissuer_response resp;
    call_from("https://evil.example", "POST", "/register", "application/json",
              "{\"redirect_uris\":[\"" REDIRECT "\"]}", &resp);
    ck_assert_int_eq(resp.status, 403);
    mcpauth_devissuer_response_free(&resp);
    call_from("http://localhost:6274", "POST", "/register", "application/json",
              "{\"redirect_uris\":[\"" REDIRECT "\"]}", &resp);
    ck_assert_int_eq(resp.status, 201);
    ck_assert_str_eq(field(&resp, "Access-Control-Allow-Origin"), "http://localhost:6274");
    mcpauth_devissuer_response_free(&resp);

    /* The metadata and the keys: any page may read them. */
    const char *documents[] = {"/.well-known/oauth-authorization-server", "/jwks"};
    for (size_t i = 0; i < 2; i++) {
        call_from("https://evil.example", "GET", documents[i], NULL, NULL, &resp);
        ck_assert_int_eq(resp.status, 200);
        ck_assert_str_eq(field(&resp, "Access-Control-Allow-Origin"), "*");
        mcpauth_devissuer_response_free(&resp);
        call_from("https://evil.example", "OPTIONS", documents[i], NULL, NULL, &resp);
        ck_assert_int_eq(resp.status, 204);
        mcpauth_devissuer_response_free(&resp);
    }

    /* Configured origins (serve's --allowed-origin) are allowed too. */
    mcpauth_devissuer_free(dev);
    static const char *const allowed[] = {"https://inspector.example"};
    mcpauth_devissuer_config_init(&config);
    config.issuer = ISSUER;
    config.resource = RESOURCE;
    config.user = "alice";
    config.allowed_origins = allowed;
    config.allowed_origin_count = 1;
    mcpauth_error err = {0};
    dev = mcpauth_devissuer_new(&config, &err);
    ck_assert_msg(dev != NULL, "%s", err.message);
    assert_preflight("https://inspector.example", "/token", true);
    assert_preflight("http://localhost:6274", "/token", true);
    assert_preflight("https://evil.example", "/token", false);
}
END_TEST

START_TEST(form_parsing)
{
    mcpauth_form form;
    const char *problem = NULL;
    const char *text = "a=1&b=x+y%21&c=&d";
    ck_assert(mcpauth_form_parse(text, strlen(text), &form, &problem));
    ck_assert_str_eq(mcpauth_form_get(&form, "a"), "1");
    ck_assert_str_eq(mcpauth_form_get(&form, "b"), "x y!");
    ck_assert_ptr_null(mcpauth_form_get(&form, "c")); /* empty means omitted */
    ck_assert_ptr_null(mcpauth_form_get(&form, "d"));
    mcpauth_form_free(&form);
    const char *bad[] = {"a=1&a=2", "a=%zz", "a=%4", "a=%00", "a=%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!mcpauth_form_parse(bad[i], strlen(bad[i]), &form, &problem), "%s", bad[i]);
        mcpauth_form_free(&form);
    }
}
END_TEST

/* ---- Client ID Metadata Documents ---- */

static void on_answer(const mcpauth_devissuer_response *resp, void *data)
{
    *(int *)data = resp->status;
}

static char *document_query(const char *client_id)
{
    mcpauth_strbuf q = MCPAUTH_STRBUF_INIT;
    mcpauth_form_add(&q, "response_type", "code");
    mcpauth_form_add(&q, "client_id", client_id);
    mcpauth_form_add(&q, "redirect_uri", REDIRECT);
    mcpauth_form_add(&q, "code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    mcpauth_form_add(&q, "code_challenge_method", "S256");
    mcpauth_form_add(&q, "resource", RESOURCE);
    return mcpauth_strbuf_detach(&q);
}

START_TEST(document_client_on_the_loop)
{
    testlib_server *server = testlib_server_start();
    testlib_server_route(server, &(testlib_route){
                                     .method = "GET",
                                     .target = "/doc.json",
                                     .status = 200,
                                     .headers = "Content-Type: application/json\r\n"
                                                "Cache-Control: max-age=60\r\n",
                                     .body = "{\"client_id\":\"%s/doc.json\",\"client_name\":\"D\","
                                             "\"redirect_uris\":[\"" REDIRECT "\"]}",
                                 });
    char url[128];
    snprintf(url, sizeof url, "%s", testlib_server_url(server, "/doc.json"));
    char *query = document_query(url);
    mcpauth_devissuer_request req = {
        .method = "GET", .path = "/authorize", .query = query, .now = NOW};
    mcpauth_devissuer_response resp;
    /* Without a loop the document cannot be fetched: a page, no redirect. */
    mcpauth_devissuer_handle(dev, &req, &resp);
    ck_assert_int_eq(resp.status, 400);
    mcpauth_devissuer_response_free(&resp);

    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(mcpauth_devissuer_start_fetching(dev, &loop, NULL), 0);
    int status = 0;
    ck_assert(!mcpauth_devissuer_handle_async(dev, &req, &resp, on_answer, &status));
    for (int i = 0; i < 1000 && !status; i++)
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_int_eq(status, 302);
    /* Cached for max-age: answered at once, not fetched again. */
    ck_assert(mcpauth_devissuer_handle_async(dev, &req, &resp, on_answer, &status));
    ck_assert_int_eq(resp.status, 302);
    mcpauth_devissuer_response_free(&resp);
    ck_assert_int_eq(testlib_server_hits(server, "GET", "/doc.json"), 1);
    /* After max-age it is fetched again. */
    req.now = NOW + 61;
    status = 0;
    ck_assert(!mcpauth_devissuer_handle_async(dev, &req, &resp, on_answer, &status));
    for (int i = 0; i < 1000 && !status; i++)
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_int_eq(status, 302);
    ck_assert_int_eq(testlib_server_hits(server, "GET", "/doc.json"), 2);

    mcpauth_devissuer_stop_fetching(dev);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    free(query);
    testlib_server_stop(server);
}
END_TEST

static Suite *devissuer_suite(void)
{
    Suite *s = suite_create("devissuer");
    TCase *tc = tcase_create("issuer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, metadata_document);
    tcase_add_test(tc, code_lifecycle);
    tcase_add_test(tc, refresh_rotation);
    tcase_add_test(tc, client_authentication);
    tcase_add_test(tc, registration_management);
    tcase_add_test(tc, state_file_round_trip);
    tcase_add_test(tc, consent_ticket);
    tcase_add_test(tc, cors_origins);
    tcase_add_test(tc, form_parsing);
    tcase_add_test(tc, document_client_on_the_loop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(devissuer_suite());
}
