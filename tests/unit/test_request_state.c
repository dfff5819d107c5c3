/* The era bridge's sealed requestState (request_state.c): a round trip,
 * tampering with every byte of it, expiry, another principal, and a state
 * sealed by another process under its own key. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcpauth/base64url.h"
#include "src/mcp/mcp_internal.h"
#include "testlib.h"

#define NOW 1800000000000LL

static mcpauth__request_state sample(const char *subject, const char *client_id)
{
    mcpauth__request_state st = {.expires_ms = NOW + 300000, .handle = 42, .round = 3};
    mcpauth__request_state_owner(subject, client_id, st.owner);
    return st;
}

START_TEST(round_trip)
{
    mcpauth__request_state_key *key = mcpauth__request_state_key_new();
    ck_assert_ptr_nonnull(key);
    mcpauth__request_state st = sample("alice", "client-1");
    char *text = mcpauth__request_state_seal(key, &st);
    ck_assert_ptr_nonnull(text);
    mcpauth__request_state out;
    ck_assert_int_eq(mcpauth__request_state_open(key, text, st.owner, NOW, &out),
                     MCPAUTH__REQUEST_STATE_OK);
    ck_assert_int_eq(memcmp(out.owner, st.owner, sizeof st.owner), 0);
    ck_assert_int_eq(out.expires_ms, st.expires_ms);
    ck_assert_uint_eq(out.handle, 42);
    ck_assert_uint_eq(out.round, 3);
    /* A fresh nonce each time: the same state never seals to the same text. */
    char *again = mcpauth__request_state_seal(key, &st);
    ck_assert_str_ne(text, again);
    free(again);
    free(text);
    mcpauth__request_state_key_free(key);
}
END_TEST

/* Every byte of the sealed blob (version, nonce, ciphertext, tag), each
 * bit flipped in turn at one position per byte, fails the tag. */
