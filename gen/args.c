#include "gen/args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int args_usage_error(const arg_parser *p, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "gen: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", p->command);
    return 2;
}

static arg_spec *find_long(arg_parser *p, const char *name, size_t len) {
    for (int i = 0; i < p->n_specs; i++)
        if (strlen(p->specs[i].name) == len && strncmp(p->specs[i].name, name, len) == 0) return &p->specs[i];
    return NULL;
}

static arg_spec *find_short(arg_parser *p, char c) {
    for (int i = 0; i < p->n_specs; i++)
        if (p->specs[i].short_name == c) return &p->specs[i];
    return NULL;
}

static bool bounded(const arg_spec *s) { return s->min <= s->max; }

static int set_value(arg_parser *p, arg_spec *s, const char *v) {
    char *end = NULL;
    switch (s->type) {
    case ARG_STR:
        *(const char **)s->dst = v;
        return 0;
    case ARG_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || x < -2147483647LL || x > 2147483647LL)
            return args_usage_error(p, "--%s: expected an integer, got '%s'", s->name, v);
        if (bounded(s) && (x < s->min || x > s->max))
            return args_usage_error(p, "--%s: %lld is outside %g..%g", s->name, x, s->min, s->max);
        *(int *)s->dst = (int)x;
        return 0;
    }
    case ARG_FLOAT: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return args_usage_error(p, "--%s: expected a number, got '%s'", s->name, v);
        if (bounded(s) && (x < s->min || x > s->max))
            return args_usage_error(p, "--%s: %g is outside %g..%g", s->name, x, s->min, s->max);
        *(double *)s->dst = x;
        return 0;
    }
    case ARG_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) *(bool *)s->dst = true;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) *(bool *)s->dst = false;
        else return args_usage_error(p, "--%s: expected true or false, got '%s'", s->name, v);
        return 0;
    case ARG_CHOICE:
        for (int i = 0; s->choices[i]; i++)
            if (!strcmp(s->choices[i], v)) { *(int *)s->dst = i; return 0; }
        {
            char list[256] = "";
            for (int i = 0; s->choices[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, s->choices[i], sizeof list - strlen(list) - 1);
            }
            return args_usage_error(p, "--%s: unknown value '%s' (expected one of: %s)", s->name, v, list);
        }
    }
    return 2;
}

int args_parse(arg_parser *p, int argc, char **argv) { return args_parse_given(p, argc, argv, NULL); }

bool args_was_given(const arg_parser *p, const bool *given, const char *name) {
    for (int i = 0; given && i < p->n_specs; i++)
        if (!strcmp(p->specs[i].name, name)) return given[i];
    return false;
}

int args_parse_given(arg_parser *p, int argc, char **argv, bool *given) {
    p->n_positional = 0;
    if (given) memset(given, 0, sizeof *given * (size_t)p->n_specs);
    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == 0) {
            if (p->n_positional >= p->max_positional)
                return args_usage_error(p, "unexpected argument '%s'", a);
            p->positional[p->n_positional++] = a;
            continue;
        }
        if (!strcmp(a, "--")) { only_positional = true; continue; }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { args_print_help(p, stdout); return 1; }
        arg_spec *s;
        const char *value = NULL;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            s = find_long(p, name, len);
            if (!s && len > 3 && !strncmp(name, "no-", 3)) {  // --no-flag for booleans
                s = find_long(p, name + 3, len - 3);
                if (s && s->type == ARG_BOOL && !eq) {
                    *(bool *)s->dst = false;
                    if (given) given[s - p->specs] = true;
                    continue;
                }
                s = NULL;
            }
            if (!s) return args_usage_error(p, "unknown flag '%.*s'", (int)(len + 2), a);
            if (eq) value = eq + 1;
        } else {
            if (a[2]) return args_usage_error(p, "unknown flag '%s' (short flags take their value separately)", a);
            s = find_short(p, a[1]);
            if (!s) return args_usage_error(p, "unknown flag '%s'", a);
        }
        if (given) given[s - p->specs] = true;
        if (s->type == ARG_BOOL && !value) { *(bool *)s->dst = true; continue; }
        if (!value) {
            if (i + 1 >= argc) return args_usage_error(p, "--%s needs a value", s->name);
            value = argv[++i];
        }
        int rc = set_value(p, s, value);
        if (rc) return rc;
    }
    return 0;
}

void args_print_help(const arg_parser *p, FILE *f) {
    fprintf(f, "usage: %s\n", p->usage);
    if (p->summary) fprintf(f, "\n%s\n", p->summary);
    if (p->n_specs) fprintf(f, "\noptions:\n");
    for (int i = 0; i < p->n_specs; i++) {
        const arg_spec *s = &p->specs[i];
        char left[64];
        const char *mv = s->type == ARG_BOOL ? "" : (s->metavar ? s->metavar : "X");
        if (s->short_name) snprintf(left, sizeof left, "-%c, --%s %s", s->short_name, s->name, mv);
        else snprintf(left, sizeof left, "    --%s %s", s->name, mv);
        char def[96] = "";
        if (strstr(s->help, "[default:")) {
        } else switch (s->type) {
        case ARG_STR: {
            const char *v = *(const char **)s->dst;
            if (v) snprintf(def, sizeof def, " [default: %s]", v);
            break;
        }
        case ARG_INT: snprintf(def, sizeof def, " [default: %d]", *(int *)s->dst); break;
        case ARG_FLOAT: snprintf(def, sizeof def, " [default: %g]", *(double *)s->dst); break;
        case ARG_BOOL: snprintf(def, sizeof def, " [default: %s]", *(bool *)s->dst ? "on" : "off"); break;
        case ARG_CHOICE: snprintf(def, sizeof def, " [default: %s]", s->choices[*(int *)s->dst]); break;
        }
        fprintf(f, "  %-26s %s%s\n", left, s->help, def);
        if (s->type == ARG_CHOICE) {
            fprintf(f, "  %-26s one of:", "");
            for (int c = 0; s->choices[c]; c++) fprintf(f, " %s", s->choices[c]);
            fprintf(f, "\n");
        }
    }
    fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}
