#!/usr/bin/env python3
"""Golden token ids for SmolLM2's byte-level BPE tokenizer (spec/model-runtime.md §6.4, §6.8) and for
Gemma 3's SentencePiece vocabulary tokenized by piece scores (§6.1, §6.3).

Reads the vocabulary of models/SmolLM2-135M-Instruct.Q4_1.gguf with the `gguf` package, rebuilds
the HF tokenizer it came from with the `tokenizers` library (BPE by merge rank; pre-tokenizer
Digits(individual) + ByteLevel(use_regex) as in SmolLM2's tokenizer.json; ByteLevel decoder;
control tokens as special added tokens), and writes

  tests/fixtures/smollm2_vocab.json      the GGUF tokenizer metadata (tokens, types, merges, ids)
  tests/fixtures/smollm2_token_ids.json  strings with their ids and decoded text
  tests/fixtures/gemma3_spm_vocab_subset.json  the Gemma 3 GGUF pieces the strings can reach (ids kept)
  tests/fixtures/gemma3_spm_token_ids.json     ids from the `sentencepiece` library (a BPE ModelProto
                                               built from the GGUF pieces, scores and types)

Run offline, outside the repository's build (e.g. python3 -m venv /tmp/tokref &&
/tmp/tokref/bin/pip install tokenizers gguf sentencepiece protobuf):
  /tmp/tokref/bin/python tests/reference/make_tokenizer_fixtures.py
"""
import json
import pathlib
import sys

import gguf
import tokenizers
from tokenizers import Tokenizer, AddedToken, decoders, models, pre_tokenizers
from importlib.metadata import version

ROOT = pathlib.Path(__file__).resolve().parents[2]
GGUF_PATH = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
FIXTURES = ROOT / "tests" / "fixtures"


def read_vocab(path):
    reader = gguf.GGUFReader(str(path))
    field = lambda key: reader.fields[key].contents()
    return {
        "model": field("tokenizer.ggml.model"),
        "pre": field("tokenizer.ggml.pre"),
        "tokens": field("tokenizer.ggml.tokens"),
        "token_types": field("tokenizer.ggml.token_type"),
        "merges": field("tokenizer.ggml.merges"),
        "bos": int(field("tokenizer.ggml.bos_token_id")),
        "eos": int(field("tokenizer.ggml.eos_token_id")),
        "unk": int(field("tokenizer.ggml.unknown_token_id")),
        "pad": int(field("tokenizer.ggml.padding_token_id")),
        "add_bos": bool(field("tokenizer.ggml.add_bos_token")),
        "add_space_prefix": bool(field("tokenizer.ggml.add_space_prefix")),
    }


