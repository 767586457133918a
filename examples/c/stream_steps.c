/*
 * Runs a model one step at a time: feeds a text to a character-level language model (made by
 * train_char_model) character by character, and after each one prints the model's most likely
 * next character. The stream keeps the recurrent state between calls, as a program would when
 * the characters (or sensor samples) arrive one by one.
 *
 *     stream_steps MODEL_FILE [TEXT]
 *
 * Build:
 *     cc stream_steps.c $(pkg-config --cflags --libs seqcore) -o stream_steps
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

enum { V = 256 };

/* Prints a byte readably. */
static void show(int c) {
    if (c == '\n') printf("\\n");
    else if (c >= 32 && c < 127) printf("%c", c);
    else printf("\\x%02x", c);
}

int main(int argc, char **argv) {
    const char *text = argc > 2 ? argv[2] : "The ";
    seq_model *model;
    seq_stream *stream;
    float probabilities[V];
    size_t i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_FILE [TEXT]\n", argv[0]);
        return 2;
    }
    TRY(seq_model_load(argv[1], &model));
    TRY(seq_stream_create(model, 1, &stream)); /* one sequence */

    for (i = 0; text[i] != 0; i++) {
        int32_t token = (unsigned char)text[i];
        int best = 0, c;
        /* One step of one sequence: tokens [1, 1], output [1, 1, V]. */
        TRY(seq_stream_feed(stream, NULL, &token, 1, 1, 1, SEQ_LAYOUT_TIME_MAJOR, probabilities, V, NULL));
        for (c = 1; c < V; c++)
            if (probabilities[c] > probabilities[best]) best = c;
        printf("after '");
        show(token);
        printf("': next is '");
        show(best);
        printf("' (p = %.2f)\n", probabilities[best]);
    }

    /* A new sequence starts from a zero state. */
    TRY(seq_stream_reset(stream));
    seq_stream_free(stream);
    seq_model_free(model);
    return 0;
}
