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