def build_hf_tokenizer(vocab):
    token_to_id = {}
    for i, t in enumerate(vocab["tokens"]):
        token_to_id.setdefault(t, i)
    merges = [tuple(m.split(" ", 1)) for m in vocab["merges"]]
    tok = Tokenizer(models.BPE(vocab=token_to_id, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    specials = [AddedToken(t, special=True, normalized=False)
                for t, ty in zip(vocab["tokens"], vocab["token_types"]) if ty == 3]
    users = [AddedToken(t, special=False, normalized=False)
             for t, ty in zip(vocab["tokens"], vocab["token_types"]) if ty == 4]
    tok.add_special_tokens(specials)
    if users:
        tok.add_tokens(users)
    return tok


def test_strings():
    """The hand-written edge cases, then about 1000 more (issue 3): prompts, unicode, whitespace runs,
    emoji and special tokens inside text. Deterministic (fixed seed): re-running gives the same fixtures."""
    strings = []
    for text in base_strings() + extended_strings():
        if text not in strings:
            strings.append(text)
    return strings


# AdvBench harmful behaviors (Zou et al., 2023, "Universal and Transferable Adversarial Attacks on
# Aligned Language Models"; MIT license), from ../shared/datasets/harmful_behaviors. The Alpaca prompts
# there are CC BY-NC, so they are not copied into the repository's fixtures.
DATASETS = ROOT.parent / "shared" / "datasets"
DATASET_FILES = [DATASETS / "harmful_behaviors" / "train.jsonl", DATASETS / "harmful_behaviors" / "test.jsonl"]

SCRIPTS = [
    "The quick brown fox jumps over the lazy dog.", "Größenwahn und Übermut", "Ça va? Où est l'hôtel?",
    "¿Dónde está la biblioteca?", "Zażółć gęślą jaźń", "Čeština: příliš žluťoučký kůň", "Türkçe ığüşöç İI",
    "Ελληνικά: γειά σου κόσμε", "Русский: съешь же ещё этих мягких булок", "Українська: ґанок, їжак",
    "עברית: שלום עולם", "العربية: مرحبا بالعالم", "فارسی: سلام دنیا", "हिन्दी: नमस्ते दुनिया", "বাংলা: হ্যালো",
    "ગુજરાતી", "ਪੰਜਾਬੀ", "தமிழ்: வணக்கம்", "తెలుగు", "ಕನ್ನಡ", "മലയാളം", "සිංහල", "ภาษาไทย: สวัสดีชาวโลก",
    "ລາວ", "ខ្មែរ", "မြန်မာ", "ქართული", "Հայերեն", "አማርኛ", "ᏣᎳᎩ", "ᐃᓄᒃᑎᑐᑦ", "ꦗꦮ", "Tiếng Việt: xin chào",
    "中文：你好，世界！", "繁體中文：你好，世界！", "日本語：こんにちは世界、カタカナ、ｶﾀｶﾅ", "한국어: 안녕하세요 세계",
    "Монгол", "ᠮᠣᠩᠭᠣᠯ", "བོད་ཡིག", "ߒߞߏ", "𐌰𐌱𐌲 gothic", "𓀀𓀁 hieroglyphs", "∀x∈ℝ: x²≥0", "∑_{i=1}^{n} i = n(n+1)/2",
    "½ ¼ ¾ ⅓ ⅔", "① ② ③", "Ⅻ Ⅳ", "℃ ℉ № ™ ©", "←↑→↓↔", "■□▲△●○", "♠♣♥♦", "𝐀𝐁𝐂 𝒜ℬ𝒞 𝔸𝔹ℂ",
    "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ", "ﬁ ﬂ ligatures", "\u212b vs \u00c5", "ñ vs n\u0303",
    "a\u0300\u0301\u0302\u0303 stacked", "Z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o", "\u202eRTL override\u202c",
    "soft\u00adhyphen", "zero\u200bwidth\u200cnon\u200djoiner", "word\u2060joiner", "\u3000ideographic space",
    "thin\u2009space", "em\u2003space", "line\u2028separator", "para\u2029separator", "\u0085next line",
    "\x00null byte", "\x07bell\x1b[0m escape", "\x7fdelete", "tab\x0bvertical\x0cform feed",
]

EMOJI = ["😀", "😂", "🥲", "🤖", "👍", "👍🏽", "👩🏾‍💻", "👨‍👩‍👧‍👦", "🧑‍🤝‍🧑", "🏳️‍🌈", "🇯🇵", "🇩🇪", "🇺🇳", "❤️", "♥",
         "✈️", "☕", "🔥", "💯", "🎉", "🦀", "🐍", "🫠", "🪿", "1️⃣", "#️⃣", "©️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]

WHITESPACE = [" ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000"]

SPECIALS_IN_TEXT = [
    "<bos>", "<eos>", "<pad>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<mask>",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<filename>", "<gh_stars>", "<issue_start>",
    "<jupyter_code>", "<empty_output>", "<unused0>", "<unused99>", "[multimodal]"]


def prompt_strings():
    prompts = []
    for path in DATASET_FILES:
        prompts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return prompts


def extended_strings():
    import random
    rng = random.Random(20261128)
    prompts = prompt_strings()
    strings = list(prompts[:440])
    # Variants of prompts: case, surrounding and inner whitespace, newlines, a leading space.
    for i, p in enumerate(prompts[440:] + prompts[:40]):
        strings.append([p.upper(), " " + p, p + "\n", "\n\n" + p + "  ", p.replace(" ", "  "), p.lower()][i % 6])
    strings += SCRIPTS
    strings += [s + " " + e for s, e in zip(SCRIPTS, EMOJI * 4)]
    strings += EMOJI
    strings += ["".join(rng.choice(EMOJI) for _ in range(rng.randint(2, 6))) for _ in range(30)]
    strings += [f"I {e} this{'!' * rng.randint(0, 3)}" for e in EMOJI]
    # Whitespace runs: each kind alone and between words, lengths 1..16, then random mixes.
    for ws in WHITESPACE:
        for n in (1, 2, 3, 4, 5, 8, 16):
            strings.append(ws * n)
            strings.append("a" + ws * n + "b")
    for _ in range(60):
        run = "".join(rng.choice(WHITESPACE) for _ in range(rng.randint(1, 12)))
        strings.append(rng.choice(["", "x", "Hello", "  word", "end."]) + run + rng.choice(["", "y", "World", "42"]))
    # Special tokens of both vocabularies inside text, whole and broken.
    for sp in SPECIALS_IN_TEXT:
        strings += [sp, "text" + sp + "more", " " + sp + " ", sp + sp, sp[:-1], sp[1:], sp.upper(), f"a {sp}\nb"]
    for _ in range(40):
        parts = [rng.choice(SPECIALS_IN_TEXT + ["user", " assistant", "\n", "Hello there.", " 12", "日本"])
                 for _ in range(rng.randint(2, 7))]
        strings.append("".join(parts))
    # Numbers, code, URLs, markup.
    strings += [str(rng.randint(0, 10 ** rng.randint(1, 15))) for _ in range(30)]
    strings += [f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 6)}f}" for _ in range(20)]
    strings += [
        "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}", "    indented four\n        eight",
        '<html><body><p class="x">Hi &amp; bye</p></body></html>', '{"key": [1, 2, {"n": null}]}',
        "SELECT * FROM t WHERE a = 'b';", "$ ls -la | grep '^d' > out.txt 2>&1", "# Heading\n\n* item\n* item",
        "https://en.wikipedia.org/wiki/Byte_pair_encoding#Algorithm", "user@example.com", "C:\\Users\\me",
        "λx. x + 1", "a_b-c.d/e\\f", "'''triple'''", '"""doc"""', "``code``", "~~strike~~", "==", "!=", "->", "=>",
    ]
    # Random mixes of characters from all of the above.
    pool = "".join(SCRIPTS) + "".join(EMOJI) + " \t\n" + "abcXYZ0123456789.,;:!?'\"()[]{}<>|_-+*/\\"
    for _ in range(120):
        strings.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))
    return strings


