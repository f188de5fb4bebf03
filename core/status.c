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
    // Format into a local buffer first: the arguments may point into
    // last_error itself (wrapping an earlier message).
    char buf[sizeof last_error];
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    int n = snprintf(buf, sizeof buf, "%s:%d: ", base, line);
    if (n < 0 || n >= (int)sizeof buf) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    memcpy(last_error, buf, sizeof buf);
    message_offset = n;
    return code;
}

const char *silt_last_error(void) { return last_error; }
const char *silt_last_error_message(void) { return last_error + message_offset; }
void silt_error_clear(void) { last_error[0] = 0; message_offset = 0; }
