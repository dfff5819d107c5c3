#include "common.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/fileio.h"

const cmd_option cmd_http_options[] = {
    {"timeout", 0, "SECONDS", CMD_OPT_TIMEOUT, "give up on a request after this long (15)"},
    {"cacert", 0, "FILE", CMD_OPT_CACERT, "trust the CA certificates in this PEM file"},
    {"insecure", 0, NULL, CMD_OPT_INSECURE, "do not verify TLS certificates (testing only)"},
    {"allow-http", 0, NULL, CMD_OPT_ALLOW_HTTP, "allow plain http:// to non-loopback hosts"},
    {"verbose", 'v', NULL, CMD_OPT_VERBOSE, "print requests and statuses to stderr"},
    {NULL, 0, NULL, 0, NULL},
};

int cmd_http_option(const cmd_spec *spec, mcpauth_http_options *opts, int id, const char *arg)
{
    long value;
    switch (id) {
    case CMD_OPT_TIMEOUT:
        if (cmd_parse_long(spec, "timeout", arg, 1, 3600, &value) != 0)
            return 2;
        opts->timeout_seconds = value;
        return 0;
    case CMD_OPT_CACERT:
        opts->cacert = arg;
        return 0;
    case CMD_OPT_INSECURE:
        opts->insecure = true;
        return 0;
    case CMD_OPT_ALLOW_HTTP:
        opts->allow_http = true;
        return 0;
    case CMD_OPT_VERBOSE:
        opts->verbose = stderr;
        return 0;
    default:
        return -1;
    }
}

mcpauth_status cmd_read_secret(const char *file, const char *env_name, const char *what,
                               char **out, mcpauth_error *err)
{
    *out = NULL;
    if (file)
        return mcpauth_file_read_secret(file, what, out, err);
    const char *value = getenv(env_name);
    if (!value || !*value)
        return MCPAUTH_OK;
    *out = strdup(value);
    if (!*out)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return MCPAUTH_OK;
}

int cmd_fail(const char *name, const mcpauth_error *err)
{
    fprintf(stderr, "mcpauth %s: %s\n", name, err->message);
    return err->status;
}

void cmd_warn(const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mcpauth %s: warning: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cmd_print_shell_assignment(FILE *out, const char *name, const char *value)
{
    /* Inside single quotes sh takes every byte literally except the quote
     * itself, which is written as '\'' (close, escaped quote, reopen). */
    fprintf(out, "%s='", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", out);
        else
            fputc(*p, out);
    }
    fputs("'\n", out);
}
