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
