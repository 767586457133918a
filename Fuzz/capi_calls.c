/*
 * libFuzzer target "capi-calls": the fuzzer's bytes are a program of C ABI calls on a few handle
 * slots (configs, models, datasets, streams), each call with fuzzed arguments: configuration keys
 * and values, models created from fuzzed configurations, predict / train_step / evaluate /
 * compute_gradients / forward (then backward, final state, state gradient) / generate / decode
 * with fuzzed sizes, lengths, layouts, initial states and capacities,
 * parameter and gradient get/set with fuzzed names and counts, dataset inputs and targets with
 * fuzzed sizes, fit, streams (fed for y-hat or for the top layer's a<t>), ONNX import, save and
 * load, and handles that are NULL, freed, of the wrong kind or garbage.
 *
 * Built by scripts/fuzz against a libseqcore built with -sanitize=fuzzer,address. It finds
 * crashes, traps, ASan reports (a read or write past a buffer whose size the call was given
 * truthfully), leaks, timeouts, and violations of the status oracle in capi_fuzz.h (an unknown
 * status, SEQ_ERR_INTERNAL, a message that does not name the function).
 *
 * Sizes follow the rule of fuzz_buffer_plan: a buffer is always as large as its sizes say, unless
 * the sizes are beyond the library's limit (then the library must refuse them unread). Sizes that
 * are legal but too large to fuzz quickly (a config's hidden_size of 10^5, a stream of 10^8
 * sequences) are folded into small ones: they are valid requests for much memory, not bad input.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capi_fuzz.h"

enum { SLOTS = 4 };

static seq_config *configs[SLOTS];
static seq_model *models[SLOTS];
static seq_dataset *datasets[SLOTS];
static seq_stream *streams[SLOTS];
/* The last handle of each kind that was freed: a stale pointer to pass. */
static void *freed_config, *freed_model, *freed_dataset, *freed_stream;
static char string_scratch[4200], string_scratch2[4200];
static char save_path[256];

static const char *const config_keys[] = {
    "cell", "gru_variant", "input_size", "hidden_size", "num_layers", "direction", "merge", "proj_size", "peepholes",
    "bias", "dropout", "initialization", "forget_bias", "seed", "architecture", "vocab_size", "embedding_size",
    "padding_index", "output_size", "output", "reduction", "ignore_index", "start_token", "stop_token", "optimizer",
    "learning_rate", "momentum", "weight_decay", "beta1", "beta2", "epsilon", "clip_norm", "clip_value", "dampening",
    "nesterov", "amsgrad", "alpha", "centered", "maximize", "lr_schedule", "lr_step_size", "lr_gamma", "lr_period",
    "lr_min", "warmup_steps", "warmup_start_factor", "", "Cell", "hidden"};

static const char *const config_words[] = {
    "rnn_tanh", "rnn_relu", "gru", "lstm", "classic", "linear_before_reset", "simplified", "forward", "reverse",
    "bidirectional", "concat", "sum", "pytorch", "xavier", "orthogonal", "tagger", "classifier", "language_model",
    "seq2seq", "binary", "classes", "regression", "mean_over_steps", "mean_over_batch", "sgd", "adam", "adamw",
    "rmsprop", "constant", "step", "cosine", "", "LSTM", "lstm "};

static const char *const parameter_names[] = {
    "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_hr_l0",
    "rnn.weight_ih_l0_reverse", "rnn.weight_ih_l1", "rnn.weight_ci_l0", "head.weight", "head.bias",
    "embedding.weight", "decoder.weight_ih_l0", "decoder_embedding.weight", "", "rnn", "head.bias "};

static const char *const onnx_words[] = {"rnn", "decoder", "W", "R", "B", "P", "", "encoder", "w"};

/* Keys whose values size an allocation; values the library accepts but that would need gigabytes
   are folded to 0...64. */
static int is_size_key(const char *key) {
    static const char *const keys[] = {"input_size", "hidden_size", "proj_size", "vocab_size", "embedding_size",
                                       "output_size", "padding_index", "start_token", "stop_token", "num_layers"};
    size_t i;
    if (key == NULL) return 0;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0) return 1;
    return 0;
}

/* A handle argument: mostly a slot (which may be empty, i.e. NULL), sometimes a stale, garbage,
   misaligned or wrong-kind pointer. */
static void *pick_handle(fuzz_input *in, void **slots, void *stale) {
    uint8_t b = fuzz_u8(in);
    if (b < 224) return slots[b % SLOTS];
    switch (b % 8) {
    case 0: return NULL;
    case 1: return stale;
    case 2: return (void *)(uintptr_t)0x10;
    case 3: return (void *)UINTPTR_MAX;
    case 4: return slots[0] ? (char *)slots[0] + 8 : NULL;
    case 5: return configs[b % SLOTS];
    case 6: return models[b % SLOTS];
    default: return streams[b % SLOTS] ? (void *)streams[b % SLOTS] : (void *)datasets[b % SLOTS];
    }
}

