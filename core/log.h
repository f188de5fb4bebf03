// Logging to stderr and a progress bar for long work.
#ifndef SILT_LOG_H
#define SILT_LOG_H

#include <stdint.h>

typedef enum silt_log_level { SILT_LOG_ERROR, SILT_LOG_WARN, SILT_LOG_INFO, SILT_LOG_DEBUG } silt_log_level;

void silt_log_set_level(silt_log_level level);
silt_log_level silt_log_get_level(void);
void silt_log(silt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define silt_warn(...) silt_log(SILT_LOG_WARN, __VA_ARGS__)
#define silt_info(...) silt_log(SILT_LOG_INFO, __VA_ARGS__)
#define silt_debug(...) silt_log(SILT_LOG_DEBUG, __VA_ARGS__)

// Progress bar: "label [=====>    ] 12/50 1.3 it/s ETA 0:29". Drawn on stderr
// only when stderr is a terminal (or SILT_PROGRESS=1); otherwise one line at
// the end. Redraws at most 10 times a second.
typedef struct silt_progress {
    const char *label;
    int64_t total, done;
    double t_start, t_last_draw;
    int enabled, drawn;
} silt_progress;

void silt_progress_begin(silt_progress *p, const char *label, int64_t total);
void silt_progress_step(silt_progress *p, int64_t n);
void silt_progress_end(silt_progress *p);

double silt_time_now(void);  // monotonic seconds

#endif
