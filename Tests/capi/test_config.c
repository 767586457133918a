/* The seq_config handle: values, defaults, buffers, and every error path of a handle. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "tests.h"

static seq_config *new_config(void) {
    seq_config *config = NULL;
    CHECK_OK(seq_config_create(&config));
    CHECK(config != NULL);
    return config;
}

/* Reads a string key into a fixed buffer; "" on failure (the check reports it). */
static const char *get_string(seq_config *config, const char *key) {
    static char buffer[64];
    buffer[0] = 0;
    CHECK_OK(seq_config_get_string(config, key, buffer, sizeof buffer, NULL));
    return buffer;
}

static int64_t get_int(seq_config *config, const char *key) {
    int64_t value = -12345;
    CHECK_OK(seq_config_get_int(config, key, &value));
    return value;
}

static double get_float(seq_config *config, const char *key) {
    double value = -12345;
    CHECK_OK(seq_config_get_float(config, key, &value));
    return value;
}

void test_config_create_and_free(void) {
    seq_config *a = new_config(), *b = new_config();
    CHECK(a != b);
    seq_config_free(a);
    seq_config_free(b);
    seq_config_free(NULL); /* a no-op */
}

void test_config_defaults(void) {
    seq_config *config = new_config();
    CHECK_STR_EQ(get_string(config, "gru_variant"), "linear_before_reset");
    CHECK_STR_EQ(get_string(config, "direction"), "forward");
    CHECK_STR_EQ(get_string(config, "merge"), "concat");
    CHECK_INT_EQ(get_int(config, "num_layers"), 1);
    CHECK_INT_EQ(get_int(config, "proj_size"), 0);
    CHECK_INT_EQ(get_int(config, "peepholes"), 0);
    CHECK_INT_EQ(get_int(config, "bias"), 1);
    CHECK_INT_EQ(get_int(config, "seed"), 0);
    CHECK_STR_EQ(get_string(config, "architecture"), "tagger");
    CHECK_STR_EQ(get_string(config, "output"), "classes");
    CHECK_STR_EQ(get_string(config, "optimizer"), "adam");
    CHECK_INT_EQ(get_int(config, "vocab_size"), 0);
    CHECK_CLOSE(get_float(config, "learning_rate"), 0.001, 0, 0);
    CHECK_CLOSE(get_float(config, "clip_norm"), 0.0, 0, 0);
    CHECK_CLOSE(get_float(config, "dropout"), 0.0, 0, 0);
    seq_config_free(config);
}

void test_config_set_and_get(void) {
    seq_config *config = new_config();
    CHECK_OK(seq_config_set_string(config, "cell", "gru"));
    CHECK_OK(seq_config_set_string(config, "cell", "lstm")); /* the last value wins */
    CHECK_OK(seq_config_set_string(config, "gru_variant", "classic"));
    CHECK_OK(seq_config_set_int(config, "input_size", 3));
    CHECK_OK(seq_config_set_int(config, "hidden_size", 128));
    CHECK_OK(seq_config_set_int(config, "num_layers", 2));
    CHECK_OK(seq_config_set_string(config, "direction", "bidirectional"));
    CHECK_OK(seq_config_set_string(config, "merge", "sum"));
    CHECK_OK(seq_config_set_int(config, "proj_size", 64));
    CHECK_OK(seq_config_set_int(config, "peepholes", 1));
    CHECK_OK(seq_config_set_int(config, "bias", 0));
    CHECK_OK(seq_config_set_float(config, "dropout", 0.25));
    CHECK_OK(seq_config_set_int(config, "seed", INT64_MIN)); /* any 64-bit seed */
    CHECK_OK(seq_config_set_string(config, "architecture", "seq2seq"));
    CHECK_OK(seq_config_set_float(config, "learning_rate", 0.25));

    CHECK_STR_EQ(get_string(config, "cell"), "lstm");
    CHECK_STR_EQ(get_string(config, "gru_variant"), "classic");
    CHECK_INT_EQ(get_int(config, "input_size"), 3);
    CHECK_INT_EQ(get_int(config, "hidden_size"), 128);
    CHECK_INT_EQ(get_int(config, "num_layers"), 2);
    CHECK_STR_EQ(get_string(config, "direction"), "bidirectional");
    CHECK_STR_EQ(get_string(config, "merge"), "sum");
    CHECK_INT_EQ(get_int(config, "proj_size"), 64);
    CHECK_INT_EQ(get_int(config, "peepholes"), 1);
    CHECK_INT_EQ(get_int(config, "bias"), 0);
    CHECK_CLOSE(get_float(config, "dropout"), 0.25, 0, 0);
    CHECK(get_int(config, "seed") == INT64_MIN);
    CHECK_STR_EQ(get_string(config, "architecture"), "seq2seq");
    CHECK_CLOSE(get_float(config, "learning_rate"), 0.25, 0, 0);
    seq_config_free(config);
}

