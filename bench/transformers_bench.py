#!/usr/bin/env python3
"""The runtime bench's measurements with HF transformers, and the side-by-side table.

  transformers_bench.py run --gguf MODEL.gguf --ids IDS.json [--threads 2] [--attn sdpa] [--dtype float32] [--json FILE]
  transformers_bench.py report OURS.jsonl THEIRS.jsonl

`run` replays the exact token ids that bench/runtime_bench wrote with --ids-out
(same prompts, same left padding, same batch sizes and new-token count) on the
same GGUF file, which transformers dequantizes to float32 as we do (then cast to --dtype); CPU,
torch.set_num_threads(--threads). What is counted matches runtime_bench:
  generate  B*N / wall time of model.generate(do_sample=False, max_new_tokens=N,
            min_new_tokens=N) (its prompt prefill included; min_new_tokens
            suppresses EOS, so no row stops early),
  decode    B*(N-1) / (generate time - prefill time of the same batch),
  prefill   non-pad prompt tokens / wall time of one forward (use_cache=False,
            logits_to_keep=1: logits at the last position only, as ours).
Each time is the minimum over the repeats runtime_bench used, after a warm-up.
It also reports whether both sides chose the same tokens (they may part where
one side's EOS was suppressed or float rounding flips a near tie).

`report` prints both sides' rows with the ratio ours / transformers of tokens per
wall second, and the ratio of process CPU seconds (transformers / ours), which on
a shared machine depends less on what else runs.
"""
import argparse
import json
import os
import sys
import time


def min_seconds(repeats, run):
    """Minimum wall time and minimum process CPU time (all threads) of `repeats` calls, in seconds."""
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        run()
        best_cpu = min(best_cpu, time.process_time() - cpu_start)
        best_wall = min(best_wall, time.perf_counter() - start)
    return best_wall, best_cpu


def common_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def run(args):
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    torch.set_num_threads(args.threads)
    with open(args.ids) as f:
        doc = json.load(f)
    n_new = doc["new_tokens"]
    repeats = doc["repeats"]
    pad_id = doc["pad_token_id"]
    model_name = os.path.basename(args.gguf)

    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(args.gguf)), gguf_file=model_name,
                                                 dtype=getattr(torch, args.dtype), attn_implementation=args.attn)
    model.eval()
    load_seconds = time.perf_counter() - start
    eos = model.generation_config.eos_token_id
    greedy = GenerationConfig(do_sample=False, max_new_tokens=n_new, min_new_tokens=n_new, pad_token_id=pad_id,
                              eos_token_id=eos)
    print(f"transformers_bench: {model_name}, transformers {__import__('transformers').__version__}, "
          f"torch {torch.__version__}, {args.dtype}, CPU, {torch.get_num_threads()} threads, "
          f"attn_implementation={model.config._attn_implementation}, loaded in {load_seconds:.1f} s", flush=True)

    def tensors(case):
        return (torch.tensor(case["input_ids"], dtype=torch.long),
                torch.tensor(case["attention_mask"], dtype=torch.long))

    def prefill(ids, mask):
        # Positions as generate computes them for a left-padded batch.
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        return model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                     logits_to_keep=1).logits[:, -1]

    results = []

    def record(case_name, kind, batch, prompt_len, n_tokens, timing, **extra):
        seconds, cpu_seconds = timing
        per_second = n_tokens / seconds
        results.append({"side": "transformers", "model": model_name, "case": case_name, "kind": kind,
                        "batch": batch, "prompt_len": prompt_len, "new_tokens": n_new, "tokens": n_tokens,
                        "seconds": seconds, "tokens_per_s": per_second, "cpu_seconds": cpu_seconds,
                        "threads": torch.get_num_threads(),
                        "attn_implementation": model.config._attn_implementation, **extra})
        notes = " ".join(f"{k}={v}" for k, v in extra.items())
        print(f"  {case_name:<12} {kind:<8} B={batch:<3} T={prompt_len:<4} {n_tokens:6d} tokens {seconds:8.3f} s "
              f"(cpu {cpu_seconds:8.3f} s) {per_second:9.1f} tok/s {notes}", flush=True)

    with torch.inference_mode():
        first = next(c for c in doc["cases"] if c["kind"] == "generate")
        ids, mask = tensors(first)
        warm = GenerationConfig(do_sample=False, max_new_tokens=4, min_new_tokens=4, pad_token_id=pad_id,
                                eos_token_id=eos)
        model.generate(ids[:2], attention_mask=mask[:2], generation_config=warm)
        prefill(ids[:2], mask[:2])

        for case in doc["cases"]:
            ids, mask = tensors(case)
            batch, prompt_len = ids.shape
            if case["kind"] == "generate":
                prefill_timing = min_seconds(repeats, lambda: prefill(ids, mask))
                out = {}

                def generate():
                    out["ids"] = model.generate(ids, attention_mask=mask, generation_config=greedy)

                generate_timing = min_seconds(repeats, generate)
                new_ids = out["ids"][:, prompt_len:].tolist()
                assert all(len(row) == n_new for row in new_ids), "a row stopped early"
                ours = case["generated"]
                agreement = {
                    "first_token_agrees": f"{sum(a[0] == b[0] for a, b in zip(new_ids, ours))}/{batch}",
                    "mean_common_prefix": round(sum(common_prefix(a, b) for a, b in zip(new_ids, ours)) / batch, 1),
                }
                suffix = f"_b{batch}"
                record("generate" + suffix, "generate", batch, prompt_len, batch * n_new, generate_timing,
                       **agreement)
                record("decode" + suffix, "decode", batch, prompt_len, batch * (n_new - 1),
                       tuple(max(1e-9, g - p) for g, p in zip(generate_timing, prefill_timing)))
            else:
                n_real = int(mask.sum())
                out = {}

                def forward():
                    out["logits"] = prefill(ids, mask)

                timing = min_seconds(repeats, forward)
                argmax = out["logits"].argmax(-1).tolist()
                agrees = sum(a == b for a, b in zip(argmax, case["argmax"]))
                record(case["name"], "prefill", batch, prompt_len, n_real, timing,
                       argmax_agrees=f"{agrees}/{batch}")

    if args.json:
        with open(args.json, "a") as f:
            for result in results:
                f.write(json.dumps(result) + "\n")


