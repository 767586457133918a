/*
 * The C API against the engine's golden files (Tests/Fixtures/engine_*.json: PyTorch or
 * onnx.reference results in float64 for recurrent layers with given weights, input, lengths and
 * initial state), converted to engine_fixtures.h at build time by fixtures_to_c.py.
 *
 * How a raw layer is reached through the model API: a tagger with output "regression" (identity
 * activation) whose head is set to the identity (head.weight = I, head.bias = 0) outputs the
 * recurrent stack's a<t> exactly; the fixture's weights go in by their PyTorch names with the
 * "rnn." prefix; the fixture's h0 and c0 (random, not zero) go in through seq_stream_set_state,
 * which is why the comparison runs on a stream and covers the one-direction fixtures (10 of 18;
 * the bidirectional ones are compared by the Swift tests, and the C tests check bidirectional
 * models through properties: layouts, and each sequence alone equal to the padded batch). Steps
 * past a sequence's length are compared only where defined: a stream has no lengths, so the
 * output is compared at t < length, and h_n, c_n are read from the state after step length - 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine_fixtures.h"
#include "helpers.h"
#include "tests.h"

static float *to_floats(const double *values, int64_t count) {
    float *out = (float *)malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    int64_t i;
    for (i = 0; i < count; i++) out[i] = (float)values[i];
    return out;
}

static seq_model *fixture_model(const struct engine_fixture *f) {
    char spec[512];
    int hout = f->proj_size > 0 ? f->proj_size : f->hidden_size, i;
    seq_model *model;
    float *identity, *zeros;
    snprintf(spec, sizeof spec,
             "architecture=tagger output=regression cell=%s input_size=%d hidden_size=%d num_layers=%d "
             "proj_size=%d peepholes=%d bias=%d output_size=%d%s%s",
             f->cell, f->input_size, f->hidden_size, f->num_layers, f->proj_size, f->peepholes, f->bias, hout,
             f->gru_variant[0] ? " gru_variant=" : "", f->gru_variant);
    model = model_from(spec);
    if (model == NULL) return NULL;
    for (i = 0; i < f->param_count; i++) {
        char name[128];
        float *values = to_floats(f->params[i].values, f->params[i].count);
        snprintf(name, sizeof name, "rnn.%s", f->params[i].name);
        CHECK_OK(seq_model_set_parameter(model, name, values, f->params[i].count));
        free(values);
    }
    identity = (float *)calloc((size_t)(hout * hout), sizeof(float));
    zeros = (float *)calloc((size_t)hout, sizeof(float));
    for (i = 0; i < hout; i++) identity[i * hout + i] = 1;
    CHECK_OK(seq_model_set_parameter(model, "head.weight", identity, (int64_t)hout * hout));
    CHECK_OK(seq_model_set_parameter(model, "head.bias", zeros, hout));
    free(identity);
    free(zeros);
    return model;
}

static void run_fixture(const struct engine_fixture *f) {
    const int T = f->steps, B = f->batch, I = f->input_size, L = f->num_layers, H = f->hidden_size;
    const int hout = f->proj_size > 0 ? f->proj_size : H;
    const int64_t h_count = (int64_t)L * B * hout, c_count = f->c0 ? (int64_t)L * B * H : 0;
    seq_model *model = fixture_model(f);
    seq_stream *whole = NULL, *stepwise = NULL;
    float *input = to_floats(f->input, (int64_t)T * B * I);
    float *h0 = to_floats(f->h0, h_count), *c0 = f->c0 ? to_floats(f->c0, c_count) : NULL;
    float *expected = to_floats(f->output, (int64_t)T * B * hout);
    float *h_n = to_floats(f->h_n, h_count), *c_n = f->c_n ? to_floats(f->c_n, c_count) : NULL;
    float *out_whole = (float *)calloc((size_t)(T * B * hout), sizeof(float));
    float *out_step = (float *)calloc((size_t)(B * hout), sizeof(float));
    float *state_h = (float *)calloc((size_t)h_count, sizeof(float));
    float *state_c = (float *)calloc((size_t)(c_count > 0 ? c_count : 1), sizeof(float));
    int t, b, l;
    if (model == NULL) goto done;
    CHECK_OK(seq_stream_create(model, B, &whole));
    CHECK_OK(seq_stream_create(model, B, &stepwise));
    CHECK_OK(seq_stream_set_state(whole, h0, h_count, c0, c_count));
    CHECK_OK(seq_stream_set_state(stepwise, h0, h_count, c0, c_count));

    /* The whole sequence in one call, compared at valid steps. */
    CHECK_OK(seq_stream_feed(whole, input, NULL, T, B, I, SEQ_LAYOUT_TIME_MAJOR, out_whole, (int64_t)T * B * hout, NULL));
    for (t = 0; t < T; t++)
        for (b = 0; b < B; b++)
            if (t < f->lengths[b]) {
                const int at = (t * B + b) * hout;
                check_floats_close(__FILE__, __LINE__, f->name, out_whole + at, expected + at, hout, 1e-4, 1e-5);
            }

    /* Step by step: equal to the whole-chunk outputs, and h_n, c_n at each sequence's end. */
    for (t = 0; t < T; t++) {
        CHECK_OK(seq_stream_feed(stepwise, input + (int64_t)t * B * I, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, out_step,
                                 (int64_t)B * hout, NULL));
        check_floats_close(__FILE__, __LINE__, f->name, out_step, out_whole + (int64_t)t * B * hout, (int64_t)B * hout,
                           1e-6, 1e-6);
        CHECK_OK(seq_stream_get_state(stepwise, state_h, h_count, NULL, state_c, c_count > 0 ? c_count : 0, NULL));
        for (b = 0; b < B; b++) {
            if (f->lengths[b] != t + 1) continue;
            for (l = 0; l < L; l++) {
                const int64_t hat = ((int64_t)l * B + b) * hout, cat = ((int64_t)l * B + b) * H;
                check_floats_close(__FILE__, __LINE__, f->name, state_h + hat, h_n + hat, hout, 1e-4, 1e-5);
                if (c_n != NULL) check_floats_close(__FILE__, __LINE__, f->name, state_c + cat, c_n + cat, H, 1e-4, 1e-5);
            }
        }
    }
