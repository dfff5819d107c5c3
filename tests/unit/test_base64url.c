#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/base64url.h"
#include "testlib.h"

/* A fixed-seed generator: the same "random" inputs on every run. */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static void assert_decodes(const char *text, const void *expected, size_t expected_length)
{
    size_t length = 12345;
    uint8_t *decoded = mcpauth_base64url_decode(text, strlen(text), &length);
    ck_assert_msg(decoded != NULL, "\"%s\" refused", text);
    ck_assert_uint_eq(length, expected_length);
    ck_assert_mem_eq(decoded, expected, expected_length);
    ck_assert_int_eq(decoded[length], '\0');
    free(decoded);
}

static void assert_refused(const char *text, size_t length)
{
    size_t out_length = 12345;
    uint8_t *decoded = mcpauth_base64url_decode(text, length, &out_length);
    ck_assert_msg(decoded == NULL, "\"%.*s\" accepted", (int)length, text);
}

/* RFC 4648 §10, without the padding RFC 7515 §2 removes. */
START_TEST(rfc4648_vectors)
{
    static const struct {
        const char *plain;
        const char *encoded;
    } vectors[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char *encoded =
            mcpauth_base64url_encode((const uint8_t *)vectors[i].plain, strlen(vectors[i].plain));
        ck_assert_ptr_nonnull(encoded);
        ck_assert_str_eq(encoded, vectors[i].encoded);
        free(encoded);
        assert_decodes(vectors[i].encoded, vectors[i].plain, strlen(vectors[i].plain));
    }
}
END_TEST

/* RFC 4648 §5: '-' and '_' stand for base64's '+' and '/'. */
START_TEST(url_alphabet)
{
    static const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
    char *encoded = mcpauth_base64url_encode(bytes, sizeof bytes);
    ck_assert_str_eq(encoded, "-_-_");
    free(encoded);
    assert_decodes("-_-_", bytes, sizeof bytes);

    static const uint8_t all[] = {0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30,
                                  0xd3, 0x8f, 0x41, 0x14, 0x93, 0x51, 0x55, 0x97, 0x61, 0x96,
                                  0x9b, 0x71, 0xd7, 0x9f, 0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7,
                                  0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf, 0xc3, 0x1c, 0xb3, 0xd3,
                                  0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf};
    encoded = mcpauth_base64url_encode(all, sizeof all);
    ck_assert_str_eq(encoded, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    free(encoded);
}
END_TEST

START_TEST(round_trips)
{
    uint32_t state = 20240917;
    uint8_t data[301];
    for (size_t length = 0; length <= 300; length++) {
        for (int round = 0; round < 4; round++) {
            for (size_t i = 0; i < length; i++)
                data[i] = (uint8_t)next_random(&state);
            char *encoded = mcpauth_base64url_encode(data, length);
            ck_assert_ptr_nonnull(encoded);
            /* No padding: RFC 7515 §2. */
            ck_assert_uint_eq(strlen(encoded), (length * 8 + 5) / 6);
            ck_assert_ptr_null(strpbrk(encoded, "=+/ \n"));
            size_t decoded_length = 0;
            uint8_t *decoded = mcpauth_base64url_decode(encoded, strlen(encoded), &decoded_length);
            ck_assert_ptr_nonnull(decoded);
            ck_assert_uint_eq(decoded_length, length);
            if (length > 0)
                ck_assert_mem_eq(decoded, data, length);
            free(decoded);
            free(encoded);
        }
    }
}
END_TEST

START_TEST(refuses_padding)
{
    assert_refused("Zg==", 4);
    assert_refused("Zg=", 3);
    assert_refused("Zm8=", 4);
    assert_refused("=", 1);
    assert_refused("Zm9v====", 8);
}
END_TEST

/* base64's own alphabet is not base64url's (RFC 4648 §5). */
START_TEST(refuses_standard_alphabet)
{
    assert_refused("-_+/", 4);
    assert_refused("ab+c", 4);
    assert_refused("ab/c", 4);
}
END_TEST

START_TEST(refuses_whitespace_and_others)
{
    assert_refused("Zm9v Yg", 7);
    assert_refused("Zm9v\nYg", 7);
    assert_refused("Zm9vYg\r", 7);
    assert_refused(" Zm9v", 5);
    assert_refused("Zm9\tv", 5);
    assert_refused("Zm.v", 4);
    assert_refused("Zm9v\xc3\xa9", 6);
    /* An embedded NUL does not end the input early. */
    assert_refused("Zm9v\0Yg", 7);
}
END_TEST

/* One leftover character holds six bits: not a whole byte. */
START_TEST(refuses_length_mod_4_is_1)
{
    assert_refused("Z", 1);
    assert_refused("Zm9vY", 5);
    assert_refused("Zm9vYmFyZ", 9);
}
END_TEST

/* RFC 4648 §3.5: the bits below the last whole byte must be zero, so that
 * every byte string has exactly one encoding. */
START_TEST(refuses_trailing_bits)
{
    assert_decodes("QQ", "A", 1);
    assert_refused("QR", 2);
    assert_refused("QX", 2);
    assert_decodes("QUE", "AA", 2);
    assert_refused("QUF", 3);
    assert_refused("Zh", 2);
    assert_refused("Zm9", 3);
}
END_TEST

START_TEST(empty_input)
{
    size_t length = 99;
    uint8_t *decoded = mcpauth_base64url_decode("", 0, &length);
    ck_assert_ptr_nonnull(decoded);
    ck_assert_uint_eq(length, 0);
    ck_assert_int_eq(decoded[0], '\0');
    free(decoded);
    char *encoded = mcpauth_base64url_encode(NULL, 0);
    ck_assert_str_eq(encoded, "");
    free(encoded);
}
END_TEST

/* RFC 4648 §4: padded base64, the encoding MCP uses for header values
 * that are not plain text. */
START_TEST(base64_padded)
{
    static const struct {
        const char *in;
        const char *out; /* NULL: refused */
    } cases[] = {
        {"", ""},       {"Zg==", "f"},   {"Zm8=", "fo"}, {"Zm9v", "foo"}, {"+/8=", "\xfb\xff"},
        {"Zg", NULL},   {"Zg=", NULL},   {"Z===", NULL}, {"Zm=v", NULL},  {"-_8=", NULL},
        {"Zh==", NULL}, {"Zm9v ", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 99;
        uint8_t *out = mcpauth_base64_decode(cases[i].in, strlen(cases[i].in), &n);
        if (!cases[i].out) {
            ck_assert_msg(out == NULL, "\"%s\" accepted", cases[i].in);
            continue;
        }
        ck_assert_msg(out != NULL, "\"%s\" refused", cases[i].in);
        ck_assert_uint_eq(n, strlen(cases[i].out));
        ck_assert(memcmp(out, cases[i].out, n) == 0);
        free(out);
    }
}
END_TEST

static Suite *base64url_suite(void)
{
    Suite *s = suite_create("base64url");

    TCase *tc = tcase_create("encode_decode");
    tcase_add_test(tc, rfc4648_vectors);
    tcase_add_test(tc, url_alphabet);
    tcase_add_test(tc, round_trips);
    tcase_add_test(tc, empty_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("strict");
    tcase_add_test(tc, refuses_padding);
    tcase_add_test(tc, refuses_standard_alphabet);
    tcase_add_test(tc, refuses_whitespace_and_others);
    tcase_add_test(tc, refuses_length_mod_4_is_1);
    tcase_add_test(tc, refuses_trailing_bits);
    tcase_add_test(tc, base64_padded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(base64url_suite());
}
