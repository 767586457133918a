/*
 * The bad-input table: every public function of seqcore.h called with arguments a careless or
 * hostile caller could pass (NULL, zero, negative and overflowing sizes, NaN and infinity, wrong,
 * freed and garbage handles, truncated and corrupt files), recording the status and message of each.
 *
 * Each call runs in a child process (fork), so a crash, a sanitizer report, a trap or a hang
 * (alarm after CASE_TIMEOUT_S seconds) is recorded as such and the remaining calls still run. The
 * parent prints one row per call on stdout, tab-separated,
 *
 *     function <TAB> bad input <TAB> status <TAB> message <TAB> verdict
 *
 * where verdict is "ok" or "FAIL: <why>", then "#END <TAB> rows <TAB> failed". A row fails when
 * the call crashed, trapped, hung or was reported by a sanitizer; when it returned SEQ_OK for a bad
 * input; when it returned another status than the header documents for that input (only where the
 * header is explicit: NULL pointers, handles, too-small buffers); or when its message does not
 * start with the function's name. The program exits 1 if any row failed. scripts/bad-input-table
 * turns the rows into docs/bad-input.md and checks that every function of the header has a row.
 *
 * Inputs the library reads through (buffers) are always as large as the sizes passed say, or the
 * sizes are beyond Limits.maxElements: a call that reads `count` values from a buffer of `count`
 * values is correct, and lying about a buffer's size is the caller's bug, not the library's.
 *
 * Three rows once failed here and found library bugs, since fixed: an absurd num_layers is refused
 * before anything is built (RecurrentConfig.validate bounds the whole stack), and C keys read from
 * a model file pass the same domain checks as seq_config_set_*.
 *
 * Messages are normalised so the table is the same on every run: the scratch directory becomes
 * "$SCRATCH" and pointer values become "0x…".
 *
 * Usage: bad_input SCRATCH_DIR     (a writable directory for the files the file cases need)
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seqcore.h"

/* ---------------------------------------------------------------------------------------------
 * Running one case in a child process
 */

/* What a row expects. Non-negative values are an exact seq_status. */
enum {
    EXPECT_ERROR = -1,    /* any status but SEQ_OK */
    EXPECT_ACCEPTED = -2, /* SEQ_OK: the header documents the input as accepted (e.g. a clamp) */
    EXPECT_RECORDED = -3, /* a void *_free: must leave a message naming itself */
    EXPECT_SILENT = -4,   /* a void *_free of NULL: a no-op, no message */
    EXPECT_VALUE = -5     /* a function that returns a value, not a status: the value is shown */
};

#define NO_STATUS (-1000)  /* what a void or value case reports instead of a status */
#define CASE_TIMEOUT_S 20

static const char *scratch;
static int rows, failed_rows;
static int child_pipe = -1;

static const char *status_name(int status) {
    static const char *const names[] = {
        "SEQ_OK",          "SEQ_ERR_INVALID_ARGUMENT", "SEQ_ERR_IO",           "SEQ_ERR_FORMAT",
        "SEQ_ERR_NUMERIC", "SEQ_ERR_RESOURCE_LIMIT",   "SEQ_ERR_STATE",        "SEQ_ERR_NOT_FOUND",
        "SEQ_ERR_NULL_POINTER", "SEQ_ERR_WRONG_HANDLE", "SEQ_ERR_BUFFER_TOO_SMALL", "SEQ_ERR_INTERNAL"};
    static char unknown[32];
    if (status >= 0 && status < (int)(sizeof names / sizeof names[0])) return names[status];
    snprintf(unknown, sizeof unknown, "status %d", status);
    return unknown;
}

static int isxdigit_ascii(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Copies `in` to `out` (capacity `size`), replacing the scratch directory by "$SCRATCH", pointer
   values (0x and 8 to 16 hex digits) by "0x…", and tabs and newlines by spaces. */
static void normalise(const char *in, char *out, size_t size) {
    size_t n = 0, scratch_length = strlen(scratch);
    while (*in && n + 8 < size) {
        if (scratch_length > 0 && strncmp(in, scratch, scratch_length) == 0) {
            n += (size_t)snprintf(out + n, size - n, "$SCRATCH");
            in += scratch_length;
        } else if (in[0] == '0' && in[1] == 'x') {
            size_t digits = 0;
            while (isxdigit_ascii(in[2 + digits])) digits++;
            if (digits >= 8 && digits <= 16) {
                n += (size_t)snprintf(out + n, size - n, "0x\xe2\x80\xa6");
                in += 2 + digits;
            } else {
                out[n++] = *in++;
            }
        } else {
            out[n++] = (*in == '\t' || *in == '\n' || *in == '\r') ? ' ' : *in;
            in++;
        }
    }
    out[n] = 0;
}

/* Starts a case. In the parent: runs it in a child, records the row and returns 0. In the child:
   returns 1, and the caller makes the call and ends with child_status / child_value. */
static int begin_case(const char *function, const char *input, int expect);

/* The child's report: a status (or NO_STATUS) and seq_last_error() (or the value), then exit. */
static void child_report(int status, const char *text) {
    char header[32];
    int length = snprintf(header, sizeof header, "%d\n", status);
    ssize_t ignored = write(child_pipe, header, (size_t)length);
    ignored = write(child_pipe, text, strlen(text));
    (void)ignored;
    _exit(0);
}

static void child_status(seq_status status) { child_report(status, seq_last_error()); }
static void child_void(void) { child_report(NO_STATUS, seq_last_error()); }
static void child_value(const char *value) { child_report(NO_STATUS, value); }

/* A setup step inside a child that must succeed; otherwise the child exits 3 ("setup failed"). */
static void need(seq_status status, const char *what) {
    if (status != SEQ_OK) {
        fprintf(stderr, "setup of a case failed: %s: %s\n", what, seq_last_error());
        _exit(3);
    }
}

static void print_row(const char *function, const char *input, const char *status, const char *message,
                      const char *verdict) {
    char clean_input[512], clean_message[4096];
    normalise(input, clean_input, sizeof clean_input);
    normalise(message, clean_message, sizeof clean_message);
    printf("%s\t%s\t%s\t%s\t%s\n", function, clean_input, status, clean_message, verdict);
    fflush(stdout);
}

static int begin_case(const char *function, const char *input, int expect) {
    int fds[2], wait_status = 0;
    pid_t pid;
    char buffer[1 << 16];
    size_t used = 0;
    ssize_t got;
    char verdict[256] = "ok";
    const char *message = "";
    int status = NO_STATUS, reported = 0;

    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(fds[0]);
        child_pipe = fds[1];
        alarm(CASE_TIMEOUT_S);
        return 1;
    }
    close(fds[1]);
    while ((got = read(fds[0], buffer + used, sizeof buffer - 1 - used)) > 0 || (got < 0 && errno == EINTR))
        if (got > 0) used += (size_t)got;
    buffer[used] = 0;
    close(fds[0]);
    while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {}
    rows++;

    if (used > 0) {
        char *newline = strchr(buffer, '\n');
        if (newline != NULL) {
            *newline = 0;
            status = atoi(buffer);
            message = newline + 1;
            reported = 1;
        }
    }
    if (WIFSIGNALED(wait_status)) {
        int signal_number = WTERMSIG(wait_status);
        snprintf(verdict, sizeof verdict, "FAIL: %s (signal %d)",
                 signal_number == SIGALRM ? "hung" : signal_number == SIGILL || signal_number == SIGTRAP ? "trapped" : "crashed",
                 signal_number);
        print_row(function, input, "CRASH", reported ? message : "", verdict);
        failed_rows++;
        return 0;
    }
    if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0 || !reported) {
        snprintf(verdict, sizeof verdict, "FAIL: child exited with status %d (a sanitizer report or failed setup; see stderr)",
                 WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1);
        print_row(function, input, "CRASH", "", verdict);
        failed_rows++;
        return 0;
    }

    if (status == NO_STATUS) {
        if (expect == EXPECT_RECORDED && strncmp(message, function, strlen(function)) != 0)
            snprintf(verdict, sizeof verdict, "FAIL: no message naming %s was stored", function);
        if (expect == EXPECT_SILENT && *message != 0) snprintf(verdict, sizeof verdict, "FAIL: a no-op stored a message");
        if (expect >= 0 || expect == EXPECT_ERROR || expect == EXPECT_ACCEPTED)
            snprintf(verdict, sizeof verdict, "FAIL: the table expects a status here (a bug in bad_input.c)");
        print_row(function, input, expect == EXPECT_VALUE ? "(value)" : "(void)", message, verdict);
    } else {
        if (status == SEQ_OK && expect != EXPECT_ACCEPTED && expect != SEQ_OK)
            snprintf(verdict, sizeof verdict, "FAIL: SEQ_OK for a bad input");
        else if (expect >= 0 && status != expect)
            snprintf(verdict, sizeof verdict, "FAIL: expected %s", status_name(expect));
        else if (expect == EXPECT_ACCEPTED && status != SEQ_OK)
            snprintf(verdict, sizeof verdict, "FAIL: the header documents this input as accepted");
        else if (status != SEQ_OK && strncmp(message, function, strlen(function)) != 0)
            snprintf(verdict, sizeof verdict, "FAIL: the message does not start with \"%s\"", function);
        print_row(function, input, status_name(status), status == SEQ_OK ? "" : message, verdict);
    }
    if (strcmp(verdict, "ok") != 0) failed_rows++;
    return 0;
}

