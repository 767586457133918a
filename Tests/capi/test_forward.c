/*
 * seq_model_forward, seq_model_backward, seq_model_final_state and seq_model_state_gradient: the
 * logits against seq_model_predict, the backward of the model's own loss against
 * seq_model_compute_gradients, the backward of a loss of the caller's against central
 * differences (parameters, inputs, h0, c0), accumulation, state carried from one forward to the
 * next and its order, a pass kept across other calls, dropout in training passes, and the
 * refusals. Finite differences are float32 central differences (eps 1e-2) compared with rtol
 * 2e-2 and atol 2e-3; each check also requires numeric gradients above 10 * atol, so that a wrong
 * sign or a scale error fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "helpers.h"
#include "tests.h"

/* ---- Helpers ---- */

/* Fills n floats uniformly in [-scale, scale). */
static void fill(test_rng *rng, float *v, int64_t n, float scale) {
    int64_t i;
    for (i = 0; i < n; i++) v[i] = scale * rng_float(rng);
}

/* Every gradient of a model, one entry per parameter, in parameter order. */
enum { MAX_PARAMETERS = 40 };
struct gradients {
    int count;
    char names[MAX_PARAMETERS][64];
    float *values[MAX_PARAMETERS];
    int64_t sizes[MAX_PARAMETERS];
};

static void gradients_take(seq_model *model, struct gradients *g) {
    int64_t n = 0, i;
    memset(g, 0, sizeof *g);
    CHECK_OK(seq_model_parameter_count(model, &n));
    CHECK(n > 0 && n <= MAX_PARAMETERS);
    if (n > MAX_PARAMETERS) n = MAX_PARAMETERS;
    for (i = 0; i < n; i++) {
        CHECK_OK(seq_model_parameter_name(model, i, g->names[i], sizeof g->names[i], NULL));
        CHECK_OK(seq_model_get_gradient(model, g->names[i], NULL, 0, &g->sizes[i]));
        g->values[i] = (float *)calloc((size_t)(g->sizes[i] > 0 ? g->sizes[i] : 1), sizeof(float));
        CHECK_OK(seq_model_get_gradient(model, g->names[i], g->values[i], g->sizes[i], NULL));
    }
    g->count = (int)n;
}

static void gradients_free(struct gradients *g) {
    int i;
    for (i = 0; i < g->count; i++) free(g->values[i]);
    g->count = 0;
}

/* Every parameter's gradient of `actual` close to that of `expected`; a failure names the
   parameter. Also checks that the gradients are not all zero (a test of nothing). */
static void gradients_compare(const struct gradients *actual, const struct gradients *expected, double rtol, double atol,
                              const char *what) {
    int i;
    double largest = 0;
    CHECK_INT_EQ(actual->count, expected->count);
    for (i = 0; i < actual->count && i < expected->count; i++) {
        char expression[160];
        int64_t j;
        CHECK_STR_EQ(actual->names[i], expected->names[i]);
        CHECK_INT_EQ(actual->sizes[i], expected->sizes[i]);
        snprintf(expression, sizeof expression, "%s: gradient of %s", what, expected->names[i]);
        check_floats_close(__FILE__, __LINE__, expression, actual->values[i], expected->values[i],
                           actual->sizes[i] < expected->sizes[i] ? actual->sizes[i] : expected->sizes[i], rtol, atol);
        for (j = 0; j < expected->sizes[i]; j++)
            if (fabs(expected->values[i][j]) > largest) largest = fabs(expected->values[i][j]);
    }
    if (!(largest > 1e-3)) check_fail(__FILE__, __LINE__, what, "the expected gradients are all about zero (%g)", largest);
}

/* A forward that must succeed; returns its count. */
static int64_t forward_ok(seq_model *model, const float *x, const int32_t *tokens, int64_t T, int64_t B, int64_t I,
                          const int64_t *lengths, seq_layout layout, const float *h0, int64_t h0_count, const float *c0,
                          int64_t c0_count, int32_t training, float *z, int64_t capacity) {
    int64_t count = -1;
    CHECK_OK(seq_model_forward(model, x, tokens, T, B, I, lengths, layout, h0, h0_count, c0, c0_count, training, z, capacity,
                               &count));
    return count;
}

/* Index of element (t, b, k) of a [T, B, K] tensor in `layout`. */
static int64_t at(seq_layout layout, int64_t t, int64_t b, int64_t k, int64_t T, int64_t B, int64_t K) {
    return layout == SEQ_LAYOUT_TIME_MAJOR ? (t * B + b) * K + k : (b * T + t) * K + k;
}

/* ---- 1. Logits against seq_model_predict ---- */

/* Forward with training 0 gives the logits z: softmax(z) is predict's output for "classes",
   sigmoid(z) for "binary", z itself for "regression"; zeros past a length; batch-first is the
   time-major output transposed, exactly; NULL with capacity 0 only sets the count. */
void test_forward_logits_match_predict(void) {
    enum { T = 5, B = 3, I = 2, K = 3 };
    const int64_t lengths[B] = {5, 2, 4};
    static const struct {
        const char *spec;
        int kind; /* 0 classes, 1 binary, 2 regression */
        int per_step;
    } models[] = {
        {"architecture=tagger cell=gru input_size=2 hidden_size=4 output_size=3 num_layers=2 seed=11", 0, 1},
        {"architecture=tagger cell=lstm input_size=2 hidden_size=4 output_size=3 output=binary direction=bidirectional seed=12",
         1, 1},
        {"architecture=tagger cell=rnn_tanh input_size=2 hidden_size=4 output_size=3 output=regression seed=13", 2, 1},
        {"architecture=classifier cell=lstm input_size=2 hidden_size=4 output_size=3 output=binary seed=14", 1, 0},
        {"architecture=classifier cell=gru input_size=2 hidden_size=4 output_size=3 seed=15", 0, 0},
    };
    float x[T * B * I], xb[T * B * I], z[T * B * K], zb[T * B * K], p[T * B * K], expected[T * B * K];
    size_t m;
    test_rng rng;
    rng_seed(&rng, 1);
    fill(&rng, x, T * B * I, 1.0f);
    for (m = 0; m < sizeof models / sizeof models[0]; m++) {
        seq_model *model = model_from(models[m].spec);
        const int64_t rows = models[m].per_step ? T : 1, n = rows * B * K;
        int64_t count = -1, t, b, k;
        int before = check_failures, negative = 0;
        if (model == NULL) continue;
        /* The count alone. */
        CHECK_OK(seq_model_forward(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 0, NULL, 0, &count));
        CHECK_INT_EQ(count, n);
        CHECK_INT_EQ(forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 0, z, n), n);
        CHECK_OK(seq_model_predict(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, p, n, NULL));
        for (t = 0; t < rows; t++)
            for (b = 0; b < B; b++) {
                const float *zr = z + (t * B + b) * K;
                float *e = expected + (t * B + b) * K;
                double total = 0, top = zr[0];
                if (models[m].per_step && t >= lengths[b]) {
                    for (k = 0; k < K; k++) {
                        CHECK(zr[k] == 0.0f);
                        e[k] = 0;
                    }
                    continue;
                }
                for (k = 0; k < K; k++) {
                    negative |= zr[k] < 0;
                    if (zr[k] > top) top = zr[k];
                }
                for (k = 0; k < K; k++) total += exp(zr[k] - top);
                for (k = 0; k < K; k++)
                    e[k] = models[m].kind == 0   ? (float)(exp(zr[k] - top) / total)
                           : models[m].kind == 1 ? (float)(1 / (1 + exp(-(double)zr[k])))
                                                 : zr[k];
            }
        CHECK_FLOATS_CLOSE(p, expected, n, 1e-5, 1e-6);
        /* Logits, not probabilities: some are negative, or far from the probabilities. */
        if (models[m].kind != 2) CHECK(negative || max_abs_diff(z, p, n) > 0.1);
        /* Batch-first: the same numbers, transposed. */
        for (t = 0; t < T; t++)
            for (b = 0; b < B; b++) memcpy(xb + (b * T + t) * I, x + (t * B + b) * I, I * sizeof(float));
        CHECK_INT_EQ(forward_ok(model, xb, NULL, T, B, I, lengths, SEQ_LAYOUT_BATCH_FIRST, NULL, 0, NULL, 0, 0, zb, n), n);
        for (t = 0; t < rows; t++)
            for (b = 0; b < B; b++)
                for (k = 0; k < K; k++)
                    CHECK(zb[models[m].per_step ? at(SEQ_LAYOUT_BATCH_FIRST, t, b, k, T, B, K) : b * K + k] ==
                          z[(t * B + b) * K + k]);
        if (check_failures != before) fprintf(stderr, "  (with %s)\n", models[m].spec);
        seq_model_free(model);
    }
}

/* ---- 2. The model's own loss through backward = seq_model_compute_gradients ---- */

/* dL/dz of cross-entropy (softmax) or binary cross-entropy (sigmoid) at the valid steps, times
   `scale`; `garbage` at the padded ones (which backward must ignore). z, ids / values and the
   result are [rows, B, K] in `layout`. */
