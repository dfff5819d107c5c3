#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/client_metadata.h"
#include "mcpauth/json.h"
#include "testlib.h"

static json_object *doc_from(const char *text)
{
    mcpauth_error err = {0};
    json_object *doc = mcpauth_json_parse_object(text, strlen(text), "test metadata", &err);
    ck_assert_msg(doc != NULL, "%s: %s", text, err.message);
    return doc;
}

static void assert_doc_eq(json_object *doc, const char *expected_text)
{
    json_object *expected = doc_from(expected_text);
    ck_assert_msg(json_object_equal(doc, expected), "got %s\nexpected %s",
                  mcpauth_json_compact(doc), expected_text);
    json_object_put(expected);
}

static const char *member_string(json_object *doc, const char *key)
{
    return mcpauth_json_string(doc, key);
}

/* --- mcpauth_client_metadata_apply -------------------------------------- */

START_TEST(apply_sets_every_member)
{
    static const char *redirects[] = {"https://app.example/cb", "http://127.0.0.1:9000/cb"};
    static const char *grants[] = {"authorization_code"};
    static const char *responses[] = {"code"};
    static const char *contacts[] = {"ops@example.com", "dev@example.com"};
    mcpauth_client_metadata_input in = {
        .client_name = "My Client",
        .redirect_uris = {redirects, 2},
        .grant_types = {grants, 1},
        .response_types = {responses, 1},
        .contacts = {contacts, 2},
        .scope = "mcp read",
        .token_endpoint_auth_method = "client_secret_post",
        .application_type = "web",
        .client_uri = "https://app.example/",
        .logo_uri = "https://app.example/logo.png",
        .tos_uri = "https://app.example/tos",
        .policy_uri = "https://app.example/policy",
        .jwks_uri = "https://app.example/jwks.json",
        .software_id = "4NRB1-0XZABZI9E6-5SM3R",
        .software_version = "2.1",
        .software_statement = "eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.c2ln",
    };
    json_object *doc = json_object_new_object();
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_apply(doc, &in, &err), MCPAUTH_OK);
    assert_doc_eq(doc,
                  "{\"client_name\":\"My Client\","
                  "\"redirect_uris\":[\"https://app.example/cb\",\"http://127.0.0.1:9000/cb\"],"
                  "\"grant_types\":[\"authorization_code\"],"
                  "\"response_types\":[\"code\"],"
                  "\"contacts\":[\"ops@example.com\",\"dev@example.com\"],"
                  "\"scope\":\"mcp read\","
                  "\"token_endpoint_auth_method\":\"client_secret_post\","
                  "\"application_type\":\"web\","
                  "\"client_uri\":\"https://app.example/\","
                  "\"logo_uri\":\"https://app.example/logo.png\","
                  "\"tos_uri\":\"https://app.example/tos\","
                  "\"policy_uri\":\"https://app.example/policy\","
                  "\"jwks_uri\":\"https://app.example/jwks.json\","
                  "\"software_id\":\"4NRB1-0XZABZI9E6-5SM3R\","
                  "\"software_version\":\"2.1\","
                  "\"software_statement\":\"eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.c2ln\"}");
    json_object_put(doc);
}
END_TEST

START_TEST(apply_nothing_given_keeps_doc)
{
    mcpauth_client_metadata_input in = {0};
    const char *text = "{\"client_name\":\"base\",\"redirect_uris\":[\"https://a/cb\"],"
                       "\"x_extension\":{\"k\":1}}";
    json_object *doc = doc_from(text);
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_apply(doc, &in, &err), MCPAUTH_OK);
    assert_doc_eq(doc, text);
    json_object_put(doc);
}
END_TEST

