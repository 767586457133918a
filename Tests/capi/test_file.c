/* Model files: save, load, and every way a file can be wrong. */
#define _POSIX_C_SOURCE 200809L /* strtok_r, getpid, unlink, access */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "helpers.h"
#include "tests.h"

/* Whether `needle` occurs in the `size` bytes at `haystack`. */
static int contains_bytes(const unsigned char *haystack, long size, const char *needle) {
    long n = (long)strlen(needle), i;
    for (i = 0; i + n <= size; i++)
        if (memcmp(haystack + i, needle, (size_t)n) == 0) return 1;
    return 0;
}

static void temp_path(char *path, size_t size, const char *name) {
    snprintf(path, size, "/tmp/seqcore-capi-%d-%s", (int)getpid(), name);
}

static long file_size(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 ? (long)info.st_size : -1;
}

static unsigned char *read_all(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *bytes;
    *size = file_size(path);
    if (f == NULL || *size < 0) {
        if (f) fclose(f);
        return NULL;
    }
    bytes = (unsigned char *)malloc((size_t)*size + 1);
    if (fread(bytes, 1, (size_t)*size, f) != (size_t)*size) *size = -1;
    fclose(f);
    return bytes;
}

static void write_all(const char *path, const unsigned char *bytes, long size) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return;
    if (size > 0) fwrite(bytes, 1, (size_t)size, f);
    fclose(f);
}

void test_file_save_and_load(void) {
    enum { T = 5, B = 2, V = 9 };
    seq_model *model = model_from("architecture=language_model cell=lstm vocab_size=9 embedding_size=4 hidden_size=6 "
                                  "num_layers=2 proj_size=3 learning_rate=0.02 seed=12");
    seq_model *loaded = NULL;
    seq_config *config = NULL;
    char path[128];
    int32_t tokens[T * B] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1}, targets[T * B] = {2, 3, 4, 5, 6, 7, 8, 0, 1, 2};
    float before[T * B * V], after[T * B * V];
    char text[32];
    double rate = 0;
    long size;
    unsigned char *bytes;
    temp_path(path, sizeof path, "model.safetensors");
    if (model == NULL) return;
    /* Trained a little, so the weights differ from any seed's. */
    CHECK_OK(seq_model_train_step(model, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, targets, NULL, T, NULL, NULL));
    CHECK_OK(seq_model_save(model, path));
    CHECK_OK(seq_model_load(path, &loaded));
    CHECK(loaded != NULL);
    if (loaded == NULL) goto done;
    CHECK_OK(seq_model_predict(model, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, before, T * B * V, NULL));
    CHECK_OK(seq_model_predict(loaded, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, after, T * B * V, NULL));
    CHECK(memcmp(before, after, sizeof before) == 0);
    /* It trains on as a new model of the same configuration holding the saved weights does: the
       optimizer starts afresh (its moments made at the first step) with the saved learning rate. */
    {
        seq_model *fresh = model_from("architecture=language_model cell=lstm vocab_size=9 embedding_size=4 "
                                      "hidden_size=6 num_layers=2 proj_size=3 learning_rate=0.02 seed=99");
        int64_t count = 0, i;
        int step;
        char name[64];
        float values[256];
        CHECK_OK(seq_model_parameter_count(model, &count));
        for (i = 0; fresh != NULL && i < count; i++) {
            int64_t n = 0;
            CHECK_OK(seq_model_parameter_name(model, i, name, sizeof name, NULL));
            CHECK_OK(seq_model_get_parameter(model, name, values, 256, &n));
            CHECK_OK(seq_model_set_parameter(fresh, name, values, n));
        }
        for (step = 0; fresh != NULL && step < 3; step++) {
            double loss_loaded = -1, loss_fresh = -2;
            CHECK_OK(seq_model_train_step(loaded, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, targets, NULL, T, NULL,
                                          &loss_loaded));
            CHECK_OK(seq_model_train_step(fresh, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, targets, NULL, T, NULL,
                                          &loss_fresh));
            CHECK_CLOSE(loss_loaded, loss_fresh, 0, 0);
        }
        CHECK_OK(seq_model_predict(loaded, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, before, T * B * V, NULL));
        if (fresh != NULL)
            CHECK_OK(seq_model_predict(fresh, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, after, T * B * V, NULL));
        CHECK(fresh != NULL && memcmp(before, after, sizeof before) == 0);
        seq_model_free(fresh);
    }
    CHECK_OK(seq_model_get_config(loaded, &config));
    CHECK_OK(seq_config_get_string(config, "cell", text, sizeof text, NULL));
    CHECK_STR_EQ(text, "lstm");
    CHECK_OK(seq_config_get_float(config, "learning_rate", &rate));
    CHECK_CLOSE(rate, 0.02, 0, 0);
    /* A safetensors file: 8-byte header length, then a JSON object, then 8-aligned data. */
    bytes = read_all(path, &size);
    CHECK(bytes != NULL && size > 16);
    if (bytes != NULL) {
        unsigned long long n = 0;
        int k;
        for (k = 7; k >= 0; k--) n = (n << 8) | bytes[k];
        CHECK(n % 8 == 0 && (long)n < size);
        CHECK_INT_EQ(bytes[8], '{');
        CHECK(contains_bytes(bytes, size, "\"rnn.weight_hr_l1\""));
        CHECK(contains_bytes(bytes, size, "seqcore.format_version"));
        free(bytes);
    }
    /* Saving again replaces the file, and leaves no temporary file behind. */
    CHECK_OK(seq_model_save(loaded, path));
    {
        char temporary[160];
        snprintf(temporary, sizeof temporary, "%s.tmp-%d", path, (int)getpid());
        CHECK(access(temporary, F_OK) != 0);
    }
