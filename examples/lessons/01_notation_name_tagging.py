"""Lesson 1 — notation, and the course's name-tagging example.

The course writes one training example as a sequence of inputs x<1>, ..., x<Tx> and a sequence
of targets y<1>, ..., y<Ty>; example i of the training set is x^(i)<t>, and each example has its
own length Tx^(i). In name tagging, Tx = Ty: one label per word, y<t> = 1 when word t is part of a
person's name.

    x: Harry Potter and Hermione Granger invented a new spell
    y:   1     1     0     1        1       0     0  0    0

A word x<t> is represented through a vocabulary of V words: as a one-hot vector (1 at the word's
index, 0 elsewhere), or — what the library takes — as the index itself, a token id, which an
embedding layer turns into a vector. This lesson builds the vocabulary, shows the notation on the
course's sentence, then trains a small tagger on generated sentences and tags that sentence.

Run: python3 01_notation_name_tagging.py   (needs the seqcore package; see README.md)
"""

import sys

import numpy as np

import seqcore


def require(condition, message):
    """A lesson's claim: print it, and fail through the exit code when it does not hold."""
    print(("  ok   " if condition else "  FAIL ") + message)
    if not condition:
        sys.exit(1)


# --- The data: generated sentences, each word labelled 1 (part of a name) or 0 -------------------

FIRST = ["harry", "hermione", "ron", "ginny", "luna", "neville", "albus", "minerva", "severus", "sirius",
         "remus", "draco", "cedric", "fred", "george", "percy", "molly", "arthur", "bill", "charlie"]
LAST = ["potter", "granger", "weasley", "lovegood", "longbottom", "dumbledore", "mcgonagall", "snape",
        "black", "lupin", "malfoy", "diggory", "hagrid", "lestrange", "riddle", "moody", "flitwick",
        "sprout", "slughorn", "trelawney"]
VERBS = ["invented", "found", "cast", "broke", "learned", "stole", "hid", "brewed", "taught", "forgot"]
# "black" is both a surname (Sirius Black) and an adjective (a black cloak): only the context tells.
ADJECTIVES = ["new", "old", "dark", "secret", "strange", "powerful", "simple", "forbidden", "black"]
NOUNS = ["spell", "potion", "wand", "book", "map", "charm", "broom", "cloak"]
PLACES = ["library", "castle", "forest", "village", "kitchen", "tower"]


def generate_sentence(rng):
    """One sentence as (words, labels): templates like the course's sentence, names inside."""
    def name():
        # "Harry Potter", or just "Harry" or "Potter": every word of a name is labelled 1.
        kind = rng.integers(3)
        first, last = str(rng.choice(FIRST)), str(rng.choice(LAST))
        words = [[first, last], [first], [last]][kind]
        return [(w, 1) for w in words]

    def words(*ws):
        return [(w, 0) for w in ws]

    template = rng.integers(5)
    verb, adjective, noun, place = (str(rng.choice(options)) for options in (VERBS, ADJECTIVES, NOUNS, PLACES))
    if template == 0:    # "Harry Potter and Hermione Granger invented a new spell"
        parts = name() + words("and") + name() + words(verb, "a", adjective, noun)
    elif template == 1:  # "in the library Ron found the old map"
        parts = words("in", "the", place) + name() + words(verb, "the", adjective, noun)
    elif template == 2:  # "the secret potion belongs to Severus Snape"
        parts = words("the", adjective, noun, "belongs", "to") + name()
    elif template == 3:  # "Luna and Neville met Draco in the forest"
        parts = name() + words("and") + name() + words("met") + name() + words("in", "the", place)
    else:                # "a strange book taught Ginny a spell"
        parts = words("a", adjective, noun, verb) + name() + words("a", str(rng.choice(NOUNS)))
    return [w for w, _ in parts], [label for _, label in parts]


rng = np.random.default_rng(1)
COURSE_WORDS = "Harry Potter and Hermione Granger invented a new spell".lower().split()
COURSE_LABELS = [1, 1, 0, 1, 1, 0, 0, 0, 0]

sentences = []
while len(sentences) < 1200:
    words, labels = generate_sentence(rng)
    if words != COURSE_WORDS:  # the course's sentence itself is never seen in training
        sentences.append((words, labels))
train, test = sentences[:1000], sentences[1000:]

# --- The vocabulary: V words, each with an index; 0 pads short sequences, 1 is "unknown" --------

vocabulary = ["<pad>", "<unk>"] + sorted({w for words, _ in sentences for w in words} | set(COURSE_WORDS))
index = {word: i for i, word in enumerate(vocabulary)}
V = len(vocabulary)


def token_ids(words):
    return np.array([index.get(w, 1) for w in words], dtype=np.int32)


