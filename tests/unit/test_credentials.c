#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcpauth/credentials.h"
#include "mcpauth/fileio.h"
#include "mcpauth/json.h"
#include "testlib.h"

/* A directory per test case (the unchecked fixture, run by the runner, so it
 * is removed even when a forked test dies) holding a directory per test. */
static char base_dir[64];
static char test_dir[128];

static void make_base_dir(void)
{
    testlib_tmpdir_make(base_dir, sizeof base_dir, "mcpauth-creds");
}

static void remove_base_dir(void)
{
    testlib_tmpdir_remove(base_dir);
}

static char creds_path[160];

static void make_test_dir(void)
{
    testlib_tmpdir_make_in(test_dir, sizeof test_dir, base_dir);
    snprintf(creds_path, sizeof creds_path, "%s/credentials.json", test_dir);
}

static void remove_test_dir(void)
{
    testlib_tmpdir_remove(test_dir);
}

static char *get_file(const char *path)
{
    char *data = NULL;
    mcpauth_error err = {0};
    ck_assert_msg(mcpauth_file_read(path, 1 << 20, &data, NULL, &err) == MCPAUTH_OK, "%s",
                  err.message);
    return data;
}

static json_object *obj_from(const char *text)
{
    mcpauth_error err = {0};
    json_object *obj = mcpauth_json_parse_object(text, strlen(text), "test", &err);
    ck_assert_msg(obj != NULL, "%s: %s", text, err.message);
    return obj;
}

static void assert_client_eq(const mcpauth_credentials *creds, const char *expected_text)
{
    json_object *expected = obj_from(expected_text);
    ck_assert_msg(json_object_equal(creds->client, expected), "client %s\nexpected %s",
                  mcpauth_json_compact(creds->client), expected_text);
    json_object_put(expected);
}

static const char full_client[] =
    "{\"client_id\":\"client-123\",\"client_secret\":\"s3cr3t\","
    "\"client_id_issued_at\":1700000000,\"client_secret_expires_at\":1893456000,"
    "\"registration_access_token\":\"rat-1\","
    "\"registration_client_uri\":\"https://as.example/register/client-123\","
    "\"redirect_uris\":[\"http://localhost:6274/oauth/callback\"],\"client_name\":\"mcpauth\"}";

static void make_creds(mcpauth_credentials *creds, const char *client_text)
{
    creds->issuer = strdup("https://as.example");
    creds->registration_endpoint = strdup("https://as.example/register");
    creds->client = obj_from(client_text);
    ck_assert_ptr_nonnull(creds->issuer);
    ck_assert_ptr_nonnull(creds->registration_endpoint);
}

/* --- save and load ------------------------------------------------------ */

