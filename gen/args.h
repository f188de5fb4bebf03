// One flag parser for every gen subcommand: a table of flag specs, parsed
// from argv, with --help text printed from the live values (so defaults in
// --help are always the ones in force).
#ifndef GEN_ARGS_H
#define GEN_ARGS_H

#include <stdbool.h>
#include <stdio.h>

typedef enum arg_type { ARG_STR, ARG_INT, ARG_FLOAT, ARG_BOOL, ARG_CHOICE } arg_type;

typedef struct arg_spec {
    const char *name;     // long name without dashes: "steps"
    char short_name;      // 'o' or 0
    arg_type type;
    void *dst;            // const char **, int *, double *, bool *, int * (choice index)
    const char *metavar;  // "N", "PATH"
    const char *help;     // a help text holding "[default: ...]" replaces the live default (for
                          // defaults that depend on what is known later, e.g. the model family)
    const char *const *choices;  // NULL-terminated, for ARG_CHOICE
    double min, max;             // inclusive bounds for numbers (min > max: unbounded)
} arg_spec;

typedef struct arg_parser {
    const char *command;  // "gen info"
    const char *usage;    // "gen info FILE | --system"
    const char *summary;  // one line
    arg_spec *specs;
    int n_specs;
    const char **positional;  // filled with positional arguments
    int max_positional, n_positional;
} arg_parser;

// Returns 0 when parsed, 1 when --help was printed (caller exits 0), 2 on a
// usage error (one line already printed to stderr: "gen: <what is wrong>").
int args_parse(arg_parser *p, int argc, char **argv);
// args_parse that also sets given[i] (n_specs entries, cleared first) for
// every spec that appeared on the command line, so a command can reject a
// flag that does not apply even when its value equals the default.
int args_parse_given(arg_parser *p, int argc, char **argv, bool *given);
// Whether the flag named `name` (long name) was marked in `given`.
bool args_was_given(const arg_parser *p, const bool *given, const char *name);
void args_print_help(const arg_parser *p, FILE *f);
// Usage error helper: prints "gen: <message> (see '<command> --help')" and returns 2.
int args_usage_error(const arg_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