START_TEST(apply_replaces_base_values)
{
    static const char *redirects[] = {"http://localhost:1234/cb"};
    mcpauth_client_metadata_input in = {
        .client_name = "override",
        .redirect_uris = {redirects, 1},
        .scope = "new",
    };
    json_object *doc = doc_from("{\"client_name\":\"base\",\"redirect_uris\":[\"https://a/cb\","
                                "\"https://b/cb\"],\"scope\":\"old\",\"grant_types\":[\"x\"],"
                                "\"x_extension\":true}");
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_apply(doc, &in, &err), MCPAUTH_OK);
    assert_doc_eq(doc, "{\"client_name\":\"override\","
                       "\"redirect_uris\":[\"http://localhost:1234/cb\"],\"scope\":\"new\","
                       "\"grant_types\":[\"x\"],\"x_extension\":true}");
    json_object_put(doc);
}
END_TEST

START_TEST(apply_jwks_uri_removes_jwks)
{
    mcpauth_client_metadata_input in = {.jwks_uri = "https://app.example/jwks"};
    json_object *doc = doc_from("{\"jwks\":{\"keys\":[]},\"client_name\":\"c\"}");
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_apply(doc, &in, &err), MCPAUTH_OK);
    assert_doc_eq(doc, "{\"jwks_uri\":\"https://app.example/jwks\",\"client_name\":\"c\"}");
    ck_assert_int_eq(mcpauth_client_metadata_validate(doc, &err), MCPAUTH_OK);
    json_object_put(doc);
}
END_TEST

START_TEST(apply_without_jwks_uri_keeps_jwks)
{
    mcpauth_client_metadata_input in = {.client_name = "n"};
    json_object *doc = doc_from("{\"jwks\":{\"keys\":[]}}");
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_apply(doc, &in, &err), MCPAUTH_OK);
    assert_doc_eq(doc, "{\"jwks\":{\"keys\":[]},\"client_name\":\"n\"}");
    json_object_put(doc);
}
END_TEST

/* --- mcpauth_client_metadata_defaults ----------------------------------- */

static const char seed_defaults[] = "{\"client_name\":\"mcpauth\","
                                    "\"redirect_uris\":[\"http://localhost:6274/oauth/callback\","
                                    "\"http://localhost:6274/oauth/callback/debug\"],"
                                    "\"grant_types\":[\"authorization_code\",\"refresh_token\"],"
                                    "\"scope\":\"mcp\","
                                    "\"token_endpoint_auth_method\":\"client_secret_basic\"}";

START_TEST(defaults_equal_seed)
{
    json_object *doc = json_object_new_object();
    mcpauth_error err = {0};

    ck_assert_str_eq(MCPAUTH_INSPECTOR_REDIRECT_URI, "http://localhost:6274/oauth/callback");
    ck_assert_str_eq(MCPAUTH_INSPECTOR_REDIRECT_URI_DEBUG,
                     "http://localhost:6274/oauth/callback/debug");
    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    assert_doc_eq(doc, seed_defaults);
    ck_assert_int_eq(mcpauth_client_metadata_validate(doc, &err), MCPAUTH_OK);
    json_object_put(doc);
}
END_TEST

START_TEST(defaults_keep_present_members)
{
    const char *text = "{\"client_name\":\"mine\","
                       "\"redirect_uris\":[\"https://app.example/cb\"],"
                       "\"grant_types\":[\"authorization_code\"],"
                       "\"scope\":\"other\","
                       "\"token_endpoint_auth_method\":\"none\"}";
    json_object *doc = doc_from(text);
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    assert_doc_eq(doc, text);
    json_object_put(doc);
}
END_TEST

START_TEST(defaults_fill_only_missing)
{
    json_object *doc = doc_from("{\"scope\":\"s\",\"x\":1}");
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    assert_doc_eq(doc, "{\"client_name\":\"mcpauth\","
                       "\"redirect_uris\":[\"http://localhost:6274/oauth/callback\","
                       "\"http://localhost:6274/oauth/callback/debug\"],"
                       "\"grant_types\":[\"authorization_code\",\"refresh_token\"],"
                       "\"scope\":\"s\",\"x\":1,"
                       "\"token_endpoint_auth_method\":\"client_secret_basic\"}");
    json_object_put(doc);
}
END_TEST

