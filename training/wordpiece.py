"""BERT-style WordPiece tokenization, matching the tokenizer.json that src/text/wordpieceTokenizer.ts writes
(BertNormalizer with lowercasing and accent stripping, BertPreTokenizer, greedy longest-match WordPiece)."""
import unicodedata
from collections import Counter

SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']


def is_punctuation(ch):
    o = ord(ch)
    return (33 <= o <= 47) or (58 <= o <= 64) or (91 <= o <= 96) or (123 <= o <= 126) or unicodedata.category(ch).startswith('P')


def basic_tokenize(text):
    text = unicodedata.normalize('NFD', text.lower())
    text = ''.join(c for c in text if unicodedata.category(c) != 'Mn')
    out = []
    for word in text.split():
        cur = ''
        for ch in word:
            if is_punctuation(ch):
                if cur: out.append(cur); cur = ''
                out.append(ch)
            else:
                cur += ch
        if cur: out.append(cur)
    return out


def build_vocab(texts, limit, specials=SPECIALS, min_count=2):
    """Specials, every character seen (as a word start and as a ##continuation), then whole words by frequency."""
    counts = Counter(w for t in texts for w in basic_tokenize(t))
    chars = sorted({c for w in counts for c in w})
    vocab = list(specials) + chars + ['##' + c for c in chars]
    seen = set(vocab)
    for w, n in counts.most_common():
        if len(vocab) >= limit: break
        if n >= min_count and w not in seen: vocab.append(w); seen.add(w)
    return vocab


class WordPiece:
    def __init__(self, vocab):
        self.vocab = vocab
        self.index = {t: i for i, t in enumerate(vocab)}

    def pieces(self, word):
        if len(word) > 100: return ['[UNK]']
        out, start = [], 0
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = word[start:end] if start == 0 else '##' + word[start:end]
                if sub in self.index: cur = sub; break
                end -= 1
            if cur is None: return ['[UNK]']
            out.append(cur); start = end
        return out

    def ids(self, text):
        return [self.index[p] for w in basic_tokenize(text) for p in self.pieces(w)]
