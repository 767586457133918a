/*
 * Concurrent use of the C ABI, for ThreadSanitizer (`make tsan`) and AddressSanitizer
 * (`make sanitize`). Every phase checks results, not only the absence of reports:
 *
 *   1. independent models: 4 threads, each creating its own model, training it (seq_model_fit,
 *      then train_step), evaluating, predicting, saving to its own file and loading it back; two of
 *      them fit from one shared dataset. Meanwhile one thread changes seq_set_num_threads (1, 2, 7)
 *      and another creates, frees and misuses handles (wrong kind, garbage pointers). Every thread's
 *      predictions must equal bit for bit those of the same work run alone beforehand (the header
 *      promises bit-identical results for every thread count; the models share nothing).
 *   2. one shared model, read-only: 4 threads each stream through their own seq_stream (every
 *      fourth step with seq_stream_feed_hidden), two more feed one shared stream, one predicts and
 *      reads parameters; the outputs (y-hat and a<t>) equal the same work run alone, and the shared
 *      stream's position counts both threads' steps.
 *   3. one shared model under mutation: a thread trains and sets parameters and the learning rate
 *      while streams feed and another thread predicts; then the model handle is freed while the
 *      streams still run (they keep the model alive). Statuses must be SEQ_OK, outputs finite.
 *   4. seq_last_error: 4 threads fail differently in lock step (a barrier between failing and
 *      reading) and each reads its own message; then half of them fail again while the others
 *      keep the pointer they read, which must stay valid and unchanged (also across a successful
 *      call); a thread that never failed reads "".
 *
 * Usage: test_concurrency [SCRATCH_DIR]   (model files go there; default ".")
 * Prints one line per phase and "concurrency: N failures"; exits 1 on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "seqcore.h"
#ifdef SEQ_TSAN_SWIFT_MUTEX
#include "tsan_swift_mutex.h"
#endif

static const char *scratch = ".";
static int total_failures;
static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;

/* Records one failure of the calling thread's work, with its label. */
static void fail(const char *who, const char *format, ...) {
    va_list args;
    pthread_mutex_lock(&failure_lock);
    total_failures++;
    fprintf(stderr, "FAIL [%s] ", who);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    pthread_mutex_unlock(&failure_lock);
}

/* A call that must return SEQ_OK; otherwise the failure names the call and the library's message. */
#define EXPECT_OK(who, call)                                                                     \
    do {                                                                                         \
        seq_status status_ = (call);                                                             \
        if (status_ != SEQ_OK)                                                                   \
            fail(who, "%s:%d %s returned %d: %s", __FILE__, __LINE__, #call, (int)status_,        \
                 seq_last_error());                                                              \
    } while (0)

static void start(pthread_t *thread, void *(*body)(void *), void *arg) {
    if (pthread_create(thread, NULL, body, arg) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        exit(2);
    }
}

