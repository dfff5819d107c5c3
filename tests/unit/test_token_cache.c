#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/token_cache.h"
#include "testlib.h"

#define NOW          INT64_C(1767222100)
#define TTL          300
#define NEGATIVE_TTL 30

static mcpauth_token_key key_of(const char *token)
{
    mcpauth_token_key key;
    mcpauth_token_key_of(token, strlen(token), &key);
    return key;
}

/* A valid entry whose token expires at exp (0: no exp). The info's strings
 * are static; store() copies them. */
static char *entry_scopes[] = {"mcp"};
static char *entry_audiences[] = {"http://localhost:8000/mcp"};

static mcpauth_token_cache_entry valid_entry(const char *subject, int64_t exp)
{
    mcpauth_token_cache_entry entry = {.valid = true};
    entry.info.active = true;
    entry.info.subject = (char *)subject;
    entry.info.scopes = entry_scopes;
    entry.info.scope_count = 1;
    entry.info.audiences = entry_audiences;
    entry.info.audience_count = 1;
    entry.info.expires_at = exp;
    return entry;
}

static mcpauth_token_cache_entry rejected_entry(const char *reason)
{
    mcpauth_token_cache_entry entry = {.valid = false};
    snprintf(entry.reason, sizeof entry.reason, "%s", reason);
    return entry;
}

static void store_valid(mcpauth_token_cache *cache, const char *token, int64_t now, int64_t exp)
{
    mcpauth_token_key key = key_of(token);
    mcpauth_token_cache_entry entry = valid_entry(token, exp);
    mcpauth_token_cache_store(cache, &key, now, &entry);
}

/* True on a hit whose subject is the token's name (store_valid's convention). */
static bool hit(mcpauth_token_cache *cache, const char *token, int64_t now)
{
    mcpauth_token_key key = key_of(token);
    mcpauth_token_cache_entry out;
    if (!mcpauth_token_cache_lookup(cache, &key, now, &out))
        return false;
    ck_assert(out.valid);
    ck_assert_str_eq(out.info.subject, token);
    mcpauth_token_info_free(&out.info);
    return true;
}

/* --- keys --------------------------------------------------------------- */

START_TEST(key_sha256)
{
    mcpauth_token_key key = key_of("abc");
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    ck_assert_int_eq(memcmp(key.bytes, abc, sizeof abc), 0);

    char hex[13];
    memset(hex, 'X', sizeof hex);
    mcpauth_token_key_hex(&key, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01");

    mcpauth_token_key_of("", 0, &key);
    mcpauth_token_key_hex(&key, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc");

    /* the length counts, not a NUL */
    mcpauth_token_key_of("abcdef", 3, &key);
    ck_assert_int_eq(memcmp(key.bytes, abc, sizeof abc), 0);
}
END_TEST

/* --- lookup and store --------------------------------------------------- */

START_TEST(hit_and_miss)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(10, TTL, NEGATIVE_TTL);
    ck_assert_ptr_nonnull(cache);
    mcpauth_token_key key = key_of("token-a");
    mcpauth_token_cache_entry out;

    memset(&out, 'X', sizeof out);
    ck_assert(!mcpauth_token_cache_lookup(cache, &key, NOW, &out));
    ck_assert(!out.valid);
    ck_assert_ptr_null(out.info.subject);

    mcpauth_token_cache_entry entry = valid_entry("alice", NOW + 1000);
    entry.info.client_id = "c";
    entry.info.issuer = "http://127.0.0.1:3000";
    mcpauth_token_cache_store(cache, &key, NOW, &entry);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 1);

    ck_assert(mcpauth_token_cache_lookup(cache, &key, NOW + 1, &out));
    ck_assert(out.valid);
    ck_assert(out.info.active);
    ck_assert_str_eq(out.info.subject, "alice");
    ck_assert_ptr_ne(out.info.subject, entry.info.subject);
    ck_assert_str_eq(out.info.client_id, "c");
    ck_assert_str_eq(out.info.issuer, "http://127.0.0.1:3000");
    ck_assert_uint_eq(out.info.scope_count, 1);
    ck_assert_str_eq(out.info.scopes[0], "mcp");
    ck_assert_uint_eq(out.info.audience_count, 1);
    ck_assert_str_eq(out.info.audiences[0], "http://localhost:8000/mcp");
    ck_assert_int_eq(out.info.expires_at, NOW + 1000);
    mcpauth_token_info_free(&out.info);

    /* a second lookup gets its own copy */
    ck_assert(mcpauth_token_cache_lookup(cache, &key, NOW + 2, &out));
    ck_assert_str_eq(out.info.subject, "alice");
    mcpauth_token_info_free(&out.info);

    mcpauth_token_key other = key_of("token-b");
    ck_assert(!mcpauth_token_cache_lookup(cache, &other, NOW, &out));
    /* a key that differs in the last byte only */
    other = key;
    other.bytes[MCPAUTH_TOKEN_KEY_SIZE - 1] ^= 1;
    ck_assert(!mcpauth_token_cache_lookup(cache, &other, NOW, &out));
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 1);
    mcpauth_token_cache_free(cache);
}
END_TEST

