/*
 * Every error path of the model API: each call below is one path, and asserts the status code and
 * that seq_last_error() names the function and the argument. None of them may crash, abort or
 * change the model (test_errors_leave_the_model_unchanged checks the last).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "helpers.h"
#include "tests.h"

enum { T = 3, B = 2, I = 2, K = 3, V = 5 };

static const float x[T * B * I] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, -0.1f, -0.2f, -0.3f, -0.4f, -0.5f, -0.6f};
static const int32_t ids[T * B] = {0, 1, 2, 3, 4, 0};
static const int32_t labels[T * B] = {0, 1, 2, 0, 1, 2};
static const int64_t lengths[B] = {3, 2};

static seq_model *tagger(void) { return model_from("cell=lstm input_size=2 hidden_size=4 output_size=3"); }
static seq_model *token_lm(void) {
    return model_from("architecture=language_model cell=gru vocab_size=5 embedding_size=3 hidden_size=4");
}

void test_errors_null_pointers(void) {
    seq_model *m = tagger(), *lm = token_lm(), *out = NULL;
    seq_config *c = config_from("cell=gru input_size=2 hidden_size=3 output_size=2");
    seq_stream *s = NULL;
    seq_dataset *d = NULL;
    float y[T * B * K];
    int32_t tokens_out[8];
    int64_t count;
    double loss;
    if (!m || !lm) goto done;
    CHECK_OK(seq_dataset_create(&d));
    CHECK_ERROR(seq_model_create(NULL, &out), SEQ_ERR_NULL_POINTER, "seq_model_create: argument 'config'");
    CHECK_ERROR(seq_model_create(c, NULL), SEQ_ERR_NULL_POINTER, "argument 'out'");
    CHECK_ERROR(seq_model_get_config(m, NULL), SEQ_ERR_NULL_POINTER, "argument 'out'");
    CHECK_ERROR(seq_model_get_config(NULL, NULL), SEQ_ERR_NULL_POINTER, "argument 'out'");
    CHECK_ERROR(seq_model_predict(NULL, x, NULL, T, B, I, NULL, 0, y, T * B * K, NULL), SEQ_ERR_NULL_POINTER,
                "seq_model_predict: argument 'model'");
    CHECK_ERROR(seq_model_predict(m, NULL, NULL, T, B, I, NULL, 0, y, T * B * K, NULL), SEQ_ERR_NULL_POINTER,
                "argument 'features': expected a non-NULL pointer (this model takes feature vectors)");
    CHECK_ERROR(seq_model_predict(lm, NULL, NULL, T, B, 1, NULL, 0, y, T * B * K, NULL), SEQ_ERR_NULL_POINTER,
                "argument 'tokens'");
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, B, I, NULL, 0, NULL, T * B * K, NULL), SEQ_ERR_NULL_POINTER,
                "argument 'output'");
    CHECK_ERROR(seq_model_train_step(m, x, NULL, T, B, I, NULL, 0, NULL, NULL, T, NULL, &loss), SEQ_ERR_NULL_POINTER,
                "seq_model_train_step: argument 'target_ids'");
    CHECK_ERROR(seq_model_evaluate(m, x, NULL, T, B, I, NULL, 0, labels, NULL, T, NULL, NULL), SEQ_ERR_NULL_POINTER,
                "seq_model_evaluate: argument 'loss'");
    CHECK_ERROR(seq_model_compute_gradients(NULL, x, NULL, T, B, I, NULL, 0, labels, NULL, T, NULL, NULL),
                SEQ_ERR_NULL_POINTER, "argument 'model'");
    CHECK_ERROR(seq_model_apply_gradients(NULL), SEQ_ERR_NULL_POINTER, "seq_model_apply_gradients: argument 'model'");
    CHECK_ERROR(seq_model_zero_gradients(NULL), SEQ_ERR_NULL_POINTER, "argument 'model'");
    CHECK_ERROR(seq_model_set_learning_rate(NULL, 0.1), SEQ_ERR_NULL_POINTER, "argument 'model'");
    CHECK_ERROR(seq_model_get_learning_rate(m, NULL), SEQ_ERR_NULL_POINTER, "argument 'out'");
    CHECK_ERROR(seq_model_parameter_count(m, NULL), SEQ_ERR_NULL_POINTER, "argument 'count'");
    CHECK_ERROR(seq_model_parameter_name(m, 0, NULL, 8, NULL), SEQ_ERR_NULL_POINTER, "argument 'buffer'");
    CHECK_ERROR(seq_model_parameter_shape(m, NULL, NULL, 0, NULL, NULL), SEQ_ERR_NULL_POINTER, "argument 'name'");
    CHECK_ERROR(seq_model_parameter_shape(m, "head.bias", NULL, 2, NULL, NULL), SEQ_ERR_NULL_POINTER, "argument 'dims'");
    CHECK_ERROR(seq_model_get_parameter(m, NULL, y, 3, NULL), SEQ_ERR_NULL_POINTER, "argument 'name'");
    CHECK_ERROR(seq_model_get_parameter(m, "head.bias", NULL, 3, NULL), SEQ_ERR_NULL_POINTER, "argument 'buffer'");
    CHECK_ERROR(seq_model_set_parameter(m, "head.bias", NULL, 3), SEQ_ERR_NULL_POINTER, "argument 'values'");
    CHECK_ERROR(seq_model_get_gradient(m, "head.bias", NULL, 3, NULL), SEQ_ERR_NULL_POINTER, "argument 'buffer'");
    CHECK_ERROR(seq_model_set_gradient(m, "head.bias", NULL, 3), SEQ_ERR_NULL_POINTER, "argument 'gradients'");
    CHECK_ERROR(seq_model_generate(lm, NULL, 1, 2, 1, 0, 0, -1, tokens_out, 8, NULL), SEQ_ERR_NULL_POINTER,
                "argument 'prefix'");
    CHECK_ERROR(seq_model_generate(lm, ids, 1, 2, 1, 0, 0, -1, NULL, 8, NULL), SEQ_ERR_NULL_POINTER, "argument 'output'");
    CHECK_ERROR(seq_model_save(m, NULL), SEQ_ERR_NULL_POINTER, "seq_model_save: argument 'path'");
    CHECK_ERROR(seq_model_load(NULL, &out), SEQ_ERR_NULL_POINTER, "seq_model_load: argument 'path'");
    CHECK_ERROR(seq_model_load("x", NULL), SEQ_ERR_NULL_POINTER, "argument 'out'");
    CHECK_ERROR(seq_stream_create(NULL, 1, &s), SEQ_ERR_NULL_POINTER, "seq_stream_create: argument 'model'");
    CHECK(s == NULL); /* out is cleared first */
    CHECK_OK(seq_stream_create(m, B, &s));
    CHECK_ERROR(seq_stream_create(m, 1, NULL), SEQ_ERR_NULL_POINTER, "argument 'out'");
    CHECK_ERROR(seq_stream_feed(NULL, x, NULL, 1, B, I, 0, y, B * K, NULL), SEQ_ERR_NULL_POINTER, "argument 'stream'");
    CHECK_ERROR(seq_stream_feed(s, x, NULL, 1, B, I, 0, NULL, B * K, NULL), SEQ_ERR_NULL_POINTER, "argument 'output'");
    CHECK_ERROR(seq_stream_feed_hidden(NULL, x, NULL, 1, B, I, 0, y, B * 4, NULL), SEQ_ERR_NULL_POINTER,
                "seq_stream_feed_hidden: argument 'stream': expected a non-NULL pointer, got NULL");
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 1, B, I, 0, NULL, B * 4, NULL), SEQ_ERR_NULL_POINTER,
                "seq_stream_feed_hidden: argument 'output': expected a non-NULL pointer, got NULL");
    CHECK_ERROR(seq_stream_feed_hidden(s, NULL, NULL, 1, B, I, 0, y, B * 4, NULL), SEQ_ERR_NULL_POINTER,
                "seq_stream_feed_hidden: argument 'features': expected a non-NULL pointer (this model takes feature vectors)");
    CHECK_ERROR(seq_stream_reset(NULL), SEQ_ERR_NULL_POINTER, "seq_stream_reset: argument 'stream'");
    CHECK_ERROR(seq_stream_position(s, NULL), SEQ_ERR_NULL_POINTER, "argument 'steps'");
    CHECK_ERROR(seq_stream_get_state(s, NULL, 4, NULL, NULL, 0, NULL), SEQ_ERR_NULL_POINTER, "argument 'h'");
    CHECK_ERROR(seq_stream_set_state(s, NULL, 8, NULL, 0), SEQ_ERR_NULL_POINTER, "argument 'h'");
    CHECK_ERROR(seq_dataset_create(NULL), SEQ_ERR_NULL_POINTER, "seq_dataset_create: argument 'out'");
    CHECK_ERROR(seq_dataset_set_inputs(d, NULL, NULL, B, T, I, NULL, 0), SEQ_ERR_NULL_POINTER, "argument 'features' or 'tokens'");
    CHECK_ERROR(seq_dataset_set_targets(d, NULL, NULL, B, T, 1, NULL, 0), SEQ_ERR_NULL_POINTER, "argument 'target_ids' or");
    CHECK_ERROR(seq_dataset_count(d, NULL), SEQ_ERR_NULL_POINTER, "argument 'count'");
    CHECK_ERROR(seq_model_fit(m, NULL, 1, 1, NULL, NULL), SEQ_ERR_NULL_POINTER, "seq_model_fit: argument 'dataset'");
    CHECK_ERROR(seq_model_set_onnx_tensor(m, NULL, 0, "W", x, 1), SEQ_ERR_NULL_POINTER, "argument 'stack'");
    CHECK_ERROR(seq_config_unset(c, NULL), SEQ_ERR_NULL_POINTER, "seq_config_unset: argument 'key'");
    (void)count;