#define PICK_CONFIG(in) ((seq_config *)pick_handle(in, (void **)configs, freed_config))
#define PICK_MODEL(in) ((seq_model *)pick_handle(in, (void **)models, freed_model))
#define PICK_DATASET(in) ((seq_dataset *)pick_handle(in, (void **)datasets, freed_dataset))
#define PICK_STREAM(in) ((seq_stream *)pick_handle(in, (void **)streams, freed_stream))

/* What a C caller reads from seq_model_get_config to size its buffers; defaults when the handle is
   not a live model. */
struct model_info {
    int64_t input_size, vocab_size, output_size, architecture; /* 0 tagger, 1 classifier, 2 LM, 3 seq2seq */
};

static struct model_info model_info(seq_model *model) {
    struct model_info info = {3, 0, 2, 0};
    seq_config *config = NULL;
    char text[32];
    if (seq_model_get_config(model, &config) != SEQ_OK) return info;
    (void)seq_config_get_int(config, "input_size", &info.input_size);
    (void)seq_config_get_int(config, "vocab_size", &info.vocab_size);
    (void)seq_config_get_int(config, "output_size", &info.output_size);
    if (seq_config_get_string(config, "architecture", text, sizeof text, NULL) == SEQ_OK)
        info.architecture = strcmp(text, "classifier") == 0 ? 1 : strcmp(text, "language_model") == 0 ? 2
                            : strcmp(text, "seq2seq") == 0 ? 3 : 0;
    seq_config_free(config);
    if (info.architecture == 2) info.output_size = info.vocab_size;
    return info;
}

/* The buffers of one call, freed together at its end. */
struct buffers {
    void *owned[12];
    int count;
};

static void *buffer(struct buffers *b, int64_t elements, size_t element_size) {
    void *p = calloc((size_t)(elements > 0 ? elements : 1), element_size);
    if (p == NULL) abort();
    b->owned[b->count++] = p;
    return p;
}

static void release(struct buffers *b) {
    while (b->count > 0) free(b->owned[--b->count]);
}

/* A buffer of `elements` floats (from sizes whose product that is) per fuzz_buffer_plan; NULL with
   *skip set when the call must be skipped. */
static float *float_input(fuzz_input *in, struct buffers *b, int64_t elements, int *skip) {
    static float refused[16];
    switch (fuzz_buffer_plan(elements)) {
    case FUZZ_BUFFER_REAL: {
        float *p = buffer(b, elements, sizeof(float));
        fuzz_floats(in, p, elements);
        return p;
    }
    case FUZZ_BUFFER_REFUSED: return refused;
    default: *skip = 1; return NULL;
    }
}

static int32_t *token_input(fuzz_input *in, struct buffers *b, int64_t elements, int64_t bound, int *skip) {
    static int32_t refused[16];
    switch (fuzz_buffer_plan(elements)) {
    case FUZZ_BUFFER_REAL: {
        int32_t *p = buffer(b, elements, sizeof(int32_t));
        fuzz_tokens(in, p, elements, bound);
        return p;
    }
    case FUZZ_BUFFER_REFUSED: return refused;
    default: *skip = 1; return NULL;
    }
}

/* B lengths in 1...T, sometimes with one out of range; or NULL. */
static int64_t *lengths_input(fuzz_input *in, struct buffers *b, int64_t batch, int64_t steps, int *skip) {
    static int64_t refused[16];
    int64_t *p, i;
    if (fuzz_u8(in) < 128) return NULL;
    switch (fuzz_buffer_plan(batch)) {
    case FUZZ_BUFFER_REAL: break;
    case FUZZ_BUFFER_REFUSED: return refused;
    default: *skip = 1; return NULL;
    }
    p = buffer(b, batch, sizeof(int64_t));
    for (i = 0; i < batch; i++) p[i] = steps > 0 ? 1 + (i * 5) % steps : 1;
    if (batch > 0 && fuzz_u8(in) % 4 == 0) p[fuzz_u8(in) % batch] = fuzz_size(in);
    return p;
}

static seq_layout pick_layout(fuzz_input *in) {
    uint8_t b = fuzz_u8(in);
    static const seq_layout bad[] = {2, -1, INT32_MIN, INT32_MAX};
    return b < 224 ? (seq_layout)(b % 2) : bad[b % 4];
}

/* An output buffer and its capacity: the capacity never exceeds the buffer, except that NULL may
   come with any capacity (the library must refuse it unless the capacity is 0). */
static void *output_buffer(fuzz_input *in, struct buffers *b, int64_t needed, size_t element_size, int64_t *capacity) {
    int64_t size = needed < 0 ? 0 : needed > FUZZ_MAX_BUFFER ? FUZZ_MAX_BUFFER : needed;
    void *p = buffer(b, size, element_size);
    switch (fuzz_u8(in) % 8) {
    case 0: *capacity = size > 0 ? size - 1 : 0; return p;
    case 1: *capacity = 0; return NULL;
    case 2: *capacity = fuzz_size(in) | 1; return NULL;
    case 3: *capacity = -1 - (int64_t)fuzz_u8(in); return p;
    case 4: *capacity = fuzz_size(in); if (*capacity > size || *capacity < 0) *capacity = size; return p;
    default: *capacity = size; return p;
    }
}

