#!/usr/bin/env python3
"""Build the English text corpus for Inkling's synthetic-line generator.

Called by training/tools/fetch_assets.sh after it has unpacked the Debian packages
`fortunes`, `fortunes-min`, `wordnet-base` and `wamerican` into WORK/deb/<package>/
and written WORK/versions.tsv (kind<TAB>package<TAB>version).  Standard library only.

Writes OUT (normally assets/corpus/):
    english.txt   one English line per row, 2..12 words, shuffled (seed 0)
    words.txt     common words from wamerican, most frequent first
    SOURCES.md    provenance, versions, licences and filtering
    licences/     copyright files of the source packages

Everything is deterministic: same inputs -> byte-identical outputs.
"""
import argparse
import collections
import hashlib
import os
import random
import re
import shutil
import sys
import unicodedata

TARGET_LINES = 20000
MAX_BYTES = 1_500_000
MIN_WORDS, MAX_WORDS = 2, 12
N_WORDS = 20000
SEED = 0

FORTUNE_DIR = "usr/share/games/fortunes"
# Files of the Debian `fortunes`/`fortunes-min` packages that are NOT used.  The offensive
# collection lives in the separate `fortunes-off` package (the `off/` directory), which is
# never downloaded.  On top of that we skip pictures and a few files of stereotype jokes.
FORTUNE_EXCLUDE = {
    "ascii-art": "ASCII pictures, not prose",
    "translate-me": "dialect word games",
    "ethnic": "ethnic-stereotype jokes (kept out as a precaution)",
    "men-women": "gender-stereotype jokes (kept out as a precaution)",
}

TYPOGRAPHIC = "‘’“”–—"
NBSP_LIKE = "\u00a0\u2002\u2003\u2009\u202f"


def allowed_char(ch):
    cp = ord(ch)
    if 0x20 <= cp <= 0x7E:
        return True
    if ch in TYPOGRAPHIC:
        return True
    # Latin-1 letters (À..ÿ without × and ÷)
    return 0xC0 <= cp <= 0xFF and ch not in "×÷"


MAX_CHARS = 80  # longest line (characters)
MAX_WORD_CHARS = 24  # longest single word

WS_RE = re.compile(r"\s+")
WORD_RE = re.compile(r"\S+")
# a token that ends a sentence: ...[.!?] optionally followed by closing quotes/brackets
SENT_END_RE = re.compile(r"[.!?][\"')\]’”]*$")
SENT_START_RE = re.compile(r"^[\"'(‘“]*[A-Z0-9]")
# tokens ending in "." that usually do not end a sentence
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "rev", "gen", "col", "capt", "lt", "sgt",
    "gov", "sen", "rep", "pres", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co", "corp", "no",
    "vol", "p", "pp", "mt", "ft", "fig", "jan", "feb", "mar", "apr", "aug", "sept", "sep", "oct",
    "nov", "dec", "u.s", "a.m", "p.m", "ph.d",
}


def normalize(text):
    text = unicodedata.normalize("NFC", text)
    for ch in NBSP_LIKE:
        text = text.replace(ch, " ")
    text = text.replace("…", "...")
    # TeX-style quotes used in some fortunes
    text = text.replace("``", '"').replace("''", '"')
    return WS_RE.sub(" ", text).strip()


def good_line(line):
    if not line or not all(allowed_char(c) for c in line):
        return False
    words = line.split(" ")
    if not (MIN_WORDS <= len(words) <= MAX_WORDS) or len(line) > MAX_CHARS:
        return False
    if max(len(w) for w in words) > MAX_WORD_CHARS:
        return False
    chars = line.replace(" ", "")
    letters = sum(c.isalpha() for c in chars)
    if letters < 0.6 * len(chars) or letters < 4:  # mostly non-letters
        return False
    if sum(any(c.isalpha() for c in w) for w in words) < MIN_WORDS:
        return False
    if "://" in line or "www." in line.lower() or "_" in line or "\\" in line:
        return False
    if re.search(r"(.)\1{4,}", line):  # "-----", "!!!!!", "aaaaa"
        return False
    return True


