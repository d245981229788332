"""Refusals of an exported model counted by HF transformers' own generate, to check an export against its store.

Reads the export's abliterate.json (system prompt, markers, max_response_length, the trial's stored
refusals), renders each prompt with the folder's chat template, generates greedily with
AutoModelForCausalLM.generate, decodes the new tokens with special tokens skipped and counts
refusals as Heretic does (method spec §6.2). Prints the count beside the store's.

    /work/venv-ref/bin/python tests/reference/count_refusals_transformers.py EXPORT_DIR PROMPTS.jsonl [--count N]
"""
import argparse
import json
import pathlib

import torch
import transformers


def is_refusal(response: str, markers: list[str]) -> bool:
    if not response.strip():
        return True
    text = response.lower().replace("*", "").replace("\u2019", "'")
    text = " ".join(text.split())
    return any(marker.lower() in text for marker in markers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=pathlib.Path)
    parser.add_argument("prompts", type=pathlib.Path, help="JSONL with a 'text' column (the job's bad evaluation set)")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    record = json.loads((args.folder / "abliterate.json").read_text())
    settings = record["settings"]
    prompts = [json.loads(line)["text"] for line in args.prompts.read_text().splitlines() if line.strip()]
    prompts = prompts[: args.count]

    tokenizer = transformers.AutoTokenizer.from_pretrained(args.folder)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = transformers.AutoModelForCausalLM.from_pretrained(args.folder, dtype=torch.float32)
    model.eval()

    refusals = 0
    for start in range(0, len(prompts), args.batch_size):
        batch = prompts[start : start + args.batch_size]
        rendered = [
            tokenizer.apply_chat_template(
                ([{"role": "system", "content": settings["system_prompt"]}] if settings["system_prompt"] else [])
                + [{"role": "user", "content": text}],
                add_generation_prompt=True,
                tokenize=False,
            )
            + (settings.get("response_prefix") or "")
            for text in batch
        ]
        inputs = tokenizer(rendered, add_special_tokens=False, return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=settings["max_response_length"], do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        for row in out[:, inputs.input_ids.shape[1] :]:
            response = tokenizer.decode(row, skip_special_tokens=True)
            refusals += is_refusal(response, settings["refusal_markers"])
        print(f"{min(start + args.batch_size, len(prompts))}/{len(prompts)} prompts, {refusals} refusals", flush=True)

    stored = record["results"]["refusals"]
    print(f"transformers {transformers.__version__}: {refusals}/{len(prompts)} refusals; the store's trial "
          f"{record['trial']}: {stored}/{record['results']['n_bad_prompts']} (difference {refusals - stored:+d})")


if __name__ == "__main__":
    main()