START_TEST(defaults_no_redirects_without_authorization_code)
{
    json_object *doc = doc_from("{\"grant_types\":[\"client_credentials\"]}");
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    ck_assert(!json_object_object_get_ex(doc, "redirect_uris", NULL));
    /* RFC 7591 §2: response_types would default to ["code"]; say "none". */
    assert_doc_eq(doc, "{\"grant_types\":[\"client_credentials\"],\"client_name\":\"mcpauth\","
                       "\"response_types\":[],"
                       "\"scope\":\"mcp\",\"token_endpoint_auth_method\":\"client_secret_basic\"}");
    json_object_put(doc);
}
END_TEST

START_TEST(defaults_keep_given_response_types)
{
    json_object *doc = doc_from("{\"grant_types\":[\"client_credentials\"],"
                                "\"response_types\":[\"token\"]}");
    mcpauth_error err = {0};
    json_object *types = NULL;

    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    ck_assert(json_object_object_get_ex(doc, "response_types", &types));
    ck_assert_uint_eq(json_object_array_length(types), 1);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(types, 0)), "token");
    json_object_put(doc);
}
END_TEST

START_TEST(defaults_implicit_grant_no_empty_response_types)
{
    json_object *doc = doc_from("{\"grant_types\":[\"implicit\"],"
                                "\"redirect_uris\":[\"https://app.example/cb\"]}");
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    ck_assert(!json_object_object_get_ex(doc, "response_types", NULL));
    json_object_put(doc);
}
END_TEST

START_TEST(defaults_redirects_for_given_authorization_code)
{
    json_object *doc = doc_from("{\"grant_types\":[\"refresh_token\",\"authorization_code\"]}");
    mcpauth_error err = {0};
    json_object *redirects = NULL;

    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    ck_assert(json_object_object_get_ex(doc, "redirect_uris", &redirects));
    ck_assert_uint_eq(json_object_array_length(redirects), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(redirects, 0)),
                     MCPAUTH_INSPECTOR_REDIRECT_URI);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(redirects, 1)),
                     MCPAUTH_INSPECTOR_REDIRECT_URI_DEBUG);
    json_object_put(doc);
}
END_TEST

START_TEST(defaults_empty_redirect_list_kept)
{
    json_object *doc = doc_from("{\"redirect_uris\":[]}");
    mcpauth_error err = {0};
    json_object *redirects = NULL;

    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    ck_assert(json_object_object_get_ex(doc, "redirect_uris", &redirects));
    ck_assert_uint_eq(json_object_array_length(redirects), 0);
    json_object_put(doc);
}
END_TEST