done:
    unlink(path);
    seq_config_free(config);
    seq_model_free(loaded);
    seq_model_free(model);
}

/* Damaged, truncated, foreign and missing files: an error code, never a crash, never a model. */
void test_file_load_errors(void) {
    seq_model *model = model_from("architecture=classifier cell=gru input_size=2 hidden_size=3 output_size=2");
    seq_model *loaded = (seq_model *)(void *)&model; /* must come back NULL */
    char path[128], bad[128];
    unsigned char *bytes;
    long size = 0, cut;
    temp_path(path, sizeof path, "good.safetensors");
    temp_path(bad, sizeof bad, "bad.safetensors");
    if (model == NULL) return;
    CHECK_OK(seq_model_save(model, path));
    bytes = read_all(path, &size);
    if (bytes == NULL) goto done;

    CHECK_ERROR(seq_model_load("/nonexistent/dir/model.safetensors", &loaded), SEQ_ERR_IO, "argument 'path': cannot open");
    CHECK(loaded == NULL);
    CHECK_ERROR(seq_model_load("/tmp", &loaded), SEQ_ERR_IO, "not a regular file");
    write_all(bad, bytes, 0);
    CHECK_ERROR(seq_model_load(bad, &loaded), SEQ_ERR_FORMAT, "too short");
    write_all(bad, (const unsigned char *)"not a model file at all, just text", 34);
    CHECK_ERROR(seq_model_load(bad, &loaded), SEQ_ERR_FORMAT, "header length");
    /* Every truncation of a good file fails cleanly. */
    for (cut = 1; cut < size; cut += (cut < 200 ? 1 : 97)) {
        write_all(bad, bytes, cut);
        if (seq_model_load(bad, &loaded) != SEQ_ERR_FORMAT) check_fail(__FILE__, __LINE__, "truncated", "at %ld bytes", cut);
        CHECK(loaded == NULL);
    }
    /* Every single-byte corruption of the header: refused, or (for a harmless byte such as a
       digit of the learning rate) a model; never a crash. */
    {
        unsigned long long n = 0;
        long k;
        int j;
        for (j = 7; j >= 0; j--) n = (n << 8) | bytes[j];
        for (k = 0; k < 8 + (long)n; k += 3) {
            unsigned char saved = bytes[k];
            seq_status status;
            bytes[k] = (unsigned char)(saved ^ 0x5A);
            write_all(bad, bytes, size);
            status = seq_model_load(bad, &loaded);
            if (status == SEQ_OK) seq_model_free(loaded);
            else if (status != SEQ_ERR_FORMAT && status != SEQ_ERR_RESOURCE_LIMIT)
                check_fail(__FILE__, __LINE__, "corrupted byte", "byte %ld: status %d: %s", k, status, seq_last_error());
            bytes[k] = saved;
        }
    }
    /* A NaN weight in the data. */
    {
        unsigned char copy[4096];
        if (size <= (long)sizeof copy) {
            memcpy(copy, bytes, (size_t)size);
            copy[size - 1] = 0x7F, copy[size - 2] = 0xC0, copy[size - 3] = 0, copy[size - 4] = 0;
            write_all(bad, copy, size);
            CHECK_ERROR(seq_model_load(bad, &loaded), SEQ_ERR_FORMAT, "non-finite value");
        }
    }
    /* Saving where it cannot be written. */
    CHECK_ERROR(seq_model_save(model, "/nonexistent/dir/model.safetensors"), SEQ_ERR_IO, "argument 'path'");
    CHECK_ERROR(seq_model_save(model, ""), SEQ_ERR_INVALID_ARGUMENT, "argument 'path'");
    free(bytes);
done:
    unlink(path);
    unlink(bad);
    seq_model_free(model);
}

