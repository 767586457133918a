"""Lesson 3 — the RNN architectures, each on a tiny task it must learn.

    many-to-many, Tx = Ty   an output ŷ<t> at every input step (name tagging)  SequenceTagger
    many-to-one             one output from the final state (sentiment)        SequenceClassifier
    one-to-many             one input, then each sample fed back as x<t+1>     LanguageModel.generate
    many-to-many, Tx ≠ Ty   an encoder reads x, a decoder writes y (translation) Seq2Seq

Each part trains for a few seconds and asserts that it learned (held-out accuracy thresholds).

Run: python3 03_architectures.py
"""

import sys
import time

import numpy as np

import seqcore


def require(condition, message):
    print(("  ok   " if condition else "  FAIL ") + message)
    if not condition:
        sys.exit(1)


rng = np.random.default_rng(3)

# --- Many-to-many, Tx = Ty: label each step with the token one step back --------------------------
# y<t> = x<t-1> (and y<1> = 0): each output needs the memory a<t-1> carries, not just x<t>.
print("Many-to-many, Tx = Ty (SequenceTagger): y<t> = x<t-1>")
started = time.perf_counter()


def delayed(n):
    xs = [rng.integers(1, 8, size=int(rng.integers(5, 11))) for _ in range(n)]
    return xs, [np.concatenate([[0], s[:-1]]) for s in xs]


x_train, y_train = delayed(600)
x_test, y_test = delayed(200)
tagger = seqcore.SequenceTagger(seqcore.GRU(8, 32, seed=3), output_size=8, vocab_size=8, learning_rate=0.02, seed=3)
tagger.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
p = tagger.predict(x_test)  # [B, T, K=8] softmax over the classes at every step
right = sum(int(np.sum(p[i, :len(s)].argmax(-1) == y_test[i])) for i, s in enumerate(x_test))
total = sum(len(s) for s in x_test)
print(f"  x = {x_test[0].tolist()}\n  ŷ = {p[0, :len(x_test[0])].argmax(-1).tolist()}")
require(right / total >= 0.98, f"held-out steps right: {right / total:.1%} (>= 98%), "
        f"{time.perf_counter() - started:.1f} s")

# --- Many-to-one: one label per sequence, read from its final state -------------------------------
# A "sentiment" task: each step carries a word score x<t>; the sequence is positive when Σ_t x<t> > 0.
# ŷ = softmax(W_y a<Tx> + b_y): the whole sequence must be summarised in a<Tx>.
print("\nMany-to-one (SequenceClassifier): positive when Σ_t x<t> > 0")
started = time.perf_counter()


def scores(n):
    lengths = rng.integers(4, 13, size=n)
    xs = [rng.standard_normal((int(k), 1)).astype(np.float32) for k in lengths]
    return xs, np.array([int(s.sum() > 0) for s in xs])


x_train, y_train = scores(800)
x_test, y_test = scores(300)
classifier = seqcore.SequenceClassifier(seqcore.GRU(1, 32, seed=3), output_size=2, learning_rate=0.02, seed=3)
classifier.fit(x_train, y_train, epochs=40, batch_size=32, verbose=0)
p = classifier.predict(x_test)  # [B, K=2]: one distribution per sequence
accuracy = float(np.mean(p.argmax(1) == y_test))
require(accuracy >= 0.9, f"held-out sequences right: {accuracy:.1%} (>= 90%), {time.perf_counter() - started:.1f} s")

# --- One-to-many: a character-level model that writes names from a single start token --------------
# Trained to predict x<t+1> from x<1..t>; then generate() feeds one token "^" and each sampled ŷ<t>
# back as x<t+1>, until the stop token "$". temperature < 1 sharpens the distribution (0 = greedy),
# top_k samples among the k likeliest tokens only, and the seed makes a sample repeatable.
print("\nOne-to-many (LanguageModel.generate): names from a start token")
started = time.perf_counter()
NAMES = ["harry", "hermione", "ron", "ginny", "luna", "neville", "draco", "fred", "george", "percy",
         "molly", "arthur", "sirius", "remus", "albus", "minerva", "severus", "cedric", "bill", "charlie"]
alphabet = "^$" + "".join(sorted({c for name in NAMES for c in name}))
char_id = {c: i for i, c in enumerate(alphabet)}