START_TEST(entries_are_copies)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(10, TTL, NEGATIVE_TTL);
    mcpauth_token_key key = key_of("t");
    mcpauth_token_cache_entry entry = {.valid = true};
    entry.info.active = true;
    entry.info.subject = strdup("alice");
    entry.info.scopes = calloc(1, sizeof *entry.info.scopes);
    entry.info.scopes[0] = strdup("mcp");
    entry.info.scope_count = 1;
    entry.info.expires_at = NOW + 100;

    mcpauth_token_cache_store(cache, &key, NOW, &entry);
    entry.info.subject[0] = 'X';
    mcpauth_token_info_free(&entry.info);

    mcpauth_token_cache_entry out;
    ck_assert(mcpauth_token_cache_lookup(cache, &key, NOW, &out));
    ck_assert_str_eq(out.info.subject, "alice");
    ck_assert_str_eq(out.info.scopes[0], "mcp");
    out.info.subject[0] = 'Y';
    mcpauth_token_info_free(&out.info);

    ck_assert(mcpauth_token_cache_lookup(cache, &key, NOW, &out));
    ck_assert_str_eq(out.info.subject, "alice");
    mcpauth_token_info_free(&out.info);
    mcpauth_token_cache_free(cache);
}
END_TEST

START_TEST(lifetime_ttl_bound)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(10, TTL, NEGATIVE_TTL);

    /* exp far away: the ttl decides */
    store_valid(cache, "long", NOW, NOW + 10000);
    ck_assert(hit(cache, "long", NOW + TTL - 1));
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 1);
    ck_assert(!hit(cache, "long", NOW + TTL));
    /* dropped on the lookup that found it stale */
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 0);

    /* no exp: the ttl decides */
    store_valid(cache, "no-exp", NOW, 0);
    ck_assert(hit(cache, "no-exp", NOW + TTL - 1));
    ck_assert(!hit(cache, "no-exp", NOW + TTL));
    mcpauth_token_cache_free(cache);
}
END_TEST

START_TEST(lifetime_exp_bound)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(10, TTL, NEGATIVE_TTL);

    /* RFC 7662 §4: never served past the token's own exp */
    store_valid(cache, "short", NOW, NOW + 100);
    ck_assert(hit(cache, "short", NOW + 99));
    ck_assert(!hit(cache, "short", NOW + 100));
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 0);

    /* already expired, or expiring now: not stored at all */
    store_valid(cache, "expired", NOW, NOW - 1);
    store_valid(cache, "expiring", NOW, NOW);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 0);
    ck_assert(!hit(cache, "expired", NOW - 10));
    ck_assert(!hit(cache, "expiring", NOW - 10));

    /* earlier lookups never see a later entry as a miss */
    store_valid(cache, "one-second", NOW, NOW + 1);
    ck_assert(hit(cache, "one-second", NOW));
    ck_assert(!hit(cache, "one-second", NOW + 1));
    mcpauth_token_cache_free(cache);
}
END_TEST