START_TEST(tamper_every_byte)
{
    mcpauth__request_state_key *key = mcpauth__request_state_key_new();
    mcpauth__request_state st = sample("alice", "client-1");
    char *text = mcpauth__request_state_seal(key, &st);
    size_t n = 0;
    uint8_t *raw = mcpauth_base64url_decode(text, strlen(text), &n);
    ck_assert_ptr_nonnull(raw);
    ck_assert_uint_eq(n, 1 + 12 + 56 + 16);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            raw[i] ^= (uint8_t)(1u << bit);
            char *bad = mcpauth_base64url_encode(raw, n);
            mcpauth__request_state out;
            ck_assert_msg(mcpauth__request_state_open(key, bad, st.owner, NOW, &out) ==
                              MCPAUTH__REQUEST_STATE_FORGED,
                          "byte %zu bit %d accepted", i, bit);
            free(bad);
            raw[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Truncated, extended, empty, not base64url, absurdly long. */
    mcpauth__request_state out;
    char *shorter = strndup(text, strlen(text) - 1);
    ck_assert_int_eq(mcpauth__request_state_open(key, shorter, st.owner, NOW, &out),
                     MCPAUTH__REQUEST_STATE_FORGED);
    size_t len = strlen(text);
    char *longer = malloc(len + 5);
    memcpy(longer, text, len);
    memcpy(longer + len, "AAAA", 5);
    ck_assert_int_eq(mcpauth__request_state_open(key, longer, st.owner, NOW, &out),
                     MCPAUTH__REQUEST_STATE_FORGED);
    ck_assert_int_eq(mcpauth__request_state_open(key, "", st.owner, NOW, &out),
                     MCPAUTH__REQUEST_STATE_FORGED);
    ck_assert_int_eq(mcpauth__request_state_open(key, "***", st.owner, NOW, &out),
                     MCPAUTH__REQUEST_STATE_FORGED);
    char *huge = malloc(1 << 20);
    memset(huge, 'A', (1 << 20) - 1);
    huge[(1 << 20) - 1] = '\0';
    ck_assert_int_eq(mcpauth__request_state_open(key, huge, st.owner, NOW, &out),
                     MCPAUTH__REQUEST_STATE_FORGED);
    /* The conformance suite's tampering: a suffix. */
    char suffixed[512];
    snprintf(suffixed, sizeof suffixed, "%s-TAMPERED", text);
    ck_assert_int_eq(mcpauth__request_state_open(key, suffixed, st.owner, NOW, &out),
                     MCPAUTH__REQUEST_STATE_FORGED);
    free(huge);
    free(longer);
    free(shorter);
    free(raw);
    free(text);
    mcpauth__request_state_key_free(key);
}
END_TEST

START_TEST(expiry)
{
    mcpauth__request_state_key *key = mcpauth__request_state_key_new();
    mcpauth__request_state st = sample("alice", "client-1");
    char *text = mcpauth__request_state_seal(key, &st);
    mcpauth__request_state out;
    ck_assert_int_eq(mcpauth__request_state_open(key, text, st.owner, st.expires_ms - 1, &out),
                     MCPAUTH__REQUEST_STATE_OK);
    ck_assert_int_eq(mcpauth__request_state_open(key, text, st.owner, st.expires_ms, &out),
                     MCPAUTH__REQUEST_STATE_EXPIRED);
    ck_assert_int_eq(mcpauth__request_state_open(key, text, st.owner, NOW + 86400000, &out),
                     MCPAUTH__REQUEST_STATE_EXPIRED);
    free(text);
    mcpauth__request_state_key_free(key);
}
END_TEST

START_TEST(wrong_identity)
{
    mcpauth__request_state_key *key = mcpauth__request_state_key_new();
    mcpauth__request_state st = sample("alice", "client-1");
    char *text = mcpauth__request_state_seal(key, &st);
    const char *others[][2] = {
        {"bob", "client-1"}, {"alice", "client-2"}, {"alice", NULL},
        {NULL, NULL},        {"alicec", "lient-1"}, {"alice", ""},
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE];
        mcpauth__request_state_owner(others[i][0], others[i][1], owner);
        mcpauth__request_state out;
        ck_assert_msg(mcpauth__request_state_open(key, text, owner, NOW, &out) ==
                          MCPAUTH__REQUEST_STATE_FOREIGN,
                      "identity %zu accepted", i);
    }
    /* No token at all is a principal too, distinct from every token. */
    unsigned char anonymous[MCPAUTH__REQUEST_STATE_OWNER_SIZE],
        empty[MCPAUTH__REQUEST_STATE_OWNER_SIZE];
    mcpauth__request_state_owner(NULL, NULL, anonymous);
    mcpauth__request_state_owner("", "", empty);
    ck_assert_int_ne(memcmp(anonymous, empty, sizeof empty), 0);
    free(text);
    mcpauth__request_state_key_free(key);
}
END_TEST

/* Another process (a restarted server, another worker) has its own key:
 * what it sealed is forged here. */
START_TEST(wrong_key)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    mcpauth__request_state st = sample("alice", "client-1");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        mcpauth__request_state_key *theirs = mcpauth__request_state_key_new();
        char *text = theirs ? mcpauth__request_state_seal(theirs, &st) : NULL;
        ssize_t w = text ? write(fds[1], text, strlen(text)) : -1;
        _exit(w > 0 ? 0 : 1);
    }
    close(fds[1]);
    char text[512] = {0};
    size_t got = 0;
    for (ssize_t r; (r = read(fds[0], text + got, sizeof text - 1 - got)) > 0;)
        got += (size_t)r;
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    mcpauth__request_state_key *ours = mcpauth__request_state_key_new();
    mcpauth__request_state out;
    ck_assert_int_eq(mcpauth__request_state_open(ours, text, st.owner, NOW, &out),
                     MCPAUTH__REQUEST_STATE_FORGED);
    mcpauth__request_state_key_free(ours);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("request_state");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, tamper_every_byte);
    tcase_add_test(tc, expiry);
    tcase_add_test(tc, wrong_identity);
    tcase_add_test(tc, wrong_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(suite());
}
