/*
 * Helpers shared by the tests: building configurations and models from a one-line spec, a small
 * deterministic random generator, and the "quick" mode used under valgrind.
 */
#ifndef SEQ_HELPERS_H
#define SEQ_HELPERS_H

#include <stdint.h>

#include "seqcore.h"

/*
 * A configuration from "key=value key=value ...": values of the float keys are set with
 * seq_config_set_float, words that are not numbers with seq_config_set_string, the rest with
 * seq_config_set_int. A failing set is reported as a failed check. The caller frees the result.
 */
seq_config *config_from(const char *spec);

/* seq_model_create(config_from(spec)); NULL (and a failed check) on failure. */
seq_model *model_from(const char *spec);

/* Non-zero when SEQCORE_TEST_QUICK is set (make capi-test sets it for the valgrind run): learning
   tests then run a few steps to exercise the code, and skip their accuracy thresholds. */
int quick_mode(void);

/* xorshift64*: the same sequence on every platform. */
typedef struct {
    uint64_t state;
} test_rng;

void rng_seed(test_rng *rng, uint64_t seed);
uint64_t rng_next(test_rng *rng);
/* Uniform in [0, n). */
int rng_below(test_rng *rng, int n);
/* Uniform in [-1, 1). */
float rng_float(test_rng *rng);

/* The largest |a[i] - b[i]|. */
double max_abs_diff(const float *a, const float *b, int64_t count);

#endif /* SEQ_HELPERS_H */
