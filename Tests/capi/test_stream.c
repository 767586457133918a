/* Streams: step by step equals the whole sequence, chunks, reset, position, state get/set. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "helpers.h"
#include "tests.h"

/* Feeding a batch one step at a time gives seq_model_predict's outputs on the whole padded batch
   at every valid step (to 1e-6), for every cell and variant, stacked, with projection and
   peepholes. */
void test_stream_step_by_step_equals_whole_sequence(void) {
    enum { T = 7, B = 3, I = 3, K = 4 };
    const char *cells[] = {
        "cell=rnn_tanh", "cell=rnn_relu", "cell=gru", "cell=gru gru_variant=classic", "cell=gru gru_variant=simplified",
        "cell=lstm", "cell=lstm proj_size=2 peepholes=1", "cell=lstm num_layers=3", "cell=gru num_layers=2 dropout=0.3"};
    size_t c;
    for (c = 0; c < sizeof cells / sizeof cells[0]; c++) {
        char spec[256];
        seq_model *model;
        seq_stream *stream = NULL;
        float x[T * B * I], whole[T * B * K], step[B * K];
        int64_t lengths[B] = {7, 3, 5};
        int t, b, before = check_failures;
        test_rng rng;
        snprintf(spec, sizeof spec, "%s input_size=3 hidden_size=5 output_size=4 output=regression seed=%d", cells[c], (int)c);
        model = model_from(spec);
        if (model == NULL) continue;
        rng_seed(&rng, 100 + c);
        for (t = 0; t < T * B * I; t++) x[t] = rng_float(&rng);
        CHECK_OK(seq_model_predict(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, whole, T * B * K, NULL));
        CHECK_OK(seq_stream_create(model, B, &stream));
        for (t = 0; t < T; t++) {
            CHECK_OK(seq_stream_feed(stream, x + t * B * I, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, step, B * K, NULL));
            for (b = 0; b < B; b++)
                if (t < lengths[b]) CHECK_FLOATS_CLOSE(step + b * K, whole + (t * B + b) * K, K, 1e-6, 1e-6);
        }
        if (check_failures != before) fprintf(stderr, "  (with %s)\n", cells[c]);
        seq_stream_free(stream);
        seq_model_free(model);
    }
}

/* Chunks of any size, batch-first or time-major, give the same outputs as one step at a time. */
void test_stream_chunks_and_layouts(void) {
    enum { T = 9, B = 2, I = 2, K = 3 };
    seq_model *model = model_from("cell=lstm input_size=2 hidden_size=6 output_size=3 num_layers=2");
    seq_stream *one = NULL, *chunks = NULL;
    float x[T * B * I], xb[T * B * I], expected[T * B * K], got[T * B * K];
    const int sizes[] = {2, 4, 1, 2};
    int t, b, i, at = 0;
    test_rng rng;
    rng_seed(&rng, 77);
    for (t = 0; t < T; t++)
        for (b = 0; b < B; b++)
            for (i = 0; i < I; i++) x[(t * B + b) * I + i] = rng_float(&rng);
    if (model == NULL) return;
    CHECK_OK(seq_stream_create(model, B, &one));
    CHECK_OK(seq_stream_create(model, B, &chunks));
    for (t = 0; t < T; t++)
        CHECK_OK(seq_stream_feed(one, x + t * B * I, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, expected + t * B * K, B * K, NULL));
    for (i = 0; i < 4; i++) {
        const int n = sizes[i];
        /* This chunk in batch-first order: [B, n, I]. */
        for (b = 0; b < B; b++)
            for (t = 0; t < n; t++) memcpy(xb + (b * n + t) * I, x + ((at + t) * B + b) * I, I * sizeof(float));
        CHECK_OK(seq_stream_feed(chunks, xb, NULL, n, B, I, SEQ_LAYOUT_BATCH_FIRST, got, n * B * K, NULL));
        for (b = 0; b < B; b++)
            for (t = 0; t < n; t++)
                CHECK_FLOATS_CLOSE(got + (b * n + t) * K, expected + ((at + t) * B + b) * K, K, 1e-6, 1e-6);
        at += n;
    }
    {
        int64_t position = -1;
        CHECK_OK(seq_stream_position(chunks, &position));
        CHECK_INT_EQ(position, T);
        CHECK_OK(seq_stream_reset(chunks));
        CHECK_OK(seq_stream_position(chunks, &position));
        CHECK_INT_EQ(position, 0);
    }
    /* After a reset the stream starts over. */
    CHECK_OK(seq_stream_feed(chunks, x, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, got, B * K, NULL));
    CHECK_FLOATS_CLOSE(got, expected, B * K, 0, 0);
    seq_stream_free(one);
    seq_stream_free(chunks);
    seq_model_free(model);
}

