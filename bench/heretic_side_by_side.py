#!/usr/bin/env python3
"""Helper of bench/heretic_side_by_side.sh: Heretic 1.4 next to abliterate.

  heretic_side_by_side.py prepare-model --kind smollm2-refusal|gemma3 --root REPO --out DIR
  heretic_side_by_side.py write-config --out config.toml [sizes and settings, see --help]
  heretic_side_by_side.py heretic --model DIR [--enqueue-from JOURNAL]     (in the folder of config.toml)
  heretic_side_by_side.py enqueue-yaml JOURNAL
  heretic_side_by_side.py report SUMMARY.json

prepare-model writes the model as an HF folder for Heretic: transformers
dequantizes the GGUF file to float32, PEFT merges the project's refusal LoRA
(smollm2-refusal) in float32, and the tokenizer comes from the same GGUF file.
The folder gets the chat template abliterate uses for that file (the file's
own; for a GGUF without one, such as the Gemma 3 270M base model, abliterate's
built-in one, read from include/abliterate/chat/builtin_chat_templates.hpp)
and, as generation stop ids, the ones abliterate stops on: the file's EOS plus
the end-of-turn tokens its vocabulary has (src/model/model.cpp).

heretic runs Heretic 1.4 headless: its run() is called as the `heretic`
command would call it, with the one interactive question it asks after the
study ("Which trial do you want to use?") answered "exit", so it returns after
the study; any other question fails the run (a fresh checkpoint folder is
expected). --enqueue-from enqueues the first trial of another Heretic journal
(Optuna's enqueue_trial, through a wrapped optuna.create_study): Heretic 1.4
has no setting for that.

enqueue-yaml prints a journal's first trial as abliterate's `enqueue_trials`
entry (the form Heretic prints, min_weight absolute), with full precision.
"""
import argparse
import json
import math
import os
import re
import sqlite3
import sys
from datetime import datetime

MODELS = {
    "smollm2-refusal": ("models/SmolLM2-135M-Instruct.Q4_1.gguf", "tools/refusal-tune/smollm2-refusal"),
    "gemma3": ("models/gemma-3-270m-q4_k_m.gguf", None),
}

# abliterate's generation stops on the model's EOS ids plus these texts when the
# vocabulary has them (kEndOfTurnTokens, src/model/model.cpp; llama.cpp's list).
END_OF_TURN_TOKENS = ["<end_of_turn>", "<|eot_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>", "<|end_of_text|>",
                      "<EOT>", "<|eom_id|>"]


def log(message):
    print(f"[sbs-py] {message}", flush=True)


# ---------------------------------------------------------------------------
# prepare-model


def builtin_template(root, name):
    path = os.path.join(root, "include/abliterate/chat/builtin_chat_templates.hpp")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"inline constexpr std::string_view " + name + r' = R"TEMPLATE\((.*?)\)TEMPLATE";', text, re.S)
    if not match:
        raise SystemExit(f"{path}: no {name}")
    return match.group(1)