static void own_loss_gradient(const float *z, const int32_t *ids, const float *values, int64_t rows, int64_t B, int64_t K,
                              const int64_t *lengths, seq_layout layout, double scale, float garbage, float *dz) {
    int64_t t, b, k;
    for (t = 0; t < rows; t++)
        for (b = 0; b < B; b++) {
            const int64_t base = at(layout, t, b, 0, rows, B, K), target = at(layout, t, b, 0, rows, B, 1);
            double top = z[base], total = 0;
            if (lengths != NULL && t >= lengths[b]) {
                for (k = 0; k < K; k++) dz[base + k] = garbage;
                continue;
            }
            for (k = 0; k < K; k++)
                if (z[base + k] > top) top = z[base + k];
            for (k = 0; k < K; k++) total += exp(z[base + k] - top);
            for (k = 0; k < K; k++) {
                double g = ids != NULL ? exp(z[base + k] - top) / total - (ids[target] == k)
                                       : 1 / (1 + exp(-(double)z[base + k])) - values[base + k];
                dz[base + k] = (float)(scale * g);
            }
        }
}

struct own_loss_case {
    const char *spec;
    int tokens, classifier;
    seq_layout layout;
    const char *reduction;
};

/* With dL/dz built in C from the logits, zero + forward(training 1) + backward gives every
   parameter gradient, dL/dx and dL/dh0 (dL/dc0) of seq_model_compute_gradients on the same batch
   and targets: "classes" with reduction "sum", a language model with "mean_over_steps" (divided
   by the valid steps), a "binary" classifier with "mean_over_batch" (divided by B); unequal
   lengths; both layouts. */
void test_backward_of_the_models_own_loss_equals_compute_gradients(void) {
    enum { T = 5, B = 3, I = 3, V = 6, MAXK = 6 };
    static const struct own_loss_case cases[] = {
        {"cell=lstm input_size=3 hidden_size=4 num_layers=2 output_size=4 reduction=sum seed=21", 0, 0,
         SEQ_LAYOUT_TIME_MAJOR, "sum"},
        {"architecture=language_model cell=gru vocab_size=6 embedding_size=3 hidden_size=5 reduction=mean_over_steps seed=22",
         1, 0, SEQ_LAYOUT_BATCH_FIRST, "mean_over_steps"},
        {"architecture=classifier cell=gru input_size=3 hidden_size=4 output_size=3 output=binary direction=bidirectional "
         "reduction=mean_over_batch seed=23",
         0, 1, SEQ_LAYOUT_TIME_MAJOR, "mean_over_batch"},
    };
    const int64_t lengths[B] = {5, 2, 4};
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        seq_model *model = model_from(cases[c].spec);
        float x[T * B * I], z[T * B * MAXK], dz[T * B * MAXK], values[B * MAXK];
        float in_reference[T * B * I], in_got[T * B * I], h_reference[64], h_got[64], c_reference[64], c_got[64];
        float norms_reference[64], norms_got[64];
        int64_t norm_rows = -1, norm_steps = -1;
        int32_t tokens[T * B], ids[T * B];
        int64_t K, rows, n, count = -1, in_count = -1, h_count = -1, c_count = -1, t, b, valid = 0;
        struct gradients reference, got;
        double scale;
        test_rng rng;
        int before = check_failures;
        if (model == NULL) continue;
        rng_seed(&rng, 200 + c);
        K = cases[c].tokens ? V : cases[c].classifier ? 3 : 4;
        rows = cases[c].classifier ? 1 : T;
        fill(&rng, x, T * B * I, 1.0f);
        for (t = 0; t < T * B; t++) {
            tokens[t] = rng_below(&rng, V);
            ids[t] = rng_below(&rng, (int)K);
        }
        for (t = 0; t < B * K; t++) values[t] = (float)rng_below(&rng, 2);
        for (b = 0; b < B; b++) valid += lengths[b];
        scale = strcmp(cases[c].reduction, "sum") == 0 ? 1 : strcmp(cases[c].reduction, "mean_over_batch") == 0 ? 1.0 / B
                                                                                                              : 1.0 / valid;
        if (cases[c].classifier) scale = 1.0 / B; /* one step per sequence: both means divide by B */

        /* The reference: seq_model_compute_gradients. */
        CHECK_OK(seq_model_compute_gradients(model, cases[c].tokens ? NULL : x, cases[c].tokens ? tokens : NULL, T, B,
                                             cases[c].tokens ? 1 : I, lengths, cases[c].layout, cases[c].classifier ? NULL : ids,
                                             cases[c].classifier ? values : NULL, rows, NULL, NULL));
        gradients_take(model, &reference);
        CHECK_OK(seq_model_input_gradient(model, in_reference, T * B * I, &in_count));
        CHECK_OK(seq_model_state_gradient(model, h_reference, 64, &h_count, c_reference, 64, &c_count));
        CHECK_OK(seq_model_gradient_norms(model, norms_reference, 64, &norm_rows, &norm_steps));

        /* The same through forward and backward. */
        CHECK_OK(seq_model_zero_gradients(model));
        n = forward_ok(model, cases[c].tokens ? NULL : x, cases[c].tokens ? tokens : NULL, T, B, cases[c].tokens ? 1 : I,
                       lengths, cases[c].layout, NULL, 0, NULL, 0, 1, z, T * B * MAXK);
        CHECK_INT_EQ(n, rows * B * K);
        own_loss_gradient(z, cases[c].classifier ? NULL : ids, cases[c].classifier ? values : NULL, rows, B, K,
                          cases[c].classifier ? NULL : lengths, cases[c].layout, scale, 1e3f, dz);
        CHECK_OK(seq_model_backward(model, dz, n));
        gradients_take(model, &got);
        gradients_compare(&got, &reference, 1e-4, 1e-6, cases[c].spec);
        CHECK_OK(seq_model_input_gradient(model, in_got, T * B * I, &count));
        CHECK_INT_EQ(count, in_count);
        CHECK_FLOATS_CLOSE(in_got, in_reference, in_count, 1e-4, 1e-6);
        for (t = 0, valid = 0; t < in_count; t++) valid |= fabsf(in_reference[t]) > 1e-4f;
        CHECK(valid); /* not all zero */
        CHECK_OK(seq_model_state_gradient(model, h_got, 64, &count, c_got, 64, NULL));
        CHECK_INT_EQ(count, h_count);
        CHECK_FLOATS_CLOSE(h_got, h_reference, h_count, 1e-4, 1e-6);
        if (c_count > 0) CHECK_FLOATS_CLOSE(c_got, c_reference, c_count, 1e-4, 1e-6);
        /* The per-step norms of dL/da<t> too. */
        CHECK_OK(seq_model_gradient_norms(model, norms_got, 64, &count, NULL));
        CHECK_INT_EQ(count, norm_rows);
        CHECK_FLOATS_CLOSE(norms_got, norms_reference, norm_rows * norm_steps, 1e-4, 1e-6);
        if (check_failures != before) fprintf(stderr, "  (with %s)\n", cases[c].spec);
        gradients_free(&reference);
        gradients_free(&got);
        seq_model_free(model);
    }
}

/* ---- 3. A loss of the caller's against central differences ---- */

/* The batch, initial state and loss of a finite-difference check. x, h0 and c0 are perturbed in
   place. */
struct fd_problem {
    seq_model *model;
    float *x;
    int64_t T, B, I;
    const int64_t *lengths;
    seq_layout layout;
    float *h0, *c0;
    int64_t h0_count, c0_count, z_count;
    int per_step; /* a tagger's [T, B, K] output (padded steps), not a classifier's [B, K] */
    const float *w; /* NULL: L = 0.5 * sum(z^2); else L = sum(w * z) */
    float *z;       /* scratch of z_count floats */
};

static double fd_loss_of(const struct fd_problem *p, const float *z) {
    double loss = 0;
    int64_t i;
    for (i = 0; i < p->z_count; i++) loss += p->w != NULL ? (double)p->w[i] * z[i] : 0.5 * (double)z[i] * z[i];
    return loss;
}

/* L at the current parameters, x, h0 and c0, from a forward with training 0. */
static double fd_loss(const struct fd_problem *p) {
    forward_ok(p->model, p->x, NULL, p->T, p->B, p->I, p->lengths, p->layout, p->h0, p->h0_count, p->c0, p->c0_count, 0, p->z,
               p->z_count);
    return fd_loss_of(p, p->z);
}

/* (L(v + eps) - L(v - eps)) / 2 eps for a value of x, h0 or c0. */
static double fd_of_value(const struct fd_problem *p, float *v, float eps) {
    const float saved = *v;
    double up, down;
    *v = saved + eps;
    up = fd_loss(p);
    *v = saved - eps;
    down = fd_loss(p);
    *v = saved;
    return (up - down) / (2.0 * eps);
}

/* The same for element j of a parameter (set with seq_model_set_parameter, then restored). */
static double fd_of_parameter(const struct fd_problem *p, const char *name, float *values, int64_t count, int64_t j,
                              float eps) {
    const float saved = values[j];
    double up, down;
    values[j] = saved + eps;
    CHECK_OK(seq_model_set_parameter(p->model, name, values, count));
    up = fd_loss(p);
    values[j] = saved - eps;
    CHECK_OK(seq_model_set_parameter(p->model, name, values, count));
    down = fd_loss(p);
    values[j] = saved;
    CHECK_OK(seq_model_set_parameter(p->model, name, values, count));
    return (up - down) / (2.0 * eps);
}

