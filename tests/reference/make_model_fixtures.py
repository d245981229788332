#!/usr/bin/env python3
"""Reference logits, hidden states and greedy continuations from HF transformers (fp32, CPU, eager
attention) for tests/model/reference_logits_test.cpp (issue 3, spec/model-runtime.md §7).

For each model it writes
  tests/fixtures/reference/<name>.safetensors   logits [N, V] and hidden_states [N, L+1, d], float32,
                                                both at the last prompt position (HF convention:
                                                entry 0 = embeddings, entry L = after the final norm)
  tests/fixtures/reference/<name>.json          per prompt: the rendered text, the token ids the
                                                reference ran on (the C++ test feeds these ids),
                                                and the 32-token greedy continuation; versions.

Models:
  gemma3-270m   models/gemma-3-270m-q4_k_m.gguf     (transformers dequantizes GGUF to fp32 and undoes
  smollm2-135m  models/SmolLM2-135M-Instruct.Q4_1.gguf  the converter: Gemma norms -1, Llama Q/K permute)
  tiny-<family> the folder `abliterate make-tiny-model [--family F] DIR` writes (deterministic, so the
                C++ test regenerates it and compares against the fixture)
  smollm2-135m-refusal  the SmolLM2 GGUF with the refusal LoRA of tools/refusal-tune/smollm2-refusal,
                loaded by PEFT (PeftModel.from_pretrained) and merged (merge_and_unload), issue 10

Each prompt runs alone (batch 1, no padding). Greedy continuations never stop at eos: exactly 32
argmax tokens with the KV cache, as generate(do_sample=False) computes them.

Run offline from the repository root with the shared reference venv:
  /work/venv-ref/bin/python tests/reference/make_model_fixtures.py --abliterate build-refs/abliterate [NAMES...]
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
from importlib.metadata import version

import tokenizers
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS_DIR = ROOT / "models"
TEMPLATES = ROOT / "tests" / "fixtures" / "chat_templates"
OUTPUT = ROOT / "tests" / "fixtures" / "reference"
PROMPTS = ROOT / "jobs" / "data"  # the project's own prompts (jobs/data/README.md): free to commit
N_NEW_TOKENS = 32

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_tokenizer_fixtures as tokref  # noqa: E402  (the tokenizer references, shared)

GGUF_MODELS = {
    "gemma3-270m": ("gemma-3-270m-q4_k_m.gguf", "gemma3.jinja"),  # base model: no template in the GGUF
    "smollm2-135m": ("SmolLM2-135M-Instruct.Q4_1.gguf", None),      # ChatML template from the GGUF
}
# GGUF models with a PEFT LoRA adapter merged: name -> (GGUF fixture name, adapter folder).
ADAPTED_MODELS = {
    "smollm2-135m-refusal": ("smollm2-135m", ROOT / "tools" / "refusal-tune" / "smollm2-refusal"),
}
TINY_FAMILIES = {  # fixture name -> --family value (None: the default, gemma3)
    "tiny-gemma3": None,
    "tiny-llama": "llama",
    "tiny-qwen2": "qwen2",
    "tiny-qwen3": "qwen3",
    "tiny-mistral": "mistral",
}


def read_jsonl(path, count):
    lines = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[:count]


def long_request(n_questions):
    """A chat request longer than the sliding window: 60 questions make about 700 tokens with the real
    vocabularies (Gemma 3's window is 512); the tiny models' small vocabulary needs fewer (window 8)."""
    questions = read_jsonl(PROMPTS / "harmless" / "train.jsonl", n_questions)
    body = "\n".join(f"{i + 1}. {q}" for i, q in enumerate(questions))
    return "Here is a numbered list of questions people asked a help desk.\n\n" + body + \
        "\n\nWhich of these questions is the most difficult to answer, and why?"


def conversations(n_long_questions):
    """(kind, payload): 'chat' payloads are message lists, 'plain' payloads are raw text."""
    harmless = read_jsonl(PROMPTS / "harmless" / "test.jsonl", 3)
    harmful = read_jsonl(PROMPTS / "harmful" / "test.jsonl", 1)
    return [
        ("chat", [{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": harmless[0]}]),
        ("chat", [{"role": "user", "content": harmful[0]}]),
        ("chat", [{"role": "user", "content": harmless[1]}]),
        ("chat", [{"role": "user", "content": "What is the capital of France?"},
                  {"role": "assistant", "content": "The capital of France is Paris."},
                  {"role": "user", "content": "And of Italy? Answer in one word."}]),
        ("chat", [{"role": "user", "content": long_request(n_long_questions)}]),
        ("plain", "The capital of France is"),
        ("plain", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
        ("plain", "日本語の文章と English text, mixed: 1, 2, 3, 5, 8, 13, 21,"),
    ]  # 8 prompts: Gemma's 262144 logits make 8 MB of fixture


def render(tokenizer, template, kind, payload):
    """The exact text the C++ side tokenizes with specials parsed and no BOS added."""
    if kind == "chat":
        return tokenizer.apply_chat_template(payload, chat_template=template, tokenize=False,
                                             add_generation_prompt=True)
    # Plain prompts start with BOS where the model's tokenizer adds one (Gemma: <bos>; SmolLM2: none).
    bos = tokenizer.bos_token if getattr(tokenizer, "add_bos_token", False) and tokenizer.bos_token else ""
    return bos + payload


@torch.inference_mode()
def run_prompt(model, ids):
    input_ids = torch.tensor([ids], dtype=torch.long)
    out = model(input_ids=input_ids, use_cache=True, output_hidden_states=True)
    logits = out.logits[0, -1].float().clone()
    hidden = torch.stack([h[0, -1] for h in out.hidden_states]).float().clone()  # [L+1, d]
    # Greedy continuation: argmax (ties to the lowest id, as torch.argmax), never stopping at eos.
    past = out.cache
    next_id = int(torch.argmax(out.logits[0, -1]))
    continuation = [next_id]
    total = len(ids)
    while len(continuation) < N_NEW_TOKENS:
        step = model(input_ids=torch.tensor([[next_id]]), cache=past, use_cache=True,
                     cache_position=torch.tensor([total]))
        total += 1
        past = step.cache
        next_id = int(torch.argmax(step.logits[0, -1]))
        continuation.append(next_id)
    return logits, hidden, continuation


def check_against_generate(model, ids, continuation):
    """generate(do_sample=False) must give the same tokens up to its first stop token."""
    eos = model.generation_config.eos_token_id
    out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         max_new_tokens=N_NEW_TOKENS, do_sample=False, pad_token_id=eos if isinstance(eos, int) else (eos or [0])[0])
    generated = out[0, len(ids):].tolist()
    assert continuation[:len(generated)] == generated, (continuation, generated)


class ReferenceTokenizer:
    """Token ids as the original model's tokenizer gives them, specials in the text parsed, no BOS added.

    transformers' tokenizer built from a GGUF is not always the model's own: for SmolLM2 (pre "smollm") it
    keeps GPT-2's regex without the individual-digit split of SmolLM2's tokenizer.json, and for Gemma it
    orders merges by file position instead of piece score. So the GGUF models use the references of
    make_tokenizer_fixtures.py (the tokenizers library shaped as SmolLM2's tokenizer.json; sentencepiece
    with Gemma's pieces and scores, control tokens split out first as tokenizers' added tokens are);
    the tiny models use their own tokenizer.json. Each prompt also records whether transformers' GGUF
    tokenizer agrees."""

    def __init__(self, name, model_dir, gguf_file):
        self.hf = AutoTokenizer.from_pretrained(model_dir, **({"gguf_file": gguf_file} if gguf_file else {}))
        self.kind = "transformers"
        if gguf_file and name.startswith("smollm2"):
            vocab = tokref.read_vocab(model_dir / gguf_file)
            self.bpe = tokref.build_hf_tokenizer(vocab)
            self.kind = f"tokenizers {tokenizers.__version__} (SmolLM2 tokenizer.json shape)"
        elif gguf_file and name.startswith("gemma3"):
            vocab = tokref.read_spm_vocab(model_dir / gguf_file)
            self.spm = tokref.SpmWithControlTokens(vocab, tokref.build_sentencepiece(vocab))
            self.kind = f"sentencepiece {version('sentencepiece')} (Gemma pieces and scores from the GGUF)"
        elif not gguf_file:
            # The folder's own tokenizer.json: AutoTokenizer picks Qwen2Tokenizer for a qwen2 folder,
            # which pre-tokenizes differently from the file.
            self.bpe = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            self.kind = f"tokenizers {tokenizers.__version__} (the folder's tokenizer.json)"

    def encode(self, text):
        if hasattr(self, "bpe"):
            self.bpe.encode_special_tokens = False
            return self.bpe.encode(text, add_special_tokens=False).ids
        if hasattr(self, "spm"):
            return self.spm(text)
        return self.hf(text, add_special_tokens=False)["input_ids"]

    def transformers_agrees(self, text, ids):
        return self.hf(text, add_special_tokens=False)["input_ids"] == ids


def make_fixture(name, model_dir, gguf_file, template, n_long_questions, adapter=None):
    torch.manual_seed(0)
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    reference_tokenizer = ReferenceTokenizer(name, model_dir, gguf_file)
    tokenizer = reference_tokenizer.hf
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 attn_implementation="eager", **kwargs)
    if adapter is not None:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.eval()
    if template is None:
        template = tokenizer.chat_template
    assert template, f"{name}: no chat template"
    prompts, all_logits, all_hidden = [], [], []
    for index, (kind, payload) in enumerate(conversations(n_long_questions)):
        text = render(tokenizer, template, kind, payload)
        ids = reference_tokenizer.encode(text)
        logits, hidden, continuation = run_prompt(model, ids)
        if index < 3:  # the manual loop is generate's greedy search (checked on a few: it doubles the time)
            check_against_generate(model, ids, continuation)
        all_logits.append(logits)
        all_hidden.append(hidden)
        prompts.append({"kind": kind, "text": text, "ids": ids,
                        "transformers_gguf_tokenizer_agrees": reference_tokenizer.transformers_agrees(text, ids),
                        "continuation": continuation,
                        "continuation_text": tokenizer.decode(continuation)})
        print(f"{name}: {kind} prompt of {len(ids)} tokens -> {tokenizer.decode(continuation)!r}", flush=True)
    cfg = model.config
    eos = model.generation_config.eos_token_id
    document = {
        "made_by": "tests/reference/make_model_fixtures.py",
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "transformers": version("transformers"), "gguf": version("gguf"),
                     "tokenizers": version("tokenizers"), "safetensors": version("safetensors")},
        "source": gguf_file or "abliterate make-tiny-model",
        **({"adapter": str(adapter.relative_to(ROOT)), "merged_by": f"peft {version('peft')} merge_and_unload"}
           if adapter is not None else {}),
        "tokenized_by": reference_tokenizer.kind,
        "model_type": cfg.model_type,
        "attn_implementation": "eager",
        "dtype": "float32",
        "n_layers": cfg.num_hidden_layers,
        "hidden_size": cfg.hidden_size,
        "vocab_size": int(all_logits[0].numel()),
        "eos_token_ids": eos if isinstance(eos, list) else ([eos] if eos is not None else []),
        "n_new_tokens": N_NEW_TOKENS,
        "tensors": {"logits": "float32 [N, V] at the last prompt position",
                    "hidden_states": "float32 [N, L+1, d] at the last prompt position (HF output_hidden_states)"},
        "prompts": prompts,
    }
    OUTPUT.mkdir(parents=True, exist_ok=True)
    save_file({"logits": torch.stack(all_logits).contiguous(), "hidden_states": torch.stack(all_hidden).contiguous()},
              str(OUTPUT / f"{name}.safetensors"), metadata={"made_by": document["made_by"]})
    (OUTPUT / f"{name}.json").write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    size = (OUTPUT / f"{name}.safetensors").stat().st_size
    print(f"{name}: {len(prompts)} prompts, {size / 1e6:.1f} MB", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--abliterate", type=pathlib.Path, help="the abliterate binary (for the tiny models)")
    parser.add_argument("names", nargs="*", help="fixtures to make (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machine is shared: OpenMP threads spinning on busy cores crawl
    names = args.names or list(GGUF_MODELS) + list(ADAPTED_MODELS) + list(TINY_FAMILIES)
    for name in names:
        if name in GGUF_MODELS:
            gguf_file, template_file = GGUF_MODELS[name]
            template = (TEMPLATES / template_file).read_text(encoding="utf-8") if template_file else None
            make_fixture(name, MODELS_DIR, gguf_file, template, 60)
        elif name in ADAPTED_MODELS:
            base, adapter = ADAPTED_MODELS[name]
            gguf_file, template_file = GGUF_MODELS[base]
            template = (TEMPLATES / template_file).read_text(encoding="utf-8") if template_file else None
            make_fixture(name, MODELS_DIR, gguf_file, template, 60, adapter)
        elif name in TINY_FAMILIES:
            family = TINY_FAMILIES[name]
            with tempfile.TemporaryDirectory() as tmp:
                folder = pathlib.Path(tmp) / name
                command = [str(args.abliterate), "make-tiny-model", str(folder)]
                if family:
                    command += ["--family", family]
                subprocess.run(command, check=True)
                template = (folder / "chat_template.jinja").read_text(encoding="utf-8")  # the family's own
                make_fixture(name, folder, None, template, 12)
        else:
            sys.exit(f"unknown fixture {name}")


if __name__ == "__main__":
    main()
