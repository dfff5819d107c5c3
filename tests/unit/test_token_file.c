/* The token file of `mcpauth token`: what --refresh-token-file accepts
 * (a bare token or a saved document) and refuses, and what --output
 * writes (mode 0600, the response plus its origin, the old refresh token
 * kept when the server sent none). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcpauth/json.h"
#include "mcpauth/oauth_token_file.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/mcpauth-token-file-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tokens.json", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(load_bare_token)
{
    write_file("\n  rt-1.abc_DEF~  \r\n");
    mcpauth_oauth_token_file file;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_oauth_token_file_load(path, &file, &err), MCPAUTH_OK);
    ck_assert_str_eq(file.refresh_token, "rt-1.abc_DEF~");
    ck_assert_ptr_null(file.document);
    ck_assert_ptr_null(mcpauth_oauth_token_file_member(&file, "issuer"));
    mcpauth_oauth_token_file_free(&file);
}
END_TEST

START_TEST(load_document)
{
    write_file("{\"refresh_token\":\"rt-2\",\"issuer\":\"https://as.example\","
               "\"client_id\":\"c1\",\"version\":1}");
    mcpauth_oauth_token_file file;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_oauth_token_file_load(path, &file, &err), MCPAUTH_OK);
    ck_assert_str_eq(file.refresh_token, "rt-2");
    ck_assert_str_eq(mcpauth_oauth_token_file_member(&file, "issuer"), "https://as.example");
    ck_assert_str_eq(mcpauth_oauth_token_file_member(&file, "client_id"), "c1");
    mcpauth_oauth_token_file_free(&file);
}
END_TEST

/* Everything refused is the file's fault: a local error naming it. */
START_TEST(load_refused)
{
    const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"two words", "does not hold a refresh token"},
        {"", "does not hold a refresh token"},
        {"caf\xc3\xa9", "does not hold a refresh token"},
        {"{\"access_token\":\"a\"}", "holds no refresh_token"},
        {"{\"refresh_token\":\"has space\"}", "holds no refresh_token"},
        {"{\"refresh_token\":", "token file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(cases[i].text);
        mcpauth_oauth_token_file file;
        mcpauth_error err = {0};
        ck_assert_int_eq(mcpauth_oauth_token_file_load(path, &file, &err), MCPAUTH_ELOCAL);
        ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
        ck_assert_msg(strstr(err.message, path) && strstr(err.message, cases[i].message), "%s",
                      err.message);
        mcpauth_oauth_token_file_free(&file);
    }
    mcpauth_oauth_token_file file;
    mcpauth_error err = {0};
    unlink(path);
    ck_assert_int_eq(mcpauth_oauth_token_file_load(path, &file, &err), MCPAUTH_ELOCAL);
    mcpauth_oauth_token_file_free(&file);
}
END_TEST

static json_object *read_back(void)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert(n > 0 && buf[n - 1] == '\n');
    return json_tokener_parse(buf);
}

START_TEST(save_document)
{
    mcpauth_oauth_token_response resp = {0};
    resp.document =
        json_tokener_parse("{\"access_token\":\"at\",\"token_type\":\"Bearer\",\"expires_in\":60}");
    resp.access_token = "at";
    resp.token_type = "Bearer";
    resp.expires_in = 60;
    mcpauth_oauth_token_file_origin origin = {.issuer = "https://as.example",
                                        .client_id = "c1",
                                        .token_endpoint = "https://as.example/token",
                                        .refresh_token = "old-rt",
                                        .now = 1000};
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_oauth_token_file_save(path, &resp, &origin, false, &err), MCPAUTH_OK);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    json_object *doc = read_back();
    ck_assert_str_eq(mcpauth_json_string(doc, "access_token"), "at");
    ck_assert_str_eq(mcpauth_json_string(doc, "refresh_token"), "old-rt");
    ck_assert_str_eq(mcpauth_json_string(doc, "issuer"), "https://as.example");
    ck_assert_str_eq(mcpauth_json_string(doc, "client_id"), "c1");
    ck_assert_str_eq(mcpauth_json_string(doc, "token_endpoint"), "https://as.example/token");
    json_object *member = NULL;
    ck_assert(json_object_object_get_ex(doc, "obtained_at", &member));
    ck_assert_int_eq(json_object_get_int64(member), 1000);
    ck_assert(json_object_object_get_ex(doc, "expires_at", &member));
    ck_assert_int_eq(json_object_get_int64(member), 1060);
    ck_assert(json_object_object_get_ex(doc, "version", &member));
    ck_assert_int_eq(json_object_get_int(member), MCPAUTH_OAUTH_TOKEN_FILE_VERSION);
    json_object_put(doc);

    /* No overwrite without asking; a new refresh token replaces the old. */
    ck_assert_int_eq(mcpauth_oauth_token_file_save(path, &resp, &origin, false, &err), MCPAUTH_ELOCAL);
    json_object_object_add(resp.document, "refresh_token", json_object_new_string("new-rt"));
    resp.refresh_token = "new-rt";
    resp.expires_in = -1;
    ck_assert_int_eq(mcpauth_oauth_token_file_save(path, &resp, &origin, true, &err), MCPAUTH_OK);
    doc = read_back();
    ck_assert_str_eq(mcpauth_json_string(doc, "refresh_token"), "new-rt");
    ck_assert(!json_object_object_get_ex(doc, "expires_at", NULL));
    json_object_put(doc);

    /* What was saved reads back for the next refresh. */
    mcpauth_oauth_token_file file;
    ck_assert_int_eq(mcpauth_oauth_token_file_load(path, &file, &err), MCPAUTH_OK);
    ck_assert_str_eq(file.refresh_token, "new-rt");
    ck_assert_str_eq(mcpauth_oauth_token_file_member(&file, "client_id"), "c1");
    mcpauth_oauth_token_file_free(&file);
    json_object_put(resp.document);
}
END_TEST

static Suite *token_file_suite(void)
{
    Suite *s = suite_create("token_file");
    TCase *tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, load_bare_token);
    tcase_add_test(tc, load_document);
    tcase_add_test(tc, load_refused);
    tcase_add_test(tc, save_document);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(token_file_suite());
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
