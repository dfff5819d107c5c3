/* Running a Check suite from main(): see testlib.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "mcpauth/http_client.h"
#include "testlib.h"

int testlib_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int testlib_run_http(Suite *suite)
{
    mcpauth_error err = {0};
    if (mcpauth_http_global_init(&err) != MCPAUTH_OK) {
        fprintf(stderr, "%s\n", err.message);
        srunner_free(srunner_create(suite)); /* frees the suite */
        return EXIT_FAILURE;
    }
    int status = testlib_run(suite);
    mcpauth_http_global_cleanup();
    return status;
}
