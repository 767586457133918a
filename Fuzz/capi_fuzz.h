/*
 * Shared by the C libFuzzer targets of the C ABI (Fuzz/capi_calls.c, Fuzz/capi_load.c): a reader
 * that turns the fuzzer's bytes into argument values, and the oracle every call's status passes.
 *
 * The values lean towards what breaks argument checks: sizes are mostly 0...16 but often -1,
 * INT64_MIN, INT64_MAX, 2^31 (Limits.maxElements), 2^31 + 1, 2^32, 2^62; floats are often NaN,
 * infinite, huge or denormal; strings are mostly real key names and words, sometimes raw bytes
 * (invalid UTF-8, very long, NULL). When the input runs out every read returns zero.
 */
#ifndef SEQ_CAPI_FUZZ_H
#define SEQ_CAPI_FUZZ_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqcore.h"

typedef struct {
    const uint8_t *data;
    size_t size, at;
} fuzz_input;

static inline uint8_t fuzz_u8(fuzz_input *in) { return in->at < in->size ? in->data[in->at++] : 0; }

static inline uint64_t fuzz_u64(fuzz_input *in) {
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) v = v << 8 | fuzz_u8(in);
    return v;
}

static inline int fuzz_done(const fuzz_input *in) { return in->at >= in->size; }

/* Sizes the library must refuse, or take, without reading past a buffer: at and around its limit
   (2^31 elements), negative, overflowing when multiplied. */
static const int64_t fuzz_special_sizes[] = {
    -1, 0, 1, INT64_MIN, INT64_MAX, (int64_t)1 << 31, ((int64_t)1 << 31) + 1, ((int64_t)1 << 31) - 1,
    (int64_t)1 << 32, (int64_t)1 << 62, -((int64_t)1 << 31), (int64_t)1 << 40, 65536, 3037000500 /* sqrt(2^63) */};

/* A size or count: 0...16 for most bytes, a special size for the rest, 8 raw bytes for 255. */
static inline int64_t fuzz_size(fuzz_input *in) {
    uint8_t b = fuzz_u8(in);
    if (b < 208) return b % 17;
    if (b == 255) return (int64_t)fuzz_u64(in);
    return fuzz_special_sizes[(b - 208) % (sizeof fuzz_special_sizes / sizeof fuzz_special_sizes[0])];
}

static const double fuzz_special_doubles[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, DBL_MAX, -DBL_MAX, DBL_MIN,
                                              1e30, -1e30, 3e38, 1e-45, 1.0, 0.999999, 1e-300};

/* A double: small multiples of 1/16 for most bytes, a special value for the rest, raw bits for 255. */
static inline double fuzz_double(fuzz_input *in) {
    uint8_t b = fuzz_u8(in);
    if (b < 128) return ((int)b - 32) / 16.0;
    if (b == 255) {
        uint64_t bits = fuzz_u64(in);
        double v;
        memcpy(&v, &bits, sizeof v);
        return v;
    }
    return fuzz_special_doubles[(b - 128) % (sizeof fuzz_special_doubles / sizeof fuzz_special_doubles[0])];
}

/* A string: one of `words` for most bytes; NULL; or up to 64 raw bytes (NUL-terminated, so any
   byte but 0, invalid UTF-8 included), or a long run of one byte. Returns a pointer into `scratch`
   (at least 4097 bytes) or a static word. */
static inline const char *fuzz_string(fuzz_input *in, const char *const *words, size_t count, char *scratch) {
    uint8_t b = fuzz_u8(in);
    size_t n, i;
    if (b < 224) return words[b % count];
    if (b == 224) return NULL;
    if (b == 225) {
        n = 1 + fuzz_u8(in) * 16;
        memset(scratch, 'a' + fuzz_u8(in) % 26, n);
        scratch[n] = 0;
        return scratch;
    }
    n = fuzz_u8(in) % 65;
    for (i = 0; i < n; i++) {
        uint8_t c = fuzz_u8(in);
        scratch[i] = (char)(c == 0 ? 'x' : c);
    }
    scratch[n] = 0;
    return scratch;
}