def report(args):
    def read(path):
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    ours = {(r["model"], r["case"]): r for r in read(args.ours)}
    theirs = {(r["model"], r["case"]): r for r in read(args.theirs)}
    header = (f"{'model':<31} {'case':<12} {'B':>3} {'T':>4} {'N':>3} {'ours tok/s':>10} {'HF tok/s':>9} "
              f"{'ours/HF':>7} {'by CPU s':>8}  agreement")
    print(header)
    print("-" * len(header))
    for key, mine in ours.items():
        other = theirs.get(key)
        if other is None:
            continue
        ratio = mine["tokens_per_s"] / other["tokens_per_s"]
        cpu_ratio = other["cpu_seconds"] / mine["cpu_seconds"]  # same token count on both sides
        n = mine["new_tokens"] if mine["kind"] != "prefill" else 0
        agreement = other.get("argmax_agrees") or (
            f"1st token {other['first_token_agrees']}, common prefix {other['mean_common_prefix']}"
            if "first_token_agrees" in other else "")
        model = mine["model"].removesuffix(".gguf")
        print(f"{model:<31} {mine['case']:<12} {mine['batch']:>3} {mine['prompt_len']:>4} {n:>3} "
              f"{mine['tokens_per_s']:>10.1f} {other['tokens_per_s']:>9.1f} {ratio:>6.2f}x {cpu_ratio:>7.2f}x  "
              f"{agreement}")
    sample = next(iter(theirs.values()), {})
    print(f"threads: ours {next(iter(ours.values()), {}).get('threads')}, transformers {sample.get('threads')}; "
          f"transformers attn_implementation={sample.get('attn_implementation')}. ours/HF: tokens per wall second; "
          f"by CPU s: HF's process CPU seconds / ours (all threads; less sensitive to other load). "
          f"generate: B*N / generate() time incl. prefill; decode: B*(N-1) / (generate - prefill of that batch) time; "
          f"prefill: non-pad prompt tokens / forward time.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("--gguf", required=True)
    run_parser.add_argument("--ids", required=True, help="the --ids-out file of runtime_bench")
    run_parser.add_argument("--threads", type=int, default=2)
    run_parser.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    run_parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                            help="the dtype the dequantized weights are cast to and computed in")
    run_parser.add_argument("--json")
    report_parser = sub.add_parser("report")
    report_parser.add_argument("ours")
    report_parser.add_argument("theirs")
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    else:
        report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