/* A size that is folded to 0...limit when it lies in (limit, maxElements]: legal, but too much
   work to fuzz. Larger ones stay: the library must refuse them. */
static int64_t bounded_size(fuzz_input *in, int64_t limit) {
    int64_t v = fuzz_size(in);
    if (v > limit && v <= FUZZ_LIBRARY_LIMIT) v %= limit + 1;
    return v;
}

/* ---- the operations ---- */

static void op_config(fuzz_input *in) {
    uint8_t which = fuzz_u8(in) % 9, slot = fuzz_u8(in) % SLOTS;
    seq_config *config = PICK_CONFIG(in);
    const char *key = fuzz_string(in, config_keys, sizeof config_keys / sizeof config_keys[0], string_scratch);
    int64_t value64 = 0;
    double value = 0;
    char text[64];
    int64_t length = 0, capacity;
    switch (which) {
    case 0:
        if (configs[slot] == NULL) FUZZ_CALL(seq_config_create, &configs[slot]);
        break;
    case 1:
        freed_config = configs[slot];
        seq_config_free(configs[slot]);
        configs[slot] = NULL;
        break;
    case 2: {
        int64_t v = fuzz_size(in);
        /* KNOWN BUG (see docs/bad-input.md, num_layers rows): seq_model_create builds every layer
           before it notices the total is over the limit; num_layers is folded like the other
           sizes until that is fixed. */
        if (is_size_key(key) && v > 64 && v <= FUZZ_LIBRARY_LIMIT) v %= 65;
        FUZZ_CALL(seq_config_set_int, config, key, v);
        break;
    }
    case 3: FUZZ_CALL(seq_config_set_float, config, key, fuzz_double(in)); break;
    case 4:
        FUZZ_CALL(seq_config_set_string, config, key,
                  fuzz_string(in, config_words, sizeof config_words / sizeof config_words[0], string_scratch2));
        break;
    case 5: FUZZ_CALL(seq_config_unset, config, key); break;
    case 6: FUZZ_CALL(seq_config_get_int, config, key, fuzz_u8(in) % 8 ? &value64 : NULL); break;
    case 7: FUZZ_CALL(seq_config_get_float, config, key, fuzz_u8(in) % 8 ? &value : NULL); break;
    default:
    {
        char *out;
        capacity = fuzz_u8(in) % 8 ? (int64_t)(fuzz_u8(in) % (sizeof text + 1)) : -1 - (int64_t)fuzz_u8(in);
        out = fuzz_u8(in) % 8 ? text : NULL;
        FUZZ_CALL(seq_config_get_string, config, key, out, capacity, fuzz_u8(in) % 2 ? &length : NULL);
    }
        break;
    }
}

static void op_model(fuzz_input *in) {
    uint8_t which = fuzz_u8(in) % 5, slot = fuzz_u8(in) % SLOTS;
    switch (which) {
    case 0:
        if (models[slot] == NULL) {
            seq_config *config = PICK_CONFIG(in);
            FUZZ_CALL(seq_model_create, config, fuzz_u8(in) % 16 ? &models[slot] : NULL);
        }
        break;
    case 1:
        freed_model = models[slot];
        seq_model_free(models[slot]);
        models[slot] = NULL;
        break;
    case 2:
        if (configs[slot] == NULL) FUZZ_CALL(seq_model_get_config, PICK_MODEL(in), &configs[slot]);
        break;
    case 3:
        /* the same with the training state */
        if (FUZZ_CALL(seq_model_save_checkpoint, PICK_MODEL(in), save_path) == SEQ_OK && models[slot] == NULL)
            FUZZ_CALL(seq_model_load, save_path, &models[slot]);
        break;
    default:
        /* a round trip through a file: save, then load into the slot if it is free */
        if (FUZZ_CALL(seq_model_save, PICK_MODEL(in), save_path) == SEQ_OK && models[slot] == NULL)
            FUZZ_CALL(seq_model_load, save_path, &models[slot]);
        break;
    }
}

/* The input arguments shared by predict, the training calls and decode. */
struct batch {
    const float *features;
    const int32_t *tokens;
    int64_t steps, batch, input_size;
    const int64_t *lengths;
    seq_layout layout;
};

static int pick_batch(fuzz_input *in, struct buffers *b, const struct model_info *info, struct batch *x) {
    int skip = 0, uses_tokens = info->vocab_size > 0;
    uint8_t kind = fuzz_u8(in);
    int64_t dims[3];
    x->steps = bounded_size(in, 64);
    x->batch = bounded_size(in, 64);
    x->input_size = fuzz_u8(in) < 192 ? (uses_tokens ? 1 : info->input_size) : fuzz_size(in);
    if (kind >= 64) kind = uses_tokens ? 1 : 0;
    dims[0] = x->steps;
    dims[1] = x->batch;
    dims[2] = x->input_size;
    x->features = kind % 4 == 0 || kind % 4 == 3 ? float_input(in, b, fuzz_product(dims, 3), &skip) : NULL;
    x->tokens = kind % 4 == 1 || kind % 4 == 3 ? token_input(in, b, fuzz_product(dims, 2), info->vocab_size, &skip) : NULL;
    x->lengths = lengths_input(in, b, x->batch, x->steps, &skip);
    x->layout = pick_layout(in);
    return !skip;
}

