import fs from 'node:fs';

/**
 * The op types that begin so (DynamicQuantizeLinear, and onnxruntime's operators that fuse it) quantize activations
 * with one scale over the whole tensor, that is over the batch: a row's numbers depend on the rows beside it.
 */
export const PER_BATCH_QUANTIZER = 'DynamicQuantize';

/** ModelProto.graph and GraphProto.node, as onnx.proto numbers them. */
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;

/** A file read at positions, through a window of 64 KB: the varints and length-delimited fields of a protobuf message. */
class Reader {
  private readonly window = Buffer.alloc(64 * 1024);
  private from = 0;
  private filled = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** The bytes [pos, pos + length), from the window where they lie in it (or it can be moved to hold them). */
  bytes(pos: number, length: number): Buffer {
    if (pos < this.from || pos + length > this.from + this.filled) {
      if (length > this.window.length) {
        const out = Buffer.alloc(length);
        fs.readSync(this.fd, out, 0, length, pos);
        return out;
      }
      this.from = pos;
      this.filled = fs.readSync(this.fd, this.window, 0, this.window.length, pos);
    }
    return this.window.subarray(pos - this.from, pos - this.from + length);
  }

  /** The varint at `pos` and the position after it. */
  varint(pos: number): [number, number] {
    const head = this.bytes(pos, Math.min(10, this.size - pos));
    let value = 0;
    for (let i = 0; i < head.length; i++) {
      value += (head[i] & 0x7f) * 2 ** (7 * i);
      if (head[i] < 0x80) return [value, pos + i + 1];
    }
    throw new Error('a varint runs past the end of the file');
  }

  /**
   * Each field of the message in [start, end): its number, and where a length-delimited one's bytes lie (the
   * others carry none that are read here). Null where the bytes are not a message of the four wire types in use.
   */
  fields(start: number, end: number): { field: number; from: number; to: number }[] | null {
    const out: { field: number; from: number; to: number }[] = [];
    for (let pos = start; pos < end;) {
      const [tag, at] = this.varint(pos);
      const [field, wire] = [Math.floor(tag / 8), tag % 8];
      if (wire === 0) pos = this.varint(at)[1];
      else if (wire === 1) pos = at + 8;
      else if (wire === 5) pos = at + 4;
      else if (wire === 2) {
        const [length, from] = this.varint(at);
        pos = from + length;
        out.push({ field, from, to: pos });
      } else return null;
      if (pos > end) return null;
    }
    return out;
  }
}

/**
 * Whether any node of the model file's graph (its op type, attributes and subgraphs) holds `text`. Only the
 * nodes are read: the initializers, which hold nearly all of a file's bytes, are skipped by their lengths (on
 * distilbert-sst2-mini's 18 MB file, 1.8 ms against 35 ms to read it whole and search it). A file that is not
 * such a message is read whole.
 */
export function nodesMention(file: string, text: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const reader = new Reader(fd, fs.fstatSync(fd).size);
    const graph = reader.fields(0, reader.size)?.find((f) => f.field === MODEL_GRAPH);
    const nodes = graph && reader.fields(graph.from, graph.to);
    if (!nodes) return fs.readFileSync(file).includes(text);
    return nodes.some((f) => f.field === GRAPH_NODE && reader.bytes(f.from, f.to - f.from).includes(text));
  } catch {
    return fs.readFileSync(file).includes(text);
  } finally {
    fs.closeSync(fd);
  }
}