/* Parameters of every name, concatenated: a model's whole state for bitwise comparison. */
static long all_parameters(seq_model *model, float *out, long capacity) {
    int64_t count = 0, i;
    long used = 0;
    if (seq_model_parameter_count(model, &count) != SEQ_OK) return -1;
    for (i = 0; i < count; i++) {
        char name[128];
        int64_t n = 0;
        if (seq_model_parameter_name(model, i, name, sizeof name, NULL) != SEQ_OK) return -1;
        if (seq_model_get_parameter(model, name, out + used, capacity - used, &n) != SEQ_OK) return -1;
        used += (long)n;
    }
    return used;
}

/* Training N steps, saving a checkpoint, loading it and training M more gives the parameters of
 * N + M uninterrupted steps, bit for bit: Adam's moments and step count, a warm-up + cosine
 * schedule's position, and the dropout generators (two layers, dropout 0.3) all travel. */
void test_file_checkpoint_resumes_training_exactly(void) {
    enum { T = 5, B = 2, CAP = 4096 };
    const char *spec = "architecture=language_model cell=gru vocab_size=9 embedding_size=4 hidden_size=6 num_layers=2 "
                       "dropout=0.3 optimizer=adam amsgrad=1 learning_rate=0.02 lr_schedule=cosine lr_period=6 "
                       "warmup_steps=2 seed=5";
    seq_model *model = model_from(spec), *resumed = NULL, *plain = NULL;
    int32_t tokens[T * B] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1}, targets[T * B] = {2, 3, 4, 5, 6, 7, 8, 0, 1, 2};
    static float a[CAP], b[CAP];
    char path[128], plain_path[128];
    double la = 0, lb = 0, ra = 0, rb = 0;
    long na, nb, size_checkpoint, size_model;
    int step, resumed_differs_from_plain = 0;
    temp_path(path, sizeof path, "checkpoint.safetensors");
    temp_path(plain_path, sizeof plain_path, "plain.safetensors");
    if (model == NULL) return;
    for (step = 0; step < 3; step++)
        CHECK_OK(seq_model_train_step(model, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, targets, NULL, T, NULL, NULL));
    CHECK_OK(seq_model_save_checkpoint(model, path));
    CHECK_OK(seq_model_save(model, plain_path));
    CHECK_OK(seq_model_load(path, &resumed));
    CHECK_OK(seq_model_load(plain_path, &plain));
    if (resumed == NULL || plain == NULL) goto done;
    /* Adam with AMSGrad: three buffers of P values beside the parameters. */
    size_checkpoint = file_size(path);
    size_model = file_size(plain_path);
    CHECK(size_checkpoint > 3 * size_model / 2);
    for (step = 0; step < 4; step++) {
        CHECK_OK(seq_model_get_learning_rate(model, &ra));
        CHECK_OK(seq_model_get_learning_rate(resumed, &rb));
        CHECK(ra == rb);
        CHECK_OK(seq_model_train_step(model, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, targets, NULL, T, NULL, &la));
        CHECK_OK(seq_model_train_step(resumed, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, targets, NULL, T, NULL,
                                      &lb));
        CHECK(la == lb);
        CHECK_OK(seq_model_train_step(plain, NULL, tokens, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, targets, NULL, T, NULL, NULL));
    }
    na = all_parameters(model, a, CAP);
    nb = all_parameters(resumed, b, CAP);
    CHECK(na > 0 && na == nb);
    CHECK(na > 0 && memcmp(a, b, (size_t)na * sizeof(float)) == 0);
    /* A model file alone restarts the optimizer (and the schedule): it ends elsewhere. */
    nb = all_parameters(plain, b, CAP);
    resumed_differs_from_plain = nb == na && memcmp(a, b, (size_t)na * sizeof(float)) != 0;
    CHECK(resumed_differs_from_plain);
done:
    unlink(path);
    unlink(plain_path);
    seq_model_free(model);
    seq_model_free(resumed);
    seq_model_free(plain);
}