/* A call returning seq_status. */
#define CASE(function, input, expect, call)                        \
    do {                                                           \
        if (begin_case(#function, input, expect)) child_status(call); \
    } while (0)

/* A void call (the *_free functions). */
#define CASE_VOID(function, input, expect, statement)                \
    do {                                                             \
        if (begin_case(#function, input, expect)) {                  \
            statement;                                               \
            child_void();                                            \
        }                                                            \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * Fixtures, made in the parent before any case; every case's child inherits them.
 */

enum { T = 5, B = 2, I = 3, H = 4, K = 2, V = 5, N = 4, BIG = 4096 };
#define OVER_LIMIT ((int64_t)1 << 31 << 1) /* 2^32, above Limits.maxElements (2^31) */
#define JUST_OVER ((int64_t)1 << 31 | 1)   /* 2^31 + 1 */

static seq_config *cfg, *empty_cfg;
static seq_model *tagger, *regress, *lm, *cls, *s2s, *bidir, *rev, *nobias, *proj, *peep, *trained;
static seq_dataset *data_empty, *data_full, *data_inputs_only, *data_mismatch, *data_tokens, *data_bigtokens,
    *data_width, *data_negative_ids, *data_big_ids;
static seq_stream *stream, *gru_stream, *lm_stream, *stream_sink;
static void *freed_config, *freed_model, *freed_dataset, *freed_stream;

/* Input buffers: large enough for every size a case passes that the library might accept. */
static float feats[BIG], nan_feats[BIG], inf_feats[BIG], ninf_feats[BIG], values[BIG], out[BIG];
static int32_t toks[BIG], labels[BIG], bad_toks[BIG], neg_toks[BIG], out_ids[BIG];
static int64_t lengths_zero[B] = {0, T}, lengths_long[B] = {T + 1, T}, lengths_negative[B] = {-1, T},
               lengths_max[B] = {INT64_MAX, T}, lengths_min[B] = {INT64_MIN, T}, dims[8], sink64;
static double loss;
static char text[256];

/* Something that looks like a handle but is not one: memory filled with the "MODL" tag, aligned. */
static union {
    uint32_t words[64];
    void *align;
} fake_box;

/* The handles that are not handles, by name; `live` is a live handle of the expected kind, used for
   an interior pointer. */
struct bad_handle {
    const char *name;
    void *pointer;
};

static void fail_setup(const char *what) {
    fprintf(stderr, "bad_input: setup failed: %s: %s\n", what, seq_last_error());
    exit(2);
}

static seq_config *config_spec(const char *spec);

/* A model from "key=value ..." (numbers as ints, except the float keys below). */
static seq_status model_spec(const char *spec, seq_model **model) {
    seq_config *config = config_spec(spec);
    seq_status status;
    if (config == NULL) return SEQ_ERR_INTERNAL;
    status = seq_model_create(config, model);
    seq_config_free(config);
    return status;
}

static seq_config *config_spec(const char *spec) {
    static const char *const float_keys[] = {"dropout",   "learning_rate", "momentum",  "weight_decay", "beta1",
                                             "beta2",     "epsilon",       "clip_norm", "clip_value",   "forget_bias",
                                             "dampening", "alpha",         "lr_gamma",  "lr_min",       "warmup_start_factor"};
    seq_config *config = NULL;
    char copy[512], *item, *save = NULL;
    if (seq_config_create(&config) != SEQ_OK) return NULL;
    strncpy(copy, spec, sizeof copy - 1);
    copy[sizeof copy - 1] = 0;
    for (item = strtok_r(copy, " ", &save); item != NULL; item = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(item, '='), *end;
        long long integer;
        size_t k;
        int is_float = 0;
        seq_status status;
        if (eq == NULL) return NULL;
        *eq = 0;
        for (k = 0; k < sizeof float_keys / sizeof float_keys[0]; k++) is_float |= strcmp(item, float_keys[k]) == 0;
        errno = 0;
        integer = strtoll(eq + 1, &end, 10);
        if (is_float) status = seq_config_set_float(config, item, strtod(eq + 1, NULL));
        else if (*end == 0 && errno == 0) status = seq_config_set_int(config, item, integer);
        else status = seq_config_set_string(config, item, eq + 1);
        if (status != SEQ_OK) {
            fprintf(stderr, "config_spec(%s): %s\n", spec, seq_last_error());
            seq_config_free(config);
            return NULL;
        }
    }
    return config;
}

static seq_model *fixture_model(const char *spec) {
    seq_model *model = NULL;
    if (model_spec(spec, &model) != SEQ_OK) fail_setup(spec);
    return model;
}

static seq_dataset *fixture_dataset(int inputs, int targets, int64_t target_count, int use_tokens, int32_t token) {
    seq_dataset *data = NULL;
    int i;
    int32_t tokens[N * T];
    for (i = 0; i < N * T; i++) tokens[i] = token;
    if (seq_dataset_create(&data) != SEQ_OK) fail_setup("seq_dataset_create");
    if (inputs &&
        seq_dataset_set_inputs(data, use_tokens ? NULL : feats, use_tokens ? tokens : NULL, N, T, use_tokens ? 1 : I, NULL,
                               SEQ_LAYOUT_TIME_MAJOR) != SEQ_OK)
        fail_setup("seq_dataset_set_inputs");
    if (targets && seq_dataset_set_targets(data, labels, NULL, target_count, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR) != SEQ_OK)
        fail_setup("seq_dataset_set_targets");
    return data;
}

/* Writes `size` bytes to a file in the scratch directory; returns its path (static storage, one of
   a few rotating buffers). */
static const char *scratch_file(const char *name, const void *bytes, size_t size) {
    static char paths[8][1024];
    static int next;
    char *path = paths[next++ % 8];
    FILE *file;
    snprintf(path, 1024, "%s/%s", scratch, name);
    file = fopen(path, "wb");
    if (file == NULL || (size > 0 && fwrite(bytes, 1, size, file) != size) || fclose(file) != 0) fail_setup(path);
    return path;
}

static unsigned char *read_whole(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    unsigned char *bytes;
    long length = 0;
    if (file == NULL || fseek(file, 0, SEEK_END) != 0 || (length = ftell(file)) < 0 || fseek(file, 0, SEEK_SET) != 0)
        fail_setup(path);
    bytes = malloc((size_t)length + 1);
    if (bytes == NULL || fread(bytes, 1, (size_t)length, file) != (size_t)length) fail_setup(path);
    fclose(file);
    *size = (size_t)length;
    return bytes;
}

static uint64_t read_le64(const unsigned char *p) {
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void write_le64(unsigned char *p, uint64_t v) {
    int i;
    for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The model file `good` with the first `old` in its JSON header replaced by `new` (the header's
   length is rewritten; the data is unchanged). */
static const char *patched_file(const char *name, const unsigned char *good, size_t size, const char *old,
                                const char *new) {
    uint64_t header = read_le64(good);
    const char *json = (const char *)good + 8;
    const char *at = NULL;
    size_t i, old_length = strlen(old), new_length = strlen(new), out_size;
    unsigned char *patched;
    const char *path;
    for (i = 0; i + old_length <= header; i++)
        if (memcmp(json + i, old, old_length) == 0) {
            at = json + i;
            break;
        }
    if (at == NULL) {
        fprintf(stderr, "patched_file: \"%s\" not in the header\n", old);
        exit(2);
    }
    out_size = size - old_length + new_length;
    patched = malloc(out_size);
    write_le64(patched, header - old_length + new_length);
    memcpy(patched + 8, json, (size_t)(at - json));
    memcpy(patched + 8 + (at - json), new, new_length);
    memcpy(patched + 8 + (at - json) + new_length, at + old_length, size - 8 - (size_t)(at - json) - old_length);
    path = scratch_file(name, patched, out_size);
    free(patched);
    return path;
}

static void make_fixtures(void) {
    int i;
    for (i = 0; i < BIG; i++) {
        feats[i] = (float)(i % 7) / 7.0f - 0.4f;
        nan_feats[i] = inf_feats[i] = ninf_feats[i] = feats[i];
        values[i] = 0.25f;
        toks[i] = i % V;
        labels[i] = i % K;
        bad_toks[i] = V; /* one past the vocabulary */
        neg_toks[i] = -1;
    }
    nan_feats[7] = NAN;
    inf_feats[7] = INFINITY;
    ninf_feats[7] = -INFINITY;
    for (i = 0; i < 64; i++) fake_box.words[i] = 0x4C444F4Du; /* the model tag, "MODL" */

    if (seq_set_num_threads(1) != SEQ_OK) fail_setup("seq_set_num_threads"); /* no worker thread across fork */
    cfg = config_spec("cell=lstm input_size=3 hidden_size=4 output_size=2");
    if (cfg == NULL || seq_config_create(&empty_cfg) != SEQ_OK) fail_setup("configs");
    tagger = fixture_model("cell=lstm input_size=3 hidden_size=4 output_size=2");
    regress = fixture_model("cell=gru input_size=3 hidden_size=4 output_size=2 output=regression");
    lm = fixture_model("architecture=language_model cell=gru vocab_size=5 embedding_size=3 hidden_size=4");
    cls = fixture_model("architecture=classifier cell=rnn_tanh input_size=3 hidden_size=4 output_size=2");
    s2s = fixture_model("architecture=seq2seq cell=lstm vocab_size=5 embedding_size=3 hidden_size=4 output_size=5");
    bidir = fixture_model("cell=gru input_size=3 hidden_size=4 output_size=2 direction=bidirectional");
    rev = fixture_model("cell=gru input_size=3 hidden_size=4 output_size=2 direction=reverse");
    nobias = fixture_model("cell=lstm input_size=3 hidden_size=4 output_size=2 bias=0");
    proj = fixture_model("cell=lstm input_size=3 hidden_size=4 output_size=2 proj_size=2");
    peep = fixture_model("cell=lstm input_size=3 hidden_size=4 output_size=2 peepholes=1");
    trained = fixture_model("cell=lstm input_size=3 hidden_size=4 output_size=2");
    if (seq_model_compute_gradients(trained, feats, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, T, NULL,
                                    NULL) != SEQ_OK)
        fail_setup("seq_model_compute_gradients");

    data_empty = fixture_dataset(0, 0, N, 0, 0);
    data_full = fixture_dataset(1, 1, N, 0, 0);
    data_inputs_only = fixture_dataset(1, 0, N, 0, 0);
    data_mismatch = fixture_dataset(1, 1, N - 1, 0, 0);
    data_tokens = fixture_dataset(1, 1, N, 1, 1);
    data_bigtokens = fixture_dataset(1, 1, N, 1, 99);
    if (seq_dataset_create(&data_negative_ids) != SEQ_OK || seq_dataset_create(&data_big_ids) != SEQ_OK ||
        seq_dataset_set_inputs(data_negative_ids, feats, NULL, N, T, I, NULL, SEQ_LAYOUT_TIME_MAJOR) != SEQ_OK ||
        seq_dataset_set_targets(data_negative_ids, neg_toks, NULL, N, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR) != SEQ_OK ||
        seq_dataset_set_inputs(data_big_ids, feats, NULL, N, T, I, NULL, SEQ_LAYOUT_TIME_MAJOR) != SEQ_OK ||
        seq_dataset_set_targets(data_big_ids, bad_toks, NULL, N, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR) != SEQ_OK)
        fail_setup("datasets with bad class ids");
    if (seq_dataset_create(&data_width) != SEQ_OK ||
        seq_dataset_set_inputs(data_width, feats, NULL, N, T, I, NULL, SEQ_LAYOUT_TIME_MAJOR) != SEQ_OK ||
        seq_dataset_set_targets(data_width, NULL, values, N, T, K + 1, NULL, SEQ_LAYOUT_TIME_MAJOR) != SEQ_OK)
        fail_setup("data_width");

    if (seq_stream_create(tagger, B, &stream) != SEQ_OK || seq_stream_create(regress, B, &gru_stream) != SEQ_OK ||
        seq_stream_create(lm, B, &lm_stream) != SEQ_OK)
        fail_setup("streams");

    /* Freed handles, made last so that no later handle reuses their addresses in the parent. */
    {
        seq_config *c = NULL;
        seq_model *m = NULL;
        seq_dataset *d = NULL;
        seq_stream *s = NULL;
        if (seq_config_create(&c) != SEQ_OK || model_spec("cell=gru input_size=1 hidden_size=1 output_size=1", &m) != SEQ_OK ||
            seq_dataset_create(&d) != SEQ_OK || seq_stream_create(m, 1, &s) != SEQ_OK)
            fail_setup("handles to free");
        freed_config = c;
        freed_model = m;
        freed_dataset = d;
        freed_stream = s;
        seq_stream_free(s);
        seq_dataset_free(d);
        seq_model_free(m);
        seq_config_free(c);
    }
    if (strcmp(seq_last_error(), "") != 0) fail_setup("a setup call failed");
}

static void free_fixtures(void) {
    seq_stream_free(stream);
    seq_stream_free(gru_stream);
    seq_stream_free(lm_stream);
    seq_dataset_free(data_empty);
    seq_dataset_free(data_full);
    seq_dataset_free(data_inputs_only);
    seq_dataset_free(data_mismatch);
    seq_dataset_free(data_tokens);
    seq_dataset_free(data_bigtokens);
    seq_dataset_free(data_width);
    seq_dataset_free(data_negative_ids);
    seq_dataset_free(data_big_ids);
    seq_model_free(tagger);
    seq_model_free(regress);
    seq_model_free(lm);
    seq_model_free(cls);
    seq_model_free(s2s);
    seq_model_free(bidir);
    seq_model_free(rev);
    seq_model_free(nobias);
    seq_model_free(proj);
    seq_model_free(peep);
    seq_model_free(trained);
    seq_config_free(cfg);
    seq_config_free(empty_cfg);
}

/* ---------------------------------------------------------------------------------------------
 * Handle arguments: every function that takes a handle gets NULL, a freed handle, garbage
 * pointers and live handles of the other kinds.
 */

enum kind { CONFIG, MODEL, DATASET, STREAM };

/* One function with every argument valid except the handle, given as `h`. */
struct handle_call {
    const char *function;
    enum kind kind;
    seq_status (*call)(void *h);
    void (*free_call)(void *h); /* the *_free functions instead of `call` */
};

static seq_status h_config_set_int(void *h) { return seq_config_set_int(h, "hidden_size", 4); }
static seq_status h_config_set_float(void *h) { return seq_config_set_float(h, "dropout", 0.1); }
static seq_status h_config_set_string(void *h) { return seq_config_set_string(h, "cell", "gru"); }
static seq_status h_config_unset(void *h) { return seq_config_unset(h, "cell"); }
static seq_status h_config_get_int(void *h) { return seq_config_get_int(h, "num_layers", &sink64); }
static seq_status h_config_get_float(void *h) {
    double v;
    return seq_config_get_float(h, "dropout", &v);
}
static seq_status h_config_get_string(void *h) { return seq_config_get_string(h, "direction", text, sizeof text, NULL); }
static seq_status h_model_create(void *h) {
    seq_model *m = NULL;
    return seq_model_create(h, &m);
}
static seq_status h_model_get_config(void *h) {
    seq_config *c = NULL;
    return seq_model_get_config(h, &c);
}
static seq_status h_model_predict(void *h) {
    return seq_model_predict(h, feats, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, out, BIG, NULL);
}
static seq_status h_model_generate(void *h) {
    return seq_model_generate(h, toks, 2, 3, 1.0, 0, 1, -1, out_ids, BIG, NULL);
}
static seq_status h_model_decode(void *h) {
    return seq_model_decode(h, NULL, toks, T, B, 1, NULL, SEQ_LAYOUT_TIME_MAJOR, 4, 0.0, 0, 1, out_ids, BIG, NULL);
}
static seq_status h_model_train_step(void *h) {
    return seq_model_train_step(h, feats, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, T, NULL, &loss);
}
static seq_status h_model_evaluate(void *h) {
    return seq_model_evaluate(h, feats, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, T, NULL, &loss);
}
static seq_status h_model_compute_gradients(void *h) {
    return seq_model_compute_gradients(h, feats, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, labels, NULL, T, NULL, &loss);
}
static seq_status h_model_apply_gradients(void *h) { return seq_model_apply_gradients(h); }
static seq_status h_model_zero_gradients(void *h) { return seq_model_zero_gradients(h); }
static seq_status h_model_set_learning_rate(void *h) { return seq_model_set_learning_rate(h, 0.1); }
static seq_status h_model_get_learning_rate(void *h) {
    double v;
    return seq_model_get_learning_rate(h, &v);
}
static seq_status h_model_gradient_norms(void *h) { return seq_model_gradient_norms(h, out, BIG, NULL, NULL); }
static seq_status h_model_input_gradient(void *h) { return seq_model_input_gradient(h, out, BIG, NULL); }
static seq_status h_dataset_set_inputs(void *h) {
    return seq_dataset_set_inputs(h, feats, NULL, N, T, I, NULL, SEQ_LAYOUT_TIME_MAJOR);
}
static seq_status h_dataset_set_targets(void *h) {
    return seq_dataset_set_targets(h, labels, NULL, N, T, 1, NULL, SEQ_LAYOUT_TIME_MAJOR);
}
static seq_status h_dataset_count(void *h) { return seq_dataset_count(h, &sink64); }
static seq_status h_model_fit_model(void *h) { return seq_model_fit(h, data_full, 1, 2, NULL, NULL); }
static seq_status h_model_fit_dataset(void *h) { return seq_model_fit(tagger, h, 1, 2, NULL, NULL); }
static seq_status h_model_parameter_count(void *h) { return seq_model_parameter_count(h, &sink64); }
static seq_status h_model_parameter_name(void *h) { return seq_model_parameter_name(h, 0, text, sizeof text, NULL); }
static seq_status h_model_parameter_shape(void *h) {
    return seq_model_parameter_shape(h, "rnn.weight_ih_l0", dims, 8, NULL, NULL);
}
static seq_status h_model_get_parameter(void *h) { return seq_model_get_parameter(h, "head.bias", out, BIG, NULL); }
static seq_status h_model_set_parameter(void *h) { return seq_model_set_parameter(h, "head.bias", values, K); }
static seq_status h_model_get_gradient(void *h) { return seq_model_get_gradient(h, "head.bias", out, BIG, NULL); }
static seq_status h_model_set_gradient(void *h) { return seq_model_set_gradient(h, "head.bias", values, K); }
static seq_status h_stream_create(void *h) {
    seq_stream *s = NULL;
    return seq_stream_create(h, B, &s);
}
static seq_status h_stream_feed(void *h) {
    return seq_stream_feed(h, feats, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, out, BIG, NULL);
}
static seq_status h_stream_feed_hidden(void *h) {
    return seq_stream_feed_hidden(h, feats, NULL, 1, B, I, SEQ_LAYOUT_TIME_MAJOR, out, BIG, NULL);
}
static seq_status h_stream_reset(void *h) { return seq_stream_reset(h); }
static seq_status h_stream_position(void *h) { return seq_stream_position(h, &sink64); }
static seq_status h_stream_get_state(void *h) { return seq_stream_get_state(h, out, BIG, NULL, out + 1024, 1024, NULL); }
static seq_status h_stream_set_state(void *h) { return seq_stream_set_state(h, values, B * H, NULL, 0); }
static seq_status h_model_save(void *h) {
    char path[1024];
    snprintf(path, sizeof path, "%s/handle-case.safetensors", scratch);
    return seq_model_save(h, path);
}
static seq_status h_model_save_checkpoint(void *h) {
    char path[1024];
    snprintf(path, sizeof path, "%s/handle-case.ckpt.safetensors", scratch);
    return seq_model_save_checkpoint(h, path);
}
static seq_status h_model_set_onnx_tensor(void *h) { return seq_model_set_onnx_tensor(h, "rnn", 0, "W", values, 48); }
static seq_status h_model_forward(void *h) {
    return seq_model_forward(h, feats, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, 1, out, BIG, NULL);
}
static seq_status h_model_backward(void *h) { return seq_model_backward(h, values, T * B * K); }
static seq_status h_model_final_state(void *h) { return seq_model_final_state(h, out, BIG, NULL, out + 1024, 1024, NULL); }
static seq_status h_model_state_gradient(void *h) {
    return seq_model_state_gradient(h, out, BIG, NULL, out + 1024, 1024, NULL);
}
static void f_config_free(void *h) { seq_config_free(h); }
static void f_model_free(void *h) { seq_model_free(h); }
static void f_dataset_free(void *h) { seq_dataset_free(h); }
static void f_stream_free(void *h) { seq_stream_free(h); }

static const struct handle_call handle_calls[] = {
    {"seq_config_free", CONFIG, NULL, f_config_free},
    {"seq_config_set_int", CONFIG, h_config_set_int, NULL},
    {"seq_config_set_float", CONFIG, h_config_set_float, NULL},
    {"seq_config_set_string", CONFIG, h_config_set_string, NULL},
    {"seq_config_unset", CONFIG, h_config_unset, NULL},
    {"seq_config_get_int", CONFIG, h_config_get_int, NULL},
    {"seq_config_get_float", CONFIG, h_config_get_float, NULL},
    {"seq_config_get_string", CONFIG, h_config_get_string, NULL},
    {"seq_model_create", CONFIG, h_model_create, NULL},
    {"seq_model_free", MODEL, NULL, f_model_free},
    {"seq_model_get_config", MODEL, h_model_get_config, NULL},
    {"seq_model_predict", MODEL, h_model_predict, NULL},
    {"seq_model_generate", MODEL, h_model_generate, NULL},
    {"seq_model_decode", MODEL, h_model_decode, NULL},
    {"seq_model_train_step", MODEL, h_model_train_step, NULL},
    {"seq_model_evaluate", MODEL, h_model_evaluate, NULL},
    {"seq_model_compute_gradients", MODEL, h_model_compute_gradients, NULL},
    {"seq_model_apply_gradients", MODEL, h_model_apply_gradients, NULL},
    {"seq_model_zero_gradients", MODEL, h_model_zero_gradients, NULL},
    {"seq_model_set_learning_rate", MODEL, h_model_set_learning_rate, NULL},
    {"seq_model_get_learning_rate", MODEL, h_model_get_learning_rate, NULL},
    {"seq_model_gradient_norms", MODEL, h_model_gradient_norms, NULL},
    {"seq_model_input_gradient", MODEL, h_model_input_gradient, NULL},
    {"seq_dataset_free", DATASET, NULL, f_dataset_free},
    {"seq_dataset_set_inputs", DATASET, h_dataset_set_inputs, NULL},
    {"seq_dataset_set_targets", DATASET, h_dataset_set_targets, NULL},
    {"seq_dataset_count", DATASET, h_dataset_count, NULL},
    {"seq_model_fit", MODEL, h_model_fit_model, NULL},
    {"seq_model_fit", DATASET, h_model_fit_dataset, NULL},
    {"seq_model_parameter_count", MODEL, h_model_parameter_count, NULL},
    {"seq_model_parameter_name", MODEL, h_model_parameter_name, NULL},
    {"seq_model_parameter_shape", MODEL, h_model_parameter_shape, NULL},
    {"seq_model_get_parameter", MODEL, h_model_get_parameter, NULL},
    {"seq_model_set_parameter", MODEL, h_model_set_parameter, NULL},
    {"seq_model_get_gradient", MODEL, h_model_get_gradient, NULL},
    {"seq_model_set_gradient", MODEL, h_model_set_gradient, NULL},
    {"seq_stream_create", MODEL, h_stream_create, NULL},
    {"seq_stream_free", STREAM, NULL, f_stream_free},
    {"seq_stream_feed", STREAM, h_stream_feed, NULL},
    {"seq_stream_feed_hidden", STREAM, h_stream_feed_hidden, NULL},
    {"seq_stream_reset", STREAM, h_stream_reset, NULL},
    {"seq_stream_position", STREAM, h_stream_position, NULL},
    {"seq_stream_get_state", STREAM, h_stream_get_state, NULL},
    {"seq_stream_set_state", STREAM, h_stream_set_state, NULL},
    {"seq_model_save", MODEL, h_model_save, NULL},
    {"seq_model_save_checkpoint", MODEL, h_model_save_checkpoint, NULL},
    {"seq_model_set_onnx_tensor", MODEL, h_model_set_onnx_tensor, NULL},
    {"seq_model_forward", MODEL, h_model_forward, NULL},
    {"seq_model_backward", MODEL, h_model_backward, NULL},
    {"seq_model_final_state", MODEL, h_model_final_state, NULL},
    {"seq_model_state_gradient", MODEL, h_model_state_gradient, NULL},
};

static const char *const kind_names[] = {"seq_config", "seq_model", "seq_dataset", "seq_stream"};

static void handle_cases(void) {
    size_t c;
    for (c = 0; c < sizeof handle_calls / sizeof handle_calls[0]; c++) {
        const struct handle_call *hc = &handle_calls[c];
        void *live[4], *freed[4];
        struct bad_handle bad[16];
        int n = 0, k;
        char input[160];
        const char *what = hc->kind == DATASET && strcmp(hc->function, "seq_model_fit") == 0 ? "dataset: " : "";
        live[CONFIG] = cfg;
        live[MODEL] = tagger;
        live[DATASET] = data_full;
        live[STREAM] = stream;
        freed[CONFIG] = freed_config;
        freed[MODEL] = freed_model;
        freed[DATASET] = freed_dataset;
        freed[STREAM] = freed_stream;

        bad[n].name = "NULL";
        bad[n++].pointer = NULL;
        bad[n].name = "a freed handle";
        bad[n++].pointer = freed[hc->kind];
        for (k = 0; k < 4; k++)
            if (k != (int)hc->kind) {
                static char names[4][64];
                snprintf(names[k], sizeof names[k], "a live %s handle (wrong kind)", kind_names[k]);
                bad[n].name = names[k];
                bad[n++].pointer = live[k];
            }
        bad[n].name = "garbage pointer 0x10";
        bad[n++].pointer = (void *)(uintptr_t)0x10;
        bad[n].name = "garbage pointer UINTPTR_MAX";
        bad[n++].pointer = (void *)UINTPTR_MAX;
        bad[n].name = "a static buffer filled with a handle's tag bytes";
        bad[n++].pointer = &fake_box;
        bad[n].name = "a live handle + 8 (interior pointer)";
        bad[n++].pointer = (char *)live[hc->kind] + 8;
        bad[n].name = "a live handle + 1 (misaligned)";
        bad[n++].pointer = (char *)live[hc->kind] + 1;

        for (k = 0; k < n; k++) {
            int expect = k == 0 ? SEQ_ERR_NULL_POINTER : SEQ_ERR_WRONG_HANDLE;
            snprintf(input, sizeof input, "%s%s: %s", what, kind_names[hc->kind], bad[k].name);
            if (hc->free_call != NULL) {
                /* *_free(NULL) is a documented no-op; any other non-handle is left alone with a message */
                if (begin_case(hc->function, input, k == 0 ? EXPECT_SILENT : EXPECT_RECORDED)) {
                    hc->free_call(bad[k].pointer);
                    child_void();
                }
            } else if (begin_case(hc->function, input, expect)) {
                child_status(hc->call(bad[k].pointer));
            }
        }
    }
    /* A double free, and a handle freed while its kind is used elsewhere: left alone. */
    CASE_VOID(seq_config_free, "a handle freed twice", EXPECT_RECORDED, {
        seq_config *c = NULL;
        need(seq_config_create(&c), "seq_config_create");
        seq_config_free(c);
        seq_config_free(c);
    });
    CASE_VOID(seq_model_free, "a handle freed twice", EXPECT_RECORDED, {
        seq_model *m = NULL;
        need(model_spec("cell=gru input_size=1 hidden_size=1 output_size=1", &m), "model");
        seq_model_free(m);
        seq_model_free(m);
    });
    CASE_VOID(seq_dataset_free, "a handle freed twice", EXPECT_RECORDED, {
        seq_dataset *d = NULL;
        need(seq_dataset_create(&d), "seq_dataset_create");
        seq_dataset_free(d);
        seq_dataset_free(d);
    });
    CASE_VOID(seq_stream_free, "a handle freed twice", EXPECT_RECORDED, {
        seq_stream *s = NULL;
        need(seq_stream_create(tagger, 1, &s), "seq_stream_create");
        seq_stream_free(s);
        seq_stream_free(s);
    });
}

/* ---------------------------------------------------------------------------------------------
 * Functions without handles, and values
 */

static void *read_last_error_on_new_thread(void *arg) {
    snprintf((char *)arg, 256, "\"%s\"", seq_last_error());
    return NULL;
}

static void library_cases(void) {
    static const int32_t codes[] = {-1, 12, 1000, INT32_MIN, INT32_MAX};
    static const char *const code_names[] = {"-1", "12 (one past the last)", "1000", "INT32_MIN", "INT32_MAX"};
    size_t i;
    /* No arguments, so nothing bad to pass; listed so that every function has a row. */
    if (begin_case("seq_version", "no arguments", EXPECT_VALUE)) child_value(seq_version() != NULL ? "a static string" : "NULL");
    if (begin_case("seq_version_number", "no arguments", EXPECT_VALUE))
        child_value(seq_version_number() == SEQ_VERSION_NUMBER ? "SEQ_VERSION_NUMBER" : "a different number");
    if (begin_case("seq_abi_version", "no arguments", EXPECT_VALUE))
        child_value(seq_abi_version() == SEQ_ABI_VERSION ? "SEQ_ABI_VERSION" : "a different number");
    if (begin_case("seq_get_num_threads", "no arguments (after seq_set_num_threads(INT32_MAX))", EXPECT_VALUE)) {
        char value[32];
        seq_set_num_threads(INT32_MAX);
        snprintf(value, sizeof value, "%d", (int)seq_get_num_threads());
        child_value(value);
    }
    if (begin_case("seq_last_error", "called on a thread where nothing failed", EXPECT_VALUE)) {
        char value[256] = "";
        pthread_t thread;
        (void)seq_set_num_threads(0); /* this thread has a message; the new one must not see it */
        pthread_create(&thread, NULL, read_last_error_on_new_thread, value);
        pthread_join(thread, NULL);
        child_value(value);
    }
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char input[64];
        snprintf(input, sizeof input, "code %s", code_names[i]);
        if (begin_case("seq_status_string", input, EXPECT_VALUE)) child_value(seq_status_string(codes[i]));
    }
    CASE(seq_set_num_threads, "count 0", SEQ_ERR_INVALID_ARGUMENT, seq_set_num_threads(0));
    CASE(seq_set_num_threads, "count -1", SEQ_ERR_INVALID_ARGUMENT, seq_set_num_threads(-1));
    CASE(seq_set_num_threads, "count INT32_MIN", SEQ_ERR_INVALID_ARGUMENT, seq_set_num_threads(INT32_MIN));
    CASE(seq_set_num_threads, "count INT32_MAX (documented: clamped to the maximum)", EXPECT_ACCEPTED,
         seq_set_num_threads(INT32_MAX));
}

static char long_string[10001];
static const char invalid_utf8[] = "hidden\xff\xfe_size";

static void config_cases(void) {
    static const struct {
        const char *key, *input;
        int64_t value;
    } ints[] = {
        {"hidden_size", "hidden_size 0", 0},
        {"hidden_size", "hidden_size -1", -1},
        {"hidden_size", "hidden_size INT64_MIN", INT64_MIN},
        {"input_size", "input_size 0", 0},
        {"num_layers", "num_layers 0", 0},
        {"proj_size", "proj_size -1", -1},
        {"peepholes", "peepholes 2", 2},
        {"bias", "bias -1", -1},
        {"vocab_size", "vocab_size -1", -1},
        {"embedding_size", "embedding_size -5", -5},
        {"padding_index", "padding_index -1", -1},
        {"output_size", "output_size 0", 0},
        {"start_token", "start_token -1", -1},
        {"stop_token", "stop_token INT64_MIN", INT64_MIN},
        {"nesterov", "nesterov 2", 2},
        {"amsgrad", "amsgrad -1", -1},
        {"centered", "centered INT64_MAX", INT64_MAX},
        {"maximize", "maximize 2", 2},
        {"lr_step_size", "lr_step_size 0", 0},
        {"lr_period", "lr_period -1", -1},
        {"warmup_steps", "warmup_steps -1", -1},
        {"truncated_bptt", "truncated_bptt -1", -1},
        {"dropout", "float key dropout given an int", 0},
        {"learning_rate", "float key learning_rate given an int", 1},
        {"cell", "string key cell given an int", 1},
    };
    static const struct {
        const char *key, *input;
        double value;
    } floats[] = {
        {"dropout", "dropout NaN", NAN},
        {"dropout", "dropout +Inf", INFINITY},
        {"dropout", "dropout -Inf", -INFINITY},
        {"dropout", "dropout 1.0 (range is [0, 1))", 1.0},
        {"dropout", "dropout -0.1", -0.1},
        {"dropout", "dropout DBL_MAX", DBL_MAX},
        {"learning_rate", "learning_rate -1", -1.0},
        {"learning_rate", "learning_rate NaN", NAN},
        {"momentum", "momentum -DBL_MIN", -DBL_MIN},
        {"beta1", "beta1 1.0", 1.0},
        {"beta2", "beta2 -0.5", -0.5},
        {"epsilon", "epsilon -1e-8", -1e-8},
        {"clip_norm", "clip_norm NaN", NAN},
        {"clip_value", "clip_value -Inf", -INFINITY},
        {"weight_decay", "weight_decay -1", -1.0},
        {"forget_bias", "forget_bias +Inf", INFINITY},
        {"dampening", "dampening -1", -1.0},
        {"alpha", "alpha 1.0 (range is [0, 1))", 1.0},
        {"lr_gamma", "lr_gamma NaN", NAN},
        {"lr_min", "lr_min -Inf", -INFINITY},
        {"warmup_start_factor", "warmup_start_factor 0 (range is (0, 1])", 0.0},
        {"warmup_start_factor", "warmup_start_factor 1.5", 1.5},
        {"warmup_start_factor", "warmup_start_factor NaN", NAN},
        {"hidden_size", "int key hidden_size given a float", 4.0},
        {"cell", "string key cell given a float", 1.0},
    };
    static const struct {
        const char *key, *input, *value;
    } strings[] = {
        {"cell", "cell \"LSTM\" (case differs)", "LSTM"},
        {"cell", "cell \"\"", ""},
        {"cell", "cell \"lstm \" (trailing space)", "lstm "},
        {"cell", "cell with invalid UTF-8", "ls\xc3\x28tm"},
        {"direction", "direction \"both\"", "both"},
        {"architecture", "architecture \"transformer\"", "transformer"},
        {"optimizer", "optimizer \"lbfgs\"", "lbfgs"},
        {"lr_schedule", "lr_schedule \"linear\"", "linear"},
        {"hidden_size", "int key hidden_size given \"4\"", "4"},
        {"dropout", "float key dropout given \"0.1\"", "0.1"},
    };
    size_t i;
    memset(long_string, 'k', sizeof long_string - 1);

    CASE(seq_config_create, "out NULL", SEQ_ERR_NULL_POINTER, seq_config_create(NULL));

    CASE(seq_config_set_int, "key NULL", SEQ_ERR_NULL_POINTER, seq_config_set_int(cfg, NULL, 4));
    CASE(seq_config_set_int, "key \"\"", SEQ_ERR_NOT_FOUND, seq_config_set_int(cfg, "", 4));
    CASE(seq_config_set_int, "key \"hidden_sise\" (unknown)", SEQ_ERR_NOT_FOUND, seq_config_set_int(cfg, "hidden_sise", 4));
    CASE(seq_config_set_int, "key of 10000 characters", SEQ_ERR_NOT_FOUND, seq_config_set_int(cfg, long_string, 4));
    CASE(seq_config_set_int, "key with invalid UTF-8", SEQ_ERR_INVALID_ARGUMENT, seq_config_set_int(cfg, invalid_utf8, 4));
    for (i = 0; i < sizeof ints / sizeof ints[0]; i++)
        CASE(seq_config_set_int, ints[i].input, SEQ_ERR_INVALID_ARGUMENT, seq_config_set_int(cfg, ints[i].key, ints[i].value));
    /* Sizes above Limits.maxElements (2^31) are refused when set; sizes up to it only by
       seq_model_create (see its rows). */
    CASE(seq_config_set_int, "hidden_size INT64_MAX", EXPECT_ERROR, seq_config_set_int(cfg, "hidden_size", INT64_MAX));
    CASE(seq_config_set_int, "input_size 2^31 + 1", EXPECT_ERROR, seq_config_set_int(cfg, "input_size", JUST_OVER));
    CASE(seq_config_set_int, "vocab_size 2^40", EXPECT_ERROR, seq_config_set_int(cfg, "vocab_size", (int64_t)1 << 40));
    CASE(seq_config_set_int, "num_layers INT64_MAX", EXPECT_ERROR, seq_config_set_int(cfg, "num_layers", INT64_MAX));

    CASE(seq_config_set_float, "key NULL", SEQ_ERR_NULL_POINTER, seq_config_set_float(cfg, NULL, 0.1));
    CASE(seq_config_set_float, "key \"dropuot\" (unknown)", SEQ_ERR_NOT_FOUND, seq_config_set_float(cfg, "dropuot", 0.1));
    for (i = 0; i < sizeof floats / sizeof floats[0]; i++)
        CASE(seq_config_set_float, floats[i].input, SEQ_ERR_INVALID_ARGUMENT,
             seq_config_set_float(cfg, floats[i].key, floats[i].value));

    CASE(seq_config_set_string, "key NULL", SEQ_ERR_NULL_POINTER, seq_config_set_string(cfg, NULL, "lstm"));
    CASE(seq_config_set_string, "value NULL", SEQ_ERR_NULL_POINTER, seq_config_set_string(cfg, "cell", NULL));
    CASE(seq_config_set_string, "key \"cel\" (unknown)", SEQ_ERR_NOT_FOUND, seq_config_set_string(cfg, "cel", "lstm"));
    CASE(seq_config_set_string, "value of 10000 characters", SEQ_ERR_INVALID_ARGUMENT,
         seq_config_set_string(cfg, "cell", long_string));
    for (i = 0; i < sizeof strings / sizeof strings[0]; i++)
        CASE(seq_config_set_string, strings[i].input, SEQ_ERR_INVALID_ARGUMENT,
             seq_config_set_string(cfg, strings[i].key, strings[i].value));

    CASE(seq_config_unset, "key NULL", SEQ_ERR_NULL_POINTER, seq_config_unset(cfg, NULL));
    CASE(seq_config_unset, "key \"\"", SEQ_ERR_NOT_FOUND, seq_config_unset(cfg, ""));
    CASE(seq_config_unset, "key \"colour\" (unknown)", SEQ_ERR_NOT_FOUND, seq_config_unset(cfg, "colour"));

    CASE(seq_config_get_int, "key NULL", SEQ_ERR_NULL_POINTER, seq_config_get_int(cfg, NULL, &sink64));
    CASE(seq_config_get_int, "out NULL", SEQ_ERR_NULL_POINTER, seq_config_get_int(cfg, "hidden_size", NULL));
    CASE(seq_config_get_int, "key \"size\" (unknown)", SEQ_ERR_NOT_FOUND, seq_config_get_int(cfg, "size", &sink64));
    CASE(seq_config_get_int, "float key dropout", SEQ_ERR_INVALID_ARGUMENT, seq_config_get_int(cfg, "dropout", &sink64));
    CASE(seq_config_get_int, "string key cell", SEQ_ERR_INVALID_ARGUMENT, seq_config_get_int(cfg, "cell", &sink64));
    CASE(seq_config_get_int, "required key hidden_size never set", SEQ_ERR_NOT_FOUND,
         seq_config_get_int(empty_cfg, "hidden_size", &sink64));
    CASE(seq_config_get_int, "key padding_index (no default) never set", SEQ_ERR_NOT_FOUND,
         seq_config_get_int(empty_cfg, "padding_index", &sink64));

    CASE(seq_config_get_float, "key NULL", SEQ_ERR_NULL_POINTER, seq_config_get_float(cfg, NULL, &loss));
    CASE(seq_config_get_float, "out NULL", SEQ_ERR_NULL_POINTER, seq_config_get_float(cfg, "dropout", NULL));
    CASE(seq_config_get_float, "key \"rate\" (unknown)", SEQ_ERR_NOT_FOUND, seq_config_get_float(cfg, "rate", &loss));
    CASE(seq_config_get_float, "int key hidden_size", SEQ_ERR_INVALID_ARGUMENT, seq_config_get_float(cfg, "hidden_size", &loss));
    CASE(seq_config_get_float, "key forget_bias (no default) never set", SEQ_ERR_NOT_FOUND,
         seq_config_get_float(empty_cfg, "forget_bias", &loss));

    CASE(seq_config_get_string, "key NULL", SEQ_ERR_NULL_POINTER, seq_config_get_string(cfg, NULL, text, sizeof text, NULL));
    CASE(seq_config_get_string, "buffer NULL, capacity 16", SEQ_ERR_NULL_POINTER, seq_config_get_string(cfg, "cell", NULL, 16, NULL));
    CASE(seq_config_get_string, "capacity -1", SEQ_ERR_INVALID_ARGUMENT, seq_config_get_string(cfg, "cell", text, -1, NULL));
    CASE(seq_config_get_string, "capacity INT64_MIN", SEQ_ERR_INVALID_ARGUMENT,
         seq_config_get_string(cfg, "cell", text, INT64_MIN, NULL));
    CASE(seq_config_get_string, "capacity 4 for \"lstm\" (no room for the NUL)", SEQ_ERR_BUFFER_TOO_SMALL,
         seq_config_get_string(cfg, "cell", text, 4, NULL));
    CASE(seq_config_get_string, "key \"cells\" (unknown)", SEQ_ERR_NOT_FOUND, seq_config_get_string(cfg, "cells", text, sizeof text, NULL));
    CASE(seq_config_get_string, "int key hidden_size", SEQ_ERR_INVALID_ARGUMENT,
         seq_config_get_string(cfg, "hidden_size", text, sizeof text, NULL));
    CASE(seq_config_get_string, "required key cell never set", SEQ_ERR_NOT_FOUND,
         seq_config_get_string(empty_cfg, "cell", text, sizeof text, NULL));
}

/* seq_model_create's status for a config built from `spec` (in a child: a config that cannot be
   built ends the child as "setup failed"). */
static seq_status create_from_spec(const char *spec) {
    seq_config *config = config_spec(spec);
    seq_model *model = NULL;
    if (config == NULL) _exit(3);
    return seq_model_create(config, &model);
}

static void model_cases(void) {
    static const struct {
        const char *input, *spec;
        int expect;
    } creates[] = {
        {"an empty config", "", SEQ_ERR_INVALID_ARGUMENT},
        {"no cell", "input_size=3 hidden_size=4 output_size=2", SEQ_ERR_INVALID_ARGUMENT},
        {"no hidden_size", "cell=gru input_size=3 output_size=2", SEQ_ERR_INVALID_ARGUMENT},
        {"no output_size (tagger)", "cell=gru input_size=3 hidden_size=4", SEQ_ERR_INVALID_ARGUMENT},
        {"no input_size", "cell=gru hidden_size=4 output_size=2", SEQ_ERR_INVALID_ARGUMENT},
        {"proj_size with a GRU", "cell=gru input_size=3 hidden_size=4 output_size=2 proj_size=2", SEQ_ERR_INVALID_ARGUMENT},
        {"proj_size = hidden_size", "cell=lstm input_size=3 hidden_size=4 output_size=2 proj_size=4", SEQ_ERR_INVALID_ARGUMENT},
        {"peepholes with a GRU", "cell=gru input_size=3 hidden_size=4 output_size=2 peepholes=1", SEQ_ERR_INVALID_ARGUMENT},
        {"gru_variant with an LSTM", "cell=lstm input_size=3 hidden_size=4 output_size=2 gru_variant=classic",
         SEQ_ERR_INVALID_ARGUMENT},
        {"forget_bias with a GRU", "cell=gru input_size=3 hidden_size=4 output_size=2 forget_bias=1", SEQ_ERR_INVALID_ARGUMENT},
        {"vocab_size without embedding_size", "cell=gru vocab_size=5 hidden_size=4 output_size=2", SEQ_ERR_INVALID_ARGUMENT},
        {"padding_index >= vocab_size", "cell=gru vocab_size=5 embedding_size=3 hidden_size=4 output_size=2 padding_index=5",
         SEQ_ERR_INVALID_ARGUMENT},
        {"language_model without vocab_size", "architecture=language_model cell=gru input_size=3 hidden_size=4",
         SEQ_ERR_INVALID_ARGUMENT},
        {"seq2seq with start_token >= output_size",
         "architecture=seq2seq cell=gru vocab_size=5 embedding_size=3 hidden_size=4 output_size=5 start_token=5",
         SEQ_ERR_INVALID_ARGUMENT},
        {"seq2seq with ignore_index -100 (targets are decoder inputs)",
         "architecture=seq2seq cell=gru vocab_size=5 embedding_size=3 hidden_size=4 output_size=5 ignore_index=-100",
         SEQ_ERR_INVALID_ARGUMENT},
        {"start_token with a tagger", "cell=gru input_size=3 hidden_size=4 output_size=2 start_token=1", SEQ_ERR_INVALID_ARGUMENT},
        {"ignore_index with output regression",
         "cell=gru input_size=3 hidden_size=4 output_size=2 output=regression ignore_index=0", SEQ_ERR_INVALID_ARGUMENT},
        {"momentum with adam", "cell=gru input_size=3 hidden_size=4 output_size=2 momentum=0.9", SEQ_ERR_INVALID_ARGUMENT},
        {"nesterov without momentum", "cell=gru input_size=3 hidden_size=4 output_size=2 optimizer=sgd nesterov=1",
         SEQ_ERR_INVALID_ARGUMENT},
        {"amsgrad with rmsprop", "cell=gru input_size=3 hidden_size=4 output_size=2 optimizer=rmsprop amsgrad=1",
         SEQ_ERR_INVALID_ARGUMENT},
        {"lr_schedule step without lr_step_size", "cell=gru input_size=3 hidden_size=4 output_size=2 lr_schedule=step",
         SEQ_ERR_INVALID_ARGUMENT},
        {"lr_period with lr_schedule constant", "cell=gru input_size=3 hidden_size=4 output_size=2 lr_period=5",
         SEQ_ERR_INVALID_ARGUMENT},
        {"warmup_start_factor without warmup_steps",
         "cell=gru input_size=3 hidden_size=4 output_size=2 warmup_start_factor=0.5", SEQ_ERR_INVALID_ARGUMENT},
        {"truncated_bptt with a classifier",
         "architecture=classifier cell=gru input_size=3 hidden_size=4 output_size=2 truncated_bptt=4", SEQ_ERR_INVALID_ARGUMENT},
        {"truncated_bptt with a bidirectional tagger",
         "cell=gru input_size=3 hidden_size=4 output_size=2 direction=bidirectional truncated_bptt=4", SEQ_ERR_INVALID_ARGUMENT},
        {"hidden_size 2^31 (3H * H = 3 * 2^62 weights)", "cell=gru input_size=3 hidden_size=2147483648 output_size=2",
         SEQ_ERR_RESOURCE_LIMIT},
        {"hidden_size 2^20 (3H * H = 3 * 2^40 weights)", "cell=gru input_size=3 hidden_size=1048576 output_size=2",
         SEQ_ERR_RESOURCE_LIMIT},
        {"input_size 2^31", "cell=gru input_size=2147483648 hidden_size=4 output_size=2", SEQ_ERR_RESOURCE_LIMIT},
        /* Small layers, absurdly many: the whole stack's size is refused before any is built. */
        {"num_layers 2^31, hidden_size 4",
         "cell=gru input_size=3 hidden_size=4 output_size=2 num_layers=2147483648", SEQ_ERR_RESOURCE_LIMIT},
        {"output_size 2^31", "cell=gru input_size=3 hidden_size=4 output_size=2147483648", SEQ_ERR_RESOURCE_LIMIT},
        {"vocab_size 2^31", "cell=gru vocab_size=2147483648 embedding_size=3 hidden_size=4 output_size=2", SEQ_ERR_RESOURCE_LIMIT},
        {"embedding_size 2^31", "cell=gru vocab_size=5 embedding_size=2147483648 hidden_size=4 output_size=2",
         SEQ_ERR_RESOURCE_LIMIT},
        {"vocab_size 2^31 and embedding_size 2^31 (2^62 embedding values)",
         "cell=gru vocab_size=2147483648 embedding_size=2147483648 hidden_size=4 output_size=2", SEQ_ERR_RESOURCE_LIMIT},
        {"proj_size 2^31 - 1 with hidden_size 2^31",
         "cell=lstm input_size=3 hidden_size=2147483648 proj_size=2147483647 output_size=2", SEQ_ERR_RESOURCE_LIMIT},
        {"hidden_size 65536 (4H * H = 2^34 for an LSTM)", "cell=lstm input_size=3 hidden_size=65536 output_size=2",
         SEQ_ERR_RESOURCE_LIMIT},
    };
    size_t i;
    CASE(seq_model_create, "out NULL", SEQ_ERR_NULL_POINTER, seq_model_create(cfg, NULL));
    for (i = 0; i < sizeof creates / sizeof creates[0]; i++) {
        char input[160];
        snprintf(input, sizeof input, "config: %s", creates[i].input);
        CASE(seq_model_create, input, creates[i].expect, create_from_spec(creates[i].spec));
    }
    CASE(seq_model_get_config, "out NULL", SEQ_ERR_NULL_POINTER, seq_model_get_config(tagger, NULL));
}

/* The arguments shared by predict, train_step, evaluate, compute_gradients and decode. */
struct batch {
    const float *features;
    const int32_t *tokens;
    int64_t steps, batch, input_size;
    const int64_t *lengths;
    seq_layout layout;
};

static struct batch good_features(void) {
    struct batch b = {feats, NULL, T, B, I, NULL, SEQ_LAYOUT_TIME_MAJOR};
    return b;
}

/* The bad variants of a feature batch, as (description, batch, expected status). */
struct batch_case {
    const char *input;
    struct batch b;
    int expect;
};

static size_t batch_cases(struct batch_case *cases) {
    size_t n = 0;
#define ADD(description, field, value, expected)   \
    do {                                           \
        cases[n].input = description;              \
        cases[n].b = good_features();              \
        cases[n].b.field = value;                  \
        cases[n].expect = expected;                \
        n++;                                       \
    } while (0)
    ADD("features and tokens both NULL", features, NULL, EXPECT_ERROR);
    ADD("tokens given to a feature model", tokens, toks, EXPECT_ERROR);
    ADD("steps 0", steps, 0, SEQ_ERR_INVALID_ARGUMENT);
    ADD("steps -1", steps, -1, SEQ_ERR_INVALID_ARGUMENT);
    ADD("steps INT64_MIN", steps, INT64_MIN, SEQ_ERR_INVALID_ARGUMENT);
    ADD("steps INT64_MAX", steps, INT64_MAX, SEQ_ERR_RESOURCE_LIMIT);
    ADD("steps 2^31 + 1", steps, JUST_OVER, SEQ_ERR_RESOURCE_LIMIT);
    ADD("batch 0", batch, 0, SEQ_ERR_INVALID_ARGUMENT);
    ADD("batch -1", batch, -1, SEQ_ERR_INVALID_ARGUMENT);
    ADD("batch INT64_MAX", batch, INT64_MAX, SEQ_ERR_RESOURCE_LIMIT);
    ADD("input_size 2 (model has 3)", input_size, 2, SEQ_ERR_INVALID_ARGUMENT);
    ADD("input_size 0", input_size, 0, SEQ_ERR_INVALID_ARGUMENT);
    ADD("input_size -3", input_size, -3, SEQ_ERR_INVALID_ARGUMENT);
    ADD("input_size INT64_MAX", input_size, INT64_MAX, EXPECT_ERROR);
    ADD("lengths {0, T}", lengths, lengths_zero, SEQ_ERR_INVALID_ARGUMENT);
    ADD("lengths {T + 1, T}", lengths, lengths_long, SEQ_ERR_INVALID_ARGUMENT);
    ADD("lengths {-1, T}", lengths, lengths_negative, SEQ_ERR_INVALID_ARGUMENT);
    ADD("lengths {INT64_MAX, T}", lengths, lengths_max, SEQ_ERR_INVALID_ARGUMENT);
    ADD("lengths {INT64_MIN, T}", lengths, lengths_min, SEQ_ERR_INVALID_ARGUMENT);
    ADD("layout 2", layout, 2, SEQ_ERR_INVALID_ARGUMENT);
    ADD("layout -1", layout, -1, SEQ_ERR_INVALID_ARGUMENT);
    ADD("layout INT32_MIN", layout, INT32_MIN, SEQ_ERR_INVALID_ARGUMENT);
    ADD("a NaN feature", features, nan_feats, SEQ_ERR_INVALID_ARGUMENT);
    ADD("a +Inf feature", features, inf_feats, SEQ_ERR_INVALID_ARGUMENT);
    ADD("a -Inf feature", features, ninf_feats, SEQ_ERR_INVALID_ARGUMENT);
#undef ADD
    /* products that overflow: each size alone is fine */
    cases[n].input = "steps 2^32, batch 2^32 (each over the limit)";
    cases[n].b = good_features();
    cases[n].b.steps = OVER_LIMIT;
    cases[n].b.batch = OVER_LIMIT;
    cases[n++].expect = SEQ_ERR_RESOURCE_LIMIT;
    cases[n].input = "steps 2^31, batch 2^31 (each at the limit; T * B * I overflows int64)";
    cases[n].b = good_features();
    cases[n].b.steps = (int64_t)1 << 31;
    cases[n].b.batch = (int64_t)1 << 31;
    cases[n++].expect = SEQ_ERR_RESOURCE_LIMIT;
    cases[n].input = "steps 2^16, batch 2^16 (2^32 steps in all)";
    cases[n].b = good_features();
    cases[n].b.steps = 65536;
    cases[n].b.batch = 65536;
    cases[n++].expect = SEQ_ERR_RESOURCE_LIMIT;
    cases[n].input = "steps 2^30, batch 1, input_size 3 (3 * 2^30 values)";
    cases[n].b = good_features();
    cases[n].b.steps = (int64_t)1 << 30;
    cases[n].b.batch = 1;
    cases[n++].expect = SEQ_ERR_RESOURCE_LIMIT;
    cases[n].input = "batch 2^21, steps 2^21";
    cases[n].b = good_features();
    cases[n].b.steps = (int64_t)1 << 21;
    cases[n].b.batch = (int64_t)1 << 21;
    cases[n++].expect = SEQ_ERR_RESOURCE_LIMIT;
    return n;
}

static void inference_cases(void) {
    struct batch_case cases[64];
    size_t n = batch_cases(cases), i;
    for (i = 0; i < n; i++) {
        const struct batch b = cases[i].b;
        CASE(seq_model_predict, cases[i].input, cases[i].expect,
             seq_model_predict(tagger, b.features, b.tokens, b.steps, b.batch, b.input_size, b.lengths, b.layout, out, BIG, NULL));
    }
    CASE(seq_model_predict, "output NULL, capacity 20", SEQ_ERR_NULL_POINTER,
         seq_model_predict(tagger, feats, NULL, T, B, I, NULL, 0, NULL, T * B * K, NULL));
    CASE(seq_model_predict, "output NULL, capacity INT64_MAX", SEQ_ERR_NULL_POINTER,
         seq_model_predict(tagger, feats, NULL, T, B, I, NULL, 0, NULL, INT64_MAX, NULL));
    CASE(seq_model_predict, "capacity -1", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_predict(tagger, feats, NULL, T, B, I, NULL, 0, out, -1, NULL));
    CASE(seq_model_predict, "capacity 19 (needs 20)", SEQ_ERR_BUFFER_TOO_SMALL,
         seq_model_predict(tagger, feats, NULL, T, B, I, NULL, 0, out, T * B * K - 1, NULL));
    CASE(seq_model_predict, "a seq2seq model", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_predict(s2s, NULL, toks, T, B, 1, NULL, 0, out, BIG, NULL));
    CASE(seq_model_predict, "features given to a token model", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_predict(lm, feats, NULL, T, B, I, NULL, 0, out, BIG, NULL));
    CASE(seq_model_predict, "token id = vocab_size", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_predict(lm, NULL, bad_toks, T, B, 1, NULL, 0, out, BIG, NULL));
    CASE(seq_model_predict, "token id -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_predict(lm, NULL, neg_toks, T, B, 1, NULL, 0, out, BIG, NULL));
    CASE(seq_model_predict, "tokens with input_size 2", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_predict(lm, NULL, toks, T, B, 2, NULL, 0, out, BIG, NULL));

    /* generate */
    CASE(seq_model_generate, "a tagger (not a language model)", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_generate(tagger, toks, 2, 3, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "prefix NULL", SEQ_ERR_NULL_POINTER, seq_model_generate(lm, NULL, 2, 3, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "prefix_length 0", SEQ_ERR_INVALID_ARGUMENT, seq_model_generate(lm, toks, 0, 3, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "prefix_length -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_generate(lm, toks, -1, 3, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "prefix_length INT64_MAX", SEQ_ERR_RESOURCE_LIMIT,
         seq_model_generate(lm, toks, INT64_MAX, 3, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "prefix token = vocab_size", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_generate(lm, bad_toks, 2, 3, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "prefix token -1", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_generate(lm, neg_toks, 2, 3, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "count -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_generate(lm, toks, 2, -1, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "count INT64_MAX, capacity 4096", EXPECT_ERROR,
         seq_model_generate(lm, toks, 2, INT64_MAX, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "count 2^31 + 1, capacity 4096", EXPECT_ERROR,
         seq_model_generate(lm, toks, 2, JUST_OVER, 1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "temperature NaN", SEQ_ERR_INVALID_ARGUMENT, seq_model_generate(lm, toks, 2, 3, NAN, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "temperature +Inf", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_generate(lm, toks, 2, 3, INFINITY, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "temperature -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_generate(lm, toks, 2, 3, -1.0, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "temperature DBL_MIN (logits / temperature overflow)", EXPECT_ACCEPTED,
         seq_model_generate(lm, toks, 2, 3, DBL_MIN, 0, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "top_k -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_generate(lm, toks, 2, 3, 1.0, -1, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "top_k vocab_size + 1", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_generate(lm, toks, 2, 3, 1.0, V + 1, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "top_k INT64_MAX", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_generate(lm, toks, 2, 3, 1.0, INT64_MAX, 1, -1, out_ids, BIG, NULL));
    CASE(seq_model_generate, "stop_token -2", SEQ_ERR_INVALID_ARGUMENT, seq_model_generate(lm, toks, 2, 3, 1.0, 0, 1, -2, out_ids, BIG, NULL));
    CASE(seq_model_generate, "stop_token = vocab_size", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_generate(lm, toks, 2, 3, 1.0, 0, 1, V, out_ids, BIG, NULL));
    CASE(seq_model_generate, "stop_token INT32_MIN", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_generate(lm, toks, 2, 3, 1.0, 0, 1, INT32_MIN, out_ids, BIG, NULL));
    CASE(seq_model_generate, "output NULL, count 3", SEQ_ERR_NULL_POINTER, seq_model_generate(lm, toks, 2, 3, 1.0, 0, 1, -1, NULL, 3, NULL));
    CASE(seq_model_generate, "capacity 2 < count 3", SEQ_ERR_BUFFER_TOO_SMALL,
         seq_model_generate(lm, toks, 2, 3, 1.0, 0, 1, -1, out_ids, 2, NULL));
    CASE(seq_model_generate, "capacity -1", EXPECT_ERROR, seq_model_generate(lm, toks, 2, 3, 1.0, 0, 1, -1, out_ids, -1, NULL));

    /* decode */
    CASE(seq_model_decode, "a tagger (not seq2seq)", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(tagger, feats, NULL, T, B, I, NULL, 0, 4, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "tokens NULL and features NULL", EXPECT_ERROR,
         seq_model_decode(s2s, NULL, NULL, T, B, 1, NULL, 0, 4, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "source token = vocab_size", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, bad_toks, T, B, 1, NULL, 0, 4, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "steps 0", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, 0, B, 1, NULL, 0, 4, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "steps INT64_MAX", SEQ_ERR_RESOURCE_LIMIT,
         seq_model_decode(s2s, NULL, toks, INT64_MAX, B, 1, NULL, 0, 4, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "batch -1", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, T, -1, 1, NULL, 0, 4, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "lengths {0, T}", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, T, B, 1, lengths_zero, 0, 4, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "layout 7", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 7, 4, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "max_length 0", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, 0, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "max_length -1", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, -1, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "max_length INT64_MAX", EXPECT_ERROR,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, INT64_MAX, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "max_length 2^62, batch 4 (product overflows)", EXPECT_ERROR,
         seq_model_decode(s2s, NULL, toks, T, 4, 1, NULL, 0, (int64_t)1 << 62, 0.0, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "temperature NaN", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, 4, NAN, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "temperature -Inf", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, 4, -INFINITY, 0, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "top_k output_size + 1", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, 4, 1.0, V + 1, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "top_k -1", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, 4, 1.0, -1, 1, out_ids, BIG, NULL));
    CASE(seq_model_decode, "output NULL", SEQ_ERR_NULL_POINTER,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, 4, 0.0, 0, 1, NULL, 8, NULL));
    CASE(seq_model_decode, "capacity 7 (needs max_length * B = 8)", SEQ_ERR_BUFFER_TOO_SMALL,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, 4, 0.0, 0, 1, out_ids, 7, NULL));
    CASE(seq_model_decode, "capacity -1", EXPECT_ERROR,
         seq_model_decode(s2s, NULL, toks, T, B, 1, NULL, 0, 4, 0.0, 0, 1, out_ids, -1, NULL));
}

/* train_step, evaluate and compute_gradients take the same arguments. */
typedef seq_status (*training_call)(seq_model *, const float *, const int32_t *, int64_t, int64_t, int64_t, const int64_t *,
                                    seq_layout, const int32_t *, const float *, int64_t, const int64_t *, double *);

static void training_function_cases(const char *function, training_call call) {
    struct batch_case cases[64];
    size_t n = batch_cases(cases), i;
    static int32_t big_labels[BIG], negative_labels[BIG];
    static float nan_values[BIG], inf_values[BIG];
    static const int64_t target_lengths_zero[B] = {0, T};
    for (i = 0; i < BIG; i++) {
        big_labels[i] = K;
        negative_labels[i] = -1;
        nan_values[i] = inf_values[i] = 0.5f;
    }
    nan_values[3] = NAN;
    inf_values[3] = INFINITY;
    for (i = 0; i < n; i++) {
        const struct batch b = cases[i].b;
        if (begin_case(function, cases[i].input, cases[i].expect))
            child_status(call(tagger, b.features, b.tokens, b.steps, b.batch, b.input_size, b.lengths, b.layout, labels, NULL, T,
                              NULL, &loss));
    }
#define TRAIN_CASE(input, expect, model, target_ids, target_values, target_steps, target_lengths, loss_pointer)          \
    do {                                                                                                                   \
        if (begin_case(function, input, expect))                                                                           \
            child_status(call(model, model == lm ? NULL : feats, model == lm ? toks : NULL, T, B, model == lm ? 1 : I, NULL, \
                              SEQ_LAYOUT_TIME_MAJOR, target_ids, target_values, target_steps, target_lengths, loss_pointer));  \
    } while (0)
    TRAIN_CASE("target_ids and target_values both NULL", EXPECT_ERROR, tagger, NULL, NULL, T, NULL, &loss);
    TRAIN_CASE("target_ids and target_values both given", SEQ_ERR_INVALID_ARGUMENT, tagger, labels, values, T, NULL, &loss);
    TRAIN_CASE("target_values for output \"classes\"", SEQ_ERR_INVALID_ARGUMENT, tagger, NULL, values, T, NULL, &loss);
    TRAIN_CASE("target_ids for output \"regression\"", SEQ_ERR_INVALID_ARGUMENT, regress, labels, NULL, T, NULL, &loss);
    TRAIN_CASE("class id = output_size", SEQ_ERR_INVALID_ARGUMENT, tagger, big_labels, NULL, T, NULL, &loss);
    TRAIN_CASE("class id -1", SEQ_ERR_INVALID_ARGUMENT, tagger, negative_labels, NULL, T, NULL, &loss);
    TRAIN_CASE("target token = vocab_size (language model)", SEQ_ERR_INVALID_ARGUMENT, lm, bad_toks, NULL, T, NULL, &loss);
    TRAIN_CASE("a NaN target value", SEQ_ERR_INVALID_ARGUMENT, regress, NULL, nan_values, T, NULL, &loss);
    TRAIN_CASE("a +Inf target value", SEQ_ERR_INVALID_ARGUMENT, regress, NULL, inf_values, T, NULL, &loss);
    TRAIN_CASE("target_steps 0", SEQ_ERR_INVALID_ARGUMENT, tagger, labels, NULL, 0, NULL, &loss);
    TRAIN_CASE("target_steps -1", SEQ_ERR_INVALID_ARGUMENT, tagger, labels, NULL, -1, NULL, &loss);
    TRAIN_CASE("target_steps T + 1 (tagger needs T)", SEQ_ERR_INVALID_ARGUMENT, tagger, labels, NULL, T + 1, NULL, &loss);
    TRAIN_CASE("target_steps INT64_MAX", EXPECT_ERROR, tagger, labels, NULL, INT64_MAX, NULL, &loss);
    TRAIN_CASE("target_steps T for a classifier (needs 1)", SEQ_ERR_INVALID_ARGUMENT, cls, labels, NULL, T, NULL, &loss);
    TRAIN_CASE("target_lengths for a tagger", SEQ_ERR_INVALID_ARGUMENT, tagger, labels, NULL, T, target_lengths_zero, &loss);
    if (strcmp(function, "seq_model_evaluate") == 0)
        TRAIN_CASE("loss NULL", SEQ_ERR_NULL_POINTER, tagger, labels, NULL, T, NULL, NULL);
    /* seq2seq targets */
    if (begin_case(function, "seq2seq: target_lengths {0, T}", SEQ_ERR_INVALID_ARGUMENT))
        child_status(call(s2s, NULL, toks, T, B, 1, NULL, 0, labels, NULL, T, target_lengths_zero, &loss));
    if (begin_case(function, "seq2seq: target token = output_size", SEQ_ERR_INVALID_ARGUMENT))
        child_status(call(s2s, NULL, toks, T, B, 1, NULL, 0, bad_toks, NULL, T, NULL, &loss));
    if (begin_case(function, "seq2seq: target_steps 2^31 + 1", EXPECT_ERROR))
        child_status(call(s2s, NULL, toks, T, B, 1, NULL, 0, labels, NULL, JUST_OVER, NULL, &loss));
#undef TRAIN_CASE
}

/* seq_model_apply_gradients on a model whose update must overflow float (in a child). */
static seq_status apply_huge_gradients(void) {
    static float huge[BIG];
    seq_model *model = NULL;
    int64_t count = 0;
    int j;
    for (j = 0; j < BIG; j++) huge[j] = 3e38f;
    need(model_spec("cell=gru input_size=3 hidden_size=4 output_size=2 optimizer=sgd learning_rate=1e30", &model), "model");
    need(seq_model_get_parameter(model, "head.weight", NULL, 0, &count), "seq_model_get_parameter");
    need(seq_model_set_gradient(model, "head.weight", huge, count), "seq_model_set_gradient");
    return seq_model_apply_gradients(model);
}

static void training_cases(void) {
    training_function_cases("seq_model_train_step", seq_model_train_step);
    training_function_cases("seq_model_evaluate", seq_model_evaluate);
    training_function_cases("seq_model_compute_gradients", seq_model_compute_gradients);

    /* A gradient so large that the update overflows: refused, nothing changes. */
    CASE(seq_model_apply_gradients, "gradients 3e38 with learning rate 1e30 and sgd (the update overflows)", SEQ_ERR_NUMERIC,
         apply_huge_gradients());
    CASE(seq_model_set_learning_rate, "NaN", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_learning_rate(tagger, NAN));
    CASE(seq_model_set_learning_rate, "+Inf", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_learning_rate(tagger, INFINITY));
    CASE(seq_model_set_learning_rate, "-1", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_learning_rate(tagger, -1.0));
    CASE(seq_model_set_learning_rate, "-DBL_MIN", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_learning_rate(tagger, -DBL_MIN));
    CASE(seq_model_get_learning_rate, "out NULL", SEQ_ERR_NULL_POINTER, seq_model_get_learning_rate(tagger, NULL));
    CASE(seq_model_gradient_norms, "no gradients computed yet", SEQ_ERR_STATE, seq_model_gradient_norms(tagger, out, BIG, NULL, NULL));
    CASE(seq_model_gradient_norms, "buffer NULL, capacity 5", SEQ_ERR_NULL_POINTER, seq_model_gradient_norms(trained, NULL, 5, NULL, NULL));
    CASE(seq_model_gradient_norms, "capacity -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_gradient_norms(trained, out, -1, NULL, NULL));
    CASE(seq_model_gradient_norms, "capacity 1 (needs L*D*T = 5)", SEQ_ERR_BUFFER_TOO_SMALL,
         seq_model_gradient_norms(trained, out, 1, NULL, NULL));
    CASE(seq_model_input_gradient, "no gradients computed yet", SEQ_ERR_STATE, seq_model_input_gradient(tagger, out, BIG, NULL));
    CASE(seq_model_input_gradient, "buffer NULL, capacity 5", SEQ_ERR_NULL_POINTER, seq_model_input_gradient(trained, NULL, 5, NULL));
    CASE(seq_model_input_gradient, "capacity -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_input_gradient(trained, out, -1, NULL));
    CASE(seq_model_input_gradient, "capacity 1 (needs T*B*I)", SEQ_ERR_BUFFER_TOO_SMALL,
         seq_model_input_gradient(trained, out, 1, NULL));
}

static void dataset_cases(void) {
    struct batch_case cases[64];
    size_t n = batch_cases(cases), i;
    static float nan_values[BIG];
    static const int64_t target_lengths_long[N] = {T + 1, T, T, T};
    for (i = 0; i < BIG; i++) nan_values[i] = 0.5f;
    nan_values[5] = NAN;
    CASE(seq_dataset_create, "out NULL", SEQ_ERR_NULL_POINTER, seq_dataset_create(NULL));
    for (i = 0; i < n; i++) {
        const struct batch b = cases[i].b;
        char input[160];
        int expect = cases[i].expect;
        /* a dataset takes tokens without a model: "tokens given to a feature model" is "both given" */
        if (strcmp(cases[i].input, "tokens given to a feature model") == 0) {
            snprintf(input, sizeof input, "features and tokens both given");
        } else if (strncmp(cases[i].input, "input_size 2 ", 13) == 0) {
            continue; /* any input_size is valid until the dataset meets a model */
        } else {
            snprintf(input, sizeof input, "%s", cases[i].input);
        }
        /* the dataset's N plays the batch's part */
        CASE(seq_dataset_set_inputs, input, expect,
             seq_dataset_set_inputs(data_empty, b.features, b.tokens, b.batch, b.steps, b.input_size, b.lengths, b.layout));
    }
    CASE(seq_dataset_set_inputs, "a token id -1", SEQ_ERR_INVALID_ARGUMENT,
         seq_dataset_set_inputs(data_empty, NULL, neg_toks, N, T, 1, NULL, 0));
    CASE(seq_dataset_set_inputs, "tokens with input_size 3", SEQ_ERR_INVALID_ARGUMENT,
         seq_dataset_set_inputs(data_empty, NULL, toks, N, T, 3, NULL, 0));

    CASE(seq_dataset_set_targets, "target_ids and target_values both NULL", EXPECT_ERROR,
         seq_dataset_set_targets(data_empty, NULL, NULL, N, T, 1, NULL, 0));
    CASE(seq_dataset_set_targets, "target_ids and target_values both given", SEQ_ERR_INVALID_ARGUMENT,
         seq_dataset_set_targets(data_empty, labels, values, N, T, 1, NULL, 0));
    CASE(seq_dataset_set_targets, "count 0", SEQ_ERR_INVALID_ARGUMENT, seq_dataset_set_targets(data_empty, labels, NULL, 0, T, 1, NULL, 0));
    CASE(seq_dataset_set_targets, "count -1", SEQ_ERR_INVALID_ARGUMENT, seq_dataset_set_targets(data_empty, labels, NULL, -1, T, 1, NULL, 0));
    CASE(seq_dataset_set_targets, "count INT64_MAX", SEQ_ERR_RESOURCE_LIMIT,
         seq_dataset_set_targets(data_empty, labels, NULL, INT64_MAX, T, 1, NULL, 0));
    CASE(seq_dataset_set_targets, "target_steps 0", SEQ_ERR_INVALID_ARGUMENT,
         seq_dataset_set_targets(data_empty, labels, NULL, N, 0, 1, NULL, 0));
    CASE(seq_dataset_set_targets, "target_steps INT64_MIN", SEQ_ERR_INVALID_ARGUMENT,
         seq_dataset_set_targets(data_empty, labels, NULL, N, INT64_MIN, 1, NULL, 0));
    CASE(seq_dataset_set_targets, "width 0", SEQ_ERR_INVALID_ARGUMENT, seq_dataset_set_targets(data_empty, NULL, values, N, T, 0, NULL, 0));
    CASE(seq_dataset_set_targets, "width -2", SEQ_ERR_INVALID_ARGUMENT, seq_dataset_set_targets(data_empty, NULL, values, N, T, -2, NULL, 0));
    CASE(seq_dataset_set_targets, "width 2 with target_ids", SEQ_ERR_INVALID_ARGUMENT,
         seq_dataset_set_targets(data_empty, labels, NULL, N, T, 2, NULL, 0));
    CASE(seq_dataset_set_targets, "count 2^32, target_steps 2^32, width 1 (product overflows)", SEQ_ERR_RESOURCE_LIMIT,
         seq_dataset_set_targets(data_empty, labels, NULL, OVER_LIMIT, OVER_LIMIT, 1, NULL, 0));
    CASE(seq_dataset_set_targets, "count 4, target_steps 2^31, width 2^31", SEQ_ERR_RESOURCE_LIMIT,
         seq_dataset_set_targets(data_empty, NULL, values, N, (int64_t)1 << 31, (int64_t)1 << 31, NULL, 0));
    CASE(seq_dataset_set_targets, "a NaN target value", SEQ_ERR_INVALID_ARGUMENT,
         seq_dataset_set_targets(data_empty, NULL, nan_values, N, T, 2, NULL, 0));
    /* A negative id may be a model's ignore_index ("int, any"): only seq_model_fit can tell. */
    CASE(seq_dataset_set_targets, "class id -1 (may be a model's ignore_index; seq_model_fit checks it)", EXPECT_ACCEPTED,
         seq_dataset_set_targets(data_empty, neg_toks, NULL, N, T, 1, NULL, 0));
    CASE(seq_dataset_set_targets, "target_lengths {T + 1, ...}", SEQ_ERR_INVALID_ARGUMENT,
         seq_dataset_set_targets(data_empty, labels, NULL, N, T, 1, target_lengths_long, 0));
    CASE(seq_dataset_set_targets, "layout 3", SEQ_ERR_INVALID_ARGUMENT, seq_dataset_set_targets(data_empty, labels, NULL, N, T, 1, NULL, 3));
    CASE(seq_dataset_count, "count NULL", SEQ_ERR_NULL_POINTER, seq_dataset_count(data_full, NULL));

    CASE(seq_model_fit, "an empty dataset", SEQ_ERR_STATE, seq_model_fit(tagger, data_empty, 1, 2, NULL, NULL));
    CASE(seq_model_fit, "a dataset with inputs but no targets", SEQ_ERR_STATE,
         seq_model_fit(tagger, data_inputs_only, 1, 2, NULL, NULL));
    CASE(seq_model_fit, "inputs of 4 sequences, targets of 3", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_fit(tagger, data_mismatch, 1, 2, NULL, NULL));
    CASE(seq_model_fit, "a token dataset for a feature model", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(tagger, data_tokens, 1, 2, NULL, NULL));
    CASE(seq_model_fit, "a feature dataset for a token model", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(lm, data_full, 1, 2, NULL, NULL));
    CASE(seq_model_fit, "token id 99 >= vocab_size", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(lm, data_bigtokens, 1, 2, NULL, NULL));
    CASE(seq_model_fit, "class id -1 for a model without ignore_index", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_fit(tagger, data_negative_ids, 1, 2, NULL, NULL));
    CASE(seq_model_fit, "class id 5 >= output_size 2", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(tagger, data_big_ids, 1, 2, NULL, NULL));
    CASE(seq_model_fit, "target width 3 != output_size 2", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(regress, data_width, 1, 2, NULL, NULL));
    CASE(seq_model_fit, "epochs 0", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(tagger, data_full, 0, 2, NULL, NULL));
    CASE(seq_model_fit, "epochs -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(tagger, data_full, -1, 2, NULL, NULL));
    CASE(seq_model_fit, "epochs INT64_MIN", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(tagger, data_full, INT64_MIN, 2, NULL, NULL));
    CASE(seq_model_fit, "batch_size 0", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(tagger, data_full, 1, 0, NULL, NULL));
    CASE(seq_model_fit, "batch_size -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_fit(tagger, data_full, 1, -1, NULL, NULL));
}

static void parameter_cases(void) {
    static float nan_values[BIG], inf_values[BIG];
    int i;
    for (i = 0; i < BIG; i++) nan_values[i] = inf_values[i] = 0.1f;
    nan_values[1] = NAN;
    inf_values[1] = -INFINITY;
    CASE(seq_model_parameter_count, "count NULL", SEQ_ERR_NULL_POINTER, seq_model_parameter_count(tagger, NULL));
    CASE(seq_model_parameter_name, "index -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_parameter_name(tagger, -1, text, sizeof text, NULL));
    CASE(seq_model_parameter_name, "index = count (6)", SEQ_ERR_INVALID_ARGUMENT, seq_model_parameter_name(tagger, 6, text, sizeof text, NULL));
    CASE(seq_model_parameter_name, "index INT64_MAX", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_parameter_name(tagger, INT64_MAX, text, sizeof text, NULL));
    CASE(seq_model_parameter_name, "index INT64_MIN", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_parameter_name(tagger, INT64_MIN, text, sizeof text, NULL));
    CASE(seq_model_parameter_name, "buffer NULL, capacity 8", SEQ_ERR_NULL_POINTER, seq_model_parameter_name(tagger, 0, NULL, 8, NULL));
    CASE(seq_model_parameter_name, "capacity -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_parameter_name(tagger, 0, text, -1, NULL));
    CASE(seq_model_parameter_name, "capacity 1", SEQ_ERR_BUFFER_TOO_SMALL, seq_model_parameter_name(tagger, 0, text, 1, NULL));

    CASE(seq_model_parameter_shape, "name NULL", SEQ_ERR_NULL_POINTER, seq_model_parameter_shape(tagger, NULL, dims, 8, NULL, NULL));
    CASE(seq_model_parameter_shape, "name \"\"", SEQ_ERR_NOT_FOUND, seq_model_parameter_shape(tagger, "", dims, 8, NULL, NULL));
    CASE(seq_model_parameter_shape, "name \"rnn.weight_ih_l1\" (no second layer)", SEQ_ERR_NOT_FOUND,
         seq_model_parameter_shape(tagger, "rnn.weight_ih_l1", dims, 8, NULL, NULL));
    CASE(seq_model_parameter_shape, "name of 10000 characters", SEQ_ERR_NOT_FOUND,
         seq_model_parameter_shape(tagger, long_string, dims, 8, NULL, NULL));
    CASE(seq_model_parameter_shape, "name with invalid UTF-8", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_parameter_shape(tagger, "rnn.\xff\xfe", dims, 8, NULL, NULL));
    CASE(seq_model_parameter_shape, "dims NULL, capacity 2", SEQ_ERR_NULL_POINTER,
         seq_model_parameter_shape(tagger, "rnn.weight_ih_l0", NULL, 2, NULL, NULL));
    CASE(seq_model_parameter_shape, "capacity -1", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_parameter_shape(tagger, "rnn.weight_ih_l0", dims, -1, NULL, NULL));
    CASE(seq_model_parameter_shape, "capacity 1 for a rank-2 parameter", SEQ_ERR_BUFFER_TOO_SMALL,
         seq_model_parameter_shape(tagger, "rnn.weight_ih_l0", dims, 1, NULL, NULL));

    CASE(seq_model_get_parameter, "name NULL", SEQ_ERR_NULL_POINTER, seq_model_get_parameter(tagger, NULL, out, BIG, NULL));
    CASE(seq_model_get_parameter, "name \"head.weights\" (unknown)", SEQ_ERR_NOT_FOUND,
         seq_model_get_parameter(tagger, "head.weights", out, BIG, NULL));
    CASE(seq_model_get_parameter, "buffer NULL, capacity 2", SEQ_ERR_NULL_POINTER, seq_model_get_parameter(tagger, "head.bias", NULL, 2, NULL));
    CASE(seq_model_get_parameter, "capacity -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_get_parameter(tagger, "head.bias", out, -1, NULL));
    CASE(seq_model_get_parameter, "capacity 1 (needs 2)", SEQ_ERR_BUFFER_TOO_SMALL, seq_model_get_parameter(tagger, "head.bias", out, 1, NULL));

    CASE(seq_model_set_parameter, "name NULL", SEQ_ERR_NULL_POINTER, seq_model_set_parameter(tagger, NULL, values, K));
    CASE(seq_model_set_parameter, "name \"bias\" (unknown)", SEQ_ERR_NOT_FOUND, seq_model_set_parameter(tagger, "bias", values, K));
    CASE(seq_model_set_parameter, "values NULL", SEQ_ERR_NULL_POINTER, seq_model_set_parameter(tagger, "head.bias", NULL, K));
    CASE(seq_model_set_parameter, "count 0", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_parameter(tagger, "head.bias", values, 0));
    CASE(seq_model_set_parameter, "count -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_parameter(tagger, "head.bias", values, -1));
    CASE(seq_model_set_parameter, "count 1 (parameter has 2)", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_parameter(tagger, "head.bias", values, 1));
    CASE(seq_model_set_parameter, "count 3 (parameter has 2)", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_parameter(tagger, "head.bias", values, 3));
    CASE(seq_model_set_parameter, "count INT64_MAX", EXPECT_ERROR, seq_model_set_parameter(tagger, "head.bias", values, INT64_MAX));
    CASE(seq_model_set_parameter, "a NaN value", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_parameter(tagger, "head.bias", nan_values, K));
    CASE(seq_model_set_parameter, "a -Inf value", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_parameter(tagger, "head.bias", inf_values, K));

    CASE(seq_model_get_gradient, "name NULL", SEQ_ERR_NULL_POINTER, seq_model_get_gradient(tagger, NULL, out, BIG, NULL));
    CASE(seq_model_get_gradient, "name \"rnn\" (a module, not a parameter)", SEQ_ERR_NOT_FOUND,
         seq_model_get_gradient(tagger, "rnn", out, BIG, NULL));
    CASE(seq_model_get_gradient, "buffer NULL, capacity 2", SEQ_ERR_NULL_POINTER, seq_model_get_gradient(tagger, "head.bias", NULL, 2, NULL));
    CASE(seq_model_get_gradient, "capacity -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_get_gradient(tagger, "head.bias", out, -1, NULL));
    CASE(seq_model_get_gradient, "capacity 1 (needs 2)", SEQ_ERR_BUFFER_TOO_SMALL, seq_model_get_gradient(tagger, "head.bias", out, 1, NULL));

    CASE(seq_model_set_gradient, "name NULL", SEQ_ERR_NULL_POINTER, seq_model_set_gradient(tagger, NULL, values, K));
    CASE(seq_model_set_gradient, "name \"head.bias \" (trailing space)", SEQ_ERR_NOT_FOUND,
         seq_model_set_gradient(tagger, "head.bias ", values, K));
    CASE(seq_model_set_gradient, "gradients NULL", SEQ_ERR_NULL_POINTER, seq_model_set_gradient(tagger, "head.bias", NULL, K));
    CASE(seq_model_set_gradient, "count 0", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_gradient(tagger, "head.bias", values, 0));
    CASE(seq_model_set_gradient, "count -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_gradient(tagger, "head.bias", values, -1));
    CASE(seq_model_set_gradient, "count 3 (parameter has 2)", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_gradient(tagger, "head.bias", values, 3));
    CASE(seq_model_set_gradient, "count INT64_MAX", EXPECT_ERROR, seq_model_set_gradient(tagger, "head.bias", values, INT64_MAX));
    CASE(seq_model_set_gradient, "a NaN value", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_gradient(tagger, "head.bias", nan_values, K));
    CASE(seq_model_set_gradient, "a -Inf value", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_gradient(tagger, "head.bias", inf_values, K));
}

static void stream_cases(void) {
    static float nan_state[BIG];
    int i;
    for (i = 0; i < BIG; i++) nan_state[i] = 0.0f;
    nan_state[2] = NAN;
    CASE(seq_stream_create, "a seq2seq model", SEQ_ERR_INVALID_ARGUMENT, seq_stream_create(s2s, 1, &stream_sink));
    CASE(seq_stream_create, "a bidirectional model", SEQ_ERR_INVALID_ARGUMENT, seq_stream_create(bidir, 1, &stream_sink));
    CASE(seq_stream_create, "a reverse model", SEQ_ERR_INVALID_ARGUMENT, seq_stream_create(rev, 1, &stream_sink));
    CASE(seq_stream_create, "batch 0", SEQ_ERR_INVALID_ARGUMENT, seq_stream_create(tagger, 0, &stream_sink));
    CASE(seq_stream_create, "batch -1", SEQ_ERR_INVALID_ARGUMENT, seq_stream_create(tagger, -1, &stream_sink));
    CASE(seq_stream_create, "batch INT64_MAX", SEQ_ERR_RESOURCE_LIMIT, seq_stream_create(tagger, INT64_MAX, &stream_sink));
    CASE(seq_stream_create, "batch 2^31 (state 2^33 values)", SEQ_ERR_RESOURCE_LIMIT, seq_stream_create(tagger, (int64_t)1 << 31, &stream_sink));
    CASE(seq_stream_create, "out NULL", SEQ_ERR_NULL_POINTER, seq_stream_create(tagger, 1, NULL));

#define FEED(input, expect, s, f, t, steps, batch, input_size, layout, output, capacity) \
    CASE(seq_stream_feed, input, expect, seq_stream_feed(s, f, t, steps, batch, input_size, layout, output, capacity, NULL))
    FEED("features and tokens both NULL", EXPECT_ERROR, stream, NULL, NULL, 1, B, I, 0, out, BIG);
    FEED("features and tokens both given", SEQ_ERR_INVALID_ARGUMENT, stream, feats, toks, 1, B, I, 0, out, BIG);
    FEED("batch 3 (stream has 2)", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, 3, I, 0, out, BIG);
    FEED("batch -2", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, -2, I, 0, out, BIG);
    FEED("steps 0", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 0, B, I, 0, out, BIG);
    FEED("steps -1", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, -1, B, I, 0, out, BIG);
    FEED("steps INT64_MAX", SEQ_ERR_RESOURCE_LIMIT, stream, feats, NULL, INT64_MAX, B, I, 0, out, BIG);
    FEED("steps 2^31 (2^32 steps in all)", SEQ_ERR_RESOURCE_LIMIT, stream, feats, NULL, (int64_t)1 << 31, B, I, 0, out, BIG);
    FEED("input_size 4 (model has 3)", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, B, 4, 0, out, BIG);
    FEED("input_size INT64_MIN", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, B, INT64_MIN, 0, out, BIG);
    FEED("layout 2", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, B, I, 2, out, BIG);
    FEED("a NaN feature", SEQ_ERR_INVALID_ARGUMENT, stream, nan_feats, NULL, 3, B, I, 0, out, BIG);
    FEED("a +Inf feature", SEQ_ERR_INVALID_ARGUMENT, stream, inf_feats, NULL, 3, B, I, 0, out, BIG);
    FEED("tokens to a feature model", SEQ_ERR_INVALID_ARGUMENT, stream, NULL, toks, 1, B, 1, 0, out, BIG);
    FEED("features to a token model", SEQ_ERR_INVALID_ARGUMENT, lm_stream, feats, NULL, 1, B, I, 0, out, BIG);
    FEED("token id = vocab_size", SEQ_ERR_INVALID_ARGUMENT, lm_stream, NULL, bad_toks, 1, B, 1, 0, out, BIG);
    FEED("token id -1", SEQ_ERR_INVALID_ARGUMENT, lm_stream, NULL, neg_toks, 1, B, 1, 0, out, BIG);
    FEED("output NULL, capacity 4", SEQ_ERR_NULL_POINTER, stream, feats, NULL, 1, B, I, 0, NULL, 4);
    FEED("capacity -1", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, B, I, 0, out, -1);
    FEED("capacity 3 (needs 4)", SEQ_ERR_BUFFER_TOO_SMALL, stream, feats, NULL, 1, B, I, 0, out, 3);
#undef FEED

    /* The same checks as seq_stream_feed; the output is [steps, B, hidden_size]: B * H = 8 per step. */
#define FEED_HIDDEN(input, expect, s, f, t, steps, batch, input_size, layout, output, capacity) \
    CASE(seq_stream_feed_hidden, input, expect,                                                \
         seq_stream_feed_hidden(s, f, t, steps, batch, input_size, layout, output, capacity, NULL))
    FEED_HIDDEN("features and tokens both NULL", EXPECT_ERROR, stream, NULL, NULL, 1, B, I, 0, out, BIG);
    FEED_HIDDEN("features and tokens both given", SEQ_ERR_INVALID_ARGUMENT, stream, feats, toks, 1, B, I, 0, out, BIG);
    FEED_HIDDEN("batch 3 (stream has 2)", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, 3, I, 0, out, BIG);
    FEED_HIDDEN("batch -2", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, -2, I, 0, out, BIG);
    FEED_HIDDEN("steps 0", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 0, B, I, 0, out, BIG);
    FEED_HIDDEN("steps -1", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, -1, B, I, 0, out, BIG);
    FEED_HIDDEN("steps INT64_MAX", SEQ_ERR_RESOURCE_LIMIT, stream, feats, NULL, INT64_MAX, B, I, 0, out, BIG);
    FEED_HIDDEN("steps 2^31 (2^32 steps in all)", SEQ_ERR_RESOURCE_LIMIT, stream, feats, NULL, (int64_t)1 << 31, B, I, 0, out, BIG);
    FEED_HIDDEN("input_size 4 (model has 3)", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, B, 4, 0, out, BIG);
    FEED_HIDDEN("input_size INT64_MIN", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, B, INT64_MIN, 0, out, BIG);
    FEED_HIDDEN("layout 2", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, B, I, 2, out, BIG);
    FEED_HIDDEN("a NaN feature", SEQ_ERR_INVALID_ARGUMENT, stream, nan_feats, NULL, 3, B, I, 0, out, BIG);
    FEED_HIDDEN("a +Inf feature", SEQ_ERR_INVALID_ARGUMENT, stream, inf_feats, NULL, 3, B, I, 0, out, BIG);
    FEED_HIDDEN("tokens to a feature model", SEQ_ERR_INVALID_ARGUMENT, stream, NULL, toks, 1, B, 1, 0, out, BIG);
    FEED_HIDDEN("features to a token model", SEQ_ERR_INVALID_ARGUMENT, lm_stream, feats, NULL, 1, B, I, 0, out, BIG);
    FEED_HIDDEN("token id = vocab_size", SEQ_ERR_INVALID_ARGUMENT, lm_stream, NULL, bad_toks, 1, B, 1, 0, out, BIG);
    FEED_HIDDEN("token id -1", SEQ_ERR_INVALID_ARGUMENT, lm_stream, NULL, neg_toks, 1, B, 1, 0, out, BIG);
    FEED_HIDDEN("output NULL, capacity 8", SEQ_ERR_NULL_POINTER, stream, feats, NULL, 1, B, I, 0, NULL, 8);
    FEED_HIDDEN("capacity -1", SEQ_ERR_INVALID_ARGUMENT, stream, feats, NULL, 1, B, I, 0, out, -1);
    FEED_HIDDEN("capacity 4 (needs 8: B * hidden_size, not B * output_size)", SEQ_ERR_BUFFER_TOO_SMALL, stream, feats, NULL, 1,
                B, I, 0, out, 4);
    FEED_HIDDEN("capacity 7 (needs 8)", SEQ_ERR_BUFFER_TOO_SMALL, stream, feats, NULL, 1, B, I, 0, out, 7);
#undef FEED_HIDDEN

    CASE(seq_stream_position, "steps NULL", SEQ_ERR_NULL_POINTER, seq_stream_position(stream, NULL));
    CASE(seq_stream_get_state, "h NULL, h_capacity 8", SEQ_ERR_NULL_POINTER, seq_stream_get_state(stream, NULL, 8, NULL, out, BIG, NULL));
    CASE(seq_stream_get_state, "c NULL, c_capacity 8", SEQ_ERR_NULL_POINTER, seq_stream_get_state(stream, out, BIG, NULL, NULL, 8, NULL));
    CASE(seq_stream_get_state, "h_capacity -1", SEQ_ERR_INVALID_ARGUMENT, seq_stream_get_state(stream, out, -1, NULL, out, BIG, NULL));
    CASE(seq_stream_get_state, "c_capacity INT64_MIN", SEQ_ERR_INVALID_ARGUMENT,
         seq_stream_get_state(stream, out, BIG, NULL, out + 1024, INT64_MIN, NULL));
    CASE(seq_stream_get_state, "h_capacity 7 (needs 8)", SEQ_ERR_BUFFER_TOO_SMALL, seq_stream_get_state(stream, out, 7, NULL, out + 1024, BIG, NULL));
    CASE(seq_stream_get_state, "c_capacity 7 (needs 8)", SEQ_ERR_BUFFER_TOO_SMALL, seq_stream_get_state(stream, out, BIG, NULL, out + 1024, 7, NULL));

    CASE(seq_stream_set_state, "h NULL", SEQ_ERR_NULL_POINTER, seq_stream_set_state(stream, NULL, B * H, NULL, 0));
    CASE(seq_stream_set_state, "h_count 7 (needs 8)", SEQ_ERR_INVALID_ARGUMENT, seq_stream_set_state(stream, values, 7, NULL, 0));
    CASE(seq_stream_set_state, "h_count -1", SEQ_ERR_INVALID_ARGUMENT, seq_stream_set_state(stream, values, -1, NULL, 0));
    CASE(seq_stream_set_state, "h_count INT64_MAX", EXPECT_ERROR, seq_stream_set_state(stream, values, INT64_MAX, NULL, 0));
    CASE(seq_stream_set_state, "a NaN in h", SEQ_ERR_INVALID_ARGUMENT, seq_stream_set_state(stream, nan_state, B * H, NULL, 0));
    CASE(seq_stream_set_state, "a NaN in c", SEQ_ERR_INVALID_ARGUMENT, seq_stream_set_state(stream, values, B * H, nan_state, B * H));
    CASE(seq_stream_set_state, "c_count 9 (needs 8)", SEQ_ERR_INVALID_ARGUMENT, seq_stream_set_state(stream, values, B * H, values, 9));
    CASE(seq_stream_set_state, "c given, c_count 0", SEQ_ERR_INVALID_ARGUMENT, seq_stream_set_state(stream, values, B * H, values, 0));
    CASE(seq_stream_set_state, "c for a GRU (no memory cell)", SEQ_ERR_INVALID_ARGUMENT,
         seq_stream_set_state(gru_stream, values, B * H, values, B * H));
    CASE(seq_stream_set_state, "c NULL, c_count 8 for a GRU", SEQ_ERR_INVALID_ARGUMENT,
         seq_stream_set_state(gru_stream, values, B * H, NULL, B * H));
}

static void file_cases(void) {
    char path[1024], long_path[8192];
    const char *good_path;
    unsigned char *good, garbage[1000];
    size_t good_size, i;
    uint64_t header;
    unsigned char bytes[64];
    seq_model *loaded = NULL;

    snprintf(path, sizeof path, "%s/good.safetensors", scratch);
    if (seq_model_save(tagger, path) != SEQ_OK) fail_setup("seq_model_save");
    good_path = path;
    good = read_whole(good_path, &good_size);
    header = read_le64(good);

    CASE(seq_model_save, "path NULL", SEQ_ERR_NULL_POINTER, seq_model_save(tagger, NULL));
    CASE(seq_model_save, "path \"\"", EXPECT_ERROR, seq_model_save(tagger, ""));
    CASE(seq_model_save, "path \"/nonexistent-directory/model.safetensors\"", SEQ_ERR_IO,
         seq_model_save(tagger, "/nonexistent-directory/model.safetensors"));
    CASE(seq_model_save, "path names a directory (the scratch directory)", EXPECT_ERROR, seq_model_save(tagger, scratch));
    snprintf(long_path, sizeof long_path, "%s/", scratch);
    CASE(seq_model_save, "path ending in \"/\"", EXPECT_ERROR, seq_model_save(tagger, long_path));
    CASE(seq_model_save, "path \".\"", EXPECT_ERROR, seq_model_save(tagger, "."));
    memset(long_path, 'a', 5000);
    long_path[5000] = 0;
    CASE(seq_model_save, "a file name of 5000 characters", SEQ_ERR_IO, seq_model_save(tagger, long_path));

    CASE(seq_model_save_checkpoint, "path NULL", SEQ_ERR_NULL_POINTER, seq_model_save_checkpoint(tagger, NULL));
    CASE(seq_model_save_checkpoint, "path \"\"", EXPECT_ERROR, seq_model_save_checkpoint(tagger, ""));
    CASE(seq_model_save_checkpoint, "path names a directory (the scratch directory)", EXPECT_ERROR,
         seq_model_save_checkpoint(tagger, scratch));
    CASE(seq_model_save_checkpoint, "path /dev/null (a device, not replaced)", SEQ_ERR_IO,
         seq_model_save_checkpoint(tagger, "/dev/null"));
    CASE(seq_model_save_checkpoint, "a file name of 5000 characters", SEQ_ERR_IO, seq_model_save_checkpoint(tagger, long_path));

    CASE(seq_model_load, "path NULL", SEQ_ERR_NULL_POINTER, seq_model_load(NULL, &loaded));
    CASE(seq_model_load, "out NULL", SEQ_ERR_NULL_POINTER, seq_model_load(good_path, NULL));
    CASE(seq_model_load, "path \"\"", EXPECT_ERROR, seq_model_load("", &loaded));
    CASE(seq_model_load, "a file that does not exist", SEQ_ERR_IO, seq_model_load("/nonexistent-directory/model.safetensors", &loaded));
    CASE(seq_model_load, "a directory", EXPECT_ERROR, seq_model_load(scratch, &loaded));
    CASE(seq_model_load, "a file name of 5000 characters", SEQ_ERR_IO, seq_model_load(long_path, &loaded));
    CASE(seq_model_load, "/dev/null (empty, not a regular file)", EXPECT_ERROR, seq_model_load("/dev/null", &loaded));
    CASE(seq_model_load, "an empty file", SEQ_ERR_FORMAT, seq_model_load(scratch_file("empty.safetensors", "", 0), &loaded));
    CASE(seq_model_load, "7 bytes (shorter than the length field)", SEQ_ERR_FORMAT,
         seq_model_load(scratch_file("seven.safetensors", good, 7), &loaded));
    CASE(seq_model_load, "truncated to its length field and half its header", SEQ_ERR_FORMAT,
         seq_model_load(scratch_file("half-header.safetensors", good, 8 + (size_t)header / 2), &loaded));
    CASE(seq_model_load, "truncated after the header (no data)", SEQ_ERR_FORMAT,
         seq_model_load(scratch_file("no-data.safetensors", good, 8 + (size_t)header), &loaded));
    CASE(seq_model_load, "the last 4 bytes cut off", SEQ_ERR_FORMAT,
         seq_model_load(scratch_file("short-data.safetensors", good, good_size - 4), &loaded));
    {
        unsigned char *copy = malloc(good_size + 16);
        memcpy(copy, good, good_size);
        memset(copy + good_size, 0, 16);
        CASE(seq_model_load, "16 zero bytes appended after the data", SEQ_ERR_FORMAT,
             seq_model_load(scratch_file("long-data.safetensors", copy, good_size + 16), &loaded));
        write_le64(copy, UINT64_MAX);
        CASE(seq_model_load, "header length 2^64 - 1", SEQ_ERR_FORMAT,
             seq_model_load(scratch_file("length-max.safetensors", copy, good_size), &loaded));
        write_le64(copy, (uint64_t)INT64_MAX);
        CASE(seq_model_load, "header length INT64_MAX", SEQ_ERR_FORMAT,
             seq_model_load(scratch_file("length-int64max.safetensors", copy, good_size), &loaded));
        write_le64(copy, header + 1000);
        CASE(seq_model_load, "header length beyond the end of the file", SEQ_ERR_FORMAT,
             seq_model_load(scratch_file("length-beyond.safetensors", copy, good_size), &loaded));
        write_le64(copy, 0);
        CASE(seq_model_load, "header length 0", SEQ_ERR_FORMAT,
             seq_model_load(scratch_file("length-zero.safetensors", copy, good_size), &loaded));
        write_le64(copy, header);
        copy[8] = 'x';
        CASE(seq_model_load, "header not JSON (first byte 'x')", SEQ_ERR_FORMAT,
             seq_model_load(scratch_file("not-json.safetensors", copy, good_size), &loaded));
        memcpy(copy, good, good_size);
        memcpy(copy + good_size - 4, "\x00\x00\xc0\x7f", 4); /* little-endian NaN */
        CASE(seq_model_load, "a NaN parameter value", SEQ_ERR_FORMAT,
             seq_model_load(scratch_file("nan.safetensors", copy, good_size), &loaded));
        memcpy(copy + good_size - 4, "\x00\x00\x80\xff", 4); /* -Inf */
        CASE(seq_model_load, "a -Inf parameter value", SEQ_ERR_FORMAT,
             seq_model_load(scratch_file("inf.safetensors", copy, good_size), &loaded));
        free(copy);
    }
    for (i = 0; i < sizeof garbage; i++) garbage[i] = (unsigned char)((i * 2654435761u) >> 13);
    CASE(seq_model_load, "1000 pseudo-random bytes", SEQ_ERR_FORMAT,
         seq_model_load(scratch_file("garbage.safetensors", garbage, sizeof garbage), &loaded));
    write_le64(bytes, 2);
    memcpy(bytes + 8, "{}", 2);
    CASE(seq_model_load, "a valid safetensors file with no tensors and no metadata", SEQ_ERR_FORMAT,
         seq_model_load(scratch_file("empty-json.safetensors", bytes, 10), &loaded));
    {
        static const struct {
            const char *input, *old, *new;
        } patches[] = {
            {"format \"pytorch\" instead of \"seqcore\"", "\"format\":\"seqcore\"", "\"format\":\"pytorch\""},
            {"format version 2 (newer than this library)", "\"seqcore.format_version\":\"1\"", "\"seqcore.format_version\":\"2\""},
            {"format version \"x\"", "\"seqcore.format_version\":\"1\"", "\"seqcore.format_version\":\"x\""},
            {"kind \"checkpoint\"", "\"seqcore.kind\":\"model\"", "\"seqcore.kind\":\"checkpoint\""},
            {"metadata capi.hidden_size \"x\"", "\"capi.hidden_size\":\"4\"", "\"capi.hidden_size\":\"x\""},
            {"metadata capi.hidden_size \"9223372036854775808\" (overflows int64)", "\"capi.hidden_size\":\"4\"",
             "\"capi.hidden_size\":\"9223372036854775808\""},
            {"metadata capi.hidden_size \"2147483648\" (parameters still H = 4)", "\"capi.hidden_size\":\"4\"",
             "\"capi.hidden_size\":\"2147483648\""},
            {"metadata capi.hidden_size \"-4\"", "\"capi.hidden_size\":\"4\"", "\"capi.hidden_size\":\"-4\""},
            {"unknown metadata key capi.colour", "\"capi.cell\":\"lstm\"", "\"capi.colour\":\"lstm\""},
            {"metadata capi.cell \"transformer\"", "\"capi.cell\":\"lstm\"", "\"capi.cell\":\"transformer\""},
            {"metadata capi.hidden_size \"5\" (tensors have H = 4)", "\"capi.hidden_size\":\"4\"", "\"capi.hidden_size\":\"5\""},
            {"metadata capi.direction \"sideways\" added", "\"capi.cell\":\"lstm\",",
             "\"capi.cell\":\"lstm\",\"capi.direction\":\"sideways\","},
            {"metadata capi.dropout \"nan\" added", "\"capi.cell\":\"lstm\",", "\"capi.cell\":\"lstm\",\"capi.dropout\":\"nan\","},
            {"metadata capi.peepholes \"7\" added", "\"capi.cell\":\"lstm\",",
             "\"capi.cell\":\"lstm\",\"capi.peepholes\":\"7\","},
            {"metadata capi.learning_rate \"-1\" added", "\"capi.cell\":\"lstm\",",
             "\"capi.cell\":\"lstm\",\"capi.learning_rate\":\"-1\","},
            /* A 2 KB file asking for 2^31 layers: refused before anything is built. */
            {"metadata capi.num_layers \"2147483648\" added",
             "\"capi.cell\":\"lstm\",", "\"capi.cell\":\"lstm\",\"capi.num_layers\":\"2147483648\","},
            {"engine config hidden_size 2^40 in seqcore.config", "\\\"hidden_size\\\":4", "\\\"hidden_size\\\":1099511627776"},
            {"engine config not JSON", "\"seqcore.config\":\"{", "\"seqcore.config\":\"["},
            {"a parameter's dtype \"F64\"", "\"dtype\":\"F32\"", "\"dtype\":\"F64\""},
            {"a parameter's dtype \"I32\"", "\"dtype\":\"F32\"", "\"dtype\":\"I32\""},
            {"a parameter's shape [3] instead of [2]", "\"shape\":[2]", "\"shape\":[3]"},
            {"a parameter's shape [-2]", "\"shape\":[2]", "\"shape\":[-2]"},
            {"a parameter's shape [2^62, 4]", "\"shape\":[2,4]", "\"shape\":[4611686018427387904,4]"},
            {"a parameter's data_offsets reversed", "\"data_offsets\":[0,8]", "\"data_offsets\":[8,0]"},
            {"a parameter's data_offsets past the end", "\"data_offsets\":[0,8]", "\"data_offsets\":[0,80000]"},
            {"a parameter's data_offsets overlapping the next", "\"data_offsets\":[0,8]", "\"data_offsets\":[4,12]"},
            {"a parameter's data_offsets [0, 2^64 + 8] (overflows)", "\"data_offsets\":[0,8]",
             "\"data_offsets\":[0,18446744073709551624]"},
            {"a parameter renamed (head.bias missing)", "\"head.bias\"", "\"head.bian\""},
            {"a parameter listed twice (duplicate JSON key)", "\"head.bias\"", "\"head.weight\""},
        };
        for (i = 0; i < sizeof patches / sizeof patches[0]; i++) {
            char name[64];
            char input[200];
            snprintf(name, sizeof name, "patched-%d.safetensors", (int)i);
            snprintf(input, sizeof input, "%s", patches[i].input);
            CASE(seq_model_load, input, EXPECT_ERROR,
                 seq_model_load(patched_file(name, good, good_size, patches[i].old, patches[i].new), &loaded));
        }
    }
    free(good);
}

static void onnx_cases(void) {
    static float nan_data[BIG];
    int i;
    for (i = 0; i < BIG; i++) nan_data[i] = 0.1f;
    nan_data[10] = NAN;
    /* The tagger's LSTM (D = 1, G*H = 16, I = 3, H = 4): W has 48 values, R 64, B 32. */
    CASE(seq_model_set_onnx_tensor, "stack NULL", SEQ_ERR_NULL_POINTER, seq_model_set_onnx_tensor(tagger, NULL, 0, "W", values, 48));
    CASE(seq_model_set_onnx_tensor, "stack \"\"", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_onnx_tensor(tagger, "", 0, "W", values, 48));
    CASE(seq_model_set_onnx_tensor, "stack \"decoder\" on a tagger", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(tagger, "decoder", 0, "W", values, 48));
    CASE(seq_model_set_onnx_tensor, "layer -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_onnx_tensor(tagger, "rnn", -1, "W", values, 48));
    CASE(seq_model_set_onnx_tensor, "layer 1 (one layer)", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_onnx_tensor(tagger, "rnn", 1, "W", values, 48));
    CASE(seq_model_set_onnx_tensor, "layer INT64_MAX", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(tagger, "rnn", INT64_MAX, "W", values, 48));
    CASE(seq_model_set_onnx_tensor, "tensor NULL", SEQ_ERR_NULL_POINTER, seq_model_set_onnx_tensor(tagger, "rnn", 0, NULL, values, 48));
    CASE(seq_model_set_onnx_tensor, "tensor \"w\" (lower case)", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(tagger, "rnn", 0, "w", values, 48));
    CASE(seq_model_set_onnx_tensor, "tensor \"X\"", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_onnx_tensor(tagger, "rnn", 0, "X", values, 48));
    CASE(seq_model_set_onnx_tensor, "data NULL", SEQ_ERR_NULL_POINTER, seq_model_set_onnx_tensor(tagger, "rnn", 0, "W", NULL, 48));
    CASE(seq_model_set_onnx_tensor, "count 0", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_onnx_tensor(tagger, "rnn", 0, "W", values, 0));
    CASE(seq_model_set_onnx_tensor, "count -1", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_onnx_tensor(tagger, "rnn", 0, "W", values, -1));
    CASE(seq_model_set_onnx_tensor, "count 47 (W has 48)", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(tagger, "rnn", 0, "W", values, 47));
    CASE(seq_model_set_onnx_tensor, "count 64 for W (R's size)", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(tagger, "rnn", 0, "W", values, 64));
    CASE(seq_model_set_onnx_tensor, "count INT64_MAX", EXPECT_ERROR, seq_model_set_onnx_tensor(tagger, "rnn", 0, "W", values, INT64_MAX));
    CASE(seq_model_set_onnx_tensor, "a NaN value", SEQ_ERR_INVALID_ARGUMENT, seq_model_set_onnx_tensor(tagger, "rnn", 0, "W", nan_data, 48));
    CASE(seq_model_set_onnx_tensor, "\"P\" for an LSTM without peepholes", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(tagger, "rnn", 0, "P", values, 12));
    CASE(seq_model_set_onnx_tensor, "\"P\" for a GRU", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(regress, "rnn", 0, "P", values, 12));
    CASE(seq_model_set_onnx_tensor, "\"B\" for a model without biases", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(nobias, "rnn", 0, "B", values, 32));
    CASE(seq_model_set_onnx_tensor, "an LSTM with a projection (ONNX has none)", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(proj, "rnn", 0, "R", values, 32));
    CASE(seq_model_set_onnx_tensor, "\"P\" count 11 (P has 12)", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_set_onnx_tensor(peep, "rnn", 0, "P", values, 11));
}

/* In a child: a forward of `model` (the tagger, or the language model) on the fixture batch, that
   must succeed, before the call a case is about. */
static void forward_first(seq_model *model, int32_t training, const int64_t *lengths) {
    int tokens = model == lm;
    need(seq_model_forward(model, tokens ? NULL : feats, tokens ? toks : NULL, T, B, tokens ? 1 : I, lengths,
                           SEQ_LAYOUT_TIME_MAJOR, NULL, 0, NULL, 0, training, out, BIG, NULL),
         "seq_model_forward");
}

static void forward_backward_cases(void) {
    struct batch_case cases[64];
    size_t n = batch_cases(cases), i;
    static float nan_state[BIG], inf_state[BIG], nan_gradient[BIG], inf_gradient[BIG], padded_nan[BIG];
    static const int64_t lengths_short[B] = {T, 2};
    /* The tagger: L = D = 1, B = 2, H = 4, K = 2; h0 and c0 have 8 values, the output 20. */
    enum { S = B * H, Z = T * B * K };
    for (i = 0; i < BIG; i++) nan_state[i] = inf_state[i] = nan_gradient[i] = inf_gradient[i] = padded_nan[i] = 0.25f;
    nan_state[3] = NAN;
    inf_state[3] = INFINITY;
    nan_gradient[1] = NAN;         /* (t 0, b 0, k 1): a valid step */
    inf_gradient[Z - 1] = -INFINITY; /* (t 4, b 1, k 1): valid when every length is T */
    padded_nan[(4 * B + 1) * K] = NAN; /* (t 4, b 1): padded with lengths {T, 2} */

    for (i = 0; i < n; i++) {
        const struct batch b = cases[i].b;
        CASE(seq_model_forward, cases[i].input, cases[i].expect,
             seq_model_forward(tagger, b.features, b.tokens, b.steps, b.batch, b.input_size, b.lengths, b.layout, NULL, 0, NULL,
                               0, 1, out, BIG, NULL));
    }
#define FORWARD(input, expect, model, h0, h0_count, c0, c0_count, training, output, capacity)                          \
    CASE(seq_model_forward, input, expect,                                                                              \
         seq_model_forward(model, model == lm ? NULL : feats, model == lm ? toks : NULL, T, B, model == lm ? 1 : I, NULL, \
                           SEQ_LAYOUT_TIME_MAJOR, h0, h0_count, c0, c0_count, training, output, capacity, NULL))
    CASE(seq_model_forward, "a seq2seq model", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_forward(s2s, NULL, toks, T, B, 1, NULL, 0, NULL, 0, NULL, 0, 1, out, BIG, NULL));
    CASE(seq_model_forward, "features given to a token model", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_forward(lm, feats, NULL, T, B, I, NULL, 0, NULL, 0, NULL, 0, 1, out, BIG, NULL));
    CASE(seq_model_forward, "token id = vocab_size", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_forward(lm, NULL, bad_toks, T, B, 1, NULL, 0, NULL, 0, NULL, 0, 1, out, BIG, NULL));
    FORWARD("training 2", SEQ_ERR_INVALID_ARGUMENT, tagger, NULL, 0, NULL, 0, 2, out, BIG);
    FORWARD("training -1", SEQ_ERR_INVALID_ARGUMENT, tagger, NULL, 0, NULL, 0, -1, out, BIG);
    FORWARD("training INT32_MIN", SEQ_ERR_INVALID_ARGUMENT, tagger, NULL, 0, NULL, 0, INT32_MIN, out, BIG);
    FORWARD("h0_count 7 (needs L*D*B*Hout = 8)", SEQ_ERR_INVALID_ARGUMENT, tagger, values, S - 1, NULL, 0, 1, out, BIG);
    FORWARD("h0_count -1", SEQ_ERR_INVALID_ARGUMENT, tagger, values, -1, NULL, 0, 1, out, BIG);
    FORWARD("h0_count INT64_MAX", SEQ_ERR_INVALID_ARGUMENT, tagger, values, INT64_MAX, NULL, 0, 1, out, BIG);
    FORWARD("h0_count INT64_MIN", SEQ_ERR_INVALID_ARGUMENT, tagger, values, INT64_MIN, NULL, 0, 1, out, BIG);
    FORWARD("h0 given, h0_count 0", SEQ_ERR_INVALID_ARGUMENT, tagger, values, 0, NULL, 0, 1, out, BIG);
    FORWARD("h0 NULL, h0_count 8", SEQ_ERR_INVALID_ARGUMENT, tagger, NULL, S, NULL, 0, 1, out, BIG);
    FORWARD("a NaN in h0", SEQ_ERR_INVALID_ARGUMENT, tagger, nan_state, S, NULL, 0, 1, out, BIG);
    FORWARD("a +Inf in h0", SEQ_ERR_INVALID_ARGUMENT, tagger, inf_state, S, NULL, 0, 1, out, BIG);
    FORWARD("c0_count 9 (needs L*D*B*H = 8)", SEQ_ERR_INVALID_ARGUMENT, tagger, values, S, values, S + 1, 1, out, BIG);
    FORWARD("c0_count -1", SEQ_ERR_INVALID_ARGUMENT, tagger, values, S, values, -1, 1, out, BIG);
    FORWARD("c0 given, c0_count 0", SEQ_ERR_INVALID_ARGUMENT, tagger, values, S, values, 0, 1, out, BIG);
    FORWARD("c0 NULL, c0_count 8", SEQ_ERR_INVALID_ARGUMENT, tagger, values, S, NULL, S, 1, out, BIG);
    FORWARD("a NaN in c0", SEQ_ERR_INVALID_ARGUMENT, tagger, values, S, nan_state, S, 1, out, BIG);
    FORWARD("c0 for a GRU (no memory cell)", SEQ_ERR_INVALID_ARGUMENT, regress, values, S, values, S, 1, out, BIG);
    FORWARD("h0_count 8 for a bidirectional model (needs L*D*B*Hout = 16)", SEQ_ERR_INVALID_ARGUMENT, bidir, values, S, NULL,
            0, 1, out, BIG);
    FORWARD("h0_count 8 for proj_size 2 (needs L*D*B*Hout = 4)", SEQ_ERR_INVALID_ARGUMENT, proj, values, S, NULL, 0, 1, out,
            BIG);
    FORWARD("output NULL, capacity 20", SEQ_ERR_NULL_POINTER, tagger, NULL, 0, NULL, 0, 1, NULL, Z);
    FORWARD("output NULL, capacity INT64_MAX", SEQ_ERR_NULL_POINTER, tagger, NULL, 0, NULL, 0, 1, NULL, INT64_MAX);
    FORWARD("capacity -1", SEQ_ERR_INVALID_ARGUMENT, tagger, NULL, 0, NULL, 0, 1, out, -1);
    FORWARD("capacity INT64_MIN", SEQ_ERR_INVALID_ARGUMENT, tagger, NULL, 0, NULL, 0, 1, out, INT64_MIN);
    FORWARD("capacity 19 (needs 20)", SEQ_ERR_BUFFER_TOO_SMALL, tagger, NULL, 0, NULL, 0, 1, out, Z - 1);
    FORWARD("capacity 1 for a classifier (needs B*K = 4)", SEQ_ERR_BUFFER_TOO_SMALL, cls, NULL, 0, NULL, 0, 0, out, 1);
#undef FORWARD

    CASE(seq_model_backward, "no forward yet", SEQ_ERR_STATE, seq_model_backward(tagger, values, Z));
    CASE(seq_model_backward, "a seq2seq model (it has no forward)", SEQ_ERR_INVALID_ARGUMENT, seq_model_backward(s2s, values, Z));
    CASE(seq_model_backward, "after a forward with training 0", SEQ_ERR_STATE,
         (forward_first(tagger, 0, NULL), seq_model_backward(tagger, values, Z)));
    CASE(seq_model_backward, "twice after one forward", SEQ_ERR_STATE,
         (forward_first(tagger, 1, NULL), need(seq_model_backward(tagger, values, Z), "seq_model_backward"),
          seq_model_backward(tagger, values, Z)));
    CASE(seq_model_backward, "after seq_model_set_parameter (parameters changed since the forward)", SEQ_ERR_STATE,
         (forward_first(tagger, 1, NULL), need(seq_model_set_parameter(tagger, "head.bias", values, K), "seq_model_set_parameter"),
          seq_model_backward(tagger, values, Z)));
    CASE(seq_model_backward, "after seq_model_apply_gradients", SEQ_ERR_STATE,
         (forward_first(tagger, 1, NULL), need(seq_model_apply_gradients(tagger), "seq_model_apply_gradients"),
          seq_model_backward(tagger, values, Z)));
    CASE(seq_model_backward, "gradient NULL", SEQ_ERR_NULL_POINTER,
         (forward_first(tagger, 1, NULL), seq_model_backward(tagger, NULL, Z)));
    CASE(seq_model_backward, "count 19 (the forward's output has 20)", SEQ_ERR_INVALID_ARGUMENT,
         (forward_first(tagger, 1, NULL), seq_model_backward(tagger, values, Z - 1)));
    CASE(seq_model_backward, "count 21", SEQ_ERR_INVALID_ARGUMENT, (forward_first(tagger, 1, NULL), seq_model_backward(tagger, values, Z + 1)));
    CASE(seq_model_backward, "count 0", SEQ_ERR_INVALID_ARGUMENT, (forward_first(tagger, 1, NULL), seq_model_backward(tagger, values, 0)));
    CASE(seq_model_backward, "count -1", SEQ_ERR_INVALID_ARGUMENT, (forward_first(tagger, 1, NULL), seq_model_backward(tagger, values, -1)));
    CASE(seq_model_backward, "count INT64_MAX", SEQ_ERR_INVALID_ARGUMENT,
         (forward_first(tagger, 1, NULL), seq_model_backward(tagger, values, INT64_MAX)));
    CASE(seq_model_backward, "count INT64_MIN", SEQ_ERR_INVALID_ARGUMENT,
         (forward_first(tagger, 1, NULL), seq_model_backward(tagger, values, INT64_MIN)));
    CASE(seq_model_backward, "a NaN at a valid step", SEQ_ERR_INVALID_ARGUMENT,
         (forward_first(tagger, 1, NULL), seq_model_backward(tagger, nan_gradient, Z)));
    CASE(seq_model_backward, "a -Inf at a valid step", SEQ_ERR_INVALID_ARGUMENT,
         (forward_first(tagger, 1, NULL), seq_model_backward(tagger, inf_gradient, Z)));
    CASE(seq_model_backward, "a NaN at a padded step (documented: ignored)", EXPECT_ACCEPTED,
         (forward_first(tagger, 1, lengths_short), seq_model_backward(tagger, padded_nan, Z)));
    CASE(seq_model_backward, "a language model's count 20 (its output has T*B*V = 50)", SEQ_ERR_INVALID_ARGUMENT,
         (forward_first(lm, 1, NULL), seq_model_backward(lm, values, Z)));

    CASE(seq_model_final_state, "no forward yet", SEQ_ERR_STATE, seq_model_final_state(tagger, out, BIG, NULL, out + 1024, 1024, NULL));
    CASE(seq_model_final_state, "a seq2seq model (it has no forward)", SEQ_ERR_STATE,
         seq_model_final_state(s2s, out, BIG, NULL, out + 1024, 1024, NULL));
    CASE(seq_model_final_state, "h NULL, h_capacity 8", SEQ_ERR_NULL_POINTER,
         (forward_first(tagger, 0, NULL), seq_model_final_state(tagger, NULL, S, NULL, out + 1024, 1024, NULL)));
    CASE(seq_model_final_state, "c NULL, c_capacity 8", SEQ_ERR_NULL_POINTER,
         (forward_first(tagger, 0, NULL), seq_model_final_state(tagger, out, BIG, NULL, NULL, S, NULL)));
    CASE(seq_model_final_state, "h_capacity -1", SEQ_ERR_INVALID_ARGUMENT,
         (forward_first(tagger, 0, NULL), seq_model_final_state(tagger, out, -1, NULL, out + 1024, 1024, NULL)));
    CASE(seq_model_final_state, "c_capacity INT64_MIN", SEQ_ERR_INVALID_ARGUMENT,
         (forward_first(tagger, 0, NULL), seq_model_final_state(tagger, out, BIG, NULL, out + 1024, INT64_MIN, NULL)));
    CASE(seq_model_final_state, "h_capacity 7 (needs 8)", SEQ_ERR_BUFFER_TOO_SMALL,
         (forward_first(tagger, 0, NULL), seq_model_final_state(tagger, out, S - 1, NULL, out + 1024, 1024, NULL)));
    CASE(seq_model_final_state, "c_capacity 7 (needs 8)", SEQ_ERR_BUFFER_TOO_SMALL,
         (forward_first(tagger, 0, NULL), seq_model_final_state(tagger, out, BIG, NULL, out + 1024, S - 1, NULL)));

    CASE(seq_model_state_gradient, "no gradients computed yet", SEQ_ERR_STATE,
         seq_model_state_gradient(tagger, out, BIG, NULL, out + 1024, 1024, NULL));
    CASE(seq_model_state_gradient, "after a forward without a backward", SEQ_ERR_STATE,
         (forward_first(tagger, 1, NULL), seq_model_state_gradient(tagger, out, BIG, NULL, out + 1024, 1024, NULL)));
    CASE(seq_model_state_gradient, "after seq_model_fit (it keeps none)", SEQ_ERR_STATE,
         (need(seq_model_fit(trained, data_full, 1, 2, NULL, NULL), "seq_model_fit"),
          seq_model_state_gradient(trained, out, BIG, NULL, out + 1024, 1024, NULL)));
    CASE(seq_model_state_gradient, "h NULL, h_capacity 8", SEQ_ERR_NULL_POINTER,
         seq_model_state_gradient(trained, NULL, S, NULL, out + 1024, 1024, NULL));
    CASE(seq_model_state_gradient, "c NULL, c_capacity 8", SEQ_ERR_NULL_POINTER,
         seq_model_state_gradient(trained, out, BIG, NULL, NULL, S, NULL));
    CASE(seq_model_state_gradient, "h_capacity INT64_MIN", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_state_gradient(trained, out, INT64_MIN, NULL, out + 1024, 1024, NULL));
    CASE(seq_model_state_gradient, "c_capacity -1", SEQ_ERR_INVALID_ARGUMENT,
         seq_model_state_gradient(trained, out, BIG, NULL, out + 1024, -1, NULL));
    CASE(seq_model_state_gradient, "h_capacity 7 (needs 8)", SEQ_ERR_BUFFER_TOO_SMALL,
         seq_model_state_gradient(trained, out, S - 1, NULL, out + 1024, 1024, NULL));
    CASE(seq_model_state_gradient, "c_capacity 1 (needs 8)", SEQ_ERR_BUFFER_TOO_SMALL,
         seq_model_state_gradient(trained, out, BIG, NULL, out + 1024, 1, NULL));
}

int main(int argc, char **argv) {
    struct stat info;
    if (argc != 2 || stat(argv[1], &info) != 0 || !S_ISDIR(info.st_mode)) {
        fprintf(stderr, "usage: bad_input SCRATCH_DIR (an existing directory)\n");
        return 2;
    }
    scratch = argv[1];
    make_fixtures();
    library_cases();
    handle_cases();
    config_cases();
    model_cases();
    inference_cases();
    training_cases();
    dataset_cases();
    parameter_cases();
    stream_cases();
    file_cases();
    onnx_cases();
    forward_backward_cases();
    free_fixtures();
    printf("#END\t%d\t%d\n", rows, failed_rows);
    fprintf(stderr, "bad_input: %d calls, %d failed\n", rows, failed_rows);
    return failed_rows == 0 ? 0 : 1;
}
