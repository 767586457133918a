/*
 * Compile-only test of include/seqcore.h (make header-test): the header must compile without a
 * single warning as C99 under gcc and clang and as C++17 under g++, with -Wall -Wextra -Werror
 * (and -pedantic for C). Included twice to test the include guard; the declarations below make the
 * compiler check the macros' types and that each function can be named.
 */
#include "seqcore.h"
#include "seqcore.h"

/* A negative array size fails to compile: a static assertion that C99 also understands. */
typedef char seq_version_number_is_consistent[
    SEQ_VERSION_NUMBER == SEQ_VERSION_MAJOR * 10000 + SEQ_VERSION_MINOR * 100 + SEQ_VERSION_PATCH ? 1 : -1];
typedef char seq_ok_is_zero[SEQ_OK == 0 ? 1 : -1];
typedef char seq_status_is_32_bits[sizeof(seq_status) == 4 ? 1 : -1];

const char *header_test_version_string(void);
const char *header_test_version_string(void) { return SEQ_VERSION_STRING; }

/* Taking each function's address checks its declaration from both C and C++. */
seq_status (*header_test_create)(seq_config **) = seq_config_create;
void (*header_test_free)(seq_config *) = seq_config_free;
const char *(*header_test_last_error)(void) = seq_last_error;

/* The struct and callback types: a function of the documented shape converts to the typedef. */
typedef char seq_progress_is_nine_8_byte_fields[sizeof(seq_progress) == 9 * 8 ? 1 : -1];
typedef char seq_layout_values[SEQ_LAYOUT_TIME_MAJOR == 0 && SEQ_LAYOUT_BATCH_FIRST == 1 ? 1 : -1];
int32_t header_test_callback(const seq_progress *progress, void *user_data);
int32_t header_test_callback(const seq_progress *progress, void *user_data) {
    (void)user_data;
    return progress->size == (int64_t)sizeof(seq_progress) ? 0 : 1;
}
seq_progress_callback header_test_progress = header_test_callback;
seq_status (*header_test_fit)(seq_model *, seq_dataset *, int64_t, int64_t, seq_progress_callback, void *) = seq_model_fit;
seq_status (*header_test_feed)(seq_stream *, const float *, const int32_t *, int64_t, int64_t, int64_t, seq_layout, float *,
                               int64_t, int64_t *) = seq_stream_feed;
seq_status (*header_test_feed_hidden)(seq_stream *, const float *, const int32_t *, int64_t, int64_t, int64_t, seq_layout,
                                      float *, int64_t, int64_t *) = seq_stream_feed_hidden;
