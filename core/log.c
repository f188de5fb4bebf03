#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static silt_log_level g_level = SILT_LOG_INFO;

void silt_log_set_level(silt_log_level level) { g_level = level; }
silt_log_level silt_log_get_level(void) { return g_level; }

void silt_log(silt_log_level level, const char *fmt, ...) {
    if (level > g_level) return;
    static const char *tags[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "%s: ", tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double silt_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_hms(char *buf, size_t n, double s) {
    if (s < 0 || s > 359999) { snprintf(buf, n, "--:--"); return; }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%d:%02d", t / 60, t % 60);
}

static void progress_draw(silt_progress *p, int final) {
    double now = silt_time_now(), el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[32], elapsed[32];
    format_hms(eta, sizeof eta, rate > 0 ? (double)(p->total - p->done) / rate : -1);
    format_hms(elapsed, sizeof elapsed, el);
    int width = 24, fill = p->total > 0 ? (int)(width * p->done / p->total) : 0;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[width] = 0;
    if (final)
        fprintf(stderr, "\r%s [%s] %lld/%lld %.2f it/s in %s\n", p->label, bar, (long long)p->done,
                (long long)p->total, rate, elapsed);
    else
        fprintf(stderr, "\r%s [%s] %lld/%lld %.2f it/s ETA %s ", p->label, bar, (long long)p->done,
                (long long)p->total, rate, eta);
    fflush(stderr);
    p->drawn = 1;
    p->t_last_draw = now;
}

void silt_progress_begin(silt_progress *p, const char *label, int64_t total) {
    const char *env = getenv("SILT_PROGRESS");
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t_start = p->t_last_draw = silt_time_now();
    p->drawn = 0;
    p->enabled = env ? atoi(env) != 0 : isatty(2);
    if (g_level < SILT_LOG_INFO) p->enabled = 0;
}

void silt_progress_step(silt_progress *p, int64_t n) {
    p->done += n;
    if (p->enabled && silt_time_now() - p->t_last_draw >= 0.1) progress_draw(p, 0);
}

void silt_progress_end(silt_progress *p) {
    if (p->enabled || (g_level >= SILT_LOG_INFO && silt_time_now() - p->t_start > 1.0)) progress_draw(p, 1);
}
