#!/usr/bin/env python3
"""Reference values for the method's formulas (spec/method-heretic.md §4.2-4.4, §5.2), in numpy.

Reads the tiny model's residuals that tests/method/reference_fixtures_test.cpp exports
(ExportsTheTinyModelsResiduals writes <build>/tiny_residuals.safetensors; its committed copy is
tests/fixtures/method/tiny_residuals.safetensors) and writes tests/fixtures/method/method_reference.json.
The formulas are written from the spec, not from our C++: float64 throughout, except that the
residual means are rounded to float32 as the spec keeps them (§4.3).

Run from a virtualenv outside the repository (numpy only):
    python3 -m venv /work/venv-mth && /work/venv-mth/bin/pip install numpy
    /work/venv-mth/bin/python tests/reference/make_method_fixtures.py \
        [--residuals tests/fixtures/method/tiny_residuals.safetensors] [--out tests/fixtures/method/method_reference.json]
"""
import argparse
import json
import math
import pathlib
import struct

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "method"

SAFETENSORS_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def read_safetensors(path):
    """The safetensors format by hand: u64 header length, JSON header, raw little-endian data."""
    data = pathlib.Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = np.dtype(SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(data[base + begin : base + end], dtype=dtype).reshape(info["shape"])
    return tensors


def quantile_linear(a, q):
    """§4.2: sort ascending, p = q(d-1), lerp between a[floor p] and a[ceil p]."""
    a = np.sort(a)
    p = q * (len(a) - 1)
    lo, hi = math.floor(p), math.ceil(p)
    return a[lo] + (p - lo) * (a[hi] - a[lo])


def winsorize(residuals, q):
    """§4.2: per prompt and layer, clamp to ±quantile(|x|, q); q >= 1 is off."""
    x = residuals.astype(np.float64)
    if q >= 1:
        return x
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        for k in range(x.shape[1]):
            t = quantile_linear(np.abs(x[n, k]), q)
            out[n, k] = np.clip(x[n, k], -t, t)
    return out


def unit(v):
    """norm(x) as Heretic computes it, F.normalize: x / max(|x|, 1e-12), so a zero vector stays zero.

    It matters for row 0: every prompt ends in the same template token, so the embedding entries of
    the good and bad means are equal and b_0 - g_0 = 0."""
    return v / max(np.linalg.norm(v), 1e-12)


def refusal_directions(good_means, bad_means, orthogonalize):
    """§4.3: r_k = norm(b_k - g_k); optionally r_k <- norm(r_k - (r_k . g^_k) g^_k), g^_k = norm(g_k)."""
    g = good_means.astype(np.float64)
    b = bad_means.astype(np.float64)
    rows = []
    for k in range(g.shape[0]):
        r = unit(b[k] - g[k])
        if orthogonalize:
            g_hat = unit(g[k])
            r = unit(r - np.dot(r, g_hat) * g_hat)
        rows.append(r)
    return np.stack(rows)


def layer_directions(directions, direction_index):
    """§4.4: per layer uses r_{l+1}; a global index lerps r_i and r_{i+1}, i = floor(index + 1), and renormalizes."""
    n_layers = directions.shape[0] - 1
    if direction_index is None:
        return directions[1:]
    shifted = direction_index + 1
    i = math.floor(shifted)
    f = shifted - i
    r = unit((1 - f) * directions[i] + f * directions[i + 1])
    return np.tile(r, (n_layers, 1))


def layer_weights(params, n_layers):
    """§5.2: Wmax at P, linear down to m at distance D, and 0 past D."""
    w_max, p, m, d = (params[k] for k in ("max_weight", "max_weight_position", "min_weight", "min_weight_distance"))
    weights = []
    for layer in range(n_layers):
        dist = abs(layer - p)
        weights.append(0.0 if dist > d else w_max + (dist / d) * (m - w_max))
    return weights


# Parameter sets: scopes (per layer, global at Heretic's bounds 0.4·last and 0.9·last and between), winsorization on and
# off, orthogonalization on and off, kernels whose tent is cut by the last layer or drops past D.
CASES = [
    {
        "name": "per_layer_plain",
        "winsorization_quantile": 1.0,
        "orthogonalize_direction": False,
        "direction_index": None,
        "parameters": {
            "attn.o_proj": {"max_weight": 1.19, "max_weight_position": 2.4, "min_weight": 0.16, "min_weight_distance": 1.5},
            "mlp.down_proj": {"max_weight": 1.47, "max_weight_position": 2.0, "min_weight": 0.81, "min_weight_distance": 1.0},
        },
    },
    {
        "name": "global_orthogonalized_winsorized",
        "winsorization_quantile": 0.95,
        "orthogonalize_direction": True,
        "direction_index": 1.7,
        "parameters": {
            "attn.o_proj": {"max_weight": 1.5, "max_weight_position": 1.8, "min_weight": 1.2, "min_weight_distance": 2.0},
            "mlp.down_proj": {"max_weight": 0.8, "max_weight_position": 2.2, "min_weight": 0.0, "min_weight_distance": 1.0},
        },
    },
    {
        "name": "global_upper_bound_median",
        "winsorization_quantile": 0.5,
        "orthogonalize_direction": False,
        "direction_index": 2.7,
        "parameters": {
            "attn.o_proj": {"max_weight": 1.0, "max_weight_position": 3.0, "min_weight": 0.4, "min_weight_distance": 1.0},
            "mlp.down_proj": {"max_weight": 1.2, "max_weight_position": 0.5, "min_weight": 0.6, "min_weight_distance": 2.5},
        },
    },
    {
        "name": "global_orthogonalized_q0",
        "winsorization_quantile": 0.0,
        "orthogonalize_direction": True,
        "direction_index": 1.2,
        "parameters": {
            "attn.o_proj": {"max_weight": 0.9, "max_weight_position": 2.7, "min_weight": 0.3, "min_weight_distance": 1.8},
            "mlp.down_proj": {"max_weight": 1.1, "max_weight_position": 1.0, "min_weight": 1.1, "min_weight_distance": 1.0},
        },
    },
]


def rows(a):
    return [[float(x) for x in row] for row in np.asarray(a, dtype=np.float64)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residuals", default=str(FIXTURES / "tiny_residuals.safetensors"))
    parser.add_argument("--out", default=str(FIXTURES / "method_reference.json"))
    args = parser.parse_args()

    residuals = read_safetensors(args.residuals)
    good, bad = residuals["good"], residuals["bad"]
    n_layers = good.shape[1] - 1
    cases = []
    for case in CASES:
        q = case["winsorization_quantile"]
        # Means over prompts in float64, kept as float32 (§4.1-4.3).
        good_means = winsorize(good, q).mean(axis=0).astype(np.float32)
        bad_means = winsorize(bad, q).mean(axis=0).astype(np.float32)
        plain = refusal_directions(good_means, bad_means, orthogonalize=False)
        orthogonalized = refusal_directions(good_means, bad_means, orthogonalize=True)
        chosen = orthogonalized if case["orthogonalize_direction"] else plain
        out = dict(case)
        out["good_means"] = rows(good_means)
        out["bad_means"] = rows(bad_means)
        out["directions"] = rows(plain)
        out["orthogonalized_directions"] = rows(orthogonalized)
        out["layer_directions"] = rows(layer_directions(chosen, case["direction_index"]))
        out["layer_weights"] = {c: layer_weights(p, n_layers) for c, p in case["parameters"].items()}
        cases.append(out)
    document = {
        "generated_by": "tests/reference/make_method_fixtures.py",
        "input": "tests/fixtures/method/tiny_residuals.safetensors",
        "numpy": np.__version__,
        "cases": cases,
    }
    pathlib.Path(args.out).write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {args.out}: {len(cases)} cases, {n_layers} layers, d = {good.shape[2]}")


if __name__ == "__main__":
    main()
