/* Models: creation from a configuration, the configuration read back, parameters and gradients by
   name, predictions (layouts, lengths, size queries), threads, and concurrent use. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "helpers.h"
#include "tests.h"

void test_model_create_each_architecture(void) {
    const char *specs[] = {
        "architecture=tagger cell=lstm input_size=3 hidden_size=5 output_size=2",
        "architecture=tagger cell=gru gru_variant=classic input_size=3 hidden_size=5 num_layers=2 "
        "direction=bidirectional merge=sum output=binary output_size=1 dropout=0.1",
        "architecture=classifier cell=rnn_relu input_size=2 hidden_size=4 output_size=3 direction=reverse",
        "architecture=language_model cell=lstm vocab_size=11 embedding_size=4 hidden_size=6 proj_size=3 peepholes=1",
        "architecture=seq2seq cell=gru vocab_size=9 embedding_size=4 hidden_size=6 output_size=7 start_token=0 stop_token=1",
        "architecture=tagger cell=lstm input_size=2 hidden_size=3 output_size=1 output=regression optimizer=sgd "
        "momentum=0.9 learning_rate=0.1 weight_decay=0.01 clip_norm=1 clip_value=5 initialization=orthogonal forget_bias=1",
    };
    size_t i;
    for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        seq_model *model = model_from(specs[i]);
        CHECK(model != NULL);
        seq_model_free(model);
    }
    seq_model_free(NULL); /* a no-op */
}

void test_model_get_config(void) {
    seq_model *model = model_from("architecture=language_model cell=gru vocab_size=20 embedding_size=8 hidden_size=16 "
                                  "learning_rate=0.01 seed=42");
    seq_config *config = NULL;
    char text[32];
    int64_t value = -1;
    double rate = 0;
    if (model == NULL) return;
    CHECK_OK(seq_model_get_config(model, &config));
    CHECK_OK(seq_config_get_string(config, "architecture", text, sizeof text, NULL));
    CHECK_STR_EQ(text, "language_model");
    CHECK_OK(seq_config_get_int(config, "vocab_size", &value));
    CHECK_INT_EQ(value, 20);
    CHECK_OK(seq_config_get_int(config, "seed", &value));
    CHECK_INT_EQ(value, 42);
    CHECK_OK(seq_config_get_float(config, "learning_rate", &rate));
    CHECK_CLOSE(rate, 0.01, 0, 0);
    seq_config_free(config);

    /* The learning rate follows seq_model_set_learning_rate. */
    CHECK_OK(seq_model_set_learning_rate(model, 0.5));
    CHECK_OK(seq_model_get_learning_rate(model, &rate));
    CHECK_CLOSE(rate, 0.5, 0, 0);
    CHECK_OK(seq_model_get_config(model, &config));
    CHECK_OK(seq_config_get_float(config, "learning_rate", &rate));
    CHECK_CLOSE(rate, 0.5, 0, 0);
    /* A config read back makes an equivalent model. */
    {
        seq_model *copy = NULL;
        int64_t a = 0, b = 0;
        CHECK_OK(seq_model_create(config, &copy));
        CHECK_OK(seq_model_parameter_count(model, &a));
        CHECK_OK(seq_model_parameter_count(copy, &b));
        CHECK_INT_EQ(a, b);
        seq_model_free(copy);
    }
    seq_config_free(config);
    seq_model_free(model);
}

