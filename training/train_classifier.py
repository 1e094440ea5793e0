"""Train the embedded sentiment classifier (a small BERT) on SST-2, with a WordPiece vocabulary built here.

Writes training/out/sst2-tiny/{vocab.json, weights.bin, manifest.json, reference.json}; the TypeScript
exporter (training/export.ts) turns that into an HF-layout ONNX model. Run: python3 training/train_classifier.py
"""
import json, math, os, random, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, os.path.dirname(__file__))
from wordpiece import SPECIALS, WordPiece, build_vocab

torch.set_num_threads(int(os.environ.get('THREADS', '2')))
SEED = int(os.environ.get('SEED', '13'))
random.seed(SEED); torch.manual_seed(SEED)
SHARED = os.environ.get('SHARED', os.path.join(os.path.dirname(__file__), '..', '..', 'shared'))
OUT = os.path.join(os.path.dirname(__file__), 'out', 'sst2-tiny')
os.makedirs(OUT, exist_ok=True)
CFG = dict(dim=int(os.environ.get('DIM', '128')), layers=int(os.environ.get('LAYERS', '2')), heads=4,
           ffn=int(os.environ.get('FFN', '512')), max_len=128, vocab_limit=int(os.environ.get('VOCAB', '8000')))
def read_tsv(path):
    rows = []
    with open(path, encoding='utf8') as f:
        next(f)
        for line in f:
            s, y = line.rstrip('\n').rsplit('\t', 1)
            rows.append((s, int(y)))
    return rows

train = read_tsv(os.path.join(SHARED, 'data/sst2/train.tsv'))
valid = read_tsv(os.path.join(SHARED, 'data/sst2/valid.tsv'))
dev = read_tsv(os.path.join(SHARED, 'data/sst2/glue-dev.tsv'))

# Vocabulary: specials, every character seen (as word start and as ##continuation), then whole words by frequency.
REFERENCE_ONLY = os.environ.get('REFERENCE_ONLY') == '1'
if REFERENCE_ONLY:
    vocab = json.load(open(os.path.join(OUT, 'vocab.json')))
else:
    vocab = build_vocab([s for s, _ in train], CFG['vocab_limit'])
tokenizer = WordPiece(vocab)
index = tokenizer.index

def encode(text):
    return ([index['[CLS]']] + tokenizer.ids(text) + [index['[SEP]']])[:CFG['max_len']]

class Bert(nn.Module):
    def __init__(self, V, d, L, H, f, T):
        super().__init__()
        self.word = nn.Embedding(V, d); self.pos = nn.Embedding(T, d); self.emb_ln = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList()
        for _ in range(L):
            self.layers.append(nn.ModuleDict(dict(q=nn.Linear(d, d), k=nn.Linear(d, d), v=nn.Linear(d, d), o=nn.Linear(d, d),
                ln1=nn.LayerNorm(d, eps=1e-12), f1=nn.Linear(d, f), f2=nn.Linear(f, d), ln2=nn.LayerNorm(d, eps=1e-12))))
        self.pool = nn.Linear(d, d); self.cls = nn.Linear(d, 2); self.H = H; self.drop = nn.Dropout(0.1)
        for m in self.modules():  # BERT's initialisation: N(0, 0.02) weights, zero biases
            if isinstance(m, (nn.Linear, nn.Embedding)): nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear): nn.init.zeros_(m.bias)
    def encode(self, ids, mask):
        B, T = ids.shape; d = self.word.embedding_dim; H = self.H; dh = d // H
        h = self.emb_ln(self.word(ids) + self.pos(torch.arange(T, device=ids.device))[None])
        h = self.drop(h)
        bias = (1.0 - mask[:, None, None, :].float()) * -1e9
        for l in self.layers:
            q = l['q'](h).view(B, T, H, dh).transpose(1, 2); k = l['k'](h).view(B, T, H, dh).transpose(1, 2); v = l['v'](h).view(B, T, H, dh).transpose(1, 2)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + bias, -1)
            ctx = (self.drop(a) @ v).transpose(1, 2).reshape(B, T, d)
            h = l['ln1'](h + self.drop(l['o'](ctx)))
            h = l['ln2'](h + self.drop(l['f2'](F.gelu(l['f1'](h)))))
        return h
    def forward(self, ids, mask):
        return self.cls(torch.tanh(self.pool(self.encode(ids, mask)[:, 0])))

