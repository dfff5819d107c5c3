#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HELP_ID -1000

const char cmd_exit_status_help[] =
    "Exit status:\n"
    "  0  success\n"
    "  1  a negative answer to what was asked (e.g. the token is not active)\n"
    "  2  usage error: unknown option or invalid value\n"
    "  3  network or TLS failure: cannot connect, timeout, certificate\n"
    "  4  the remote side answered with an error or a malformed response\n"
    "  5  local file or configuration error\n";

static size_t count_options(const cmd_spec *spec)
{
    size_t n = 0;
    CMD_FOR_EACH_OPTION(spec, g, o)
    {
        (void)o;
        n++;
    }
    return n;
}

/* Set while options come from a configuration file rather than argv. */
static const char *option_source;

void cmd_set_option_source(const char *file)
{
    option_source = file;
}

int cmd_usage_error(const cmd_spec *spec, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mcpauth %s: ", spec->name);
    if (option_source)
        fprintf(stderr, "%s: ", option_source);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    /* A bad configuration file is a configuration error: one line, exit 5. */
    if (option_source) {
        fputc('\n', stderr);
        return 5;
    }
    fprintf(stderr, "\nTry 'mcpauth %s --help' for more information.\n", spec->name);
    return 2;
}

int cmd_parse_long(const cmd_spec *spec, const char *name, const char *arg, long min, long max,
                   long *out)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(arg, &end, 10);
    if (errno || end == arg || *end || value < min || value > max)
        return cmd_usage_error(spec, "--%s: '%s' is not a whole number from %ld to %ld", name, arg,
                               min, max);
    *out = value;
    return 0;
}

/* One option's line (or two, when its left column is too wide). */
static void print_option(FILE *out, const cmd_option *o)
{
    char left[96];
    const char *space = o->argument ? " " : "", *arg = o->argument ? o->argument : "";
    int n = o->short_name
                ? snprintf(left, sizeof left, "  -%c, --%s%s%s", o->short_name, o->name, space, arg)
                : snprintf(left, sizeof left, "      --%s%s%s", o->name, space, arg);
    if (n <= 30) /* at least two spaces before the description */
        fprintf(out, "%-32s%s\n", left, o->help);
    else
        fprintf(out, "%s\n%32s%s\n", left, "", o->help);
}

void cmd_print_help(const cmd_spec *spec, FILE *out)
{
    fprintf(out, "Usage: mcpauth %s %s\n\n%s\n", spec->name, spec->usage, spec->summary);
    size_t group = spec->group_count;
    CMD_FOR_EACH_OPTION(spec, g, o)
    {
        if (g != group)
            fprintf(out, "\n%s:\n", spec->groups[group = g].title);
        print_option(out, o);
    }
    fprintf(out, "\n  -h, --help                    show this help and exit\n");
    if (spec->epilog)
        fprintf(out, "\n%s", spec->epilog);
    fprintf(out, "\n%s", cmd_exit_status_help);
}

/* The table id of a short option letter. */
static int short_option_id(const cmd_spec *spec, int c)
{
    CMD_FOR_EACH_OPTION(spec, g, o)
    {
        if (o->short_name == c)
            return o->id;
    }
    return c;
}

/* True when arg ("--name" or "--name=value") spells out the whole long
 * option whose id is id. */
static bool names_option_fully(const char *arg, const struct option *longopts, int id)
{
    if (strncmp(arg, "--", 2) != 0)
        return true; /* a short option */
    size_t length = strcspn(arg + 2, "=");
    for (const struct option *o = longopts; o->name; o++) {
        if (o->val == id)
            return strlen(o->name) == length && strncmp(o->name, arg + 2, length) == 0;
    }
    return false;
}

int cmd_parse_options(const cmd_spec *spec, int argc, char **argv, cmd_option_fn fn, void *ctx,
                      int *operands)
{
    size_t n = count_options(spec);
    struct option *longopts = calloc(n + 2, sizeof *longopts);
    char *shortopts = calloc(2 * n + 4, 1);
    if (!longopts || !shortopts) {
        free(longopts);
        free(shortopts);
        fprintf(stderr, "mcpauth %s: out of memory\n", spec->name);
        return 5;
    }
    /* Leading ':' makes getopt report a missing argument as ':' instead of
     * printing its own message; '+' stops at the first operand (so that
     * "serve -- COMMAND ARGS" keeps the command's own options). */
    size_t k = 0, s = 0;
    shortopts[s++] = '+';
    shortopts[s++] = ':';
    CMD_FOR_EACH_OPTION(spec, g, o)
    {
        longopts[k++] =
            (struct option){o->name, o->argument ? required_argument : no_argument, NULL, o->id};
        if (o->short_name) {
            shortopts[s++] = o->short_name;
            if (o->argument)
                shortopts[s++] = ':';
        }
    }
    longopts[k] = (struct option){"help", no_argument, NULL, HELP_ID};
    shortopts[s++] = 'h';

    int status = -1;
    opterr = 0;
    optind = 1;
    while (status < 0) {
        int prev = optind;
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c == -1)
            break;
        if (c == HELP_ID || c == 'h') {
            cmd_print_help(spec, stdout);
            status = 0;
        } else if (c == '?') {
            if (optopt)
                status = cmd_usage_error(spec, "unknown option '-%c'", optopt);
            else
                status = cmd_usage_error(spec, "unknown option '%s'", argv[prev]);
        } else if (c == ':') {
            status = cmd_usage_error(spec, "option '%s' needs a value", argv[prev]);
        } else if (c >= 256 && !names_option_fully(argv[prev], longopts, c)) {
            /* getopt_long takes unambiguous prefixes ("--initial-access-token"
             * for "--initial-access-token-file"); a secret typed after a
             * mistaken name would then be treated as a file name and end up
             * in an error message. Only whole names are accepted. */
            status = cmd_usage_error(spec, "unknown option '%.*s'", (int)strcspn(argv[prev], "="),
                                     argv[prev]);
        } else {
            int id = c < 256 ? short_option_id(spec, c) : c;
            int rc = fn(ctx, id, optarg);
            if (rc != 0)
                status = rc;
        }
    }
    free(longopts);
    free(shortopts);
    *operands = optind;
    return status;
}

int cmd_parse_options_only(const cmd_spec *spec, int argc, char **argv, cmd_option_fn fn, void *ctx)
{
    int operands = 0;
    int status = cmd_parse_options(spec, argc, argv, fn, ctx, &operands);
    if (status < 0 && operands < argc)
        status = cmd_usage_error(spec, "unexpected argument '%s'", argv[operands]);
    return status;
}