static void op_predict(fuzz_input *in) {
    struct buffers b = {{0}, 0};
    seq_model *model = PICK_MODEL(in);
    struct model_info info = model_info(model);
    struct batch x;
    int64_t dims[3], capacity = 0, count = 0;
    float *output;
    if (!pick_batch(in, &b, &info, &x)) { release(&b); return; }
    dims[0] = info.architecture == 1 ? 1 : x.steps;
    dims[1] = x.batch;
    dims[2] = info.output_size;
    output = output_buffer(in, &b, fuzz_product(dims, 3), sizeof(float), &capacity);
    FUZZ_CALL(seq_model_predict, model, x.features, x.tokens, x.steps, x.batch, x.input_size, x.lengths, x.layout, output,
              capacity, fuzz_u8(in) % 2 ? &count : NULL);
    release(&b);
}

/* The sizes of h0 (L*D*B*Hout) and c0 (L*D*B*H for an LSTM, else 0) for `batch` sequences, as a C
   caller computes them from the model's configuration; -1 when they overflow or the handle is not
   a live model. */
static void state_sizes(seq_model *model, int64_t batch, int64_t *h, int64_t *c) {
    seq_config *config = NULL;
    int64_t layers = 1, hidden = 0, proj = 0, dims[3];
    char cell[16] = "", direction[16] = "";
    *h = *c = -1;
    if (seq_model_get_config(model, &config) != SEQ_OK) return;
    (void)seq_config_get_int(config, "num_layers", &layers);
    (void)seq_config_get_int(config, "hidden_size", &hidden);
    (void)seq_config_get_int(config, "proj_size", &proj);
    (void)seq_config_get_string(config, "cell", cell, sizeof cell, NULL);
    (void)seq_config_get_string(config, "direction", direction, sizeof direction, NULL);
    seq_config_free(config);
    dims[0] = strcmp(direction, "bidirectional") == 0 && layers < INT64_MAX / 2 ? 2 * layers : layers;
    dims[1] = batch;
    dims[2] = proj > 0 ? proj : hidden;
    *h = fuzz_product(dims, 3);
    dims[2] = hidden;
    *c = strcmp(cell, "lstm") == 0 ? fuzz_product(dims, 3) : 0;
}

/* seq_model_forward on a batch, with a fuzzed h0 and c0 (of the model's sizes, fuzzed sizes, or
   NULL with a count) and training flag, then one of seq_model_backward (a gradient of the
   forward's count, or a fuzzed one; NaN and infinities at times), seq_model_final_state,
   seq_model_state_gradient, or backward then both gradient reads. */
static void op_forward(fuzz_input *in, struct buffers *b, seq_model *model, const struct model_info *info,
                       const struct batch *x) {
    uint8_t mode = fuzz_u8(in), after = fuzz_u8(in);
    int skip = 0;
    int64_t h_size, c_size, h0_count = 0, c0_count = 0, dims[3], capacity = 0, count = 0;
    int64_t h_count = 0, c_count = 0, h_capacity = 0, c_capacity = 0, gradient_count;
    const float *h0 = NULL, *c0 = NULL, *gradient;
    float *output, *h, *c;
    int32_t training = mode & 8 ? (int32_t)fuzz_size(in) : (mode >> 4) & 1;
    state_sizes(model, x->batch, &h_size, &c_size);
    if (mode & 1) {
        if (fuzz_u8(in) % 4 == 0) h_size = fuzz_size(in);
        h0 = float_input(in, b, h_size, &skip);
        h0_count = h_size;
    } else if (mode & 4) {
        h0_count = fuzz_size(in); /* a count without its pointer */
    }
    if (mode & 2) {
        if (fuzz_u8(in) % 4 == 0) c_size = fuzz_size(in);
        c0 = float_input(in, b, c_size, &skip);
        c0_count = c_size;
    } else if (mode & 4) {
        c0_count = fuzz_size(in);
    }
    if (skip) return;
    dims[0] = info->architecture == 1 ? 1 : x->steps;
    dims[1] = x->batch;
    dims[2] = info->output_size;
    output = output_buffer(in, b, fuzz_product(dims, 3), sizeof(float), &capacity);
    FUZZ_CALL(seq_model_forward, model, x->features, x->tokens, x->steps, x->batch, x->input_size, x->lengths, x->layout, h0,
              h0_count, c0, c0_count, training, output, capacity, fuzz_u8(in) % 8 ? &count : NULL);
    after %= 4; /* 0 backward, 1 final state, 2 state gradient, 3 backward and both gradients */
    if (after == 0 || after == 3) {
        gradient_count = fuzz_u8(in) % 4 ? count : fuzz_size(in);
        gradient = float_input(in, b, gradient_count, &skip);
        if (skip) return;
        FUZZ_CALL(seq_model_backward, model, fuzz_u8(in) % 16 ? gradient : NULL, gradient_count);
    }
    if (after == 3) {
        (void)seq_model_input_gradient(model, NULL, 0, &h_count);
        h = output_buffer(in, b, h_count, sizeof(float), &h_capacity);
        FUZZ_CALL(seq_model_input_gradient, model, h, h_capacity, NULL);
    }
    if (after == 2 || after == 3) {
        (void)seq_model_state_gradient(model, NULL, 0, &h_count, NULL, 0, &c_count);
        h = output_buffer(in, b, h_count, sizeof(float), &h_capacity);
        c = output_buffer(in, b, c_count, sizeof(float), &c_capacity);
        FUZZ_CALL(seq_model_state_gradient, model, h, h_capacity, fuzz_u8(in) % 2 ? &h_count : NULL, c, c_capacity,
                  fuzz_u8(in) % 2 ? &c_count : NULL);
    }
    if (after == 1) {
        (void)seq_model_final_state(model, NULL, 0, &h_count, NULL, 0, &c_count);
        h = output_buffer(in, b, h_count, sizeof(float), &h_capacity);
        c = output_buffer(in, b, c_count, sizeof(float), &c_capacity);
        FUZZ_CALL(seq_model_final_state, model, h, h_capacity, fuzz_u8(in) % 2 ? &h_count : NULL, c, c_capacity,
                  fuzz_u8(in) % 2 ? &c_count : NULL);
    }
}