void test_config_get_string_buffer_sizes(void) {
    seq_config *config = new_config();
    char buffer[16];
    int64_t length = -1;
    CHECK_OK(seq_config_set_string(config, "cell", "rnn_tanh"));

    /* The size query: NULL buffer, capacity 0. */
    CHECK_OK(seq_config_get_string(config, "cell", NULL, 0, &length));
    CHECK_INT_EQ(length, 8);

    /* Exactly length + 1 bytes. */
    memset(buffer, 'x', sizeof buffer);
    CHECK_OK(seq_config_get_string(config, "cell", buffer, 9, &length));
    CHECK_STR_EQ(buffer, "rnn_tanh");
    CHECK_INT_EQ(length, 8);

    /* One byte short (no room for the NUL): refused, buffer untouched, length still reported. */
    memset(buffer, 'x', sizeof buffer);
    length = -1;
    CHECK_ERROR(seq_config_get_string(config, "cell", buffer, 8, &length), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'buffer': buffer too small: capacity 8 bytes, needed 9 bytes");
    CHECK_INT_EQ(length, 8);
    CHECK_INT_EQ(buffer[0], 'x');
    CHECK_INT_EQ(buffer[8], 'x');

    /* A NULL buffer that claims a capacity, and a negative capacity. */
    CHECK_ERROR(seq_config_get_string(config, "cell", NULL, 4, &length), SEQ_ERR_NULL_POINTER, "argument 'buffer'");
    CHECK_ERROR(seq_config_get_string(config, "cell", buffer, -1, &length), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'capacity': expected a non-negative number of bytes, got -1");
    /* `length` is optional. */
    CHECK_OK(seq_config_get_string(config, "cell", buffer, sizeof buffer, NULL));
    CHECK_STR_EQ(buffer, "rnn_tanh");
    seq_config_free(config);
}

void test_config_null_pointers(void) {
    seq_config *config = new_config();
    int64_t i = 0;
    double d = 0;
    char buffer[8];
    CHECK_ERROR(seq_config_create(NULL), SEQ_ERR_NULL_POINTER, "argument 'out'");
    CHECK_ERROR(seq_config_set_int(NULL, "hidden_size", 4), SEQ_ERR_NULL_POINTER,
                "seq_config_set_int: argument 'config': expected a non-NULL pointer, got NULL");
    CHECK_ERROR(seq_config_set_float(NULL, "dropout", 0.1), SEQ_ERR_NULL_POINTER, "argument 'config'");
    CHECK_ERROR(seq_config_set_string(NULL, "cell", "gru"), SEQ_ERR_NULL_POINTER, "argument 'config'");
    CHECK_ERROR(seq_config_get_int(NULL, "seed", &i), SEQ_ERR_NULL_POINTER, "argument 'config'");
    CHECK_ERROR(seq_config_get_float(NULL, "dropout", &d), SEQ_ERR_NULL_POINTER, "argument 'config'");
    CHECK_ERROR(seq_config_get_string(NULL, "cell", buffer, 8, NULL), SEQ_ERR_NULL_POINTER, "argument 'config'");
    CHECK_ERROR(seq_config_set_int(config, NULL, 4), SEQ_ERR_NULL_POINTER, "argument 'key'");
    CHECK_ERROR(seq_config_set_float(config, NULL, 0.1), SEQ_ERR_NULL_POINTER, "argument 'key'");
    CHECK_ERROR(seq_config_set_string(config, NULL, "gru"), SEQ_ERR_NULL_POINTER, "argument 'key'");
    CHECK_ERROR(seq_config_set_string(config, "cell", NULL), SEQ_ERR_NULL_POINTER, "argument 'value'");
    CHECK_ERROR(seq_config_get_int(config, NULL, &i), SEQ_ERR_NULL_POINTER, "argument 'key'");
    CHECK_ERROR(seq_config_get_int(config, "seed", NULL), SEQ_ERR_NULL_POINTER, "argument 'out'");
    CHECK_ERROR(seq_config_get_float(config, "dropout", NULL), SEQ_ERR_NULL_POINTER, "argument 'out'");
    CHECK_ERROR(seq_config_get_string(config, NULL, buffer, 8, NULL), SEQ_ERR_NULL_POINTER, "argument 'key'");
    seq_config_free(config);
}

void test_config_invalid_handles(void) {
    seq_config *config = new_config();
    seq_config *freed = new_config();
    long not_a_handle[4] = {0, 0, 0, 0};
    seq_config *fake = (seq_config *)(void *)not_a_handle;
    seq_config *inside = (seq_config *)(void *)((char *)config + 8);
    int64_t value = 0;
    seq_config_free(freed);

    /* A freed handle, a pointer to caller memory, a pointer into a live handle: all refused unread. */
    CHECK_ERROR(seq_config_set_int(freed, "seed", 1), SEQ_ERR_WRONG_HANDLE,
                "argument 'config': expected a live seq_config handle");
    CHECK_ERROR(seq_config_get_int(freed, "seed", &value), SEQ_ERR_WRONG_HANDLE, "already freed");
    CHECK_ERROR(seq_config_set_int(fake, "seed", 1), SEQ_ERR_WRONG_HANDLE, "not a live seqcore handle");
    CHECK_ERROR(seq_config_set_string(inside, "cell", "gru"), SEQ_ERR_WRONG_HANDLE, "argument 'config'");
    /* A handle of another kind (test_errors.c covers every pair). */
    {
        seq_dataset *dataset = NULL;
        CHECK_OK(seq_dataset_create(&dataset));
        CHECK_ERROR(seq_config_set_int((seq_config *)(void *)dataset, "seed", 1), SEQ_ERR_WRONG_HANDLE,
                    "argument 'config': expected a seq_config handle, got a seq_dataset handle");
        seq_dataset_free(dataset);
    }

    /* Freeing what is not a live seq_config does nothing but leave a message. */
    seq_config_free(freed);
    CHECK_STR_CONTAINS(seq_last_error(), "seq_config_free: argument 'config'");
    seq_config_free(fake);
    CHECK_STR_CONTAINS(seq_last_error(), "not a live seqcore handle");
    CHECK_INT_EQ(not_a_handle[0], 0);

    /* The live handle is unaffected by all of this. */
    CHECK_OK(seq_config_set_int(config, "seed", 5));
    CHECK_INT_EQ(get_int(config, "seed"), 5);
    seq_config_free(config);
}

void test_config_unknown_key(void) {
    seq_config *config = new_config();
    int64_t i = 0;
    char buffer[8];
    CHECK_ERROR(seq_config_set_int(config, "hiden_size", 4), SEQ_ERR_NOT_FOUND,
                "argument 'key': unknown configuration key \"hiden_size\"; known keys: cell, gru_variant,");
    CHECK_ERROR(seq_config_set_string(config, "", "gru"), SEQ_ERR_NOT_FOUND, "unknown configuration key \"\"");
    CHECK_ERROR(seq_config_set_float(config, "Dropout", 0.5), SEQ_ERR_NOT_FOUND, "\"Dropout\"");
    CHECK_ERROR(seq_config_get_int(config, "layers", &i), SEQ_ERR_NOT_FOUND, "\"layers\"");
    CHECK_ERROR(seq_config_get_string(config, "kind", buffer, 8, NULL), SEQ_ERR_NOT_FOUND, "\"kind\"");
    /* A key that is not UTF-8. */
    CHECK_ERROR(seq_config_set_int(config, "\xff\xfe", 4), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'key': expected a NUL-terminated UTF-8 string");
    seq_config_free(config);
}

void test_config_wrong_value_type(void) {
    seq_config *config = new_config();
    int64_t i = 0;
    double d = 0;
    char buffer[8];
    CHECK_ERROR(seq_config_set_float(config, "hidden_size", 16.0), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'hidden_size': expected an integer (set with seq_config_set_int), got a float");
    CHECK_ERROR(seq_config_set_string(config, "num_layers", "2"), SEQ_ERR_INVALID_ARGUMENT,
                "expected an integer (set with seq_config_set_int), got a string");
    CHECK_ERROR(seq_config_set_int(config, "dropout", 0), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'dropout': expected a float (set with seq_config_set_float), got an integer");
    CHECK_ERROR(seq_config_set_int(config, "cell", 1), SEQ_ERR_INVALID_ARGUMENT,
                "expected a string (set with seq_config_set_string)");
    CHECK_ERROR(seq_config_get_int(config, "cell", &i), SEQ_ERR_INVALID_ARGUMENT,
                "\"cell\", which holds a string (read it with seq_config_get_string)");
    CHECK_ERROR(seq_config_get_float(config, "seed", &d), SEQ_ERR_INVALID_ARGUMENT, "seq_config_get_int");
    CHECK_ERROR(seq_config_get_string(config, "dropout", buffer, 8, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "seq_config_get_float");
    seq_config_free(config);
}

void test_config_values_out_of_range(void) {
    seq_config *config = new_config();
    CHECK_ERROR(seq_config_set_int(config, "hidden_size", 0), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'hidden_size': expected a positive integer, got 0");
    CHECK_ERROR(seq_config_set_int(config, "input_size", -1), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'input_size': expected a positive integer, got -1");
    CHECK_ERROR(seq_config_set_int(config, "num_layers", INT64_MIN), SEQ_ERR_INVALID_ARGUMENT,
                "got -9223372036854775808");
    /* A size too large to allocate is refused before anything multiplies it. */
    CHECK_ERROR(seq_config_set_int(config, "hidden_size", INT64_MAX), SEQ_ERR_RESOURCE_LIMIT,
                "argument 'hidden_size': expected at most 2147483648, got 9223372036854775807");
    CHECK_ERROR(seq_config_set_int(config, "input_size", ((int64_t)1 << 31) + 1), SEQ_ERR_RESOURCE_LIMIT,
                "argument 'input_size'");
    CHECK_OK(seq_config_set_int(config, "input_size", (int64_t)1 << 31));
    CHECK_ERROR(seq_config_set_int(config, "proj_size", -1), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'proj_size': expected a non-negative integer, got -1");
    CHECK_OK(seq_config_set_int(config, "proj_size", 0));
    CHECK_ERROR(seq_config_set_int(config, "peepholes", 2), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'peepholes': expected 0 or 1, got 2");
    CHECK_ERROR(seq_config_set_int(config, "bias", -1), SEQ_ERR_INVALID_ARGUMENT, "expected 0 or 1");
    CHECK_ERROR(seq_config_set_float(config, "learning_rate", -1), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'learning_rate': expected a finite number >= 0, got -1.0");
    CHECK_ERROR(seq_config_set_float(config, "clip_norm", INFINITY), SEQ_ERR_INVALID_ARGUMENT, "argument 'clip_norm'");
    CHECK_ERROR(seq_config_set_float(config, "forget_bias", NAN), SEQ_ERR_INVALID_ARGUMENT, "argument 'forget_bias'");
    CHECK_ERROR(seq_config_set_float(config, "beta2", 1.0), SEQ_ERR_INVALID_ARGUMENT, "argument 'beta2'");
    CHECK_ERROR(seq_config_set_string(config, "optimizer", "lbfgs"), SEQ_ERR_INVALID_ARGUMENT, "argument 'optimizer'");
    CHECK_ERROR(seq_config_set_int(config, "padding_index", -1), SEQ_ERR_INVALID_ARGUMENT, "argument 'padding_index'");
    CHECK_ERROR(seq_config_set_float(config, "dropout", 1.0), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'dropout': expected a number in [0, 1), got 1.0");
    CHECK_ERROR(seq_config_set_float(config, "dropout", -0.1), SEQ_ERR_INVALID_ARGUMENT, "got -0.1");
    CHECK_ERROR(seq_config_set_float(config, "dropout", NAN), SEQ_ERR_INVALID_ARGUMENT, "got nan");
    CHECK_ERROR(seq_config_set_float(config, "dropout", INFINITY), SEQ_ERR_INVALID_ARGUMENT, "got inf");
    CHECK_OK(seq_config_set_float(config, "dropout", 0.0));
    CHECK_ERROR(seq_config_set_string(config, "cell", "LSTM"), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'cell': expected one of \"rnn_tanh\", \"rnn_relu\", \"gru\", \"lstm\", got \"LSTM\"");
    CHECK_ERROR(seq_config_set_string(config, "direction", "both"), SEQ_ERR_INVALID_ARGUMENT, "got \"both\"");
    CHECK_ERROR(seq_config_set_string(config, "gru_variant", ""), SEQ_ERR_INVALID_ARGUMENT, "got \"\"");
    seq_config_free(config);
}

void test_config_required_keys_without_default(void) {
    seq_config *config = new_config();
    int64_t value = 77;
    char buffer[8] = "keep";
    CHECK_ERROR(seq_config_get_int(config, "hidden_size", &value), SEQ_ERR_NOT_FOUND,
                "argument 'key': key \"hidden_size\" has not been set and has no default");
    CHECK_INT_EQ(value, 77); /* outputs are untouched on failure */
    CHECK_ERROR(seq_config_get_int(config, "input_size", &value), SEQ_ERR_NOT_FOUND, "\"input_size\"");
    CHECK_ERROR(seq_config_get_string(config, "cell", buffer, sizeof buffer, NULL), SEQ_ERR_NOT_FOUND, "\"cell\"");
    CHECK_STR_EQ(buffer, "keep");
    seq_config_free(config);
}

void test_config_failed_set_leaves_value(void) {
    seq_config *config = new_config();
    CHECK_OK(seq_config_set_int(config, "hidden_size", 64));
    CHECK_STATUS(seq_config_set_int(config, "hidden_size", 0), SEQ_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(seq_config_set_float(config, "hidden_size", 32), SEQ_ERR_INVALID_ARGUMENT);
    CHECK_INT_EQ(get_int(config, "hidden_size"), 64);
    CHECK_OK(seq_config_set_string(config, "cell", "gru"));
    CHECK_STATUS(seq_config_set_string(config, "cell", "transformer"), SEQ_ERR_INVALID_ARGUMENT);
    CHECK_STR_EQ(get_string(config, "cell"), "gru");
    seq_config_free(config);
}

/* Several threads setting and reading one handle, and creating and freeing their own. */
#define CONCURRENT_THREADS 4
#define CONCURRENT_ROUNDS 500

struct concurrent_work {
    seq_config *shared;
    int index;
    int errors;
};

static void *hammer(void *arg) {
    struct concurrent_work *w = (struct concurrent_work *)arg;
    int round;
    for (round = 0; round < CONCURRENT_ROUNDS; round++) {
        seq_config *own = NULL;
        int64_t value = -1;
        if (seq_config_set_int(w->shared, "seed", w->index * CONCURRENT_ROUNDS + round) != SEQ_OK) w->errors++;
        if (seq_config_get_int(w->shared, "seed", &value) != SEQ_OK || value < 0) w->errors++;
        if (seq_config_set_int(w->shared, "hidden_size", 0) != SEQ_ERR_INVALID_ARGUMENT) w->errors++;
        if (seq_config_create(&own) != SEQ_OK) { w->errors++; continue; }
        if (seq_config_set_int(own, "hidden_size", round + 1) != SEQ_OK) w->errors++;
        if (seq_config_get_int(own, "hidden_size", &value) != SEQ_OK || value != round + 1) w->errors++;
        seq_config_free(own);
    }
    return NULL;
}

void test_config_concurrent_use(void) {
    struct concurrent_work work[CONCURRENT_THREADS];
    pthread_t threads[CONCURRENT_THREADS];
    seq_config *shared = new_config();
    int i;
    for (i = 0; i < CONCURRENT_THREADS; i++) {
        work[i].shared = shared;
        work[i].index = i;
        work[i].errors = 0;
        CHECK_INT_EQ(pthread_create(&threads[i], NULL, hammer, &work[i]), 0);
    }
    for (i = 0; i < CONCURRENT_THREADS; i++) {
        CHECK_INT_EQ(pthread_join(threads[i], NULL), 0);
        CHECK_INT_EQ(work[i].errors, 0);
    }
    CHECK(get_int(shared, "seed") >= 0);
    seq_config_free(shared);
}

void test_config_unset(void) {
    seq_config *config = new_config();
    int64_t value = 0;
    CHECK_OK(seq_config_set_int(config, "num_layers", 3));
    CHECK_OK(seq_config_unset(config, "num_layers"));
    CHECK_INT_EQ(get_int(config, "num_layers"), 1); /* the default again */
    CHECK_OK(seq_config_set_int(config, "hidden_size", 8));
    CHECK_OK(seq_config_unset(config, "hidden_size"));
    CHECK_ERROR(seq_config_get_int(config, "hidden_size", &value), SEQ_ERR_NOT_FOUND, "has not been set");
    CHECK_OK(seq_config_unset(config, "hidden_size")); /* unsetting twice is fine */
    CHECK_ERROR(seq_config_unset(config, "hiden_size"), SEQ_ERR_NOT_FOUND, "unknown configuration key");
    CHECK_ERROR(seq_config_unset(NULL, "seed"), SEQ_ERR_NULL_POINTER, "argument 'config'");
    seq_config_free(config);
}
