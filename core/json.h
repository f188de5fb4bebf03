// A strict JSON (RFC 8259) reader into a small read-only tree, and a growable
// buffer for writing JSON. Used by the safetensors header parser; small enough
// for config files too.
//
// Strict means: UTF-8 is validated (no overlongs, no surrogates, <= U+10FFFF),
// \uXXXX escapes are decoded (surrogate pairs joined, lone surrogates
// rejected), raw control characters in strings are rejected, objects may not
// repeat a key, nesting is limited, and only whitespace may follow the root
// value. Every failure is SILT_ERR_FORMAT with the byte offset in the message.
#ifndef SILT_JSON_H
#define SILT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum silt_json_type {
    SILT_JSON_NULL,
    SILT_JSON_FALSE,
    SILT_JSON_TRUE,
    SILT_JSON_NUMBER,
    SILT_JSON_STRING,
    SILT_JSON_ARRAY,
    SILT_JSON_OBJECT,
    SILT_JSON_TYPE_COUNT
} silt_json_type;

const char *silt_json_type_name(silt_json_type t);  // "object", "string", ...
silt_status silt_json_type_from_name(const char *s, silt_json_type *out);

typedef struct silt_json_value {
    silt_json_type type;
    int32_t count;     // array/object: number of elements/members
    int32_t child;     // first element/member (node index), -1 if none
    int32_t next;      // next sibling (node index), -1 if last
    const char *key;   // member of an object: decoded key, NUL-terminated
    size_t key_len;    // bytes of key (a key may hold "\u0000", so it can exceed strlen)
    const char *str;   // STRING: decoded text; NUMBER: the literal as written. NUL-terminated
    size_t len;        // bytes of str
    size_t offset;     // byte offset of the value in the text (for messages)
    // NUMBER only. is_int: written without fraction or exponent. u: the
    // magnitude when is_int and it fits in 64 bits (big is set otherwise).
    bool is_int, negative, big;
    uint64_t u;
    double num;        // the value as a double (strtod), for any number
} silt_json_value;

typedef struct silt_json silt_json;

// Parses len bytes of text (no NUL needed). max_depth bounds the nesting of
// arrays/objects (the root container is depth 1). *out is set only on success.
silt_status silt_json_parse(const char *text, size_t len, int max_depth, silt_json **out);
void silt_json_free(silt_json *doc);  // NULL-safe

const silt_json_value *silt_json_root(const silt_json *doc);
// First element/member of an array/object, NULL if empty or not a container.
const silt_json_value *silt_json_child(const silt_json *doc, const silt_json_value *v);
// Next sibling in the parent array/object, NULL after the last.
const silt_json_value *silt_json_next(const silt_json *doc, const silt_json_value *v);
// Member of an object by key (linear scan), NULL if absent or not an object.
const silt_json_value *silt_json_member(const silt_json *doc, const silt_json_value *obj, const char *key);

// True when s[0..n) is well-formed UTF-8 (same rules as the parser).
bool silt_json_utf8_valid(const char *s, size_t n);

// Growable output buffer. Appends never fail loudly: on OOM `failed` is set
// and later appends are ignored; check it (or the status of _finish) once.
typedef struct silt_json_buf {
    char *data;
    size_t len, cap;
    bool failed;
} silt_json_buf;

void silt_json_buf_append(silt_json_buf *b, const void *s, size_t n);
void silt_json_buf_printf(silt_json_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Appends s as a quoted JSON string: '"' and '\' escaped, control characters as
// \n, \t, ... or \u00XX; other bytes (UTF-8) copied as they are.
void silt_json_buf_string(silt_json_buf *b, const char *s, size_t n);
void silt_json_buf_free(silt_json_buf *b);

#endif