/* The names and shapes of PyTorch's nn.LSTM(3, 4, num_layers=2, bidirectional=True) plus a head. */
void test_model_parameter_names_and_shapes(void) {
    static const char *const names[] = {
        "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
        "rnn.weight_ih_l0_reverse", "rnn.weight_hh_l0_reverse", "rnn.bias_ih_l0_reverse", "rnn.bias_hh_l0_reverse",
        "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
        "rnn.weight_ih_l1_reverse", "rnn.weight_hh_l1_reverse", "rnn.bias_ih_l1_reverse", "rnn.bias_hh_l1_reverse",
        "head.weight", "head.bias"};
    static const int64_t shapes[][2] = {{16, 3}, {16, 4}, {16, 0}, {16, 0}, {16, 3}, {16, 4}, {16, 0}, {16, 0},
                                        {16, 8}, {16, 4}, {16, 0}, {16, 0}, {16, 8}, {16, 4}, {16, 0}, {16, 0},
                                        {5, 8},  {5, 0}};
    seq_model *model = model_from("cell=lstm input_size=3 hidden_size=4 num_layers=2 direction=bidirectional output_size=5");
    int64_t count = 0, i;
    if (model == NULL) return;
    CHECK_OK(seq_model_parameter_count(model, &count));
    CHECK_INT_EQ(count, 18);
    for (i = 0; i < count && i < 18; i++) {
        char name[64];
        int64_t length = -1, dims[4] = {0, 0, 0, 0}, rank = -1, elements = -1;
        CHECK_OK(seq_model_parameter_name(model, i, NULL, 0, &length));
        CHECK_INT_EQ(length, (int64_t)strlen(names[i]));
        CHECK_OK(seq_model_parameter_name(model, i, name, sizeof name, NULL));
        CHECK_STR_EQ(name, names[i]);
        CHECK_OK(seq_model_parameter_shape(model, name, NULL, 0, &rank, &elements));
        CHECK_INT_EQ(rank, shapes[i][1] ? 2 : 1);
        CHECK_INT_EQ(elements, shapes[i][0] * (shapes[i][1] ? shapes[i][1] : 1));
        CHECK_OK(seq_model_parameter_shape(model, name, dims, 4, &rank, NULL));
        CHECK_INT_EQ(dims[0], shapes[i][0]);
        if (rank == 2) CHECK_INT_EQ(dims[1], shapes[i][1]);
    }
    seq_model_free(model);
}

void test_model_embedding_and_seq2seq_names(void) {
    seq_model *model = model_from("architecture=seq2seq cell=gru vocab_size=9 embedding_size=4 hidden_size=6 output_size=7");
    int64_t rank = 0, dims[2] = {0, 0};
    if (model == NULL) return;
    CHECK_OK(seq_model_parameter_shape(model, "embedding.weight", dims, 2, &rank, NULL));
    CHECK_INT_EQ(dims[0], 9);
    CHECK_INT_EQ(dims[1], 4);
    CHECK_OK(seq_model_parameter_shape(model, "decoder_embedding.weight", dims, 2, &rank, NULL));
    CHECK_INT_EQ(dims[0], 7);
    CHECK_OK(seq_model_parameter_shape(model, "decoder.weight_hh_l0", dims, 2, &rank, NULL));
    CHECK_INT_EQ(dims[0], 18);
    CHECK_INT_EQ(dims[1], 6);
    CHECK_OK(seq_model_parameter_shape(model, "head.weight", dims, 2, &rank, NULL));
    CHECK_INT_EQ(dims[0], 7);
    seq_model_free(model);
}

void test_model_set_and_get_parameters_and_gradients(void) {
    seq_model *model = model_from("cell=gru input_size=2 hidden_size=3 output_size=2 seed=7");
    float values[18], back[18], grad[18];
    int64_t count = 0;
    int i;
    if (model == NULL) return;
    for (i = 0; i < 18; i++) values[i] = 0.01f * (float)i - 0.05f;
    CHECK_OK(seq_model_get_parameter(model, "rnn.weight_ih_l0", NULL, 0, &count));
    CHECK_INT_EQ(count, 18);
    CHECK_OK(seq_model_set_parameter(model, "rnn.weight_ih_l0", values, 18));
    CHECK_OK(seq_model_get_parameter(model, "rnn.weight_ih_l0", back, 18, &count));
    CHECK_FLOATS_CLOSE(back, values, 18, 0, 0);
    /* A larger buffer is fine; only count values are written. */
    {
        float big[20];
        big[18] = big[19] = 123;
        CHECK_OK(seq_model_get_parameter(model, "rnn.weight_ih_l0", big, 20, NULL));
        CHECK_FLOATS_CLOSE(big, values, 18, 0, 0);
        CHECK(big[18] == 123 && big[19] == 123);
    }
    /* Gradients start at zero, can be written and read, and zeroed. */
    CHECK_OK(seq_model_get_gradient(model, "rnn.weight_ih_l0", grad, 18, NULL));
    for (i = 0; i < 18; i++) CHECK(grad[i] == 0);
    CHECK_OK(seq_model_set_gradient(model, "rnn.weight_ih_l0", values, 18));
    CHECK_OK(seq_model_get_gradient(model, "rnn.weight_ih_l0", grad, 18, NULL));
    CHECK_FLOATS_CLOSE(grad, values, 18, 0, 0);
    CHECK_OK(seq_model_zero_gradients(model));
    CHECK_OK(seq_model_get_gradient(model, "rnn.weight_ih_l0", grad, 18, NULL));
    for (i = 0; i < 18; i++) CHECK(grad[i] == 0);
    seq_model_free(model);
}

