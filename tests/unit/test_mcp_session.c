/* The MCP session table on its own: probing and deletion under load, idle
 * sweeps, the bound, and binding to subject and client. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "src/mcp/mcp_internal.h"

#define T0 1700000000

static mcpauth__session *create(mcpauth__session_table *table, const char *subject,
                                const char *client_id, int64_t now)
{
    mcpauth__session *session = NULL;
    ck_assert_int_eq(
        mcpauth__session_create(table, subject, client_id, "2025-11-25", now, &session),
        MCPAUTH__SESSION_CREATED);
    ck_assert_ptr_nonnull(session);
    return session;
}

START_TEST(create_and_find)
{
    mcpauth__session_table *table = mcpauth__session_table_new(10, 60);
    ck_assert_ptr_nonnull(table);
    mcpauth__session *s = create(table, "sub", "client", T0);
    ck_assert_uint_eq(strlen(s->id), MCPAUTH_MCP_SESSION_ID_LENGTH);
    ck_assert_str_eq(s->subject, "sub");
    ck_assert_str_eq(s->client_id, "client");
    ck_assert_str_eq(s->protocol_version, "2025-11-25");
    ck_assert_ptr_null(s->log_level);
    ck_assert_int_eq(s->last_used, T0);

    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    memcpy(id, s->id, sizeof id);
    ck_assert_ptr_eq(mcpauth__session_find(table, id, "sub", "client", T0), s);
    ck_assert_ptr_null(mcpauth__session_find(table, id, "sub", "other", T0));
    ck_assert_ptr_null(mcpauth__session_find(table, id, "other", "client", T0));
    ck_assert_ptr_null(mcpauth__session_find(table, id, NULL, "client", T0));
    ck_assert_ptr_null(mcpauth__session_find(table, id, "sub", NULL, T0));
    ck_assert_ptr_null(mcpauth__session_find(table, NULL, "sub", "client", T0));
    ck_assert_ptr_null(mcpauth__session_find(table, "", "sub", "client", T0));
    /* Someone else's attempt does not end it. */
    ck_assert_ptr_eq(mcpauth__session_find(table, id, "sub", "client", T0), s);

    mcpauth__session_remove(table, s);
    ck_assert_ptr_null(mcpauth__session_find(table, id, "sub", "client", T0));
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0), 0);
    mcpauth__session_table_free(table);
}
END_TEST

START_TEST(anonymous_and_clientless)
{
    mcpauth__session_table *table = mcpauth__session_table_new(10, 60);
    mcpauth__session *anonymous = create(table, NULL, NULL, T0);
    mcpauth__session *clientless = create(table, "sub", NULL, T0);
    ck_assert_ptr_eq(mcpauth__session_find(table, anonymous->id, NULL, NULL, T0), anonymous);
    ck_assert_ptr_null(mcpauth__session_find(table, anonymous->id, "sub", NULL, T0));
    ck_assert_ptr_null(mcpauth__session_find(table, anonymous->id, "", "", T0));
    ck_assert_ptr_eq(mcpauth__session_find(table, clientless->id, "sub", NULL, T0), clientless);
    ck_assert_ptr_null(mcpauth__session_find(table, clientless->id, "sub", "c", T0));
    mcpauth__session_table_free(table);
}
END_TEST

START_TEST(expiry_on_find)
{
    mcpauth__session_table *table = mcpauth__session_table_new(10, 60);
    mcpauth__session *s = create(table, "sub", "c", T0);
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    memcpy(id, s->id, sizeof id);
    ck_assert_ptr_eq(mcpauth__session_find(table, id, "sub", "c", T0 + 59), s);
    /* find does not touch; the engine does, after its checks. */
    ck_assert_int_eq(s->last_used, T0);
    ck_assert_ptr_null(mcpauth__session_find(table, id, "sub", "c", T0 + 60));
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0), 0);
    mcpauth__session_table_free(table);
}
END_TEST

START_TEST(no_idle_limit)
{
    mcpauth__session_table *table = mcpauth__session_table_new(10, 0);
    create(table, "sub", "c", T0);
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0 + 100000000), 1);
    mcpauth__session_table_free(table);
}
END_TEST