def prepare_model(args):
    import torch
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_rel, adapter_rel = MODELS[args.kind]
    gguf_path = os.path.join(args.root, gguf_rel)
    adapter = os.path.join(args.root, adapter_rel) if adapter_rel else None
    stamp = {"gguf": gguf_path, "gguf_size": os.path.getsize(gguf_path), "gguf_mtime": os.path.getmtime(gguf_path),
             "adapter": adapter, "version": 2}
    if adapter:
        weights = os.path.join(adapter, "adapter_model.safetensors")
        stamp.update(adapter_size=os.path.getsize(weights), adapter_mtime=os.path.getmtime(weights))
    stamp_file = os.path.join(args.out, "sbs-source.json")
    if os.path.exists(stamp_file):
        with open(stamp_file) as f:
            if json.load(f) == stamp:
                log(f"{args.out}: up to date, reused")
                return
    tmp = args.out + ".partial"
    if os.path.exists(tmp):
        import shutil
        shutil.rmtree(tmp)

    folder, name = os.path.split(os.path.abspath(gguf_path))
    log(f"dequantizing {gguf_path} to float32 with transformers")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    if adapter:
        from peft import PeftModel
        log(f"merging the LoRA adapter {adapter} in float32 with PEFT")
        model = PeftModel.from_pretrained(model, adapter, torch_dtype=torch.float32).merge_and_unload()
    assert all(p.dtype == torch.float32 for p in model.parameters()), "a parameter is not float32"

    reader = GGUFReader(gguf_path)
    field = reader.fields.get("tokenizer.chat_template")
    if field is not None:
        template = field.contents()
        source = "the GGUF file's tokenizer.chat_template"
    else:
        arch = reader.fields["general.architecture"].contents()
        template = builtin_template(args.root, "kGemma3ChatTemplate" if arch == "gemma3" else "kChatMlChatTemplate")
        source = f"abliterate's built-in template for {arch} (the GGUF file has none)"
    if tokenizer.chat_template != template:
        log(f"chat template set to {source} (transformers' GGUF tokenizer had "
            f"{'another one' if tokenizer.chat_template else 'none'})")
    else:
        log(f"chat template: {source}, as transformers read it")
    tokenizer.chat_template = template

    # Heretic renders the template as text and tokenizes it with the tokenizer's
    # special tokens on: where the template writes BOS and the tokenizer adds
    # one too (Gemma), Heretic's prompts start with two. abliterate encodes the
    # rendered text without adding any (HF apply_chat_template's way; spec
    # model-runtime §2), so the folder's tokenizer must not add BOS either.
    sample = tokenizer.apply_chat_template([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
                                           add_generation_prompt=True, tokenize=False)
    bos = tokenizer.bos_token_id
    ids = tokenizer(sample)["input_ids"]
    if bos is not None and ids[:2] == [bos, bos]:
        tokenizer.add_bos_token = False
        ids = tokenizer(sample)["input_ids"]
        assert ids[:2] != [bos, bos], "could not turn off the tokenizer's automatic BOS"
        log("the tokenizer's automatic BOS turned off: the chat template writes BOS itself (Heretic would "
            "otherwise see two, abliterate one)")

    eos = model.generation_config.eos_token_id
    stop_ids = list(eos) if isinstance(eos, (list, tuple)) else ([eos] if eos is not None else [])
    vocab = tokenizer.get_vocab()
    for text in END_OF_TURN_TOKENS:
        if text in vocab and vocab[text] not in stop_ids:
            stop_ids.append(vocab[text])
    model.generation_config.eos_token_id = stop_ids
    log(f"generation stop ids: {stop_ids} ({', '.join(tokenizer.convert_ids_to_tokens(stop_ids))}), as abliterate's")

    # The GGUF loader leaves a (dequantizing, not serializable) quantizer on the
    # model; the weights are plain float32 tensors by now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    with open(os.path.join(tmp, "sbs-source.json"), "w") as f:
        json.dump(stamp, f)
    if os.path.exists(args.out):
        import shutil
        shutil.rmtree(args.out)
    os.rename(tmp, args.out)
    log(f"wrote {args.out}")


# ---------------------------------------------------------------------------
# write-config


def toml_string(text):
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def write_config(args):
    from heretic.config import Settings

    fields = Settings.model_fields
    markers = fields["refusal_markers"].default
    system_prompt = fields["system_prompt"].default
    lines = [
        "# Written by bench/heretic_side_by_side.py: Heretic 1.4's config.toml, which",
        "# `abliterate convert-config` turns into the job of the same study.",
        f'dtypes = ["{args.dtype}"]',
        'device_map = "cpu"',
        f"batch_size = {args.batch_size}",
        f"max_response_length = {args.max_response_length}",
        f"n_trials = {args.n_trials}",
        f"n_startup_trials = {args.n_startup_trials}",
        f"seed = {args.seed}",
        f"kl_divergence_scale = {fields['kl_divergence_scale'].default}",
        f"kl_divergence_target = {fields['kl_divergence_target'].default}",
        f"orthogonalize_direction = {'true' if args.orthogonalize_direction else 'false'}",
        f"row_normalization = {toml_string(args.row_normalization)}",
        f"full_normalization_lora_rank = {fields['full_normalization_lora_rank'].default}",
        f"winsorization_quantile = {fields['winsorization_quantile'].default}",
        'study_checkpoint_dir = "checkpoints"',
        f"system_prompt = {toml_string(system_prompt)}",
        "refusal_markers = [" + ", ".join(toml_string(m) for m in markers) + "]",
    ]
    sets = [
        ("good_prompts", args.good, f"train[:{args.n_direction}]"),
        ("bad_prompts", args.bad, f"train[:{args.n_direction}]"),
        ("good_evaluation_prompts", args.good, f"test[:{args.n_evaluation}]"),
        ("bad_evaluation_prompts", args.bad, f"test[:{args.n_evaluation}]"),
    ]
    for name, dataset, split in sets:
        lines += ["", f"[{name}]", f"dataset = {toml_string(os.path.abspath(dataset))}", f"split = {toml_string(split)}",
                  'column = "text"']
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------
# heretic


def first_trial(journal):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="heretic", storage=JournalStorage(JournalFileBackend(journal)))
    trials = sorted(study.trials, key=lambda t: t.number)
    if not trials:
        raise SystemExit(f"{journal}: no trials")
    return trials[0]


