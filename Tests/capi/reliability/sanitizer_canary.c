/*
 * A deliberate bug in the caller, which the sanitizers must report *inside libseqcore*: run by
 * `make sanitize` and `make tsan`, which fail unless this program dies with the expected report.
 * A clean sanitizer run proves little if the library was not instrumented after all (a build flag
 * lost, a runtime not loaded); this proves the library's own memory accesses are checked.
 *
 *   sanitizer_canary asan   seq_model_predict into a heap buffer one float shorter than the
 *                           capacity passed: AddressSanitizer reports a heap-buffer-overflow write
 *                           from the library's code.
 *   sanitizer_canary tsan   one thread reads an output buffer and another thread's
 *                           seq_model_predict writes it, with nothing ordering them:
 *                           ThreadSanitizer reports a race with the library's write. The two
 *                           orders make different reports, so both are run, each forced by a
 *                           relaxed atomic flag (which TSan does not count as synchronisation):
 *     tsan-read-first       the read, then the library's write: the write is the current access
 *                           and the report is a "data race" with the library's copy.
 *     tsan-write-first      the library's write, then the read: the previous access is the
 *                           library's last write, which Swift's instrumentation may tag as its
 *                           own ("Swift access race") or not ("data race").
 *
 * Exits 0 only if the sanitizer did not catch the bug (the make targets treat that as a failure).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqcore.h"

enum { T = 4, B = 2, I = 3, K = 5 };

static seq_model *make_model(void) {
    seq_config *config = NULL;
    seq_model *model = NULL;
    if (seq_config_create(&config) != SEQ_OK || seq_config_set_string(config, "cell", "gru") != SEQ_OK ||
        seq_config_set_int(config, "input_size", I) != SEQ_OK || seq_config_set_int(config, "hidden_size", 6) != SEQ_OK ||
        seq_config_set_int(config, "output_size", K) != SEQ_OK || seq_model_create(config, &model) != SEQ_OK) {
        fprintf(stderr, "canary: cannot make a model: %s\n", seq_last_error());
        exit(2);
    }
    seq_config_free(config);
    return model;
}

static float features[T * B * I];
static float *shared_output;
static seq_model *model;
/* Set by whichever side goes first; relaxed, so it orders the threads without TSan seeing a
 * happens-before edge between the read and the write. */
static int first_done;
static int read_first;

static void wait_for_first(void) {
    while (!__atomic_load_n(&first_done, __ATOMIC_RELAXED)) {
    }
}

static void *predict_into_shared(void *arg) {
    (void)arg;
    if (read_first) wait_for_first();
    if (seq_model_predict(model, features, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, shared_output, T * B * K, NULL) !=
        SEQ_OK)
        fprintf(stderr, "canary: predict failed: %s\n", seq_last_error());
    if (!read_first) __atomic_store_n(&first_done, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *read_shared(void *arg) {
    volatile float sum = 0;
    int i;
    (void)arg;
    if (!read_first) wait_for_first();
    for (i = 0; i < T * B * K; i++) sum += shared_output[i];
    if (read_first) __atomic_store_n(&first_done, 1, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    int i;
    for (i = 0; i < T * B * I; i++) features[i] = (float)(i % 7) / 7.0f;
    model = make_model();
    if (strcmp(mode, "asan") == 0) {
        /* The lie: room for T*B*K - 1 floats, capacity says T*B*K. */
        float *output = malloc((T * B * K - 1) * sizeof(float));
        seq_model_predict(model, features, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, output, T * B * K, NULL);
        free(output);
    } else if (strcmp(mode, "tsan-read-first") == 0 || strcmp(mode, "tsan-write-first") == 0) {
        pthread_t writer, reader;
        read_first = strcmp(mode, "tsan-read-first") == 0;
        shared_output = calloc(T * B * K, sizeof(float));
        pthread_create(&writer, NULL, predict_into_shared, NULL);
        pthread_create(&reader, NULL, read_shared, NULL);
        pthread_join(writer, NULL);
        pthread_join(reader, NULL);
        free(shared_output);
    } else {
        fprintf(stderr, "usage: sanitizer_canary asan|tsan-read-first|tsan-write-first\n");
        return 2;
    }
    seq_model_free(model);
    printf("canary: the %s bug went unnoticed\n", mode);
    return 0;
}