/* Different seeds give different weights; the same seed the same weights. */
void test_model_seed_determines_initialisation(void) {
    seq_model *a = model_from("cell=lstm input_size=2 hidden_size=3 output_size=2 seed=1");
    seq_model *b = model_from("cell=lstm input_size=2 hidden_size=3 output_size=2 seed=1");
    seq_model *c = model_from("cell=lstm input_size=2 hidden_size=3 output_size=2 seed=2");
    float wa[24], wb[24], wc[24];
    if (a && b && c) {
        CHECK_OK(seq_model_get_parameter(a, "rnn.weight_ih_l0", wa, 24, NULL));
        CHECK_OK(seq_model_get_parameter(b, "rnn.weight_ih_l0", wb, 24, NULL));
        CHECK_OK(seq_model_get_parameter(c, "rnn.weight_ih_l0", wc, 24, NULL));
        CHECK(memcmp(wa, wb, sizeof wa) == 0);
        CHECK(memcmp(wa, wc, sizeof wa) != 0);
    }
    seq_model_free(a);
    seq_model_free(b);
    seq_model_free(c);
}

static void random_features(float *x, int64_t count, uint64_t seed) {
    test_rng rng;
    int64_t i;
    rng_seed(&rng, seed);
    for (i = 0; i < count; i++) x[i] = rng_float(&rng);
}

void test_model_predict_shapes_and_activations(void) {
    enum { T = 4, B = 3, I = 2, K = 3 };
    seq_model *tagger = model_from("cell=gru input_size=2 hidden_size=5 output_size=3");
    seq_model *binary = model_from("cell=rnn_tanh input_size=2 hidden_size=5 output_size=3 output=binary");
    seq_model *classifier = model_from("architecture=classifier cell=lstm input_size=2 hidden_size=5 output_size=3");
    float x[T * B * I], y[T * B * K];
    int64_t lengths[B] = {4, 2, 3}, count = -1;
    int t, b, k;
    random_features(x, T * B * I, 11);
    if (!tagger || !binary || !classifier) goto done;

    /* Size query, then the call. */
    CHECK_OK(seq_model_predict(tagger, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, &count));
    CHECK_INT_EQ(count, T * B * K);
    CHECK_OK(seq_model_predict(tagger, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, y, T * B * K, &count));
    for (t = 0; t < T; t++)
        for (b = 0; b < B; b++) {
            float sum = 0;
            for (k = 0; k < K; k++) sum += y[(t * B + b) * K + k];
            if (t < lengths[b]) CHECK_CLOSE(sum, 1.0, 1e-5, 1e-6); /* softmax rows */
            else CHECK(sum == 0);                                    /* zeros past the length */
        }
    CHECK_OK(seq_model_predict(binary, x, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, y, T * B * K, NULL));
    for (k = 0; k < T * B * K; k++) CHECK(y[k] > 0 && y[k] < 1);

    /* A classifier gives [B, K] whatever the layout. */
    CHECK_OK(seq_model_predict(classifier, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, &count));
    CHECK_INT_EQ(count, B * K);
    CHECK_OK(seq_model_predict(classifier, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, y, B * K, NULL));
    for (b = 0; b < B; b++) CHECK_CLOSE(y[b * K] + y[b * K + 1] + y[b * K + 2], 1.0, 1e-5, 1e-6);
done:
    seq_model_free(tagger);
    seq_model_free(binary);
    seq_model_free(classifier);
}

/* Batch-first input and output are the time-major ones transposed, for every architecture that
   predicts, with lengths, a bidirectional stack and tokens. */