static void op_train(fuzz_input *in) {
    struct buffers b = {{0}, 0};
    /* The operation byte's bits above which: (op / 3) % 4 == 3 runs op_forward on the batch
       instead; the other bytes keep their meaning. */
    uint8_t op = fuzz_u8(in), which = op % 3, kind;
    seq_model *model = PICK_MODEL(in);
    struct model_info info = model_info(model);
    struct batch x;
    int skip = 0;
    int64_t target_steps, dims[3], *target_lengths = NULL;
    const int32_t *ids = NULL;
    const float *values = NULL;
    double loss = 0;
    if (!pick_batch(in, &b, &info, &x)) { release(&b); return; }
    if ((op / 3) % 4 == 3) {
        op_forward(in, &b, model, &info, &x);
        release(&b);
        return;
    }
    target_steps = fuzz_u8(in) < 192 ? (info.architecture == 1 ? 1 : x.steps) : bounded_size(in, 64);
    dims[0] = target_steps;
    dims[1] = x.batch;
    dims[2] = info.output_size;
    kind = fuzz_u8(in) % 4;
    if (kind == 0 || kind == 2) ids = token_input(in, &b, fuzz_product(dims, 2), info.output_size, &skip);
    if (kind == 1 || kind == 2) values = float_input(in, &b, fuzz_product(dims, 3), &skip);
    if (info.architecture == 3) target_lengths = lengths_input(in, &b, x.batch, target_steps, &skip);
    if (skip) { release(&b); return; }
    switch (which) {
    case 0:
        FUZZ_CALL(seq_model_train_step, model, x.features, x.tokens, x.steps, x.batch, x.input_size, x.lengths, x.layout, ids,
                  values, target_steps, target_lengths, fuzz_u8(in) % 4 ? &loss : NULL);
        break;
    case 1:
        FUZZ_CALL(seq_model_evaluate, model, x.features, x.tokens, x.steps, x.batch, x.input_size, x.lengths, x.layout, ids,
                  values, target_steps, target_lengths, fuzz_u8(in) % 8 ? &loss : NULL);
        break;
    default:
        FUZZ_CALL(seq_model_compute_gradients, model, x.features, x.tokens, x.steps, x.batch, x.input_size, x.lengths,
                  x.layout, ids, values, target_steps, target_lengths, fuzz_u8(in) % 2 ? &loss : NULL);
        break;
    }
    release(&b);
}

static void op_training_state(fuzz_input *in) {
    struct buffers b = {{0}, 0};
    seq_model *model = PICK_MODEL(in);
    int64_t rows = 0, steps = 0, capacity = 0;
    double rate = 0;
    float *norms;
    switch (fuzz_u8(in) % 6) {
    case 0: FUZZ_CALL(seq_model_apply_gradients, model); break;
    case 1: FUZZ_CALL(seq_model_zero_gradients, model); break;
    case 2: FUZZ_CALL(seq_model_set_learning_rate, model, fuzz_double(in)); break;
    case 3: FUZZ_CALL(seq_model_get_learning_rate, model, fuzz_u8(in) % 8 ? &rate : NULL); break;
    case 4:
        (void)seq_model_input_gradient(model, NULL, 0, &capacity);
        norms = output_buffer(in, &b, capacity, sizeof(float), &capacity);
        FUZZ_CALL(seq_model_input_gradient, model, norms, capacity, fuzz_u8(in) % 2 ? &rows : NULL);
        break;
    default:
        (void)seq_model_gradient_norms(model, NULL, 0, &rows, &steps);
        norms = output_buffer(in, &b, rows * steps, sizeof(float), &capacity);
        FUZZ_CALL(seq_model_gradient_norms, model, norms, capacity, fuzz_u8(in) % 2 ? &rows : NULL, NULL);
        break;
    }
    release(&b);
}

