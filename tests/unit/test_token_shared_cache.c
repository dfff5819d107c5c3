#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcpauth/token_shared_cache.h"
#include "testlib.h"

#define NOW          INT64_C(1767222100)
#define NOW_MS       UINT64_C(5000000)
#define TTL          300
#define NEGATIVE_TTL 30

static mcpauth_token_key key_of(const char *token)
{
    mcpauth_token_key key;
    mcpauth_token_key_of(token, strlen(token), &key);
    return key;
}

static char *entry_scopes[] = {"mcp", "mcp:admin"};
static char *entry_audiences[] = {"http://localhost:8000/mcp"};

static mcpauth_token_cache_entry valid_entry(const char *subject, int64_t exp)
{
    mcpauth_token_cache_entry entry = {.valid = true, .validated_by = "introspection"};
    entry.info.active = true;
    entry.info.subject = (char *)subject;
    entry.info.client_id = "client-1";
    entry.info.issuer = "https://as.example";
    entry.info.scopes = entry_scopes;
    entry.info.scope_count = 2;
    entry.info.audiences = entry_audiences;
    entry.info.audience_count = 1;
    entry.info.expires_at = exp;
    entry.info.issued_at = NOW - 10;
    return entry;
}

/* Runs fn in a child process (another worker) and returns its exit status. */
static int in_child(int (*fn)(mcpauth_token_shared_cache *), mcpauth_token_shared_cache *cache)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fn(cache));
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int child_reads_alice(mcpauth_token_shared_cache *cache)
{
    mcpauth_token_key key = key_of("alice-token");
    mcpauth_token_cache_entry out;
    if (!mcpauth_token_shared_cache_lookup(cache, &key, NOW + 1, &out))
        return 1;
    bool ok = out.valid && strcmp(out.info.subject, "alice") == 0 &&
              strcmp(out.info.client_id, "client-1") == 0 && !out.info.username &&
              strcmp(out.info.issuer, "https://as.example") == 0 && out.info.scope_count == 2 &&
              strcmp(out.info.scopes[1], "mcp:admin") == 0 && out.info.audience_count == 1 &&
              strcmp(out.info.audiences[0], "http://localhost:8000/mcp") == 0 &&
              out.info.expires_at == NOW + 100 && out.info.issued_at == NOW - 10 &&
              strcmp(out.validated_by, "introspection") == 0;
    mcpauth_token_info_free(&out.info);
    return ok ? 0 : 2;
}

START_TEST(shared_between_processes)
{
    mcpauth_token_shared_cache *cache = mcpauth_token_shared_cache_new(100, TTL, NEGATIVE_TTL);
    ck_assert_ptr_nonnull(cache);
    mcpauth_token_key key = key_of("alice-token");
    mcpauth_token_cache_entry entry = valid_entry("alice", NOW + 100);
    ck_assert(mcpauth_token_shared_cache_store(cache, &key, NOW, &entry));
    ck_assert_int_eq(in_child(child_reads_alice, cache), 0);
    /* The token's exp bounds the entry (RFC 7662 §4), before the ttl. */
    mcpauth_token_cache_entry out;
    ck_assert(!mcpauth_token_shared_cache_lookup(cache, &key, NOW + 100, &out));
    mcpauth_token_shared_cache_free(cache);
}
END_TEST

START_TEST(rejections_and_ttls)
{
    mcpauth_token_shared_cache *cache = mcpauth_token_shared_cache_new(100, TTL, NEGATIVE_TTL);
    mcpauth_token_key key = key_of("bad");
    mcpauth_token_cache_entry rejected = {.validated_by = "jwt"};
    snprintf(rejected.reason, sizeof rejected.reason, "signature invalid");
    ck_assert(mcpauth_token_shared_cache_store(cache, &key, NOW, &rejected));
    mcpauth_token_cache_entry out;
    ck_assert(mcpauth_token_shared_cache_lookup(cache, &key, NOW + NEGATIVE_TTL - 1, &out));
    ck_assert(!out.valid);
    ck_assert_str_eq(out.reason, "signature invalid");
    ck_assert_str_eq(out.validated_by, "jwt");
    ck_assert(!mcpauth_token_shared_cache_lookup(cache, &key, NOW + NEGATIVE_TTL, &out));
    /* A token already expired, or no exp and the ttl: */
    mcpauth_token_key k2 = key_of("expired");
    mcpauth_token_cache_entry expired = valid_entry("x", NOW - 1);
    ck_assert(!mcpauth_token_shared_cache_store(cache, &k2, NOW, &expired));
    mcpauth_token_cache_entry no_exp = valid_entry("y", 0);
    ck_assert(mcpauth_token_shared_cache_store(cache, &k2, NOW, &no_exp));
    ck_assert(mcpauth_token_shared_cache_lookup(cache, &k2, NOW + TTL - 1, &out));
    mcpauth_token_info_free(&out.info);
    ck_assert(!mcpauth_token_shared_cache_lookup(cache, &k2, NOW + TTL, &out));
    mcpauth_token_shared_cache_free(cache);
}
END_TEST