def base_strings():
    strings = []
    for split in ("harmless", "harmful"):
        for name in ("train.jsonl", "test.jsonl"):
            for line in (ROOT / "jobs" / "data" / split / name).read_text(encoding="utf-8").splitlines():
                if line.strip():
                    strings.append(json.loads(line)["text"])
    strings += [
        "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "a  b", "a   b", "a \n b", "  leading", "trailing  ",
        " Hello", "Hello", "Hello world", "Hello, world!", "hello\n\nworld", "tab\tseparated\tvalues",
        "12345", "3.14", "1,000,000", "2024-01-15", "abc123def", "x = 42 + 7;", "⅓ and ² and ٣",
        "I'm", "I'M", "don't", "DON'T", "they'll", "we've", "she'd", "it's", "You're", "'s alone", "o'clock",
        "日本語のテキスト", "中文测试", "हिन्दी पाठ", "ภาษาไทย", "Ελληνικά", "Привет, мир!", "مرحبا بالعالم",
        "e\u0301", "é", "naïve café", "👍", "👨‍👩‍👧", "🇺🇸 flag", "emoji 😀😃😄 run", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "text<|endoftext|>more", "<|im_start", "< |im_end| >",
        "<file_sep>code", "def f(x):\n    return x * 2\n", "if (a && b) { c(); }", "https://example.com/a?b=c&d=e",
        "snake_case_name and camelCaseName", "ALL CAPS SENTENCE.", "...!!!???", "—–-‐", "\u00a0nbsp\u00a0",
        "a" * 300, "ab" * 100, " " * 17 + "x", "\n" * 5 + "y", "mixed \t\n whitespace \r\n end",
        "Ġ literal", "Ċ literal", "▁ spm space", "\u200b zero width", "\ufeffBOM",
    ]
    return strings