static void op_generate(fuzz_input *in) {
    struct buffers b = {{0}, 0};
    seq_model *model = PICK_MODEL(in);
    struct model_info info = model_info(model);
    int skip = 0;
    int64_t prefix_length = bounded_size(in, 64), count = fuzz_size(in), capacity = 0, generated = 0;
    const int32_t *prefix = token_input(in, &b, prefix_length, info.vocab_size, &skip);
    int32_t *output;
    double temperature = fuzz_double(in);
    int64_t top_k = fuzz_size(in), seed;
    int32_t stop_token = fuzz_u8(in) < 200 ? (int32_t)(fuzz_u8(in) % 8) - 1 : (int32_t)fuzz_u64(in);
    if (skip) { release(&b); return; }
    /* Generating 10^5 tokens is legal and slow: such counts always come with a smaller capacity. */
    output = output_buffer(in, &b, count > 256 ? 256 : count, sizeof(int32_t), &capacity);
    if (fuzz_u8(in) % 16 == 0) prefix = NULL;
    seed = (int64_t)fuzz_u64(in);
    FUZZ_CALL(seq_model_generate, model, prefix, prefix_length, count, temperature, top_k, seed, stop_token, output, capacity,
              fuzz_u8(in) % 2 ? &generated : NULL);
    release(&b);
}

static void op_decode(fuzz_input *in) {
    struct buffers b = {{0}, 0};
    seq_model *model = PICK_MODEL(in);
    struct model_info info = model_info(model);
    struct batch x;
    int64_t max_length, capacity = 0, dims[2], *output_lengths = NULL;
    int32_t *output;
    double temperature;
    int64_t top_k, seed;
    if (!pick_batch(in, &b, &info, &x)) { release(&b); return; }
    max_length = fuzz_size(in);
    temperature = fuzz_double(in);
    top_k = fuzz_size(in);
    dims[0] = max_length > 64 ? 64 : max_length; /* longer decodes come with a smaller capacity */
    dims[1] = x.batch;
    output = output_buffer(in, &b, fuzz_product(dims, 2), sizeof(int32_t), &capacity);
    if (fuzz_u8(in) % 2 && fuzz_buffer_plan(x.batch) == FUZZ_BUFFER_REAL) output_lengths = buffer(&b, x.batch, sizeof(int64_t));
    seed = (int64_t)fuzz_u64(in);
    FUZZ_CALL(seq_model_decode, model, x.features, x.tokens, x.steps, x.batch, x.input_size, x.lengths, x.layout, max_length,
              temperature, top_k, seed, output, capacity, output_lengths);
    release(&b);
}

static void op_parameters(fuzz_input *in) {
    struct buffers b = {{0}, 0};
    seq_model *model = PICK_MODEL(in);
    const char *name;
    char text[96];
    int64_t count = 0, capacity = 0, dims[8], rank = 0, index;
    int skip = 0;
    uint8_t which = fuzz_u8(in) % 6;
    /* a real name (looked up by index), a listed one, or fuzzed bytes */
    if (fuzz_u8(in) % 2 && seq_model_parameter_name(model, fuzz_u8(in) % 16, text, sizeof text, NULL) == SEQ_OK)
        name = text;
    else
        name = fuzz_string(in, parameter_names, sizeof parameter_names / sizeof parameter_names[0], string_scratch);
    switch (which) {
    case 0: FUZZ_CALL(seq_model_parameter_count, model, fuzz_u8(in) % 8 ? &count : NULL); break;
    case 1: {
        char out[96];
        index = fuzz_size(in);
        capacity = fuzz_u8(in) % 8 ? (int64_t)(fuzz_u8(in) % (sizeof out + 1)) : -1;
        FUZZ_CALL(seq_model_parameter_name, model, index, fuzz_u8(in) % 8 ? out : NULL, capacity, &count);
        break;
    }
    case 2:
        capacity = fuzz_u8(in) % 8 ? (int64_t)(fuzz_u8(in) % 9) : -1;
        {
            int64_t *shape = fuzz_u8(in) % 8 ? dims : NULL;
            FUZZ_CALL(seq_model_parameter_shape, model, name, shape, capacity, &rank, fuzz_u8(in) % 2 ? &count : NULL);
        }
        break;
    case 3:
    case 4: {
        float *values;
        (void)seq_model_get_parameter(model, name, NULL, 0, &count);
        values = output_buffer(in, &b, count, sizeof(float), &capacity);
        if (which == 3) FUZZ_CALL(seq_model_get_parameter, model, name, values, capacity, fuzz_u8(in) % 2 ? &count : NULL);
        else FUZZ_CALL(seq_model_get_gradient, model, name, values, capacity, fuzz_u8(in) % 2 ? &count : NULL);
        break;
    }
    default: {
        const float *values;
        (void)seq_model_get_parameter(model, name, NULL, 0, &count);
        if (fuzz_u8(in) % 4 == 0) count = fuzz_size(in);
        values = float_input(in, &b, count, &skip);
        if (skip) break;
        if (fuzz_u8(in) % 16 == 0) values = NULL;
        if (fuzz_u8(in) % 2) FUZZ_CALL(seq_model_set_parameter, model, name, values, count);
        else FUZZ_CALL(seq_model_set_gradient, model, name, values, count);
        break;
    }
    }
    release(&b);
}

