/* Version, status codes and the thread-local error message. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "tests.h"

static void *read_last_error(void *result) {
    *(const char **)result = seq_last_error();
    return NULL;
}

void test_last_error_is_empty_on_a_new_thread(void) {
    const char *message = NULL;
    pthread_t thread;
    CHECK_INT_EQ(pthread_create(&thread, NULL, read_last_error, &message), 0);
    CHECK_INT_EQ(pthread_join(thread, NULL), 0);
    CHECK_STR_EQ(message, "");
}

void test_version_matches_header(void) {
    CHECK_STR_EQ(seq_version(), SEQ_VERSION_STRING);
    CHECK_INT_EQ(seq_version_number(), SEQ_VERSION_NUMBER);
    CHECK_INT_EQ(seq_version_number(), SEQ_VERSION_MAJOR * 10000 + SEQ_VERSION_MINOR * 100 + SEQ_VERSION_PATCH);
    CHECK_INT_EQ(seq_abi_version(), SEQ_ABI_VERSION);
}

void test_status_strings(void) {
    /* The values are ABI; 1-7 are also SeqError.Kind's raw values in the Swift engine. */
    CHECK_INT_EQ(SEQ_OK, 0);
    CHECK_INT_EQ(SEQ_ERR_INVALID_ARGUMENT, 1);
    CHECK_INT_EQ(SEQ_ERR_IO, 2);
    CHECK_INT_EQ(SEQ_ERR_FORMAT, 3);
    CHECK_INT_EQ(SEQ_ERR_NUMERIC, 4);
    CHECK_INT_EQ(SEQ_ERR_RESOURCE_LIMIT, 5);
    CHECK_INT_EQ(SEQ_ERR_STATE, 6);
    CHECK_INT_EQ(SEQ_ERR_NOT_FOUND, 7);
    CHECK_INT_EQ(SEQ_ERR_NULL_POINTER, 8);
    CHECK_INT_EQ(SEQ_ERR_WRONG_HANDLE, 9);
    CHECK_INT_EQ(SEQ_ERR_BUFFER_TOO_SMALL, 10);
    CHECK_INT_EQ(SEQ_ERR_INTERNAL, 11);

    CHECK_STR_EQ(seq_status_string(SEQ_OK), "success");
    CHECK_STR_EQ(seq_status_string(SEQ_ERR_INVALID_ARGUMENT), "invalid argument");
    CHECK_STR_EQ(seq_status_string(SEQ_ERR_NULL_POINTER), "NULL pointer argument");
    CHECK_STR_EQ(seq_status_string(SEQ_ERR_WRONG_HANDLE), "wrong or invalid handle");
    CHECK_STR_EQ(seq_status_string(SEQ_ERR_BUFFER_TOO_SMALL), "output buffer too small");
    CHECK_STR_EQ(seq_status_string(SEQ_ERR_INTERNAL), "internal error");
    CHECK_STR_EQ(seq_status_string(-1), "unknown status code");
    CHECK_STR_EQ(seq_status_string(12), "unknown status code");
    CHECK_STR_EQ(seq_status_string(INT32_MIN), "unknown status code");
    {
        /* Every known code has its own, non-empty description, stable across calls. */
        seq_status a, b;
        for (a = SEQ_OK; a <= SEQ_ERR_INTERNAL; a++) {
            CHECK(strlen(seq_status_string(a)) > 0);
            CHECK(strcmp(seq_status_string(a), "unknown status code") != 0);
            CHECK(seq_status_string(a) == seq_status_string(a));
            for (b = a + 1; b <= SEQ_ERR_INTERNAL; b++) CHECK(strcmp(seq_status_string(a), seq_status_string(b)) != 0);
        }
    }
}

void test_last_error_names_function_and_argument(void) {
    CHECK_STATUS(seq_config_create(NULL), SEQ_ERR_NULL_POINTER);
    CHECK_STR_EQ(seq_last_error(), "seq_config_create: argument 'out': expected a non-NULL pointer, got NULL");
}

void test_last_error_survives_successful_calls(void) {
    seq_config *config = NULL;
    int64_t value = 0;
    CHECK_OK(seq_config_create(&config));
    CHECK_STATUS(seq_config_set_int(config, "hidden_size", 0), SEQ_ERR_INVALID_ARGUMENT);
    CHECK_STR_EQ(seq_last_error(), "seq_config_set_int: argument 'hidden_size': expected a positive integer, got 0");
    CHECK_OK(seq_config_set_int(config, "hidden_size", 8));
    CHECK_OK(seq_config_get_int(config, "hidden_size", &value));
    seq_config_free(NULL);
    CHECK_STR_EQ(seq_last_error(), "seq_config_set_int: argument 'hidden_size': expected a positive integer, got 0");
    /* The next failure replaces the message. */
    CHECK_STATUS(seq_config_set_int(config, "num_layers", -3), SEQ_ERR_INVALID_ARGUMENT);
    CHECK_STR_EQ(seq_last_error(), "seq_config_set_int: argument 'num_layers': expected a positive integer, got -3");
    seq_config_free(config);
}

struct thread_failure {
    const char *key;
    seq_status status;
    char message[256];
};

static void *fail_on_thread(void *arg) {
    struct thread_failure *f = (struct thread_failure *)arg;
    seq_config *config = NULL;
    if (seq_config_create(&config) != SEQ_OK) return NULL;
    f->status = seq_config_set_int(config, f->key, 0);
    snprintf(f->message, sizeof f->message, "%s", seq_last_error());
    seq_config_free(config);
    return NULL;
}

void test_last_error_is_per_thread(void) {
    struct thread_failure failures[3] = {{"input_size", SEQ_OK, ""}, {"hidden_size", SEQ_OK, ""},
                                         {"no_such_key", SEQ_OK, ""}};
    pthread_t threads[3];
    int i;
    CHECK_STATUS(seq_config_create(NULL), SEQ_ERR_NULL_POINTER);
    for (i = 0; i < 3; i++) CHECK_INT_EQ(pthread_create(&threads[i], NULL, fail_on_thread, &failures[i]), 0);
    for (i = 0; i < 3; i++) CHECK_INT_EQ(pthread_join(threads[i], NULL), 0);
    CHECK_INT_EQ(failures[0].status, SEQ_ERR_INVALID_ARGUMENT);
    CHECK_STR_CONTAINS(failures[0].message, "argument 'input_size'");
    CHECK_INT_EQ(failures[1].status, SEQ_ERR_INVALID_ARGUMENT);
    CHECK_STR_CONTAINS(failures[1].message, "argument 'hidden_size'");
    CHECK_INT_EQ(failures[2].status, SEQ_ERR_NOT_FOUND);
    CHECK_STR_CONTAINS(failures[2].message, "no_such_key");
    /* The threads' failures did not touch this thread's message. */
    CHECK_STR_EQ(seq_last_error(), "seq_config_create: argument 'out': expected a non-NULL pointer, got NULL");
}
