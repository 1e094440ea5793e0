"""Train the embedded encoder-decoder: English number words to digits ("three hundred and forty two" → "342").

The data is generated here: every number 0 … 999 999 in British English words ("and" after the hundreds); one
in ten from 100 up is held out by a fixed hash of its value (held_out below) and never trained on. The model is Marian-style
(post-LayerNorm blocks, √d-scaled token embeddings plus a position table, SiLU feed-forward, biases everywhere,
final_logits_bias), exactly the graph fixtures/seq2seq.ts builds, so its weights are written under the builder's
names and layout (Linear weights [in, out]).

Writes training/out/num2digits/{vocab.json, weights.bin, manifest.json, reference.json}; training/export_seq2seq.ts
turns that into models/num2digits. Run: /usr/bin/python3 training/train_seq2seq.py
"""
import json, math, os, random, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get('THREADS', '1')))
SEED = int(os.environ.get('SEED', '3'))
random.seed(SEED); torch.manual_seed(SEED)
OUT = os.path.join(os.path.dirname(__file__), 'out', 'num2digits')
os.makedirs(OUT, exist_ok=True)
CFG = dict(dim=int(os.environ.get('DIM', '64')), heads=4, ffn=int(os.environ.get('FFN', '128')),
           enc_layers=int(os.environ.get('LAYERS', '2')), dec_layers=int(os.environ.get('LAYERS', '2')), positions=32)
MINUTES = float(os.environ.get('MINUTES', '10'))  # of CPU time (the machine is shared); wall time is capped at 3×
MAX_N = 999_999

ONES = 'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen'.split()
TENS = 'twenty thirty forty fifty sixty seventy eighty ninety'.split()

