/*
 * Trains with a loss of the program's own: seq_model_forward gives the logits, the program
 * computes its loss and dL/dz, seq_model_backward carries that back through time, and
 * seq_model_apply_gradients takes the optimizer's step. The state is carried from one piece of a
 * long sequence to the next (truncated BPTT by hand: the final state of a piece is the next
 * piece's h0, its gradient cut there).
 *
 * The task: echo a signal three steps late, x<t-3>, from targets of which 5% are wild outliers.
 * The Huber loss (quadratic near 0, linear past delta) keeps them from dragging the fit where
 * the library's squared error would.
 *
 *     custom_loss
 *
 * Build:
 *     cc custom_loss.c $(pkg-config --cflags --libs seqcore) -lm -o custom_loss
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "seqcore.h"

#define TRY(call)                                                                   \
    do {                                                                            \
        seq_status status_ = (call);                                                \
        if (status_ != SEQ_OK) {                                                    \
            fprintf(stderr, "%s failed: %s\n", #call, seq_last_error());             \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

enum { B = 8, T = 600, PIECE = 20, H = 16, DELAY = 3, EPOCHS = 12 };

static float x[B][T], noisy[B][T], clean[B][T];

/* A small deterministic generator, so that every run prints the same numbers. */
static float uniform(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 16777216.0f;
}

/* Huber loss of one residual r, and its derivative: r^2 / 2 within delta, linear beyond. */
static double huber(double r, double delta, float *grad) {
    if (fabs(r) <= delta) {
        *grad = (float)r;
        return 0.5 * r * r;
    }
    *grad = (float)(r > 0 ? delta : -delta);
    return delta * (fabs(r) - 0.5 * delta);
}

/* Trains a fresh model with the Huber loss (huber 1) or the squared error (huber 0); returns the
 * squared error of its last epoch's outputs against the clean echo. */
static double train(int use_huber) {
    seq_config *config;
    seq_model *model;
    /* Batch-first pieces: [B, PIECE, 1] in, [B, PIECE, 1] logits and gradients out. */
    static float in[B * PIECE], z[B * PIECE], dz[B * PIECE];
    float h[B * H];
    double clean_error = 0.0;
    int b, t, epoch;

    TRY(seq_config_create(&config));
    TRY(seq_config_set_string(config, "cell", "gru"));
    TRY(seq_config_set_int(config, "input_size", 1));
    TRY(seq_config_set_int(config, "hidden_size", H));
    TRY(seq_config_set_int(config, "output_size", 1));
    TRY(seq_config_set_string(config, "output", "regression"));
    TRY(seq_config_set_string(config, "optimizer", "adam"));
    TRY(seq_config_set_float(config, "learning_rate", 0.01));
    TRY(seq_config_set_int(config, "seed", 1));
    TRY(seq_model_create(config, &model));
    seq_config_free(config);

    for (epoch = 1; epoch <= EPOCHS; epoch++) {
        double loss = 0.0;
        int start, have_state = 0;
        clean_error = 0.0;
        for (start = 0; start < T; start += PIECE) {
            for (b = 0; b < B; b++)
                for (t = 0; t < PIECE; t++) in[b * PIECE + t] = x[b][start + t];
            TRY(seq_model_zero_gradients(model));
            /* From the state the previous piece ended in (zeros for the first). */
            TRY(seq_model_forward(model, in, NULL, PIECE, B, 1, NULL, SEQ_LAYOUT_BATCH_FIRST,
                                  have_state ? h : NULL, have_state ? B * H : 0, NULL, 0, 1,
                                  z, B * PIECE, NULL));
            TRY(seq_model_final_state(model, h, B * H, NULL, NULL, 0, NULL));
            have_state = 1;
            for (b = 0; b < B; b++) {
                for (t = 0; t < PIECE; t++) {
                    int i = b * PIECE + t;
                    double r = z[i] - noisy[b][start + t], e = z[i] - clean[b][start + t];
                    if (use_huber) {
                        loss += huber(r, 1.0, &dz[i]) / (B * T);
                    } else {
                        loss += 0.5 * r * r / (B * T);
                        dz[i] = (float)r;
                    }
                    dz[i] /= (float)(B * PIECE); /* the mean over the piece's outputs */
                    clean_error += e * e / (B * T);
                }
            }
            TRY(seq_model_backward(model, dz, B * PIECE));
            TRY(seq_model_apply_gradients(model));
        }
        if (epoch == 1 || epoch % 4 == 0)
            printf("  epoch %2d: %s %.4f, squared error against the clean echo %.4f\n", epoch,
                   use_huber ? "Huber loss" : "half squared error", loss, clean_error);
    }
    seq_model_free(model);
    return clean_error;
}

int main(void) {
    unsigned seed = 7;
    double with_huber, with_squares;
    int b, t;

    for (b = 0; b < B; b++) {
        for (t = 0; t < T; t++) {
            x[b][t] = sinf(0.21f * (float)t + (float)b) + 0.3f * (uniform(&seed) - 0.5f);
            clean[b][t] = t >= DELAY ? x[b][t - DELAY] : 0.0f;
            noisy[b][t] = uniform(&seed) < 0.05f ? 10.0f * (uniform(&seed) - 0.5f) : clean[b][t];
        }
    }
    printf("Huber loss (delta 1), computed here:\n");
    with_huber = train(1);
    printf("squared error, computed here (the library's \"regression\" loss):\n");
    with_squares = train(0);
    printf("error against the clean echo: %.4f with Huber, %.4f with squares\n", with_huber, with_squares);
    return 0;
}
