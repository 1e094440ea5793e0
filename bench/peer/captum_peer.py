"""Captum peer for bench/side-by-side.mjs (not part of the test suite).

Builds the benchmarked network in plain PyTorch from the ONNX initializers, which the side-by-side
script exports to a raw float32 file and a JSON index (no transformers or onnx package needed), and
times Captum's perturbation methods and integrated gradients on the token ids it is given.

  python3 captum_peer.py JOB.json  ->  JSON on stdout

JOB: {"weights": dir, "model": "distilbert" | "gpt2", "threads": n, "repeats": r,
      "cases": [{"key", "method", "ids", "budget", "seed", "target" (gpt2: a token id)}]}
Each case's ids are the feature tokens only. distilbert: [CLS] and [SEP] are added around them, a
removed feature becomes [MASK] (interp's default token baseline), the score is the POSITIVE logit.
gpt2 (the bench's 124M GPT-2): <|endoftext|> is prepended, a removed feature becomes <|endoftext|>
(interp's --baseline unk), the score is log p(target) at the last position, and the LM head runs on
that position only (the sliced head a careful PyTorch user writes). IG runs on the word embeddings of
the features, from the baseline token's embedding, with Captum's default Gauss-Legendre rule, all
steps in one batch. Output: per case the median seconds, the attributions of the last repeat and the
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
from captum.attr import FeatureAblation, IntegratedGradients, KernelShap, Lime, ShapleyValueSampling

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

    prefix, suffix, baseline = [CLS], [SEP], MASK

    def embed(self, ids):  # ids [batch, tokens] -> word embeddings [batch, tokens, width]
        return self.w["distilbert.embeddings.word_embeddings.weight"][ids]

    def score(self, e):  # word embeddings [batch, tokens, width] -> POSITIVE logit [batch]
        w = self.w
        b, t, _ = e.shape
        x = e + w["distilbert.embeddings.position_embeddings.weight"][:t]
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


class Gpt2(torch.nn.Module):
    """The bench's GPT-2 (pre-LayerNorm, tanh GELU, tied head), named as src/benchModel/gpt2.ts writes it:
    Linear weights are stored transposed, as `{name}.weight.T` [in, out]."""

    prefix, suffix, baseline = [50256], [], 50256

    def __init__(self, w, target, layers=12, heads=12, width=768):
        super().__init__()
        self.w, self.target, self.layers, self.heads, self.width = w, target, layers, heads, width

    def ln(self, x, name):
        return F.layer_norm(x, (self.width,), self.w[name + ".weight"], self.w[name + ".bias"], 1e-5)

    def linear(self, x, name):
        return x @ self.w[name + ".weight.T"] + self.w[name + ".bias"]

    def embed(self, ids):
        return self.w["wte.weight"][ids]

    def score(self, e):  # word embeddings [batch, tokens, width] -> log p(target) at the last token [batch]
        w, (b, t, _) = self.w, e.shape
        d = self.width // self.heads
        x = e + w["wpe.weight"][:t]
        causal = torch.full((t, t), float("-inf")).triu(1)  # [query, key]
        for i in range(self.layers):
            p = f"blocks.{i}."
            q, k, v = self.linear(self.ln(x, p + "ln1"), p + "attn").split(self.width, dim=-1)
            split = lambda y: y.view(b, t, self.heads, d).transpose(1, 2)  # [batch, head, token, d]
            a = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(d) + causal, dim=-1)
            x = x + self.linear((a @ split(v)).transpose(1, 2).reshape(b, t, self.width), p + "proj")
            x = x + self.linear(F.gelu(self.linear(self.ln(x, p + "ln2"), p + "fc"), approximate="tanh"), p + "out")
        h = self.ln(x[:, -1], "ln_f")  # [batch, width]: only the explained position reaches the head
        return torch.log_softmax(h @ w["wte.weight"].T, dim=-1)[:, self.target]


def run_case(model, case):
    ids = torch.tensor([case["ids"]], dtype=torch.long)
    pre = torch.tensor([model.prefix], dtype=torch.long)
    post = torch.tensor([model.suffix], dtype=torch.long)

    def around(x, b):  # the fixed tokens around the features, repeated over the batch
        return torch.cat([pre.expand(b, -1), x, post.expand(b, -1)], dim=1)

    def forward(x):  # x [batch, features], possibly float after Captum's interpolation
        return model.score(model.embed(around(x.round().long(), x.shape[0])))

    def forward_embeds(e):  # e [batch, features, width]
        b = e.shape[0]
        return model.score(torch.cat([model.embed(pre).expand(b, -1, -1), e, model.embed(post).expand(b, -1, -1)], 1))

    base = torch.full_like(ids, model.baseline)
    budget, method = case["budget"], case["method"]
    if "target" in case:  # gpt2: the token interp's run predicted for this input
        model.target = case["target"]
    torch.manual_seed(case.get("seed", 0))
    if method == "integrated-gradients":
        attr = IntegratedGradients(forward_embeds).attribute(
            model.embed(ids), baselines=model.embed(base), n_steps=budget, method="gausslegendre"
        )
        with torch.no_grad():
            return attr[0].sum(-1).tolist(), forward(ids).item()
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
    weights = load(job["weights"])
    model = (Gpt2(weights, None) if job.get("model") == "gpt2" else DistilBert(weights)).eval()
    out = {"threads": job["threads"], "torch": torch.__version__, "cases": {}}
    # One small untimed run per method, so that no timed case pays for lazy imports (sklearn) or set-up. Shapley's
    # budget counts permutations of every token: one is enough to warm it up (16 would be 2,048 passes at 128 tokens).
    for method in dict.fromkeys(c["method"] for c in job["cases"]):
        run_case(model, {**job["cases"][0], "method": method, "budget": 1 if method == "shapley" else 16})
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
