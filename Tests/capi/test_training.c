/*
 * Training: each of the four architectures learns a small task to a stated threshold (a few
 * seconds each), seq_model_fit with its progress callback, and the pieces of a step (gradients
 * against finite differences, compute + apply = train step, numeric errors).
 * In quick mode (the valgrind run) the tasks run a few steps and skip their thresholds.
 */
#define _POSIX_C_SOURCE 200809L /* strtok_r, getpid, unlink, access */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "helpers.h"
#include "tests.h"

/* ---- Tagger: per step, is this token less than, equal to or greater than the previous one? ---- */

enum { TAG_V = 6, TAG_T = 12 };

static void tagger_data(test_rng *rng, int n, int32_t *tokens, int32_t *labels, int64_t *lengths) {
    int b, t;
    for (b = 0; b < n; b++) {
        lengths[b] = 4 + rng_below(rng, TAG_T - 3);
        for (t = 0; t < TAG_T; t++) {
            /* Batch-first [N, T]; padding holds valid ids and labels (0). */
            int32_t token = t < lengths[b] ? rng_below(rng, TAG_V) : 0;
            int32_t previous = t > 0 ? tokens[b * TAG_T + t - 1] : token;
            tokens[b * TAG_T + t] = token;
            labels[b * TAG_T + t] = t < lengths[b] ? (token < previous ? 0 : token == previous ? 1 : 2) : 0;
        }
    }
}

void test_learn_tagger_with_fit(void) {
    enum { N = 512, TEST = 200, K = 3 };
    static int32_t tokens[N * TAG_T], labels[N * TAG_T], test_tokens[TEST * TAG_T], test_labels[TEST * TAG_T];
    static int64_t lengths[N], test_lengths[TEST];
    static float y[TEST * TAG_T * K];
    seq_model *model = model_from("architecture=tagger cell=gru vocab_size=6 embedding_size=8 hidden_size=32 "
                                  "output_size=3 learning_rate=0.01 clip_norm=5 seed=1");
    seq_dataset *data = NULL;
    test_rng rng;
    int correct = 0, total = 0, b, t, k;
    double accuracy;
    if (model == NULL) return;
    rng_seed(&rng, 21);
    tagger_data(&rng, N, tokens, labels, lengths);
    tagger_data(&rng, TEST, test_tokens, test_labels, test_lengths);
    CHECK_OK(seq_dataset_create(&data));
    CHECK_OK(seq_dataset_set_inputs(data, NULL, tokens, N, TAG_T, 1, lengths, SEQ_LAYOUT_BATCH_FIRST));
    CHECK_OK(seq_dataset_set_targets(data, labels, NULL, N, TAG_T, 1, NULL, SEQ_LAYOUT_BATCH_FIRST));
    CHECK_OK(seq_model_fit(model, data, quick_mode() ? 1 : 8, quick_mode() ? 256 : 32, NULL, NULL));
    CHECK_OK(seq_model_predict(model, NULL, test_tokens, TAG_T, TEST, 1, test_lengths, SEQ_LAYOUT_BATCH_FIRST, y,
                               TEST * TAG_T * K, NULL));
    for (b = 0; b < TEST; b++)
        for (t = 0; t < test_lengths[b]; t++) {
            const float *p = y + (b * TAG_T + t) * K;
            int best = 0;
            for (k = 1; k < K; k++)
                if (p[k] > p[best]) best = k;
            correct += best == test_labels[b * TAG_T + t];
            total++;
        }
    accuracy = (double)correct / total;
    printf("  tagger: %.1f%% of %d tokens right\n", 100 * accuracy, total);
    if (!quick_mode()) CHECK(accuracy >= 0.95);
    seq_dataset_free(data);
    seq_model_free(model);
}

/* ---- Classifier: which of 3 channels has the largest sum over the (variable-length) sequence ---- */

enum { CLS_T = 10, CLS_I = 3 };

static void classifier_data(test_rng *rng, int n, float *x, int32_t *labels, int64_t *lengths) {
    int b, t, i;
    for (b = 0; b < n; b++) {
        double sums[CLS_I] = {0, 0, 0};
        lengths[b] = 3 + rng_below(rng, CLS_T - 2);
        for (t = 0; t < CLS_T; t++)
            for (i = 0; i < CLS_I; i++) {
                float v = t < lengths[b] ? rng_float(rng) : 0;
                x[(t * n + b) * CLS_I + i] = v; /* time-major [T, N, I] */
                sums[i] += v;
            }
        labels[b] = sums[0] >= sums[1] && sums[0] >= sums[2] ? 0 : sums[1] >= sums[2] ? 1 : 2;
    }
}