START_TEST(defaults_then_apply)
{
    /* The order register uses: base document, command line, then defaults. */
    static const char *grants[] = {"client_credentials"};
    mcpauth_client_metadata_input in = {.client_name = "cli", .grant_types = {grants, 1}};
    json_object *doc = json_object_new_object();
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_apply(doc, &in, &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    ck_assert_str_eq(member_string(doc, "client_name"), "cli");
    ck_assert(!json_object_object_get_ex(doc, "redirect_uris", NULL));
    json_object *types = NULL;
    ck_assert(json_object_object_get_ex(doc, "response_types", &types));
    ck_assert_uint_eq(json_object_array_length(types), 0);
    ck_assert_str_eq(member_string(doc, "scope"), "mcp");
    ck_assert_int_eq(mcpauth_client_metadata_validate(doc, &err), MCPAUTH_OK);
    json_object_put(doc);
}
END_TEST

/* --- mcpauth_client_metadata_set_application_type ----------------------- */

typedef struct app_type_case {
    const char *doc;
    const char *expected;
} app_type_case;

static const app_type_case app_type_cases[] = {
    {"{\"redirect_uris\":[\"http://localhost:6274/oauth/callback\"]}", "native"},
    {"{\"redirect_uris\":[\"http://127.0.0.1:8080/cb\",\"http://[::1]/cb\","
     "\"http://localhost/\"]}",
     "native"},
    {"{\"redirect_uris\":[\"com.example.app:/oauth2redirect\"]}", "native"},
    {"{\"redirect_uris\":[\"http://localhost/cb\",\"com.example.app:/cb\"]}", "native"},
    {"{\"redirect_uris\":[\"https://app.example/cb\"]}", "web"},
    {"{\"redirect_uris\":[\"http://localhost/cb\",\"https://app.example/cb\"]}", "web"},
    {"{\"redirect_uris\":[\"https://localhost/cb\"]}", "web"},
    {"{\"redirect_uris\":[\"http://app.example/cb\"]}", "web"},
    {"{\"redirect_uris\":[]}", "web"},
    {"{}", "web"},
    {"{\"redirect_uris\":\"http://localhost/cb\"}", "web"},
    {"{\"application_type\":\"web\",\"redirect_uris\":[\"http://localhost/cb\"]}", "web"},
    {"{\"application_type\":\"native\",\"redirect_uris\":[\"https://app.example/cb\"]}", "native"},
};

START_TEST(application_type)
{
    const app_type_case *c = &app_type_cases[_i];
    json_object *doc = doc_from(c->doc);
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_set_application_type(doc, &err), MCPAUTH_OK);
    ck_assert_msg(member_string(doc, "application_type") &&
                      strcmp(member_string(doc, "application_type"), c->expected) == 0,
                  "%s -> %s, expected %s", c->doc, mcpauth_json_compact(doc), c->expected);
    json_object_put(doc);
}
END_TEST

START_TEST(application_type_keeps_non_string_value)
{
    /* An existing member is left for validate() to judge. */
    json_object *doc = doc_from("{\"application_type\":5}");
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_set_application_type(doc, &err), MCPAUTH_OK);
    assert_doc_eq(doc, "{\"application_type\":5}");
    json_object_put(doc);
}
END_TEST

START_TEST(application_type_after_defaults_is_native)
{
    json_object *doc = json_object_new_object();
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_defaults(doc, &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_client_metadata_set_application_type(doc, &err), MCPAUTH_OK);
    ck_assert_str_eq(member_string(doc, "application_type"), "native");
    ck_assert_int_eq(mcpauth_client_metadata_validate(doc, &err), MCPAUTH_OK);
    json_object_put(doc);
}
END_TEST

/* --- mcpauth_client_metadata_validate: accepted ------------------------- */

static const char *const good_docs[] = {
    "{}",
    "{\"redirect_uris\":[\"https://app.example/cb\",\"http://localhost:6274/oauth/callback\","
    "\"http://127.0.0.1:33418/\",\"http://[::1]/cb\",\"com.example.app:/cb\"]}",
    "{\"token_endpoint_auth_method\":\"none\"}",
    "{\"token_endpoint_auth_method\":\"client_secret_basic\"}",
    "{\"token_endpoint_auth_method\":\"client_secret_post\"}",
    "{\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks_uri\":\"https://a.example/j\"}",
    "{\"token_endpoint_auth_method\":\"client_secret_jwt\"}",
    "{\"token_endpoint_auth_method\":\"tls_client_auth\"}",
    "{\"token_endpoint_auth_method\":\"self_signed_tls_client_auth\"}",
    /* RFC 7591 §2: extension methods are absolute URIs */
    "{\"token_endpoint_auth_method\":\"urn:example:params:oauth:auth-method:custom\"}",
    "{\"token_endpoint_auth_method\":\"https://auth.example/methods/custom\"}",
    "{\"application_type\":\"native\"}",
    "{\"application_type\":\"web\"}",
    "{\"jwks\":{\"keys\":[]}}",
    "{\"client_name\":\"n\",\"scope\":\"a b\",\"software_id\":\"id\",\"software_version\":\"1\","
    "\"software_statement\":\"a.b.c\",\"client_uri\":\"https://a.example\","
    "\"logo_uri\":\"https://a.example/l.png\",\"tos_uri\":\"https://a.example/tos\","
    "\"policy_uri\":\"http://a.example/policy\",\"contacts\":[\"a@b.example\"],"
    "\"grant_types\":[\"authorization_code\",\"urn:ietf:params:oauth:grant-type:jwt-bearer\"],"
    "\"response_types\":[\"code\"]}",
    /* unknown members are the server's business */
    "{\"x_vendor\":[1,{\"y\":null}],\"client_id\":\"abc\"}",
};

