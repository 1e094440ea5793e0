"""Train the embedded causal LM (GPT-2 architecture, learned positions) on the shared corpus and SST-2 sentences.

Writes training/out/tiny-lm/{vocab.json, weights.bin, manifest.json, reference.json}; training/export_lm.ts turns
that into a transformers.js KV-cache ONNX model. Run: python3 training/train_lm.py
"""
import json, math, os, random, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, os.path.dirname(__file__))
from wordpiece import WordPiece, build_vocab

torch.set_num_threads(int(os.environ.get('THREADS', '2')))
SEED = int(os.environ.get('SEED', '7'))
random.seed(SEED); torch.manual_seed(SEED)
SHARED = os.environ.get('SHARED', os.path.join(os.path.dirname(__file__), '..', '..', 'shared'))
OUT = os.path.join(os.path.dirname(__file__), 'out', 'tiny-lm')
os.makedirs(OUT, exist_ok=True)
CFG = dict(dim=int(os.environ.get('DIM', '128')), layers=int(os.environ.get('LAYERS', '3')), heads=4, ctx=128,
           vocab_limit=int(os.environ.get('VOCAB', '6000')))
SPECIALS = ['[PAD]', '[UNK]', '<s>', '</s>']
MINUTES = float(os.environ.get('MINUTES', '15'))

def lines(path):
    with open(path, encoding='utf8') as f:
        return [l.strip() for l in f if l.strip()]

corpus = lines(os.path.join(SHARED, 'data/corpus/wikitext-2-valid.txt')) + lines(os.path.join(SHARED, 'data/corpus/tinyshakespeare.txt'))
sst = [l.rsplit('\t', 1)[0] for l in lines(os.path.join(SHARED, 'data/sst2/train.tsv'))[1:]]
held_out = lines(os.path.join(SHARED, 'data/corpus/wikitext-2-test.txt'))
train_texts = corpus + sst
vocab = build_vocab(train_texts, CFG['vocab_limit'], SPECIALS)
wp = WordPiece(vocab)
BOS, EOS = wp.index['<s>'], wp.index['</s>']

def stream(texts):
    ids = []
    for t in texts: ids += [BOS] + wp.ids(t) + [EOS]
    return torch.tensor(ids, dtype=torch.long)

train_ids, test_ids = stream(train_texts), stream(held_out)
print(f'vocab {len(vocab)}; train tokens {len(train_ids)}; held-out tokens {len(test_ids)}', flush=True)

class GPT2(nn.Module):
    def __init__(self, V, d, L, H, T):
        super().__init__()
        self.wte = nn.Embedding(V, d); self.wpe = nn.Embedding(T, d); self.H = H
        self.blocks = nn.ModuleList(nn.ModuleDict(dict(ln1=nn.LayerNorm(d), attn=nn.Linear(d, 3 * d), proj=nn.Linear(d, d),
            ln2=nn.LayerNorm(d), fc=nn.Linear(d, 4 * d), out=nn.Linear(4 * d, d))) for _ in range(L))
        self.ln_f = nn.LayerNorm(d)
        self.register_buffer('causal', torch.tril(torch.ones(T, T, dtype=torch.bool)))
        for name, p in self.named_parameters():
            if p.dim() == 2: nn.init.normal_(p, std=0.02 if 'wpe' not in name else 0.01)
            elif name.endswith('bias'): nn.init.zeros_(p)
    def forward(self, ids):
        B, T = ids.shape; d = self.wte.embedding_dim; H = self.H; dh = d // H
        h = self.wte(ids) + self.wpe(torch.arange(T))[None]
        for b in self.blocks:
            q, k, v = b['attn'](b['ln1'](h)).split(d, dim=2)
            q, k, v = (t.view(B, T, H, dh).transpose(1, 2) for t in (q, k, v))
            s = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
            s = s.masked_fill(~self.causal[:T, :T], -1e9)
            h = h + b['proj']((torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, d))
            h = h + b['out'](F.gelu(b['fc'](b['ln2'](h)), approximate='tanh'))
        return self.ln_f(h) @ self.wte.weight.T

model = GPT2(len(vocab), CFG['dim'], CFG['layers'], CFG['heads'], CFG['ctx'])

def batch(ids, bs, T):
    starts = torch.randint(0, len(ids) - T - 1, (bs,))
    x = torch.stack([ids[s:s + T] for s in starts]); y = torch.stack([ids[s + 1:s + T + 1] for s in starts])
    return x, y

def perplexity(ids, T=128, max_windows=400):
    model.eval(); total, count = 0.0, 0
    with torch.no_grad():
        for w in range(min(max_windows, (len(ids) - 1) // T)):
            x = ids[w * T:(w + 1) * T][None]; y = ids[w * T + 1:(w + 1) * T + 1][None]
            total += F.cross_entropy(model(x).view(-1, len(vocab)), y.view(-1), reduction='sum').item(); count += T
    model.train(); return math.exp(total / count)

opt = torch.optim.AdamW(model.parameters(), lr=float(os.environ.get('LR', '2e-3')), weight_decay=0.01)
t0, step, deadline = time.time(), 0, time.time() + MINUTES * 60
while time.time() < deadline:
    lr_scale = min(1.0, step / 200) * max(0.1, 1 - (time.time() - t0) / (MINUTES * 60))
    for g in opt.param_groups: g['lr'] = float(os.environ.get('LR', '2e-3')) * lr_scale
    x, y = batch(train_ids, int(os.environ.get('BATCH', '8')), CFG['ctx'])
    loss = F.cross_entropy(model(x).view(-1, len(vocab)), y.view(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); step += 1
    if step % 200 == 0: print(f'step {step} loss {loss.item():.3f} elapsed {time.time() - t0:.0f}s', flush=True)
train_seconds = time.time() - t0
model.eval()
ppl = perplexity(test_ids)
print(f'held-out perplexity (wikitext-2 test, {min(400, (len(test_ids) - 1) // 128) * 128} tokens): {ppl:.2f}; {step} steps in {train_seconds:.0f}s', flush=True)

manifest, offset = [], 0
with open(os.path.join(OUT, 'weights.bin'), 'wb') as f:
    for name, t in model.state_dict().items():
        if name == 'causal': continue
        a = t.detach().float().contiguous().numpy().astype('<f4')
        f.write(a.tobytes()); manifest.append(dict(name=name, shape=list(a.shape), offset=offset)); offset += a.nbytes
prompts = ['the film was', 'once upon a time there was a']
with torch.no_grad():
    ref = []
    for p in prompts:
        ids = [BOS] + wp.ids(p)
        logits = model(torch.tensor([ids]))[0]
        greedy = list(ids)
        for _ in range(8): greedy.append(int(model(torch.tensor([greedy]))[0, -1].argmax()))
        ref.append(dict(text=p, ids=ids, last_logits=logits[-1].tolist(), greedy=greedy))
json.dump(dict(config=CFG, seed=SEED, steps=step, train_seconds=train_seconds, perplexity=ppl, perplexity_tokens=min(400, (len(test_ids) - 1) // 128) * 128,
               train_tokens=len(train_ids), tensors=manifest), open(os.path.join(OUT, 'manifest.json'), 'w'), indent=1)
json.dump(vocab, open(os.path.join(OUT, 'vocab.json'), 'w'))
json.dump(ref, open(os.path.join(OUT, 'reference.json'), 'w'))