model = Bert(len(vocab), CFG['dim'], CFG['layers'], CFG['heads'], CFG['ffn'], CFG['max_len'])

class MlmHead(nn.Module):
    """BERT's masked-LM head, with the decoder tied to the word embeddings; used only for pretraining."""
    def __init__(self, bert):
        super().__init__()
        d = bert.word.embedding_dim
        self.bert = bert; self.dense = nn.Linear(d, d); self.ln = nn.LayerNorm(d, eps=1e-12); self.bias = nn.Parameter(torch.zeros(bert.word.num_embeddings))
    def forward(self, ids, mask, positions):
        """Logits at the chosen (masked) positions only: the vocabulary projection is the costly part."""
        h = self.bert.encode(ids, mask)[positions]
        return self.ln(F.gelu(self.dense(h))) @ self.bert.word.weight.T + self.bias

def pretrain(minutes):
    """Masked-LM pretraining on the shared corpus and the SST-2 training sentences (15% of tokens; 80/10/10)."""
    if minutes <= 0: return 0
    texts = [s for s, _ in train]
    for name in ['wikitext-2-valid.txt', 'wikitext-2-test.txt', 'tinyshakespeare.txt']:
        with open(os.path.join(SHARED, 'data/corpus', name), encoding='utf8') as f: texts += [l.strip() for l in f if l.strip()]
    windows = []
    for t in texts:
        ids = tokenizer.ids(t)
        for i in range(0, max(1, len(ids)), 62): windows.append([index['[CLS]']] + ids[i:i + 62] + [index['[SEP]']])
    head = MlmHead(model); opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=0.01)
    special = torch.tensor([index[t] for t in SPECIALS]); t0 = time.time(); step = 0
    while time.time() - t0 < minutes * 60:
        chunk = [windows[random.randrange(len(windows))] for _ in range(64)]
        T = max(len(c) for c in chunk)
        ids = torch.zeros(64, T, dtype=torch.long); mask = torch.zeros(64, T, dtype=torch.long)
        for r, c in enumerate(chunk): ids[r, :len(c)] = torch.tensor(c); mask[r, :len(c)] = 1
        chosen = (torch.rand(ids.shape) < 0.15) & (mask == 1) & ~torch.isin(ids, special)
        r = torch.rand(ids.shape)
        inputs = ids.clone(); inputs[chosen & (r < 0.8)] = index['[MASK]']
        rand_tok = chosen & (r >= 0.8) & (r < 0.9); inputs[rand_tok] = torch.randint(len(SPECIALS), len(vocab), (int(rand_tok.sum()),))
        lr = 1e-3 * min(1.0, step / 300) * max(0.05, 1 - (time.time() - t0) / (minutes * 60))
        for g in opt.param_groups: g['lr'] = lr
        if not chosen.any(): continue
        loss = F.cross_entropy(head(inputs, mask, chosen), ids[chosen])
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0); opt.step(); step += 1
        if step % 500 == 0: print(f'mlm step {step} loss {loss.item():.3f} elapsed {time.time() - t0:.0f}s', flush=True)
    return time.time() - t0

def batches(rows, bs, shuffle):
    order = list(range(len(rows)))
    if shuffle: random.shuffle(order)
    for i in range(0, len(order), bs):
        chunk = [rows[j] for j in order[i:i + bs]]
        enc = [encode(s) for s, _ in chunk]
        T = max(len(e) for e in enc)
        ids = torch.zeros(len(enc), T, dtype=torch.long); mask = torch.zeros(len(enc), T, dtype=torch.long)
        for r, e in enumerate(enc): ids[r, :len(e)] = torch.tensor(e); mask[r, :len(e)] = 1
        yield ids, mask, torch.tensor([y for _, y in chunk])