START_TEST(validate_good)
{
    json_object *doc = doc_from(good_docs[_i]);
    mcpauth_error err = {0};

    ck_assert_msg(mcpauth_client_metadata_validate(doc, &err) == MCPAUTH_OK, "%s: %s",
                  good_docs[_i], err.message);
    json_object_put(doc);
}
END_TEST

/* --- mcpauth_client_metadata_validate: refused -------------------------- */

typedef struct bad_doc {
    const char *doc;
    const char *member; /* named in the message */
    const char *reason; /* also in the message */
} bad_doc;

static const bad_doc bad_docs[] = {
    {"{\"redirect_uris\":[\"http://app.example/cb\"]}", "redirect_uris", "non-loopback"},
    {"{\"redirect_uris\":[\"https://app.example/cb\",\"http://10.0.0.1/cb\"]}", "redirect_uris",
     "non-loopback"},
    {"{\"redirect_uris\":[\"https://app.example/cb#frag\"]}", "redirect_uris", "fragment"},
    {"{\"redirect_uris\":[\"http://localhost/cb#\"]}", "redirect_uris", "fragment"},
    {"{\"redirect_uris\":[\"/relative/cb\"]}", "redirect_uris", "absolute"},
    {"{\"redirect_uris\":[\"javascript:alert(1)\"]}", "redirect_uris", "not allowed"},
    {"{\"redirect_uris\":\"https://app.example/cb\"}", "redirect_uris", "must be an array"},
    {"{\"redirect_uris\":{}}", "redirect_uris", "must be an array"},
    {"{\"redirect_uris\":[5]}", "redirect_uris", "non-empty strings"},
    {"{\"redirect_uris\":[\"\"]}", "redirect_uris", "non-empty strings"},
    {"{\"grant_types\":\"authorization_code\"}", "grant_types", "must be an array"},
    {"{\"grant_types\":[null]}", "grant_types", "non-empty strings"},
    {"{\"response_types\":[true]}", "response_types", "non-empty strings"},
    {"{\"contacts\":[\"a@b\",\"\"]}", "contacts", "non-empty strings"},
    {"{\"client_name\":5}", "client_name", "must be a string"},
    {"{\"scope\":[\"mcp\"]}", "scope", "must be a string"},
    {"{\"software_id\":{}}", "software_id", "must be a string"},
    {"{\"software_version\":1.5}", "software_version", "must be a string"},
    {"{\"software_statement\":null}", "software_statement", "must be a string"},
    {"{\"token_endpoint_auth_method\":\"client_secret\"}", "token_endpoint_auth_method",
     "is not one of"},
    {"{\"token_endpoint_auth_method\":\"\"}", "token_endpoint_auth_method", "is not one of"},
    {"{\"token_endpoint_auth_method\":7}", "token_endpoint_auth_method", "must be a string"},
    {"{\"application_type\":\"desktop\"}", "application_type", "is not one of"},
    {"{\"application_type\":\"urn:example:type\"}", "application_type", "is not one of"},
    {"{\"application_type\":true}", "application_type", "must be a string"},
    {"{\"jwks\":{\"keys\":[]},\"jwks_uri\":\"https://a.example/jwks\"}", "jwks_uri",
     "must not both"},
    {"{\"jwks\":[]}", "jwks", "must be a JSON object"},
    {"{\"jwks\":\"{}\"}", "jwks", "must be a JSON object"},
    {"{\"client_uri\":\"not a url\"}", "client_uri", "invalid URL"},
    {"{\"client_uri\":\"app.example\"}", "client_uri", "not an absolute URL"},
    {"{\"client_uri\":\"https://\"}", "client_uri", "no host"},
    {"{\"logo_uri\":\"ftp://a.example/l.png\"}", "logo_uri", "not http or https"},
    {"{\"tos_uri\":\"https://a.example/tos#x\"}", "tos_uri", "fragment"},
    {"{\"policy_uri\":5}", "policy_uri", "must be a string"},
    {"{\"jwks_uri\":\"https://user@a.example/j\"}", "jwks_uri", "userinfo"},
};