START_TEST(negative_entries)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(10, TTL, NEGATIVE_TTL);
    mcpauth_token_key key = key_of("bad-token");
    mcpauth_token_cache_entry entry = rejected_entry("expired 12 s ago");
    mcpauth_token_cache_entry out;

    mcpauth_token_cache_store(cache, &key, NOW, &entry);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 1);
    ck_assert(mcpauth_token_cache_lookup(cache, &key, NOW + NEGATIVE_TTL - 1, &out));
    ck_assert(!out.valid);
    ck_assert_str_eq(out.reason, "expired 12 s ago");
    ck_assert(!out.info.active);
    ck_assert_ptr_null(out.info.subject);
    mcpauth_token_info_free(&out.info);
    ck_assert(!mcpauth_token_cache_lookup(cache, &key, NOW + NEGATIVE_TTL, &out));
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 0);

    /* a rejected entry's info is not kept, even if the caller filled it */
    entry.info.subject = "mallory";
    mcpauth_token_cache_store(cache, &key, NOW, &entry);
    ck_assert(mcpauth_token_cache_lookup(cache, &key, NOW, &out));
    ck_assert_ptr_null(out.info.subject);
    mcpauth_token_info_free(&out.info);

    /* an unterminated reason is cut, not overread */
    memset(entry.reason, 'r', sizeof entry.reason);
    mcpauth_token_cache_store(cache, &key, NOW, &entry);
    ck_assert(mcpauth_token_cache_lookup(cache, &key, NOW, &out));
    ck_assert_uint_eq(strlen(out.reason), sizeof out.reason - 1);
    mcpauth_token_cache_free(cache);
}
END_TEST

START_TEST(zero_ttls)
{
    /* negative ttl 0: rejections are not cached */
    mcpauth_token_cache *cache = mcpauth_token_cache_new(10, TTL, 0);
    mcpauth_token_key key = key_of("bad");
    mcpauth_token_cache_entry entry = rejected_entry("token is not active");
    mcpauth_token_cache_entry out;
    mcpauth_token_cache_store(cache, &key, NOW, &entry);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 0);
    ck_assert(!mcpauth_token_cache_lookup(cache, &key, NOW, &out));
    store_valid(cache, "good", NOW, NOW + 1000);
    ck_assert(hit(cache, "good", NOW));
    mcpauth_token_cache_free(cache);

    /* ttl 0: good results are not cached */
    cache = mcpauth_token_cache_new(10, 0, NEGATIVE_TTL);
    store_valid(cache, "good", NOW, NOW + 1000);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 0);
    mcpauth_token_cache_store(cache, &key, NOW, &entry);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 1);
    mcpauth_token_cache_free(cache);
}
END_TEST

START_TEST(disabled)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(0, TTL, NEGATIVE_TTL);
    ck_assert_ptr_nonnull(cache);
    mcpauth_token_key key = key_of("t");
    mcpauth_token_cache_entry entry = rejected_entry("no");
    mcpauth_token_cache_entry out;

    store_valid(cache, "t", NOW, NOW + 1000);
    mcpauth_token_cache_store(cache, &key, NOW, &entry);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 0);
    ck_assert(!mcpauth_token_cache_lookup(cache, &key, NOW, &out));
    ck_assert(!hit(cache, "t", NOW));
    mcpauth_token_cache_free(cache);

    /* and NULL is harmless */
    mcpauth_token_cache_free(NULL);
    ck_assert_uint_eq(mcpauth_token_cache_size(NULL), 0);
    ck_assert(!mcpauth_token_cache_lookup(NULL, &key, NOW, &out));
    mcpauth_token_cache_store(NULL, &key, NOW, &entry);
}
END_TEST

