/* Implementation of helpers.h. */
#define _POSIX_C_SOURCE 200809L /* strtok_r, getpid, unlink, access */
#include "helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *const float_keys[] = {"dropout",   "learning_rate", "momentum",  "weight_decay", "beta1",
                                         "beta2",     "epsilon",       "clip_norm", "clip_value",   "forget_bias",
                                         "dampening", "alpha",         "lr_gamma",  "lr_min",       "warmup_start_factor"};

static int is_float_key(const char *key) {
    size_t i;
    for (i = 0; i < sizeof float_keys / sizeof float_keys[0]; i++)
        if (strcmp(key, float_keys[i]) == 0) return 1;
    return 0;
}

seq_config *config_from(const char *spec) {
    seq_config *config = NULL;
    char buffer[1024];
    char *token, *save = NULL;
    CHECK_OK(seq_config_create(&config));
    if (config == NULL) return NULL;
    strncpy(buffer, spec, sizeof buffer - 1);
    buffer[sizeof buffer - 1] = 0;
    for (token = strtok_r(buffer, " ", &save); token != NULL; token = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(token, '='), *end = NULL;
        const char *key = token, *value;
        long long integer;
        if (eq == NULL) {
            check_fail(__FILE__, __LINE__, spec, "malformed spec item \"%s\"", token);
            continue;
        }
        *eq = 0;
        value = eq + 1;
        if (is_float_key(key)) {
            CHECK_OK(seq_config_set_float(config, key, strtod(value, NULL)));
            continue;
        }
        integer = strtoll(value, &end, 10);
        if (*value != 0 && *end == 0)
            CHECK_OK(seq_config_set_int(config, key, integer));
        else
            CHECK_OK(seq_config_set_string(config, key, value));
    }
    return config;
}

seq_model *model_from(const char *spec) {
    seq_config *config = config_from(spec);
    seq_model *model = NULL;
    seq_status status = seq_model_create(config, &model);
    if (status != SEQ_OK)
        check_fail(__FILE__, __LINE__, spec, "seq_model_create failed: %s", seq_last_error());
    seq_config_free(config);
    return model;
}

int quick_mode(void) {
    const char *value = getenv("SEQCORE_TEST_QUICK");
    return value != NULL && *value != 0 && strcmp(value, "0") != 0;
}

void rng_seed(test_rng *rng, uint64_t seed) { rng->state = seed * 2654435761u + 0x9E3779B97F4A7C15ull; }

uint64_t rng_next(test_rng *rng) {
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

int rng_below(test_rng *rng, int n) { return (int)((rng_next(rng) >> 33) % (uint64_t)n); }

float rng_float(test_rng *rng) { return (float)((double)(rng_next(rng) >> 11) * 0x1.0p-52 - 1.0); }

double max_abs_diff(const float *a, const float *b, int64_t count) {
    double worst = 0;
    int64_t i;
    for (i = 0; i < count; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d; /* NaN wins */
    }
    return worst;
}