/* What the comparisons saw: the largest |analytic - numeric| and the largest |numeric| (a check
   must see gradients well above its tolerance, or a wrong sign or scale would pass). */
struct fd_stats {
    double error, largest;
};

static void fd_compare(struct fd_stats *s, const char *what, double analytic, double numeric) {
    const double rtol = 2e-2, atol = 2e-3;
    double e = fabs(analytic - numeric);
    check_close(__FILE__, __LINE__, what, analytic, numeric, rtol, atol);
    if (e > s->error || isnan(e)) s->error = e;
    if (fabs(numeric) > s->largest) s->largest = fabs(numeric);
}

static void fd_check_power(const struct fd_stats *s, const char *what) {
    /* 10 * atol: a negated or doubled gradient fails its comparison. */
    if (!(s->largest > 2e-2)) check_fail(__FILE__, __LINE__, what, "numeric gradients all below %g (largest %g)", 2e-2, s->largest);
}

/* Backpropagates dL/dz of p's loss after a forward with training 1 (with `garbage` at padded
   steps, which must be ignored), then checks every parameter (up to `samples` elements of each),
   dL/dx, dL/dh0 and dL/dc0 against central differences. */
static void fd_check(struct fd_problem *p, int samples, float garbage, const char *label) {
    const float eps = 1e-2f;
    const int64_t K = p->z_count / (p->per_step ? p->T * p->B : p->B);
    float *z = (float *)malloc((size_t)p->z_count * sizeof(float));
    float *dz = (float *)malloc((size_t)p->z_count * sizeof(float));
    float *dx = (float *)malloc((size_t)(p->T * p->B * p->I) * sizeof(float));
    float *dh = (float *)malloc((size_t)(p->h0_count > 0 ? p->h0_count : 1) * sizeof(float));
    float *dc = (float *)malloc((size_t)(p->c0_count > 0 ? p->c0_count : 1) * sizeof(float));
    struct gradients g;
    struct fd_stats parameters = {0, 0}, inputs = {0, 0}, h_stats = {0, 0}, c_stats = {0, 0};
    int64_t i, count = -1, h_count = -1, c_count = -1;
    char what[160];
    int before = check_failures, k;

    CHECK_OK(seq_model_zero_gradients(p->model));
    CHECK_INT_EQ(forward_ok(p->model, p->x, NULL, p->T, p->B, p->I, p->lengths, p->layout, p->h0, p->h0_count, p->c0,
                            p->c0_count, 1, z, p->z_count),
                 p->z_count);
    for (i = 0; i < p->z_count; i++) dz[i] = p->w != NULL ? p->w[i] : z[i];
    /* Padded steps of a per-step output: garbage that must not count. */
    if (p->per_step && p->lengths != NULL) {
        int64_t t, b;
        for (t = 0; t < p->T; t++)
            for (b = 0; b < p->B; b++)
                if (t >= p->lengths[b])
                    for (k = 0; k < K; k++) dz[at(p->layout, t, b, k, p->T, p->B, K)] = garbage;
    }
    CHECK_OK(seq_model_backward(p->model, dz, p->z_count));
    gradients_take(p->model, &g);
    CHECK_OK(seq_model_input_gradient(p->model, dx, p->T * p->B * p->I, &count));
    CHECK_INT_EQ(count, p->T * p->B * p->I);
    CHECK_OK(seq_model_state_gradient(p->model, dh, p->h0_count, &h_count, dc, p->c0_count, &c_count));
    CHECK_INT_EQ(h_count, p->h0_count);
    CHECK_INT_EQ(c_count, p->c0_count);

    for (k = 0; k < g.count; k++) {
        float *values = (float *)malloc((size_t)g.sizes[k] * sizeof(float));
        int s;
        CHECK_OK(seq_model_get_parameter(p->model, g.names[k], values, g.sizes[k], NULL));
        for (s = 0; s < samples; s++) {
            /* Spread over the parameter, the first and the last element included. */
            int64_t j = samples > 1 ? (int64_t)s * (g.sizes[k] - 1) / (samples - 1) : 0;
            if (s > 0 && j == (int64_t)(s - 1) * (g.sizes[k] - 1) / (samples - 1)) continue;
            snprintf(what, sizeof what, "%s: dL/d%s[%lld]", label, g.names[k], (long long)j);
            fd_compare(&parameters, what, g.values[k][j], fd_of_parameter(p, g.names[k], values, g.sizes[k], j, eps));
        }
        free(values);
    }
    for (i = 0; i < p->T * p->B * p->I; i++) {
        snprintf(what, sizeof what, "%s: dL/dx[%lld]", label, (long long)i);
        fd_compare(&inputs, what, dx[i], fd_of_value(p, &p->x[i], eps));
    }
    for (i = 0; i < p->h0_count; i++) {
        snprintf(what, sizeof what, "%s: dL/dh0[%lld]", label, (long long)i);
        fd_compare(&h_stats, what, dh[i], fd_of_value(p, &p->h0[i], eps));
    }
    for (i = 0; i < p->c0_count; i++) {
        snprintf(what, sizeof what, "%s: dL/dc0[%lld]", label, (long long)i);
        fd_compare(&c_stats, what, dc[i], fd_of_value(p, &p->c0[i], eps));
    }
    fd_check_power(&parameters, "parameters");
    fd_check_power(&inputs, "dL/dx");
    if (p->h0_count > 0) fd_check_power(&h_stats, "dL/dh0");
    if (p->c0_count > 0) fd_check_power(&c_stats, "dL/dc0");
    printf("  %s: max |analytic - numeric|: parameters %.2e (largest %.2f), x %.2e, h0 %.2e, c0 %.2e\n", label,
           parameters.error, parameters.largest, inputs.error, h_stats.error, c_stats.error);
    if (check_failures != before) fprintf(stderr, "  (in %s)\n", label);
    gradients_free(&g);
    free(z);
    free(dz);
    free(dx);
    free(dh);
    free(dc);
}

/* L = sum(w * z) (dL/dz = w) for a 2-layer bidirectional LSTM classifier from a given h0 and c0:
   every parameter (a sample of each), dL/dx, dL/dh0 and dL/dc0 against central differences of
   L from forwards with training 0 (float32: eps 1e-2, rtol 2e-2, atol 2e-3). */
void test_backward_matches_finite_differences_lstm_classifier(void) {
    enum { T = 4, B = 2, I = 2, H = 3, K = 2, LD = 4 };
    const int64_t lengths[B] = {4, 3};
    float x[T * B * I], h0[LD * B * H], c0[LD * B * H], w[B * K], z[B * K];
    struct fd_problem p;
    test_rng rng;
    seq_model *model = model_from("architecture=classifier cell=lstm input_size=2 hidden_size=3 num_layers=2 "
                                  "direction=bidirectional output_size=2 output=binary seed=31");
    if (model == NULL) return;
    rng_seed(&rng, 31);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, h0, LD * B * H, 0.8f);
    fill(&rng, c0, LD * B * H, 0.8f);
    fill(&rng, w, B * K, 6.0f);
    p = (struct fd_problem){.model = model, .x = x, .T = T, .B = B, .I = I, .lengths = lengths,
                            .layout = SEQ_LAYOUT_TIME_MAJOR, .h0 = h0, .h0_count = LD * B * H, .c0 = c0,
                            .c0_count = LD * B * H, .z_count = B * K, .per_step = 0, .w = w, .z = z};
    fd_check(&p, 4, 0.0f, "bidirectional 2-layer LSTM classifier, sum(w*z)");
    /* dL/dx at the padded step (t = 3, b = 1) is zero, and so is its numeric value (checked above). */
    {
        float dx[T * B * I];
        CHECK_OK(seq_model_input_gradient(model, dx, T * B * I, NULL));
        CHECK(dx[(3 * B + 1) * I] == 0.0f && dx[(3 * B + 1) * I + 1] == 0.0f);
    }
    seq_model_free(model);
}

/* L = 0.5 * sum(z^2) (dL/dz = z, garbage at the padded steps) for a 2-layer GRU tagger from a
   given h0, batch-first, unequal lengths; and an LSTM tagger with a projection (h0 [.., Hout],
   c0 [.., H]) running in reverse, with L = sum(w * z). */
