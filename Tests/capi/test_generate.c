/* Generation with a language model and decoding with a seq2seq model. */
#include <string.h>

#include "check.h"
#include "helpers.h"
#include "tests.h"

static seq_model *small_lm(void) {
    return model_from("architecture=language_model cell=lstm vocab_size=12 embedding_size=4 hidden_size=8 seed=9");
}

void test_generate_is_seeded(void) {
    seq_model *model = small_lm();
    int32_t prefix[3] = {1, 2, 3}, a[20], b[20], c[20];
    int64_t n = -1;
    if (model == NULL) return;
    CHECK_OK(seq_model_generate(model, prefix, 3, 20, 1.0, 0, 42, -1, a, 20, &n));
    CHECK_INT_EQ(n, 20);
    CHECK_OK(seq_model_generate(model, prefix, 3, 20, 1.0, 0, 42, -1, b, 20, NULL));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_OK(seq_model_generate(model, prefix, 3, 20, 1.0, 0, 43, -1, c, 20, NULL));
    CHECK(memcmp(a, c, sizeof a) != 0);
    for (n = 0; n < 20; n++) CHECK(a[n] >= 0 && a[n] < 12);
    seq_model_free(model);
}

void test_generate_greedy_top_k_and_stop(void) {
    seq_model *model = small_lm();
    int32_t prefix[2] = {5, 7}, greedy[10], other[10], top1[10], stopped[10] = {0};
    int64_t n = -1;
    if (model == NULL) return;
    /* Temperature 0 is greedy: the seed does not matter; top_k = 1 is greedy too. */
    CHECK_OK(seq_model_generate(model, prefix, 2, 10, 0.0, 0, 1, -1, greedy, 10, NULL));
    CHECK_OK(seq_model_generate(model, prefix, 2, 10, 0.0, 0, 2, -1, other, 10, NULL));
    CHECK(memcmp(greedy, other, sizeof greedy) == 0);
    CHECK_OK(seq_model_generate(model, prefix, 2, 10, 1.0, 1, 3, -1, top1, 10, NULL));
    CHECK(memcmp(greedy, top1, sizeof greedy) == 0);
    /* Generation stops after the stop token, which is included. */
    CHECK_OK(seq_model_generate(model, prefix, 2, 10, 0.0, 0, 1, greedy[2], stopped, 10, &n));
    CHECK(n >= 1 && n <= 3);
    CHECK_INT_EQ(stopped[n - 1], greedy[2]);
    /* count 0 generates nothing. */
    CHECK_OK(seq_model_generate(model, prefix, 2, 0, 1.0, 0, 1, -1, stopped, 0, &n));
    CHECK_INT_EQ(n, 0);
    seq_model_free(model);
}

void test_decode_layouts_and_padding(void) {
    enum { T = 4, B = 3, MAX = 6 };
    seq_model *model = model_from("architecture=seq2seq cell=gru vocab_size=8 embedding_size=4 hidden_size=8 output_size=6 "
                                  "start_token=0 stop_token=1 seed=3");
    seq_model *features = model_from("architecture=seq2seq cell=lstm input_size=2 hidden_size=5 output_size=5 seed=4");
    int32_t source[T * B], source_bf[T * B], out[MAX * B], out_bf[MAX * B];
    float x[T * B * 2];
    int64_t lengths[B] = {4, 2, 3}, out_lengths[B], out_lengths_bf[B];
    int t, b;
    for (t = 0; t < T; t++)
        for (b = 0; b < B; b++) source[t * B + b] = source_bf[b * T + t] = (t * 3 + b) % 8;
    for (t = 0; t < T * B * 2; t++) x[t] = (float)(t % 7) * 0.25f - 0.75f;
    if (!model || !features) goto done;
    CHECK_OK(seq_model_decode(model, NULL, source, T, B, 1, lengths, SEQ_LAYOUT_TIME_MAJOR, MAX, 0, 0, 0, out, MAX * B,
                              out_lengths));
    CHECK_OK(seq_model_decode(model, NULL, source_bf, T, B, 1, lengths, SEQ_LAYOUT_BATCH_FIRST, MAX, 0, 0, 0, out_bf, MAX * B,
                              out_lengths_bf));
    for (b = 0; b < B; b++) {
        CHECK(out_lengths[b] >= 0 && out_lengths[b] <= MAX);
        CHECK_INT_EQ(out_lengths_bf[b], out_lengths[b]);
        for (t = 0; t < MAX; t++) {
            CHECK_INT_EQ(out_bf[b * MAX + t], out[t * B + b]);
            if (t < out_lengths[b]) CHECK(out[t * B + b] >= 0 && out[t * B + b] < 6 && out[t * B + b] != 1);
            else CHECK_INT_EQ(out[t * B + b], -1);
        }
    }
    /* Sampling, and a seq2seq model over feature vectors. */
    CHECK_OK(seq_model_decode(model, NULL, source, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, MAX, 1.5, 3, 99, out, MAX * B, NULL));
    CHECK_OK(seq_model_decode(features, x, NULL, T, B, 2, lengths, SEQ_LAYOUT_TIME_MAJOR, MAX, 0, 0, 0, out, MAX * B, NULL));
done:
    seq_model_free(model);
    seq_model_free(features);
}
