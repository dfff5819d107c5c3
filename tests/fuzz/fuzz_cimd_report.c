/* A Client ID Metadata Document and an authorization server's metadata as
 * `register --check-cimd` reads them from servers it checks
 * (src/oauth/cimd_report.c). Input: the client id URL, the Content-Type, the
 * document body and the server's metadata body, separated by \x01. Every
 * check must report exactly once, with a one-line detail. */
#include <string.h>

#include "fuzz.h"
#include "mcpauth/cimd_report.h"
#include "mcpauth/json.h"

static void on_result(const mcpauth_oauth_cimd_report_result *result, void *data)
{
    (void)data;
    if (!result->name || !result->detail || strchr(result->detail, '\n'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_pieces in;
    fuzz_split(data, size, 4, &in);
    const char *url = in.piece[0];
    mcpauth_http_header type = {"Content-Type", in.piece[1]};
    mcpauth_http_response resp = {
        .status = 200,
        .url = in.piece[0],
        .body = in.piece[2],
        .body_length = in.length[2],
        .headers = &type,
        .header_count = 1,
    };
    mcpauth_oauth_cimd_report report = {.cb = on_result};
    mcpauth_oauth_cimd_report_url(&report, url);
    json_object *doc = mcpauth_oauth_cimd_report_response(&report, url, &resp);
    mcpauth_oauth_cimd_report_document(&report, url, doc);
    json_object *as = mcpauth_json_parse_object(in.piece[3], in.length[3], "metadata", NULL);
    mcpauth_oauth_cimd_report_server(&report, doc, as);
    /* 2 URL + 5 response + 6 document + 5 server checks. */
    if (report.passed + report.failed + report.skipped != 18)
        abort();
    json_object_put(doc);
    json_object_put(as);
    fuzz_pieces_free(&in);
    return 0;
}
