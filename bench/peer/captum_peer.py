"""Captum peer for bench/side-by-side.mjs (not part of the test suite).

Builds distilbert-sst2-mini in plain PyTorch from the ONNX initializers, which the side-by-side
script exports to a raw float32 file and a JSON index (no transformers or onnx package needed), and
times Captum's perturbation methods on the token ids it is given.

  python3 captum_peer.py JOB.json  ->  JSON on stdout

JOB: {"weights": dir, "threads": n, "repeats": r, "cases": [{"key", "method", "ids", "budget", "seed"}]}
Each case's ids are the feature tokens only; [CLS] and [SEP] are added around them by the forward
function, and a removed feature becomes [MASK] (interp's default token baseline). The score is the
POSITIVE logit. Output: per case the median seconds, the attributions of the last repeat and the
full-input score, and the process's peak RSS.
"""

import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from captum.attr import FeatureAblation, KernelShap, Lime, ShapleyValueSampling

CLS, SEP, MASK = 101, 102, 103
N_LAYERS, WIDTH, HEADS = 3, 128, 4


def load(folder):
    index = json.load(open(f"{folder}/index.json"))
    raw = open(f"{folder}/weights.bin", "rb").read()
    out = {}
    for name, (offset, dims) in index.items():
        count = math.prod(dims) if dims else 1
        out[name] = torch.frombuffer(bytearray(raw[offset : offset + 4 * count]), dtype=torch.float32).reshape(dims)
    return out


class DistilBert(torch.nn.Module):
    """DistilBertForSequenceClassification, eval mode, from the exported initializers."""

    def __init__(self, w):
        super().__init__()
        self.w = w
        # The ONNX export names the six projection matrices of each layer anonymously, in this order,
        # already transposed to [in, out]: q, k, v, out, lin1, lin2.
        mats = sorted((k for k in w if k.startswith("onnx::MatMul_")), key=lambda k: int(k.split("_")[-1]))
        self.mats = [mats[6 * i : 6 * i + 6] for i in range(N_LAYERS)]

    def ln(self, x, prefix):
        return F.layer_norm(x, (WIDTH,), self.w[prefix + ".weight"], self.w[prefix + ".bias"], 1e-12)

    def forward(self, ids):  # ids [batch, tokens] -> POSITIVE logit [batch]
        w = self.w
        b, t = ids.shape
        x = w["distilbert.embeddings.word_embeddings.weight"][ids] + w["distilbert.embeddings.position_embeddings.weight"][:t]
        x = self.ln(x, "distilbert.embeddings.LayerNorm")
        d = WIDTH // HEADS
        for i in range(N_LAYERS):
            p = f"distilbert.transformer.layer.{i}."
            q, k, v, o, l1, l2 = (w[m] for m in self.mats[i])
            split = lambda y: y.view(b, t, HEADS, d).transpose(1, 2)  # [batch, head, token, d]
            qh = split(x @ q + w[p + "attention.q_lin.bias"]) / math.sqrt(d)
            kh = split(x @ k + w[p + "attention.k_lin.bias"])
            vh = split(x @ v + w[p + "attention.v_lin.bias"])
            a = torch.softmax(qh @ kh.transpose(-1, -2), dim=-1)  # [batch, head, query, key]
            ctx = (a @ vh).transpose(1, 2).reshape(b, t, WIDTH)
            x = self.ln(ctx @ o + w[p + "attention.out_lin.bias"] + x, p + "sa_layer_norm")
            h = F.gelu(x @ l1 + w[p + "ffn.lin1.bias"]) @ l2 + w[p + "ffn.lin2.bias"]
            x = self.ln(h + x, p + "output_layer_norm")
        c = torch.relu(x[:, 0] @ w["pre_classifier.weight"].T + w["pre_classifier.bias"])
        return (c @ w["classifier.weight"].T + w["classifier.bias"])[:, 1]


def run_case(model, case):
    ids = torch.tensor([case["ids"]], dtype=torch.long)

    def forward(x):  # x [batch, features], possibly float after Captum's interpolation
        x = x.round().long()
        b = x.shape[0]
        full = torch.cat([torch.full((b, 1), CLS), x, torch.full((b, 1), SEP)], dim=1)
        return model(full)

    base = torch.full_like(ids, MASK)
    budget, method = case["budget"], case["method"]
    torch.manual_seed(case.get("seed", 0))
    with torch.no_grad():
        if method == "occlusion":
            attr = FeatureAblation(forward).attribute(ids, baselines=base, perturbations_per_eval=64)
        elif method == "shapley":
            attr = ShapleyValueSampling(forward).attribute(
                ids, baselines=base, n_samples=budget, perturbations_per_eval=64
            )
        elif method == "kernel-shap":
            attr = KernelShap(forward).attribute(ids, baselines=base, n_samples=budget, perturbations_per_eval=64)
        elif method == "lime":
            attr = Lime(forward).attribute(ids, baselines=base, n_samples=budget, perturbations_per_eval=64)
        else:
            raise ValueError(method)
        full = forward(ids).item()
    return attr[0].tolist(), full


def main():
    job = json.load(open(sys.argv[1]))
    torch.set_num_threads(job["threads"])
    model = DistilBert(load(job["weights"])).eval()
    out = {"threads": job["threads"], "torch": torch.__version__, "cases": {}}
    # One small untimed run per method, so that no timed case pays for lazy imports (sklearn) or set-up.
    for method in dict.fromkeys(c["method"] for c in job["cases"]):
        run_case(model, {**job["cases"][0], "method": method, "budget": 16})
    for case in job["cases"]:
        times = []
        for _ in range(job.get("repeats", 1)):
            t0 = time.perf_counter()
            values, full = run_case(model, case)
            times.append(time.perf_counter() - t0)
        out["cases"][case["key"]] = {"seconds": statistics.median(times), "values": values, "fullScore": full}
    out["peakRssMiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