void test_backward_matches_finite_differences_taggers(void) {
    enum { T = 5, B = 3, I = 3, H = 4, K = 3, L = 2 };
    const int64_t lengths[B] = {5, 2, 4};
    float x[T * B * I], h0[L * B * H], c0[B * H], w[T * B * K], z[T * B * K];
    struct fd_problem p;
    test_rng rng;
    seq_model *gru = model_from("cell=gru input_size=3 hidden_size=4 num_layers=2 output_size=3 output=regression seed=32");
    seq_model *lstm = model_from("cell=lstm input_size=3 hidden_size=4 proj_size=2 direction=reverse output_size=3 "
                                 "output=regression seed=33");
    rng_seed(&rng, 32);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, h0, L * B * H, 0.8f);
    fill(&rng, c0, B * H, 0.8f);
    fill(&rng, w, T * B * K, 2.0f);
    if (gru != NULL) {
        p = (struct fd_problem){.model = gru, .x = x, .T = T, .B = B, .I = I, .lengths = lengths,
                                .layout = SEQ_LAYOUT_BATCH_FIRST, .h0 = h0, .h0_count = L * B * H, .c0 = NULL,
                                .c0_count = 0, .z_count = T * B * K, .per_step = 1, .w = NULL, .z = z};
        fd_check(&p, 3, 1e3f, "2-layer GRU tagger, 0.5*sum(z^2), batch-first");
    }
    if (lstm != NULL) {
        /* h0 [1, B, Hout] with Hout = proj_size = 2; c0 [1, B, H]. */
        p = (struct fd_problem){.model = lstm, .x = x, .T = T, .B = B, .I = I, .lengths = lengths,
                                .layout = SEQ_LAYOUT_TIME_MAJOR, .h0 = h0, .h0_count = B * 2, .c0 = c0,
                                .c0_count = B * H, .z_count = T * B * K, .per_step = 1, .w = w, .z = z};
        fd_check(&p, 3, -1e3f, "reverse LSTM tagger with proj_size, sum(w*z)");
    }
    seq_model_free(gru);
    seq_model_free(lstm);
}

/* ---- 4. Accumulation ---- */

/* zero; forward + backward(g1); forward + backward(g2) = zero; forward + backward(g1 + g2). The
   input gradient is that of the last backward alone; the gradient norms are [L*D, T]. */
void test_backward_accumulates(void) {
    enum { T = 4, B = 2, I = 2, K = 3 };
    const int64_t lengths[B] = {4, 3};
    float x[T * B * I], z[T * B * K], g1[T * B * K], g2[T * B * K], sum[T * B * K];
    float dx2[T * B * I], dx_last[T * B * I], dh2[2 * B * 5], dh_last[2 * B * 5], norms[64];
    seq_model *model = model_from("cell=lstm input_size=2 hidden_size=5 num_layers=2 output_size=3 seed=41");
    struct gradients twice, once;
    int64_t i, rows = -1, steps = -1;
    test_rng rng;
    if (model == NULL) return;
    rng_seed(&rng, 41);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, g1, T * B * K, 1.0f);
    fill(&rng, g2, T * B * K, 1.0f);
    for (i = 0; i < T * B * K; i++) sum[i] = g1[i] + g2[i];

    CHECK_OK(seq_model_zero_gradients(model));
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, T * B * K);
    CHECK_OK(seq_model_backward(model, g1, T * B * K));
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, T * B * K);
    CHECK_OK(seq_model_backward(model, g2, T * B * K));
    gradients_take(model, &twice);
    CHECK_OK(seq_model_input_gradient(model, dx_last, T * B * I, NULL));
    CHECK_OK(seq_model_state_gradient(model, dh_last, 2 * B * 5, NULL, NULL, 0, NULL)); /* c: the count only */
    CHECK_OK(seq_model_gradient_norms(model, norms, 64, &rows, &steps));
    CHECK_INT_EQ(rows, 2);
    CHECK_INT_EQ(steps, T);
    CHECK(norms[0] > 0 && norms[T + T - 1] > 0);

    CHECK_OK(seq_model_zero_gradients(model));
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, T * B * K);
    CHECK_OK(seq_model_backward(model, sum, T * B * K));
    gradients_take(model, &once);
    gradients_compare(&twice, &once, 1e-5, 1e-6, "backward(g1) + backward(g2) vs backward(g1 + g2)");

    /* dL/dx and dL/dh0 of the second backward are those of g2 alone. */
    CHECK_OK(seq_model_zero_gradients(model));
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, T * B * K);
    CHECK_OK(seq_model_backward(model, g2, T * B * K));
    CHECK_OK(seq_model_input_gradient(model, dx2, T * B * I, NULL));
    CHECK_FLOATS_CLOSE(dx_last, dx2, T * B * I, 1e-6, 1e-7);
    CHECK_OK(seq_model_state_gradient(model, dh2, 2 * B * 5, NULL, NULL, 0, NULL));
    CHECK_FLOATS_CLOSE(dh_last, dh2, 2 * B * 5, 1e-6, 1e-7);
    gradients_free(&twice);
    gradients_free(&once);
    seq_model_free(model);
}

/* ---- 5. State carried from one forward to the next ---- */

/* A forward over steps T1..T from h0 (c0) = seq_model_final_state of a forward over 0..T1 gives
   the logits of steps T1..T of one forward over 0..T, for a 2-layer GRU and a 2-layer LSTM with a
   projection (h [L, B, Hout], c [L, B, H]); the final state is the stream's after the same
   steps. */
void test_forward_carries_state(void) {
    enum { T = 6, T1 = 2, B = 2, I = 2, K = 2, MAXS = 64 };
    static const struct {
        const char *spec;
        int64_t h_count, c_count;
    } cases[] = {
        {"cell=gru input_size=2 hidden_size=4 num_layers=2 output_size=2 output=regression seed=51", 2 * B * 4, 0},
        {"cell=lstm input_size=2 hidden_size=4 proj_size=2 num_layers=2 output_size=2 output=regression seed=52", 2 * B * 2,
         2 * B * 4},
    };
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        seq_model *model = model_from(cases[c].spec);
        seq_stream *stream = NULL;
        float x[T * B * I], whole[T * B * K], rest[T * B * K], cold[T * B * K], h[MAXS], cs[MAXS], sh[MAXS], sc[MAXS],
            h1[MAXS], c1[MAXS], y[T * B * K];
        int64_t h_count = -1, c_count = -1, ch = cases[c].c_count;
        int before = check_failures;
        test_rng rng;
        if (model == NULL) continue;
        rng_seed(&rng, 500 + c);
        fill(&rng, x, T * B * I, 1.0f);
        forward_ok(model, x, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 0, whole, T * B * K);
        /* The whole sequence's final state is the stream's. */
        CHECK_OK(seq_model_final_state(model, h, MAXS, &h_count, cs, MAXS, &c_count));
        CHECK_INT_EQ(h_count, cases[c].h_count);
        CHECK_INT_EQ(c_count, ch);
        CHECK_OK(seq_stream_create(model, B, &stream));
        CHECK_OK(seq_stream_feed(stream, x, NULL, T, B, I, SEQ_LAYOUT_TIME_MAJOR, y, T * B * K, NULL));
        CHECK_OK(seq_stream_get_state(stream, sh, MAXS, NULL, sc, MAXS, NULL));
        CHECK_FLOATS_CLOSE(h, sh, h_count, 1e-5, 1e-6);
        if (ch > 0) CHECK_FLOATS_CLOSE(cs, sc, ch, 1e-5, 1e-6);
        seq_stream_free(stream);

        /* Two pieces (the first with training 1: the same state, no dropout). */
        forward_ok(model, x, NULL, T1, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, y, T * B * K);
        CHECK_OK(seq_model_final_state(model, h1, MAXS, NULL, c1, MAXS, NULL));
        forward_ok(model, x + T1 * B * I, NULL, T - T1, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, h1, h_count, ch > 0 ? c1 : NULL, ch,
                   0, rest, T * B * K);
        CHECK_FLOATS_CLOSE(rest, whole + T1 * B * K, (T - T1) * B * K, 1e-5, 1e-6);
        /* The second piece's final state is the whole sequence's. */
        CHECK_OK(seq_model_final_state(model, h1, MAXS, NULL, c1, MAXS, NULL));
        CHECK_FLOATS_CLOSE(h1, h, h_count, 1e-5, 1e-6);
        if (ch > 0) CHECK_FLOATS_CLOSE(c1, cs, ch, 1e-5, 1e-6);
        /* The state matters: from zeros the same piece differs. */
        forward_ok(model, x + T1 * B * I, NULL, T - T1, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 0, cold, T * B * K);
        CHECK(max_abs_diff(cold, whole + T1 * B * K, B * K) > 1e-3);
        /* h alone (c0 NULL: zeros) is not the same as h and c, for an LSTM. */
        if (ch > 0) {
            CHECK_OK(seq_model_forward(model, x, NULL, T1, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 0, y, T * B * K,
                                       NULL));
            CHECK_OK(seq_model_final_state(model, h1, MAXS, NULL, NULL, 0, NULL));
            forward_ok(model, x + T1 * B * I, NULL, T - T1, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, h1, h_count, NULL, 0, 0, cold,
                       T * B * K);
            CHECK(max_abs_diff(cold, whole + T1 * B * K, B * K) > 1e-3);
        }
        if (check_failures != before) fprintf(stderr, "  (with %s)\n", cases[c].spec);
        seq_model_free(model);
    }
}

/* The final state is taken at each sequence's own length (the reverse direction's at step 0): a
   sequence of length 3 in a batch of 6 steps ends in the state it ends in alone, for a 2-layer
   LSTM and a bidirectional GRU. */