/* Stops seq_model_fit after a few batches, so that fuzzed epoch counts stay quick. */
static int32_t stop_soon(const seq_progress *progress, void *user_data) {
    int *batches = (int *)user_data;
    (void)progress;
    return ++*batches >= 3;
}

static void op_dataset(fuzz_input *in) {
    struct buffers b = {{0}, 0};
    uint8_t which = fuzz_u8(in) % 5, slot = fuzz_u8(in) % SLOTS;
    seq_dataset *data = PICK_DATASET(in);
    int skip = 0, batches = 0;
    int64_t count = bounded_size(in, 64), steps = bounded_size(in, 64), width = fuzz_size(in), dims[3], n = 0;
    dims[0] = count;
    dims[1] = steps;
    dims[2] = width;
    switch (which) {
    case 0:
        if (datasets[slot] == NULL) FUZZ_CALL(seq_dataset_create, &datasets[slot]);
        else FUZZ_CALL(seq_dataset_count, data, fuzz_u8(in) % 8 ? &n : NULL);
        break;
    case 1:
        freed_dataset = datasets[slot];
        seq_dataset_free(datasets[slot]);
        datasets[slot] = NULL;
        break;
    case 2: {
        uint8_t kind = fuzz_u8(in) % 4;
        const float *features = kind == 0 || kind == 3 ? float_input(in, &b, fuzz_product(dims, 3), &skip) : NULL;
        const int32_t *tokens = kind == 1 || kind == 3 ? token_input(in, &b, fuzz_product(dims, 2), 16, &skip) : NULL;
        const int64_t *lengths = lengths_input(in, &b, count, steps, &skip);
        if (!skip)
            FUZZ_CALL(seq_dataset_set_inputs, data, features, tokens, count, steps, width, lengths, pick_layout(in));
        break;
    }
    case 3: {
        uint8_t kind = fuzz_u8(in) % 4;
        const int32_t *ids = kind == 0 || kind == 3 ? token_input(in, &b, fuzz_product(dims, 2), 4, &skip) : NULL;
        const float *values = kind == 1 || kind == 3 ? float_input(in, &b, fuzz_product(dims, 3), &skip) : NULL;
        const int64_t *target_lengths = lengths_input(in, &b, count, steps, &skip);
        if (!skip)
            FUZZ_CALL(seq_dataset_set_targets, data, ids, values, count, steps, width, target_lengths, pick_layout(in));
        break;
    }
    default: {
        int64_t epochs = fuzz_size(in), batch_size = fuzz_size(in);
        FUZZ_CALL(seq_model_fit, PICK_MODEL(in), data, epochs, batch_size, stop_soon, &batches);
        break;
    }
    }
    release(&b);
}

