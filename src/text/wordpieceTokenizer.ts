/**
 * tokenizer.json and tokenizer_config.json for a BERT-style WordPiece vocabulary, in the Hugging Face
 * tokenizers format that transformers.js reads. Used by the planted fixtures and the training pipeline.
 */
export interface WordPieceSpec {
  /** Full vocabulary in id order; special tokens included. */
  vocab: string[];
  /** Special tokens by role; each must be in `vocab`. */
  specials: {
    pad: string;
    unk: string;
    cls?: string;
    sep?: string;
    mask?: string;
    bos?: string;
    eos?: string;
  };
  /** Tokens added around a single sequence, e.g. ['[CLS]', '$A', '[SEP]'] or ['<s>', '$A']. */
  template: string[];
  lowercase?: boolean;
  maxLength: number;
}

export function wordPieceTokenizerFiles(spec: WordPieceSpec): { tokenizer: object; config: object } {
  const id = new Map(spec.vocab.map((t, i) => [t, i]));
  const specialTokens = [...new Set(Object.values(spec.specials).filter((t): t is string => !!t))];
  for (const t of specialTokens) if (!id.has(t)) throw new Error(`special token ${t} is not in the vocabulary`);
  const sequence = (typeId: number) =>
    spec.template.map((t) =>
      t === '$A' ? { Sequence: { id: 'A', type_id: typeId } } : { SpecialToken: { id: t, type_id: typeId } },
    );
  const templateSpecials = spec.template.filter((t) => t !== '$A');
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((t) => ({
      id: id.get(t),
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: spec.lowercase ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: sequence(0),
      pair: [...sequence(0), ...sequence(1).slice(1)],
      special_tokens: Object.fromEntries(templateSpecials.map((t) => [t, { id: t, ids: [id.get(t)], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: spec.specials.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(spec.vocab.map((t, i) => [t, i])),
    },
  };
  const s = spec.specials;
  const config = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: spec.lowercase ?? true,
    model_max_length: spec.maxLength,
    unk_token: s.unk,
    pad_token: s.pad,
    ...(s.cls ? { cls_token: s.cls } : {}),
    ...(s.sep ? { sep_token: s.sep } : {}),
    ...(s.mask ? { mask_token: s.mask } : {}),
    ...(s.bos ? { bos_token: s.bos } : {}),
    ...(s.eos ? { eos_token: s.eos } : {}),
  };
  return { tokenizer, config };
}