void test_final_state_at_each_length(void) {
    enum { T = 6, B = 2, I = 2, MAXS = 64 };
    static const struct {
        const char *spec;
        int64_t rows, hout, hidden;
    } cases[] = {
        {"cell=lstm input_size=2 hidden_size=3 num_layers=2 output_size=2 seed=53", 2, 3, 3},
        {"cell=gru input_size=2 hidden_size=3 direction=bidirectional output_size=2 seed=54", 2, 3, 0},
        {"architecture=classifier cell=lstm input_size=2 hidden_size=3 proj_size=1 direction=bidirectional num_layers=2 "
         "output_size=2 seed=55",
         4, 1, 3},
    };
    const int64_t lengths[B] = {6, 3};
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        seq_model *model = model_from(cases[c].spec);
        float x[T * B * I], z[T * B * 2], h[MAXS], cs[MAXS], h3[MAXS], c3[MAXS], hx[MAXS];
        int64_t h_count = -1, c_count = -1, r;
        int before = check_failures;
        test_rng rng;
        if (model == NULL) continue;
        rng_seed(&rng, 530 + c);
        fill(&rng, x, T * B * I, 1.0f);
        forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 0, z, T * B * 2);
        CHECK_OK(seq_model_final_state(model, NULL, 0, &h_count, NULL, 0, &c_count));
        CHECK_INT_EQ(h_count, cases[c].rows * B * cases[c].hout);
        CHECK_INT_EQ(c_count, cases[c].rows * B * cases[c].hidden);
        CHECK_OK(seq_model_final_state(model, h, MAXS, NULL, cs, MAXS, NULL));
        /* The first 3 steps alone. */
        forward_ok(model, x, NULL, 3, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 0, z, T * B * 2);
        CHECK_OK(seq_model_final_state(model, h3, MAXS, NULL, c3, MAXS, NULL));
        for (r = 0; r < cases[c].rows; r++) {
            /* Sequence 1 in row r: [r, 1, :]. */
            CHECK_FLOATS_CLOSE(h + (r * B + 1) * cases[c].hout, h3 + (r * B + 1) * cases[c].hout, cases[c].hout, 1e-5, 1e-6);
            if (cases[c].hidden > 0)
                CHECK_FLOATS_CLOSE(cs + (r * B + 1) * cases[c].hidden, c3 + (r * B + 1) * cases[c].hidden, cases[c].hidden, 1e-5,
                                   1e-6);
        }
        /* The whole 6 steps of sequence 1 would end elsewhere: the check has power. */
        forward_ok(model, x, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 0, z, T * B * 2);
        CHECK_OK(seq_model_final_state(model, hx, MAXS, NULL, NULL, 0, NULL));
        CHECK(max_abs_diff(hx + cases[c].hout * B * (cases[c].rows - 1), h3 + cases[c].hout * B * (cases[c].rows - 1),
                           cases[c].hout * B) > 1e-4);
        if (check_failures != before) fprintf(stderr, "  (with %s)\n", cases[c].spec);
        seq_model_free(model);
    }
}

/* ---- 6. The pass survives other calls ---- */

/* forward(training 1, batch A); then predict, evaluate, a stream, a forward that only asks for
   its count and forwards that fail, on other batches; then backward: the same gradients, dL/dx
   and dL/dh0 as a backward right after the forward. */
void test_backward_pass_survives_other_calls(void) {
    enum { T = 4, B = 2, I = 2, K = 3, T2 = 3, B2 = 3 };
    const int64_t lengths[B] = {4, 2};
    float x[T * B * I], x2[T2 * B2 * I], z[T * B * K], g[T * B * K], y[T2 * B2 * K], small[4];
    float dx1[T * B * I], dx2[T * B * I], dh1[2 * B * 4], dh2[2 * B * 4], dc1[2 * B * 4], dc2[2 * B * 4], h0[2 * B2 * 4];
    int32_t labels[T2 * B2] = {0, 1, 2, 2, 1, 0, 1, 1, 1};
    seq_model *model = model_from("cell=lstm input_size=2 hidden_size=4 num_layers=2 output_size=3 seed=61");
    struct gradients before, after;
    seq_stream *stream = NULL;
    int64_t count = -1;
    double loss = 0;
    test_rng rng;
    if (model == NULL) return;
    rng_seed(&rng, 61);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, x2, T2 * B2 * I, 1.0f);
    fill(&rng, g, T * B * K, 1.0f);
    fill(&rng, h0, 2 * B2 * 4, 0.5f);

    CHECK_OK(seq_model_zero_gradients(model));
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_BATCH_FIRST, NULL, 0, NULL, 0, 1, z, T * B * K);
    CHECK_OK(seq_model_backward(model, g, T * B * K));
    gradients_take(model, &before);
    CHECK_OK(seq_model_input_gradient(model, dx1, T * B * I, NULL));
    CHECK_OK(seq_model_state_gradient(model, dh1, 2 * B * 4, NULL, dc1, 2 * B * 4, NULL));

    CHECK_OK(seq_model_zero_gradients(model));
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_BATCH_FIRST, NULL, 0, NULL, 0, 1, z, T * B * K);
    CHECK_OK(seq_model_predict(model, x2, NULL, T2, B2, I, NULL, SEQ_LAYOUT_TIME_MAJOR, y, T2 * B2 * K, NULL));
    CHECK_OK(seq_model_evaluate(model, x2, NULL, T2, B2, I, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, T2, NULL, &loss));
    CHECK_OK(seq_stream_create(model, B2, &stream));
    CHECK_OK(seq_stream_feed(stream, x2, NULL, T2, B2, I, SEQ_LAYOUT_TIME_MAJOR, y, T2 * B2 * K, NULL));
    seq_stream_free(stream);
    /* A gradient computation reads the weights and changes none: the pass stays valid. */
    CHECK_OK(seq_model_compute_gradients(model, x2, NULL, T2, B2, I, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, T2, NULL,
                                         &loss));
    CHECK_OK(seq_model_zero_gradients(model));
    CHECK_OK(seq_model_forward(model, x2, NULL, T2, B2, I, NULL, SEQ_LAYOUT_TIME_MAJOR, h0, 2 * B2 * 4, NULL, 0, 1, NULL, 0,
                               &count));
    CHECK_INT_EQ(count, T2 * B2 * K);
    CHECK_ERROR(seq_model_forward(model, x2, NULL, T2, B2, I, NULL, SEQ_LAYOUT_TIME_MAJOR, h0, 2 * B2 * 4 - 1, NULL, 0, 1, y,
                                  T2 * B2 * K, NULL),
                SEQ_ERR_INVALID_ARGUMENT, "argument 'h0_count'");
    CHECK_ERROR(seq_model_forward(model, x2, NULL, T2, B2, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, small, 4, NULL),
                SEQ_ERR_BUFFER_TOO_SMALL, "output");
    CHECK_ERROR(seq_model_forward(model, x2, NULL, T2, B2, I + 1, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, y,
                                  T2 * B2 * K, NULL),
                SEQ_ERR_INVALID_ARGUMENT, "input_size");
    /* The final state is still that of batch A. */
    CHECK_OK(seq_model_final_state(model, NULL, 0, &count, NULL, 0, NULL));
    CHECK_INT_EQ(count, 2 * B * 4);
    CHECK_OK(seq_model_backward(model, g, T * B * K));
    gradients_take(model, &after);
    gradients_compare(&after, &before, 1e-6, 1e-7, "backward after other calls");
    CHECK_OK(seq_model_input_gradient(model, dx2, T * B * I, NULL));
    CHECK_FLOATS_CLOSE(dx2, dx1, T * B * I, 1e-6, 1e-7);
    CHECK_OK(seq_model_state_gradient(model, dh2, 2 * B * 4, NULL, dc2, 2 * B * 4, NULL));
    CHECK_FLOATS_CLOSE(dh2, dh1, 2 * B * 4, 1e-6, 1e-7);
    CHECK_FLOATS_CLOSE(dc2, dc1, 2 * B * 4, 1e-6, 1e-7);
    gradients_free(&before);
    gradients_free(&after);
    seq_model_free(model);
}

/* seq_model_input_gradient and seq_model_state_gradient follow the last call that computed
   gradients: a backward, seq_model_compute_gradients or seq_model_train_step, each with its
   own batch's shape; seq_model_fit keeps none. */