void test_model_predict_layouts_agree(void) {
    enum { T = 5, B = 3, I = 2, K = 4 };
    const char *specs[] = {"cell=lstm input_size=2 hidden_size=4 output_size=4 direction=bidirectional num_layers=2",
                           "architecture=classifier cell=gru input_size=2 hidden_size=4 output_size=4 direction=bidirectional",
                           "architecture=language_model cell=gru vocab_size=4 embedding_size=3 hidden_size=4"};
    size_t s;
    for (s = 0; s < 3; s++) {
        seq_model *model = model_from(specs[s]);
        int tokens_model = strstr(specs[s], "vocab_size") != NULL, per_step = strstr(specs[s], "classifier") == NULL;
        float x[T * B * I], xb[T * B * I], y[T * B * K], yb[T * B * K];
        int32_t ids[T * B], idsb[T * B];
        int64_t lengths[B] = {5, 1, 3};
        int t, b, i, width = tokens_model ? 1 : I;
        test_rng rng;
        if (model == NULL) continue;
        rng_seed(&rng, 5 + s);
        for (t = 0; t < T; t++)
            for (b = 0; b < B; b++) {
                ids[t * B + b] = idsb[b * T + t] = rng_below(&rng, 4);
                for (i = 0; i < I; i++) x[(t * B + b) * I + i] = xb[(b * T + t) * I + i] = rng_float(&rng);
            }
        CHECK_OK(seq_model_predict(model, tokens_model ? NULL : x, tokens_model ? ids : NULL, T, B, width, lengths,
                                   SEQ_LAYOUT_TIME_MAJOR, y, T * B * K, NULL));
        CHECK_OK(seq_model_predict(model, tokens_model ? NULL : xb, tokens_model ? idsb : NULL, T, B, width, lengths,
                                   SEQ_LAYOUT_BATCH_FIRST, yb, T * B * K, NULL));
        if (per_step) {
            for (t = 0; t < T; t++)
                for (b = 0; b < B; b++)
                    CHECK_FLOATS_CLOSE(yb + (b * T + t) * K, y + (t * B + b) * K, K, 0, 0);
        } else {
            CHECK_FLOATS_CLOSE(yb, y, B * K, 0, 0);
        }
        seq_model_free(model);
    }
}

/* Lengths really mask: each sequence predicted alone, without padding, equals its row of the
   padded batch, also for a bidirectional stack (whose reverse direction must start at each
   sequence's own last step). */
void test_model_padding_does_not_leak(void) {
    enum { T = 6, B = 3, I = 2, K = 2 };
    seq_model *model = model_from("cell=gru input_size=2 hidden_size=4 output_size=2 num_layers=2 direction=bidirectional");
    seq_model *classifier = model_from("architecture=classifier cell=lstm input_size=2 hidden_size=4 output_size=2 "
                                       "direction=bidirectional");
    float x[T * B * I], y[T * B * K], alone_x[T * I], alone_y[T * K], c[B * K], alone_c[K];
    int64_t lengths[B] = {6, 2, 4};
    int b, t, i;
    random_features(x, T * B * I, 3);
    /* Garbage past the lengths must not matter. */
    for (b = 0; b < B; b++)
        for (t = (int)lengths[b]; t < T; t++)
            for (i = 0; i < I; i++) x[(t * B + b) * I + i] = 1000.0f;
    if (!model || !classifier) goto done;
    CHECK_OK(seq_model_predict(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, y, T * B * K, NULL));
    CHECK_OK(seq_model_predict(classifier, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, c, B * K, NULL));
    for (b = 0; b < B; b++) {
        const int len = (int)lengths[b];
        for (t = 0; t < len; t++)
            for (i = 0; i < I; i++) alone_x[t * I + i] = x[(t * B + b) * I + i];
        CHECK_OK(seq_model_predict(model, alone_x, NULL, len, 1, I, NULL, SEQ_LAYOUT_TIME_MAJOR, alone_y, len * K, NULL));
        for (t = 0; t < len; t++) CHECK_FLOATS_CLOSE(y + (t * B + b) * K, alone_y + t * K, K, 1e-6, 1e-6);
        CHECK_OK(seq_model_predict(classifier, alone_x, NULL, len, 1, I, NULL, SEQ_LAYOUT_TIME_MAJOR, alone_c, K, NULL));
        CHECK_FLOATS_CLOSE(c + b * K, alone_c, K, 1e-6, 1e-6);
    }
done:
    seq_model_free(model);
    seq_model_free(classifier);
}

