#!/usr/bin/env bash
# Smoke test of the `seqcore` command: train → info → sample → eval on a tiny text, and bad
# arguments and bad data giving one line on stderr and a non-zero exit, never a crash (a trap's
# report spans many lines) and never a silently wrong result. Prints "N passed, N failed".
# Also seqcore-bench's bad arguments (the benchmark's Swift side, built with the tests).
# Needs bash, coreutils (timeout, mkfifo) and python3 (to edit a model file's metadata).
set -u
cd "$(dirname "$0")/../.."
S=${SEQCORE_CLI:-.build/release/seqcore-cli}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAILED: $*"; }
expect_success() { local what=$1; shift; if timeout 120 "$@" > "$tmp/out" 2> "$tmp/err"; then ok; else fail "$what: exit $? $(head -c 600 "$tmp/err")"; fi; }
# expect_error WHAT NEEDLE COMMAND…: fails, with one line on stderr holding NEEDLE.
expect_error() {
    local what=$1 needle=$2; shift 2
    timeout 120 "$@" > "$tmp/out" 2> "$tmp/err"
    local code=$?
    if [ "$code" -eq 0 ]; then fail "$what: succeeded"; return 1; fi
    if [ "$code" -eq 124 ]; then fail "$what: hung (killed by timeout)"; return 1; fi
    local lines; lines=$(grep -c . "$tmp/err")
    if [ "$lines" -ne 1 ]; then fail "$what: exit $code, $lines lines on stderr: $(head -c 600 "$tmp/err")"; return 1; fi
    if ! grep -q -- "$needle" "$tmp/err"; then fail "$what: '$(cat "$tmp/err")' lacks '$needle'"; return 1; fi
    ok
}
# expect_usage_error WHAT NEEDLE COMMAND…: as expect_error, with exit status 64 (EX_USAGE).
expect_usage_error() {
    local what=$1
    expect_error "$@" || return
    "${@:3}" > /dev/null 2>&1
    local code=$?
    if [ "$code" -ne 64 ]; then passed=$((passed - 1)); fail "$what: exit $code, expected 64"; fi
}
# expect_early_error WHAT NEEDLE COMMAND…: as expect_error, refused before any work (nothing on stdout).
expect_early_error() {
    local what=$1
    expect_error "$@" || return
    if [ -s "$tmp/out" ]; then passed=$((passed - 1)); fail "$what: refused only after working: $(head -c 200 "$tmp/out")"; fi
}
# npy FILE DESCR SHAPE [BYTE…]: a NumPy .npy file (format 1.0) holding the given bytes.
npy() {
    local file=$1 descr=$2 shape=$3; shift 3
    local h="{'descr': '$descr', 'fortran_order': False, 'shape': $shape, }"
    local pad=$(( (64 - (10 + ${#h} + 1) % 64) % 64 ))
    h="$h$(printf '%*s' "$pad" '')"
    local len=$(( ${#h} + 1 ))
    {
        printf '\x93NUMPY\x01\x00'
        printf "\\$(printf %03o $((len & 255)))\\$(printf %03o $((len >> 8)))"
        printf '%s\n' "$h"
        for b in "$@"; do printf "\\$(printf %03o "$b")"; done
    } > "$file"
}
# remeta IN OUT KEY VALUE: a copy of a model file with one metadata entry replaced.
remeta() {
    python3 - "$@" <<'EOF'
import json, struct, sys
src, dst, key, value = sys.argv[1:]
d = open(src, 'rb').read(); n = struct.unpack('<Q', d[:8])[0]
h = json.loads(d[8:8 + n]); h['__metadata__'][key] = value
b = json.dumps(h).encode(); b += b' ' * (-len(b) % 8)
open(dst, 'wb').write(struct.pack('<Q', len(b)) + b + d[8 + n:])
EOF
}

printf 'Alice\nBob\nCarol\nDave\nEve\nFrank\nGrace\nHeidi\nIvan\nJudy\n' > "$tmp/names.txt"
expect_success "train" "$S" train --text "$tmp/names.txt" --lines -o "$tmp/m.safetensors" --steps 40 --hidden 16 -q
expect_success "info" "$S" info "$tmp/m.safetensors"
grep -q "language_model" "$tmp/out" && ok || fail "info does not name the architecture"
expect_success "sample" "$S" sample "$tmp/m.safetensors" --count 3 --seed 1
[ "$(grep -c . "$tmp/out")" -ge 1 ] && ok || fail "sample printed nothing"
"$S" sample "$tmp/m.safetensors" --count 3 --seed 1 > "$tmp/out2" 2>/dev/null
cmp -s "$tmp/out" "$tmp/out2" && ok || fail "the same seed gave different samples"
expect_success "eval" "$S" eval "$tmp/m.safetensors" --text "$tmp/names.txt"
# A cosine schedule with a warm-up: recorded, and it changes the training (same seed otherwise).
expect_success "train with a schedule" "$S" train --text "$tmp/names.txt" --lines -o "$tmp/cos.safetensors" --steps 40 \
    --hidden 16 --lr-schedule cosine --warmup 5 -q
expect_success "info of a scheduled model" "$S" info "$tmp/cos.safetensors"
grep -q "lr_schedule.*cosine" "$tmp/out" && grep -q "warmup.*5" "$tmp/out" && ok || fail "info does not show the schedule"
cmp -s "$tmp/m.safetensors" "$tmp/cos.safetensors" && fail "the schedule changed nothing" || ok
expect_usage_error "bad schedule" "--lr-schedule must be constant or cosine" "$S" train --text "$tmp/names.txt" \
    -o "$tmp/x.safetensors" --lr-schedule linear
expect_usage_error "warm-up as long as training" "--warmup must be at most 39" "$S" train --text "$tmp/names.txt" \
    -o "$tmp/x.safetensors" --steps 40 --warmup 40
# --carry-state: the text in order as --batch streams, each window from the previous one's final state.
python3 -c "print('the quick brown fox jumps over the lazy dog. ' * 40)" > "$tmp/fox.txt"
expect_success "train with carried state" "$S" train --text "$tmp/fox.txt" --carry-state --batch 4 --length 16 \
    -o "$tmp/carry.safetensors" --steps 60 --hidden 16 -q
grep -q "Held-out cross-entropy" "$tmp/out" && ok || fail "carried-state training printed no held-out loss"
expect_success "info of a carried-state model" "$S" info "$tmp/carry.safetensors"
grep -q "carry_state.*true" "$tmp/out" && ok || fail "info does not show carry_state"
expect_usage_error "carried state with lines" "--carry-state goes with --text, without --lines" "$S" train \
    --text "$tmp/names.txt" --lines --carry-state -o "$tmp/x.safetensors"
printf 'abcdefg' > "$tmp/short.txt"
expect_early_error "carried state, text too short for the streams" "too few for --batch 4 streams" "$S" train \
    --text "$tmp/short.txt" --carry-state --batch 4 -o "$tmp/x.safetensors"

expect_success "help" "$S" --help

expect_error "missing file" "cannot open" "$S" sample "$tmp/nonexistent.safetensors"
printf 'not a model' > "$tmp/bad.safetensors"
expect_error "not a model" "seqcore:" "$S" info "$tmp/bad.safetensors"
expect_error "unknown option" "Unknown option" "$S" sample "$tmp/m.safetensors" --bogus
expect_usage_error "bad temperature" "--temperature must be" "$S" sample "$tmp/m.safetensors" --temperature -1
expect_error "unknown subcommand" "seqcore:" "$S" frobnicate

# Sequence data: 12 sequences of 4 steps × 2 features, as CSV and as .npy (int8), class ids 0/1.
awk 'BEGIN { for (n = 0; n < 12; n++) { s = ""; for (k = 0; k < 8; k++) s = s (k ? "," : "") ((n * 8 + k) % 7) / 7; print s } }' > "$tmp/X.csv"
awk 'BEGIN { for (n = 0; n < 12; n++) print n % 2 }' > "$tmp/y.csv"
npy "$tmp/X.npy" '|i1' '(12, 4, 2)' $(for i in $(seq 0 95); do echo $((i % 5)); done)
npy "$tmp/y.npy" '|i1' '(12,)' 0 1 0 1 0 1 0 1 0 1 0 1
# A later --targets overrides this one.
seq_train=("$S" train --targets "$tmp/y.csv" --task classify -o "$tmp/c.safetensors" --steps 2 --hidden 4 -q)
expect_success "train a classifier (CSV)" "${seq_train[@]}" --inputs "$tmp/X.csv" --features 2
expect_success "train a classifier (.npy)" "$S" train --inputs "$tmp/X.npy" --targets "$tmp/y.npy" --task classify \
    -o "$tmp/c.safetensors" --steps 2 --hidden 4 -q

# A. Crashes: each must be one line, not an overflow trap or a failed allocation.
npy "$tmp/ovf1.npy" '<f4' '(4611686018427387904, 4)'
expect_error "npy: shape × shape overflows" "ovf1.npy: shape .* too large" "${seq_train[@]}" --inputs "$tmp/ovf1.npy"
npy "$tmp/ovf2.npy" '<f8' '(2305843009213693952,)'
expect_error "npy: values × bytes overflows" "ovf2.npy: shape .* too large" "${seq_train[@]}" --inputs "$tmp/ovf2.npy"
awk 'NR == 2 { print "1e19"; next } 1' "$tmp/y.csv" > "$tmp/y_1e19.csv"
expect_error "class id 1e19 (CSV)" "y_1e19.csv, row 2: class id 1e+19" \
    "${seq_train[@]}" --inputs "$tmp/X.csv" --features 2 --targets "$tmp/y_1e19.csv"
expect_error "class id 1e19 (eval)" "y_1e19.csv, row 2" "$S" eval "$tmp/c.safetensors" --inputs "$tmp/X.csv" --targets "$tmp/y_1e19.csv"
npy "$tmp/y_u64.npy" '<u8' '(12,)' 0 0 0 0 0 0 0 0  5 0 0 0 0 0 0 128  $(for i in $(seq 1 80); do echo 0; done)
expect_error "class id 2^63 + 5 (uint64 .npy)" "y_u64.npy, row 2: class id" \
    "$S" train --inputs "$tmp/X.npy" --targets "$tmp/y_u64.npy" --task classify -o "$tmp/c2.safetensors" -q
awk 'NR == 3 { print "1000000000"; next } 1' "$tmp/y.csv" > "$tmp/y_1e9.csv"
expect_error "class id 1e9" "y_1e9.csv, row 3: class id 1000000000 is too large" \
    "${seq_train[@]}" --inputs "$tmp/X.csv" --features 2 --targets "$tmp/y_1e9.csv"
awk 'BEGIN { for (n = 0; n < 12; n++) print n % 3 ? 0.5 : 1e19 }' > "$tmp/yr_1e19.csv"
expect_success "train a regressor" "$S" train --inputs "$tmp/X.csv" --features 2 --targets "$tmp/y.csv" --task regress \
    -o "$tmp/r.safetensors" --steps 2 --hidden 4 -q
expect_success "eval a regressor on targets of 1e19 (no class id)" "$S" eval "$tmp/r.safetensors" --inputs "$tmp/X.csv" --targets "$tmp/yr_1e19.csv"
expect_usage_error "huge --hidden" "--hidden must be at most" "$S" train --text "$tmp/names.txt" -o "$tmp/x.safetensors" --hidden 9223372036854775807
expect_usage_error "huge --embedding" "--embedding must be at most" "$S" train --text "$tmp/names.txt" -o "$tmp/x.safetensors" --embedding 9223372036854775807
expect_usage_error "bench: huge --hidden" "--hidden must be at most" "$S" bench -q --cells lstm -b 1 -t 1 -i 1 --hidden 9223372036854775807
expect_usage_error "huge --batch" "--batch must be at most" "${seq_train[@]}" --inputs "$tmp/X.csv" --features 2 --batch 9223372036854775807
expect_usage_error "bench: B × T overflows" "--batch must be at most" "$S" bench -q --cells lstm -b 4294967296 -t 4294967296 -i 4 --hidden 4
expect_usage_error "bench: T × B × I too large" "memory cap" "$S" bench -q --cells lstm -b 65536 -t 1000000000 -i 4 --hidden 4
expect_usage_error "demo: huge --length" "--length must be at most" "$S" demo --only a -q --out "$tmp/demo" --length 9223372036854775807

# C. Silently wrong results.
sed 's/$/\r/' "$tmp/X.csv" > "$tmp/X_crlf.csv"; sed 's/$/\r/' "$tmp/y.csv" > "$tmp/y_crlf.csv"
expect_success "CSV with \\r\\n line ends" "${seq_train[@]}" --inputs "$tmp/X_crlf.csv" --features 2 --targets "$tmp/y_crlf.csv"
awk 'BEGIN { for (i = 0; i < 600; i++) printf "A%c%c%c\r\n", 97 + int(i / 676) % 26, 97 + int(i / 26) % 26, 97 + i % 26 }' > "$tmp/words_crlf.txt"
expect_success "demo: a word list with \\r\\n line ends" "$S" demo --only c -q --out "$tmp/demo" --words "$tmp/words_crlf.txt" --generator-steps 1
awk 'NR == 5 { sub(/,/, ",,") } 1' "$tmp/X.csv" > "$tmp/X_gap.csv"   # 8 values and a gap: read as 4 steps before
expect_error "an empty CSV cell" "X_gap.csv, line 5: value 2 is empty" "${seq_train[@]}" --inputs "$tmp/X_gap.csv" --features 2
expect_error "--features reshaping an .npy" "--features 1 does not match" "${seq_train[@]}" --inputs "$tmp/X.npy" --features 1
npy "$tmp/X4.npy" '|i1' '(12, 4, 2, 1)' $(for i in $(seq 0 95); do echo $((i % 5)); done)
expect_error "a 4-D .npy" "shape \[N, T\] or \[N, T, I\]" "${seq_train[@]}" --inputs "$tmp/X4.npy"
printf '' > "$tmp/empty.txt"
expect_error "eval on nothing to score (lines)" "nothing to score" "$S" eval "$tmp/m.safetensors" --text "$tmp/empty.txt"
"$S" train --help > "$tmp/help.txt" 2>&1
grep -q "random 10%" "$tmp/help.txt" && ! grep -q "The last 10% of the data" "$tmp/help.txt" && ok || fail "train --help: the held-out part is described wrongly"
printf 'abc' > "$tmp/abc.txt"
expect_success "train on a text too short to hold out" "$S" train --text "$tmp/abc.txt" -o "$tmp/x.safetensors" --steps 2 --hidden 4 -q
! grep -q "+10% held out\|Held-out" "$tmp/out" && grep -q "nothing held out" "$tmp/out" && ok || fail "a loss on training data is reported as held out: $(cat "$tmp/out")"
expect_usage_error "--length with --inputs" "--length goes with --text" "${seq_train[@]}" --inputs "$tmp/X.csv" --features 2 --length 10
expect_usage_error "--task with --text" "--task goes with --inputs" "$S" train --text "$tmp/names.txt" -o "$tmp/x.safetensors" --task classify
expect_usage_error "--features with --text" "--features goes with --inputs" "$S" train --text "$tmp/names.txt" -o "$tmp/x.safetensors" --features 2
expect_usage_error "bench --cells ''" "--cells is empty" "$S" bench -q --cells ""
remeta "$tmp/m.safetensors" "$tmp/v.safetensors" cli.vocabulary '["\n","A","B"]'
expect_error "a vocabulary that does not fit the model" "v.safetensors: its vocabulary" "$S" info "$tmp/v.safetensors"

# D. Checked up front, in the options' own words.
mkdir "$tmp/dir"
expect_early_error "-o a folder" "-o .*dir: expected a file name" "$S" train --text "$tmp/names.txt" -o "$tmp/dir" --steps 2 --hidden 4 -q
expect_early_error "-o ending in /" "-o .*: expected a file name" "$S" train --text "$tmp/names.txt" -o "$tmp/new/" --steps 2 --hidden 4 -q
expect_early_error "-o ''" "-o: expected a file name" "$S" train --text "$tmp/names.txt" -o "" --steps 2 --hidden 4 -q
expect_usage_error "--lr inf" "--lr must be" "$S" train --text "$tmp/names.txt" -o "$tmp/x.safetensors" --lr inf
expect_usage_error "--clip inf" "--clip must be" "$S" train --text "$tmp/names.txt" -o "$tmp/x.safetensors" --clip inf
expect_usage_error "--top-k above the vocabulary" "--top-k must be at most" "$S" sample "$tmp/m.safetensors" --top-k 1000
expect_usage_error "--hidden too large for the library" "--hidden 100000" "$S" train --text "$tmp/names.txt" -o "$tmp/x.safetensors" --hidden 100000
expect_usage_error "--top-k -1" "--top-k must be" "$S" sample "$tmp/m.safetensors" --top-k -1
expect_usage_error "--seed -1" "'-1' is invalid for '--seed" "$S" sample "$tmp/m.safetensors" --seed -1
printf '\x02\x00\x00\x00\x00\x00\x00\x00{}' > "$tmp/plain.safetensors"
expect_error "a plain safetensors file" "plain.safetensors is not a seqcore model file" "$S" info "$tmp/plain.safetensors"
remeta "$tmp/m.safetensors" "$tmp/ckpt.safetensors" seqcore.kind checkpoint
expect_error "a checkpoint" "ckpt.safetensors is a seqcore training checkpoint, not a model file" "$S" info "$tmp/ckpt.safetensors"
expect_error "--prefix: unknown characters named" "never saw: Z, q" "$S" sample "$tmp/m.safetensors" --prefix Zq
expect_error "a regressor is not a classifier" "r.safetensors is a regressor" "$S" sample "$tmp/r.safetensors"
expect_usage_error "--features 0" "(got 0)" "${seq_train[@]}" --inputs "$tmp/X.csv" --features 0
expect_usage_error "help for an unknown subcommand" "bogus" "$S" help bogus
mkfifo "$tmp/fifo"
expect_error "info on a FIFO" "FIFO" timeout 10 "$S" info "$tmp/fifo"
printf 'ab\r\ncd\r\nab\r\ncd\r\n' > "$tmp/crlf.txt"
expect_success "train on a \\r\\n text" "$S" train --text "$tmp/crlf.txt" -o "$tmp/crlf.safetensors" --steps 2 --hidden 4 -q
expect_success "info on a \\r\\n model" "$S" info "$tmp/crlf.safetensors"
! grep -q $'\r' "$tmp/out" && grep -q 'vocabulary.*\\r\\n' "$tmp/out" && ok || fail "info prints a raw \\r"
printf 'a' > "$tmp/one.txt"
expect_error "eval on nothing to score (characters)" "nothing to score" "$S" eval "$tmp/crlf.safetensors" --text "$tmp/one.txt"
expect_success "demo --length 10" "$S" demo --only a -q --out "$tmp/demo" --length 10 --adding-steps 2
[ "$(grep -m1 ' model ' "$tmp/out" | grep -o 't = 1\( \|$\)' | wc -l)" -eq 1 ] && ok || fail "demo --length 10 shows a column twice: $(grep 't = ' "$tmp/out")"

# seqcore-bench (the benchmark's Swift side): bad arguments are one line and exit 2, not a trap.
B=${SEQCORE_BENCH:-.build/release/seqcore-bench}
if [ -x "$B" ]; then
    expect_error "bench: unknown cell" "CELL: expected rnn, gru or lstm, got 'foo'" "$B" layer foo 1 1 1 1 train 1
    expect_error "bench: a size that is not a number" "B: expected an integer ≥ 1, got 'x'" "$B" layer rnn x 1 1 1 train 1
    expect_error "bench: unknown mode" "MODE: expected train or inference, got 'fit'" "$B" layer rnn 2 2 2 2 fit 1
    expect_error "bench: missing size" "K: missing" "$B" gemm 1 2
    expect_error "bench: negative working set" "MIB: expected a positive number, got '-1'" "$B" bandwidth -1 3
    expect_error "bench: zero threads" "--threads: expected an integer ≥ 1, got '0'" "$B" --threads 0 peak
    expect_error "bench: unknown command" "unknown command 'nope'" "$B" nope
    expect_success "bench: a tiny layer" "$B" layer gru 2 3 4 5 train 2
    grep -q '"median_ms"' "$tmp/out" && ok || fail "bench: no median_ms in $(head -c 200 "$tmp/out")"
else
    fail "seqcore-bench not built at $B"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
