/*
 * Trains a character-level language model on a text and saves it.
 *
 *     train_char_model [TEXT_FILE [MODEL_FILE]]
 *
 * Without TEXT_FILE it trains on a built-in text; MODEL_FILE defaults to char_model.safetensors.
 * Characters are their byte values (vocab_size 256), so no vocabulary file is needed: generate_text
 * and stream_steps read the model alone. Build:
 *
 *     cc train_char_model.c $(pkg-config --cflags --libs seqcore) -o train_char_model
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqcore.h"

/* Every call returns a status; on failure print the library's reason and stop. */
#define TRY(call)                                                                   \
    do {                                                                            \
        seq_status status_ = (call);                                                \
        if (status_ != SEQ_OK) {                                                    \
            fprintf(stderr, "%s failed: %s\n", #call, seq_last_error());             \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

enum { STEPS = 48, STRIDE = 3 };

static const char builtin_text[] =
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife. However little known the feelings or views of such a man may be on "
    "his first entering a neighbourhood, this truth is so well fixed in the minds of the surrounding "
    "families, that he is considered the rightful property of some one or other of their daughters.\n";

/* Reads a whole file; NULL when it cannot. */
static char *read_text(const char *path, long *length) {
    FILE *f = fopen(path, "rb");
    char *text;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (*length = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        if (f) fclose(f);
        return NULL;
    }
    text = (char *)malloc((size_t)*length + 1);
    if (text == NULL || fread(text, 1, (size_t)*length, f) != (size_t)*length) {
        free(text);
        fclose(f);
        return NULL;
    }
    fclose(f);
    text[*length] = 0;
    return text;
}

/* Called after every batch: prints one line per epoch. Returning non-zero would stop training. */
static int32_t report(const seq_progress *progress, void *user_data) {
    (void)user_data;
    if (progress->batch == progress->batches)
        printf("epoch %lld/%lld: loss %.3f nats per character\n", (long long)progress->epoch,
               (long long)progress->epochs, progress->epoch_loss);
    return 0;
}

int main(int argc, char **argv) {
    const char *model_path = argc > 2 ? argv[2] : "char_model.safetensors";
    long length = (long)strlen(builtin_text), n, i, t;
    char *text = argc > 1 ? read_text(argv[1], &length) : NULL;
    const char *chars = text ? text : builtin_text;
    int32_t *inputs, *targets;
    seq_config *config;
    seq_model *model;
    seq_dataset *data;

    if (argc > 1 && text == NULL) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    if (length < STEPS + 1) {
        fprintf(stderr, "the text needs at least %d characters\n", STEPS + 1);
        return 1;
    }

    /* Windows of STEPS characters; the targets are the same windows one character later. */
    n = (length - STEPS - 1) / STRIDE + 1;
    inputs = (int32_t *)malloc((size_t)(n * STEPS) * sizeof(int32_t));
    targets = (int32_t *)malloc((size_t)(n * STEPS) * sizeof(int32_t));
    for (i = 0; i < n; i++)
        for (t = 0; t < STEPS; t++) {
            inputs[i * STEPS + t] = (unsigned char)chars[i * STRIDE + t];
            targets[i * STEPS + t] = (unsigned char)chars[i * STRIDE + t + 1];
        }

    /* An LSTM language model over bytes. */
    TRY(seq_config_create(&config));
    TRY(seq_config_set_string(config, "architecture", "language_model"));
    TRY(seq_config_set_string(config, "cell", "lstm"));
    TRY(seq_config_set_int(config, "vocab_size", 256));
    TRY(seq_config_set_int(config, "embedding_size", 32));
    TRY(seq_config_set_int(config, "hidden_size", 128));
    TRY(seq_config_set_float(config, "learning_rate", 0.005));
    TRY(seq_config_set_float(config, "clip_norm", 5.0));
    TRY(seq_config_set_int(config, "seed", 1));
    TRY(seq_model_create(config, &model));
    seq_config_free(config);

    /* The dataset copies the arrays: they may be freed right away. */
    TRY(seq_dataset_create(&data));
    TRY(seq_dataset_set_inputs(data, NULL, inputs, n, STEPS, 1, NULL, SEQ_LAYOUT_BATCH_FIRST));
    TRY(seq_dataset_set_targets(data, targets, NULL, n, STEPS, 1, NULL, SEQ_LAYOUT_BATCH_FIRST));
    free(inputs);
    free(targets);

    printf("training on %ld characters (%ld windows of %d)\n", length, n, STEPS);
    TRY(seq_model_fit(model, data, 6, 32, report, NULL));
    TRY(seq_model_save(model, model_path));
    printf("saved %s\n", model_path);

    seq_dataset_free(data);
    seq_model_free(model);
    free(text);
    return 0;
}
