/* One option table per subcommand drives both parsing and --help, so the
 * two cannot drift apart. Parsing uses getopt_long underneath. */
#ifndef MCPAUTH_CMD_OPTIONS_H
#define MCPAUTH_CMD_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

typedef struct cmd_option {
    const char *name;     /* long name without "--"; NULL ends a table */
    char short_name;      /* 0 when there is none */
    const char *argument; /* metavariable shown in --help; NULL for flags */
    int id;               /* passed to the handler; unique per command, >= 256 */
    const char *help;     /* one line */
} cmd_option;

#define CMD_GROUP_TABLES 3

/* A titled group of --help; its options come from up to CMD_GROUP_TABLES
 * tables in order, so that a command can put a shared table (common.h)
 * beside its own options under one title. */
typedef struct cmd_option_group {
    const char *title;                          /* "Metadata options" */
    const cmd_option *tables[CMD_GROUP_TABLES]; /* unused ones NULL */
} cmd_option_group;

/* Every option of spec, in --help order: g is the group's index. */
#define CMD_FOR_EACH_OPTION(spec, g, o)                                                            \
    for (size_t g = 0; g < (spec)->group_count; g++)                                               \
        for (size_t g##_t = 0; g##_t < CMD_GROUP_TABLES && (spec)->groups[g].tables[g##_t];        \
             g##_t++)                                                                              \
            for (const cmd_option *o = (spec)->groups[g].tables[g##_t]; o->name; o++)

typedef struct cmd_spec {
    const char *name;    /* "register" */
    const char *usage;   /* what follows "mcpauth register " in the usage line(s) */
    const char *summary; /* one paragraph under the usage */
    const cmd_option_group *groups;
    size_t group_count;
    const char *epilog; /* examples, environment; may be NULL */
} cmd_spec;

/* Handles one option; arg is NULL for flags. Returns 0 to go on, or an exit
 * status after printing an error (usually via cmd_usage_error). */
typedef int (*cmd_option_fn)(void *ctx, int id, const char *arg);

/* Parses argv (argv[0] is the subcommand name). Handles --help itself.
 * Returns -1 when the command should run, with *operands set to the index of
 * the first operand, or an exit status: 0 after --help, 2 on a usage error. */
int cmd_parse_options(const cmd_spec *spec, int argc, char **argv, cmd_option_fn fn, void *ctx,
                      int *operands);

/* The same for a command that takes no operands: one is a usage error
 * that quotes it. Returns -1 when the command should run, or an exit
 * status as above. */
int cmd_parse_options_only(const cmd_spec *spec, int argc, char **argv, cmd_option_fn fn,
                           void *ctx);

/* The exit-code table, printed at the end of every --help. */
extern const char cmd_exit_status_help[];

void cmd_print_help(const cmd_spec *spec, FILE *out);

/* While file is set, option values come from that configuration file:
 * cmd_usage_error() then names it, prints one line and returns 5. NULL
 * restores command-line reporting. */
void cmd_set_option_source(const char *file);

/* Prints "mcpauth NAME: message" and a hint to try --help on stderr; returns
 * 2 (or 5, see cmd_set_option_source). */
int cmd_usage_error(const cmd_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a whole number within [min, max] for option name; on error prints a
 * usage error and returns 2, else 0. */
int cmd_parse_long(const cmd_spec *spec, const char *name, const char *arg, long min, long max,
                   long *out);

#endif