void test_learn_classifier_with_train_step(void) {
    enum { B = 32, TEST = 300, K = 3 };
    static float x[CLS_T * B * CLS_I], test_x[CLS_T * TEST * CLS_I], y[TEST * K];
    int32_t labels[B], test_labels[TEST];
    int64_t lengths[B], test_lengths[TEST];
    seq_model *model = model_from("architecture=classifier cell=gru input_size=3 hidden_size=32 output_size=3 "
                                  "learning_rate=0.01 clip_norm=5 seed=2");
    test_rng rng;
    int step, steps = quick_mode() ? 5 : 400, correct = 0, b, k;
    double loss = 0, accuracy;
    if (model == NULL) return;
    rng_seed(&rng, 22);
    for (step = 0; step < steps; step++) {
        classifier_data(&rng, B, x, labels, lengths);
        CHECK_OK(seq_model_train_step(model, x, NULL, CLS_T, B, CLS_I, lengths, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, 1, NULL,
                                      &loss));
    }
    classifier_data(&rng, TEST, test_x, test_labels, test_lengths);
    CHECK_OK(seq_model_predict(model, test_x, NULL, CLS_T, TEST, CLS_I, test_lengths, SEQ_LAYOUT_TIME_MAJOR, y, TEST * K,
                               NULL));
    for (b = 0; b < TEST; b++) {
        int best = 0;
        for (k = 1; k < K; k++)
            if (y[b * K + k] > y[b * K + best]) best = k;
        correct += best == test_labels[b];
    }
    accuracy = (double)correct / TEST;
    printf("  classifier: %.1f%% of %d sequences right (last loss %.3f)\n", 100 * accuracy, TEST, loss);
    if (!quick_mode()) CHECK(accuracy >= 0.90);
    seq_model_free(model);
}

/* ---- Language model: characters of a small text; the loss must fall well below the unigram
   entropy (what a model that ignores the context can reach) ---- */

static const char *const lm_text =
    "the cat sat on the mat. the dog sat on the log. a cat and a dog sat on a mat and a log. "
    "the cat saw the dog. the dog saw the cat. a cat sat. a dog sat. the mat and the log. ";

void test_learn_language_model_with_fit(void) {
    enum { T = 24 };
    const int length = (int)strlen(lm_text);
    int vocabulary[256], v = 0, i, t, n;
    int32_t *ids, *inputs, *targets;
    double counts[256] = {0}, unigram = 0, loss = 0;
    char spec[256];
    seq_model *model;
    seq_dataset *data = NULL;
    for (i = 0; i < 256; i++) vocabulary[i] = -1;
    ids = (int32_t *)malloc((size_t)length * sizeof(int32_t));
    for (i = 0; i < length; i++) {
        unsigned char ch = (unsigned char)lm_text[i];
        if (vocabulary[ch] < 0) vocabulary[ch] = v++;
        ids[i] = vocabulary[ch];
        counts[ids[i]] += 1;
    }
    for (i = 0; i < v; i++) unigram -= counts[i] / length * log(counts[i] / length);
    /* Every window of T characters, and the same window shifted by one as targets. */
    n = length - T;
    inputs = (int32_t *)malloc((size_t)n * T * sizeof(int32_t));
    targets = (int32_t *)malloc((size_t)n * T * sizeof(int32_t));
    for (i = 0; i < n; i++)
        for (t = 0; t < T; t++) {
            inputs[i * T + t] = ids[i + t];
            targets[i * T + t] = ids[i + t + 1];
        }
    snprintf(spec, sizeof spec, "architecture=language_model cell=lstm vocab_size=%d embedding_size=16 hidden_size=64 "
             "learning_rate=0.01 clip_norm=5 seed=3", v);
    model = model_from(spec);
    if (model != NULL) {
        CHECK_OK(seq_dataset_create(&data));
        CHECK_OK(seq_dataset_set_inputs(data, NULL, inputs, n, T, 1, NULL, SEQ_LAYOUT_BATCH_FIRST));
        CHECK_OK(seq_dataset_set_targets(data, targets, NULL, n, T, 1, NULL, SEQ_LAYOUT_BATCH_FIRST));
        CHECK_OK(seq_model_fit(model, data, quick_mode() ? 1 : 12, quick_mode() ? 64 : 16, NULL, NULL));
        CHECK_OK(seq_model_evaluate(model, NULL, inputs, T, n, 1, NULL, SEQ_LAYOUT_BATCH_FIRST, targets, NULL, T, NULL, &loss));
        printf("  language model: loss %.3f nats per character, unigram baseline %.3f\n", loss, unigram);
        if (!quick_mode()) CHECK(loss < 0.5 * unigram);
    }
    seq_dataset_free(data);
    seq_model_free(model);
    free(ids);
    free(inputs);
    free(targets);
}

/* ---- Seq2seq: reverse sequences of 3 to 5 digits ---- */

enum { S2S_V = 10, S2S_T = 5 };

/* Sources [T, B] time-major, padded with the stop token 1; digits are ids 2..9. */
static void reverse_data(test_rng *rng, int n, int32_t *source, int32_t *target, int64_t *lengths) {
    int b, t;
    for (b = 0; b < n; b++) {
        lengths[b] = 3 + rng_below(rng, 3);
        for (t = 0; t < S2S_T; t++) source[t * n + b] = target[t * n + b] = 1;
        for (t = 0; t < lengths[b]; t++) source[t * n + b] = 2 + rng_below(rng, 8);
        for (t = 0; t < lengths[b]; t++) target[t * n + b] = source[(lengths[b] - 1 - t) * n + b];
    }
}