START_TEST(validate_bad)
{
    const bad_doc *c = &bad_docs[_i];
    json_object *doc = doc_from(c->doc);
    mcpauth_error err = {0};

    ck_assert_msg(mcpauth_client_metadata_validate(doc, &err) == MCPAUTH_EUSAGE, "accepted %s",
                  c->doc);
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_msg(strncmp(err.message, "client metadata: ", 17) == 0, "%s", err.message);
    ck_assert_msg(strstr(err.message, c->member) != NULL, "%s: message %s lacks %s", c->doc,
                  err.message, c->member);
    ck_assert_msg(strstr(err.message, c->reason) != NULL, "%s: message %s lacks %s", c->doc,
                  err.message, c->reason);
    json_object_put(doc);
}
END_TEST

START_TEST(validate_lists_allowed_values)
{
    json_object *doc = doc_from("{\"application_type\":\"desktop\"}");
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_validate(doc, &err), MCPAUTH_EUSAGE);
    ck_assert_str_eq(err.message,
                     "client metadata: application_type \"desktop\" is not one of: native web");
    json_object_put(doc);

    doc = doc_from("{\"token_endpoint_auth_method\":\"basic\"}");
    ck_assert_int_eq(mcpauth_client_metadata_validate(doc, &err), MCPAUTH_EUSAGE);
    ck_assert_str_eq(err.message, "client metadata: token_endpoint_auth_method \"basic\" is not "
                                  "one of: none client_secret_basic client_secret_post "
                                  "private_key_jwt client_secret_jwt tls_client_auth "
                                  "self_signed_tls_client_auth");
    json_object_put(doc);
}
END_TEST

START_TEST(validate_long_enum_value_bounded)
{
    char text[4096];
    char value[3000];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    snprintf(text, sizeof text, "{\"application_type\":\"%s\"}", value);
    json_object *doc = doc_from(text);
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_validate(doc, &err), MCPAUTH_EUSAGE);
    ck_assert_uint_lt(strlen(err.message), MCPAUTH_ERROR_MESSAGE_MAX);
    ck_assert_ptr_nonnull(strstr(err.message, "application_type"));
    ck_assert_ptr_nonnull(strstr(err.message, "native web"));
    json_object_put(doc);
}
END_TEST

START_TEST(validate_not_an_object)
{
    json_object *array = json_object_new_array();
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_client_metadata_validate(array, &err), MCPAUTH_EUSAGE);
    ck_assert_str_eq(err.message, "client metadata must be a JSON object");
    json_object_put(array);
}
END_TEST