static int all_finite(const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Deterministic inputs: value i of stream `seed`. */
static float input_value(int seed, int i) { return (float)((i * 37 + seed * 11) % 23) / 23.0f - 0.5f; }

/* ---------------------------------------------------------------------------------------------
 * Phase 1: independent models in parallel.
 */

/* sequences, steps, features, hidden units, tagger classes, vocabulary, embedding, batch; a language
   model's outputs per step are V */
enum { N = 16, T = 6, I = 3, H = 12, K = 4, V = 10, E = 6, B = 4 };
/* At B = 2 an LSTM step of hidden size 128 is 2 x 512 x 128 multiply-adds, at the threshold
   (FloatGEMM.parallelThreshold) above which the kernels split a product with their worker thread. */
enum { BIG_H = 128 };

struct model_work {
    int index;
    seq_dataset *shared_dataset; /* NULL: the worker makes its own */
    char label[64];
    float predictions[T * B * V];
    double loss;
};

/* What make_model builds for each worker index. */
static const char *const model_specs[] = {"tagger, 2-layer LSTM, dropout", "language model, GRU", "tagger, RNN",
                                          "language model, LSTM with projection"};

static int is_language_model(int index) { return index % 2 == 1; }

static seq_model *make_model(const char *who, int index) {
    seq_config *config = NULL;
    seq_model *model = NULL;
    EXPECT_OK(who, seq_config_create(&config));
    if (is_language_model(index)) {
        EXPECT_OK(who, seq_config_set_string(config, "architecture", "language_model"));
        EXPECT_OK(who, seq_config_set_int(config, "vocab_size", V));
        EXPECT_OK(who, seq_config_set_int(config, "embedding_size", E));
    } else {
        EXPECT_OK(who, seq_config_set_string(config, "architecture", "tagger"));
        EXPECT_OK(who, seq_config_set_int(config, "input_size", I));
        EXPECT_OK(who, seq_config_set_int(config, "output_size", K));
    }
    EXPECT_OK(who, seq_config_set_string(config, "cell", index == 0 || index == 3 ? "lstm" : index == 1 ? "gru" : "rnn_tanh"));
    /* worker 0 is large enough for the kernels to split products with their worker thread */
    EXPECT_OK(who, seq_config_set_int(config, "hidden_size", index == 0 ? BIG_H : H));
    EXPECT_OK(who, seq_config_set_int(config, "num_layers", index == 0 ? 2 : 1));
    if (index == 0) EXPECT_OK(who, seq_config_set_float(config, "dropout", 0.2));
    if (index == 3) EXPECT_OK(who, seq_config_set_int(config, "proj_size", 5));
    EXPECT_OK(who, seq_config_set_int(config, "seed", 100 + index));
    EXPECT_OK(who, seq_config_set_float(config, "learning_rate", 0.01));
    EXPECT_OK(who, seq_model_create(config, &model));
    seq_config_free(config);
    return model;
}

/* The inputs of sequence n (time-major [T, N] or [T, N, I]) and its targets. */
static void fill_dataset(int index, float *features, int32_t *tokens, int32_t *targets, int count) {
    int t, n, i;
    for (t = 0; t < T; t++)
        for (n = 0; n < count; n++) {
            int32_t token = (int32_t)((t * 3 + n * 7 + index) % V);
            tokens[t * count + n] = token;
            for (i = 0; i < I; i++) features[(t * count + n) * I + i] = input_value(index, (t * count + n) * I + i);
            /* tagger: a class from the features' sign pattern; language model: the next token */
            targets[t * count + n] = is_language_model(index) ? (int32_t)((token + 1) % V)
                                                                : (int32_t)((features[(t * count + n) * I] > 0) * 2 +
                                                                            (features[(t * count + n) * I + 1] > 0));
        }
}

static void fill_dataset_handle(const char *who, seq_dataset *data, int index) {
    float features[T * N * I];
    int32_t tokens[T * N], targets[T * N];
    fill_dataset(index, features, tokens, targets, N);
    if (is_language_model(index))
        EXPECT_OK(who, seq_dataset_set_inputs(data, NULL, tokens, N, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    else
        EXPECT_OK(who, seq_dataset_set_inputs(data, features, NULL, N, T, I, NULL, SEQ_LAYOUT_TIME_MAJOR));
    EXPECT_OK(who, seq_dataset_set_targets(data, targets, NULL, N, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
}

static void *model_worker(void *arg) {
    struct model_work *w = (struct model_work *)arg;
    const char *who = w->label;
    const int lm = is_language_model(w->index);
    float features[T * B * I], reloaded[T * B * V] = {0};
    int32_t tokens[T * B], targets[T * B];
    int64_t count = 0, length = 0;
    char path[512], name[128], architecture[32];
    seq_dataset *data = w->shared_dataset;
    seq_model *model = make_model(who, w->index), *loaded = NULL;
    seq_config *config = NULL;
    int step;
    if (model == NULL) return NULL;

    if (data == NULL) {
        EXPECT_OK(who, seq_dataset_create(&data));
        fill_dataset_handle(who, data, w->index);
    }
    EXPECT_OK(who, seq_dataset_count(data, &count));
    if (count != N) fail(who, "seq_dataset_count gave %lld, expected %d", (long long)count, N);
    EXPECT_OK(who, seq_model_fit(model, data, 3, 4, NULL, NULL));
    if (w->shared_dataset == NULL) seq_dataset_free(data);

    fill_dataset(w->index + 50, features, tokens, targets, B);
    for (step = 0; step < 20; step++)
        EXPECT_OK(who, seq_model_train_step(model, lm ? NULL : features, lm ? tokens : NULL, T, B, lm ? 1 : I, NULL,
                                            SEQ_LAYOUT_TIME_MAJOR, targets, NULL, T, NULL, NULL));
    EXPECT_OK(who, seq_model_evaluate(model, lm ? NULL : features, lm ? tokens : NULL, T, B, lm ? 1 : I, NULL,
                                      SEQ_LAYOUT_TIME_MAJOR, targets, NULL, T, NULL, &w->loss));
    EXPECT_OK(who, seq_model_predict(model, lm ? NULL : features, lm ? tokens : NULL, T, B, lm ? 1 : I, NULL,
                                     SEQ_LAYOUT_TIME_MAJOR, w->predictions, T * B * V, NULL));

    /* Read-only calls, then a round trip through this thread's own file. */
    EXPECT_OK(who, seq_model_parameter_name(model, 0, name, sizeof name, &length));
    EXPECT_OK(who, seq_model_get_config(model, &config));
    EXPECT_OK(who, seq_config_get_string(config, "architecture", architecture, sizeof architecture, NULL));
    if (strcmp(architecture, lm ? "language_model" : "tagger") != 0) fail(who, "architecture read back as %s", architecture);
    seq_config_free(config);
    snprintf(path, sizeof path, "%s/concurrency-model-%d.safetensors", scratch, w->index);
    EXPECT_OK(who, seq_model_save(model, path));
    EXPECT_OK(who, seq_model_load(path, &loaded));
    if (loaded != NULL) {
        EXPECT_OK(who, seq_model_predict(loaded, lm ? NULL : features, lm ? tokens : NULL, T, B, lm ? 1 : I, NULL,
                                         SEQ_LAYOUT_TIME_MAJOR, reloaded, T * B * V, NULL));
        if (memcmp(reloaded, w->predictions, (size_t)T * B * (lm ? V : K) * sizeof(float)) != 0) fail(who, "the loaded model predicts differently");
        if (lm) {
            int32_t prefix[2] = {1, 2}, generated[8];
            EXPECT_OK(who, seq_model_generate(loaded, prefix, 2, 8, 0.8, 0, 7, -1, generated, 8, NULL));
        }
    }
    seq_model_free(loaded);
    seq_model_free(model);
    unlink(path);
    if (!all_finite(w->predictions, T * B * V)) fail(who, "non-finite predictions");
    return NULL;
}

static volatile int stop_flag; /* read and written with __atomic builtins only */

/* Changes the kernels' thread count while models train; reads must always give 1 or 2. */
static void *thread_count_changer(void *arg) {
    static const int32_t settings[] = {1, 2, 7, 2, 1};
    unsigned round = 0;
    (void)arg;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
        int32_t got;
        EXPECT_OK("num_threads", seq_set_num_threads(settings[round % 5]));
        got = seq_get_num_threads();
        if (got != 1 && got != 2) fail("num_threads", "seq_get_num_threads gave %d", (int)got);
        if (seq_set_num_threads(0) != SEQ_ERR_INVALID_ARGUMENT) fail("num_threads", "seq_set_num_threads(0) accepted");
        round++;
        {
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

/* Creates and frees handles and passes wrong ones, while other threads use theirs: the registry
   must keep telling them apart. */
static void *handle_churner(void *arg) {
    int round = 0, local = 0;
    (void)arg;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE) || round < 50) {
        seq_config *config = NULL;
        seq_dataset *data = NULL;
        int64_t count = -1, value = 0;
        EXPECT_OK("churn", seq_config_create(&config));
        EXPECT_OK("churn", seq_dataset_create(&data));
        EXPECT_OK("churn", seq_config_set_int(config, "hidden_size", 1 + round % 50));
        /* a dataset where a config is expected, and the reverse */
        if (seq_config_get_int((seq_config *)data, "hidden_size", &value) != SEQ_ERR_WRONG_HANDLE)
            fail("churn", "a dataset was taken for a config");
        seq_config_free((seq_config *)data); /* left alone: wrong kind */
        EXPECT_OK("churn", seq_dataset_count(data, &count));
        if (count != 0) fail("churn", "empty dataset count %lld", (long long)count);
        /* a pointer seqcore never made */
        if (seq_model_parameter_count((seq_model *)&local, &count) != SEQ_ERR_WRONG_HANDLE)
            fail("churn", "a stack address was taken for a model");
        seq_model_free((seq_model *)&local);
        seq_dataset_free(data);
        seq_config_free(config);
        /* freed: best effort, but nothing may crash and nothing may be accepted except by a handle
           that reuses the address (another thread may just have made one) */
        {
            seq_status status = seq_config_get_int(config, "hidden_size", &value);
            if (status != SEQ_ERR_WRONG_HANDLE && status != SEQ_OK) fail("churn", "freed config gave status %d", (int)status);
        }
        round++;
    }
    return NULL;
}

static void phase_independent_models(void) {
    enum { WORKERS = 4 };
    struct model_work reference[WORKERS], parallel[WORKERS];
    pthread_t threads[WORKERS], changer, churner;
    seq_dataset *shared = NULL;
    int i;

    /* Workers 0 and 2 (both feature taggers) fit from one dataset, worker 0's data; 1 and 3 make
       their own. */
    EXPECT_OK("phase1", seq_dataset_create(&shared));
    fill_dataset_handle("phase1", shared, 0);
    for (i = 0; i < WORKERS; i++) {
        memset(&reference[i], 0, sizeof reference[i]);
        reference[i].index = i;
        reference[i].shared_dataset = i % 2 == 0 ? shared : NULL;
        snprintf(reference[i].label, sizeof reference[i].label, "model %d alone", i);
        parallel[i] = reference[i];
        snprintf(parallel[i].label, sizeof parallel[i].label, "model %d (%s)", i, model_specs[i]);
    }
    for (i = 0; i < WORKERS; i++) model_worker(&reference[i]);

    __atomic_store_n(&stop_flag, 0, __ATOMIC_RELEASE);
    start(&changer, thread_count_changer, NULL);
    start(&churner, handle_churner, NULL);
    for (i = 0; i < WORKERS; i++) start(&threads[i], model_worker, &parallel[i]);
    for (i = 0; i < WORKERS; i++) pthread_join(threads[i], NULL);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
    pthread_join(changer, NULL);
    pthread_join(churner, NULL);
    seq_dataset_free(shared);
    EXPECT_OK("phase1", seq_set_num_threads(2));

    for (i = 0; i < WORKERS; i++) {
        if (memcmp(parallel[i].predictions, reference[i].predictions, sizeof parallel[i].predictions) != 0)
            fail(parallel[i].label, "predictions after parallel training differ from training alone");
        if (parallel[i].loss != reference[i].loss)
            fail(parallel[i].label, "loss %.9g in parallel, %.9g alone", parallel[i].loss, reference[i].loss);
    }
    printf("phase 1: %d models trained, saved and loaded in parallel, equal to training alone\n", WORKERS);
}

/* ---------------------------------------------------------------------------------------------
 * Phases 2 and 3: one model, many streams.
 */

/* the streamed model: features, classes, steps, batch */
enum { SI = 3, SK = 4, ST = 24, SB = 2, SH = BIG_H };

struct stream_work {
    seq_model *model;
    seq_stream *stream; /* shared stream when not NULL; else the worker makes its own */
    int seed, steps;
    int mutating; /* phase 3: only statuses and finiteness are checked */
    pthread_barrier_t *model_freed; /* phase 3: wait here until the model handle is freed */
    char label[64];
    float outputs[ST * SB * SK];
    float hidden[ST * SB * SH]; /* a<t> of the steps fed with seq_stream_feed_hidden (every fourth) */
    float h[SB * SH], c[SB * SH];
};

static void *stream_worker(void *arg) {
    struct stream_work *w = (struct stream_work *)arg;
    const char *who = w->label;
    seq_stream *stream = w->stream;
    int t, i;
    int64_t h_count = 0, c_count = 0;
    if (stream == NULL) EXPECT_OK(who, seq_stream_create(w->model, SB, &stream));
    if (stream == NULL) return NULL;
    for (t = 0; t < w->steps; t++) {
        float x[SB * SI];
        for (i = 0; i < SB * SI; i++) x[i] = input_value(w->seed, t * SB * SI + i);
        if (t % 4 == 3)
            EXPECT_OK(who, seq_stream_feed_hidden(stream, x, NULL, 1, SB, SI, SEQ_LAYOUT_TIME_MAJOR, w->hidden + t * SB * SH,
                                                  SB * SH, NULL));
        else
            EXPECT_OK(who, seq_stream_feed(stream, x, NULL, 1, SB, SI, SEQ_LAYOUT_TIME_MAJOR, w->outputs + t * SB * SK,
                                           SB * SK, NULL));
        if (w->model_freed != NULL && t == w->steps / 2) pthread_barrier_wait(w->model_freed);
    }
    if (w->stream == NULL) {
        int64_t position = -1;
        EXPECT_OK(who, seq_stream_position(stream, &position));
        if (position != w->steps) fail(who, "stream position %lld after %d steps", (long long)position, w->steps);
        EXPECT_OK(who, seq_stream_get_state(stream, w->h, sizeof w->h / sizeof w->h[0], &h_count, w->c,
                                            sizeof w->c / sizeof w->c[0], &c_count));
        /* setting the state read back leaves the stream where it was */
        EXPECT_OK(who, seq_stream_set_state(stream, w->h, h_count, w->c, c_count));
        seq_stream_free(stream);
    }
    if (!all_finite(w->outputs, (int64_t)w->steps * SB * SK)) fail(who, "non-finite stream outputs");
    if (!all_finite(w->hidden, (int64_t)w->steps * SB * SH)) fail(who, "non-finite hidden outputs");
    return NULL;
}

struct reader_work {
    seq_model *model;
    int rounds, mutating;
    float first[ST * SB * SK];
};

/* Predicts on the whole sequence and reads parameters; without mutation, every prediction must
   equal the first. */
static void *model_reader(void *arg) {
    struct reader_work *w = (struct reader_work *)arg;
    float x[ST * SB * SI], y[ST * SB * SK], weights[4 * SH * SI];
    int64_t dims[4], rank = 0, count = 0, parameters = 0;
    double rate = 0;
    int round, i;
    for (i = 0; i < ST * SB * SI; i++) x[i] = input_value(99, i);
    for (round = 0; round < w->rounds; round++) {
        EXPECT_OK("reader", seq_model_predict(w->model, x, NULL, ST, SB, SI, NULL, SEQ_LAYOUT_TIME_MAJOR, y, ST * SB * SK, NULL));
        if (round == 0) memcpy(w->first, y, sizeof y);
        else if (!w->mutating && memcmp(y, w->first, sizeof y) != 0) fail("reader", "predictions changed without training");
        if (!all_finite(y, ST * SB * SK)) fail("reader", "non-finite predictions");
        EXPECT_OK("reader", seq_model_parameter_count(w->model, &parameters));
        EXPECT_OK("reader", seq_model_parameter_shape(w->model, "rnn.weight_ih_l0", dims, 4, &rank, &count));
        EXPECT_OK("reader", seq_model_get_parameter(w->model, "rnn.weight_ih_l0", weights, 4 * SH * SI, &count));
        EXPECT_OK("reader", seq_model_get_learning_rate(w->model, &rate));
    }
    return NULL;
}

/* Trains the shared model and writes its parameters while others read it. */
static void *model_trainer(void *arg) {
    seq_model *model = (seq_model *)arg;
    float x[ST * SB * SI], y[ST * SB * SK], weights[4 * SH * SI];
    int32_t labels[ST * SB];
    int64_t count = 0;
    double loss = 0;
    int round, i;
    for (i = 0; i < ST * SB * SI; i++) x[i] = input_value(7, i);
    for (i = 0; i < ST * SB; i++) labels[i] = i % SK;
    for (round = 0; round < 40; round++) {
        EXPECT_OK("trainer", seq_model_train_step(model, x, NULL, ST, SB, SI, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, ST,
                                                  NULL, &loss));
        EXPECT_OK("trainer", seq_model_set_learning_rate(model, 0.01 / (1 + round)));
        EXPECT_OK("trainer", seq_model_get_parameter(model, "rnn.weight_ih_l0", weights, 4 * SH * SI, &count));
        EXPECT_OK("trainer", seq_model_set_parameter(model, "rnn.weight_ih_l0", weights, count));
        EXPECT_OK("trainer", seq_model_compute_gradients(model, x, NULL, ST, SB, SI, NULL, SEQ_LAYOUT_TIME_MAJOR, labels,
                                                         NULL, ST, NULL, NULL));
        EXPECT_OK("trainer", seq_model_apply_gradients(model));
        EXPECT_OK("trainer", seq_model_predict(model, x, NULL, ST, SB, SI, NULL, SEQ_LAYOUT_TIME_MAJOR, y, ST * SB * SK, NULL));
    }
    if (!isfinite(loss)) fail("trainer", "non-finite loss");
    return NULL;
}

static seq_model *stream_model(void) {
    seq_config *config = NULL;
    seq_model *model = NULL;
    EXPECT_OK("streams", seq_config_create(&config));
    EXPECT_OK("streams", seq_config_set_string(config, "cell", "lstm"));
    EXPECT_OK("streams", seq_config_set_int(config, "input_size", SI));
    EXPECT_OK("streams", seq_config_set_int(config, "hidden_size", SH));
    EXPECT_OK("streams", seq_config_set_int(config, "output_size", SK));
    EXPECT_OK("streams", seq_config_set_int(config, "seed", 5));
    EXPECT_OK("streams", seq_model_create(config, &model));
    seq_config_free(config);
    return model;
}

enum { STREAMS = 4 };

static void phase_shared_model_read_only(void) {
    seq_model *model = stream_model();
    struct stream_work reference[STREAMS], parallel[STREAMS], shared_feeders[2];
    struct reader_work reader_alone, reader;
    pthread_t threads[STREAMS + 3];
    seq_stream *shared = NULL;
    int64_t position = -1;
    int i;
    if (model == NULL) return;
    for (i = 0; i < STREAMS; i++) {
        memset(&reference[i], 0, sizeof reference[i]);
        reference[i].model = model;
        reference[i].seed = 10 + i;
        reference[i].steps = ST;
        snprintf(reference[i].label, sizeof reference[i].label, "stream %d alone", i);
        stream_worker(&reference[i]);
        parallel[i] = reference[i];
        memset(parallel[i].outputs, 0, sizeof parallel[i].outputs);
        memset(parallel[i].hidden, 0, sizeof parallel[i].hidden);
        snprintf(parallel[i].label, sizeof parallel[i].label, "stream %d", i);
    }
    memset(&reader_alone, 0, sizeof reader_alone);
    reader_alone.model = model;
    reader_alone.rounds = 1;
    model_reader(&reader_alone);
    reader = reader_alone;
    reader.rounds = 30;

    EXPECT_OK("phase2", seq_stream_create(model, SB, &shared));
    for (i = 0; i < 2; i++) {
        memset(&shared_feeders[i], 0, sizeof shared_feeders[i]);
        shared_feeders[i].model = model;
        shared_feeders[i].stream = shared;
        shared_feeders[i].seed = 20 + i;
        shared_feeders[i].steps = 10;
        snprintf(shared_feeders[i].label, sizeof shared_feeders[i].label, "shared stream feeder %d", i);
    }
    for (i = 0; i < STREAMS; i++) start(&threads[i], stream_worker, &parallel[i]);
    start(&threads[STREAMS], stream_worker, &shared_feeders[0]);
    start(&threads[STREAMS + 1], stream_worker, &shared_feeders[1]);
    start(&threads[STREAMS + 2], model_reader, &reader);
    for (i = 0; i < STREAMS + 3; i++) pthread_join(threads[i], NULL);

    for (i = 0; i < STREAMS; i++) {
        if (memcmp(parallel[i].outputs, reference[i].outputs, sizeof reference[i].outputs) != 0)
            fail(parallel[i].label, "outputs differ from the same stream run alone");
        if (memcmp(parallel[i].hidden, reference[i].hidden, sizeof reference[i].hidden) != 0)
            fail(parallel[i].label, "hidden outputs differ from the same stream run alone");
        if (memcmp(parallel[i].h, reference[i].h, sizeof reference[i].h) != 0 ||
            memcmp(parallel[i].c, reference[i].c, sizeof reference[i].c) != 0)
            fail(parallel[i].label, "final state differs from the same stream run alone");
    }
    if (memcmp(reader.first, reader_alone.first, sizeof reader.first) != 0)
        fail("reader", "predictions differ from the same call alone");
    EXPECT_OK("phase2", seq_stream_position(shared, &position));
    if (position != 20) fail("shared stream", "position %lld after 2 x 10 steps from two threads", (long long)position);
    seq_stream_free(shared);
    seq_model_free(model);
    printf("phase 2: %d streams, 1 stream shared by 2 threads and 1 reader over one model, equal to running alone\n",
           STREAMS);
}

static void phase_shared_model_mutating(void) {
    seq_model *model = stream_model();
    struct stream_work work[STREAMS];
    struct reader_work reader;
    pthread_t streams[STREAMS], trainer, reader_thread;
    pthread_barrier_t model_freed;
    int i;
    if (model == NULL) return;
    pthread_barrier_init(&model_freed, NULL, STREAMS + 1);
    memset(&reader, 0, sizeof reader);
    reader.model = model;
    reader.rounds = 30;
    reader.mutating = 1;
    for (i = 0; i < STREAMS; i++) {
        memset(&work[i], 0, sizeof work[i]);
        work[i].model = model;
        work[i].seed = 30 + i;
        work[i].steps = ST;
        work[i].mutating = 1;
        work[i].model_freed = &model_freed;
        snprintf(work[i].label, sizeof work[i].label, "stream %d (training)", i);
    }
    /* The streams are created here, so that they exist before the model handle is freed. */
    for (i = 0; i < STREAMS; i++) EXPECT_OK("phase3", seq_stream_create(model, SB, &work[i].stream));
    for (i = 0; i < STREAMS; i++) start(&streams[i], stream_worker, &work[i]);
    start(&trainer, model_trainer, model);
    start(&reader_thread, model_reader, &reader);
    pthread_join(trainer, NULL);
    pthread_join(reader_thread, NULL);
    /* Free the model handle while every stream is half-way: they keep the model alive. */
    seq_model_free(model);
    pthread_barrier_wait(&model_freed);
    for (i = 0; i < STREAMS; i++) pthread_join(streams[i], NULL);
    for (i = 0; i < STREAMS; i++) {
        int64_t position = -1;
        EXPECT_OK("phase3", seq_stream_position(work[i].stream, &position));
        if (position != ST) fail(work[i].label, "position %lld, expected %d", (long long)position, ST);
        seq_stream_free(work[i].stream);
    }
    pthread_barrier_destroy(&model_freed);
    printf("phase 3: %d streams and a reader while a thread trains the model; model freed under the streams\n",
           STREAMS);
}

/* ---------------------------------------------------------------------------------------------
 * Phase 4: seq_last_error is per thread.
 */

enum { ERROR_THREADS = 4, ERROR_ROUNDS = 200 };

struct error_work {
    int index;
    pthread_barrier_t *barrier;
};

static void *error_worker(void *arg) {
    struct error_work *w = (struct error_work *)arg;
    char who[32], expected[256], path[512], copy[512];
    seq_config *config = NULL;
    int round;
    snprintf(who, sizeof who, "last_error %d", w->index);
    EXPECT_OK(who, seq_config_create(&config));
    if (strcmp(seq_last_error(), "") != 0) fail(who, "a new thread's message is \"%s\", not \"\"", seq_last_error());
    for (round = 0; round < ERROR_ROUNDS; round++) {
        const long long value = -(1000LL * w->index + round + 1);
        const char *message;
        seq_status status;
        /* Each thread fails its own way, with a value that is its own. */
        switch (w->index % 3) {
        case 0:
            status = seq_config_set_int(config, "hidden_size", value);
            snprintf(expected, sizeof expected, "got %lld", value);
            break;
        case 1:
            status = seq_set_num_threads((int32_t)value);
            snprintf(expected, sizeof expected, "got %lld", value);
            break;
        default:
            snprintf(path, sizeof path, "%s/no-such-file-%d-%d.safetensors", scratch, w->index, round);
            {
                seq_model *loaded = NULL;
                status = seq_model_load(path, &loaded);
                if (loaded != NULL) seq_model_free(loaded);
            }
            snprintf(expected, sizeof expected, "no-such-file-%d-%d", w->index, round);
            break;
        }
        if (status == SEQ_OK) fail(who, "round %d: a bad call succeeded", round);
        /* everyone has failed before anyone reads */
        pthread_barrier_wait(w->barrier);
        message = seq_last_error();
        if (strstr(message, expected) == NULL) fail(who, "round %d: message \"%s\" lacks \"%s\"", round, message, expected);
        snprintf(copy, sizeof copy, "%s", message);
        pthread_barrier_wait(w->barrier);
        /* odd threads fail again while even ones hold on to their message; a successful call
           leaves a message alone too */
        if (w->index % 2 == 1) (void)seq_config_set_int(NULL, "hidden_size", 1);
        else EXPECT_OK(who, seq_config_set_int(config, "hidden_size", 3));
        pthread_barrier_wait(w->barrier);
        if (w->index % 2 == 0 && (seq_last_error() != message || strcmp(message, copy) != 0))
            fail(who, "round %d: the message changed while other threads failed: \"%s\"", round, seq_last_error());
        if (w->index % 2 == 1 && strstr(seq_last_error(), "seq_config_set_int: argument 'config'") == NULL)
            fail(who, "round %d: the second failure's message is \"%s\"", round, seq_last_error());
    }
    seq_config_free(config);
    return NULL;
}

static void phase_last_error(void) {
    struct error_work work[ERROR_THREADS];
    pthread_t threads[ERROR_THREADS];
    pthread_barrier_t barrier;
    int i;
    pthread_barrier_init(&barrier, NULL, ERROR_THREADS);
    for (i = 0; i < ERROR_THREADS; i++) {
        work[i].index = i;
        work[i].barrier = &barrier;
        start(&threads[i], error_worker, &work[i]);
    }
    for (i = 0; i < ERROR_THREADS; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    printf("phase 4: %d threads x %d rounds, each read its own seq_last_error\n", ERROR_THREADS, ERROR_ROUNDS);
}

int main(int argc, char **argv) {
    if (argc > 1) scratch = argv[1];
#ifdef SEQ_TSAN_SWIFT_MUTEX
    tsan_swift_mutex_check();
#endif
    phase_independent_models();
    phase_shared_model_read_only();
    phase_shared_model_mutating();
    phase_last_error();
#ifdef SEQ_TSAN_SWIFT_MUTEX
    printf("(contended Swift mutex operations annotated for TSan: %d)\n", tsan_swift_mutex_slow_calls());
#endif
    printf("concurrency: %d failures\n", total_failures);
    return total_failures == 0 ? 0 : 1;
}