def chunk(words, rng):
    """Split a long word list into pieces of 3..12 words (random sizes, never a 1-word tail)."""
    out, i = [], 0
    while i < len(words):
        rest = len(words) - i
        if rest <= MAX_WORDS:
            n = rest
        else:
            n = rng.randint(3, MAX_WORDS)
            if rest - n < MIN_WORDS:
                n = rest - MIN_WORDS
        out.append(words[i:i + n])
        i += n
    return out


def split_sentences(words):
    sents, cur = [], []
    for i, w in enumerate(words):
        cur.append(w)
        nxt = words[i + 1] if i + 1 < len(words) else None
        if nxt is None or not SENT_END_RE.search(w) or not SENT_START_RE.match(nxt):
            continue
        if w.endswith("."):
            stem = w.rstrip(".").lstrip("\"'(‘“").lower()
            if stem in ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
                continue  # "Dr. Smith", "Hunter S. Thompson"
        sents.append(cur)
        cur = []
    if cur:
        sents.append(cur)
    return sents


def text_to_lines(text, rng):
    """Sentence-split a paragraph; short sentences are kept whole, long ones chunked."""
    lines = []
    for words in split_sentences(WORD_RE.findall(text)):
        if len(words) <= MAX_WORDS:
            lines.append(" ".join(words))
        else:
            lines.extend(" ".join(p) for p in chunk(words, rng))
    return lines