START_TEST(replace)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(10, TTL, NEGATIVE_TTL);
    mcpauth_token_key key = key_of("t");
    mcpauth_token_cache_entry out;

    store_valid(cache, "t", NOW, NOW + 1000);
    mcpauth_token_cache_entry rejected = rejected_entry("token is not active");
    mcpauth_token_cache_store(cache, &key, NOW + 10, &rejected);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 1);
    ck_assert(mcpauth_token_cache_lookup(cache, &key, NOW + 11, &out));
    ck_assert(!out.valid);
    ck_assert_str_eq(out.reason, "token is not active");
    /* the replacement's lifetime counts from its own store */
    ck_assert(!mcpauth_token_cache_lookup(cache, &key, NOW + 10 + NEGATIVE_TTL, &out));

    /* valid over valid: the newer info wins */
    mcpauth_token_cache_entry first = valid_entry("first", NOW + 1000);
    mcpauth_token_cache_entry second = valid_entry("second", NOW + 50);
    mcpauth_token_cache_store(cache, &key, NOW, &first);
    mcpauth_token_cache_store(cache, &key, NOW, &second);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 1);
    ck_assert(mcpauth_token_cache_lookup(cache, &key, NOW, &out));
    ck_assert_str_eq(out.info.subject, "second");
    mcpauth_token_info_free(&out.info);
    ck_assert(!mcpauth_token_cache_lookup(cache, &key, NOW + 50, &out));

    /* a result that cannot be cached still removes the stale one */
    mcpauth_token_cache_store(cache, &key, NOW, &first);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 1);
    mcpauth_token_cache_entry expired = valid_entry("expired", NOW - 1);
    mcpauth_token_cache_store(cache, &key, NOW, &expired);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 0);
    ck_assert(!mcpauth_token_cache_lookup(cache, &key, NOW, &out));
    mcpauth_token_cache_free(cache);
}
END_TEST

/* --- bounds and LRU order ----------------------------------------------- */

START_TEST(lru_eviction)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(3, TTL, NEGATIVE_TTL);

    store_valid(cache, "k1", NOW, 0);
    store_valid(cache, "k2", NOW, 0);
    store_valid(cache, "k3", NOW, 0);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 3);

    /* a lookup makes k1 the most recent, so k2 is the oldest */
    ck_assert(hit(cache, "k1", NOW));
    store_valid(cache, "k4", NOW, 0);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 3);
    ck_assert(!hit(cache, "k2", NOW));
    /* oldest first: k3 k1 k4; after these hits: k1 k3 k4 */
    ck_assert(hit(cache, "k1", NOW));
    ck_assert(hit(cache, "k3", NOW));
    ck_assert(hit(cache, "k4", NOW));

    /* k1 is the oldest now */
    store_valid(cache, "k5", NOW, 0);
    ck_assert(!hit(cache, "k1", NOW));
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 3);

    /* replacing an entry makes it the most recent too: k3 k4 k5 -> k4 k5 k3 */
    store_valid(cache, "k3", NOW, 0);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 3);
    store_valid(cache, "k6", NOW, 0);
    ck_assert(!hit(cache, "k4", NOW));
    ck_assert(hit(cache, "k5", NOW));
    ck_assert(hit(cache, "k3", NOW));
    ck_assert(hit(cache, "k6", NOW));
    mcpauth_token_cache_free(cache);
}
END_TEST

START_TEST(capacity_one)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(1, TTL, NEGATIVE_TTL);
    store_valid(cache, "a", NOW, 0);
    store_valid(cache, "b", NOW, 0);
    ck_assert_uint_eq(mcpauth_token_cache_size(cache), 1);
    ck_assert(!hit(cache, "a", NOW));
    ck_assert(hit(cache, "b", NOW));
    store_valid(cache, "b", NOW, 0);
    ck_assert(hit(cache, "b", NOW));
    mcpauth_token_cache_free(cache);
}
END_TEST

