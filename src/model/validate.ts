import { runtimeError } from '../errors.js';
import type { ModelConfig, Task } from './types.js';

/**
 * What config.json declares is checked against what the graph computes, once, when a model loads. A
 * classifier whose id2label does not match its logits, or a causal LM declared as a classifier, would
 * otherwise run and print a confident, wrong answer.
 */

/** One output as onnxruntime describes it: dimensions are numbers where fixed, names where symbolic. */
export interface OutputShape {
  name: string;
  shape?: readonly (number | string)[];
}

const TASK_WORDS: Record<Task, string> = {
  classification: 'a sequence classifier',
  'causal-lm': 'a causal language model',
  'masked-lm': 'a masked language model',
};

/** The architecture name config.json gives, refusing forms that are not a list of names. */
export function architectureOf(config: ModelConfig, spec: string): string {
  const declared = config.architectures;
  if (declared === undefined || declared === null) return '';
  if (!Array.isArray(declared) || declared.some((a) => typeof a !== 'string'))
    throw runtimeError(
      `'${spec}': config.json's "architectures" must be a list of names, got ${JSON.stringify(declared)}`,
    );
  return declared[0] ?? '';
}

/** A config.json that parsed: it must be a JSON object. */
export function checkConfigObject(config: unknown, spec: string): asserts config is ModelConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    throw runtimeError(
      `'${spec}': config.json must hold a JSON object, got ${config === null ? 'null' : typeof config}`,
    );
}

/**
 * Class names in index order. Ids must be 0…n−1 with no gap (id2label's keys are strings in JSON), names
 * must be strings, and `num_labels`, where given, must agree.
 */
export function labelsOf(config: ModelConfig, spec: string): string[] {
  const id2label = config.id2label;
  if (id2label === undefined || id2label === null)
    throw runtimeError(`classifier '${spec}' has no id2label in config.json`);
  if (typeof id2label !== 'object' || Array.isArray(id2label))
    throw runtimeError(`classifier '${spec}': config.json's id2label must be an object of id → name`);
  const entries = Object.entries(id2label);
  if (entries.length === 0) throw runtimeError(`classifier '${spec}' has no labels in config.json's id2label`);
  const labels: string[] = [];
  for (const [key, name] of entries) {
    const id = /^\d+$/.test(key) ? Number(key) : NaN;
    if (!Number.isSafeInteger(id) || id >= entries.length)
      throw runtimeError(
        `classifier '${spec}': config.json's id2label has id '${key}'; its ${entries.length} labels need ids 0 to ${entries.length - 1}`,
      );
    if (typeof name !== 'string' || name === '')
      throw runtimeError(`classifier '${spec}': config.json's id2label names id ${key} ${JSON.stringify(name)}`);
    labels[id] = name;
  }
  const declaredCount = config.num_labels;
  if (declaredCount !== undefined && declaredCount !== labels.length)
    throw runtimeError(
      `classifier '${spec}': config.json declares num_labels ${JSON.stringify(declaredCount)} but id2label has ${labels.length} labels`,
    );
  return labels;
}

const shapeText = (shape: readonly (number | string)[]) => `[${shape.join(', ')}]`;

/**
 * The declared task and labels against the logits output's shape: a classifier's logits are
 * [batch, labels], a language model's [batch, position, vocabulary]. Dimensions the graph leaves symbolic
 * are not checked here.
 */
export function checkLogitsShape(
  task: Task,
  labels: string[] | null,
  logits: OutputShape | undefined,
  architecture: string,
  spec: string,
): void {
  const shape = logits?.shape;
  if (!shape || shape.length === 0) return;
  const declared = `'${spec}' is declared ${TASK_WORDS[task]} (${architecture} in config.json)`;
  const expectedRank = task === 'classification' ? 2 : 3;
  if (shape.length !== expectedRank) {
    const graphIs =
      shape.length === 3 ? 'a language model' : shape.length === 2 ? 'a sequence classifier' : 'neither task';
    throw runtimeError(
      `${declared}, but its graph's ${logits!.name} output has shape ${shapeText(shape)}, as ${graphIs}'s would`,
    );
  }
  const width = shape[shape.length - 1];
  if (task === 'classification' && typeof width === 'number' && labels && width !== labels.length)
    throw runtimeError(
      `'${spec}': config.json's id2label declares ${labels.length} label${labels.length === 1 ? '' : 's'} but the graph's ${logits!.name} output has ${width}`,
    );
}

/** Logits read at run time, where the graph left their width symbolic: a classifier's must match its labels. */
export function checkLogitsWidth(width: number, labels: string[], spec: string): void {
  if (width !== labels.length)
    throw runtimeError(
      `'${spec}': config.json's id2label declares ${labels.length} label${labels.length === 1 ? '' : 's'} but the graph's logits have ${width}`,
    );
}
