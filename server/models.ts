import fs from 'node:fs';
import path from 'node:path';
import { EMBEDDED_MODELS } from '../src/model/load.js';
import { isSeq2SeqModel, loadAnyModel, unloadAnyModel, type AnyModel } from '../src/model/seq2seq.js';
import { problem } from './problems.js';

export interface ModelPolicy {
  /** Folders under this one may be named in requests (relative to it); nothing else on disk. */
  allowLocal?: string;
  /** Hub ids may be named (the server then downloads to its cache). */
  allowHub: boolean;
  maxModels: number;
  threads?: number;
}

interface Entry {
  spec: string;
  folder?: string;
  dtype: string;
  model: Promise<AnyModel>;
  users: number;
  loadedAt: string;
  requests: number;
}

const HUB_ID = /^[\w-][\w.-]*\/[\w-][\w.-]*$/;

/**
 * The models a server holds: loaded once, shared by concurrent requests, bounded by an LRU of `maxModels`
 * (a model in use is never dropped; the pool shrinks back when its requests end). What a request may name
 * is decided here, before anything touches the disk.
 */
export class ModelPool {
  private readonly entries = new Map<string, Entry>();
  private readonly root?: string;

  constructor(private readonly policy: ModelPolicy) {
    this.root = policy.allowLocal ? fs.realpathSync(policy.allowLocal) : undefined;
  }

  /** The spec to load for a requested name: an embedded name, a folder under --allow-local-models, or a hub id. */
  resolve(name: string, field = 'model'): { spec: string; folder?: string } {
    if (EMBEDDED_MODELS[name]) return { spec: name };
    if (this.root) {
      if (path.isAbsolute(name) || name.split(/[\\/]/).includes('..'))
        throw problem(403, `'${name}': name a folder relative to the allowed model folder, without '..'`, field);
      const candidate = path.join(this.root, name);
      if (fs.existsSync(candidate)) {
        const real = fs.realpathSync(candidate);
        if (real !== this.root && !real.startsWith(this.root + path.sep))
          throw problem(403, `'${name}' leads outside the allowed model folder`, field);
        return { spec: name, folder: real };
      }
    }
    if (this.policy.allowHub && HUB_ID.test(name) && !name.includes('..')) return { spec: name };
    if (HUB_ID.test(name) && !this.policy.allowHub)
      throw problem(
        403,
        `'${name}': hub ids need a server started with --allow-hub${this.root ? '' : ' (and local folders --allow-local-models DIR)'}`,
        field,
      );
    if (/[\\/]|^[.~]/.test(name) && !this.root)
      throw problem(403, `'${name}': this server takes no paths (start it with --allow-local-models DIR)`, field);
    const known = Object.keys(EMBEDDED_MODELS).join(', ');
    throw problem(
      404,
      `unknown model '${name}': this server has ${known}${this.root ? ' and the folders it allows' : ''}`,
      field,
    );
  }

  /** A model for one request; call `release` when the request ends. */
  async acquire(name: string, dtype = 'fp32', field = 'model'): Promise<{ model: AnyModel; release: () => void }> {
    const { spec, folder } = this.resolve(name, field);
    const key = `${spec}\u0000${dtype}`;
    let entry = this.entries.get(key);
    if (entry) this.entries.delete(key);
    entry ??= {
      spec,
      folder,
      dtype,
      model: loadAnyModel(spec, { dtype, threads: this.policy.threads, folder }),
      users: 0,
      loadedAt: new Date().toISOString(),
      requests: 0,
    };
    this.entries.set(key, entry);
    entry.users++;
    entry.requests++;
    this.evict();
    const release = () => {
      entry.users--;
      this.evict();
    };
    try {
      return { model: await entry.model, release };
    } catch (e) {
      this.entries.delete(key);
      release();
      throw e;
    }
  }

  /** Drop the least recently used idle models beyond the bound. */
  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.policy.maxModels) return;
      if (entry.users > 0) continue;
      this.entries.delete(key);
      const options = { dtype: entry.dtype, threads: this.policy.threads, folder: entry.folder };
      void entry.model.then((model) => unloadAnyModel(model, entry.spec, options)).catch(() => undefined);
    }
  }

  async list() {
    const out = [];
    for (const e of this.entries.values()) {
      const model = await e.model.catch(() => null);
      if (!model) continue;
      out.push({
        id: model.id,
        dtype: e.dtype,
        task: isSeq2SeqModel(model) ? 'seq2seq' : model.task,
        labels: isSeq2SeqModel(model) ? null : model.labels,
        loadedAt: e.loadedAt,
        requests: e.requests,
        inUse: e.users,
      });
    }
    return out;
  }

  get size(): number {
    return this.entries.size;
  }
}