void test_state_gradient_follows_the_last_gradient_call(void) {
    enum { T = 4, B = 3, I = 2, K = 2, T2 = 3, B2 = 2, H = 3, L = 2 };
    float x[T * B * I], x2[T2 * B2 * I], z[T * B * K], g[T * B * K], buffer[64], dx[64], dh[64], dx_ref[64], dh_ref[64];
    int32_t labels[T2 * B2] = {0, 1, 1, 0, 1, 1};
    seq_model *model = model_from("cell=gru input_size=2 hidden_size=3 num_layers=2 output_size=2 seed=62");
    seq_model *twin = model_from("cell=gru input_size=2 hidden_size=3 num_layers=2 output_size=2 seed=62");
    seq_dataset *data = NULL;
    int64_t count = -1, h_count = -1, c_count = -1;
    test_rng rng;
    if (model == NULL || twin == NULL) goto done;
    rng_seed(&rng, 62);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, x2, T2 * B2 * I, 1.0f);
    fill(&rng, g, T * B * K, 1.0f);
    CHECK_ERROR(seq_model_state_gradient(model, buffer, 64, NULL, NULL, 0, NULL), SEQ_ERR_STATE,
                "seq_model_state_gradient: argument 'model'");
    CHECK_OK(seq_model_compute_gradients(twin, x2, NULL, T2, B2, I, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, T2, NULL, NULL));
    CHECK_OK(seq_model_input_gradient(twin, dx_ref, 64, NULL));
    CHECK_OK(seq_model_state_gradient(twin, dh_ref, 64, NULL, NULL, 0, NULL));

    forward_ok(model, x, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, T * B * K);
    CHECK_OK(seq_model_backward(model, g, T * B * K));
    CHECK_OK(seq_model_input_gradient(model, NULL, 0, &count));
    CHECK_INT_EQ(count, T * B * I);
    CHECK_OK(seq_model_state_gradient(model, NULL, 0, &h_count, NULL, 0, &c_count));
    CHECK_INT_EQ(h_count, L * B * H);
    CHECK_INT_EQ(c_count, 0);

    CHECK_OK(seq_model_compute_gradients(model, x2, NULL, T2, B2, I, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, T2, NULL, NULL));
    CHECK_OK(seq_model_input_gradient(model, dx, 64, &count));
    CHECK_INT_EQ(count, T2 * B2 * I);
    CHECK_FLOATS_CLOSE(dx, dx_ref, T2 * B2 * I, 1e-6, 1e-7);
    CHECK_OK(seq_model_state_gradient(model, dh, 64, &h_count, NULL, 0, NULL));
    CHECK_INT_EQ(h_count, L * B2 * H);
    CHECK_FLOATS_CLOSE(dh, dh_ref, L * B2 * H, 1e-6, 1e-7);
    CHECK(max_abs_diff(dh_ref, dh_ref + 1, L * B2 * H - 1) > 0); /* not a constant */

    forward_ok(model, x, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, T * B * K);
    CHECK_OK(seq_model_backward(model, g, T * B * K));
    CHECK_OK(seq_model_state_gradient(model, NULL, 0, &h_count, NULL, 0, NULL));
    CHECK_INT_EQ(h_count, L * B * H);

    /* A train step's: computed before its update, at the same parameters as the twin's. */
    CHECK_OK(seq_model_train_step(model, x2, NULL, T2, B2, I, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, T2, NULL, NULL));
    CHECK_OK(seq_model_input_gradient(model, dx, 64, &count));
    CHECK_INT_EQ(count, T2 * B2 * I);
    CHECK_FLOATS_CLOSE(dx, dx_ref, T2 * B2 * I, 1e-6, 1e-7);
    CHECK_OK(seq_model_state_gradient(model, dh, 64, &h_count, NULL, 0, NULL));
    CHECK_INT_EQ(h_count, L * B2 * H);
    CHECK_FLOATS_CLOSE(dh, dh_ref, L * B2 * H, 1e-6, 1e-7);

    CHECK_OK(seq_dataset_create(&data));
    CHECK_OK(seq_dataset_set_inputs(data, x2, NULL, B2, T2, I, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_OK(seq_dataset_set_targets(data, labels, NULL, B2, T2, 1, NULL, SEQ_LAYOUT_TIME_MAJOR));
    CHECK_OK(seq_model_fit(model, data, 1, B2, NULL, NULL));
    CHECK_ERROR(seq_model_state_gradient(model, dh, 64, NULL, NULL, 0, NULL), SEQ_ERR_STATE, "seq_model_fit");
done:
    seq_dataset_free(data);
    seq_model_free(model);
    seq_model_free(twin);
}

/* ---- 7. Refusals ---- */

/* Backward without a pass to backpropagate: before any forward, after a forward with training
   0, twice, after the parameters changed (set_parameter, apply_gradients, train_step; the pass is
   then dropped). */
void test_backward_refusals_of_state(void) {
    enum { T = 3, B = 2, I = 2, K = 2, N = T * B * K };
    float x[T * B * I], z[N], g[N], p[16];
    int32_t labels[T * B] = {0, 1, 1, 0, 1, 1};
    seq_model *model = model_from("cell=gru input_size=2 hidden_size=3 num_layers=2 output_size=2 optimizer=sgd seed=71");
    int64_t count = -1;
    test_rng rng;
    if (model == NULL) return;
    rng_seed(&rng, 71);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, g, N, 1.0f);
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "seq_model_backward: argument 'model'");
    CHECK_STR_CONTAINS(seq_last_error(), "no seq_model_forward");
    CHECK_ERROR(seq_model_final_state(model, p, 16, NULL, NULL, 0, NULL), SEQ_ERR_STATE, "seq_model_final_state: argument 'model'");
    CHECK_ERROR(seq_model_state_gradient(model, p, 16, NULL, NULL, 0, NULL), SEQ_ERR_STATE,
                "seq_model_state_gradient: argument 'model'");
    /* A count query runs nothing: still no pass, no final state. */
    CHECK_OK(seq_model_forward(model, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 1, NULL, 0, &count));
    CHECK_INT_EQ(count, N);
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "argument 'model'");
    CHECK_ERROR(seq_model_final_state(model, p, 16, NULL, NULL, 0, NULL), SEQ_ERR_STATE, "argument 'model'");

    forward_ok(model, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 0, z, N);
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "training 0");
    CHECK_OK(seq_model_final_state(model, p, 16, &count, NULL, 0, NULL)); /* a training-0 forward has a final state */
    CHECK_INT_EQ(count, 2 * B * 3);

    forward_ok(model, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 1, z, N);
    CHECK_OK(seq_model_backward(model, g, N));
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "already");

    /* A training-1 forward replaced by a training-0 one. */
    forward_ok(model, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 1, z, N);
    forward_ok(model, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 0, z, N);
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "training 0");

    /* Parameters changed between forward and backward: refused, and the pass dropped. */
    forward_ok(model, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 1, z, N);
    CHECK_OK(seq_model_get_parameter(model, "head.bias", p, 16, NULL));
    CHECK_OK(seq_model_set_parameter(model, "head.bias", p, K)); /* the same values: still a change */
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "parameters changed");
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "argument 'model'");

    forward_ok(model, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 1, z, N);
    CHECK_OK(seq_model_apply_gradients(model));
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "parameters changed");

    forward_ok(model, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 1, z, N);
    CHECK_OK(seq_model_train_step(model, x, NULL, T, B, I, NULL, 0, labels, NULL, T, NULL, NULL));
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "parameters changed");

    /* After all that, a forward and a backward still work. */
    forward_ok(model, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 1, z, N);
    CHECK_OK(seq_model_backward(model, g, N));
    seq_model_free(model);
}

/* Backward's arguments: NULLs; a wrong count and non-finite values at valid steps are refused and
   the pass kept (a correct backward then gives the reference gradients); NaN at a padded step is
   accepted and ignored. */