done:
    seq_stream_free(s);
    seq_dataset_free(d);
    seq_config_free(c);
    seq_model_free(m);
    seq_model_free(lm);
}

void test_errors_wrong_handle_kinds(void) {
    seq_model *m = tagger(), *freed = tagger(), *out = NULL;
    seq_config *c = config_from("cell=gru input_size=2 hidden_size=3 output_size=2");
    seq_stream *s = NULL;
    seq_dataset *d = NULL;
    long not_a_handle[4] = {0, 0, 0, 0};
    float y[T * B * K];
    int64_t count = 0;
    if (!m || !freed) goto done;
    CHECK_OK(seq_stream_create(m, B, &s));
    CHECK_OK(seq_dataset_create(&d));
    seq_model_free(freed);
    /* Each kind where another is expected. */
    CHECK_ERROR(seq_model_create((seq_config *)(void *)m, &out), SEQ_ERR_WRONG_HANDLE,
                "argument 'config': expected a seq_config handle, got a seq_model handle");
    CHECK_ERROR(seq_config_set_int((seq_config *)(void *)m, "seed", 1), SEQ_ERR_WRONG_HANDLE,
                "expected a seq_config handle, got a seq_model handle");
    CHECK_ERROR(seq_model_predict((seq_model *)(void *)c, x, NULL, T, B, I, NULL, 0, y, T * B * K, NULL), SEQ_ERR_WRONG_HANDLE,
                "argument 'model': expected a seq_model handle, got a seq_config handle");
    CHECK_ERROR(seq_model_parameter_count((seq_model *)(void *)s, &count), SEQ_ERR_WRONG_HANDLE,
                "expected a seq_model handle, got a seq_stream handle");
    CHECK_ERROR(seq_model_fit(m, (seq_dataset *)(void *)m, 1, 1, NULL, NULL), SEQ_ERR_WRONG_HANDLE,
                "argument 'dataset': expected a seq_dataset handle, got a seq_model handle");
    CHECK_ERROR(seq_stream_feed_hidden((seq_stream *)(void *)m, x, NULL, 1, B, I, 0, y, B * 4, NULL), SEQ_ERR_WRONG_HANDLE,
                "seq_stream_feed_hidden: argument 'stream': expected a seq_stream handle, got a seq_model handle");
    CHECK_ERROR(seq_stream_reset((seq_stream *)(void *)d), SEQ_ERR_WRONG_HANDLE,
                "argument 'stream': expected a seq_stream handle, got a seq_dataset handle");
    CHECK_ERROR(seq_dataset_count((seq_dataset *)(void *)s, &count), SEQ_ERR_WRONG_HANDLE,
                "expected a seq_dataset handle, got a seq_stream handle");
    /* A freed model, and memory that was never a handle. */
    CHECK_ERROR(seq_model_predict(freed, x, NULL, T, B, I, NULL, 0, y, T * B * K, NULL), SEQ_ERR_WRONG_HANDLE,
                "argument 'model': expected a live seq_model handle");
    CHECK_ERROR(seq_model_train_step((seq_model *)(void *)not_a_handle, x, NULL, T, B, I, NULL, 0, labels, NULL, T, NULL, NULL),
                SEQ_ERR_WRONG_HANDLE, "not a live seqcore handle");
    {
        seq_stream *other = (seq_stream *)(void *)&count; /* cleared to NULL on failure */
        CHECK_ERROR(seq_stream_create((seq_model *)(void *)not_a_handle, 1, &other), SEQ_ERR_WRONG_HANDLE, "argument 'model'");
        CHECK(other == NULL);
    }
    /* Freeing the wrong kind does nothing but leave a message; the handles still work. */
    seq_model_free((seq_model *)(void *)s);
    CHECK_STR_CONTAINS(seq_last_error(), "seq_model_free: argument 'model': expected a seq_model handle, got a seq_stream");
    seq_stream_free((seq_stream *)(void *)m);
    CHECK_STR_CONTAINS(seq_last_error(), "seq_stream_free: argument 'stream'");
    seq_dataset_free((seq_dataset *)(void *)c);
    CHECK_STR_CONTAINS(seq_last_error(), "seq_dataset_free: argument 'dataset'");
    seq_model_free(freed);
    CHECK_STR_CONTAINS(seq_last_error(), "already freed");
    CHECK_INT_EQ(not_a_handle[0], 0);
    CHECK_OK(seq_model_parameter_count(m, &count));
done:
    seq_stream_free(s);
    seq_dataset_free(d);
    seq_config_free(c);
    seq_model_free(m);
}

