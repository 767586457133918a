/*
 * Loads a character-level language model (made by train_char_model) and generates text.
 *
 *     generate_text MODEL_FILE [PREFIX [COUNT [TEMPERATURE [SEED]]]]
 *
 * Build:
 *     cc generate_text.c $(pkg-config --cflags --libs seqcore) -o generate_text
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqcore.h"

#define TRY(call)                                                                   \
    do {                                                                            \
        seq_status status_ = (call);                                                \
        if (status_ != SEQ_OK) {                                                    \
            fprintf(stderr, "%s failed: %s\n", #call, seq_last_error());             \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

int main(int argc, char **argv) {
    const char *prefix = argc > 2 ? argv[2] : "The ";
    long count = argc > 3 ? atol(argv[3]) : 300;
    double temperature = argc > 4 ? atof(argv[4]) : 0.6;
    long long seed = argc > 5 ? atoll(argv[5]) : 7;
    seq_model *model;
    seq_config *config;
    char architecture[32];
    int64_t vocab_size = 0, generated = 0, i;
    int32_t *ids, *output;
    size_t length = strlen(prefix);

    if (argc < 2 || length == 0 || count < 0) {
        fprintf(stderr, "usage: %s MODEL_FILE [PREFIX [COUNT [TEMPERATURE [SEED]]]]\n", argv[0]);
        return 2;
    }
    if (strcmp(seq_version(), SEQ_VERSION_STRING) != 0)
        fprintf(stderr, "note: built with seqcore.h %s, running with libseqcore %s\n", SEQ_VERSION_STRING, seq_version());

    TRY(seq_model_load(argv[1], &model));

    /* A model file carries its configuration: check it is a byte-level language model. */
    TRY(seq_model_get_config(model, &config));
    TRY(seq_config_get_string(config, "architecture", architecture, sizeof architecture, NULL));
    TRY(seq_config_get_int(config, "vocab_size", &vocab_size));
    seq_config_free(config);
    if (strcmp(architecture, "language_model") != 0 || vocab_size != 256) {
        fprintf(stderr, "%s is a %s with vocab_size %lld, not a character model\n", argv[1], architecture,
                (long long)vocab_size);
        return 1;
    }

    ids = (int32_t *)malloc(length * sizeof(int32_t));
    output = (int32_t *)malloc((size_t)(count > 0 ? count : 1) * sizeof(int32_t));
    for (i = 0; i < (int64_t)length; i++) ids[i] = (unsigned char)prefix[i];

    /* Sample COUNT characters; top_k 0 = all, stop_token -1 = none. */
    TRY(seq_model_generate(model, ids, (int64_t)length, count, temperature, 0, seed, -1, output, count, &generated));
    fputs(prefix, stdout);
    for (i = 0; i < generated; i++) putchar(output[i]);
    putchar('\n');

    free(ids);
    free(output);
    seq_model_free(model);
    return 0;
}