void test_backward_refusals_of_arguments(void) {
    enum { T = 3, B = 2, I = 2, K = 2, N = T * B * K };
    const int64_t lengths[B] = {3, 1};
    float x[T * B * I], z[N], g[N], bad[N], dx_ref[T * B * I], dx[T * B * I];
    seq_model *model = model_from("cell=lstm input_size=2 hidden_size=3 output_size=2 seed=72");
    struct gradients reference, got;
    test_rng rng;
    int64_t t, k;
    if (model == NULL) return;
    rng_seed(&rng, 72);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, g, N, 1.0f);
    /* Padded steps of sequence 1 (t = 1, 2) hold zeros in the reference. */
    for (t = 1; t < T; t++)
        for (k = 0; k < K; k++) g[(t * B + 1) * K + k] = 0;
    CHECK_OK(seq_model_zero_gradients(model));
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, N);
    CHECK_OK(seq_model_backward(model, g, N));
    gradients_take(model, &reference);
    CHECK_OK(seq_model_input_gradient(model, dx_ref, T * B * I, NULL));

    CHECK_OK(seq_model_zero_gradients(model));
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, N);
    CHECK_ERROR(seq_model_backward(NULL, g, N), SEQ_ERR_NULL_POINTER, "seq_model_backward: argument 'model'");
    CHECK_ERROR(seq_model_backward(model, NULL, N), SEQ_ERR_NULL_POINTER, "seq_model_backward: argument 'gradient'");
    CHECK_ERROR(seq_model_backward(model, g, N - 1), SEQ_ERR_INVALID_ARGUMENT, "argument 'count'");
    CHECK_STR_CONTAINS(seq_last_error(), "12");
    CHECK_ERROR(seq_model_backward(model, g, N + 1), SEQ_ERR_INVALID_ARGUMENT, "argument 'count'");
    CHECK_ERROR(seq_model_backward(model, g, -1), SEQ_ERR_INVALID_ARGUMENT, "argument 'count'");
    CHECK_ERROR(seq_model_backward(model, g, 0), SEQ_ERR_INVALID_ARGUMENT, "argument 'count'");
    memcpy(bad, g, sizeof bad);
    bad[(2 * B + 0) * K + 1] = NAN; /* t = 2, b = 0: valid */
    CHECK_ERROR(seq_model_backward(model, bad, N), SEQ_ERR_INVALID_ARGUMENT, "argument 'gradient'");
    bad[(2 * B + 0) * K + 1] = -INFINITY;
    CHECK_ERROR(seq_model_backward(model, bad, N), SEQ_ERR_INVALID_ARGUMENT, "argument 'gradient'");
    bad[(2 * B + 0) * K + 1] = g[(2 * B + 0) * K + 1];
    bad[0] = INFINITY;
    CHECK_ERROR(seq_model_backward(model, bad, N), SEQ_ERR_INVALID_ARGUMENT, "argument 'gradient'");
    /* Nothing changed: the gradients are still zero. */
    {
        float head[K * 3], zeros[K * 3] = {0};
        CHECK_OK(seq_model_get_gradient(model, "head.weight", head, K * 3, NULL));
        CHECK(max_abs_diff(head, zeros, K * 3) == 0);
    }
    /* NaN and infinity at padded steps: accepted, ignored. */
    memcpy(bad, g, sizeof bad);
    bad[(1 * B + 1) * K + 0] = NAN;
    bad[(2 * B + 1) * K + 1] = INFINITY;
    bad[(2 * B + 1) * K + 0] = 1e30f;
    CHECK_OK(seq_model_backward(model, bad, N));
    gradients_take(model, &got);
    gradients_compare(&got, &reference, 1e-6, 1e-7, "backward after refused ones, NaN at padded steps");
    CHECK_OK(seq_model_input_gradient(model, dx, T * B * I, NULL));
    CHECK_FLOATS_CLOSE(dx, dx_ref, T * B * I, 1e-6, 1e-7);
    gradients_free(&got);
    /* A finite dL/dz whose backward overflows Float (head.bias sums it over the valid steps):
       SEQ_ERR_NUMERIC, the gradients accumulated so far kept exactly, the pass spent. */
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, N);
    for (k = 0; k < N; k++) bad[k] = 3e38f;
    CHECK_ERROR(seq_model_backward(model, bad, N), SEQ_ERR_NUMERIC, "overflow");
    gradients_take(model, &got);
    gradients_compare(&got, &reference, 0, 0, "gradients after an overflowing backward");
    CHECK_ERROR(seq_model_backward(model, g, N), SEQ_ERR_STATE, "backpropagated already");
    gradients_free(&reference);
    gradients_free(&got);
    seq_model_free(model);
}

/* An update refused because it would overflow the weights leaves them as they were, and with
   them the pass kept by a forward: it can still be backpropagated. */
void test_refused_update_keeps_the_pass(void) {
    enum { T = 3, B = 2, I = 2, K = 2, N = T * B * K };
    float x[T * B * I], z[N], g[N], before[K * 3], after[K * 3];
    seq_model *model = model_from("cell=gru input_size=2 hidden_size=3 output_size=2 optimizer=sgd "
                                  "learning_rate=1e38 seed=74");
    test_rng rng;
    if (model == NULL) return;
    rng_seed(&rng, 74);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, g, N, 1000.0f); /* gradients of ~100 times 1e38 overflow Float */
    CHECK_OK(seq_model_zero_gradients(model));
    forward_ok(model, x, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, N);
    CHECK_OK(seq_model_backward(model, g, N));
    CHECK_OK(seq_model_get_parameter(model, "head.weight", before, K * 3, NULL));
    forward_ok(model, x, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z, N);
    CHECK_ERROR(seq_model_apply_gradients(model), SEQ_ERR_NUMERIC, "parameters are unchanged");
    CHECK_OK(seq_model_get_parameter(model, "head.weight", after, K * 3, NULL));
    CHECK(max_abs_diff(before, after, K * 3) == 0);
    CHECK_OK(seq_model_backward(model, g, N));
    seq_model_free(model);
}

/* Forward's own arguments (those it shares with seq_model_predict are test_errors.c's), and the
   buffers of final_state and state_gradient. A refused forward keeps the previous pass. */
void test_forward_refusals(void) {
    enum { T = 3, B = 2, I = 2, K = 2, H = 3, N = T * B * K };
    float x[T * B * I], z[N], g[N], h0[64], c0[64], out[64], out2[64], bad[64];
    int32_t tokens[T * B] = {0, 1, 2, 3, 4, 0};
    seq_model *gru = model_from("cell=gru input_size=2 hidden_size=3 num_layers=2 output_size=2 seed=73");
    seq_model *lstm = model_from("cell=lstm input_size=2 hidden_size=3 output_size=2 seed=74");
    seq_model *s2s = model_from("architecture=seq2seq cell=gru vocab_size=5 embedding_size=3 hidden_size=4 output_size=5");
    int64_t count = -1, h_count = -1, c_count = -1, i;
    test_rng rng;
    if (gru == NULL || lstm == NULL || s2s == NULL) goto done;
    rng_seed(&rng, 73);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, g, N, 1.0f);
    fill(&rng, h0, 64, 0.5f);
    fill(&rng, c0, 64, 0.5f);

    CHECK_ERROR(seq_model_forward(NULL, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 0, z, N, NULL), SEQ_ERR_NULL_POINTER,
                "seq_model_forward: argument 'model'");
    CHECK_ERROR(seq_model_forward(s2s, NULL, tokens, T, B, 1, NULL, 0, NULL, 0, NULL, 0, 0, z, N, NULL),
                SEQ_ERR_INVALID_ARGUMENT, "seq_model_forward: argument 'model'");
    CHECK_ERROR(seq_model_final_state(s2s, out, 64, NULL, NULL, 0, NULL), SEQ_ERR_STATE, "argument 'model'");
    CHECK_ERROR(seq_model_backward(s2s, z, N), SEQ_ERR_INVALID_ARGUMENT, "seq2seq");

    /* A pass to keep through the refusals below. */
    forward_ok(gru, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 1, z, N);
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 2, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'training'");
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, -1, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'training'");
    /* h0 [L * D, B, H] = 2 * 1 * 2 * 3 = 12. */
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, h0, 11, NULL, 0, 0, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'h0_count'");
    CHECK_STR_CONTAINS(seq_last_error(), "12");
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, h0, 6, NULL, 0, 0, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'h0_count'"); /* one layer's worth */
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, h0, 0, NULL, 0, 0, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'h0_count'");
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, h0, -12, NULL, 0, 0, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'h0_count'");
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, NULL, 12, NULL, 0, 0, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'h0_count'");
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, h0, 12, c0, 12, 0, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'c0'");
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 12, 0, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'c0_count'");
    memcpy(bad, h0, sizeof bad);
    bad[5] = NAN;
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, bad, 12, NULL, 0, 0, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'h0'");
    bad[5] = INFINITY;
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, bad, 12, NULL, 0, 0, z, N, NULL), SEQ_ERR_INVALID_ARGUMENT,
                "argument 'h0'");
    /* Output buffer: NULL with a capacity, negative, too small (untouched, count still set). */
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 0, NULL, N, NULL), SEQ_ERR_NULL_POINTER,
                "argument 'output'");
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 0, out, -1, NULL),
                SEQ_ERR_INVALID_ARGUMENT, "capacity");
    for (i = 0; i < 64; i++) out[i] = 42.0f;
    count = -1;
    CHECK_ERROR(seq_model_forward(gru, x, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 0, out, N - 1, &count),
                SEQ_ERR_BUFFER_TOO_SMALL, "output");
    CHECK_INT_EQ(count, N);
    for (i = 0; i < 64; i++) CHECK(out[i] == 42.0f);
    /* Every refusal above kept the pass. */
    CHECK_OK(seq_model_backward(gru, g, N));

    /* An LSTM's c0: [L * D, B, H] = 6. */
    CHECK_ERROR(seq_model_forward(lstm, x, NULL, T, B, I, NULL, 0, h0, B * H, c0, B * H - 1, 0, z, N, NULL),
                SEQ_ERR_INVALID_ARGUMENT, "argument 'c0_count'");
    CHECK_ERROR(seq_model_forward(lstm, x, NULL, T, B, I, NULL, 0, h0, B * H, NULL, B * H, 0, z, N, NULL),
                SEQ_ERR_INVALID_ARGUMENT, "argument 'c0_count'");
    memcpy(bad, c0, sizeof bad);
    bad[0] = -INFINITY;
    CHECK_ERROR(seq_model_forward(lstm, x, NULL, T, B, I, NULL, 0, h0, B * H, bad, B * H, 0, z, N, NULL),
                SEQ_ERR_INVALID_ARGUMENT, "argument 'c0'");
    /* c0 alone (h0 NULL: zeros) is accepted. */
    forward_ok(lstm, x, NULL, T, B, I, NULL, 0, NULL, 0, c0, B * H, 1, z, N);

    /* final_state's buffers: counts alone; too small (both untouched: checked before either is
       written); NULL with a capacity; negative capacities. */
    CHECK_OK(seq_model_final_state(lstm, NULL, 0, &h_count, NULL, 0, &c_count));
    CHECK_INT_EQ(h_count, B * H);
    CHECK_INT_EQ(c_count, B * H);
    for (i = 0; i < 64; i++) out[i] = out2[i] = 42.0f;
    h_count = c_count = -1;
    CHECK_ERROR(seq_model_final_state(lstm, out, B * H - 1, &h_count, out2, 64, &c_count), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'h'");
    CHECK_ERROR(seq_model_final_state(lstm, out, 64, &h_count, out2, B * H - 1, &c_count), SEQ_ERR_BUFFER_TOO_SMALL,
                "argument 'c'");
    for (i = 0; i < 64; i++) CHECK(out[i] == 42.0f && out2[i] == 42.0f);
    CHECK_ERROR(seq_model_final_state(lstm, NULL, B * H, NULL, out2, 64, NULL), SEQ_ERR_NULL_POINTER, "argument 'h'");
    CHECK_ERROR(seq_model_final_state(lstm, out, 64, NULL, NULL, B * H, NULL), SEQ_ERR_NULL_POINTER, "argument 'c'");
    CHECK_ERROR(seq_model_final_state(lstm, out, -1, NULL, out2, 64, NULL), SEQ_ERR_INVALID_ARGUMENT, "h_capacity");
    CHECK_ERROR(seq_model_final_state(lstm, out, 64, NULL, out2, -1, NULL), SEQ_ERR_INVALID_ARGUMENT, "c_capacity");
    CHECK_ERROR(seq_model_final_state(NULL, out, 64, NULL, out2, 64, NULL), SEQ_ERR_NULL_POINTER, "argument 'model'");
    /* A GRU has no c: count 0. */
    CHECK_OK(seq_model_final_state(gru, out, 64, &h_count, out2, 64, &c_count));
    CHECK_INT_EQ(h_count, 2 * B * H);
    CHECK_INT_EQ(c_count, 0);

    /* state_gradient's: the same rules. */
    CHECK_OK(seq_model_backward(lstm, g, N));
    CHECK_OK(seq_model_state_gradient(lstm, NULL, 0, &h_count, NULL, 0, &c_count));
    CHECK_INT_EQ(h_count, B * H);
    CHECK_INT_EQ(c_count, B * H);
    for (i = 0; i < 64; i++) out[i] = out2[i] = 42.0f;
    CHECK_ERROR(seq_model_state_gradient(lstm, out, B * H - 1, NULL, out2, 64, NULL), SEQ_ERR_BUFFER_TOO_SMALL, "argument 'h'");
    CHECK_ERROR(seq_model_state_gradient(lstm, out, 64, NULL, out2, 1, NULL), SEQ_ERR_BUFFER_TOO_SMALL, "argument 'c'");
    for (i = 0; i < 64; i++) CHECK(out[i] == 42.0f && out2[i] == 42.0f);
    CHECK_ERROR(seq_model_state_gradient(lstm, NULL, 1, NULL, NULL, 0, NULL), SEQ_ERR_NULL_POINTER, "argument 'h'");
    CHECK_ERROR(seq_model_state_gradient(lstm, out, INT64_MIN, NULL, NULL, 0, NULL), SEQ_ERR_INVALID_ARGUMENT, "h_capacity");
    CHECK_ERROR(seq_model_state_gradient(NULL, out, 64, NULL, out2, 64, NULL), SEQ_ERR_NULL_POINTER, "argument 'model'");
    CHECK_OK(seq_model_state_gradient(lstm, out, B * H, NULL, out2, B * H, NULL));
    CHECK(out[B * H] == 42.0f && out2[B * H] == 42.0f); /* nothing past the count */
    CHECK(out[0] != 42.0f && out2[0] != 42.0f);
done:
    seq_model_free(gru);
    seq_model_free(lstm);
    seq_model_free(s2s);
}