void test_learn_seq2seq_reversal(void) {
    enum { B = 32, TEST = 200, MAX = 8 };
    static int32_t source[S2S_T * B], target[S2S_T * B], test_source[S2S_T * TEST], test_target[S2S_T * TEST];
    static int32_t decoded[MAX * TEST];
    int64_t lengths[B], test_lengths[TEST], decoded_lengths[TEST];
    seq_model *model = model_from("architecture=seq2seq cell=lstm vocab_size=10 embedding_size=16 hidden_size=64 "
                                  "output_size=10 start_token=0 stop_token=1 learning_rate=0.01 clip_norm=5 seed=5");
    test_rng rng;
    int step, steps = quick_mode() ? 3 : 600, exact = 0, b, t;
    double loss = 0;
    if (model == NULL) return;
    rng_seed(&rng, 24);
    for (step = 0; step < steps; step++) {
        reverse_data(&rng, B, source, target, lengths);
        CHECK_OK(seq_model_train_step(model, NULL, source, S2S_T, B, 1, lengths, SEQ_LAYOUT_TIME_MAJOR, target, NULL, S2S_T,
                                      lengths, &loss));
    }
    reverse_data(&rng, TEST, test_source, test_target, test_lengths);
    CHECK_OK(seq_model_decode(model, NULL, test_source, S2S_T, TEST, 1, test_lengths, SEQ_LAYOUT_TIME_MAJOR, MAX, 0, 0, 0,
                              decoded, MAX * TEST, decoded_lengths));
    for (b = 0; b < TEST; b++) {
        int ok = decoded_lengths[b] == test_lengths[b];
        for (t = 0; ok && t < test_lengths[b]; t++) ok = decoded[t * TEST + b] == test_target[t * TEST + b];
        for (t = (int)decoded_lengths[b]; t < MAX; t++) CHECK_INT_EQ(decoded[t * TEST + b], -1);
        exact += ok;
    }
    printf("  seq2seq: %d of %d reversals exact (last loss %.3f)\n", exact, TEST, loss);
    if (!quick_mode()) CHECK(exact >= 0.9 * TEST);
    seq_model_free(model);
}

/* ---- seq_model_fit's progress callback ---- */

struct progress_log {
    int calls;
    int stop_at;
    int bad;
    int64_t last_step, last_epoch;
    seq_model *model;
    const char *save_path;
};

static int32_t on_progress(const seq_progress *p, void *user_data) {
    struct progress_log *log = (struct progress_log *)user_data;
    log->calls++;
    if (p->size != (int64_t)sizeof(seq_progress)) log->bad++;
    if (p->step != log->last_step + 1) log->bad++;
    if (p->epoch < 1 || p->epoch > p->epochs || p->batch < 1 || p->batch > p->batches) log->bad++;
    if (!(p->loss >= 0) || !(p->epoch_loss >= 0) || !(p->learning_rate > 0)) log->bad++;
    log->last_step = p->step;
    log->last_epoch = p->epoch;
    if (log->model != NULL) {
        /* The model is usable from the callback: a checkpoint, and a schedule. */
        if (log->save_path && seq_model_save(log->model, log->save_path) != SEQ_OK) log->bad++;
        if (seq_model_set_learning_rate(log->model, p->learning_rate * 0.5) != SEQ_OK) log->bad++;
    }
    return log->calls == log->stop_at;
}

static seq_dataset *small_dataset(int n) {
    int32_t tokens[64 * 4], labels[64 * 4];
    seq_dataset *data = NULL;
    int i;
    for (i = 0; i < n * 4; i++) {
        tokens[i] = i % 5;
        labels[i] = (i + 1) % 5;
    }
    CHECK_OK(seq_dataset_create(&data));
    CHECK_OK(seq_dataset_set_inputs(data, NULL, tokens, n, 4, 1, NULL, SEQ_LAYOUT_BATCH_FIRST));
    CHECK_OK(seq_dataset_set_targets(data, labels, NULL, n, 4, 1, NULL, SEQ_LAYOUT_BATCH_FIRST));
    return data;
}

void test_fit_progress_and_stop(void) {
    seq_model *model = model_from("architecture=language_model cell=gru vocab_size=5 embedding_size=3 hidden_size=4");
    seq_dataset *data = small_dataset(10);
    struct progress_log log = {0, 0, 0, 0, 0, NULL, NULL};
    int64_t count = 0;
    if (model == NULL) return;
    CHECK_OK(seq_dataset_count(data, &count));
    CHECK_INT_EQ(count, 10);
    /* 10 sequences in batches of 4: 3 batches (4, 4, 2) per epoch. */
    CHECK_OK(seq_model_fit(model, data, 2, 4, on_progress, &log));
    CHECK_INT_EQ(log.calls, 6);
    CHECK_INT_EQ(log.bad, 0);
    CHECK_INT_EQ(log.last_epoch, 2);
    /* Non-zero from the callback stops training after that batch, and is not an error. */
    memset(&log, 0, sizeof log);
    log.stop_at = 4;
    CHECK_OK(seq_model_fit(model, data, 5, 4, on_progress, &log));
    CHECK_INT_EQ(log.calls, 4);
    /* No callback at all. */
    CHECK_OK(seq_model_fit(model, data, 1, 100, NULL, NULL));
    seq_dataset_free(data);
    seq_model_free(model);
}