# --- Gemma 3 (SentencePiece BPE by scores, GGUF "llama") -----------------------------------------------

GEMMA_GGUF_PATH = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
SPM_SPACE = "\u2581"


def read_spm_vocab(path):
    reader = gguf.GGUFReader(str(path))
    field = lambda key: reader.fields[key].contents()
    return {
        "tokens": field("tokenizer.ggml.tokens"),
        "scores": [float(s) for s in field("tokenizer.ggml.scores")],
        "token_types": field("tokenizer.ggml.token_type"),
        "unk": int(field("tokenizer.ggml.unknown_token_id")),
        "add_space_prefix": bool(field("tokenizer.ggml.add_space_prefix")),
    }


def build_sentencepiece(vocab):
    """A SentencePiece BPE model with the GGUF pieces: the reference for score-ordered merging."""
    from sentencepiece import sentencepiece_model_pb2 as sp_pb2
    import sentencepiece as spm
    proto = sp_pb2.ModelProto()
    proto.trainer_spec.model_type = sp_pb2.TrainerSpec.BPE
    proto.trainer_spec.byte_fallback = True
    proto.trainer_spec.vocab_size = len(vocab["tokens"])
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = vocab["add_space_prefix"]
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.escape_whitespaces = True
    for i, (text, score, kind) in enumerate(zip(vocab["tokens"], vocab["scores"], vocab["token_types"])):
        piece = proto.pieces.add()
        # convert_hf_to_gguf pre-normalizes user-defined pieces ("▁▁" -> "  ") so that llama.cpp can
        # match them on raw text; SentencePiece matches them on escaped text: undo it.
        piece.piece = text.replace(" ", SPM_SPACE) if kind == 4 else text
        piece.score = score
        # SentencePiece needs exactly one UNKNOWN piece; the GGUF marks Gemma's <unk> as control.
        piece.type = 2 if i == vocab["unk"] else kind
    processor = spm.SentencePieceProcessor()
    processor.LoadFromSerializedProto(proto.SerializeToString())
    return processor


class SpmWithControlTokens:
    """SentencePiece ids with the vocabulary's CONTROL tokens (<bos>, <eos>, ...) matched in the text
    first, longest first, the way the tokenizers library splits out special added tokens."""

    def __init__(self, vocab, processor):
        import re
        self.processor = processor
        self.control = {t: i for i, (t, k) in enumerate(zip(vocab["tokens"], vocab["token_types"])) if k == 3}
        alternatives = sorted(self.control, key=len, reverse=True)
        self.split = re.compile("(" + "|".join(re.escape(t) for t in alternatives) + ")")

    def __call__(self, text):
        ids = []
        for part in self.split.split(text):
            if part in self.control:
                ids.append(self.control[part])
            elif part:
                ids += self.processor.encode(part)
        return ids