void test_threads_setting(void) {
    enum { T = 20, B = 16, I = 32, K = 8 };
    int original = seq_get_num_threads();
    seq_model *model = model_from("cell=lstm input_size=32 hidden_size=96 output_size=8");
    static float x[T * B * I], y1[T * B * K], y2[T * B * K];
    CHECK(original == 1 || original == 2);
    CHECK_OK(seq_set_num_threads(1));
    CHECK_INT_EQ(seq_get_num_threads(), 1);
    CHECK_OK(seq_set_num_threads(64));
    CHECK_INT_EQ(seq_get_num_threads(), 2); /* the library's maximum */
    if (model != NULL) {
        /* Bit-identical results for every thread count. */
        random_features(x, T * B * I, 9);
        CHECK_OK(seq_set_num_threads(1));
        CHECK_OK(seq_model_predict(model, x, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, y1, T * B * K, NULL));
        CHECK_OK(seq_set_num_threads(2));
        CHECK_OK(seq_model_predict(model, x, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, y2, T * B * K, NULL));
        CHECK(memcmp(y1, y2, sizeof y1) == 0);
    }
    CHECK_OK(seq_set_num_threads(original));
    seq_model_free(model);
}

/* One model used from several threads at once (predicting and training) and models private to
   each thread: no crash, no error, and private models give the same results as alone. */
struct concurrent_model_work {
    seq_model *shared;
    int index;
    int errors;
    float result[4];
};

static void *use_models(void *arg) {
    struct concurrent_model_work *w = (struct concurrent_model_work *)arg;
    float x[6 * 2 * 3], y[6 * 2 * 4];
    int32_t labels[6 * 2];
    seq_model *own = NULL;
    seq_config *config = NULL;
    int round, i;
    for (i = 0; i < 6 * 2 * 3; i++) x[i] = (float)((i * 7 + w->index) % 11) / 11.0f - 0.5f;
    for (i = 0; i < 12; i++) labels[i] = i % 4;
    if (seq_config_create(&config) != SEQ_OK) { w->errors++; return NULL; }
    if (seq_config_set_string(config, "cell", "gru") || seq_config_set_int(config, "input_size", 3) ||
        seq_config_set_int(config, "hidden_size", 8) || seq_config_set_int(config, "output_size", 4) ||
        seq_model_create(config, &own) != SEQ_OK)
        w->errors++;
    seq_config_free(config);
    for (round = 0; round < 20; round++) {
        if (seq_model_predict(w->shared, x, NULL, 6, 2, 3, NULL, SEQ_LAYOUT_TIME_MAJOR, y, 48, NULL) != SEQ_OK) w->errors++;
        if (seq_model_train_step(w->shared, x, NULL, 6, 2, 3, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, 6, NULL, NULL) != SEQ_OK)
            w->errors++;
        if (seq_model_train_step(own, x, NULL, 6, 2, 3, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, 6, NULL, NULL) != SEQ_OK)
            w->errors++;
    }
    if (seq_model_predict(own, x, NULL, 6, 2, 3, NULL, SEQ_LAYOUT_TIME_MAJOR, y, 48, NULL) != SEQ_OK) w->errors++;
    memcpy(w->result, y, sizeof w->result);
    seq_model_free(own);
    return NULL;
}

void test_model_concurrent_use(void) {
    enum { THREADS = 3 };
    struct concurrent_model_work work[THREADS + 1];
    pthread_t threads[THREADS];
    seq_model *shared = model_from("cell=gru input_size=3 hidden_size=8 output_size=4");
    int i;
    if (shared == NULL) return;
    for (i = 0; i <= THREADS; i++) {
        work[i].shared = shared;
        work[i].index = i % 2; /* threads 0 and 2 do the same private work */
        work[i].errors = 0;
    }
    for (i = 0; i < THREADS; i++) CHECK_INT_EQ(pthread_create(&threads[i], NULL, use_models, &work[i]), 0);
    for (i = 0; i < THREADS; i++) {
        CHECK_INT_EQ(pthread_join(threads[i], NULL), 0);
        CHECK_INT_EQ(work[i].errors, 0);
    }
    /* The same private work, alone on this thread, gives the same result. */
    use_models(&work[THREADS]);
    CHECK_INT_EQ(work[THREADS].errors, 0);
    CHECK_FLOATS_CLOSE(work[0].result, work[2].result, 4, 0, 0);
    CHECK_FLOATS_CLOSE(work[1].result, work[THREADS].result, 4, 0, 0);
    seq_model_free(shared);
}