/* A classifier's stream output at step t is its prediction for the sequence cut at t; a language
   model's stream takes tokens. */
void test_stream_classifier_and_language_model(void) {
    enum { T = 5, I = 2, K = 3, V = 6 };
    seq_model *classifier = model_from("architecture=classifier cell=gru input_size=2 hidden_size=5 output_size=3");
    seq_model *lm = model_from("architecture=language_model cell=lstm vocab_size=6 embedding_size=3 hidden_size=5");
    seq_stream *stream = NULL;
    float x[T * I], y[K], whole[K], probabilities[T * V], expected[T * V];
    int32_t tokens[T] = {1, 4, 0, 5, 2};
    int t;
    test_rng rng;
    rng_seed(&rng, 8);
    for (t = 0; t < T * I; t++) x[t] = rng_float(&rng);
    if (!classifier || !lm) goto done;
    CHECK_OK(seq_stream_create(classifier, 1, &stream));
    for (t = 0; t < T; t++) {
        CHECK_OK(seq_stream_feed(stream, x + t * I, NULL, 1, 1, I, SEQ_LAYOUT_TIME_MAJOR, y, K, NULL));
        CHECK_OK(seq_model_predict(classifier, x, NULL, t + 1, 1, I, NULL, SEQ_LAYOUT_TIME_MAJOR, whole, K, NULL));
        CHECK_FLOATS_CLOSE(y, whole, K, 1e-6, 1e-6);
    }
    seq_stream_free(stream);
    stream = NULL;
    CHECK_OK(seq_stream_create(lm, 1, &stream));
    CHECK_OK(seq_model_predict(lm, NULL, tokens, T, 1, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, expected, T * V, NULL));
    for (t = 0; t < T; t++)
        CHECK_OK(seq_stream_feed(stream, NULL, tokens + t, 1, 1, 1, SEQ_LAYOUT_TIME_MAJOR, probabilities + t * V, V, NULL));
    CHECK_FLOATS_CLOSE(probabilities, expected, T * V, 1e-6, 1e-6);
done:
    seq_stream_free(stream);
    seq_model_free(classifier);
    seq_model_free(lm);
}

/* The state read in the middle of a stream and written back later resumes it exactly. */
void test_stream_state_round_trip(void) {
    enum { B = 2, I = 2, K = 2, L = 2, H = 4, P = 3 };
    seq_model *model = model_from("cell=lstm input_size=2 hidden_size=4 proj_size=3 num_layers=2 output_size=2");
    seq_model *gru = model_from("cell=gru input_size=2 hidden_size=4 output_size=2");
    seq_stream *stream = NULL, *plain = NULL;
    float x[4 * B * I], first[B * K], again[B * K], h[L * B * P], c[L * B * H];
    int64_t h_count = -1, c_count = -1;
    int i;
    for (i = 0; i < 4 * B * I; i++) x[i] = (float)(i % 5) * 0.3f - 0.6f;
    if (!model || !gru) goto done;
    CHECK_OK(seq_stream_create(model, B, &stream));
    CHECK_OK(seq_stream_feed(stream, x, NULL, 3, B, I, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL)); /* size query: no step */
    {
        int64_t position = -1;
        CHECK_OK(seq_stream_position(stream, &position));
        CHECK_INT_EQ(position, 0);
    }
    {
        float out[3 * B * K];
        CHECK_OK(seq_stream_feed(stream, x, NULL, 3, B, I, SEQ_LAYOUT_TIME_MAJOR, out, 3 * B * K, NULL));
    }
    CHECK_OK(seq_stream_get_state(stream, NULL, 0, &h_count, NULL, 0, &c_count));
    CHECK_INT_EQ(h_count, L * B * P);
    CHECK_INT_EQ(c_count, L * B * H);
    CHECK_OK(seq_stream_get_state(stream, h, h_count, NULL, c, c_count, NULL));
    CHECK_OK(seq_stream_feed(stream, x + 3 * B * I, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, first, B * K, NULL));
    CHECK_OK(seq_stream_reset(stream));
    CHECK_OK(seq_stream_set_state(stream, h, h_count, c, c_count));
    CHECK_OK(seq_stream_feed(stream, x + 3 * B * I, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, again, B * K, NULL));
    CHECK_FLOATS_CLOSE(again, first, B * K, 0, 0);

    /* A GRU has no memory cell: c is empty and must be NULL. */
    CHECK_OK(seq_stream_create(gru, B, &plain));
    CHECK_OK(seq_stream_get_state(plain, NULL, 0, &h_count, NULL, 0, &c_count));
    CHECK_INT_EQ(h_count, B * H);
    CHECK_INT_EQ(c_count, 0);
    CHECK_OK(seq_stream_set_state(plain, c, B * H, NULL, 0));
done:
    seq_stream_free(stream);
    seq_stream_free(plain);
    seq_model_free(model);
    seq_model_free(gru);
}