void test_fit_callback_uses_the_model(void) {
    seq_model *model = model_from("architecture=language_model cell=gru vocab_size=5 embedding_size=3 hidden_size=4 "
                                  "learning_rate=0.1");
    seq_dataset *data = small_dataset(8);
    char path[64];
    struct progress_log log = {0, 0, 0, 0, 0, NULL, NULL};
    double rate = 0;
    seq_model *loaded = NULL;
    snprintf(path, sizeof path, "/tmp/seqcore-capi-fit-%d.safetensors", (int)getpid());
    log.model = model;
    log.save_path = path;
    if (model == NULL) return;
    CHECK_OK(seq_model_fit(model, data, 1, 4, on_progress, &log));
    CHECK_INT_EQ(log.calls, 2);
    CHECK_INT_EQ(log.bad, 0);
    CHECK_OK(seq_model_get_learning_rate(model, &rate));
    CHECK_CLOSE(rate, 0.025, 1e-12, 0);
    CHECK_OK(seq_model_load(path, &loaded));
    seq_model_free(loaded);
    unlink(path);
    seq_dataset_free(data);
    seq_model_free(model);
}

/* ---- The pieces of a step ---- */

/* A small regression tagger and a batch for it. */
static seq_model *small_regressor(void) {
    return model_from("cell=lstm input_size=2 hidden_size=3 output_size=2 output=regression optimizer=sgd "
                      "learning_rate=0.1 seed=4");
}

static const float small_x[3 * 2 * 2] = {0.5f, -0.2f, 0.1f, 0.9f, -0.7f, 0.3f, 0.2f, 0.2f, -0.4f, 0.8f, 0.6f, -0.1f};
static const float small_y[3 * 2 * 2] = {0.1f, 0.2f, -0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.0f, -0.1f, 0.3f, 0.2f, 0.1f};
static const int64_t small_lengths[2] = {3, 2};

static double small_loss(seq_model *model) {
    double loss = 0;
    CHECK_OK(seq_model_evaluate(model, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3, NULL,
                                &loss));
    return loss;
}