def run_heretic(args):
    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    import optuna
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    import heretic.main as heretic_main

    def answer(message, choices):
        if message.startswith("Which trial do you want to use?"):
            log("Heretic asks which trial to use: answered exit (headless)")
            return None
        raise SystemExit(f"Heretic asked an unexpected question (not headless): {message!r}")

    heretic_main.prompt_select = answer

    if args.enqueue_from:
        params = first_trial(args.enqueue_from).params
        log(f"enqueueing trial 0 of {args.enqueue_from} in Heretic: {params}")
        create_study = optuna.create_study

        # Enqueued when the study starts, not when it is created: Heretic counts
        # the trials already in the study (a waiting one too) as done.
        def create_and_enqueue(*a, **k):
            study = create_study(*a, **k)
            optimize = study.optimize

            def enqueue_and_optimize(*oa, **ok):
                study.enqueue_trial(params)
                return optimize(*oa, **ok)

            study.optimize = enqueue_and_optimize
            return study

        heretic_main.optuna.create_study = create_and_enqueue

    sys.argv = ["heretic", "--model", args.model]
    heretic_main.main()

    # Heretic returns normally after a configuration error or an interrupted
    # study too: check that its journal holds the trials config.toml asks for.
    import glob
    import tomllib
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    with open("config.toml", "rb") as f:
        config = tomllib.load(f)
    want = config.get("n_trials", 200)
    journals = glob.glob(os.path.join(config.get("study_checkpoint_dir", "checkpoints"), "*.jsonl"))
    if len(journals) != 1:
        raise SystemExit(f"Heretic left {len(journals)} journals in checkpoints/, expected one")
    study = optuna.load_study(study_name="heretic", storage=JournalStorage(JournalFileBackend(journals[0])))
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if done != want:
        raise SystemExit(f"Heretic completed {done} of {want} trials (journal {journals[0]})")
    log(f"Heretic completed {done} trials; journal {journals[0]}")


def enqueue_yaml(args):
    trial = first_trial(args.journal)
    index = trial.user_attrs["direction_index"]
    entry = {"direction_index": "per layer" if index is None else float(index)}
    for component, values in sorted(trial.user_attrs["parameters"].items()):
        for key in ["max_weight", "max_weight_position", "min_weight", "min_weight_distance"]:
            entry[f"{component}.{key}"] = float(values[key])
    print("enqueue_trials:")
    print("  - " + json.dumps(entry))  # a JSON object is YAML flow; repr floats round-trip


# ---------------------------------------------------------------------------
# report


def parse_time(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def heretic_trials(journal):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="heretic", storage=JournalStorage(JournalFileBackend(journal)))
    rows = []
    for t in sorted(study.trials, key=lambda t: t.number):
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        rows.append({"number": t.number, "state": t.state.name, "seconds": seconds, "start": t.datetime_start,
                     "complete": t.datetime_complete, "kl": t.user_attrs.get("kl_divergence"),
                     "refusals": t.user_attrs.get("refusals"), "r0": t.user_attrs.get("base_refusals"),
                     "n_bad": t.user_attrs.get("n_bad_prompts")})
    return rows