def below_thousand(n):
    words = []
    if n >= 100:
        words += [ONES[n // 100], 'hundred']
        n %= 100
        if n: words.append('and')
        else: return words
    if n >= 20:
        words.append(TENS[n // 10 - 2])
        if n % 10: words.append(ONES[n % 10])
    elif n or not words:
        words.append(ONES[n])
    return words

def number_words(n):
    """342 → 'three hundred and forty two'; 1005 → 'one thousand and five' (British 'and' before a last part under 100)."""
    if n < 1000: return ' '.join(below_thousand(n))
    high, low = divmod(n, 1000)
    words = below_thousand(high) + ['thousand']
    if low:
        if low < 100: words.append('and')
        words += below_thousand(low)
    return ' '.join(words)

def held_out(n):
    """One number of 100 … 999 999 in ten, by a fixed hash of its value: never trained on; the card's accuracy is
    measured on these. Every number below 100 is trained on: each is a word or two that appear nowhere else ("zero")."""
    return n >= 100 and (n * 2654435761) % 2**32 % 10 == 0

def sample_number(rng, shortest=1):
    """Log-uniform over the number of digits, so that short numbers are as common as long ones."""
    digits = rng.randint(shortest, 6)
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits - 1)

WORDS = sorted(set(ONES + TENS + ['hundred', 'thousand', 'and']))
DIGITS = [str(d) for d in range(10)] + ['##' + str(d) for d in range(10)]
VOCAB = ['</s>', '<unk>'] + WORDS + DIGITS + ['<pad>']  # the Marian order: </s> 0, <unk> 1, …, <pad> last
INDEX = {t: i for i, t in enumerate(VOCAB)}
EOS, PAD = INDEX['</s>'], INDEX['<pad>']

def source_ids(n): return [INDEX[w] for w in number_words(n).split()] + [EOS]
def target_ids(n):
    s = str(n)
    return [INDEX[s[0]]] + [INDEX['##' + c] for c in s[1:]] + [EOS]

class Attention(nn.Module):
    def __init__(self, d, H):
        super().__init__(); self.H = H
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
    def forward(self, x, memory, bias):  # bias [b or 1, 1, t, T], additive
        B, t, d = x.shape; T = memory.shape[1]; H = self.H; dh = d // H
        q = self.q(x).view(B, t, H, dh).transpose(1, 2)
        k = self.k(memory).view(B, T, H, dh).transpose(1, 2)
        v = self.v(memory).view(B, T, H, dh).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(dh) + bias
        return self.o((torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, t, d))

class FFN(nn.Module):
    def __init__(self, d, f):
        super().__init__(); self.up = nn.Linear(d, f); self.down = nn.Linear(f, d)
    def forward(self, x): return self.down(F.silu(self.up(x)))

class Seq2Seq(nn.Module):
    def __init__(self, V, d, H, f, Le, Ld, P):
        super().__init__(); self.d = d
        self.enc_embed, self.dec_embed = nn.Embedding(V, d), nn.Embedding(V, d)
        self.enc_pos, self.dec_pos = nn.Embedding(P, d), nn.Embedding(P, d)
        self.enc = nn.ModuleList(nn.ModuleDict(dict(self_=Attention(d, H), ln1=nn.LayerNorm(d), ffn=FFN(d, f), ln2=nn.LayerNorm(d))) for _ in range(Le))
        self.dec = nn.ModuleList(nn.ModuleDict(dict(self_=Attention(d, H), ln1=nn.LayerNorm(d), cross=Attention(d, H), ln2=nn.LayerNorm(d),
                                                    ffn=FFN(d, f), ln3=nn.LayerNorm(d))) for _ in range(Ld))
        self.lm_head = nn.Linear(d, V, bias=False)
        self.final_logits_bias = nn.Parameter(torch.zeros(V))
        for m in self.modules():
            if isinstance(m, nn.Embedding): nn.init.normal_(m.weight, std=d ** -0.5)
    def encode(self, src, src_mask):  # src [b, S], src_mask [b, S] (1 = token)
        S = src.shape[1]
        h = self.enc_embed(src) * math.sqrt(self.d) + self.enc_pos(torch.arange(S))[None]
        bias = ((src_mask.float() - 1) * 1e9)[:, None, None, :]
        for L in self.enc:
            h = L['ln1'](h + L['self_'](h, h, bias))
            h = L['ln2'](h + L['ffn'](h))
        return h
    def decode(self, prefix, memory, src_mask):  # prefix [b, t]
        t = prefix.shape[1]
        h = self.dec_embed(prefix) * math.sqrt(self.d) + self.dec_pos(torch.arange(t))[None]
        causal = torch.triu(torch.full((t, t), -1e9), 1)[None, None]
        cross_bias = ((src_mask.float() - 1) * 1e9)[:, None, None, :]
        for L in self.dec:
            h = L['ln1'](h + L['self_'](h, h, causal))
            h = L['ln2'](h + L['cross'](h, memory, cross_bias))
            h = L['ln3'](h + L['ffn'](h))
        return self.lm_head(h) + self.final_logits_bias
    def forward(self, src, src_mask, prefix): return self.decode(prefix, self.encode(src, src_mask), src_mask)

def pad_rows(rows):
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), PAD, dtype=torch.long); mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows): ids[i, :len(r)] = torch.tensor(r); mask[i, :len(r)] = 1
    return ids, mask

def make_batch(numbers):
    src, src_mask = pad_rows([source_ids(n) for n in numbers])
    tgt = [target_ids(n) for n in numbers]
    prefix, _ = pad_rows([[PAD] + t[:-1] for t in tgt])  # decoder_start_token_id = <pad>
    labels, label_mask = pad_rows(tgt)
    return src, src_mask, prefix, labels.masked_fill(label_mask == 0, -100)

@torch.no_grad()
def greedy(model, n, max_new=10):
    src = torch.tensor([source_ids(n)]); mask = torch.ones_like(src)
    memory = model.encode(src, mask); out = [PAD]
    for _ in range(max_new):
        nxt = int(model.decode(torch.tensor([out]), memory, mask)[0, -1].argmax()); out.append(nxt)
        if nxt == EOS: break
    return out

def decode_digits(ids): return ''.join(VOCAB[i].replace('##', '') for i in ids if i not in (PAD, EOS))

model = Seq2Seq(len(VOCAB), CFG['dim'], CFG['heads'], CFG['ffn'], CFG['enc_layers'], CFG['dec_layers'], CFG['positions'])
rng = random.Random(SEED)
test_rng = random.Random(SEED + 1000)
test_numbers = []
while len(test_numbers) < int(os.environ.get('TEST', '2000')):
    n = sample_number(test_rng, 3)
    if held_out(n): test_numbers.append(n)