START_TEST(many_inserts_stay_bounded)
{
    static const size_t capacities[] = {100, 1000, 4096};
    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
        size_t capacity = capacities[c];
        mcpauth_token_cache *cache = mcpauth_token_cache_new(capacity, TTL, NEGATIVE_TTL);
        char token[32];
        for (size_t i = 0; i < 10000; i++) {
            snprintf(token, sizeof token, "token-%zu", i);
            if (i % 3 == 0) {
                mcpauth_token_key key = key_of(token);
                mcpauth_token_cache_entry entry = rejected_entry("token is not active");
                mcpauth_token_cache_store(cache, &key, NOW, &entry);
            } else {
                store_valid(cache, token, NOW, NOW + 1000);
            }
            ck_assert_uint_le(mcpauth_token_cache_size(cache), capacity);
        }
        ck_assert_uint_eq(mcpauth_token_cache_size(cache), capacity);

        /* exactly the newest capacity entries survive */
        size_t hits = 0;
        for (size_t i = 0; i < 10000; i++) {
            snprintf(token, sizeof token, "token-%zu", i);
            mcpauth_token_key key = key_of(token);
            mcpauth_token_cache_entry out;
            bool found = mcpauth_token_cache_lookup(cache, &key, NOW, &out);
            ck_assert_msg(found == (i >= 10000 - capacity), "%s", token);
            if (found) {
                ck_assert(out.valid == (i % 3 != 0));
                mcpauth_token_info_free(&out.info);
                hits++;
            }
        }
        ck_assert_uint_eq(hits, capacity);

        /* all of them expire; lookups empty the cache */
        for (size_t i = 10000 - capacity; i < 10000; i++) {
            snprintf(token, sizeof token, "token-%zu", i);
            ck_assert(!hit(cache, token, NOW + TTL));
        }
        ck_assert_uint_eq(mcpauth_token_cache_size(cache), 0);
        mcpauth_token_cache_free(cache);
    }
}
END_TEST

START_TEST(large_capacity)
{
    /* an absurd capacity does not allocate up front */
    mcpauth_token_cache *cache = mcpauth_token_cache_new(SIZE_MAX, TTL, NEGATIVE_TTL);
    ck_assert_ptr_nonnull(cache);
    store_valid(cache, "a", NOW, 0);
    ck_assert(hit(cache, "a", NOW));
    mcpauth_token_cache_free(cache);
}
END_TEST

START_TEST(extreme_times)
{
    mcpauth_token_cache *cache = mcpauth_token_cache_new(4, INT64_MAX, INT64_MAX);
    mcpauth_token_key key = key_of("bad");
    mcpauth_token_cache_entry entry = rejected_entry("no");
    mcpauth_token_cache_entry out;

    store_valid(cache, "a", NOW, 0);
    ck_assert(hit(cache, "a", INT64_MAX - 1));
    mcpauth_token_cache_store(cache, &key, NOW, &entry);
    ck_assert(mcpauth_token_cache_lookup(cache, &key, INT64_MAX - 1, &out));
    mcpauth_token_cache_free(cache);
}
END_TEST

static Suite *token_cache_suite(void)
{
    Suite *s = suite_create("token_cache");
    TCase *tc = tcase_create("key");
    tcase_add_test(tc, key_sha256);
    suite_add_tcase(s, tc);

    tc = tcase_create("entries");
    tcase_add_test(tc, hit_and_miss);
    tcase_add_test(tc, entries_are_copies);
    tcase_add_test(tc, lifetime_ttl_bound);
    tcase_add_test(tc, lifetime_exp_bound);
    tcase_add_test(tc, negative_entries);
    tcase_add_test(tc, zero_ttls);
    tcase_add_test(tc, disabled);
    tcase_add_test(tc, replace);
    tcase_add_test(tc, extreme_times);
    suite_add_tcase(s, tc);

    tc = tcase_create("bounds");
    tcase_add_test(tc, lru_eviction);
    tcase_add_test(tc, capacity_one);
    tcase_add_test(tc, many_inserts_stay_bounded);
    tcase_add_test(tc, large_capacity);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(token_cache_suite());
}