START_TEST(too_large_is_not_stored)
{
    mcpauth_token_shared_cache *cache = mcpauth_token_shared_cache_new(100, TTL, NEGATIVE_TTL);
    char subject[MCPAUTH_TOKEN_SHARED_ENTRY_SIZE + 1];
    memset(subject, 's', sizeof subject - 1);
    subject[sizeof subject - 1] = '\0';
    mcpauth_token_key key = key_of("big");
    mcpauth_token_cache_entry entry = valid_entry(subject, NOW + 100);
    ck_assert(!mcpauth_token_shared_cache_store(cache, &key, NOW, &entry));
    mcpauth_token_cache_entry out;
    ck_assert(!mcpauth_token_shared_cache_lookup(cache, &key, NOW, &out));
    mcpauth_token_shared_cache_free(cache);
}
END_TEST

START_TEST(bounded)
{
    /* Capacity 2: one set of two, least recently used first out. */
    mcpauth_token_shared_cache *cache = mcpauth_token_shared_cache_new(2, TTL, NEGATIVE_TTL);
    mcpauth_token_key a = key_of("a"), b = key_of("b"), c = key_of("c");
    mcpauth_token_cache_entry entry = valid_entry("s", NOW + 100);
    mcpauth_token_cache_entry out;
    ck_assert(mcpauth_token_shared_cache_store(cache, &a, NOW, &entry));
    ck_assert(mcpauth_token_shared_cache_store(cache, &b, NOW, &entry));
    ck_assert(mcpauth_token_shared_cache_lookup(cache, &a, NOW, &out)); /* a is newer now */
    mcpauth_token_info_free(&out.info);
    ck_assert(mcpauth_token_shared_cache_store(cache, &c, NOW, &entry));
    ck_assert(!mcpauth_token_shared_cache_lookup(cache, &b, NOW, &out));
    ck_assert(mcpauth_token_shared_cache_lookup(cache, &a, NOW, &out));
    mcpauth_token_info_free(&out.info);
    mcpauth_token_shared_cache_free(cache);

    /* 1000 tokens into 100 entries: at most 100 answer. */
    cache = mcpauth_token_shared_cache_new(100, TTL, NEGATIVE_TTL);
    char token[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(token, sizeof token, "token-%d", i);
        mcpauth_token_key k = key_of(token);
        mcpauth_token_shared_cache_store(cache, &k, NOW, &entry);
    }
    int found = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(token, sizeof token, "token-%d", i);
        mcpauth_token_key k = key_of(token);
        if (mcpauth_token_shared_cache_lookup(cache, &k, NOW, &out)) {
            found++;
            mcpauth_token_info_free(&out.info);
        }
    }
    ck_assert_int_le(found, 100);
    ck_assert_int_ge(found, 50);
    mcpauth_token_shared_cache_free(cache);
}
END_TEST

static int child_claims_t(mcpauth_token_shared_cache *cache)
{
    mcpauth_token_key key = key_of("t");
    return (int)mcpauth_token_shared_cache_claim(cache, &key, NOW, NOW_MS + 10, 1000);
}

static int child_claims_late(mcpauth_token_shared_cache *cache)
{
    mcpauth_token_key key = key_of("t");
    return (int)mcpauth_token_shared_cache_claim(cache, &key, NOW, NOW_MS + 1000, 1000);
}

static int child_claims_and_dies(mcpauth_token_shared_cache *cache)
{
    mcpauth_token_key key = key_of("orphan");
    return (int)mcpauth_token_shared_cache_claim(cache, &key, NOW, NOW_MS, 60000);
}

