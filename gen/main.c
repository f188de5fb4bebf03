// gen: the silt command line. Dispatches to a subcommand and maps its status
// to an exit code (0 ok, 1 runtime failure, 2 usage error).
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "gen/commands.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"generate", cmd_generate, "generate images with a DiT, MMDiT or VAR checkpoint (the default: `gen --model ...`)"},
    {"info", cmd_info, "describe a checkpoint (tensors, parameters, architecture) or this system (--system)"},
    {"pattern", cmd_pattern, "render a test pattern to PNG (smoke test of the image path)"},
    {"train", cmd_train, "train a model (--arch toy, ...) with checkpoints and exact --resume"},
    {"world", cmd_world, "render scenes of the built-in world (world render) and list its prompt suites (world prompts)"},
    {"eval", cmd_eval, "judge an image against a world caption (world-eval), or a model over a prompt suite (--suite: world-GenEval, world-CLIP score, world-FD)"},
};
static const int n_commands = (int)(sizeof commands / sizeof *commands);

int gen_fail(const char *what) {
    const char *msg = silt_last_error_message();
    if (what && *what) fprintf(stderr, "gen: %s: %s\n", what, *msg ? msg : "failed");
    else fprintf(stderr, "gen: %s\n", *msg ? msg : "failed");
    return 1;
}

int gen_check_output(const char *flag, const char *path) {
    size_t len = strlen(path);
    if (!len || path[len - 1] == '/') {
        fprintf(stderr, "gen: %s needs a file name%s%s\n", flag, len ? ", not the folder " : "", path);
        return 2;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    struct stat st;
    const char *why = stat(dir, &st) != 0  ? strerror(errno)
                      : !S_ISDIR(st.st_mode) ? "not a directory"
                      : access(dir, W_OK | X_OK) != 0 ? strerror(errno)
                                                      : NULL;
    if (!why) return 0;
    fprintf(stderr, "gen: %s %s: cannot write into %s: %s\n", flag, path, dir, why);
    return 1;
}

static void print_help(FILE *f) {
    fprintf(f, "usage: gen COMMAND [options]\n\n"
               "silt %s: diffusion and visual-autoregressive image generation research sandbox.\n\ncommands:\n",
            SILT_VERSION);
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  gen --model M ...     same as gen generate --model M ... (flags without a command)\n"
               "  gen COMMAND --help   options of a command, with their defaults\n"
               "  gen --version        print the version\n\n"
               "exit status: 0 ok, 1 runtime failure (one line on stderr), 2 usage error\n");
}

int main(int argc, char **argv) {
    if (argc < 2) { print_help(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) { printf("gen (silt) %s\n", SILT_VERSION); return 0; }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) { print_help(stdout); return 0; }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    // Flags and no command name: generation (`gen --model m.safetensors --class 207 -o out.png`).
    if (cmd[0] == '-') return cmd_generate(argc - 1, argv + 1);
    fprintf(stderr, "gen: unknown command '%s' (see 'gen --help')\n", cmd);
    return 2;
}
