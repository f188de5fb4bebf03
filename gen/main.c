// gen: the silt command line. Parses arguments, runs a subcommand, maps a
// status to an exit code (0 ok, 1 runtime failure, 2 usage error).
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) { printf("gen (silt) %s\n", SILT_VERSION); return 0; }
    fprintf(stderr, "gen: usage: gen --version\n");
    return 2;
}
