#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/seeds/*): small valid
files that reach every branch of the parsers once, so libFuzzer mutates from
well-formed input. Standard library only; the outputs are committed.

    python3 tests/fuzz/make_seeds.py
"""
import json
import pathlib
import struct

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"


def write(path: pathlib.Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"{path.relative_to(SEEDS.parent)}: {len(data)} bytes")


# ---- safetensors ------------------------------------------------------------

def safetensors(tensors, metadata=None) -> bytes:
    header, buffer = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(buffer), len(buffer) + len(data)]}
        buffer += data
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # HF pads the header to 8 bytes
    return struct.pack("<Q", len(text)) + text + buffer


def write_safetensors() -> None:
    f32 = struct.pack("<6f", 1.0, -2.0, 0.5, 3.25, 0.0, -0.125)
    f16 = struct.pack("<4e", 1.0, -2.0, 0.5, 65504.0)
    bf16 = bytes.fromhex("803f0040c0bf0000")  # 1, 2, -1.5, 0 in bfloat16
    write(SEEDS / "safetensors/three_dtypes.safetensors",
          safetensors([("model.embed_tokens.weight", "F32", [2, 3], f32),
                       ("model.norm.weight", "F16", [4], f16),
                       ("lm_head.weight", "BF16", [2, 2], bf16)], {"format": "pt"}))
    write(SEEDS / "safetensors/scalar_and_empty.safetensors",
          safetensors([("scale", "F32", [], struct.pack("<f", 2.0)), ("empty", "BF16", [0, 4], b"")]))


# ---- GGUF -------------------------------------------------------------------

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?",
                  U64: "<Q", I64: "<q", F64: "<d"}
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0, GGML_Q4_K, GGML_BF16 = 0, 1, 2, 8, 12, 30


def gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf_value(kind: int, value) -> bytes:
    if kind == STRING:
        return gguf_string(value)
    if kind == ARRAY:
        element_kind, items = value
        return struct.pack("<IQ", element_kind, len(items)) + b"".join(gguf_value(element_kind, v) for v in items)
    return struct.pack(SCALAR_FORMATS[kind], value)


def gguf(metadata, tensors, alignment=32) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, kind, value in metadata:
        out += gguf_string(key) + struct.pack("<I", kind) + gguf_value(kind, value)
    data, infos = b"", b""
    for name, ggml_type, shape, payload in tensors:
        data += b"\0" * (-len(data) % alignment)
        infos += gguf_string(name) + struct.pack("<I", len(shape))
        infos += b"".join(struct.pack("<Q", n) for n in reversed(shape))  # ne[] is PyTorch's shape reversed
        infos += struct.pack("<IQ", ggml_type, len(data))
        data += payload
    out += infos
    out += b"\0" * (-len(out) % alignment)
    return out + data


def q8_0_block(scale: float) -> bytes:
    return struct.pack("<e", scale) + bytes((i * 7 - 100) & 0xFF for i in range(32))


def q4_0_block(scale: float) -> bytes:
    return struct.pack("<e", scale) + bytes((i * 37) & 0xFF for i in range(16))


def q4_k_block() -> bytes:  # d, dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles
    return struct.pack("<ee", 0.5, 0.25) + bytes(range(1, 13)) + bytes((i * 29) & 0xFF for i in range(128))


def write_gguf() -> None:
    tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "Ġ", "h", "e", "l", "o", "he", "ll", "hell", "hello", "Ġhello"]
    common = [("general.architecture", STRING, "llama"), ("general.name", STRING, "fuzz seed"),
              ("general.alignment", U32, 32), ("llama.block_count", U32, 2), ("llama.context_length", U64, 2048),
              ("llama.rope.freq_base", F32, 10000.0), ("llama.attention.layer_norm_rms_epsilon", F64, 1e-5),
              ("llama.expert_used", BOOL, False), ("small.ints", ARRAY, (I16, [-3, 0, 7])),
              ("nested", ARRAY, (ARRAY, [(U8, [1, 2]), (I8, [-1])]))]
    gpt2 = common + [("tokenizer.ggml.model", STRING, "gpt2"), ("tokenizer.ggml.pre", STRING, "smollm"),
                     ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
                     ("tokenizer.ggml.token_type", ARRAY, (I32, [2, 3, 3, 3] + [1] * (len(tokens) - 4))),
                     ("tokenizer.ggml.merges", ARRAY, (STRING, ["h e", "l l", "he ll", "hell o", "Ġ hello"])),
                     ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2)]
    tensors = [("token_embd.weight", GGML_F32, [2, 4], struct.pack("<8f", *range(8))),
               ("output_norm.weight", GGML_F16, [4], struct.pack("<4e", 1, 2, 3, 4)),
               ("blk.0.attn_q.weight", GGML_Q8_0, [2, 32], q8_0_block(0.5) + q8_0_block(-0.25)),
               ("blk.0.attn_k.weight", GGML_Q4_0, [1, 32], q4_0_block(0.125)),
               ("blk.0.ffn_down.weight", GGML_Q4_K, [1, 256], q4_k_block()),
               ("blk.1.attn_norm.weight", GGML_BF16, [4], bytes.fromhex("803f0040c0bf0000"))]
    write(SEEDS / "gguf/gpt2_vocab_six_types.gguf", gguf(gpt2, tensors))

    spm_tokens = ["<unk>", "<s>", "</s>", "<0x41>", "▁", "a", "b", "▁a", "ab", "▁ab"]
    llama = [("general.architecture", STRING, "llama"), ("tokenizer.ggml.model", STRING, "llama"),
             ("tokenizer.ggml.tokens", ARRAY, (STRING, spm_tokens)),
             ("tokenizer.ggml.scores", ARRAY, (F32, [0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0])),
             ("tokenizer.ggml.token_type", ARRAY, (I32, [2, 3, 3, 6, 1, 1, 1, 1, 1, 1])),
             ("tokenizer.ggml.unknown_token_id", U32, 0), ("tokenizer.ggml.add_space_prefix", BOOL, True)]
    write(SEEDS / "gguf/spm_vocab.gguf",
          gguf(llama, [("output.weight", GGML_F32, [3], struct.pack("<3f", 1, 2, 3))], alignment=64))


# ---- tokenizer.json ---------------------------------------------------------

def added(token_id: int, content: str, special: bool = True) -> dict:
    return {"id": token_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": not special, "special": special}


def write_tokenizers() -> None:
    # SentencePiece-style BPE with byte fallback (Gemma's shape).
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    vocab = {t: i for i, t in enumerate(specials)}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece in ["▁", "t", "h", "e", "a", "l", "o", "▁t", "he", "▁the", "ll", "▁hello", "▁he", "llo"]:
        vocab.setdefault(piece, len(vocab))
    spm_like = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(i, t) for i, t in enumerate(specials)],
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                          "invert": False},
        "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab,
                  "merges": [["▁", "t"], ["h", "e"], ["▁t", "he"], ["l", "l"], ["▁", "he"], ["ll", "o"],
                             ["▁he", "llo"]]},
    }
    write(SEEDS / "tokenizer_json/spm_byte_fallback.json", json.dumps(spm_like, ensure_ascii=False).encode())

    # Byte-level BPE (GPT-2 / SmolLM2's shape): every byte is a token.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    byte_chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            byte_chars[b] = chr(b)
        else:
            byte_chars[b] = chr(256 + extra)
            extra += 1
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {t: i for i, t in enumerate(specials)}
    for b in range(256):
        vocab[byte_chars[b]] = len(vocab)
    merges = [["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["l", "l"], ["Ġ", "w"], ["o", "r"], ["Ġw", "or"], ["1", "2"]]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    byte_level = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(i, t) for i, t in enumerate(specials)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [" ".join(m) for m in merges]},
    }
    write(SEEDS / "tokenizer_json/byte_level_bpe.json", json.dumps(byte_level, ensure_ascii=False).encode())


if __name__ == "__main__":
    write_safetensors()
    write_gguf()
    write_tokenizers()
