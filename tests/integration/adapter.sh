#!/usr/bin/env bash
# A job's `adapter:` (issue 10): a study runs on the tiny model with a PEFT LoRA
# adapter merged, stores the adapter in its settings and gives it its own cache
# entry; a resume with another adapter is refused naming the key; `evaluate
# --adapter` measures the fine-tune against the job's model; a bad adapter
# stops the run before the store is created, naming the file and the key.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir adapter)
cd "$dir"

# write_adapter DIR SEED [EXTRA_CONFIG_JSON]: a rank-2 PEFT adapter on layer 0's
# q_proj and layer 1's down_proj of the tiny Gemma 3 model (hidden 64, MLP 128),
# written as PEFT writes one: adapter_config.json + adapter_model.safetensors.
write_adapter() {
  python3 - "$@" <<'PY'
import json, pathlib, random, struct, sys
folder, seed = pathlib.Path(sys.argv[1]), int(sys.argv[2])
extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
rng = random.Random(seed)
rank = 2
modules = {"model.layers.0.self_attn.q_proj": (64, 64), "model.layers.1.mlp.down_proj": (64, 128)}
tensors = {}
for module, (out, inp) in modules.items():
    tensors[f"base_model.model.{module}.lora_A.weight"] = ([rank, inp], [rng.gauss(0, 0.3) for _ in range(rank * inp)])
    tensors[f"base_model.model.{module}.lora_B.weight"] = ([out, rank], [rng.gauss(0, 0.3) for _ in range(out * rank)])
header, payload, offset = {"__metadata__": {"format": "pt"}}, b"", 0
for name, (shape, values) in tensors.items():
    data = struct.pack(f"<{len(values)}f", *values)
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
    payload, offset = payload + data, offset + len(data)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
folder.mkdir(parents=True, exist_ok=True)
(folder / "adapter_model.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + payload)
config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": 4, "lora_dropout": 0.0,
          "bias": "none", "use_rslora": False, "use_dora": False, "fan_in_fan_out": False,
          "target_modules": ["q_proj", "down_proj"], "modules_to_save": None}
config.update(extra)
(folder / "adapter_config.json").write_text(json.dumps(config, indent=2))
PY
}

settings_adapter() {
  python3 -c "
import json, sqlite3, sys
row = sqlite3.connect(sys.argv[1]).execute(
    \"SELECT value_json FROM study_user_attributes WHERE key='settings'\").fetchone()
print(json.loads(row[0])['adapter'])" study.db
}

write_adapter lora_a 1
write_adapter lora_b 2
write_tiny_job job.yaml 2 "adapter: lora_a"
"$ABLITERATE" run job.yaml > run1.log 2>&1 || { cat run1.log; fail "the run with an adapter failed"; }
grep -q "with adapter lora_a" run1.log || { cat run1.log; fail "the run does not say it loads the adapter"; }
[[ $(settings_adapter) == lora_a ]] || fail "the stored settings do not hold the adapter (got $(settings_adapter))"

# Resuming with another adapter is refused, naming the key; the store is left as it was.
before=$(sha256sum study.db | cut -d' ' -f1)
write_tiny_job other.yaml 3 "adapter: lora_b"
if "$ABLITERATE" run other.yaml > refused.log 2>&1; then cat refused.log; fail "a resume with another adapter ran"; fi
grep -qF 'adapter: stored "lora_a", new "lora_b"' refused.log || { cat refused.log; fail "the difference is not named"; }
[[ $(sha256sum study.db | cut -d' ' -f1) == "$before" ]] || fail "the refused resume changed study.db"
# The same adapter resumes and reuses its cache.
"$ABLITERATE" run job.yaml --n-trials 3 > resume.log 2>&1 || { cat resume.log; fail "the resume failed"; }
grep -q "Using cached" resume.log || { cat resume.log; fail "the resume did not reuse the adapter's cache"; }

# The same job without the adapter is another model: a fresh preparation, not the adapter's cache.
write_tiny_job plain.yaml 2
sed -i 's/^store: .*/store: plain.db/' plain.yaml
"$ABLITERATE" run plain.yaml > plain.log 2>&1 || { cat plain.log; fail "the run without an adapter failed"; }
if grep -q "Using cached" plain.log; then cat plain.log; fail "the plain model reused the adapter's cache"; fi
echo "R0 with the adapter: $(grep -o 'Initial refusals: [0-9]*/[0-9]*' run1.log | head -1);" \
  "without: $(grep -o 'Initial refusals: [0-9]*/[0-9]*' plain.log | head -1)"

# evaluate --adapter: the fine-tune against the job's own model; the adapter against itself is KL 0.
"$ABLITERATE" evaluate plain.yaml --adapter lora_a > evaluate.log 2>&1 || { cat evaluate.log; fail "evaluate --adapter failed"; }
kl=$(grep -o 'KL divergence: [-0-9.]*' evaluate.log | tail -1 | cut -d' ' -f3)
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 1e-3 else 1)" "$kl" || { cat evaluate.log; fail "KL $kl: the adapter changed nothing"; }
"$ABLITERATE" evaluate job.yaml --model "$TINY_MODEL" --adapter lora_a > self.log 2>&1 || { cat self.log; fail "self evaluate failed"; }
self_kl=$(grep -o 'KL divergence: [-0-9.]*' self.log | tail -1 | cut -d' ' -f3)
python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1])) < 2e-4 else 1)" "$self_kl" || { cat self.log; fail "self KL $self_kl is not 0"; }
echo "KL of the adapter against the plain model: $kl; against itself: $self_kl"

# A bad adapter stops the run before any store exists, naming the file and key.
write_adapter dora 3 '{"use_dora": true}'
write_tiny_job dora.yaml 2 "adapter: dora"
sed -i 's/^store: .*/store: dora.db/' dora.yaml
if "$ABLITERATE" run dora.yaml > dora.log 2>&1; then cat dora.log; fail "a DoRA adapter was accepted"; fi
grep -q "dora/adapter_config.json: key 'use_dora'" dora.log || { cat dora.log; fail "the DoRA refusal does not name the file and key"; }
[[ ! -e dora.db ]] || fail "a refused adapter left a store behind"
write_tiny_job missing.yaml 2 "adapter: nowhere"
sed -i 's/^store: .*/store: missing.db/' missing.yaml
if "$ABLITERATE" run missing.yaml > missing.log 2>&1; then fail "a missing adapter was accepted"; fi
grep -q "adapter: no such adapter folder: .*nowhere" missing.log || { cat missing.log; fail "the missing adapter is not named"; }
echo "adapter: OK"