def sparse_vocab(vocab, strings):
    """The pieces that can matter for `strings`: every piece that is a substring of a string (raw or
    with spaces escaped), every byte piece and the unk piece. Score-ordered merging only ever looks
    up substrings of its input, so the other ids can be filled with inert placeholders."""
    index = {t: i for i, t in enumerate(vocab["tokens"])}
    max_len = max(len(t) for t in vocab["tokens"])
    keep = {vocab["unk"]} | {i for i, k in enumerate(vocab["token_types"]) if k == 6}
    for text in strings:
        for variant in (text, text.replace(" ", SPM_SPACE), SPM_SPACE + text.replace(" ", SPM_SPACE)):
            for begin in range(len(variant)):
                for end in range(begin + 1, min(len(variant), begin + max_len) + 1):
                    i = index.get(variant[begin:end])
                    if i is not None:
                        keep.add(i)
    return {"size": len(vocab["tokens"]), "unk": vocab["unk"], "add_space_prefix": vocab["add_space_prefix"],
            "pieces": [[i, vocab["tokens"][i], vocab["scores"][i], vocab["token_types"][i]] for i in sorted(keep)]}


def gemma_fixtures(strings, made_by_versions):
    vocab = read_spm_vocab(GEMMA_GGUF_PATH)
    processor = build_sentencepiece(vocab)
    made_by = (f"tests/reference/make_tokenizer_fixtures.py ({made_by_versions}, sentencepiece "
               f"{version('sentencepiece')}) from {GEMMA_GGUF_PATH.name}")
    # SentencePiece never matches CONTROL pieces in text: as_text is SentencePiece itself; parse splits the
    # control tokens out first, as tokenizers does with added tokens (HF's Gemma tokenizer.json).
    encode_parsing_specials = SpmWithControlTokens(vocab, processor)
    cases = []
    for text in strings:
        for mode in ("as_text", "parse"):
            if mode == "parse" and "<" not in text and "[" not in text:
                continue
            ids = processor.encode(text) if mode == "as_text" else encode_parsing_specials(text)
            decoded = processor.decode(ids)
            cases.append({"text": text, "specials": mode, "ids": ids, "decoded": decoded,
                          "round_trips": decoded == text})
    (FIXTURES / "gemma3_spm_vocab_subset.json").write_text(
        json.dumps({"made_by": made_by, **sparse_vocab(vocab, strings)}, ensure_ascii=False, separators=(",", ":")),
        encoding="utf-8")
    (FIXTURES / "gemma3_spm_token_ids.json").write_text(
        json.dumps({"made_by": made_by, "cases": cases}, ensure_ascii=False, indent=0), encoding="utf-8")
    print(f"gemma: {len(strings)} strings, {len(cases)} cases, {sum(c['round_trips'] for c in cases)} round-trip")


def main():
    vocab = read_vocab(GGUF_PATH)
    tok = build_hf_tokenizer(vocab)
    versions = f"tokenizers {tokenizers.__version__}, gguf {version('gguf')}, python {sys.version.split()[0]}"
    made_by = f"tests/reference/make_tokenizer_fixtures.py ({versions}) from {GGUF_PATH.name}"
    cases = []
    for text in test_strings():
        for mode in ("parse", "as_text"):
            tok.encode_special_tokens = mode == "as_text"
            ids = tok.encode(text, add_special_tokens=False).ids
            if mode == "as_text" and "<" not in text:
                continue
            with_specials = tok.decode(ids, skip_special_tokens=False)
            cases.append({"text": text, "specials": mode, "ids": ids,
                          "decoded": tok.decode(ids, skip_special_tokens=True),
                          "decoded_with_specials": with_specials, "round_trips": with_specials == text})
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "smollm2_vocab.json").write_text(
        json.dumps({"made_by": made_by, **vocab}, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    (FIXTURES / "smollm2_token_ids.json").write_text(
        json.dumps({"made_by": made_by, "cases": cases}, ensure_ascii=False, indent=0), encoding="utf-8")
    print(f"smollm2: {len(test_strings())} strings, {len(cases)} cases, {sum(c['round_trips'] for c in cases)} round-trip, "
          f"{len(vocab['tokens'])} tokens, {len(vocab['merges'])} merges")
    gemma_fixtures([t for t in test_strings() if "\u2581" not in t], versions)


if __name__ == "__main__":
    main()
