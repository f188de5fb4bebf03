#include <stdio.h>
#include "gen/lib/harvest.h"
int main(int argc, char **argv) {
    silt_sample_set *s; if (silt_sample_set_load(argv[1], &s)) return 1;
    for (int64_t i = 0; i < s->n; i++) printf("%lld\t%s\n", (long long)s->groups[i], s->captions[i]);
    return 0;
}