START_TEST(validate_null_err)
{
    /* mcpauth_error_set() accepts a NULL err, and so do the url and json
     * helpers; a caller asking only "is this valid?" may pass NULL. */
    static const char *const docs[] = {
        "{\"client_name\":5}",
        "{\"redirect_uris\":[\"http://app.example/cb\"]}",
        "{\"token_endpoint_auth_method\":\"bogus\"}",
        "{\"application_type\":\"desktop\"}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_object *doc = doc_from(docs[i]);
        ck_assert_int_eq(mcpauth_client_metadata_validate(doc, NULL), MCPAUTH_EUSAGE);
        json_object_put(doc);
    }
}
END_TEST

/* --- mcpauth_client_metadata_strip_server_fields ------------------------ */

START_TEST(strip_server_fields)
{
    json_object *doc = doc_from("{\"client_id\":\"abc\",\"client_secret\":\"s\","
                                "\"registration_access_token\":\"rat\","
                                "\"registration_client_uri\":\"https://as/register/abc\","
                                "\"client_secret_expires_at\":0,\"client_id_issued_at\":1700000000,"
                                "\"redirect_uris\":[\"https://a/cb\"],\"client_name\":\"n\"}");

    mcpauth_client_metadata_strip_server_fields(doc);
    assert_doc_eq(doc, "{\"client_id\":\"abc\",\"client_secret\":\"s\","
                       "\"redirect_uris\":[\"https://a/cb\"],\"client_name\":\"n\"}");
    json_object_put(doc);
}
END_TEST

START_TEST(strip_server_fields_absent)
{
    const char *text = "{\"client_id\":\"abc\"}";
    json_object *doc = doc_from(text);

    mcpauth_client_metadata_strip_server_fields(doc);
    assert_doc_eq(doc, text);
    json_object_put(doc);
}
END_TEST

static Suite *client_metadata_suite(void)
{
    Suite *s = suite_create("client_metadata");

    TCase *tc = tcase_create("apply");
    tcase_add_test(tc, apply_sets_every_member);
    tcase_add_test(tc, apply_nothing_given_keeps_doc);
    tcase_add_test(tc, apply_replaces_base_values);
    tcase_add_test(tc, apply_jwks_uri_removes_jwks);
    tcase_add_test(tc, apply_without_jwks_uri_keeps_jwks);
    suite_add_tcase(s, tc);

    tc = tcase_create("defaults");
    tcase_add_test(tc, defaults_equal_seed);
    tcase_add_test(tc, defaults_keep_present_members);
    tcase_add_test(tc, defaults_fill_only_missing);
    tcase_add_test(tc, defaults_no_redirects_without_authorization_code);
    tcase_add_test(tc, defaults_keep_given_response_types);
    tcase_add_test(tc, defaults_implicit_grant_no_empty_response_types);
    tcase_add_test(tc, defaults_redirects_for_given_authorization_code);
    tcase_add_test(tc, defaults_empty_redirect_list_kept);
    tcase_add_test(tc, defaults_then_apply);
    suite_add_tcase(s, tc);

    tc = tcase_create("application_type");
    tcase_add_loop_test(tc, application_type, 0,
                        (int)(sizeof app_type_cases / sizeof app_type_cases[0]));
    tcase_add_test(tc, application_type_keeps_non_string_value);
    tcase_add_test(tc, application_type_after_defaults_is_native);
    suite_add_tcase(s, tc);

    tc = tcase_create("validate");
    tcase_add_loop_test(tc, validate_good, 0, (int)(sizeof good_docs / sizeof good_docs[0]));
    tcase_add_loop_test(tc, validate_bad, 0, (int)(sizeof bad_docs / sizeof bad_docs[0]));
    tcase_add_test(tc, validate_lists_allowed_values);
    tcase_add_test(tc, validate_long_enum_value_bounded);
    tcase_add_test(tc, validate_not_an_object);
    tcase_add_test(tc, validate_null_err);
    suite_add_tcase(s, tc);

    tc = tcase_create("strip");
    tcase_add_test(tc, strip_server_fields);
    tcase_add_test(tc, strip_server_fields_absent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(client_metadata_suite());
}