/* A stream keeps its model alive after seq_model_free, and sees parameter changes. */
void test_stream_outlives_model_handle(void) {
    seq_model *model = model_from("cell=rnn_tanh input_size=1 hidden_size=2 output_size=1 output=regression");
    seq_stream *stream = NULL;
    float x = 0.5f, y = 0;
    if (model == NULL) return;
    CHECK_OK(seq_stream_create(model, 1, &stream));
    seq_model_free(model);
    CHECK_OK(seq_stream_feed(stream, &x, NULL, 1, 1, 1, SEQ_LAYOUT_TIME_MAJOR, &y, 1, NULL));
    CHECK(y == y); /* finite, computed */
    seq_stream_free(stream);
}

/* A refused feed (NaN features, a token out of the vocabulary, an output buffer one float short)
   takes no step and leaves the state alone: the stream goes on exactly as one that never saw it.
   The size query reports steps * B * K for features and tokens alike. */
void test_stream_refused_feed_leaves_it_usable(void) {
    enum { B = 2, I = 3, K = 4, V = 5, T = 3 };
    seq_model *model = model_from("cell=gru input_size=3 hidden_size=5 output_size=4 output=classes");
    seq_model *lm = model_from("architecture=language_model cell=lstm vocab_size=5 embedding_size=2 hidden_size=3");
    seq_stream *s = NULL, *clean = NULL;
    float x[T * B * I], bad[B * I], y[T * B * K], want[T * B * K];
    int32_t tokens[B] = {1, 4}, bad_tokens[B] = {2, 5};
    int64_t count = -1, position = -1;
    int i, t;
    for (i = 0; i < T * B * I; i++) x[i] = (float)(i % 7) * 0.25f - 0.75f;
    memcpy(bad, x, sizeof bad);
    bad[B * I - 1] = NAN;
    if (!model || !lm) goto done;
    CHECK_OK(seq_stream_create(model, B, &s));
    CHECK_OK(seq_stream_create(model, B, &clean));
    CHECK_OK(seq_stream_feed(s, x, NULL, T, B, I, SEQ_LAYOUT_BATCH_FIRST, NULL, 0, &count));
    CHECK_INT_EQ(count, T * B * K);
    CHECK_OK(seq_stream_feed(s, x, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, y, B * K, NULL));
    CHECK_OK(seq_stream_feed(clean, x, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, want, B * K, NULL));
    CHECK_ERROR(seq_stream_feed(s, bad, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, y, B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'features': expected finite values");
    CHECK_ERROR(seq_stream_feed(s, x, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, y, B * K - 1, NULL), SEQ_ERR_BUFFER_TOO_SMALL,
                "needed 8");
    CHECK_OK(seq_stream_position(s, &position));
    CHECK_INT_EQ(position, 1);
    for (t = 1; t < T; t++) {
        CHECK_OK(seq_stream_feed(s, x + t * B * I, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, y, B * K, NULL));
        CHECK_OK(seq_stream_feed(clean, x + t * B * I, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, want, B * K, NULL));
        CHECK_FLOATS_CLOSE(y, want, B * K, 0, 0);
    }
    seq_stream_free(s);
    seq_stream_free(clean);
    s = clean = NULL;

    CHECK_OK(seq_stream_create(lm, B, &s));
    CHECK_OK(seq_stream_create(lm, B, &clean));
    CHECK_OK(seq_stream_feed(s, NULL, tokens, 1, B, 1, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, &count));
    CHECK_INT_EQ(count, B * V);
    CHECK_ERROR(seq_stream_feed(s, NULL, bad_tokens, 1, B, 1, SEQ_LAYOUT_TIME_MAJOR, y, B * V, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'tokens': expected token ids in [0, 5)");
    CHECK_OK(seq_stream_feed(s, NULL, tokens, 1, B, 1, SEQ_LAYOUT_TIME_MAJOR, y, B * V, NULL));
    CHECK_OK(seq_stream_feed(clean, NULL, tokens, 1, B, 1, SEQ_LAYOUT_TIME_MAJOR, want, B * V, NULL));
    CHECK_FLOATS_CLOSE(y, want, B * V, 0, 0);
done:
    seq_stream_free(s);
    seq_stream_free(clean);
    seq_model_free(model);
    seq_model_free(lm);
}

/* ---- seq_stream_feed_hidden: the top recurrent layer's output a<t>, the head not run ---- */

/* The stream's state sizes: L * B * Hout floats of h and L * B * H of c (0 without a memory cell). */
static void state_counts(seq_stream *stream, int64_t *h_count, int64_t *c_count) {
    *h_count = *c_count = -1;
    CHECK_OK(seq_stream_get_state(stream, NULL, 0, h_count, NULL, 0, c_count));
}

/* Copies the stream's whole state (h, then c) into `state`, which holds `capacity` floats. Returns
   the number of floats written. */
static int64_t read_state(seq_stream *stream, float *state, int64_t capacity) {
    int64_t h_count, c_count;
    state_counts(stream, &h_count, &c_count);
    if (h_count < 0 || c_count < 0 || h_count + c_count > capacity) {
        check_fail(__FILE__, __LINE__, "read_state", "state of %lld + %lld floats, buffer of %lld", (long long)h_count,
                   (long long)c_count, (long long)capacity);
        return 0;
    }
    CHECK_OK(seq_stream_get_state(stream, state, h_count, NULL, c_count > 0 ? state + h_count : NULL, c_count, NULL));
    return h_count + c_count;
}

/* Feeding one step at a time with seq_stream_feed_hidden writes, at every step, the top layer's h
   that seq_stream_get_state reports on a twin stream fed the same step with seq_stream_feed, exactly
   (the same computation), and leaves the same whole state behind, for every cell, stacked, with a
   projection (F = proj_size) and peepholes, for a classifier, and for token models (a tagger on
   tokens and a language model). One call on the whole chunk gives the same outputs (to 1e-6), and
   a stream fed with seq_stream_feed_hidden then goes on like one that never was. */
void test_stream_feed_hidden_is_the_top_layer_state(void) {
    enum { T = 6, B = 3, I = 3, V = 7, MAX_F = 8, MAX_L = 3, MAX_STATE = 2 * MAX_L * B * MAX_F };
    static const struct {
        const char *spec;
        int tokens, layers, features; /* features: F, the width of a<t> */
    } models[] = {
        {"cell=rnn_tanh input_size=3 hidden_size=5 output_size=2", 0, 1, 5},
        {"cell=rnn_relu input_size=3 hidden_size=4 output_size=3 output=regression", 0, 1, 4},
        {"cell=gru input_size=3 hidden_size=6 output_size=2 num_layers=2", 0, 2, 6},
        {"cell=gru gru_variant=simplified input_size=3 hidden_size=5 output_size=2 output=binary", 0, 1, 5},
        {"cell=lstm input_size=3 hidden_size=5 output_size=4", 0, 1, 5},
        {"cell=lstm input_size=3 hidden_size=6 proj_size=2 peepholes=1 output_size=3", 0, 1, 2},
        {"cell=lstm input_size=3 hidden_size=8 proj_size=3 num_layers=3 output_size=2 output=regression", 0, 3, 3},
        {"architecture=classifier cell=gru input_size=3 hidden_size=4 output_size=3", 0, 1, 4},
        {"cell=gru vocab_size=7 embedding_size=3 hidden_size=5 output_size=2", 1, 1, 5},
        {"architecture=language_model cell=lstm vocab_size=7 embedding_size=4 hidden_size=6 proj_size=4 num_layers=2", 1, 2, 4},
    };
    size_t m;
    for (m = 0; m < sizeof models / sizeof models[0]; m++) {
        const int F = models[m].features, L = models[m].layers, tokens = models[m].tokens;
        const int64_t width = tokens ? 1 : I;
        seq_model *model = model_from(models[m].spec);
        seq_stream *hidden = NULL, *plain = NULL, *chunk = NULL;
        float x[T * B * I], a[T * B * MAX_F], whole[T * B * MAX_F], state[MAX_STATE], twin[MAX_STATE];
        float y[B * 8], y_twin[B * 8];
        int32_t ids[T * B];
        int64_t count = -1, h_count, c_count, position = -1, k = 0;
        int t, i, before = check_failures;
        test_rng rng;
        if (model == NULL) continue;
        rng_seed(&rng, 300 + m);
        for (i = 0; i < T * B * I; i++) x[i] = rng_float(&rng);
        for (i = 0; i < T * B; i++) ids[i] = rng_below(&rng, V);
        CHECK_OK(seq_stream_create(model, B, &hidden));
        CHECK_OK(seq_stream_create(model, B, &plain));
        CHECK_OK(seq_stream_create(model, B, &chunk));
        state_counts(hidden, &h_count, &c_count);
        CHECK_INT_EQ(h_count, L * B * F);
        for (t = 0; t < T; t++) {
            const float *xt = tokens ? NULL : x + t * B * I;
            const int32_t *it = tokens ? ids + t * B : NULL;
            float y_plain[B * 8];
            count = -1;
            CHECK_OK(seq_stream_feed_hidden(hidden, xt, it, 1, B, width, SEQ_LAYOUT_TIME_MAJOR, a + t * B * F, B * F, &count));
            CHECK_INT_EQ(count, B * F);
            CHECK_OK(seq_stream_feed(plain, xt, it, 1, B, width, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, &k));
            if (k > B * 8) {
                check_fail(__FILE__, __LINE__, models[m].spec, "output of %lld floats per step", (long long)k);
                break;
            }
            CHECK_OK(seq_stream_feed(plain, xt, it, 1, B, width, SEQ_LAYOUT_TIME_MAJOR, y_plain, k, NULL));
            /* a<t> is the top layer's slice of h [L, B, F] after the step. */
            if (read_state(plain, twin, MAX_STATE) != h_count + c_count) break;
            CHECK_FLOATS_CLOSE(a + t * B * F, twin + (L - 1) * B * F, B * F, 0, 0);
            /* The whole state advanced alike. */
            if (read_state(hidden, state, MAX_STATE) != h_count + c_count) break;
            CHECK_FLOATS_CLOSE(state, twin, h_count + c_count, 0, 0);
        }
        CHECK_OK(seq_stream_position(hidden, &position));
        CHECK_INT_EQ(position, T);
        /* The whole sequence in one call. */
        CHECK_OK(seq_stream_feed_hidden(chunk, tokens ? NULL : x, tokens ? ids : NULL, T, B, width, SEQ_LAYOUT_TIME_MAJOR,
                                        whole, T * B * F, &count));
        CHECK_INT_EQ(count, T * B * F);
        CHECK_FLOATS_CLOSE(whole, a, T * B * F, 1e-6, 1e-6);
        CHECK_OK(seq_stream_position(chunk, &position));
        CHECK_INT_EQ(position, T);
        /* Both go on as the stream that only ever saw seq_stream_feed. */
        if (k > 0 && k <= B * 8) {
            const float *xt = tokens ? NULL : x;
            const int32_t *it = tokens ? ids : NULL;
            CHECK_OK(seq_stream_feed(hidden, xt, it, 1, B, width, SEQ_LAYOUT_TIME_MAJOR, y, k, NULL));
            CHECK_OK(seq_stream_feed(plain, xt, it, 1, B, width, SEQ_LAYOUT_TIME_MAJOR, y_twin, k, NULL));
            CHECK_FLOATS_CLOSE(y, y_twin, k, 0, 0);
            CHECK_OK(seq_stream_feed(chunk, xt, it, 1, B, width, SEQ_LAYOUT_TIME_MAJOR, y, k, NULL));
            CHECK_FLOATS_CLOSE(y, y_twin, k, 1e-6, 1e-6);
        }
        if (check_failures != before) fprintf(stderr, "  (with %s)\n", models[m].spec);
        seq_stream_free(hidden);
        seq_stream_free(plain);
        seq_stream_free(chunk);
        seq_model_free(model);
    }
}

/* With the head set to the identity (head.weight = I, head.bias = 0, output_size = F, regression
   output), seq_stream_feed's y-hat is a<t>: it equals seq_stream_feed_hidden's output on a twin
   stream, chunk by chunk, for a plain GRU and for a stacked LSTM with a projection (F = proj_size). */
void test_stream_feed_hidden_through_an_identity_head(void) {
    enum { B = 2, I = 3, MAX_F = 5 };
    static const struct {
        const char *spec;
        int features;
    } models[] = {
        {"cell=gru input_size=3 hidden_size=5 output_size=5 output=regression", 5},
        {"cell=lstm input_size=3 hidden_size=6 proj_size=4 num_layers=2 output_size=4 output=regression", 4},
    };
    const int chunks[] = {1, 3, 2};
    size_t m;
    for (m = 0; m < sizeof models / sizeof models[0]; m++) {
        const int F = models[m].features;
        seq_model *model = model_from(models[m].spec);
        seq_stream *head = NULL, *hidden = NULL;
        float identity[MAX_F * MAX_F], zeros[MAX_F], x[3 * B * I], y[3 * B * MAX_F], a[3 * B * MAX_F];
        int i, c, before = check_failures;
        test_rng rng;
        if (model == NULL) continue;
        for (i = 0; i < F * F; i++) identity[i] = i % (F + 1) == 0 ? 1.0f : 0.0f;
        for (i = 0; i < F; i++) zeros[i] = 0.0f;
        CHECK_OK(seq_model_set_parameter(model, "head.weight", identity, F * F));
        CHECK_OK(seq_model_set_parameter(model, "head.bias", zeros, F));
        CHECK_OK(seq_stream_create(model, B, &head));
        CHECK_OK(seq_stream_create(model, B, &hidden));
        rng_seed(&rng, 40 + m);
        for (c = 0; c < 3; c++) {
            const int n = chunks[c];
            for (i = 0; i < n * B * I; i++) x[i] = 2 * rng_float(&rng);
            CHECK_OK(seq_stream_feed(head, x, NULL, n, B, I, SEQ_LAYOUT_TIME_MAJOR, y, n * B * F, NULL));
            CHECK_OK(seq_stream_feed_hidden(hidden, x, NULL, n, B, I, SEQ_LAYOUT_TIME_MAJOR, a, n * B * F, NULL));
            CHECK_FLOATS_CLOSE(a, y, n * B * F, 1e-6, 1e-7);
            /* Not trivially equal: the states move. */
            CHECK(max_abs_diff(a, zeros, F) > 1e-3);
        }
        if (check_failures != before) fprintf(stderr, "  (with %s)\n", models[m].spec);
        seq_stream_free(head);
        seq_stream_free(hidden);
        seq_model_free(model);
    }
}

/* Time-major and batch-first agree after transposition, for chunks of several steps and of one
   (where both layouts are the same memory), with features and with tokens. */
void test_stream_feed_hidden_layouts(void) {
    enum { B = 3, I = 2, F = 4, V = 6 };
    seq_model *model = model_from("cell=lstm input_size=2 hidden_size=6 proj_size=4 num_layers=2 output_size=3");
    seq_model *lm = model_from("architecture=language_model cell=gru vocab_size=6 embedding_size=3 hidden_size=4");
    seq_stream *tm = NULL, *bf = NULL;
    const int sizes[] = {4, 1, 3};
    float x[4 * B * I], xb[4 * B * I], a_tm[4 * B * F], a_bf[4 * B * F], sentinel = -12345.0f;
    int32_t ids[4 * B], ids_b[4 * B];
    int s, t, b, i;
    int64_t count = -1, position = -1;
    test_rng rng;
    if (!model || !lm) goto done;
    rng_seed(&rng, 11);
    CHECK_OK(seq_stream_create(model, B, &tm));
    CHECK_OK(seq_stream_create(model, B, &bf));
    for (s = 0; s < 3; s++) {
        const int n = sizes[s];
        for (i = 0; i < n * B * I; i++) x[i] = rng_float(&rng);
        for (t = 0; t < n; t++)
            for (b = 0; b < B; b++) memcpy(xb + (b * n + t) * I, x + (t * B + b) * I, I * sizeof(float));
        for (i = 0; i < 4 * B * F; i++) a_bf[i] = sentinel;
        CHECK_OK(seq_stream_feed_hidden(tm, x, NULL, n, B, I, SEQ_LAYOUT_TIME_MAJOR, a_tm, n * B * F, NULL));
        CHECK_OK(seq_stream_feed_hidden(bf, xb, NULL, n, B, I, SEQ_LAYOUT_BATCH_FIRST, a_bf, 4 * B * F, &count));
        CHECK_INT_EQ(count, n * B * F);
        for (t = 0; t < n; t++)
            for (b = 0; b < B; b++) CHECK_FLOATS_CLOSE(a_bf + (b * n + t) * F, a_tm + (t * B + b) * F, F, 0, 0);
        /* Nothing written past steps * B * F, though the buffer is larger. */
        for (i = n * B * F; i < 4 * B * F; i++) CHECK(a_bf[i] == sentinel);
    }
    CHECK_OK(seq_stream_position(bf, &position));
    CHECK_INT_EQ(position, 8);
    seq_stream_free(tm);
    seq_stream_free(bf);
    tm = bf = NULL;

    /* Tokens: [steps, B] time-major, [B, steps] batch-first; F = hidden_size = 4. */
    CHECK_OK(seq_stream_create(lm, B, &tm));
    CHECK_OK(seq_stream_create(lm, B, &bf));
    for (i = 0; i < 4 * B; i++) ids[i] = rng_below(&rng, V);
    for (t = 0; t < 4; t++)
        for (b = 0; b < B; b++) ids_b[b * 4 + t] = ids[t * B + b];
    CHECK_OK(seq_stream_feed_hidden(tm, NULL, ids, 4, B, 1, SEQ_LAYOUT_TIME_MAJOR, a_tm, 4 * B * F, NULL));
    CHECK_OK(seq_stream_feed_hidden(bf, NULL, ids_b, 4, B, 1, SEQ_LAYOUT_BATCH_FIRST, a_bf, 4 * B * F, NULL));
    for (t = 0; t < 4; t++)
        for (b = 0; b < B; b++) CHECK_FLOATS_CLOSE(a_bf + (b * 4 + t) * F, a_tm + (t * B + b) * F, F, 0, 0);
done:
    seq_stream_free(tm);
    seq_stream_free(bf);
    seq_model_free(model);
    seq_model_free(lm);
}

/* The size query (output NULL, capacity 0) reports steps * B * F, F the state size (proj_size for
   an LSTM with a projection, hidden_size for a token model), and takes no step. A refused call (an
   output buffer one float short, NaN features, a token out of the vocabulary, another batch) takes
   no step, leaves the state and the buffer alone, and still reports the size; the stream then goes
   on exactly as one that never saw it. */
void test_stream_feed_hidden_size_query_and_refusals(void) {
    enum { T = 3, B = 2, I = 3, H = 5, P = 3, V = 5, STATE = 2 * B * H };
    seq_model *model = model_from("cell=lstm input_size=3 hidden_size=5 proj_size=3 output_size=4 output=classes");
    seq_model *lm = model_from("architecture=language_model cell=gru vocab_size=5 embedding_size=2 hidden_size=5");
    seq_stream *s = NULL, *clean = NULL;
    float x[T * B * I], bad[B * I], a[T * B * H], want[T * B * H], state[STATE], before[STATE];
    int32_t tokens[T * B] = {1, 4, 0, 2, 3, 3}, bad_tokens[B] = {2, 5};
    int64_t count = -1, position = -1, n;
    int i, t;
    for (i = 0; i < T * B * I; i++) x[i] = (float)(i % 7) * 0.25f - 0.75f;
    memcpy(bad, x, sizeof bad);
    bad[B * I - 1] = NAN;
    if (!model || !lm) goto done;
    CHECK_OK(seq_stream_create(model, B, &s));
    CHECK_OK(seq_stream_create(model, B, &clean));
    /* A size query: steps * B * proj_size, in either layout, no step taken. */
    CHECK_OK(seq_stream_feed_hidden(s, x, NULL, T, B, I, SEQ_LAYOUT_BATCH_FIRST, NULL, 0, &count));
    CHECK_INT_EQ(count, T * B * P);
    count = -1;
    CHECK_OK(seq_stream_feed_hidden(s, x, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, &count));
    CHECK_INT_EQ(count, B * P);
    CHECK_OK(seq_stream_feed_hidden(s, x, NULL, T, B, I, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL));
    CHECK_OK(seq_stream_position(s, &position));
    CHECK_INT_EQ(position, 0);
    n = read_state(s, state, STATE);
    CHECK_INT_EQ(n, B * P + B * H);
    for (i = 0; i < n; i++) CHECK(state[i] == 0.0f);

    CHECK_OK(seq_stream_feed_hidden(s, x, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, a, B * P, NULL));
    CHECK_OK(seq_stream_feed_hidden(clean, x, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, want, B * P, NULL));
    CHECK_FLOATS_CLOSE(a, want, B * P, 0, 0);
    n = read_state(s, before, STATE);
    /* Refused: each leaves the position, the state and the output buffer as they were. */
    for (i = 0; i < T * B * H; i++) a[i] = 42.0f;
    count = -1;
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 2, B, I, SEQ_LAYOUT_TIME_MAJOR, a, 2 * B * P - 1, &count),
                SEQ_ERR_BUFFER_TOO_SMALL, "seq_stream_feed_hidden: argument 'output': buffer too small: capacity 11 elements, "
                                          "needed 12 elements");
    CHECK_INT_EQ(count, 2 * B * P);
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 1, B, I, SEQ_LAYOUT_BATCH_FIRST, a, 0, NULL), SEQ_ERR_BUFFER_TOO_SMALL,
                "needed 6 elements");
    CHECK_ERROR(seq_stream_feed_hidden(s, bad, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, a, B * P, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'features': expected finite values, got nan at element 5");
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 1, 1, I, SEQ_LAYOUT_TIME_MAJOR, a, B * P, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'batch': expected 2 (the stream's batch), got 1");
    for (i = 0; i < T * B * H; i++) CHECK(a[i] == 42.0f);
    CHECK_OK(seq_stream_position(s, &position));
    CHECK_INT_EQ(position, 1);
    CHECK_INT_EQ(read_state(s, state, STATE), n);
    CHECK_FLOATS_CLOSE(state, before, n, 0, 0);
    for (t = 1; t < T; t++) {
        CHECK_OK(seq_stream_feed_hidden(s, x + t * B * I, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, a, B * P, NULL));
        CHECK_OK(seq_stream_feed_hidden(clean, x + t * B * I, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, want, B * P, NULL));
        CHECK_FLOATS_CLOSE(a, want, B * P, 0, 0);
    }
    seq_stream_free(s);
    seq_stream_free(clean);
    s = clean = NULL;

    /* A token model: steps * B * hidden_size. */
    CHECK_OK(seq_stream_create(lm, B, &s));
    CHECK_OK(seq_stream_create(lm, B, &clean));
    CHECK_OK(seq_stream_feed_hidden(s, NULL, tokens, T, B, 1, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, &count));
    CHECK_INT_EQ(count, T * B * H);
    CHECK_ERROR(seq_stream_feed_hidden(s, NULL, bad_tokens, 1, B, 1, SEQ_LAYOUT_TIME_MAJOR, a, B * H, NULL),
                SEQ_ERR_INVALID_ARGUMENT, "argument 'tokens': expected token ids in [0, 5)");
    CHECK_OK(seq_stream_position(s, &position));
    CHECK_INT_EQ(position, 0);
    CHECK_OK(seq_stream_feed_hidden(s, NULL, tokens, T, B, 1, SEQ_LAYOUT_TIME_MAJOR, a, T * B * H, NULL));
    CHECK_OK(seq_stream_feed_hidden(clean, NULL, tokens, T, B, 1, SEQ_LAYOUT_TIME_MAJOR, want, T * B * H, NULL));
    CHECK_FLOATS_CLOSE(a, want, T * B * H, 0, 0);
    /* GRU outputs lie in (-1, 1) and move. */
    for (i = 0; i < T * B * H; i++) CHECK(a[i] > -1.0f && a[i] < 1.0f);
    CHECK(max_abs_diff(a, a + B * H, B * H) > 0);
done:
    seq_stream_free(s);
    seq_stream_free(clean);
    seq_model_free(model);
    seq_model_free(lm);
}

/* seq_stream_feed_hidden starts from a state set with seq_stream_set_state, and uses the model's
   current parameters (after seq_model_set_parameter, after a training step), as seq_stream_feed
   does: at every point its output is the top layer's h of a twin stream fed with seq_stream_feed,
   and the whole state is the twin's. */
void test_stream_feed_hidden_after_set_state_and_new_parameters(void) {
    enum { B = 3, I = 4, H = 6, L = 2, T = 5, K = 2, STATE = 2 * L * B * H };
    seq_model *model = model_from("cell=lstm input_size=4 hidden_size=6 num_layers=2 output_size=2");
    seq_stream *hidden = NULL, *plain = NULL;
    float x[T * B * I], a[2 * B * H], y[2 * B * K], h0[L * B * H], c0[L * B * H], w[4 * H * I];
    float state[STATE], twin[STATE];
    int32_t labels[T * B];
    int64_t n = 0;
    double loss = 0;
    int i, phase, before;
    test_rng rng;
    if (model == NULL) return;
    rng_seed(&rng, 21);
    for (i = 0; i < T * B * I; i++) x[i] = rng_float(&rng);
    for (i = 0; i < L * B * H; i++) {
        h0[i] = 0.5f * rng_float(&rng);
        c0[i] = rng_float(&rng);
    }
    for (i = 0; i < T * B; i++) labels[i] = i % K;
    CHECK_OK(seq_stream_create(model, B, &hidden));
    CHECK_OK(seq_stream_create(model, B, &plain));
    CHECK_OK(seq_stream_set_state(hidden, h0, L * B * H, c0, L * B * H));
    CHECK_OK(seq_stream_set_state(plain, h0, L * B * H, c0, L * B * H));
    for (phase = 0; phase < 3; phase++) {
        const int steps = phase == 1 ? 1 : 2, at = phase == 0 ? 0 : phase == 1 ? 2 : 3;
        before = check_failures;
        if (phase == 1) { /* new input weights */
            CHECK_OK(seq_model_get_parameter(model, "rnn.weight_ih_l0", w, 4 * H * I, &n));
            for (i = 0; i < n; i++) w[i] *= -1.5f;
            CHECK_OK(seq_model_set_parameter(model, "rnn.weight_ih_l0", w, n));
        }
        if (phase == 2) CHECK_OK(seq_model_train_step(model, x, NULL, T, B, I, NULL, 0, labels, NULL, T, NULL, &loss));
        CHECK_OK(seq_stream_feed_hidden(hidden, x + at * B * I, NULL, steps, B, I, SEQ_LAYOUT_TIME_MAJOR, a, steps * B * H, NULL));
        CHECK_OK(seq_stream_feed(plain, x + at * B * I, NULL, steps, B, I, SEQ_LAYOUT_TIME_MAJOR, y, steps * B * K, NULL));
        CHECK_INT_EQ(read_state(plain, twin, STATE), STATE);
        CHECK_INT_EQ(read_state(hidden, state, STATE), STATE);
        CHECK_FLOATS_CLOSE(state, twin, STATE, 0, 0);
        CHECK_FLOATS_CLOSE(a + (steps - 1) * B * H, twin + (L - 1) * B * H, B * H, 0, 0);
        if (check_failures != before) fprintf(stderr, "  (phase %d)\n", phase);
    }
    seq_stream_free(hidden);
    seq_stream_free(plain);
    seq_model_free(model);
}
