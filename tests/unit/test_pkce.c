/* PKCE (RFC 7636): verifiers, challenges and their syntax. The
 * authorization code grant's front channel has its own suite,
 * test_authorization.c. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/pkce.h"
#include "testlib.h"

/* RFC 7636 Appendix B. */
static const uint8_t rfc_octets[32] = {116, 24,  223, 180, 151, 153, 224, 37,  79,  250, 96,
                                       125, 216, 173, 187, 186, 22,  212, 37,  77,  105, 214,
                                       191, 240, 91,  88,  5,   88,  83,  132, 141, 121};
static const char rfc_verifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc_challenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/* --- PKCE ---------------------------------------------------------------- */

START_TEST(appendix_b_from_octets)
{
    mcpauth_pkce pkce;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_pkce_from_octets(rfc_octets, &pkce, &err), MCPAUTH_OK);
    ck_assert_str_eq(pkce.verifier, rfc_verifier);
    ck_assert_str_eq(pkce.challenge, rfc_challenge);
}
END_TEST

START_TEST(appendix_b_challenge)
{
    char challenge[MCPAUTH_PKCE_CHALLENGE_LENGTH + 1];
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_pkce_challenge_s256(rfc_verifier, challenge, &err), MCPAUTH_OK);
    ck_assert_str_eq(challenge, rfc_challenge);
}
END_TEST

START_TEST(challenge_of_longest_verifier)
{
    /* 128 characters: SHA-256 of "a" * 128, base64url (checked with
     * openssl dgst -sha256 and base64url). */
    char verifier[129];
    memset(verifier, 'a', 128);
    verifier[128] = '\0';
    char challenge[MCPAUTH_PKCE_CHALLENGE_LENGTH + 1];
    ck_assert_int_eq(mcpauth_pkce_challenge_s256(verifier, challenge, NULL), MCPAUTH_OK);
    ck_assert_uint_eq(strlen(challenge), 43);
    ck_assert_str_eq(challenge, "aDbPE7rEAOkQUHHNavRwhN-srU5eMCyUv-0k4BOvtz4");
}
END_TEST

START_TEST(generate_shape)
{
    mcpauth_pkce pkce;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_pkce_generate(&pkce, &err), MCPAUTH_OK);
    ck_assert_uint_eq(strlen(pkce.verifier), MCPAUTH_PKCE_VERIFIER_LENGTH);
    ck_assert_uint_eq(strlen(pkce.challenge), MCPAUTH_PKCE_CHALLENGE_LENGTH);
    ck_assert(mcpauth_pkce_verifier_valid(pkce.verifier));
    /* base64url only: no padding, no '+' or '/'. */
    ck_assert_uint_eq(strspn(pkce.verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                            "0123456789-_"),
                      43);
    char again[MCPAUTH_PKCE_CHALLENGE_LENGTH + 1];
    mcpauth_pkce_challenge_s256(pkce.verifier, again, NULL);
    ck_assert_str_eq(again, pkce.challenge);
    mcpauth_pkce_clear(&pkce);
}
END_TEST

START_TEST(generate_differs)
{
    mcpauth_pkce a, b;
    ck_assert_int_eq(mcpauth_pkce_generate(&a, NULL), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_pkce_generate(&b, NULL), MCPAUTH_OK);
    ck_assert_str_ne(a.verifier, b.verifier);
    ck_assert_str_ne(a.challenge, b.challenge);
}
END_TEST

START_TEST(clear_zeroes)
{
    mcpauth_pkce pkce;
    mcpauth_pkce_from_octets(rfc_octets, &pkce, NULL);
    mcpauth_pkce_clear(&pkce);
    static const mcpauth_pkce zero;
    ck_assert(memcmp(&pkce, &zero, sizeof pkce) == 0);
}
END_TEST

START_TEST(verifier_syntax)
{
    char text[130];
    memset(text, 'A', sizeof text);
    text[42] = '\0';
    ck_assert(!mcpauth_pkce_verifier_valid(text)); /* 42: too short */
    text[42] = 'A';
    text[43] = '\0';
    ck_assert(mcpauth_pkce_verifier_valid(text));
    text[43] = 'A';
    text[128] = '\0';
    ck_assert(mcpauth_pkce_verifier_valid(text));
    text[128] = 'A';
    text[129] = '\0';
    ck_assert(!mcpauth_pkce_verifier_valid(text)); /* 129: too long */
    ck_assert(mcpauth_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz0123456789-._~ABCDE"));
    ck_assert(!mcpauth_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz0123456789+ABCDEFGH"));
    ck_assert(!mcpauth_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz0123456789/ABCDEFGH"));
    ck_assert(!mcpauth_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz0123456789=ABCDEFGH"));
    ck_assert(!mcpauth_pkce_verifier_valid(""));
}
END_TEST

static Suite *pkce_suite(void)
{
    Suite *s = suite_create("pkce");

    TCase *tc = tcase_create("pkce");
    tcase_add_test(tc, appendix_b_from_octets);
    tcase_add_test(tc, appendix_b_challenge);
    tcase_add_test(tc, challenge_of_longest_verifier);
    tcase_add_test(tc, generate_shape);
    tcase_add_test(tc, generate_differs);
    tcase_add_test(tc, clear_zeroes);
    tcase_add_test(tc, verifier_syntax);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(pkce_suite());
}
