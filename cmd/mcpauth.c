/* The multi-call entry point: `mcpauth SUBCOMMAND ...`, or a link named
 * `mcpauth-SUBCOMMAND` (busybox style). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "common.h"
#include "mcpauth/http_client.h"
#include "mcpauth_config.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"register", cmd_register, "register an OAuth client (RFC 7591) and manage it (RFC 7592)"},
    {"serve", cmd_serve, "serve MCP as an OAuth 2.1 protected resource"},
    {"token", cmd_token,
     "obtain access tokens (client credentials, authorization code with PKCE, refresh)"},
    {"check-token", cmd_check_token,
     "check an access token: introspect, verify a JWT, or probe a protected MCP server"},
};

static void print_help(FILE *out)
{
    fprintf(out, "Usage: mcpauth SUBCOMMAND [OPTIONS]\n"
                 "       mcpauth-SUBCOMMAND [OPTIONS]\n\n"
                 "OAuth 2.1 for MCP servers.\n\nSubcommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-14s%s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'mcpauth SUBCOMMAND --help' for a subcommand's options.\n"
                 "  -h, --help     show this help and exit\n"
                 "  -V, --version  print the version and exit\n\n%s",
            cmd_exit_status_help);
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static int run_command(const command *cmd, int argc, char **argv)
{
    mcpauth_error err;
    if (mcpauth_http_global_init(&err) != MCPAUTH_OK)
        return cmd_fail(cmd->name, &err);
    int status = cmd->run(argc, argv);
    mcpauth_http_global_cleanup();
    return status;
}

int main(int argc, char **argv)
{
    const char *self = argc > 0 ? strrchr(argv[0], '/') : NULL;
    self = self ? self + 1 : (argc > 0 ? argv[0] : "mcpauth");
    if (strncmp(self, "mcpauth-", 8) == 0) {
        const command *cmd = find_command(self + 8);
        if (!cmd) {
            fprintf(stderr, "mcpauth: unknown subcommand '%s' (from the program name %s)\n",
                    self + 8, self);
            return 2;
        }
        return run_command(cmd, argc, argv);
    }
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("mcpauth %s\n", MCPAUTH_VERSION);
        return 0;
    }
    const command *cmd = find_command(argv[1]);
    if (!cmd) {
        fprintf(stderr, "mcpauth: unknown subcommand '%s'\nTry 'mcpauth --help'.\n", argv[1]);
        return 2;
    }
    return run_command(cmd, argc - 1, argv + 1);
}