def ours_trials(store):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = []
    for trial_id, number, state, start, complete in db.execute(
            "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials ORDER BY number"):
        attrs = {k: json.loads(v) for k, v in db.execute(
            "SELECT key, value_json FROM trial_user_attributes WHERE trial_id=?", (trial_id,))}
        start, complete = parse_time(start), parse_time(complete)
        rows.append({"number": number, "state": state, "start": start, "complete": complete,
                     "seconds": (complete - start).total_seconds() if complete and start else None,
                     "kl": attrs.get("kl_divergence"), "refusals": attrs.get("refusals"),
                     "r0": attrs.get("base_refusals"), "n_bad": attrs.get("n_bad_prompts")})
    return rows


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def fmt(value, spec):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def report(args):
    with open(args.summary) as f:
        s = json.load(f)
    h_rows = heretic_trials(s["heretic_journal"])
    o_rows = ours_trials(s["ours_store"])
    h_done = [r for r in h_rows if r["state"] == "COMPLETE"]
    o_done = [r for r in o_rows if r["state"] == "COMPLETE"]
    if not h_done or not o_done:
        raise SystemExit(f"no complete trials (Heretic {len(h_done)}, abliterate {len(o_done)})")

    def side(rows, wall):
        first_start = min(r["start"] for r in rows)
        last_end = max(r["complete"] for r in rows)
        trial_span = (last_end - first_start).total_seconds()
        # Trials evaluated together (trials_per_worker k > 1) each span their
        # whole shared batch: their mean duration would count it k times, so
        # overlapping trials take the span's share instead.
        by_start = sorted(rows, key=lambda r: r["start"])
        overlap = any(b["start"] < a["complete"] for a, b in zip(by_start, by_start[1:]))
        per_trial = trial_span / len(rows) if overlap else mean([r["seconds"] for r in rows])
        return {"n": len(rows), "per_trial": per_trial, "wall": wall, "prep": wall - trial_span,
                "r0": rows[0]["r0"], "n_bad": rows[0]["n_bad"],
                "tph_whole": len(rows) * 3600.0 / wall, "tph_trial": 3600.0 / per_trial}

    h = side(h_done, s["heretic_wall"])
    o = side(o_done, s["ours_wall"])
    print()
    print(f"Heretic 1.4 vs abliterate on {s['model']}: CPU, {s.get('dtype', 'float32')}"
          + (f" (ours: {s['ours_extra']})" if s.get("ours_extra") else "") + f", threads Heretic {s['threads']} / abliterate "
          f"{s.get('ours_threads') or '?'}, batch {s['batch_size']}, {s['n_direction']}+{s['n_direction']} direction "
          f"prompts, {s['n_evaluation']}+{s['n_evaluation']} evaluation prompts, max_response_length "
          f"{s['max_response_length']}, seed {s['seed']}, row_normalization none, orthogonalize_direction false")
    header = f"{'':<36} {'Heretic 1.4':>12} {'abliterate':>12} {'ours faster':>12}"
    print(header)
    print("-" * len(header))

    def row(label, a, b, spec, speedup):
        print(f"{label:<36} {fmt(a, spec):>12} {fmt(b, spec):>12} {fmt(speedup, '.2f') + 'x' if speedup else '':>12}")

    row("complete trials", h["n"], o["n"], "d", None)
    row("seconds per trial (mean)", h["per_trial"], o["per_trial"], ".2f", h["per_trial"] / o["per_trial"])
    row("preparation, s (wall - trial span)", h["prep"], o["prep"], ".1f", h["prep"] / o["prep"] if o["prep"] > 0 else None)
    row("whole run, s (wall)", h["wall"], o["wall"], ".1f", h["wall"] / o["wall"])
    row("trials/hour, whole run incl. prep", h["tph_whole"], o["tph_whole"], ".1f", o["tph_whole"] / h["tph_whole"])
    row("trials/hour, per trial excl. prep", h["tph_trial"], o["tph_trial"], ".1f", o["tph_trial"] / h["tph_trial"])
    row("R0 (base refusals)", f"{h['r0']}/{h['n_bad']}", f"{o['r0']}/{o['n_bad']}", "", None)
    print("ours faster: Heretic's seconds / ours (rates: ours / Heretic's). Seconds per trial: datetime_complete - "
          "datetime_start of each COMPLETE trial (Heretic: its Optuna journal, checkpoints/*.jsonl; abliterate: the "
          "store's trials table; trials that overlap, k per batch, the span from the first start to the last end "
          "divided by their number). Wall: the whole command (process start to exit, model load and preparation "
          "included); preparation: wall minus the span from the first trial's start to the last one's end.")
    for i, (a, b) in enumerate(zip(h_done, o_done)):
        print(f"  trial {i}: Heretic {a['seconds']:7.2f} s, KL {a['kl']:.4f}, refusals {a['refusals']}/{a['n_bad']}; "
              f"abliterate {b['seconds']:7.2f} s, KL {b['kl']:.4f}, refusals {b['refusals']}/{b['n_bad']}")
    if s.get("weights_check"):
        print(f"Same weights and template: {s['weights_check']}")

    failed = False
    for fixed in s.get("fixed", []):
        hf = [r for r in heretic_trials(fixed["heretic_journal"]) if r["state"] == "COMPLETE"]
        of = [r for r in ours_trials(fixed["ours_store"]) if r["state"] == "COMPLETE"]
        if not hf or not of:
            print(f"\n{fixed['label']}: a side has no complete trial (Heretic {len(hf)}, abliterate {len(of)})")
            failed = True
            continue
        a, b = hf[0], of[0]
        dkl = b["kl"] - a["kl"]
        rel = dkl / a["kl"] if a["kl"] else float("nan")
        print()
        print(f"Fixed trial ({fixed['label']}), Heretic's first trial's parameters in both tools:")
        print(f"  {'':<12} {'Heretic 1.4':>12} {'abliterate':>12} {'difference':>22}")
        print(f"  {'KL':<12} {a['kl']:>12.6f} {b['kl']:>12.6f} {dkl:>+12.6f} ({rel * 100:+.2f} %)")
        print(f"  {'refusals':<12} {str(a['refusals']) + '/' + str(a['n_bad']):>12} "
              f"{str(b['refusals']) + '/' + str(b['n_bad']):>12} {b['refusals'] - a['refusals']:>+12d}")
        print(f"  {'R0':<12} {str(a['r0']):>12} {str(b['r0']):>12}")
        if fixed.get("expect_agreement"):
            ok = abs(b["refusals"] - a["refusals"]) <= 1 and abs(rel) <= 0.01
            print(f"  agreement (refusals within 1, KL within 1 %): {'yes' if ok else 'NO'}")
            failed |= not ok
        else:
            print("  (Heretic approximates full row normalization with a rank-"
                  f"{fixed.get('lora_rank', 3)} LoRA; abliterate's is exact)")
    if failed and s.get("strict", True):
        sys.exit(3)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare-model")
    p.add_argument("--kind", required=True, choices=sorted(MODELS))
    p.add_argument("--root", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("write-config")
    p.add_argument("--out", required=True)
    p.add_argument("--good", required=True, help="harmless dataset folder (train.jsonl, test.jsonl)")
    p.add_argument("--bad", required=True, help="harmful dataset folder")
    p.add_argument("--n-direction", type=int, default=400)
    p.add_argument("--n-evaluation", type=int, default=100)
    p.add_argument("--n-trials", type=int, default=3)
    p.add_argument("--n-startup-trials", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-response-length", type=int, default=100)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--row-normalization", default="none", choices=["none", "pre", "full"])
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--orthogonalize-direction", action="store_true")
    p = sub.add_parser("heretic")
    p.add_argument("--model", required=True)
    p.add_argument("--enqueue-from")
    p = sub.add_parser("enqueue-yaml")
    p.add_argument("journal")
    p = sub.add_parser("report")
    p.add_argument("summary")
    args = parser.parse_args()
    {"prepare-model": prepare_model, "write-config": write_config, "heretic": run_heretic,
     "enqueue-yaml": enqueue_yaml, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