START_TEST(single_flight_claims)
{
    mcpauth_token_shared_cache *cache = mcpauth_token_shared_cache_new(100, TTL, NEGATIVE_TTL);
    mcpauth_token_key key = key_of("t");
    ck_assert_int_eq(mcpauth_token_shared_cache_claim(cache, &key, NOW, NOW_MS, 1000),
                     MCPAUTH_TOKEN_CLAIM_TAKEN);
    /* Another worker waits while the claim holds, and takes over once it lapses. */
    ck_assert_int_eq(in_child(child_claims_t, cache), MCPAUTH_TOKEN_CLAIM_BUSY);
    ck_assert_int_eq(in_child(child_claims_late, cache), MCPAUTH_TOKEN_CLAIM_TAKEN);
    /* Released without a result: the next asker takes it. */
    ck_assert_int_eq(mcpauth_token_shared_cache_claim(cache, &key, NOW, NOW_MS, 1000),
                     MCPAUTH_TOKEN_CLAIM_TAKEN);
    mcpauth_token_shared_cache_release(cache, &key);
    ck_assert_int_eq(in_child(child_claims_t, cache), MCPAUTH_TOKEN_CLAIM_TAKEN);
    /* A result ends the claim, and is what the others then find. */
    mcpauth_token_cache_entry entry = valid_entry("alice", NOW + 100);
    ck_assert(mcpauth_token_shared_cache_store(cache, &key, NOW, &entry));
    ck_assert_int_eq(in_child(child_claims_t, cache), MCPAUTH_TOKEN_CLAIM_BUSY);
    mcpauth_token_cache_entry out;
    ck_assert(mcpauth_token_shared_cache_lookup(cache, &key, NOW, &out));
    mcpauth_token_info_free(&out.info);
    /* The claim of a process that died lapses at once. */
    mcpauth_token_key orphan = key_of("orphan");
    ck_assert_int_eq(in_child(child_claims_and_dies, cache), MCPAUTH_TOKEN_CLAIM_TAKEN);
    ck_assert_int_eq(mcpauth_token_shared_cache_claim(cache, &orphan, NOW, NOW_MS, 1000),
                     MCPAUTH_TOKEN_CLAIM_TAKEN);
    mcpauth_token_shared_cache_free(cache);
}
END_TEST

/* A worker killed while it stores (so, often, while it holds a shard's
 * lock): the cache stays usable for the others. */
START_TEST(killed_holding_the_lock)
{
    mcpauth_token_shared_cache *cache = mcpauth_token_shared_cache_new(64, TTL, NEGATIVE_TTL);
    mcpauth_token_cache_entry entry = valid_entry("alice", NOW + 100);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            char token[32];
            for (unsigned i = 0;; i++) {
                snprintf(token, sizeof token, "k%u", i % 64);
                mcpauth_token_key k = key_of(token);
                mcpauth_token_shared_cache_store(cache, &k, NOW, &entry);
                mcpauth_token_shared_cache_claim(cache, &k, NOW, NOW_MS, 1000);
            }
        }
        struct timespec pause = {0, 1000000L * (1 + round % 5)};
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        for (int i = 0; i < 64; i++) {
            char token[32];
            snprintf(token, sizeof token, "k%d", i);
            mcpauth_token_key k = key_of(token);
            ck_assert(mcpauth_token_shared_cache_store(cache, &k, NOW, &entry));
            mcpauth_token_cache_entry out;
            ck_assert(mcpauth_token_shared_cache_lookup(cache, &k, NOW, &out));
            mcpauth_token_info_free(&out.info);
        }
    }
    mcpauth_token_shared_cache_free(cache);
}
END_TEST

static Suite *token_shared_cache_suite(void)
{
    Suite *s = suite_create("token_shared_cache");
    TCase *tc = tcase_create("entries");
    tcase_add_test(tc, shared_between_processes);
    tcase_add_test(tc, rejections_and_ttls);
    tcase_add_test(tc, too_large_is_not_stored);
    tcase_add_test(tc, bounded);
    suite_add_tcase(s, tc);
    tc = tcase_create("processes");
    tcase_add_test(tc, single_flight_claims);
    tcase_add_test(tc, killed_holding_the_lock);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(token_shared_cache_suite());
}