def one_hot(token_id):
    """x<t> as the course draws it: a V-vector with a single 1 at the word's index."""
    v = np.zeros(V, dtype=np.float32)
    v[token_id] = 1.0
    return v


print(f"Vocabulary: V = {V} words, e.g. {vocabulary[2:8]} ...")
print(f"Training set: m = {len(train)} sentences; lengths Tx^(i) from "
      f"{min(len(w) for w, _ in train)} to {max(len(w) for w, _ in train)} (each example has its own)")
words0, labels0 = train[0]
print(f"Example i = 1: x^(1) = {' '.join(words0)}; Tx^(1) = {len(words0)}, y^(1) = {labels0}")

# --- The notation on the course's sentence -------------------------------------------------------

x = token_ids(COURSE_WORDS)
y = np.array(COURSE_LABELS, dtype=np.float32)
Tx, Ty = len(x), len(y)
print(f"\nThe course's sentence: Tx = {Tx}, Ty = {Ty}")
for t in range(Tx):
    # Printed 1-based, as the course counts steps: x<1> is the first word.
    print(f"  x<{t + 1}> = {COURSE_WORDS[t]:9s} index {x[t]:3d}  one-hot: 1 at {np.flatnonzero(one_hot(x[t]))[0]:3d} "
          f"of {V}   y<{t + 1}> = {int(y[t])}")
require(Tx == Ty == 9, "Tx = Ty = 9: one label per word (many-to-many, Tx = Ty)")
require(all(x >= 2), "every word of the sentence is in the vocabulary (no <unk>)")

# --- The tagger: embedding -> bidirectional LSTM -> sigmoid per step ----------------------------
# ŷ<t> = σ(W_y [a→<t>, a←<t>] + b_y): the probability that word t is part of a name. The backward
# direction lets the label of "Harry" depend on the "Potter" after it (lesson 4).

tagger = seqcore.SequenceTagger(seqcore.LSTM(16, 32, bidirectional=True, seed=1), output_size=1, output="binary",
                                vocab_size=V, padding_index=0, learning_rate=0.01, seed=1)

# The embedding is the one-hot vector times a matrix E [V, 16]: x<t>ᵀ E picks row x<t> of E, which is
# why the library takes token ids: the product with a one-hot vector is a lookup.
E = tagger.state_dict()["embedding.weight"]
require(all(np.array_equal(one_hot(i) @ E, E[i]) for i in x),
        "one-hot x<t> times the embedding matrix E equals row x<t> of E (the library's lookup)")

# A list of sentences of different lengths is padded for us, and each one's Tx^(i) used: steps past
# a sentence's end contribute nothing to the loss L = Σ_t L<t>.
history = tagger.fit([token_ids(w) for w, _ in train], [np.array(l, np.float32) for _, l in train],
                     epochs=6, batch_size=32, verbose=0)
print(f"\nTrained: loss per step {history.loss[0]:.3f} -> {history.loss[-1]:.4f} over {history.epochs} epochs")
require(history.loss[-1] < 0.1 * history.loss[0], "the training loss fell at least tenfold")

# Token accuracy on held-out generated sentences.
test_x = [token_ids(w) for w, _ in test]
p = tagger.predict(test_x)  # [B, T, 1], 0 past each sentence's length
right = sum(int(np.sum((p[i, :len(l), 0] > 0.5) == np.array(l, bool))) for i, (_, l) in enumerate(test))
total = sum(len(l) for _, l in test)
print(f"Held-out sentences: {right}/{total} words labelled right ({right / total:.1%})")
require(right / total >= 0.97, "at least 97% of held-out words labelled right")

# And the course's sentence, never seen in training.
p = tagger.predict(x[None, :])[0, :, 0]  # one sentence: [1, Tx] in, [1, Ty, 1] out
labels = (p > 0.5).astype(int)
print("\n" + " ".join(f"{w:>9s}" for w in "Harry Potter and Hermione Granger invented a new spell".split()))
print(" ".join(f"{v:9.3f}" for v in p) + "   ŷ<t>")
print(" ".join(f"{v:9d}" for v in labels) + "   labels (ŷ<t> > 0.5)")
print(" ".join(f"{v:9d}" for v in COURSE_LABELS) + "   the course's y")
correct = int(np.sum(labels == np.array(COURSE_LABELS)))
require(correct >= 8, f"{correct} of 9 labels of the course's sentence right (at least 8 required)")

# The same word, two labels: the tagger reads the context, not just the word.
AMBIGUOUS = "Sirius Black found a black cloak".lower().split()
p = tagger.predict(token_ids(AMBIGUOUS)[None, :])[0, :, 0]
print("\n" + " ".join(f"{w:>7s}" for w in AMBIGUOUS))
print(" ".join(f"{v:7.3f}" for v in p) + "   ŷ<t>")
require(p[1] > 0.5 > p[4], '"black" tagged as a name after "Sirius", not after "a"')