START_TEST(save_load_round_trip)
{
    mcpauth_credentials creds = {0}, loaded = {0};
    mcpauth_error err = {0};
    make_creds(&creds, full_client);

    mode_t old_umask = umask(0);
    mcpauth_status st = mcpauth_credentials_save(creds_path, &creds, false, &err);
    umask(old_umask);
    ck_assert_msg(st == MCPAUTH_OK, "%s", err.message);

    struct stat sb;
    ck_assert_int_eq(stat(creds_path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);

    ck_assert_msg(mcpauth_credentials_load(creds_path, &loaded, &err) == MCPAUTH_OK, "%s",
                  err.message);
    ck_assert_str_eq(loaded.issuer, "https://as.example");
    ck_assert_str_eq(loaded.registration_endpoint, "https://as.example/register");
    assert_client_eq(&loaded, full_client);
    ck_assert_str_eq(mcpauth_credentials_client_id(&loaded), "client-123");
    ck_assert_str_eq(mcpauth_credentials_client_secret(&loaded), "s3cr3t");
    mcpauth_credentials_free(&loaded);
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(save_file_layout)
{
    mcpauth_credentials creds = {0};
    mcpauth_error err = {0};
    make_creds(&creds, full_client);
    ck_assert_int_eq(mcpauth_credentials_save(creds_path, &creds, false, &err), MCPAUTH_OK);

    char *text = get_file(creds_path);
    size_t length = strlen(text);
    ck_assert_uint_gt(length, 2);
    ck_assert_int_eq(text[0], '{');
    ck_assert_int_eq(text[length - 1], '\n');
    ck_assert_int_ne(text[length - 2], '\n');
    /* Pretty-printed, with URLs left readable. */
    ck_assert_ptr_nonnull(strstr(text, "\n  \"version\": 1,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"issuer\": \"https://as.example\""));
    ck_assert_ptr_nonnull(
        strstr(text, "\"registration_endpoint\": \"https://as.example/register\""));
    ck_assert_ptr_null(strstr(text, "\\/"));

    json_object *doc = obj_from(text);
    json_object *member = NULL;
    ck_assert(json_object_object_get_ex(doc, "version", &member));
    ck_assert(json_object_is_type(member, json_type_int));
    ck_assert_int_eq(json_object_get_int(member), MCPAUTH_CREDENTIALS_VERSION);
    ck_assert_int_eq(MCPAUTH_CREDENTIALS_VERSION, 1);
    ck_assert_str_eq(mcpauth_json_string(doc, "issuer"), "https://as.example");
    ck_assert_str_eq(mcpauth_json_string(doc, "registration_endpoint"),
                     "https://as.example/register");
    ck_assert(json_object_object_get_ex(doc, "client", &member));
    ck_assert(json_object_equal(member, creds.client));
    ck_assert_int_eq(json_object_object_length(doc), 4);
    json_object_put(doc);
    free(text);
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(save_without_issuer)
{
    mcpauth_credentials creds = {.client = obj_from("{\"client_id\":\"x\"}")};
    mcpauth_credentials loaded = {0};
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_credentials_save(creds_path, &creds, false, &err), MCPAUTH_OK);
    char *text = get_file(creds_path);
    ck_assert_ptr_null(strstr(text, "issuer"));
    ck_assert_ptr_null(strstr(text, "registration_endpoint"));
    free(text);
    ck_assert_int_eq(mcpauth_credentials_load(creds_path, &loaded, &err), MCPAUTH_OK);
    ck_assert_ptr_null(loaded.issuer);
    ck_assert_ptr_null(loaded.registration_endpoint);
    ck_assert_str_eq(mcpauth_credentials_client_id(&loaded), "x");
    mcpauth_credentials_free(&loaded);
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(save_refuses_overwrite)
{
    mcpauth_credentials creds = {0};
    mcpauth_error err = {0};
    make_creds(&creds, full_client);
    testlib_put_file(creds_path, "precious\n");

    ck_assert_int_eq(mcpauth_credentials_save(creds_path, &creds, false, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "refusing to overwrite"));
    ck_assert_ptr_nonnull(strstr(err.message, creds_path));
    char *text = get_file(creds_path);
    ck_assert_str_eq(text, "precious\n");
    free(text);
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(save_overwrite_replaces)
{
    mcpauth_credentials creds = {0}, loaded = {0};
    mcpauth_error err = {0};
    make_creds(&creds, full_client);
    testlib_put_file(creds_path, "old\n");
    ck_assert_int_eq(chmod(creds_path, 0644), 0);

    ck_assert_int_eq(mcpauth_credentials_save(creds_path, &creds, true, &err), MCPAUTH_OK);
    struct stat sb;
    ck_assert_int_eq(stat(creds_path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(mcpauth_credentials_load(creds_path, &loaded, &err), MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_credentials_client_id(&loaded), "client-123");
    mcpauth_credentials_free(&loaded);
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(save_does_not_modify_client)
{
    mcpauth_credentials creds = {0};
    mcpauth_error err = {0};
    make_creds(&creds, full_client);

    ck_assert_int_eq(mcpauth_credentials_save(creds_path, &creds, false, &err), MCPAUTH_OK);
    assert_client_eq(&creds, full_client);
    ck_assert_str_eq(creds.issuer, "https://as.example");
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(load_hand_written)
{
    mcpauth_credentials loaded = {0};
    mcpauth_error err = {0};
    testlib_put_file(creds_path,
                     "{\"version\":1,\"client\":{\"client_id\":\"abc\"},\"extra\":true}");

    ck_assert_int_eq(mcpauth_credentials_load(creds_path, &loaded, &err), MCPAUTH_OK);
    ck_assert_ptr_null(loaded.issuer);
    ck_assert_ptr_null(loaded.registration_endpoint);
    ck_assert_str_eq(mcpauth_credentials_client_id(&loaded), "abc");
    ck_assert_ptr_null(mcpauth_credentials_client_secret(&loaded));
    mcpauth_credentials_free(&loaded);
}
END_TEST

/* --- load: refused ------------------------------------------------------ */

static void expect_load_error(const char *expected_suffix)
{
    mcpauth_credentials loaded;
    mcpauth_error err = {0};

    memset(&loaded, 0xA5, sizeof loaded);
    ck_assert_int_eq(mcpauth_credentials_load(creds_path, &loaded, &err), MCPAUTH_ELOCAL);
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    ck_assert_ptr_null(loaded.client);
    ck_assert_ptr_null(loaded.issuer);
    ck_assert_ptr_null(loaded.registration_endpoint);
    char expected[512];
    snprintf(expected, sizeof expected, "%s%s", creds_path, expected_suffix);
    ck_assert_msg(strncmp(err.message, expected, strlen(expected)) == 0,
                  "message \"%s\" does not start with \"%s\"", err.message, expected);
    /* The file is named once, not repeated. */
    ck_assert_ptr_null(strstr(err.message + strlen(creds_path), creds_path));
    mcpauth_credentials_free(&loaded);
}

START_TEST(load_not_json)
{
    testlib_put_file(creds_path, "client_id=abc\n");
    expect_load_error(": credentials file is not valid JSON (");
}
END_TEST

START_TEST(load_truncated_json)
{
    testlib_put_file(creds_path, "{\"version\":1,\"client\":{\"client_id\":\"abc\"");
    expect_load_error(": credentials file is not valid JSON (");
}
END_TEST

START_TEST(load_trailing_garbage)
{
    testlib_put_file(creds_path, "{\"client\":{\"client_id\":\"abc\"}} trailing");
    expect_load_error(": credentials file ");
}
END_TEST

START_TEST(load_not_object)
{
    testlib_put_file(creds_path, "[{\"client_id\":\"abc\"}]");
    expect_load_error(": credentials file is not a JSON object");
}
END_TEST

START_TEST(load_empty_file)
{
    testlib_put_file(creds_path, "");
    expect_load_error(": credentials file is not valid JSON");
}
END_TEST

static const char *const bad_shapes[] = {
    "{\"version\":1}",
    "{\"version\":1,\"client\":\"abc\"}",
    "{\"version\":1,\"client\":[{\"client_id\":\"abc\"}]}",
    "{\"version\":1,\"client\":{}}",
    "{\"version\":1,\"client\":{\"client_secret\":\"s\"}}",
    "{\"version\":1,\"client\":{\"client_id\":5}}",
    "{\"version\":1,\"client\":{\"client_id\":null}}",
    "{\"client_id\":\"abc\"}",
};

START_TEST(load_bad_shape)
{
    testlib_put_file(creds_path, bad_shapes[_i]);
    expect_load_error(" is not an mcpauth credentials file (no client.client_id)");
}
END_TEST

START_TEST(load_missing_file)
{
    mcpauth_credentials loaded;
    mcpauth_error err = {0};
    memset(&loaded, 0xA5, sizeof loaded);

    ck_assert_int_eq(mcpauth_credentials_load(creds_path, &loaded, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_null(loaded.client);
    ck_assert_ptr_nonnull(strstr(err.message, "cannot open"));
    ck_assert_ptr_nonnull(strstr(err.message, creds_path));
}
END_TEST

START_TEST(load_too_large)
{
    size_t size = MCPAUTH_CREDENTIALS_MAX_BYTES + 10;
    char *text = malloc(size + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, ' ', size);
    memcpy(text, "{\"client\":{\"client_id\":\"a\"}}", 28);
    text[size] = '\0';
    testlib_put_file(creds_path, text);
    free(text);

    mcpauth_credentials loaded = {0};
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_credentials_load(creds_path, &loaded, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, creds_path));
    ck_assert_ptr_nonnull(strstr(err.message, "larger than 262144 bytes"));
}
END_TEST

START_TEST(load_null_err)
{
    mcpauth_credentials loaded = {0};

    testlib_put_file(creds_path, "not json");
    ck_assert_int_eq(mcpauth_credentials_load(creds_path, &loaded, NULL), MCPAUTH_ELOCAL);
    testlib_put_file(creds_path, "{}");
    ck_assert_int_eq(mcpauth_credentials_load(creds_path, &loaded, NULL), MCPAUTH_ELOCAL);
    ck_assert_ptr_null(loaded.client);
}
END_TEST

/* --- replace_client (RFC 7592 §2.1, §2.2) ------------------------------- */

START_TEST(replace_keeps_absent_members)
{
    mcpauth_credentials creds = {0};
    make_creds(&creds, full_client);
    json_object *response = obj_from("{\"client_id\":\"client-123\",\"client_name\":\"renamed\","
                                     "\"redirect_uris\":[\"https://app.example/cb\"]}");

    mcpauth_credentials_replace_client(&creds, response);
    ck_assert_ptr_eq(creds.client, response);
    assert_client_eq(&creds,
                     "{\"client_id\":\"client-123\",\"client_name\":\"renamed\","
                     "\"redirect_uris\":[\"https://app.example/cb\"],"
                     "\"registration_access_token\":\"rat-1\","
                     "\"registration_client_uri\":\"https://as.example/register/client-123\","
                     "\"client_secret\":\"s3cr3t\","
                     "\"client_secret_expires_at\":1893456000}");
    ck_assert_str_eq(creds.issuer, "https://as.example");
    ck_assert_str_eq(creds.registration_endpoint, "https://as.example/register");
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(replace_takes_new_values)
{
    /* MG-6: a rotated secret or registration token replaces the stored one. */
    mcpauth_credentials creds = {0};
    make_creds(&creds, full_client);
    const char *text = "{\"client_id\":\"client-123\",\"client_secret\":\"rotated\","
                       "\"client_secret_expires_at\":0,"
                       "\"registration_access_token\":\"rat-2\","
                       "\"registration_client_uri\":\"https://as.example/reg/v2/client-123\"}";

    mcpauth_credentials_replace_client(&creds, obj_from(text));
    assert_client_eq(&creds, text);
    ck_assert_str_eq(mcpauth_credentials_client_secret(&creds), "rotated");
    ck_assert_str_eq(mcpauth_credentials_registration_token(&creds), "rat-2");
    ck_assert_str_eq(mcpauth_credentials_client_uri(&creds),
                     "https://as.example/reg/v2/client-123");
    ck_assert_int_eq(mcpauth_credentials_secret_expiry(&creds), 0);
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(replace_new_client_id_drops_secret)
{
    mcpauth_credentials creds = {0};
    make_creds(&creds, full_client);

    mcpauth_credentials_replace_client(&creds, obj_from("{\"client_id\":\"client-456\"}"));
    ck_assert_str_eq(mcpauth_credentials_client_id(&creds), "client-456");
    ck_assert_ptr_null(mcpauth_credentials_client_secret(&creds));
    ck_assert_int_eq(mcpauth_credentials_secret_expiry(&creds), 0);
    ck_assert(!json_object_object_get_ex(creds.client, "client_secret_expires_at", NULL));
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(replace_then_save_and_load)
{
    mcpauth_credentials creds = {0}, loaded = {0};
    mcpauth_error err = {0};
    make_creds(&creds, full_client);
    ck_assert_int_eq(mcpauth_credentials_save(creds_path, &creds, false, &err), MCPAUTH_OK);

    mcpauth_credentials_replace_client(
        &creds, obj_from("{\"client_id\":\"client-123\",\"client_secret\":\"rotated\"}"));
    ck_assert_int_eq(mcpauth_credentials_save(creds_path, &creds, true, &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_credentials_load(creds_path, &loaded, &err), MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_credentials_client_secret(&loaded), "rotated");
    ck_assert_str_eq(mcpauth_credentials_registration_token(&loaded), "rat-1");
    mcpauth_credentials_free(&loaded);
    mcpauth_credentials_free(&creds);
}
END_TEST

/* --- accessors ---------------------------------------------------------- */

START_TEST(accessors_present)
{
    mcpauth_credentials creds = {0};
    make_creds(&creds, full_client);

    ck_assert_str_eq(mcpauth_credentials_client_id(&creds), "client-123");
    ck_assert_str_eq(mcpauth_credentials_client_secret(&creds), "s3cr3t");
    ck_assert_str_eq(mcpauth_credentials_client_uri(&creds),
                     "https://as.example/register/client-123");
    ck_assert_str_eq(mcpauth_credentials_registration_token(&creds), "rat-1");
    ck_assert_int_eq(mcpauth_credentials_secret_expiry(&creds), 1893456000LL);
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(accessors_absent)
{
    mcpauth_credentials creds = {.client = obj_from("{\"client_id\":\"c\"}")};

    ck_assert_str_eq(mcpauth_credentials_client_id(&creds), "c");
    ck_assert_ptr_null(mcpauth_credentials_client_secret(&creds));
    ck_assert_ptr_null(mcpauth_credentials_client_uri(&creds));
    ck_assert_ptr_null(mcpauth_credentials_registration_token(&creds));
    ck_assert_int_eq(mcpauth_credentials_secret_expiry(&creds), 0);
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(accessors_wrong_types)
{
    mcpauth_credentials creds = {
        .client = obj_from("{\"client_id\":\"c\",\"client_secret\":5,"
                           "\"registration_client_uri\":[],\"registration_access_token\":{}}")};

    ck_assert_ptr_null(mcpauth_credentials_client_secret(&creds));
    ck_assert_ptr_null(mcpauth_credentials_client_uri(&creds));
    ck_assert_ptr_null(mcpauth_credentials_registration_token(&creds));
    mcpauth_credentials_free(&creds);
}
END_TEST

typedef struct expiry_case {
    const char *client;
    long long expected;
} expiry_case;

static const expiry_case expiry_cases[] = {
    {"{\"client_id\":\"c\"}", 0},
    {"{\"client_id\":\"c\",\"client_secret_expires_at\":0}", 0},
    {"{\"client_id\":\"c\",\"client_secret_expires_at\":1700000000}", 1700000000LL},
    /* past 2038: needs 64 bits */
    {"{\"client_id\":\"c\",\"client_secret_expires_at\":4102444800}", 4102444800LL},
    {"{\"client_id\":\"c\",\"client_secret_expires_at\":\"1700000000\"}", 0},
    {"{\"client_id\":\"c\",\"client_secret_expires_at\":null}", 0},
    {"{\"client_id\":\"c\",\"client_secret_expires_at\":true}", 0},
};

START_TEST(secret_expiry)
{
    mcpauth_credentials creds = {.client = obj_from(expiry_cases[_i].client)};

    ck_assert_msg(mcpauth_credentials_secret_expiry(&creds) == expiry_cases[_i].expected,
                  "%s -> %lld", expiry_cases[_i].client, mcpauth_credentials_secret_expiry(&creds));
    mcpauth_credentials_free(&creds);
}
END_TEST

START_TEST(free_zeroes)
{
    mcpauth_credentials creds = {0};
    make_creds(&creds, full_client);

    mcpauth_credentials_free(&creds);
    ck_assert_ptr_null(creds.issuer);
    ck_assert_ptr_null(creds.registration_endpoint);
    ck_assert_ptr_null(creds.client);
    mcpauth_credentials_free(&creds); /* twice is fine */
}
END_TEST

static Suite *credentials_suite(void)
{
    Suite *s = suite_create("credentials");

    TCase *tc = tcase_create("save_load");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, remove_test_dir);
    tcase_add_test(tc, save_load_round_trip);
    tcase_add_test(tc, save_file_layout);
    tcase_add_test(tc, save_without_issuer);
    tcase_add_test(tc, save_refuses_overwrite);
    tcase_add_test(tc, save_overwrite_replaces);
    tcase_add_test(tc, save_does_not_modify_client);
    tcase_add_test(tc, load_hand_written);
    suite_add_tcase(s, tc);

    tc = tcase_create("load_refused");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, remove_test_dir);
    tcase_add_test(tc, load_not_json);
    tcase_add_test(tc, load_truncated_json);
    tcase_add_test(tc, load_trailing_garbage);
    tcase_add_test(tc, load_not_object);
    tcase_add_test(tc, load_empty_file);
    tcase_add_loop_test(tc, load_bad_shape, 0, (int)(sizeof bad_shapes / sizeof bad_shapes[0]));
    tcase_add_test(tc, load_missing_file);
    tcase_add_test(tc, load_too_large);
    tcase_add_test(tc, load_null_err);
    suite_add_tcase(s, tc);

    tc = tcase_create("replace_client");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, remove_test_dir);
    tcase_add_test(tc, replace_keeps_absent_members);
    tcase_add_test(tc, replace_takes_new_values);
    tcase_add_test(tc, replace_new_client_id_drops_secret);
    tcase_add_test(tc, replace_then_save_and_load);
    suite_add_tcase(s, tc);

    tc = tcase_create("accessors");
    tcase_add_test(tc, accessors_present);
    tcase_add_test(tc, accessors_absent);
    tcase_add_test(tc, accessors_wrong_types);
    tcase_add_loop_test(tc, secret_expiry, 0, (int)(sizeof expiry_cases / sizeof expiry_cases[0]));
    tcase_add_test(tc, free_zeroes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(credentials_suite());
}
