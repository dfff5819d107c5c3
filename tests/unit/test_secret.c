#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/secret.h"
#include "testlib.h"

/* --- mcpauth_secret_equal ----------------------------------------------- */

START_TEST(equal_same)
{
    ck_assert(mcpauth_secret_equal("s3cr3t", "s3cr3t"));
    char a[] = "token-value";
    char b[] = "token-value";
    ck_assert(mcpauth_secret_equal(a, b));
    ck_assert(mcpauth_secret_equal(a, a));
    ck_assert(mcpauth_secret_equal("\xc3\xa9\xff", "\xc3\xa9\xff"));
}
END_TEST

START_TEST(equal_empty)
{
    ck_assert(mcpauth_secret_equal("", ""));
    ck_assert(!mcpauth_secret_equal("", "a"));
    ck_assert(!mcpauth_secret_equal("a", ""));
}
END_TEST

START_TEST(unequal_same_length)
{
    ck_assert(!mcpauth_secret_equal("abcdef", "abcdeg"));
    ck_assert(!mcpauth_secret_equal("xbcdef", "abcdef"));
    ck_assert(!mcpauth_secret_equal("Secret", "secret"));
    ck_assert(!mcpauth_secret_equal("\x80", "\x81"));
    ck_assert(!mcpauth_secret_equal("\xff", "\x7f"));
}
END_TEST

START_TEST(unequal_lengths)
{
    ck_assert(!mcpauth_secret_equal("abc", "abcd"));
    ck_assert(!mcpauth_secret_equal("abcd", "abc"));
    ck_assert(!mcpauth_secret_equal("a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}
END_TEST

START_TEST(nulls_unequal)
{
    ck_assert(!mcpauth_secret_equal(NULL, NULL));
    ck_assert(!mcpauth_secret_equal(NULL, ""));
    ck_assert(!mcpauth_secret_equal("", NULL));
    ck_assert(!mcpauth_secret_equal("x", NULL));
    ck_assert(!mcpauth_secret_equal(NULL, "x"));
}
END_TEST

START_TEST(equal_long)
{
    size_t n = 100000;
    char *a = malloc(n + 1), *b = malloc(n + 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    memset(a, 'z', n);
    memset(b, 'z', n);
    a[n] = b[n] = '\0';
    ck_assert(mcpauth_secret_equal(a, b));
    b[n - 1] = 'y';
    ck_assert(!mcpauth_secret_equal(a, b));
    b[n - 1] = 'z';
    b[0] = 'y';
    ck_assert(!mcpauth_secret_equal(a, b));
    free(a);
    free(b);
}
END_TEST

/* --- mcpauth_secret_fingerprint ----------------------------------------- */

static void fingerprint(const char *secret, char out[MCPAUTH_FINGERPRINT_LENGTH + 1])
{
    memset(out, '#', MCPAUTH_FINGERPRINT_LENGTH + 1);
    mcpauth_secret_fingerprint(secret, out);
}

START_TEST(fingerprint_known_vectors)
{
    char out[MCPAUTH_FINGERPRINT_LENGTH + 1];

    ck_assert_int_eq(MCPAUTH_FINGERPRINT_LENGTH, 12);
    /* FIPS 180-2 test vectors: the first 12 hex digits of SHA-256. */
    fingerprint("abc", out);
    ck_assert_str_eq(out, "ba7816bf8f01");
    fingerprint("", out);
    ck_assert_str_eq(out, "e3b0c44298fc");
    fingerprint("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", out);
    ck_assert_str_eq(out, "248d6a61d206");
    fingerprint("The quick brown fox jumps over the lazy dog", out);
    ck_assert_str_eq(out, "d7a8fbb307d7");
}
END_TEST

START_TEST(fingerprint_shape)
{
    static const char *inputs[] = {"a", "client-secret-1", "\xff\xfe", "with space", "0"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char out[MCPAUTH_FINGERPRINT_LENGTH + 1];
        fingerprint(inputs[i], out);
        ck_assert_uint_eq(strlen(out), MCPAUTH_FINGERPRINT_LENGTH);
        for (size_t j = 0; j < MCPAUTH_FINGERPRINT_LENGTH; j++)
            ck_assert_msg(strchr("0123456789abcdef", out[j]) != NULL, "%s has %c", out, out[j]);
    }
}
END_TEST

START_TEST(fingerprint_deterministic)
{
    char a[MCPAUTH_FINGERPRINT_LENGTH + 1], b[MCPAUTH_FINGERPRINT_LENGTH + 1];
    char copy[] = "registration-access-token";

    fingerprint("registration-access-token", a);
    fingerprint(copy, b);
    ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(fingerprint_differs)
{
    char a[MCPAUTH_FINGERPRINT_LENGTH + 1], b[MCPAUTH_FINGERPRINT_LENGTH + 1];

    fingerprint("secret-1", a);
    fingerprint("secret-2", b);
    ck_assert_str_ne(a, b);
    fingerprint("Secret-1", b);
    ck_assert_str_ne(a, b);
    fingerprint("secret-1 ", b);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(fingerprint_does_not_contain_secret)
{
    char out[MCPAUTH_FINGERPRINT_LENGTH + 1];

    fingerprint("abcdef012345", out);
    ck_assert_str_ne(out, "abcdef012345");
}
END_TEST

START_TEST(fingerprint_null_as_empty)
{
    char out[MCPAUTH_FINGERPRINT_LENGTH + 1];

    fingerprint(NULL, out);
    ck_assert_str_eq(out, "e3b0c44298fc");
}
END_TEST

/* --- mcpauth_secret_free ------------------------------------------------ */

START_TEST(free_null)
{
    mcpauth_secret_free(NULL);
}
END_TEST

START_TEST(free_strings)
{
    mcpauth_secret_free(strdup("a secret"));
    mcpauth_secret_free(strdup(""));
    char *big = malloc(5000);
    ck_assert_ptr_nonnull(big);
    memset(big, 's', 4999);
    big[4999] = '\0';
    mcpauth_secret_free(big);
}
END_TEST

static Suite *secret_suite(void)
{
    Suite *s = suite_create("secret");

    TCase *tc = tcase_create("equal");
    tcase_add_test(tc, equal_same);
    tcase_add_test(tc, equal_empty);
    tcase_add_test(tc, unequal_same_length);
    tcase_add_test(tc, unequal_lengths);
    tcase_add_test(tc, nulls_unequal);
    tcase_add_test(tc, equal_long);
    suite_add_tcase(s, tc);

    tc = tcase_create("fingerprint");
    tcase_add_test(tc, fingerprint_known_vectors);
    tcase_add_test(tc, fingerprint_shape);
    tcase_add_test(tc, fingerprint_deterministic);
    tcase_add_test(tc, fingerprint_differs);
    tcase_add_test(tc, fingerprint_does_not_contain_secret);
    tcase_add_test(tc, fingerprint_null_as_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("free");
    tcase_add_test(tc, free_null);
    tcase_add_test(tc, free_strings);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(secret_suite());
}