void test_gradients_match_finite_differences(void) {
    const char *names[] = {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_hh_l0", "head.weight", "head.bias"};
    seq_model *model = small_regressor();
    size_t n;
    if (model == NULL) return;
    CHECK_OK(seq_model_compute_gradients(model, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3,
                                         NULL, NULL));
    for (n = 0; n < sizeof names / sizeof names[0]; n++) {
        float values[64], grad[64];
        int64_t count = 0, i;
        CHECK_OK(seq_model_get_parameter(model, names[n], values, 64, &count));
        CHECK_OK(seq_model_get_gradient(model, names[n], grad, 64, NULL));
        for (i = 0; i < count; i += 3) {
            const float eps = 1e-2f, original = values[i];
            double up, down, numeric;
            values[i] = original + eps;
            CHECK_OK(seq_model_set_parameter(model, names[n], values, count));
            up = small_loss(model);
            values[i] = original - eps;
            CHECK_OK(seq_model_set_parameter(model, names[n], values, count));
            down = small_loss(model);
            values[i] = original;
            CHECK_OK(seq_model_set_parameter(model, names[n], values, count));
            numeric = (up - down) / (2.0 * eps);
            check_close(__FILE__, __LINE__, names[n], grad[i], numeric, 2e-2, 2e-3);
        }
    }
    seq_model_free(model);
}

void test_train_step_is_compute_then_apply(void) {
    seq_model *a = small_regressor(), *b = small_regressor();
    float wa[24], wb[24], before[24];
    double la = 0, lb = 0;
    if (!a || !b) goto done;
    CHECK_OK(seq_model_get_parameter(a, "rnn.weight_ih_l0", before, 24, NULL));
    CHECK_OK(seq_model_train_step(a, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3, NULL, &la));
    CHECK_OK(seq_model_compute_gradients(b, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3,
                                         NULL, &lb));
    CHECK_OK(seq_model_apply_gradients(b));
    CHECK(la == lb);
    CHECK_OK(seq_model_get_parameter(a, "rnn.weight_ih_l0", wa, 24, NULL));
    CHECK_OK(seq_model_get_parameter(b, "rnn.weight_ih_l0", wb, 24, NULL));
    CHECK(memcmp(wa, wb, sizeof wa) == 0);
    CHECK(memcmp(wa, before, sizeof wa) != 0);
    /* The loss went down after the step; evaluate changes nothing. */
    CHECK(small_loss(a) < la);
    CHECK_OK(seq_model_get_parameter(a, "rnn.weight_ih_l0", before, 24, NULL));
    CHECK(memcmp(wa, before, sizeof wa) == 0);
done:
    seq_model_free(a);
    seq_model_free(b);
}

/* Targets so large that the loss overflows float: SEQ_ERR_NUMERIC, parameters unchanged. */
void test_numeric_failure_leaves_parameters(void) {
    seq_model *model = small_regressor();
    float huge[12], before[24], after[24];
    int i;
    for (i = 0; i < 12; i++) huge[i] = 3e38f;
    if (model == NULL) return;
    CHECK_OK(seq_model_get_parameter(model, "rnn.weight_ih_l0", before, 24, NULL));
    CHECK_ERROR(seq_model_train_step(model, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, huge, 3, NULL,
                                     NULL),
                SEQ_ERR_NUMERIC, "seq_model_train_step");
    CHECK_OK(seq_model_get_parameter(model, "rnn.weight_ih_l0", after, 24, NULL));
    CHECK(memcmp(before, after, sizeof before) == 0);
    /* A learning rate so large that the update overflows float: refused, parameters unchanged. */
    CHECK_OK(seq_model_set_learning_rate(model, 1e300));
    CHECK_ERROR(seq_model_train_step(model, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3, NULL,
                                     NULL),
                SEQ_ERR_NUMERIC, "the parameters are unchanged");
    CHECK_OK(seq_model_get_parameter(model, "rnn.weight_ih_l0", after, 24, NULL));
    CHECK(memcmp(before, after, sizeof before) == 0);
    /* And training goes on normally once the rate is sane. */
    CHECK_OK(seq_model_set_learning_rate(model, 0.1));
    CHECK_OK(seq_model_train_step(model, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3, NULL,
                                  NULL));
    seq_model_free(model);
}

/* ---- Optimizer options and learning-rate schedules ---- */

/* One step of torch.optim's SGD (momentum, dampening, Nesterov, maximize) or RMSprop (alpha,
 * centered, momentum) on one value, in double: the reference the library's float steps follow. */
struct reference_state {
    double b, sq, ga;
};

static double sgd_step(double p, double g, double lr, double momentum, double dampening, int nesterov, int maximize,
                       int t, struct reference_state *s) {
    if (maximize) g = -g;
    s->b = t == 1 ? g : momentum * s->b + (1 - dampening) * g;
    return p - lr * (nesterov ? g + momentum * s->b : s->b);
}

static double rmsprop_step(double p, double g, double lr, double alpha, double momentum, int centered,
                           struct reference_state *s) {
    double d;
    s->sq = alpha * s->sq + (1 - alpha) * g * g;
    if (centered) {
        s->ga = alpha * s->ga + (1 - alpha) * g;
        d = sqrt(s->sq - s->ga * s->ga) + 1e-8;
    } else {
        d = sqrt(s->sq) + 1e-8;
    }
    s->b = momentum * s->b + g / d;
    return p - lr * s->b;
}

void test_optimizer_options_follow_torch_rules(void) {
    enum { P = 6, STEPS = 4 };
    static const char *const specs[] = {
        "optimizer=sgd learning_rate=0.1 momentum=0.9 nesterov=1",
        "optimizer=sgd learning_rate=0.1 momentum=0.8 dampening=0.25 maximize=1",
        "optimizer=rmsprop learning_rate=0.01 alpha=0.9 centered=1 momentum=0.5",
    };
    size_t c;
    for (c = 0; c < sizeof specs / sizeof specs[0]; c++) {
        char spec[256];
        seq_model *model;
        struct reference_state state[P];
        int step, i;
        snprintf(spec, sizeof spec, "cell=lstm input_size=2 hidden_size=3 output_size=2 output=regression seed=4 %s",
                 specs[c]);
        model = model_from(spec);
        if (model == NULL) continue;
        memset(state, 0, sizeof state);
        for (step = 1; step <= STEPS; step++) {
            float p[P], g[P], after[P];
            double expected[P];
            CHECK_OK(seq_model_compute_gradients(model, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL,
                                                 small_y, 3, NULL, NULL));
            CHECK_OK(seq_model_get_parameter(model, "head.weight", p, P, NULL));
            CHECK_OK(seq_model_get_gradient(model, "head.weight", g, P, NULL));
            for (i = 0; i < P; i++)
                expected[i] = c == 0   ? sgd_step(p[i], g[i], 0.1, 0.9, 0, 1, 0, step, &state[i])
                              : c == 1 ? sgd_step(p[i], g[i], 0.1, 0.8, 0.25, 0, 1, step, &state[i])
                                       : rmsprop_step(p[i], g[i], 0.01, 0.9, 0.5, 1, &state[i]);
            CHECK_OK(seq_model_apply_gradients(model));
            CHECK_OK(seq_model_get_parameter(model, "head.weight", after, P, NULL));
            for (i = 0; i < P; i++) check_close(__FILE__, __LINE__, specs[c], after[i], expected[i], 1e-5, 1e-6);
        }
        seq_model_free(model);
    }
}

/* The rate of step n (0-based) under warmup_steps=3, warmup_start_factor=0.25, then a cosine to
 * lr_min=0.01 over lr_period=4, from a base of 0.2 (torch's LinearLR then CosineAnnealingLR). */
static double scheduled_rate(int n) {
    const double pi = 3.14159265358979323846;
    if (n < 3) return 0.2 * (0.25 + 0.75 * n / 3.0);
    return 0.01 + (0.2 - 0.01) * (1 + cos(pi * (n - 3) / 4.0)) / 2;
}

struct rate_log {
    int calls, bad;
};

static int32_t record_rate(const seq_progress *p, void *user_data) {
    struct rate_log *log = (struct rate_log *)user_data;
    /* Steps before this fit: 5 (train_step below). */
    if (fabs(p->learning_rate - scheduled_rate((int)p->step - 1 + 5)) > 1e-12) log->bad++;
    log->calls++;
    return 0;
}

void test_learning_rate_schedule(void) {
    seq_model *model = model_from("architecture=language_model cell=gru vocab_size=5 embedding_size=3 hidden_size=4 "
                                  "optimizer=sgd learning_rate=0.2 lr_schedule=cosine lr_period=4 lr_min=0.01 "
                                  "warmup_steps=3 warmup_start_factor=0.25");
    seq_model *manual = model_from("architecture=language_model cell=gru vocab_size=5 embedding_size=3 hidden_size=4 "
                                   "optimizer=sgd learning_rate=0.2");
    seq_dataset *data = small_dataset(8);
    struct rate_log log = {0, 0};
    int32_t tokens[2 * 4] = {0, 1, 2, 3, 4, 0, 1, 2}, next[2 * 4] = {1, 2, 3, 4, 0, 1, 2, 3};
    float a[64], b[64];
    double rate = 0;
    int n;
    if (model == NULL || manual == NULL) goto done;
    for (n = 0; n < 5; n++) {
        CHECK_OK(seq_model_get_learning_rate(model, &rate));
        CHECK_CLOSE(rate, scheduled_rate(n), 1e-12, 0);
        /* The same steps, with each rate set by hand, give the same weights. */
        CHECK_OK(seq_model_set_learning_rate(manual, scheduled_rate(n)));
        CHECK_OK(seq_model_train_step(model, NULL, tokens, 4, 2, 1, NULL, SEQ_LAYOUT_BATCH_FIRST, next, NULL, 4, NULL, NULL));
        CHECK_OK(seq_model_train_step(manual, NULL, tokens, 4, 2, 1, NULL, SEQ_LAYOUT_BATCH_FIRST, next, NULL, 4, NULL, NULL));
    }
    CHECK_OK(seq_model_get_parameter(model, "rnn.weight_hh_l0", a, 64, NULL));
    CHECK_OK(seq_model_get_parameter(manual, "rnn.weight_hh_l0", b, 64, NULL));
    CHECK(memcmp(a, b, 48 * sizeof(float)) == 0);
    /* seq_model_fit goes on from step 5 and reports each step's rate: 8 sequences, 2 batches. */
    CHECK_OK(seq_model_fit(model, data, 2, 4, record_rate, &log));
    CHECK_INT_EQ(log.calls, 4);
    CHECK_INT_EQ(log.bad, 0);
    /* Setting the learning rate sets the base: step 9 of the schedule over 0.4. */
    CHECK_OK(seq_model_set_learning_rate(model, 0.4));
    CHECK_OK(seq_model_get_learning_rate(model, &rate));
    CHECK_CLOSE(rate, 0.01 + (0.4 - 0.01) * (1 + cos(3.14159265358979323846 * 6 / 4.0)) / 2, 1e-12, 0);
done:
    seq_dataset_free(data);
    seq_model_free(model);
    seq_model_free(manual);
}

void test_optimizer_and_schedule_keys_are_checked_together(void) {
    static const struct {
        const char *spec, *needle;
    } cases[] = {
        {"optimizer=adam nesterov=1", "nesterov"},
        {"optimizer=sgd nesterov=1", "nesterov"},
        {"optimizer=sgd momentum=0.9 dampening=0.5 nesterov=1", "nesterov"},
        {"optimizer=sgd amsgrad=1", "amsgrad"},
        {"optimizer=adamw alpha=0.5", "alpha"},
        {"optimizer=adam centered=1", "centered"},
        {"optimizer=rmsprop dampening=0.1", "dampening"},
        {"lr_schedule=step", "lr_step_size"},
        {"lr_schedule=cosine", "lr_period"},
        {"lr_schedule=cosine lr_period=3 lr_gamma=0.5", "lr_gamma"},
        {"lr_schedule=step lr_step_size=2 lr_min=0.1", "lr_min"},
        {"lr_period=3", "lr_period"},
        {"warmup_start_factor=0.5", "warmup_start_factor"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char spec[256];
        seq_config *config;
        seq_model *model = NULL;
        snprintf(spec, sizeof spec, "cell=gru input_size=2 hidden_size=3 output_size=2 %s", cases[i].spec);
        config = config_from(spec);
        CHECK_ERROR(seq_model_create(config, &model), SEQ_ERR_INVALID_ARGUMENT, cases[i].needle);
        CHECK(model == NULL);
        seq_config_free(config);
    }
    /* Out of range at the setter. */
    {
        seq_config *config = NULL;
        CHECK_OK(seq_config_create(&config));
        CHECK_ERROR(seq_config_set_float(config, "warmup_start_factor", 0), SEQ_ERR_INVALID_ARGUMENT, "(0, 1]");
        CHECK_ERROR(seq_config_set_float(config, "warmup_start_factor", 1.5), SEQ_ERR_INVALID_ARGUMENT, "(0, 1]");
        CHECK_ERROR(seq_config_set_float(config, "alpha", 1.0), SEQ_ERR_INVALID_ARGUMENT, "alpha");
        CHECK_ERROR(seq_config_set_int(config, "lr_period", 0), SEQ_ERR_INVALID_ARGUMENT, "lr_period");
        CHECK_ERROR(seq_config_set_int(config, "nesterov", 2), SEQ_ERR_INVALID_ARGUMENT, "0 or 1");
        CHECK_ERROR(seq_config_set_string(config, "lr_schedule", "linear"), SEQ_ERR_INVALID_ARGUMENT, "\"cosine\"");
        seq_config_free(config);
    }
}

/* ---- seq_model_input_gradient: dL/dx ---- */

/* dL/dx against central differences of the loss (float32: eps 1e-2, rtol 2e-2, atol 2e-3), in
   both layouts (the batch-first gradient is the time-major one transposed), zero past a length,
   and refused before a gradient computation and after seq_model_fit. */
void test_input_gradient_matches_finite_differences(void) {
    seq_model *model = small_regressor();
    float x[12], grad[12], grad_bf[12], x_bf[12], y_bf[12];
    int64_t count = -1;
    int i, t, b, f;
    if (model == NULL) return;
    CHECK_ERROR(seq_model_input_gradient(model, grad, 12, NULL), SEQ_ERR_STATE, "seq_model_compute_gradients");
    CHECK_OK(seq_model_compute_gradients(model, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3,
                                         NULL, NULL));
    CHECK_OK(seq_model_input_gradient(model, NULL, 0, &count));
    CHECK_INT_EQ(count, 12);
    CHECK_ERROR(seq_model_input_gradient(model, grad, 11, NULL), SEQ_ERR_BUFFER_TOO_SMALL, "12");
    CHECK_OK(seq_model_input_gradient(model, grad, 12, NULL));
    memcpy(x, small_x, sizeof x);
    for (i = 0; i < 12; i++) {
        const float eps = 1e-2f;
        double up, down;
        x[i] = small_x[i] + eps;
        CHECK_OK(seq_model_evaluate(model, x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3, NULL, &up));
        x[i] = small_x[i] - eps;
        CHECK_OK(seq_model_evaluate(model, x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3, NULL, &down));
        x[i] = small_x[i];
        check_close(__FILE__, __LINE__, "dL/dx", grad[i], (up - down) / (2.0 * eps), 2e-2, 2e-3);
    }
    /* Sequence 1 has length 2: its step 2 (t = 2, b = 1) gets no gradient, and is not all zero elsewhere. */
    CHECK(grad[(2 * 2 + 1) * 2] == 0.0f && grad[(2 * 2 + 1) * 2 + 1] == 0.0f);
    CHECK(fabsf(grad[0]) > 1e-4f);
    /* The same batch batch-first: the same numbers, transposed. */
    for (t = 0; t < 3; t++)
        for (b = 0; b < 2; b++)
            for (f = 0; f < 2; f++) {
                x_bf[(b * 3 + t) * 2 + f] = small_x[(t * 2 + b) * 2 + f];
                y_bf[(b * 3 + t) * 2 + f] = small_y[(t * 2 + b) * 2 + f];
            }
    CHECK_OK(seq_model_compute_gradients(model, x_bf, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_BATCH_FIRST, NULL, y_bf, 3,
                                         NULL, NULL));
    CHECK_OK(seq_model_input_gradient(model, grad_bf, 12, NULL));
    for (t = 0; t < 3; t++)
        for (b = 0; b < 2; b++)
            for (f = 0; f < 2; f++) CHECK(grad_bf[(b * 3 + t) * 2 + f] == grad[(t * 2 + b) * 2 + f]);
    /* A train step keeps the gradient it computed before its update. */
    CHECK_OK(seq_model_train_step(model, small_x, NULL, 3, 2, 2, small_lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, small_y, 3, NULL,
                                  NULL));
    CHECK_OK(seq_model_input_gradient(model, grad_bf, 12, NULL));
    CHECK_FLOATS_CLOSE(grad_bf, grad, 12, 0, 0);
    seq_model_free(model);
}

/* For token inputs: the gradient of each token's embedded vector [T, B, E]; summed over the
   positions of a token it is that token's row of the gradient of "embedding.weight". A fit keeps
   none. */
void test_input_gradient_of_tokens_sums_to_the_embedding_gradient(void) {
    seq_model *model = model_from("architecture=language_model cell=gru vocab_size=5 embedding_size=3 hidden_size=4 seed=2");
    seq_dataset *data = small_dataset(4);
    int32_t tokens[2 * 4] = {0, 1, 2, 3, 4, 0, 1, 1}, next[2 * 4] = {1, 2, 3, 4, 0, 1, 1, 2};
    float grad[2 * 4 * 3], table[5 * 3], sums[5 * 3] = {0};
    int64_t count = -1;
    int i, j;
    if (model == NULL) goto done;
    CHECK_OK(seq_model_compute_gradients(model, NULL, tokens, 4, 2, 1, NULL, SEQ_LAYOUT_BATCH_FIRST, next, NULL, 4, NULL, NULL));
    CHECK_OK(seq_model_input_gradient(model, grad, 24, &count));
    CHECK_INT_EQ(count, 24);
    CHECK_OK(seq_model_get_gradient(model, "embedding.weight", table, 15, NULL));
    for (i = 0; i < 8; i++)
        for (j = 0; j < 3; j++) sums[tokens[i] * 3 + j] += grad[i * 3 + j];
    CHECK_FLOATS_CLOSE(sums, table, 15, 1e-5, 1e-7);
    CHECK_OK(seq_model_fit(model, data, 1, 4, NULL, NULL));
    CHECK_ERROR(seq_model_input_gradient(model, grad, 24, NULL), SEQ_ERR_STATE, "seq_model_fit");
done:
    seq_dataset_free(data);
    seq_model_free(model);
}

/* ---- seq_model_fit with "truncated_bptt": sizes and failures ---- */

static int32_t stop_after_first_batch(const seq_progress *p, void *user_data) {
    *(int64_t *)user_data = p->step;
    return 1;
}

/* The work a pass may allocate is that of one batch (one window with truncated BPTT), not of the
   whole dataset: 1100 sequences of 1000 tokens through an LSTM with H = 512 (2048 values per
   step and sequence) are 2.25e9 values at once, past the 2^31 per-buffer limit, but a batch of
   2 is not, and with windows of 100 steps not even a batch of all 1100 is. The refusal names
   batch_size and comes before any step. (Native only: a batch takes a second.) */
void test_fit_sizes_the_work_of_a_batch_not_the_dataset(void) {
    enum { N = 1100, T = 1000 };
    int32_t *tokens = (int32_t *)malloc((size_t)N * T * sizeof(int32_t));
    int32_t *next = (int32_t *)malloc((size_t)N * T * sizeof(int32_t));
    seq_model *plain = model_from("architecture=language_model cell=lstm vocab_size=5 embedding_size=4 hidden_size=512");
    seq_model *windowed = model_from("architecture=language_model cell=lstm vocab_size=5 embedding_size=4 hidden_size=512 "
                                     "truncated_bptt=100");
    seq_dataset *data = NULL;
    int64_t steps = 0, i;
    if (tokens == NULL || next == NULL || plain == NULL || windowed == NULL) goto done;
    for (i = 0; i < (int64_t)N * T; i++) {
        tokens[i] = (int32_t)(i % 5);
        next[i] = (int32_t)((i + 1) % 5);
    }
    CHECK_OK(seq_dataset_create(&data));
    CHECK_OK(seq_dataset_set_inputs(data, NULL, tokens, N, T, 1, NULL, SEQ_LAYOUT_BATCH_FIRST));
    CHECK_OK(seq_dataset_set_targets(data, next, NULL, N, T, 1, NULL, SEQ_LAYOUT_BATCH_FIRST));
    CHECK_ERROR(seq_model_fit(plain, data, 1, N, NULL, NULL), SEQ_ERR_RESOURCE_LIMIT, "batch_size");
    if (quick_mode()) goto done;
    CHECK_OK(seq_model_fit(plain, data, 1, 2, stop_after_first_batch, &steps));
    CHECK_INT_EQ(steps, 1);
    CHECK_OK(seq_model_fit(windowed, data, 1, 2, stop_after_first_batch, &steps));
    CHECK_INT_EQ(steps, 10);
done:
    seq_dataset_free(data);
    seq_model_free(plain);
    seq_model_free(windowed);
    free(tokens);
    free(next);
}

/* A window whose loss overflows float stops seq_model_fit with SEQ_ERR_NUMERIC, a message that
   names the window and the cause, and the weights of the window before it: those of a fit on
   the first window's steps alone. */
void test_fit_in_windows_stops_at_a_bad_window(void) {
    enum { N = 3, T = 6, K = 3 };
    float x[T * N], y[T * N], first_x[K * N], first_y[K * N], a[48], b[48];
    seq_model *model = model_from("cell=gru input_size=1 hidden_size=4 output_size=1 output=regression optimizer=sgd "
                                  "learning_rate=0.01 truncated_bptt=3 seed=6");
    seq_model *reference = model_from("cell=gru input_size=1 hidden_size=4 output_size=1 output=regression optimizer=sgd "
                                      "learning_rate=0.01 truncated_bptt=3 seed=6");
    seq_dataset *data = NULL, *first = NULL;
    int i;
    if (model == NULL || reference == NULL) goto done;
    for (i = 0; i < T * N; i++) {
        x[i] = (float)(i % 7) / 7.0f;
        y[i] = i / N >= K ? 1e20f : 0.5f; /* time-major: the second window's targets are huge */
    }
    memcpy(first_x, x, sizeof first_x);
    memcpy(first_y, y, sizeof first_y);
    CHECK_OK(seq_dataset_create(&data));
    CHECK_OK(seq_dataset_set_inputs(data, x, NULL, N, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_OK(seq_dataset_set_targets(data, NULL, y, N, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_OK(seq_dataset_create(&first));
    CHECK_OK(seq_dataset_set_inputs(first, first_x, NULL, N, K, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_OK(seq_dataset_set_targets(first, NULL, first_y, N, K, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_ERROR(seq_model_fit(model, data, 1, N, NULL, NULL), SEQ_ERR_NUMERIC, "window 2 (steps 3..<6)");
    CHECK(strstr(seq_last_error(), "overflows") != NULL);
    CHECK(strstr(seq_last_error(), "those after window 1") != NULL);
    CHECK_OK(seq_model_fit(reference, first, 1, N, NULL, NULL));
    CHECK_OK(seq_model_get_parameter(model, "rnn.weight_hh_l0", a, 48, NULL));
    CHECK_OK(seq_model_get_parameter(reference, "rnn.weight_hh_l0", b, 48, NULL));
    CHECK(memcmp(a, b, sizeof a) == 0);
done:
    seq_dataset_free(data);
    seq_dataset_free(first);
    seq_model_free(model);
    seq_model_free(reference);
}
