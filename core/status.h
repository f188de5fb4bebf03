// Status codes and the last-error message. Every fallible function returns a
// silt_status and records "file:line: message" for silt_last_error().
#ifndef SILT_STATUS_H
#define SILT_STATUS_H

typedef enum silt_status {
    SILT_OK = 0,
    SILT_ERR_ARG = -1,          // bad argument (caller's fault)
    SILT_ERR_IO = -2,           // open/read/write failed
    SILT_ERR_FORMAT = -3,       // malformed file or data
    SILT_ERR_SHAPE = -4,        // shapes do not agree
    SILT_ERR_OOM = -5,          // out of memory
    SILT_ERR_CUDA = -6,         // CUDA runtime / cuBLAS failure
    SILT_ERR_UNSUPPORTED = -7,  // valid request this build or device cannot do
    SILT_ERR_NUMERIC = -8,      // NaN/Inf or other numerical failure
    SILT_ERR_CANCELLED = -9,    // interrupted by the user
} silt_status;

const char *silt_status_name(silt_status s);

// Records the message (thread-local) and returns `code`, so callers can write
// `return SILT_FAIL(SILT_ERR_ARG, "bad width %d", w);`.
silt_status silt_error_set(silt_status code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define SILT_FAIL(code, ...) silt_error_set((code), __FILE__, __LINE__, __VA_ARGS__)

// Message of the last failure on this thread ("" if none).
const char *silt_last_error(void);
// The message without its "file:line: " prefix, for user-facing errors.
const char *silt_last_error_message(void);
void silt_error_clear(void);

// Propagate a failure: `SILT_TRY(silt_foo(...));`
#define SILT_TRY(expr) do { silt_status s_ = (expr); if (s_ != SILT_OK) return s_; } while (0)

#endif
