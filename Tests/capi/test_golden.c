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
 *
 * Also torch's truncated-BPTT training runs (Tests/Fixtures/tbptt_training.json, made by
 * make_tbptt_fixtures.py) against seq_model_fit with "truncated_bptt".
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

/* ---- Truncated BPTT: seq_model_fit with "truncated_bptt" against torch's loop (tbptt_training.json) ---- */

struct window_log {
    int calls;
    int64_t steps;
    double loss;
};

static int32_t log_batch(const seq_progress *p, void *user_data) {
    struct window_log *log = (struct window_log *)user_data;
    log->calls++;
    log->steps = p->step;
    log->loss = p->loss;
    return 0;
}

/* A tagger with the fixture's configuration, initial weights and SGD; `window` 0 leaves the key unset. */
static seq_model *tbptt_model(const struct tbptt_fixture *f, int window) {
    char spec[512], key[32] = "";
    seq_model *model;
    int i;
    if (window > 0) snprintf(key, sizeof key, " truncated_bptt=%d", window);
    snprintf(spec, sizeof spec,
             "architecture=tagger cell=%s input_size=%d hidden_size=%d num_layers=%d output_size=%d optimizer=sgd "
             "learning_rate=%.17g momentum=%.17g%s",
             f->cell, f->input_size, f->hidden_size, f->num_layers, f->classes, f->learning_rate, f->momentum, key);
    model = model_from(spec);
    if (model == NULL) return NULL;
    for (i = 0; i < f->param_count; i++) {
        float *values = to_floats(f->initial[i].values, f->initial[i].count);
        CHECK_OK(seq_model_set_parameter(model, f->initial[i].name, values, f->initial[i].count));
        free(values);
    }
    return model;
}

static seq_dataset *tbptt_dataset(const struct tbptt_fixture *f) {
    seq_dataset *data = NULL;
    int64_t n = (int64_t)f->steps * f->batch * f->input_size;
    float *x = to_floats(f->x, n);
    CHECK_OK(seq_dataset_create(&data));
    CHECK_OK(seq_dataset_set_inputs(data, x, NULL, f->batch, f->steps, f->input_size, f->lengths, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_OK(seq_dataset_set_targets(data, f->labels, NULL, f->batch, f->steps, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    free(x);
    return data;
}

/* One epoch in one batch of all the sequences: one optimizer step per window of k steps, each
   from the state the previous window ended in, with the gradient cut there, as torch's loop with
   detached states. seq_model_fit shuffles the rows of the batch, which changes only the order of
   sums (float32 against torch's float64: rtol 1e-4, atol 1e-5). */
void test_truncated_bptt_matches_torch(void) {
    int i, j;
    CHECK(TBPTT_FIXTURE_COUNT >= 2);
    for (i = 0; i < TBPTT_FIXTURE_COUNT; i++) {
        const struct tbptt_fixture *f = &tbptt_fixtures[i];
        seq_model *model = tbptt_model(f, f->window);
        seq_dataset *data = tbptt_dataset(f);
        struct window_log log = {0, 0, 0};
        double mean = 0;
        int before = check_failures;
        if (model == NULL) continue;
        CHECK_OK(seq_model_fit(model, data, 1, f->batch, log_batch, &log));
        for (j = 0; j < f->windows; j++) mean += f->window_losses[j] / f->windows;
        CHECK_INT_EQ(log.calls, 1);
        CHECK_INT_EQ(log.steps, f->windows);
        CHECK_CLOSE(log.loss, mean, 1e-5, 1e-6);
        for (j = 0; j < f->param_count; j++) {
            float *expected = to_floats(f->final[j].values, f->final[j].count);
            float *got = (float *)malloc((size_t)f->final[j].count * sizeof(float));
            CHECK_OK(seq_model_get_parameter(model, f->final[j].name, got, f->final[j].count, NULL));
            CHECK_FLOATS_CLOSE(got, expected, f->final[j].count, 1e-4, 1e-5);
            free(expected);
            free(got);
        }
        if (check_failures != before) fprintf(stderr, "  (in tbptt fixture %s)\n", f->name);
        seq_dataset_free(data);
        seq_model_free(model);
    }
}

/* A window as long as the longest sequence is whole-sequence BPTT, bit for bit; the key is kept in
   the model's configuration and files; it is refused where windows do not apply, naming it. */
void test_truncated_bptt_whole_window_and_refusals(void) {
    const struct tbptt_fixture *f = &tbptt_fixtures[0];
    seq_model *windowed = tbptt_model(f, f->steps), *plain = tbptt_model(f, 0);
    seq_dataset *data = tbptt_dataset(f);
    seq_config *config = NULL;
    int64_t window = -1;
    int j;
    static const char *refused[] = {
        "architecture=classifier cell=gru input_size=2 hidden_size=3 output_size=2 truncated_bptt=4",
        "architecture=seq2seq cell=gru vocab_size=5 embedding_size=2 hidden_size=3 output_size=5 truncated_bptt=4",
        "cell=lstm input_size=2 hidden_size=3 output_size=2 direction=bidirectional truncated_bptt=4",
        "cell=lstm input_size=2 hidden_size=3 output_size=2 direction=reverse truncated_bptt=4",
    };
    if (windowed == NULL || plain == NULL) goto done;
    CHECK_OK(seq_model_fit(windowed, data, 2, 2, NULL, NULL));
    CHECK_OK(seq_model_fit(plain, data, 2, 2, NULL, NULL));
    for (j = 0; j < f->param_count; j++) {
        float a[256], b[256];
        CHECK(f->final[j].count <= 256);
        CHECK_OK(seq_model_get_parameter(windowed, f->final[j].name, a, 256, NULL));
        CHECK_OK(seq_model_get_parameter(plain, f->final[j].name, b, 256, NULL));
        CHECK(memcmp(a, b, (size_t)f->final[j].count * sizeof(float)) == 0);
    }
    CHECK_OK(seq_model_get_config(windowed, &config));
    CHECK_OK(seq_config_get_int(config, "truncated_bptt", &window));
    CHECK_INT_EQ(window, f->steps);
    seq_config_free(config);
    config = NULL;
    for (j = 0; j < (int)(sizeof refused / sizeof refused[0]); j++) {
        seq_model *model = NULL;
        config = config_from(refused[j]);
        CHECK_ERROR(seq_model_create(config, &model), SEQ_ERR_INVALID_ARGUMENT, "truncated_bptt");
        CHECK(model == NULL);
        seq_config_free(config);
    }
    /* 0 is whole sequences, for every architecture; negative values are refused at the setter. */
    config = config_from("architecture=classifier cell=gru input_size=2 hidden_size=3 output_size=2 truncated_bptt=0");
    {
        seq_model *model = NULL;
        CHECK_OK(seq_model_create(config, &model));
        seq_model_free(model);
    }
    CHECK_ERROR(seq_config_set_int(config, "truncated_bptt", -1), SEQ_ERR_INVALID_ARGUMENT, "truncated_bptt");
    seq_config_free(config);
done:
    seq_dataset_free(data);
    seq_model_free(windowed);
    seq_model_free(plain);
}