static void op_stream(fuzz_input *in) {
    struct buffers b = {{0}, 0};
    /* The operation byte's next bit picks seq_stream_feed_hidden over seq_stream_feed (case 3):
       the same bytes as before, so the committed corpus keeps its meaning. */
    uint8_t op = fuzz_u8(in), which = op % 6, hidden = (op / 6) % 2, slot = fuzz_u8(in) % SLOTS;
    seq_stream *stream = PICK_STREAM(in);
    int skip = 0;
    int64_t position = 0, h_count = 0, c_count = 0, h_capacity = 0, c_capacity = 0;
    switch (which) {
    case 0:
        /* a stream holds batch x hidden floats per layer: legal batches are kept small */
        if (streams[slot] == NULL) {
            seq_model *model = PICK_MODEL(in);
            int64_t batch = bounded_size(in, 64);
            FUZZ_CALL(seq_stream_create, model, batch, fuzz_u8(in) % 16 ? &streams[slot] : NULL);
        }
        break;
    case 1:
        freed_stream = streams[slot];
        seq_stream_free(streams[slot]);
        streams[slot] = NULL;
        break;
    case 2:
        if (fuzz_u8(in) % 2) FUZZ_CALL(seq_stream_reset, stream);
        else FUZZ_CALL(seq_stream_position, stream, fuzz_u8(in) % 8 ? &position : NULL);
        break;
    case 3: {
        struct model_info info = {3, 0, 2, 0};
        struct batch x;
        int64_t dims[3], capacity = 0;
        float *output;
        int64_t probe_count = 0;
        /* the stream's model is unknown here: guess features of 3 or tokens of 5 */
        info.vocab_size = fuzz_u8(in) % 2 ? 5 : 0;
        if (!pick_batch(in, &b, &info, &x)) break;
        if (hidden) {
            /* the same arguments; the output is [steps, B, F], F the state size */
            (void)seq_stream_feed_hidden(stream, x.features, x.tokens, x.steps, x.batch, x.input_size, x.layout, NULL, 0,
                                         &probe_count);
            dims[0] = probe_count;
            output = output_buffer(in, &b, dims[0], sizeof(float), &capacity);
            FUZZ_CALL(seq_stream_feed_hidden, stream, x.features, x.tokens, x.steps, x.batch, x.input_size, x.layout, output,
                      capacity, fuzz_u8(in) % 2 ? &probe_count : NULL);
            break;
        }
        (void)seq_stream_feed(stream, x.features, x.tokens, x.steps, x.batch, x.input_size, x.layout, NULL, 0, &probe_count);
        dims[0] = probe_count;
        output = output_buffer(in, &b, dims[0], sizeof(float), &capacity);
        FUZZ_CALL(seq_stream_feed, stream, x.features, x.tokens, x.steps, x.batch, x.input_size, x.layout, output, capacity,
                  fuzz_u8(in) % 2 ? &probe_count : NULL);
        break;
    }
    case 4: {
        float *h, *c;
        (void)seq_stream_get_state(stream, NULL, 0, &h_count, NULL, 0, &c_count);
        h = output_buffer(in, &b, h_count, sizeof(float), &h_capacity);
        c = output_buffer(in, &b, c_count, sizeof(float), &c_capacity);
        FUZZ_CALL(seq_stream_get_state, stream, h, h_capacity, &h_count, c, c_capacity, fuzz_u8(in) % 2 ? &c_count : NULL);
        break;
    }
    default: {
        const float *h, *c;
        (void)seq_stream_get_state(stream, NULL, 0, &h_count, NULL, 0, &c_count);
        if (fuzz_u8(in) % 4 == 0) h_count = fuzz_size(in);
        if (fuzz_u8(in) % 4 == 0) c_count = fuzz_size(in);
        h = float_input(in, &b, h_count, &skip);
        c = fuzz_u8(in) % 2 ? float_input(in, &b, c_count, &skip) : NULL;
        if (!skip) FUZZ_CALL(seq_stream_set_state, stream, fuzz_u8(in) % 16 ? h : NULL, h_count, c, c_count);
        break;
    }
    }
    release(&b);
}

static void op_onnx(fuzz_input *in) {
    struct buffers b = {{0}, 0};
    seq_model *model = PICK_MODEL(in);
    const char *stack = fuzz_string(in, onnx_words, sizeof onnx_words / sizeof onnx_words[0], string_scratch);
    const char *tensor = fuzz_string(in, onnx_words, sizeof onnx_words / sizeof onnx_words[0], string_scratch2);
    int64_t layer = fuzz_size(in), count = fuzz_u8(in) < 200 ? (int64_t)fuzz_u8(in) * 4 : fuzz_size(in);
    int skip = 0;
    const float *data = float_input(in, &b, count, &skip);
    if (!skip) FUZZ_CALL(seq_model_set_onnx_tensor, model, stack, layer, tensor, fuzz_u8(in) % 16 ? data : NULL, count);
    release(&b);
}

static void op_library(fuzz_input *in) {
    uint8_t b = fuzz_u8(in);
    int32_t threads = b < 128 ? (int32_t)(b % 4) : (int32_t)fuzz_u64(in);
    FUZZ_CALL(seq_set_num_threads, threads);
    if (seq_get_num_threads() < 1 || seq_get_num_threads() > 2) abort();
    if (seq_status_string((seq_status)fuzz_u64(in)) == NULL) abort();
}

static void free_everything(void) {
    int i;
    for (i = 0; i < SLOTS; i++) {
        seq_stream_free(streams[i]);
        streams[i] = NULL;
    }
    for (i = 0; i < SLOTS; i++) {
        seq_model_free(models[i]);
        seq_dataset_free(datasets[i]);
        seq_config_free(configs[i]);
        models[i] = NULL;
        datasets[i] = NULL;
        configs[i] = NULL;
    }
    freed_config = freed_model = freed_dataset = freed_stream = NULL;
}

static void remove_file(void) { unlink(save_path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size, 0};
    int operations = 0;
    if (save_path[0] == 0) {
        const char *tmp = getenv("TMPDIR");
        snprintf(save_path, sizeof save_path, "%s/seqcore-fuzz-capi-calls-%ld.safetensors", tmp ? tmp : "/tmp", (long)getpid());
        atexit(remove_file);
    }
    seq_set_num_threads(2);
    while (!fuzz_done(&in) && operations++ < 64) {
        switch (fuzz_u8(&in) % 12) {
        case 0: op_config(&in); break;
        case 1: op_model(&in); break;
        case 2: op_predict(&in); break;
        case 3: op_train(&in); break;
        case 4: op_training_state(&in); break;
        case 5: op_generate(&in); break;
        case 6: op_decode(&in); break;
        case 7: op_parameters(&in); break;
        case 8: op_dataset(&in); break;
        case 9: op_stream(&in); break;
        case 10: op_onnx(&in); break;
        default: op_library(&in); break;
        }
    }
    free_everything();
    return 0;
}
