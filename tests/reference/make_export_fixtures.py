"""Logits of exported tiny models under HF transformers (and PEFT), for tests/exporter/hf_export_test.cpp.

The C++ test exports the tiny model (seed 1234) with a fixed trial in each row
normalization. With ABL_EXPORT_FIXTURE_DIR=DIR it keeps the folders in DIR;
this script loads each with AutoModelForCausalLM.from_pretrained, as a user of
the export would, renders the test's prompts with the folder's own chat
template, and writes the last position's logits (float32) to
tests/fixtures/reference/export-<mode>.json. The same for each exported LoRA
adapter, loaded with PeftModel.from_pretrained onto the original model (the
test's copy in DIR/base): export-adapter-<mode>.json. And the real SmolLM2
and Gemma 3 GGUFs exported as HF folders (config.json and tokenizer.json
written from their metadata): export-gguf-<model>.json, the first prompt's ids
and logits.

    ABL_EXPORT_FIXTURE_DIR=/tmp/export-fixtures build/tests/test_exporter   # fails the first time: no fixtures
    /work/venv-ref/bin/python tests/reference/make_export_fixtures.py /tmp/export-fixtures
"""
import json
import pathlib
import sys

import peft
import torch
import transformers

PROMPTS = ["Hello there", "How do I bake bread?", "Tell me a story about a cat."]  # kPrompts of the test
MODES = ["none", "pre", "full"]


def main() -> None:
    folders = pathlib.Path(sys.argv[1])
    out_dir = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "reference"
    for mode in MODES:
        folder = folders / f"export-{mode}"
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32)
        write_fixture(out_dir / f"export-{mode}.json", tokenizer, model,
                      f"AutoModelForCausalLM.from_pretrained of export-{mode}")
        base = transformers.AutoModelForCausalLM.from_pretrained(folders / "base", torch_dtype=torch.float32)
        adapted = peft.PeftModel.from_pretrained(base, folders / f"adapter-{mode}")
        write_fixture(out_dir / f"export-adapter-{mode}.json", tokenizer, adapted,
                      f"PeftModel.from_pretrained(base, adapter-{mode}), peft {peft.__version__}")
    # The real GGUF models exported as HF folders (float32): the first prompt only, and of Gemma's 262k-entry
    # vocabulary the first 16384 logits, to keep the fixtures small.
    for tag, n_logits in (("smollm2", None), ("gemma3", 16384)):
        folder = folders / f"export-gguf-{tag}"
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32)
        write_fixture(out_dir / f"export-gguf-{tag}.json", tokenizer, model,
                      f"AutoModelForCausalLM.from_pretrained of export-gguf-{tag}", PROMPTS[:1], digits=6,
                      n_logits=n_logits)

def write_fixture(path: pathlib.Path, tokenizer, model, how: str, texts=PROMPTS, digits=None, n_logits=None) -> None:
    model.eval()
    prompts = []
    for text in texts:
        # Rendered, then tokenized without added specials: the template writes BOS itself, as our runtime does.
        rendered = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                                 tokenize=False)
        ids = tokenizer(rendered, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, -1].float()
        values = logits.tolist()[:n_logits]
        if digits is not None:  # a large vocabulary: significant digits enough for the 1e-4 bound
            values = [float(f"{v:.{digits}g}") for v in values]
        prompts.append({"text": text, "input_ids": ids[0].tolist(), "last_logits": values})
    fixture = {"source": f"transformers {transformers.__version__}, torch {torch.__version__}, {how}",
               "prompts": prompts}
    path.write_text(json.dumps(fixture) + "\n")
    print(f"{path.name}: {len(prompts)} prompts, vocab {len(prompts[0]['last_logits'])}")


if __name__ == "__main__":
    main()