def accuracy(rows):
    was_training = model.training
    model.eval(); correct = 0
    with torch.no_grad():
        for ids, mask, y in batches(rows, 256, False): correct += (model(ids, mask).argmax(-1) == y).sum().item()
    model.train(was_training); return correct / len(rows)

def write_reference():
    model.eval()
    ref_texts = ['the film was a delight', 'an utterly tedious , joyless slog that never finds its footing .', 'not bad']
    with torch.no_grad():
        single = [model(torch.tensor([encode(t)]), torch.ones(1, len(encode(t)), dtype=torch.long))[0].tolist() for t in ref_texts]
        ids, mask, _ = next(batches([(t, 0) for t in ref_texts], 8, False))
        padded = model(ids, mask).tolist()
    json.dump(dict(texts=ref_texts, ids=[encode(t) for t in ref_texts], logits=single, padded_logits=padded), open(os.path.join(OUT, 'reference.json'), 'w'), indent=1)

if REFERENCE_ONLY:
    manifest = json.load(open(os.path.join(OUT, 'manifest.json')))
    blob = open(os.path.join(OUT, 'weights.bin'), 'rb').read()
    import numpy as np
    state = {t['name']: torch.from_numpy(np.frombuffer(blob, dtype='<f4', count=int(np.prod(t['shape'])), offset=t['offset']).reshape(t['shape']).copy()) for t in manifest['tensors']}
    model.load_state_dict(state)
    write_reference()
    sys.exit(0)

MLM_MINUTES = float(os.environ.get('MLM_MINUTES', '10'))
pretrain_seconds = pretrain(MLM_MINUTES)
EPOCHS = float(os.environ.get('EPOCHS', '3'))
opt = torch.optim.AdamW(model.parameters(), lr=float(os.environ.get('LR', '5e-4')), weight_decay=0.01)
steps_total = int(EPOCHS * math.ceil(len(train) / 64)); step = 0
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / 300) * max(0.0, 1 - s / steps_total))
best, best_state, t0 = -1.0, None, time.time()
while step < steps_total:
    for ids, mask, y in batches(train, 64, True):
        loss = F.cross_entropy(model(ids, mask), y)
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step(); step += 1
        if step % 500 == 0 or step == steps_total:
            acc = accuracy(valid)
            print(f'step {step}/{steps_total} loss {loss.item():.3f} valid {acc:.4f} elapsed {time.time() - t0:.0f}s', flush=True)
            if acc > best: best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
        if step >= steps_total: break
model.load_state_dict(best_state); model.eval()
dev_acc = accuracy(dev)
model.eval()
print(f'best valid {best:.4f}; GLUE dev {dev_acc:.4f}; {time.time() - t0:.0f}s', flush=True)

# Weights as one little-endian float32 blob plus a manifest of names, shapes and offsets.
manifest, offset = [], 0
with open(os.path.join(OUT, 'weights.bin'), 'wb') as f:
    for name, t in model.state_dict().items():
        a = t.detach().float().contiguous().numpy().astype('<f4')
        f.write(a.tobytes()); manifest.append(dict(name=name, shape=list(a.shape), offset=offset)); offset += a.nbytes
json.dump(dict(config=CFG, seed=SEED, valid_accuracy=best, glue_dev_accuracy=dev_acc, train_seconds=time.time() - t0 + pretrain_seconds,
               pretrain_seconds=pretrain_seconds, epochs=EPOCHS,
               tensors=manifest), open(os.path.join(OUT, 'manifest.json'), 'w'), indent=1)
json.dump(vocab, open(os.path.join(OUT, 'vocab.json'), 'w'))
write_reference()
