#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];
static _Thread_local int message_offset;

const char *silt_status_name(silt_status s) {
    switch (s) {
    case SILT_OK: return "ok";
    case SILT_ERR_ARG: return "bad argument";
    case SILT_ERR_IO: return "i/o error";
    case SILT_ERR_FORMAT: return "bad format";
    case SILT_ERR_SHAPE: return "shape mismatch";
    case SILT_ERR_OOM: return "out of memory";
    case SILT_ERR_CUDA: return "cuda error";
    case SILT_ERR_UNSUPPORTED: return "unsupported";
    case SILT_ERR_NUMERIC: return "numerical error";
    case SILT_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

silt_status silt_error_set(silt_status code, const char *file, int line, const char *fmt, ...) {
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    int n = snprintf(last_error, sizeof last_error, "%s:%d: ", base, line);
    if (n < 0 || n >= (int)sizeof last_error) n = 0;
    message_offset = n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + n, sizeof last_error - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

const char *silt_last_error(void) { return last_error; }
const char *silt_last_error_message(void) { return last_error + message_offset; }
void silt_error_clear(void) { last_error[0] = 0; message_offset = 0; }