START_TEST(bound_and_room_from_idle)
{
    mcpauth__session_table *table = mcpauth__session_table_new(2, 60);
    create(table, "a", "c", T0);
    create(table, "b", "c", T0 + 30);
    mcpauth__session *session = NULL;
    ck_assert_int_eq(mcpauth__session_create(table, "c", "c", "2025-11-25", T0 + 59, &session),
                     MCPAUTH__SESSION_FULL);
    ck_assert_ptr_null(session);
    /* At T0 + 60 the first is idle and makes room. */
    create(table, "c", "c", T0 + 60);
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0 + 60), 2);

    mcpauth__session_table *none = mcpauth__session_table_new(0, 60);
    ck_assert_int_eq(mcpauth__session_create(none, "c", "c", "2025-11-25", T0, &session),
                     MCPAUTH__SESSION_FULL);
    mcpauth__session_table_free(none);
    mcpauth__session_table_free(table);
}
END_TEST

/* Many sessions with staggered last use, swept in steps: every survivor
 * must stay reachable after the backward shifts. */
START_TEST(sweep_under_load)
{
    enum { N = 2000 };
    mcpauth__session_table *table = mcpauth__session_table_new(N, 100);
    char(*ids)[MCPAUTH_MCP_SESSION_ID_LENGTH + 1] = calloc(N, sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < N; i++) {
        mcpauth__session *s = create(table, "sub", "c", T0 + (int64_t)(i % 50));
        memcpy(ids[i], s->id, sizeof ids[i]);
    }
    for (int64_t step = 0; step <= 50; step += 7) {
        int64_t now = T0 + 100 + step;
        size_t live = 0;
        for (size_t i = 0; i < N; i++)
            live += (int64_t)(i % 50) > step;
        ck_assert_uint_eq(mcpauth__session_sweep(table, now), live);
        for (size_t i = 0; i < N; i++) {
            mcpauth__session *s = mcpauth__session_find(table, ids[i], "sub", "c", now);
            if ((int64_t)(i % 50) > step) {
                ck_assert_ptr_nonnull(s);
                ck_assert_str_eq(s->id, ids[i]);
            } else {
                ck_assert_ptr_null(s);
            }
        }
    }
    free(ids);
    mcpauth__session_table_free(table);
}
END_TEST

/* Removing in an order unrelated to insertion keeps the rest reachable. */
START_TEST(remove_under_load)
{
    enum { N = 1000 };
    mcpauth__session_table *table = mcpauth__session_table_new(N, 0);
    mcpauth__session **sessions = calloc(N, sizeof *sessions);
    char(*ids)[MCPAUTH_MCP_SESSION_ID_LENGTH + 1] = calloc(N, sizeof *ids);
    ck_assert_ptr_nonnull(sessions);
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < N; i++) {
        sessions[i] = create(table, "sub", "c", T0);
        memcpy(ids[i], sessions[i]->id, sizeof ids[i]);
    }
    for (size_t i = 0; i < N; i += 2) {
        size_t k = (i * 7919) % N;
        mcpauth__session *s = mcpauth__session_find(table, ids[k], "sub", "c", T0);
        if (s) {
            mcpauth__session_remove(table, s);
            ids[k][0] = '\0';
        }
    }
    size_t live = 0;
    for (size_t i = 0; i < N; i++) {
        if (!ids[i][0])
            continue;
        live++;
        mcpauth__session *s = mcpauth__session_find(table, ids[i], "sub", "c", T0);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s->id, ids[i]);
    }
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0), live);
    ck_assert_uint_lt(live, N);
    free(ids);
    free(sessions);
    mcpauth__session_table_free(table);
}
END_TEST

static Suite *mcp_session_suite(void)
{
    Suite *s = suite_create("mcp_session");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, create_and_find);
    tcase_add_test(tc, anonymous_and_clientless);
    tcase_add_test(tc, expiry_on_find);
    tcase_add_test(tc, no_idle_limit);
    tcase_add_test(tc, bound_and_room_from_idle);
    tcase_add_test(tc, sweep_under_load);
    tcase_add_test(tc, remove_under_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(mcp_session_suite());
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