def encode(text):
    return np.array([char_id[c] for c in text], dtype=np.int32)


def decode(ids):
    return "".join(alphabet[i] for i in ids)


language_model = seqcore.LanguageModel(seqcore.LSTM(16, 64, seed=3), vocab_size=len(alphabet), learning_rate=0.02,
                                       seed=3)
history = language_model.fit([encode("^" + name + "$") for name in NAMES] * 8, epochs=30, batch_size=16, verbose=0)
print(f"  loss per character {history.loss[0]:.2f} -> {history.loss[-1]:.3f}")
samples = [decode(language_model.generate(encode("^"), 12, temperature=0.5, seed=s, stop_token=char_id["$"]))
           for s in range(20)]
print("  temperature 0.5, seeds 0-19: " + " ".join(samples))
known = sum(s.endswith("$") and s[:-1] in NAMES for s in samples)
require(known >= 16, f"{known}/20 samples are whole names of the training list (>= 16)")
hot = [decode(language_model.generate(encode("^"), 12, temperature=2.0, seed=s, stop_token=char_id["$"]))
       for s in range(20)]
print("  temperature 2.0, seeds 0-19: " + " ".join(hot))
hot_known = sum(s.endswith("$") and s[:-1] in NAMES for s in hot)
require(hot_known < known, f"a flatter distribution (temperature 2) invents more: {hot_known}/20 known names")
for prefix in ("^h", "^ge", "^mi"):
    greedy = decode(language_model.generate(encode(prefix), 12, temperature=0, stop_token=char_id["$"]))
    print(f"  greedy after {prefix!r}: {prefix[1:]}{greedy}")
    require((prefix[1:] + greedy).rstrip("$") in NAMES, f"greedy continuation of {prefix!r} is a training name")
first = language_model.generate(encode("^"), 12, temperature=1.0, seed=7)
require(np.array_equal(first, language_model.generate(encode("^"), 12, temperature=1.0, seed=7)),
        "the same seed gives the same sample")
require(np.array_equal(language_model.generate(encode("^h"), 8, temperature=1.0, top_k=1, seed=1),
                       language_model.generate(encode("^h"), 8, temperature=0)),
        "top_k = 1 is greedy decoding whatever the seed")
print(f"  ({time.perf_counter() - started:.1f} s)")

# --- Many-to-many, Tx ≠ Ty: an encoder-decoder that reverses sequences -----------------------------
# The encoder reads x<1..Tx>; its final state starts the decoder, which emits y<1>, y<2>, ... from a
# start token until it emits the stop token: the output length Ty is the decoder's to choose.
# Here y is x reversed and without its 9s (so Ty ≤ Tx), e.g. [3, 9, 5, 7] -> [7, 5, 3].
print("\nMany-to-many, Tx ≠ Ty (Seq2Seq): reverse the sequence, dropping 9s")
started = time.perf_counter()


def reversals(n):
    xs = [rng.integers(2, 10, size=int(rng.integers(3, 7))) for _ in range(n)]
    ys = [s[::-1][s[::-1] != 9] for s in xs]
    keep = [i for i, s in enumerate(ys) if len(s) > 0]
    return [xs[i] for i in keep], [ys[i] for i in keep]


x_train, y_train = reversals(1500)
x_test, y_test = reversals(200)
seq2seq = seqcore.Seq2Seq(seqcore.LSTM(16, 96, seed=3), target_vocab_size=10, vocab_size=10, learning_rate=0.01,
                          seed=3)  # target ids: 0 = start, 1 = stop (the defaults), 2..8 the tokens
seq2seq.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
decoded = seq2seq.decode(x_test, max_length=8)
for source, output in list(zip(x_test, decoded))[:3]:
    print(f"  {source.tolist()} (Tx = {len(source)}) -> {output.tolist()} (Ty = {len(output)})")
exact = float(np.mean([np.array_equal(d, t) for d, t in zip(decoded, y_test)]))
require(exact >= 0.9, f"held-out sequences exactly right: {exact:.1%} (>= 90%), {time.perf_counter() - started:.1f} s")
require(any(len(d) != len(s) for d, s in zip(decoded, x_test)), "the decoder chose output lengths Ty ≠ Tx")