LR = float(os.environ.get('LR', '2e-3')); BATCH = int(os.environ.get('BATCH', '64'))
opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
t0, cpu0, step = time.time(), time.process_time(), 0
def progress(): return max((time.process_time() - cpu0) / (MINUTES * 60), (time.time() - t0) / (3 * MINUTES * 60))
while progress() < 1:
    for g in opt.param_groups: g['lr'] = LR * min(1.0, step / 200) * max(0.05, 1 - progress())
    numbers = []
    while len(numbers) < BATCH:
        n = sample_number(rng)
        if not held_out(n): numbers.append(n)
    src, src_mask, prefix, labels = make_batch(numbers)
    logits = model(src, src_mask, prefix)
    loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), labels.reshape(-1), ignore_index=-100)
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); step += 1
    if step % 500 == 0:
        model.eval(); acc = sum(decode_digits(greedy(model, n)) == str(n) for n in test_numbers[:200]) / 200; model.train()
        print(f'step {step} loss {loss.item():.4f} held-out exact match (200) {acc:.3f} cpu {time.process_time() - cpu0:.0f}s wall {time.time() - t0:.0f}s', flush=True)
train_seconds = time.process_time() - cpu0
model.eval()
correct = sum(decode_digits(greedy(model, n)) == str(n) for n in test_numbers)
accuracy = correct / len(test_numbers)
print(f'held-out exact match: {correct}/{len(test_numbers)} = {accuracy:.4f}; {step} steps in {train_seconds:.0f}s', flush=True)

# Weights under the builder's names, Linear weights transposed to [in, out].
state = {}
state['enc.embed'] = model.enc_embed.weight; state['dec.embed'] = model.dec_embed.weight
state['enc.pos'] = model.enc_pos.weight; state['dec.pos'] = model.dec_pos.weight
state['lm_head'] = model.lm_head.weight.T; state['final_logits_bias'] = model.final_logits_bias
def linear(name, m): state[name] = m.weight.T; state[name + '.b'] = m.bias
def norm(name, m): state[name + '.w'] = m.weight; state[name + '.b'] = m.bias
for side, layers in (('enc', model.enc), ('dec', model.dec)):
    for i, L in enumerate(layers):
        blocks = [('self', L['self_'])] + ([('cross', L['cross'])] if side == 'dec' else [])
        for block, att in blocks:
            for p in 'qkvo': linear(f'{side}.{i}.{block}.{p}', getattr(att, p))
        linear(f'{side}.{i}.ffn.up', L['ffn'].up); linear(f'{side}.{i}.ffn.down', L['ffn'].down)
        for n in range(1, len(blocks) + 2): norm(f'{side}.{i}.ln{n}', L[f'ln{n}'])
manifest, offset = [], 0
with open(os.path.join(OUT, 'weights.bin'), 'wb') as f:
    for name, t in state.items():
        a = t.detach().float().contiguous().numpy().astype('<f4')
        f.write(a.tobytes()); manifest.append(dict(name=name, shape=list(a.shape), offset=offset)); offset += a.nbytes
reference = []
with torch.no_grad():
    for n in [7, 342, 1005, 70017, 999999, 480126]:
        src = torch.tensor([source_ids(n)]); mask = torch.ones_like(src); out = greedy(model, n)
        logits = model(src, mask, torch.tensor([out[:-1]]))[0]
        reference.append(dict(text=number_words(n), ids=source_ids(n), greedy=out, logits=logits[-1].tolist()))
json.dump(dict(config=CFG, seed=SEED, steps=step, batch=BATCH, train_seconds=train_seconds, accuracy=accuracy, correct=correct,
               test=[dict(text=number_words(n), digits=str(n)) for n in test_numbers],
               parameters=sum(p.numel() for p in model.parameters()), tensors=manifest),
          open(os.path.join(OUT, 'manifest.json'), 'w'), indent=1)
json.dump(VOCAB, open(os.path.join(OUT, 'vocab.json'), 'w'))
json.dump(reference, open(os.path.join(OUT, 'reference.json'), 'w'))