void test_errors_sizes(void) {
    seq_model *m = tagger(), *lm = token_lm();
    seq_stream *s = NULL;
    float y[T * B * K];
    int32_t out[8];
    if (!m || !lm) goto done;
    CHECK_ERROR(seq_model_predict(m, x, NULL, 0, B, I, NULL, 0, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'steps': expected a positive integer, got 0");
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, -1, I, NULL, 0, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'batch': expected a positive integer, got -1");
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, B, 0, NULL, 0, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'input_size': expected a positive integer, got 0");
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, B, 3, NULL, 0, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'input_size': expected 2 (the model's input_size), got 3");
    CHECK_ERROR(seq_model_predict(lm, NULL, ids, T, B, 2, NULL, 0, y, T * B * V, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'input_size': expected 1 (one token id per step)");
    CHECK_ERROR(seq_model_predict(m, x, NULL, INT64_MAX, B, I, NULL, 0, y, T * B * K, NULL), SEQ_ERR_RESOURCE_LIMIT,
                "argument 'steps': expected at most");
    CHECK_ERROR(seq_model_predict(m, x, NULL, (int64_t)1 << 30, (int64_t)1 << 30, I, NULL, 0, y, T * B * K, NULL),
                SEQ_ERR_RESOURCE_LIMIT, "argument 'steps'");
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, B, I, NULL, 0, y, -5, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'capacity': expected a non-negative number of elements, got -5");
    CHECK_ERROR(seq_model_train_step(m, x, NULL, T, B, I, NULL, 0, labels, NULL, 0, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'target_steps': expected a positive integer, got 0");
    CHECK_ERROR(seq_model_train_step(m, x, NULL, T, B, I, NULL, 0, labels, NULL, 2, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'target_steps': expected 3 (steps: one target per input step), got 2");
    CHECK_ERROR(seq_model_set_parameter(m, "head.bias", x, 2), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'count': expected 3 (the elements of 'head.bias', shape [3]), got 2");
    CHECK_ERROR(seq_model_set_gradient(m, "head.bias", x, -1), SEQ_ERR_INVALID_ARGUMENT, "argument 'count'");
    CHECK_ERROR(seq_model_parameter_name(m, -1, NULL, 0, NULL), SEQ_ERR_INVALID_ARGUMENT, "argument 'index'");
    CHECK_ERROR(seq_model_parameter_name(m, 6, NULL, 0, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'index': expected an index in 0...5");
    CHECK_ERROR(seq_model_generate(lm, ids, 0, 2, 1, 0, 0, -1, out, 8, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'prefix_length'");
    CHECK_ERROR(seq_model_generate(lm, ids, 1, -2, 1, 0, 0, -1, out, 8, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'count': expected a non-negative integer, got -2");
    CHECK_ERROR(seq_stream_create(m, 0, &s), SEQ_ERR_INVALID_ARGUMENT, "argument 'batch'");
    CHECK_OK(seq_stream_create(m, B, &s));
    CHECK_ERROR(seq_stream_feed(s, x, NULL, 1, 1, I, 0, y, B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'batch': expected 2 (the stream's batch), got 1");
    CHECK_ERROR(seq_stream_feed(s, x, NULL, -3, B, I, 0, y, B * K, NULL), SEQ_ERR_INVALID_ARGUMENT, "argument 'steps'");
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 1, 3, I, 0, y, B * 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed_hidden: argument 'batch': expected 2 (the stream's batch), got 3");
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 0, B, I, 0, y, B * 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed_hidden: argument 'steps': expected a positive integer, got 0");
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 1, B, 3, 0, y, B * 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed_hidden: argument 'input_size': expected 2 (the model's input_size), got 3");
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 1, B, I, 2, y, B * 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed_hidden: argument 'layout': expected SEQ_LAYOUT_TIME_MAJOR (0) or SEQ_LAYOUT_BATCH_FIRST (1), got 2");
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 1, B, I, 0, y, -1, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed_hidden: argument 'capacity': expected a non-negative number of elements, got -1");
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, INT64_MAX, B, I, 0, y, B * 4, NULL), SEQ_ERR_RESOURCE_LIMIT,
                "seq_stream_feed_hidden: argument 'steps': expected at most");
    CHECK_ERROR(seq_stream_set_state(s, x, 7, NULL, 0), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'h_count': expected 8 (L * B * Hout = 1 * 2 * 4), got 7");
    CHECK_ERROR(seq_stream_set_state(s, x, 8, x, 4), SEQ_ERR_INVALID_ARGUMENT, "argument 'c_count': expected 8");
    CHECK_ERROR(seq_stream_set_state(s, x, 8, NULL, 8), SEQ_ERR_INVALID_ARGUMENT, "argument 'c_count': expected 0 when c is NULL");
    /* State buffers grow with layers * batch: refused before anything is allocated. */
    {
        seq_model *deep = model_from("cell=rnn_tanh input_size=1 hidden_size=1 num_layers=64 output_size=1");
        seq_stream *big = NULL;
        if (deep) {
            CHECK_ERROR(seq_stream_create(deep, (int64_t)1 << 27, &big), SEQ_ERR_RESOURCE_LIMIT,
                        "seq_stream_create: argument 'batch': 1 steps * 134217728 sequences * 64 values per row exceed");
            CHECK(big == NULL);
        }
        seq_model_free(deep);
    }
    CHECK_ERROR(seq_model_fit(m, NULL, 0, 1, NULL, NULL), SEQ_ERR_NULL_POINTER, "argument 'dataset'");
    CHECK_ERROR(seq_set_num_threads(0), SEQ_ERR_INVALID_ARGUMENT, "seq_set_num_threads: argument 'count'");
    CHECK_ERROR(seq_set_num_threads(-4), SEQ_ERR_INVALID_ARGUMENT, "argument 'count'");
done:
    seq_stream_free(s);
    seq_model_free(m);
    seq_model_free(lm);
}

void test_errors_buffers_too_small(void) {
    seq_model *m = tagger(), *lm = token_lm(), *s2s = NULL;
    seq_stream *s = NULL;
    float y[T * B * K];
    int32_t out[8];
    char name[4];
    int64_t count = -1, dims[1];
    if (!m || !lm) goto done;
    s2s = model_from("architecture=seq2seq cell=gru vocab_size=5 embedding_size=3 hidden_size=4 output_size=4");
    y[0] = 42;
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, B, I, NULL, 0, y, T * B * K - 1, &count), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'output': buffer too small: capacity 17 elements, needed 18 elements");
    CHECK_INT_EQ(count, T * B * K); /* the size needed, also on failure */
    CHECK(y[0] == 42);              /* the buffer is untouched */
    CHECK_ERROR(seq_model_get_parameter(m, "rnn.weight_ih_l0", y, 10, &count), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'buffer': buffer too small: capacity 10 elements, needed 32 elements");
    CHECK_INT_EQ(count, 32);
    /* Only NULL with capacity 0 is a size query; a real buffer with capacity 0 is too small. */
    CHECK_ERROR(seq_model_get_gradient(m, "rnn.weight_ih_l0", y, 0, NULL), SEQ_ERR_BUFFER_TOO_SMALL, "argument 'buffer'");
    CHECK_ERROR(seq_model_get_gradient(m, "rnn.weight_ih_l0", NULL, 32, NULL), SEQ_ERR_NULL_POINTER, "argument 'buffer'");
    CHECK_ERROR(seq_model_parameter_name(m, 0, name, sizeof name, &count), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'buffer': buffer too small: capacity 4 bytes, needed 17 bytes");
    CHECK_INT_EQ(count, 16);
    CHECK_ERROR(seq_model_parameter_shape(m, "rnn.weight_ih_l0", dims, 1, &count, NULL), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'dims'");
    CHECK_INT_EQ(count, 2);
    CHECK_ERROR(seq_model_generate(lm, ids, 2, 5, 1, 0, 0, -1, out, 4, NULL), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'output': buffer too small: capacity 4 elements, needed 5 elements");
    if (s2s)
        CHECK_ERROR(seq_model_decode(s2s, NULL, ids, T, B, 1, NULL, 0, 4, 0, 0, 0, out, 7, NULL), SEQ_ERR_BUFFER_TOO_SMALL,
                    "argument 'output': buffer too small: capacity 7 elements, needed 8 elements");
    CHECK_OK(seq_stream_create(m, B, &s));
    CHECK_ERROR(seq_stream_feed(s, x, NULL, 2, B, I, 0, y, 2 * B * K - 1, &count), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'output'");
    /* The hidden output is [steps, B, hidden_size], not [steps, B, output_size]. */
    count = -1;
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 2, B, I, 0, y, 2 * B * K, &count), SEQ_ERR_BUFFER_TOO_SMALL,
                "seq_stream_feed_hidden: argument 'output': buffer too small: capacity 12 elements, needed 16 elements");
    CHECK_INT_EQ(count, 2 * B * 4);
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 1, B, I, 0, y, 0, NULL), SEQ_ERR_BUFFER_TOO_SMALL,
                "seq_stream_feed_hidden: argument 'output': buffer too small: capacity 0 elements, needed 8 elements");
    CHECK_ERROR(seq_stream_get_state(s, y, 7, NULL, NULL, 0, NULL), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'h': buffer too small: capacity 7 elements, needed 8 elements");
    CHECK_ERROR(seq_stream_get_state(s, y, 8, NULL, y, 3, NULL), SEQ_ERR_BUFFER_TOO_SMALL, "argument 'c'");
    CHECK_ERROR(seq_stream_get_state(s, y, -1, NULL, NULL, 0, NULL), SEQ_ERR_INVALID_ARGUMENT, "argument 'h_capacity'");
done:
    seq_stream_free(s);
    seq_model_free(m);
    seq_model_free(lm);
    seq_model_free(s2s);
}

void test_errors_lengths_out_of_range(void) {
    seq_model *m = tagger(), *s2s = NULL;
    seq_dataset *d = NULL;
    float y[T * B * K];
    int64_t zero[B] = {3, 0}, long_[B] = {4, 1}, negative[B] = {-1, 2};
    int32_t tokens[T * B] = {2, 3, 4, 2, 3, 4};
    int32_t decoded[8];
    if (m == NULL) return;
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, B, I, zero, 0, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'lengths': expected every length in 1...3 (steps), got 0 at index 1");
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, B, I, long_, 0, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "got 4 at index 0");
    CHECK_ERROR(seq_model_train_step(m, x, NULL, T, B, I, negative, 0, labels, NULL, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'lengths'");
    CHECK_ERROR(seq_model_train_step(m, x, NULL, T, B, I, lengths, 0, labels, NULL, T, lengths, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'target_lengths': expected NULL (only seq2seq targets have lengths of their own");
    s2s = model_from("architecture=seq2seq cell=gru vocab_size=5 embedding_size=3 hidden_size=4 output_size=5");
    if (s2s) {
        CHECK_ERROR(seq_model_train_step(s2s, NULL, tokens, T, B, 1, lengths, 0, tokens, NULL, T, long_, NULL),
                    SEQ_ERR_INVALID_ARGUMENT, "argument 'target_lengths': expected every length in 1...3 (target_steps)");
        CHECK_ERROR(seq_model_decode(s2s, NULL, tokens, T, B, 1, zero, 0, 4, 0, 0, 0, decoded, 8, NULL),
                    SEQ_ERR_INVALID_ARGUMENT, "argument 'lengths'");
    }
    CHECK_OK(seq_dataset_create(&d));
    CHECK_ERROR(seq_dataset_set_inputs(d, x, NULL, B, T, I, long_, 0), SEQ_ERR_INVALID_ARGUMENT,
                "seq_dataset_set_inputs: argument 'lengths': expected every length in 1...3 (steps), got 4");
    CHECK_ERROR(seq_dataset_set_targets(d, labels, NULL, B, T, 1, zero, 0), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'target_lengths'");
    seq_dataset_free(d);
    seq_model_free(s2s);
    seq_model_free(m);
}

void test_errors_nan_and_infinity(void) {
    seq_model *m = tagger(), *reg = model_from("cell=gru input_size=2 hidden_size=3 output_size=2 output=regression");
    seq_model *lm = token_lm();
    seq_stream *s = NULL;
    seq_dataset *d = NULL;
    float bad[T * B * I], y[T * B * K], values[32];
    int32_t out[4];
    double loss = 0;
    if (!m || !reg || !lm) goto done;
    memcpy(bad, x, sizeof bad);
    bad[5] = NAN;
    CHECK_ERROR(seq_model_predict(m, bad, NULL, T, B, I, NULL, 0, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'features': expected finite values, got nan at element 5");
    bad[5] = INFINITY;
    CHECK_ERROR(seq_model_train_step(m, bad, NULL, T, B, I, NULL, 0, labels, NULL, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'features': expected finite values, got inf at element 5");
    bad[5] = -INFINITY;
    CHECK_ERROR(seq_model_evaluate(reg, x, NULL, T, B, I, NULL, 0, NULL, bad, T, NULL, &loss), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'target_values': expected finite values, got -inf at element 5");
    CHECK_OK(seq_model_get_parameter(m, "rnn.weight_ih_l0", values, 32, NULL));
    values[31] = NAN;
    CHECK_ERROR(seq_model_set_parameter(m, "rnn.weight_ih_l0", values, 32), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'values': expected finite values, got nan at element 31");
    CHECK_ERROR(seq_model_set_gradient(m, "rnn.weight_ih_l0", values, 32), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'gradients': expected finite values");
    CHECK_ERROR(seq_model_set_learning_rate(m, NAN), SEQ_ERR_INVALID_ARGUMENT, "argument 'learning_rate'");
    CHECK_ERROR(seq_model_set_learning_rate(m, INFINITY), SEQ_ERR_INVALID_ARGUMENT, "argument 'learning_rate'");
    CHECK_ERROR(seq_model_set_learning_rate(m, -0.1), SEQ_ERR_INVALID_ARGUMENT, "argument 'learning_rate'");
    CHECK_ERROR(seq_model_generate(lm, ids, 1, 2, NAN, 0, 0, -1, out, 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'temperature'");
    CHECK_ERROR(seq_model_generate(lm, ids, 1, 2, -1, 0, 0, -1, out, 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'temperature'");
    CHECK_OK(seq_stream_create(m, B, &s));
    bad[0] = NAN;
    CHECK_ERROR(seq_stream_feed(s, bad, NULL, 1, B, I, 0, y, B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed: argument 'features': expected finite values, got nan at element 0");
    CHECK_ERROR(seq_stream_feed_hidden(s, bad, NULL, 1, B, I, 0, y, B * 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed_hidden: argument 'features': expected finite values, got nan at element 0");
    bad[0] = x[0];
    bad[3] = -INFINITY;
    CHECK_ERROR(seq_stream_feed_hidden(s, bad, NULL, 1, B, I, 0, y, B * 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed_hidden: argument 'features': expected finite values, got -inf at element 3");
    bad[0] = NAN;
    CHECK_ERROR(seq_stream_set_state(s, bad, 8, NULL, 0), SEQ_ERR_INVALID_ARGUMENT, "argument 'h': expected finite values");
    CHECK_ERROR(seq_stream_set_state(s, x, 8, bad, 8), SEQ_ERR_INVALID_ARGUMENT, "argument 'c': expected finite values");
    CHECK_OK(seq_dataset_create(&d));
    CHECK_ERROR(seq_dataset_set_inputs(d, bad, NULL, B, T, I, NULL, 0), SEQ_ERR_INVALID_ARGUMENT, "argument 'features'");
    CHECK_ERROR(seq_dataset_set_targets(d, NULL, bad, B, T, 2, NULL, 0), SEQ_ERR_INVALID_ARGUMENT, "argument 'target_values'");
done:
    seq_stream_free(s);
    seq_dataset_free(d);
    seq_model_free(m);
    seq_model_free(reg);
    seq_model_free(lm);
}

void test_errors_unknown_names(void) {
    seq_model *m = tagger();
    float y[32];
    if (m == NULL) return;
    CHECK_ERROR(seq_model_get_parameter(m, "rnn.weight_ih_l9", y, 32, NULL), SEQ_ERR_NOT_FOUND,
                "seq_model_get_parameter: argument 'name': no parameter named 'rnn.weight_ih_l9'; known: rnn.weight_ih_l0");
    CHECK_ERROR(seq_model_set_parameter(m, "weight_ih_l0", y, 32), SEQ_ERR_NOT_FOUND, "argument 'name'");
    CHECK_ERROR(seq_model_get_gradient(m, "", y, 32, NULL), SEQ_ERR_NOT_FOUND, "argument 'name'");
    CHECK_ERROR(seq_model_set_gradient(m, "head.Weight", y, 32), SEQ_ERR_NOT_FOUND, "argument 'name'");
    CHECK_ERROR(seq_model_parameter_shape(m, "embedding.weight", NULL, 0, NULL, NULL), SEQ_ERR_NOT_FOUND, "argument 'name'");
    CHECK_ERROR(seq_model_get_parameter(m, "\xff", y, 32, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'name': expected a NUL-terminated UTF-8 string");
    seq_model_free(m);
}

void test_errors_token_ids_out_of_range(void) {
    seq_model *lm = token_lm(), *s2s = NULL;
    seq_stream *s = NULL;
    float y[T * B * V];
    int32_t bad[T * B] = {0, 1, 5, 3, 4, 0}, negative[T * B] = {0, -1, 2, 3, 4, 0}, out[8];
    if (lm == NULL) return;
    CHECK_ERROR(seq_model_predict(lm, NULL, bad, T, B, 1, NULL, 0, y, T * B * V, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'tokens': expected token ids in [0, 5) (vocab_size), got 5 at index 2");
    CHECK_ERROR(seq_model_train_step(lm, NULL, negative, T, B, 1, NULL, 0, ids, NULL, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "got -1 at index 1");
    CHECK_ERROR(seq_model_train_step(lm, NULL, ids, T, B, 1, NULL, 0, bad, NULL, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'target_ids': expected class ids in [0, 5) (output_size), got 5 at index 2");
    CHECK_ERROR(seq_model_generate(lm, bad + 2, 1, 2, 1, 0, 0, -1, out, 8, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'prefix': expected token ids in [0, 5)");
    CHECK_ERROR(seq_model_generate(lm, ids, 1, 2, 1, 0, 0, 5, out, 8, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'stop_token': expected -1 (none) or a token id in [0, 5), got 5");
    CHECK_ERROR(seq_model_generate(lm, ids, 1, 2, 1, 6, 0, -1, out, 8, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'top_k': expected 0 (all tokens) to 5");
    CHECK_OK(seq_stream_create(lm, B, &s));
    CHECK_ERROR(seq_stream_feed(s, NULL, bad + 2, 1, B, 1, 0, y, B * V, NULL), SEQ_ERR_INVALID_ARGUMENT, "argument 'tokens'");
    CHECK_ERROR(seq_stream_feed_hidden(s, NULL, negative + 1, 1, B, 1, 0, y, B * 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed_hidden: argument 'tokens': expected token ids in [0, 5) (vocab_size), got -1 at index 0");
    CHECK_ERROR(seq_stream_feed_hidden(s, x, NULL, 1, B, 1, 0, y, B * 4, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_stream_feed_hidden: argument 'features': expected NULL (this model takes token ids, in 'tokens')");
    s2s = model_from("architecture=seq2seq cell=gru vocab_size=5 embedding_size=3 hidden_size=4 output_size=4");
    if (s2s) {
        CHECK_ERROR(seq_model_train_step(s2s, NULL, ids, T, B, 1, NULL, 0, ids, NULL, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                    "argument 'target_ids': expected target token ids in [0, 4) (output_size), got 4 at index 4");
        CHECK_ERROR(seq_model_decode(s2s, NULL, bad, T, B, 1, NULL, 0, 4, 0, 0, 0, out, 8, NULL), SEQ_ERR_INVALID_ARGUMENT,
                    "argument 'tokens'");
    }
    seq_stream_free(s);
    seq_model_free(s2s);
    seq_model_free(lm);
}

/* Features to a token model and the reverse, targets of the wrong kind, bad layouts. */
void test_errors_mismatched_inputs_and_targets(void) {
    seq_model *m = tagger(), *lm = token_lm(), *cls = NULL, *reg = NULL;
    float y[T * B * V], values[T * B * 2];
    int32_t classes[B] = {0, 1};
    if (!m || !lm) goto done;
    cls = model_from("architecture=classifier cell=gru input_size=2 hidden_size=3 output_size=2");
    reg = model_from("cell=gru input_size=2 hidden_size=3 output_size=2 output=binary");
    memset(values, 0, sizeof values);
    CHECK_ERROR(seq_model_predict(lm, x, NULL, T, B, 1, NULL, 0, y, T * B * V, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'features': expected NULL (this model takes token ids, in 'tokens')");
    CHECK_ERROR(seq_model_predict(m, x, ids, T, B, I, NULL, 0, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'tokens': expected NULL (this model takes feature vectors, in 'features')");
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, B, I, NULL, 2, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'layout': expected SEQ_LAYOUT_TIME_MAJOR (0) or SEQ_LAYOUT_BATCH_FIRST (1), got 2");
    CHECK_ERROR(seq_model_predict(m, x, NULL, T, B, I, NULL, -1, y, T * B * K, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'layout'");
    CHECK_ERROR(seq_model_train_step(m, x, NULL, T, B, I, NULL, 0, labels, values, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'target_values': expected NULL (output \"classes\" takes class ids, in 'target_ids')");
    if (reg) {
        CHECK_ERROR(seq_model_train_step(reg, x, NULL, T, B, I, NULL, 0, labels, NULL, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                    "argument 'target_ids': expected NULL (output \"binary\" takes values, in 'target_values')");
        values[3] = 1.5f;
        CHECK_ERROR(seq_model_train_step(reg, x, NULL, T, B, I, NULL, 0, NULL, values, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                    "argument 'target_values': expected values in [0, 1] (output \"binary\"), got 1.5 at index 3");
        CHECK_ERROR(seq_model_train_step(reg, x, NULL, T, B, I, NULL, 0, NULL, NULL, T, NULL, NULL), SEQ_ERR_NULL_POINTER,
                    "argument 'target_values'");
    }
    if (cls) {
        CHECK_ERROR(seq_model_train_step(cls, x, NULL, T, B, I, NULL, 0, classes, NULL, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                    "argument 'target_steps': expected 1 (a classifier has one target per sequence), got 3");
        CHECK_OK(seq_model_train_step(cls, x, NULL, T, B, I, lengths, 1, classes, NULL, 1, NULL, NULL));
    }
done:
    seq_model_free(m);
    seq_model_free(lm);
    seq_model_free(cls);
    seq_model_free(reg);
}

/* Functions used with a model of the wrong architecture or direction. */
void test_errors_wrong_architecture(void) {
    seq_model *m = tagger(), *lm = token_lm(), *s2s = NULL, *bidir = NULL, *reverse = NULL;
    seq_stream *s = NULL;
    float y[64];
    int32_t out[16];
    if (!m || !lm) goto done;
    s2s = model_from("architecture=seq2seq cell=gru vocab_size=5 embedding_size=3 hidden_size=4 output_size=4");
    bidir = model_from("cell=gru input_size=2 hidden_size=3 output_size=2 direction=bidirectional");
    reverse = model_from("cell=gru input_size=2 hidden_size=3 output_size=2 direction=reverse");
    CHECK_ERROR(seq_model_generate(m, ids, 1, 2, 1, 0, 0, -1, out, 16, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_model_generate: argument 'model': expected a language model, got a tagger model");
    CHECK_ERROR(seq_model_decode(lm, NULL, ids, T, B, 1, NULL, 0, 4, 0, 0, 0, out, 16, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'model': expected a seq2seq model, got a language_model model");
    if (s2s) {
        CHECK_ERROR(seq_model_predict(s2s, NULL, ids, T, B, 1, NULL, 0, y, 64, NULL), SEQ_ERR_INVALID_ARGUMENT,
                    "argument 'model': expected a tagger, classifier or language model (decode a seq2seq model");
        CHECK_ERROR(seq_stream_create(s2s, 1, &s), SEQ_ERR_INVALID_ARGUMENT, "argument 'model'");
        CHECK_ERROR(seq_model_set_onnx_tensor(s2s, "encoder", 0, "W", x, 4), SEQ_ERR_INVALID_ARGUMENT,
                    "argument 'stack': expected one of \"rnn\", \"decoder\", got \"encoder\"");
    }
    if (bidir)
        CHECK_ERROR(seq_stream_create(bidir, 1, &s), SEQ_ERR_INVALID_ARGUMENT,
                    "argument 'model': expected direction \"forward\" for streaming");
    if (reverse) CHECK_ERROR(seq_stream_create(reverse, 1, &s), SEQ_ERR_INVALID_ARGUMENT, "got direction \"reverse\"");
    CHECK(s == NULL);
done:
    seq_model_free(m);
    seq_model_free(lm);
    seq_model_free(s2s);
    seq_model_free(bidir);
    seq_model_free(reverse);
}

/* Configurations that cannot make a model: the message names the key. */
void test_errors_model_configurations(void) {
    static const struct {
        const char *spec;
        seq_status status;
        const char *message;
    } cases[] = {
        {"input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'config': expected key \"cell\" to be set (seq_config_set_string)"},
        {"cell=gru input_size=2 output_size=2", SEQ_ERR_INVALID_ARGUMENT, "key \"hidden_size\" to be set"},
        {"cell=gru hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT, "key \"input_size\" to be set"},
        {"cell=gru input_size=2 hidden_size=3", SEQ_ERR_INVALID_ARGUMENT, "key \"output_size\" to be set"},
        {"cell=lstm gru_variant=classic input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'gru_variant': expected unset for a lstm cell (GRU only)"},
        {"cell=gru proj_size=2 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT, "argument 'proj_size'"},
        {"cell=lstm proj_size=3 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'proj_size': expected less than hidden_size (3)"},
        {"cell=rnn_tanh peepholes=1 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT, "argument 'peepholes'"},
        {"cell=gru merge=sum input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'merge': expected unset unless direction is \"bidirectional\""},
        {"cell=gru forget_bias=1 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT, "argument 'forget_bias'"},
        {"cell=gru vocab_size=10 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'embedding_size': expected >= 1 when vocab_size > 0"},
        {"cell=gru vocab_size=10 embedding_size=4 input_size=5 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'input_size': expected embedding_size (4)"},
        {"cell=gru embedding_size=4 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'embedding_size': expected 0 when vocab_size is 0"},
        {"cell=gru padding_index=0 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT, "argument 'padding_index'"},
        {"cell=gru vocab_size=4 embedding_size=2 padding_index=4 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'padding_index'"},
        {"architecture=language_model cell=gru input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'vocab_size'"},
        {"architecture=language_model cell=gru vocab_size=5 embedding_size=2 hidden_size=3 output=binary",
         SEQ_ERR_INVALID_ARGUMENT, "argument 'output'"},
        {"architecture=language_model cell=gru vocab_size=5 embedding_size=2 hidden_size=3 direction=bidirectional",
         SEQ_ERR_INVALID_ARGUMENT, "argument 'direction'"},
        {"architecture=seq2seq cell=gru vocab_size=5 embedding_size=2 hidden_size=3 output_size=4 stop_token=4",
         SEQ_ERR_INVALID_ARGUMENT, "argument 'stop_token'"},
        {"cell=gru start_token=0 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'start_token': expected unset unless architecture is \"seq2seq\""},
        {"cell=gru output=binary ignore_index=3 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'ignore_index'"},
        {"cell=gru momentum=0.9 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'momentum': expected unset for optimizer \"adam\""},
        {"cell=gru optimizer=sgd beta1=0.5 input_size=2 hidden_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT,
         "argument 'beta1': expected unset for optimizer \"sgd\""},
        {"cell=gru input_size=2147483648 hidden_size=2147483648 output_size=2", SEQ_ERR_RESOURCE_LIMIT, "hidden_size"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seq_config *config = config_from(cases[i].spec);
        seq_model *model = (seq_model *)(void *)config; /* must come back NULL */
        seq_status status = seq_model_create(config, &model);
        if (status != cases[i].status)
            check_fail(__FILE__, __LINE__, cases[i].spec, "returned %d, expected %d: %s", status, cases[i].status,
                       seq_last_error());
        else
            CHECK_STR_CONTAINS(seq_last_error(), cases[i].message);
        CHECK(model == NULL);
        seq_model_free(model);
        seq_config_free(config);
    }
}

void test_errors_datasets(void) {
    seq_model *m = tagger(), *lm = token_lm();
    seq_dataset *d = NULL;
    int32_t negative[T * B] = {0, 1, -2, 0, 1, 2};
    if (!m || !lm) goto done;
    CHECK_OK(seq_dataset_create(&d));
    CHECK_ERROR(seq_model_fit(m, d, 1, 1, NULL, NULL), SEQ_ERR_STATE,
                "seq_model_fit: argument 'dataset': no inputs (call seq_dataset_set_inputs first)");
    CHECK_ERROR(seq_dataset_set_inputs(d, x, ids, B, T, I, NULL, 0), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'tokens': expected NULL when features are given");
    CHECK_ERROR(seq_dataset_set_inputs(d, NULL, negative, B, T, 1, NULL, 0), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'tokens': expected token ids >= 0, got -2 at index 2");
    CHECK_ERROR(seq_dataset_set_inputs(d, NULL, ids, B, T, 2, NULL, 0), SEQ_ERR_INVALID_ARGUMENT, "argument 'input_size'");
    CHECK_ERROR(seq_dataset_set_inputs(d, x, NULL, 0, T, I, NULL, 0), SEQ_ERR_INVALID_ARGUMENT, "argument 'count'");
    CHECK_ERROR(seq_dataset_set_inputs(d, x, NULL, B, T, I, NULL, 5), SEQ_ERR_INVALID_ARGUMENT, "argument 'layout'");
    CHECK_ERROR(seq_dataset_set_inputs(d, x, NULL, INT64_MAX / 2, 4, I, NULL, 0), SEQ_ERR_RESOURCE_LIMIT, "argument 'count'");
    CHECK_OK(seq_dataset_set_inputs(d, x, NULL, B, T, I, lengths, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_ERROR(seq_model_fit(m, d, 1, 1, NULL, NULL), SEQ_ERR_STATE, "argument 'dataset': no targets");
    CHECK_ERROR(seq_dataset_set_targets(d, labels, NULL, B, T, 2, NULL, 0), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'width': expected 1 (one id per step)");
    CHECK_OK(seq_dataset_set_targets(d, labels, NULL, 1, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_ERROR(seq_model_fit(m, d, 1, 1, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'dataset': expected as many targets as inputs (2 sequences), got 1 targets");
    CHECK_OK(seq_dataset_set_targets(d, labels, NULL, B, 2, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_ERROR(seq_model_fit(m, d, 1, 1, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'dataset': expected target_steps equal to the inputs' steps (3)");
    CHECK_OK(seq_dataset_set_targets(d, labels, NULL, B, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_ERROR(seq_model_fit(m, d, 0, 1, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT, "argument 'epochs'");
    CHECK_ERROR(seq_model_fit(m, d, 1, -1, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT, "argument 'batch_size'");
    /* The dataset is checked against the model: features given to a token model. */
    CHECK_ERROR(seq_model_fit(lm, d, 1, 1, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT, "argument 'dataset.features'");
    CHECK_OK(seq_dataset_set_inputs(d, NULL, labels, B, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_ERROR(seq_model_fit(m, d, 1, 1, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT, "argument 'dataset.tokens'");
    CHECK_OK(seq_model_fit(lm, d, 1, 1, NULL, NULL));
done:
    seq_dataset_free(d);
    seq_model_free(m);
    seq_model_free(lm);
}

/* ONNX-layout import, one tensor at a time: ONNX's GRU gate order z, r, h arrives in PyTorch's
 * r, z, n; wrong sizes and tensors the model lacks are refused. (The conversion itself is checked
 * against onnx.reference outputs in the Swift tests.) */
void test_errors_onnx_import(void) {
    seq_model *m = tagger();
    seq_model *gru = model_from("cell=gru input_size=1 hidden_size=1 output_size=1");
    seq_model *nobias = model_from("cell=gru input_size=1 hidden_size=1 output_size=1 bias=0");
    const float w[3] = {1.0f, 2.0f, 3.0f};   /* W [D=1, 3H=3, I=1] in ONNX order z, r, h */
    float got[3] = {0};
    int64_t count = 0;
    if (!m || !gru || !nobias) goto done;
    CHECK_OK(seq_model_set_onnx_tensor(gru, "rnn", 0, "W", w, 3));
    CHECK_OK(seq_model_get_parameter(gru, "rnn.weight_ih_l0", got, 3, &count));
    CHECK_INT_EQ(count, 3);
    CHECK_CLOSE(got[0], 2.0, 0, 0);   /* r */
    CHECK_CLOSE(got[1], 1.0, 0, 0);   /* z */
    CHECK_CLOSE(got[2], 3.0, 0, 0);   /* n */
    CHECK_ERROR(seq_model_set_onnx_tensor(gru, "rnn", 0, "W", w, 2), SEQ_ERR_INVALID_ARGUMENT, "3 elements");
    CHECK_ERROR(seq_model_set_onnx_tensor(gru, "rnn", 0, "P", w, 3), SEQ_ERR_INVALID_ARGUMENT, "peephole");
    CHECK_ERROR(seq_model_set_onnx_tensor(nobias, "rnn", 0, "B", w, 3), SEQ_ERR_INVALID_ARGUMENT, "biases");
    CHECK_ERROR(seq_model_set_onnx_tensor(m, "rnn", 1, "W", x, 4), SEQ_ERR_INVALID_ARGUMENT, "argument 'layer'");
    CHECK_ERROR(seq_model_set_onnx_tensor(m, "rnn", 0, "X", x, 4), SEQ_ERR_INVALID_ARGUMENT, "argument 'tensor'");
done:
    seq_model_free(m);
    seq_model_free(gru);
    seq_model_free(nobias);
}

/* The per-step gradient norms: none before a gradient exists, then one row per layer and
 * direction and one column per step, positive at valid steps; a short buffer is refused. */
void test_gradient_norms(void) {
    seq_model *m = model_from("cell=gru input_size=2 hidden_size=4 output_size=3 num_layers=2 direction=bidirectional");
    float norms[64];
    int64_t rows = 0, steps = 0;
    double loss = 0;
    if (!m) return;
    CHECK_ERROR(seq_model_gradient_norms(m, norms, 64, &rows, &steps), SEQ_ERR_STATE, "no gradients computed yet");
    CHECK_OK(seq_model_train_step(m, x, NULL, T, B, I, lengths, 0, labels, NULL, T, NULL, &loss));
    CHECK_OK(seq_model_gradient_norms(m, NULL, 0, &rows, &steps));
    CHECK_INT_EQ(rows, 4);
    CHECK_INT_EQ(steps, T);
    CHECK_ERROR(seq_model_gradient_norms(m, norms, 3, NULL, NULL), SEQ_ERR_BUFFER_TOO_SMALL, "buffer");
    CHECK_OK(seq_model_gradient_norms(m, norms, 64, NULL, NULL));
    for (int r = 0; r < 4; r++)
        for (int t = 0; t < T; t++) CHECK(norms[r * T + t] > 0.0f);
    seq_model_free(m);
}

/* After every failure above the model is unchanged: same parameters, same predictions. */
void test_errors_leave_the_model_unchanged(void) {
    seq_model *m = tagger();
    float before[T * B * K], after[T * B * K], bad[T * B * I], huge[32];
    int i;
    if (m == NULL) return;
    memcpy(bad, x, sizeof bad);
    bad[0] = NAN;
    for (i = 0; i < 32; i++) huge[i] = 1;
    huge[7] = INFINITY;
    CHECK_OK(seq_model_predict(m, x, NULL, T, B, I, lengths, 0, before, T * B * K, NULL));
    CHECK_STATUS(seq_model_train_step(m, bad, NULL, T, B, I, lengths, 0, labels, NULL, T, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(seq_model_train_step(m, x, NULL, T, B, I, lengths, 0, labels, NULL, 2, NULL, NULL), SEQ_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(seq_model_set_parameter(m, "rnn.weight_ih_l0", huge, 32), SEQ_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(seq_model_set_parameter(m, "rnn.weight_ih_l0", huge, 31), SEQ_ERR_INVALID_ARGUMENT);
    CHECK_OK(seq_model_predict(m, x, NULL, T, B, I, lengths, 0, after, T * B * K, NULL));
    CHECK(memcmp(before, after, sizeof before) == 0);
    seq_model_free(m);
}