/* Fills `n` floats: zeros, a pattern, a pattern with one NaN or infinity, or the input's bytes. */
static inline void fuzz_floats(fuzz_input *in, float *values, int64_t n) {
    uint8_t mode = fuzz_u8(in) % 6;
    int64_t i;
    for (i = 0; i < n; i++) values[i] = mode == 0 ? 0.0f : (float)((i * 37) % 19) / 19.0f - 0.5f;
    if (n > 0 && mode == 2) values[fuzz_u8(in) % n] = NAN;
    if (n > 0 && mode == 3) values[fuzz_u8(in) % n] = mode == 3 && fuzz_u8(in) % 2 ? INFINITY : -INFINITY;
    if (mode == 4)
        for (i = 0; i < n && !fuzz_done(in); i++) {
            uint32_t bits = (uint32_t)fuzz_u8(in) << 24 | (uint32_t)fuzz_u8(in) << 16;
            memcpy(&values[i], &bits, sizeof bits);
        }
}

/* Fills `n` token ids: in 0...bound-1, or with one out-of-range id. */
static inline void fuzz_tokens(fuzz_input *in, int32_t *ids, int64_t n, int64_t bound) {
    uint8_t mode = fuzz_u8(in) % 4;
    int64_t i;
    if (bound < 1) bound = 1;
    for (i = 0; i < n; i++) ids[i] = (int32_t)((i * 7 + mode) % bound);
    if (n > 0 && mode == 3) {
        static const int32_t bad[] = {-1, INT32_MIN, INT32_MAX, -100};
        ids[fuzz_u8(in) % n] = fuzz_u8(in) % 2 ? (int32_t)bound : bad[fuzz_u8(in) % 4];
    }
}

/* The product of `count` sizes, or -1 when one is negative or the product overflows int64. */
static inline int64_t fuzz_product(const int64_t *sizes, int count) {
    int64_t total = 1;
    int i;
    for (i = 0; i < count; i++) {
        if (sizes[i] < 0) return -1;
        if (sizes[i] != 0 && total > INT64_MAX / sizes[i]) return -1;
        total *= sizes[i];
    }
    return total;
}

/* Largest buffer a target allocates, in elements. */
#define FUZZ_MAX_BUFFER ((int64_t)1 << 16)
/* Limits.maxElements: a request for more elements than this must be refused before any read. */
#define FUZZ_LIBRARY_LIMIT ((int64_t)1 << 31)

/*
 * How a buffer described by sizes whose product is `elements` may be passed. A C caller promises
 * that a buffer holds what its sizes say, so the target passes a buffer that large whenever it
 * can (FUZZ_BUFFER_REAL). Beyond FUZZ_MAX_BUFFER the promise cannot be kept; when the sizes are
 * then beyond the library's own limit (or negative, or overflowing) the library must refuse them
 * without reading, so a small buffer is passed (FUZZ_BUFFER_REFUSED: a read past it is a library
 * bug that ASan reports). Sizes in between are legal requests too large to fuzz (FUZZ_BUFFER_SKIP).
 */
enum { FUZZ_BUFFER_REAL, FUZZ_BUFFER_REFUSED, FUZZ_BUFFER_SKIP };

static inline int fuzz_buffer_plan(int64_t elements) {
    if (elements >= 0 && elements <= FUZZ_MAX_BUFFER) return FUZZ_BUFFER_REAL;
    if (elements < 0 || elements > FUZZ_LIBRARY_LIMIT) return FUZZ_BUFFER_REFUSED;
    return FUZZ_BUFFER_SKIP;
}

/*
 * With SEQ_FUZZ_TRACE set in the environment every call is printed with its status (to read what
 * a crashing input does). The oracle applied to every status: a known code, never SEQ_ERR_INTERNAL (which the header calls
 * a bug in seqcore), and after a failure a message that names the function. A violation aborts,
 * which libFuzzer reports as a crash with the input that caused it.
 */
static inline seq_status fuzz_check(seq_status status, const char *function) {
    static int trace = -1;
    const char *message;
    if (trace < 0) trace = getenv("SEQ_FUZZ_TRACE") != NULL;
    if (trace) fprintf(stderr, "  %s -> %d %s\n", function, (int)status, status == SEQ_OK ? "" : seq_last_error());
    if (status == SEQ_OK) return status;
    message = seq_last_error();
    if (status < 0 || status > SEQ_ERR_INTERNAL || status == SEQ_ERR_INTERNAL ||
        strncmp(message, function, strlen(function)) != 0) {
        fprintf(stderr, "fuzz oracle: %s returned %d with message \"%s\"\n", function, (int)status, message);
        abort();
    }
    return status;
}

#define FUZZ_CALL(function, ...) fuzz_check(function(__VA_ARGS__), #function)

#endif /* SEQ_CAPI_FUZZ_H */