/* With dropout, training 1 runs as in training (the logits differ from training 0's, which are
   predict's) and backward uses that pass's own masks: for L = sum(w * z) the head's bias gets
   the sum of w over the valid steps whatever the masks. */
void test_forward_training_uses_dropout(void) {
    enum { T = 4, B = 2, I = 3, K = 2, N = T * B * K };
    const int64_t lengths[B] = {4, 2};
    float x[T * B * I], z0[N], z1[N], p[N], w[N], bias[K], expected[K] = {0, 0};
    seq_model *model = model_from("cell=gru input_size=3 hidden_size=8 num_layers=3 dropout=0.5 output_size=2 "
                                  "output=regression seed=81");
    int64_t t, b, k;
    test_rng rng;
    if (model == NULL) return;
    rng_seed(&rng, 81);
    fill(&rng, x, T * B * I, 1.0f);
    fill(&rng, w, N, 1.0f);
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 0, z0, N);
    CHECK_OK(seq_model_predict(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, p, N, NULL));
    CHECK_FLOATS_CLOSE(z0, p, N, 0, 0);
    CHECK_OK(seq_model_zero_gradients(model));
    forward_ok(model, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, z1, N);
    CHECK(max_abs_diff(z0, z1, N) > 1e-3);
    for (t = 0; t < T; t++)
        for (b = 0; b < B; b++)
            for (k = 0; k < K; k++)
                if (t < lengths[b]) expected[k] += w[(t * B + b) * K + k];
    CHECK_OK(seq_model_backward(model, w, N));
    CHECK_OK(seq_model_get_gradient(model, "head.bias", bias, K, NULL));
    CHECK_FLOATS_CLOSE(bias, expected, K, 1e-5, 1e-6);
    seq_model_free(model);
}

/* The order of h0, c0 and the final state, [L * D, B, ..] with a layer's reverse direction after
   its forward one: a bidirectional layer started from h0 rows (a, b) ends where a forward-only
   and a reverse-only layer with its weights end, started from a and from b. */
void test_bidirectional_state_order(void) {
    enum { T = 5, B = 2, I = 2, H = 3, MAXS = 64 };
    static const char *const cells[] = {"gru", "lstm"};
    const int64_t lengths[B] = {5, 3};
    size_t c;
    for (c = 0; c < 2; c++) {
        static const char *const suffixes[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
        char spec[256], name[64];
        seq_model *both, *one[2];
        float x[T * B * I], z[T * B * 2], h0[2 * B * H], c0[2 * B * H], h[MAXS], cs[MAXS], h1[MAXS], c1[MAXS], p[256];
        const int lstm = c == 1;
        int d, k, before = check_failures;
        test_rng rng;
        snprintf(spec, sizeof spec, "cell=%s input_size=2 hidden_size=3 output_size=2 direction=bidirectional seed=91",
                 cells[c]);
        both = model_from(spec);
        snprintf(spec, sizeof spec, "cell=%s input_size=2 hidden_size=3 output_size=2 direction=forward seed=92", cells[c]);
        one[0] = model_from(spec);
        snprintf(spec, sizeof spec, "cell=%s input_size=2 hidden_size=3 output_size=2 direction=reverse seed=93", cells[c]);
        one[1] = model_from(spec);
        if (both == NULL || one[0] == NULL || one[1] == NULL) goto next;
        rng_seed(&rng, 90 + c);
        fill(&rng, x, T * B * I, 1.0f);
        fill(&rng, h0, 2 * B * H, 0.8f);
        fill(&rng, c0, 2 * B * H, 0.8f);
        /* The one-direction models get the bidirectional layer's weights of their direction. */
        for (d = 0; d < 2; d++)
            for (k = 0; k < 4; k++) {
                int64_t count = 0;
                snprintf(name, sizeof name, "rnn.%s%s", suffixes[k], d == 1 ? "_reverse" : "");
                CHECK_OK(seq_model_get_parameter(both, name, p, 256, &count));
                snprintf(name, sizeof name, "rnn.%s", suffixes[k]);
                CHECK_OK(seq_model_set_parameter(one[d], name, p, count));
            }
        forward_ok(both, x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, h0, 2 * B * H, lstm ? c0 : NULL, lstm ? 2 * B * H : 0,
                   0, z, T * B * 2);
        CHECK_OK(seq_model_final_state(both, h, MAXS, NULL, cs, MAXS, NULL));
        for (d = 0; d < 2; d++) {
            /* Direction d's rows: [d, B, H]. */
            forward_ok(one[d], x, NULL, T, B, I, lengths, SEQ_LAYOUT_TIME_MAJOR, h0 + d * B * H, B * H,
                       lstm ? c0 + d * B * H : NULL, lstm ? B * H : 0, 0, z, T * B * 2);
            CHECK_OK(seq_model_final_state(one[d], h1, MAXS, NULL, c1, MAXS, NULL));
            CHECK_FLOATS_CLOSE(h + d * B * H, h1, B * H, 1e-5, 1e-6);
            if (lstm) CHECK_FLOATS_CLOSE(cs + d * B * H, c1, B * H, 1e-5, 1e-6);
        }
        /* Power: the directions' final states differ. */
        CHECK(max_abs_diff(h, h + B * H, B * H) > 1e-3);
        if (check_failures != before) fprintf(stderr, "  (with cell %s)\n", cells[c]);
    next:
        seq_model_free(both);
        seq_model_free(one[0]);
        seq_model_free(one[1]);
    }
}
