#!/usr/bin/env bash
# Smoke test of the `seqcore` command: train → info → sample → eval on a tiny text, and bad
# arguments giving one line on stderr and a non-zero exit. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
S=${SEQCORE_CLI:-.build/release/seqcore-cli}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAILED: $*"; }
expect_success() { local what=$1; shift; if "$@" > "$tmp/out" 2> "$tmp/err"; then ok; else fail "$what: exit $? $(cat "$tmp/err")"; fi; }
expect_error() {
    local what=$1 needle=$2; shift 2
    if "$@" > "$tmp/out" 2> "$tmp/err"; then fail "$what: succeeded"; return; fi
    local lines; lines=$(grep -c . "$tmp/err")
    if [ "$lines" -ne 1 ]; then fail "$what: $lines lines on stderr: $(cat "$tmp/err")"; return; fi
    if ! grep -q -- "$needle" "$tmp/err"; then fail "$what: '$(cat "$tmp/err")' lacks '$needle'"; return; fi
    ok
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
expect_success "help" "$S" --help

expect_error "missing file" "cannot open" "$S" sample "$tmp/nonexistent.safetensors"
printf 'not a model' > "$tmp/bad.safetensors"
expect_error "not a model" "seqcore:" "$S" info "$tmp/bad.safetensors"
expect_error "unknown option" "Unknown option" "$S" sample "$tmp/m.safetensors" --bogus
expect_error "bad temperature" "temperature" "$S" sample "$tmp/m.safetensors" --temperature -1
expect_error "unknown subcommand" "seqcore:" "$S" frobnicate

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