def read_text(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# ---------------------------------------------------------------------------- fortunes
def fortune_files(work):
    files = []
    for pkg in ("fortunes", "fortunes-min"):
        d = os.path.join(work, "deb", pkg, FORTUNE_DIR)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if "." in name or os.path.islink(p) or not os.path.isfile(p):
                continue  # *.dat / *.u8 index files and links
            assert "/off/" not in p
            files.append((pkg, name, p))
    return files


def fortune_entries(path):
    text = read_text(path)
    entry = []
    for line in text.split("\n"):
        if line.strip() == "%":
            if entry:
                yield entry
            entry = []
        else:
            entry.append(line)
    if entry:
        yield entry


def fortunes_lines(work, rng, raw_text):
    lines, used = [], []
    for pkg, name, path in fortune_files(work):
        if name in FORTUNE_EXCLUDE:
            continue
        used.append(f"{pkg}:{name}")
        for entry in fortune_entries(path):
            body = "\n".join(entry)
            if "\b" in body or "\x1b" in body:
                continue  # overstrike / escape sequences
            raw_text.append(body)
            # blank lines separate paragraphs; an attribution ("-- Author") is its own line
            paras = re.split(r"\n\s*\n|\n\s*--\s*(?=\S)", body)
            for para in paras:
                para = normalize(para)
                if para:
                    lines.extend(text_to_lines(para, rng))
    return lines, used


# ---------------------------------------------------------------------------- wordnet
QUOTE_RE = re.compile(r'"([^"]+)"')


def wordnet_lines(work, rng, raw_text):
    d = os.path.join(work, "deb", "wordnet-base", "usr/share/wordnet")
    lines = []
    for pos in ("adj", "adv", "noun", "verb"):
        with open(os.path.join(d, "data." + pos), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("  ") or " | " not in line:
                    continue  # licence header
                gloss = line.split(" | ", 1)[1]
                raw_text.append(gloss)
                for ex in QUOTE_RE.findall(gloss):
                    ex = normalize(ex)
                    if ex:
                        lines.extend(text_to_lines(ex, rng))
    return lines


# ---------------------------------------------------------------------------- words
TOKEN_RE = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]+")


def build_words(work, raw_text):
    path = os.path.join(work, "deb", "wamerican", "usr/share/dict/american-english")
    with open(path, encoding="utf-8") as fh:
        vocab = [w.strip() for w in fh if w.strip()]
    lower_set = {w for w in vocab if w.islower()}
    lower_counts = collections.Counter()
    exact_counts = collections.Counter()
    for t in raw_text:
        for tok in TOKEN_RE.findall(t):
            exact_counts[tok] += 1
            lower_counts[tok.lower()] += 1
    cands = []
    for w in vocab:
        if "'" in w or not TOKEN_RE.fullmatch(w):
            continue
        if w == "I":
            n = exact_counts[w]
        elif len(w) == 1 and w != "a":
            continue  # single letters other than "a" / "I"
        elif w.islower():
            n = lower_counts[w]
        elif w[0].isupper() and w[1:].islower() and len(w) > 1 and w.lower() not in lower_set:
            n = exact_counts[w]  # proper noun, only counted when capitalised
            if n < 3:
                continue
        else:
            continue  # acronyms / odd casing / capitalised forms of common words
        if n > 0:
            # ties (many words occur once or twice) are broken by a hash, so the cut-off
            # at N_WORDS is not biased towards the start of the alphabet
            cands.append((-n, hashlib.md5(w.encode("utf-8")).hexdigest(), w))
    cands.sort()
    words = [w for _, _, w in cands[:N_WORDS]]
    return words, len(vocab)


# ---------------------------------------------------------------------------- main
def dedup(lines):
    seen, out = set(), []
    for l in lines:
        key = l.lower()
        if key not in seen:
            seen.add(key)
            out.append(l)
    return out


def read_versions(work):
    versions = {}
    with open(os.path.join(work, "versions.tsv"), encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                versions[parts[1]] = parts[2]
    return versions


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True, help="output folder, e.g. assets/corpus")
    args = ap.parse_args()
    versions = read_versions(args.work)
    for pkg in ("fortunes", "fortunes-min", "wordnet-base", "wamerican"):
        if pkg not in versions:
            print(f"error: package {pkg} is missing", file=sys.stderr)
            return 1

    raw_text = []
    f_all, f_used = fortunes_lines(args.work, random.Random(SEED), raw_text)
    w_all = wordnet_lines(args.work, random.Random(SEED + 1), raw_text)
    f_good = dedup([l for l in f_all if good_line(l)])
    fkeys = {l.lower() for l in f_good}
    w_good = dedup([l for l in w_all if good_line(l) and l.lower() not in fkeys])

    # Balance: half fortunes (longer, conversational), half WordNet examples (short, plain).
    rng = random.Random(SEED)
    n_f = min(len(f_good), TARGET_LINES // 2)
    n_w = min(len(w_good), TARGET_LINES - n_f)
    n_f = min(len(f_good), TARGET_LINES - n_w)
    picked = rng.sample(f_good, n_f) + rng.sample(w_good, n_w)
    rng.shuffle(picked)
    while len("\n".join(picked).encode("utf-8")) + 1 > MAX_BYTES:
        picked.pop()

    words, n_vocab = build_words(args.work, raw_text)

    out = args.out
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "english.txt"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(picked) + "\n")
    with open(os.path.join(out, "words.txt"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(words) + "\n")
    lic = os.path.join(out, "licences")
    shutil.rmtree(lic, ignore_errors=True)
    os.makedirs(lic)
    for pkg in ("fortunes", "fortunes-min", "wordnet-base", "wamerican"):
        shutil.copyfile(os.path.join(args.work, "deb", pkg, "usr/share/doc", pkg, "copyright"),
                        os.path.join(lic, pkg + ".txt"))

    size = os.path.getsize(os.path.join(out, "english.txt"))
    n_from_f = len(set(picked) & set(f_good))
    wc = collections.Counter(len(l.split(" ")) for l in picked)
    n_non_ascii = sum(any(ord(c) > 0x7E for c in l) for l in picked)
    n_lower_words = sum(w.islower() for w in words)
    write_sources(out, versions, f_used, len(f_all), len(f_good), len(w_all), len(w_good),
                  picked, n_from_f, size, wc, n_non_ascii, words, n_lower_words, n_vocab)
    print(f"english.txt: {len(picked)} lines ({n_from_f} fortunes, {len(picked) - n_from_f} wordnet), {size} bytes")
    print(f"words.txt: {len(words)} words ({n_lower_words} lower-case)")
    return 0


def write_sources(out, versions, f_used, f_all, f_good, w_all, w_good, picked, n_from_f, size, wc,
                  n_non_ascii, words, n_lower_words, n_vocab):
    hist = ", ".join(f"{k}:{wc[k]}" for k in sorted(wc))
    md = f"""# English text corpus

Generated by `training/tools/fetch_assets.sh` (via `training/tools/build_corpus.py`); do not edit by hand.
All sources are Debian bookworm packages, fetched with `apt-get download` and unpacked with
`dpkg-deb -x` (nothing is installed).  Their copyright files are in `licences/`.

| package | version | licence | used for |
|---|---|---|---|
| `fortunes` | {versions['fortunes']} | BSD-style (fortune-mod, see `licences/fortunes.txt`); Debian main | `english.txt` |
| `fortunes-min` | {versions['fortunes-min']} | BSD-style (same as above) | `english.txt` |
| `wordnet-base` | {versions['wordnet-base']} | WordNet 3.0 licence (permissive; the Princeton notice must accompany copies, see `licences/wordnet-base.txt`) | `english.txt`, word frequencies |
| `wamerican` | {versions['wamerican']} | SCOWL copyright (permissive, see `licences/wamerican.txt`) | `words.txt` |

## english.txt

{len(picked)} lines, {size} bytes, UTF-8, one line per row, {MIN_WORDS}-{MAX_WORDS} words each.
{n_from_f} lines come from fortunes, {len(picked) - n_from_f} from WordNet usage examples;
{n_non_ascii} lines contain non-ASCII characters.
Words-per-line histogram: {hist}.

* **fortunes**: the fortune cookie files of `fortunes` and `fortunes-min` (`/usr/share/games/fortunes/*`).
  The offensive collection (`off/`, Debian package `fortunes-off`) is never downloaded.  Files skipped as well:
  {", ".join(f"`{k}` ({v})" for k, v in sorted(FORTUNE_EXCLUDE.items()))}.
  Entries containing overstrike/escape sequences are dropped.  Files used: {", ".join(f"`{u}`" for u in f_used)}.
  Each cookie is split into paragraphs (blank lines, `-- Author` attributions), lines are joined,
  whitespace normalised and the text is split into sentences (not after initials such as `S.` or common abbreviations such as
  `Dr.`, `Inc.`); sentences of at most {MAX_WORDS} words are kept
  whole, longer ones are cut into consecutive chunks of 3-{MAX_WORDS} words (random sizes, seeded).
  {f_all} candidate lines, {f_good} after filtering and de-duplication.
* **WordNet 3.0** (`wordnet-base`, `data.adj/adv/noun/verb`): the double-quoted usage examples in the glosses
  (e.g. `"the children's happiness"`), chunked the same way.  {w_all} candidate lines, {w_good} after filtering
  and de-duplication (also against the fortunes lines).
* **Filtering** (both sources): Unicode NFC, non-breaking spaces to spaces, `…` to `...`, TeX quotes
  (` `` `, `''`) to `"`, runs of whitespace collapsed.  A line is kept only if every character is printable ASCII
  (0x20-0x7E), a Latin-1 letter (U+00C0-U+00FF except × ÷) or one of `{TYPOGRAPHIC}`; it has {MIN_WORDS}-{MAX_WORDS}
  space-separated words, at least two of them containing a letter; letters make up at least 60% of its
  non-space characters (and at least 4); it is at most {MAX_CHARS} characters long with no word longer than
  {MAX_WORD_CHARS}; it has no URL, `_`, `\\` or a character repeated 5+ times.
  Duplicates are removed case-insensitively (first occurrence kept).
* **Mix and order**: up to {TARGET_LINES // 2} lines are sampled from each source (`random.Random({SEED})`),
  then the union is shuffled with the same generator; the file is capped at {MAX_BYTES} bytes.

## words.txt

{len(words)} words, one per line, most frequent first ({n_lower_words} lower-case, the rest capitalised
proper names).  Source: `/usr/share/dict/american-english` from `wamerican` ({n_vocab} entries, SCOWL size 50).
Entries with an apostrophe (all the `'s` forms), entries that are not purely letters and single letters
other than `a` and `I` are dropped.
Lower-case words are ranked by how often they occur (case-insensitively) in the fortunes text used above
plus all WordNet glosses and examples; capitalised entries are only kept when they are proper names whose
lower-case form is not itself a word, occur capitalised at least 3 times, and are ranked by that count.
Words never seen in that text are dropped; ties are broken by the MD5 of the word (so the cut-off is not
alphabetical); the top {N_WORDS} are written.
"""
    with open(os.path.join(out, "SOURCES.md"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(md)


if __name__ == "__main__":
    sys.exit(main())