done:
    seq_stream_free(whole);
    seq_stream_free(stepwise);
    seq_model_free(model);
    free(input); free(h0); free(c0); free(expected); free(h_n); free(c_n);
    free(out_whole); free(out_step); free(state_h); free(state_c);
}

void test_golden_engine_fixtures(void) {
    int i;
    CHECK(ENGINE_FIXTURE_COUNT >= 8);
    for (i = 0; i < ENGINE_FIXTURE_COUNT; i++) {
        int before = check_failures;
        run_fixture(&engine_fixtures[i]);
        if (check_failures != before) fprintf(stderr, "  (in fixture %s)\n", engine_fixtures[i].name);
    }
}

/* The fixture's weights read back through the API are the ones written, by name and shape. */
void test_golden_parameters_round_trip(void) {
    const struct engine_fixture *f = &engine_fixtures[0];
    seq_model *model = fixture_model(f);
    int i;
    if (model == NULL) return;
    for (i = 0; i < f->param_count; i++) {
        char name[128];
        int64_t count = -1;
        float *expected = to_floats(f->params[i].values, f->params[i].count);
        float *got = (float *)malloc((size_t)f->params[i].count * sizeof(float));
        snprintf(name, sizeof name, "rnn.%s", f->params[i].name);
        CHECK_OK(seq_model_get_parameter(model, name, NULL, 0, &count));
        CHECK_INT_EQ(count, f->params[i].count);
        CHECK_OK(seq_model_get_parameter(model, name, got, count, NULL));
        CHECK_FLOATS_CLOSE(got, expected, count, 0, 0);
        free(expected);
        free(got);
    }
    seq_model_free(model);
}
