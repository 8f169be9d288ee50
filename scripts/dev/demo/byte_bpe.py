"""A small byte-level BPE in the layout of Qwen2/Qwen3's tokenizer.json (dev-only, for the Qwen3 demo model).

Semantics of Hugging Face tokenizers' pieces, not their code: NFC normalizer; pre-tokenizer = Split on Qwen2's regex
(Isolated) then ByteLevel (GPT-2's byte -> unicode map, no prefix space, no regex); model = BPE applying merges by rank
within each pre-token; added special tokens split out first. The regex uses \\p{L} / \\p{N}; Python's re has no \\p, so
this module only accepts ASCII text (there \\p{L} = [A-Za-z], \\p{N} = [0-9] exactly) and refuses anything else.
"""
import json
import re
import unicodedata

QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
def _ascii_regex():
    # \p{L}+ outside a class becomes [A-Za-z]+, inside a class the letters/digits ranges are inlined.
    p = QWEN2_PATTERN
    p = p.replace(r"[^\r\n\p{L}\p{N}]?\p{L}+", r"[^\r\nA-Za-z0-9]?[A-Za-z]+")
    p = p.replace(r"|\p{N}|", r"|[0-9]|")
    p = p.replace(r"[^\s\p{L}\p{N}]+", r"[^\sA-Za-z0-9]+")
    assert r"\p" not in p, p
    return re.compile(p)


PRETOKEN = _ascii_regex()


def byte_to_unicode():
    """GPT-2's reversible byte -> printable unicode map (printable latin-1 bytes map to themselves)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = byte_to_unicode()


def pretokens(text):
    if any(ord(c) > 127 for c in text):
        raise ValueError("byte_bpe handles ASCII text only (its pre-tokenizer stands in for \\p{L}/\\p{N})")
    text = unicodedata.normalize("NFC", text)
    return ["".join(B2U[b] for b in m.group(0).encode("utf-8")) for m in PRETOKEN.finditer(text)]


def train(texts, n_merges):
    """Greedy BPE training on pre-token counts: the most frequent adjacent pair merges next (ties: first seen)."""
    words = {}
    for t in texts:
        for w in pretokens(t):
            words[w] = words.get(w, 0) + 1
    seqs = {w: list(w) for w in words}
    merges = []
    for _ in range(n_merges):
        counts = {}
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + n
        if not counts:
            break
        best = max(counts.items(), key=lambda kv: kv[1])[0]
        merges.append(best)
        for w in seqs:
            seqs[w] = _merge_once(seqs[w], best)
    return merges


def _merge_once(s, pair):
    out, i = [], 0
    while i < len(s):
        if i + 1 < len(s) and (s[i], s[i + 1]) == pair:
            out.append(s[i] + s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return out


class ByteBpe:
    def __init__(self, merges, specials):
        self.merges = merges
        self.ranks = {m: i for i, m in enumerate(merges)}
        symbols = [B2U[b] for b in range(256)]
        self.vocab = {s: i for i, s in enumerate(sorted(set(symbols), key=symbols.index))}
        for a, b in merges:
            self.vocab.setdefault(a + b, len(self.vocab))
        self.specials = {s: len(self.vocab) + i for i, s in enumerate(specials)}
        self.id_to_token = {i: s for s, i in {**self.vocab, **self.specials}.items()}
        self._split = re.compile("(" + "|".join(re.escape(s) for s in specials) + ")")

    def _bpe(self, word):
        s = list(word)
        while len(s) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(s, s[1:]))]
            rank, _ = min(pairs)
            if rank == 1 << 30:
                break
            s = _merge_once(s, self.merges[rank])
        return s

    def encode(self, text):
        ids = []
        for part in self._split.split(text):
            if part == "":
                continue
            if part in self.specials:
                ids.append(self.specials[part])
                continue
            for w in pretokens(part):
                ids += [self.vocab[t] for t in self._bpe(w)]
        return ids

    def decode(self, ids):
        u2b = {u: b for b, u in B2U.items()}
        out, buf = [], []
        for i in ids:
            t = self.id_to_token[i]
            if t in self.specials:
                out.append(bytes(buf).decode("utf-8", "replace"))
                buf = []
                out.append(t)
            else:
                buf += [u2b[c] for c in t]
        out.append(bytes(buf).decode("utf-8", "replace"))
        return "".join(out)

    def tokenizer_json(self, not_special=()):
        """tokenizer.json as Qwen2/Qwen3 ship it (same normalizer, pre-tokenizer, decoder; our vocab and merges).
        `not_special`: added tokens kept in decoded text (Qwen3's <think>, </think>)."""
        byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
        added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
                  "special": s not in not_special} for s, i in self.specials.items()]
        return {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False}, byte_level]},
            "post_processor": byte_level, "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": self.vocab, "merges": [f"{a} {b}" for a, b in self.merges]},
        }


def write_tokenizer_json(path, bpe, not_special=()):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(bpe.tokenizer_json(not_special), f, ensure_ascii=False, indent=1)
        f.write("\n")
