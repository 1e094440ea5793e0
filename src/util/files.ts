import fs from 'node:fs';
import path from 'node:path';
import { usageError, usageFault } from '../errors.js';

/**
 * The one door for the user's files: every text file a user names (datasets, corpora, lists, templates,
 * pairs) is decoded and refused here, and every file interp writes goes out through `writeFileAtomic`.
 */

/** Text files are read whole up to this size; larger ones are refused rather than filling memory. */
export const MAX_TEXT_BYTES = 256 * 1024 * 1024;
/** No line of a text file may be longer: a sentence, a record or a template is never a megabyte. */
export const MAX_LINE_CHARS = 1024 * 1024;
const CHUNK = 1024 * 1024;

const FS_REASONS: Record<string, string> = {
  ENOTDIR: 'a folder on its path is a file',
  EEXIST: 'a folder on its path is a file',
  EISDIR: 'it is a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EFBIG: 'the file is too large for its file system',
  EDQUOT: 'over the disk quota',
  ENXIO: 'nothing is reading it',
  ELOOP: 'too many symbolic links',
};

/** Why a file operation failed, in words, without the temporary names it used. */
export const fsReason = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  return (code && FS_REASONS[code]) ?? code ?? (e as Error).message.split('\n')[0];
};

/** Why a file could not be read: in words where there are some, else the system's whole line (it names no temporary file). */
const readReason = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  return (code && FS_REASONS[code]) ?? (e as Error).message.split('\n')[0];
};

/** A file's status, or null where there is none to have (missing, or a file where a folder should be). */
const statOrNull = (file: string): fs.Stats | null => {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
};

/** Files read as input in this process, by device and inode, so that no output lands on one of them. */
const inputs = new Map<string, { file: string; param: string }>();
const identity = (s: fs.Stats) => `${s.dev}:${s.ino}`;

/** Files being appended to (results), so that no input is read from one of them while it grows. */
const outputs = new Map<string, { file: string; param: string }>();

/** Remember `file` as an output while it is written; returns the function that forgets it. */
export function noteOutput(file: string, param: string): () => void {
  const stat = statOrNull(file);
  if (!stat?.isFile()) return () => {};
  const key = identity(stat);
  outputs.set(key, { file, param });
  return () => void outputs.delete(key);
}

/** Refuse to write `file` when it is (by device and inode) a file this process read as input. */
export function refuseInput(file: string): void {
  const stat = statOrNull(file);
  const input = stat?.isFile() && inputs.get(identity(stat));
  if (input)
    throw usageError(
      `refusing to write ${file}: it is the file read as {param:${input.param}} (${input.file}); choose another file`,
    );
}

/**
 * UTF-8 text, checked as it arrives: a UTF-8 byte-order mark is dropped, and UTF-16, NUL bytes (binary
 * files, UTF-16 without a mark) and undecodable bytes are one refusal that names the file.
 */
class CheckedDecoder {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  private first = true;
  constructor(
    private readonly file: string,
    private readonly param: string,
  ) {}

  decode(bytes: Uint8Array, end = false): string {
    if (this.first && bytes.length > 0) {
      this.first = false;
      if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
        throw usageFault(this.param, `{param} ${this.file} is UTF-16 text; save it as UTF-8`);
    }
    if (bytes.includes(0)) throw this.binary();
    try {
      return this.decoder.decode(bytes, { stream: !end });
    } catch {
      throw this.binary();
    }
  }

  private binary() {
    return usageFault(this.param, `{param} ${this.file} is not UTF-8 text (it looks binary)`);
  }
}

function openInput(file: string, param: string): number {
  let fd: number;
  let stat: fs.Stats;
  try {
    fd = fs.openSync(file, 'r');
    stat = fs.fstatSync(fd);
    if (stat.isDirectory()) {
      fs.closeSync(fd);
      throw Object.assign(new Error('folder'), { code: 'EISDIR' });
    }
  } catch (e) {
    throw usageFault(param, `cannot read {param} ${file}: ${readReason(e)}`);
  }
  const output = outputs.get(identity(stat));
  if (output) {
    fs.closeSync(fd);
    throw usageFault(
      param,
      `refusing to read {param} ${file}: it is the file written as {param:${output.param}} (${output.file})`,
    );
  }
  // Remembered as an input: writing over it later is refused, whatever name or link reaches it.
  if (stat.isFile()) inputs.set(identity(stat), { file, param });
  return fd;
}

/** A user's text file (named by the parameter `param`), whole, through the one decoder and its refusals. */
export function readUserText(file: string, param: string): string {
  const fd = openInput(file, param);
  const decoder = new CheckedDecoder(file, param);
  const parts: string[] = [];
  const buffer = Buffer.alloc(CHUNK);
  try {
    for (let total = 0; ;) {
      const n = fs.readSync(fd, buffer, 0, CHUNK, null);
      parts.push(decoder.decode(buffer.subarray(0, n), n === 0));
      if (n === 0) break;
      if ((total += n) > MAX_TEXT_BYTES)
        throw usageFault(param, `{param} ${file} is over ${MAX_TEXT_BYTES >> 20} MiB; split it`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code) throw usageFault(param, `cannot read {param} ${file}: ${readReason(e)}`);
    throw e;
  } finally {
    fs.closeSync(fd);
  }
  return parts.join('');
}

function tooLong(file: string, line: number) {
  return usageError(`${file}:${line} is longer than ${MAX_LINE_CHARS >> 20} MiB; no sentence or record is that long`);
}

/** The lines of a text (without their line ends), each at most MAX_LINE_CHARS long. */
export function textLines(text: string, file: string): string[] {
  const lines = text.split(/\r?\n/);
  const long = lines.findIndex((l) => l.length > MAX_LINE_CHARS);
  if (long >= 0) throw tooLong(file, long + 1);
  return lines;
}

/** The lines of a user's text file or of stdin (`-`), streamed through the same decoder and line limit. */
export async function* streamUserLines(file: string, param: string): AsyncGenerator<string> {
  const input = file === '-' ? process.stdin : fs.createReadStream(file, { fd: openInput(file, param) });
  const decoder = new CheckedDecoder(file, param);
  let pending = '';
  let line = 0;
  for await (const chunk of input) {
    const parts = (pending + decoder.decode(chunk as Buffer)).split('\n');
    pending = parts.pop()!;
    if (pending.length > MAX_LINE_CHARS) throw tooLong(file, line + 1);
    for (const part of parts) {
      if (part.length > MAX_LINE_CHARS + 1) throw tooLong(file, line + 1);
      line++;
      yield part.endsWith('\r') ? part.slice(0, -1) : part;
    }
  }
  pending += decoder.decode(new Uint8Array(0), true);
  if (pending) yield pending;
}

/** One line of a results file, with where it starts and whether its newline was written. */
export interface ResultLine {
  text: string;
  /** Byte offset of the line's start. */
  start: number;
  /** False for a last line without its newline: a record cut short. */
  ended: boolean;
}

/**
 * The lines of a results file that interp appends to: only a regular file (a device or a pipe holds no
 * earlier results, and reading one may never end), and only the bytes it held when opened.
 */
export function readResultLines(file: string): ResultLine[] {
  const stat = statOrNull(file);
  if (!stat?.isFile()) return [];
  const fd = fs.openSync(file, 'r');
  const out: ResultLine[] = [];
  try {
    const buffer = Buffer.alloc(CHUNK);
    let pending: Buffer[] = [];
    let start = 0;
    for (let at = 0; at < stat.size;) {
      const n = fs.readSync(fd, buffer, 0, Math.min(CHUNK, stat.size - at), at);
      if (n === 0) break;
      let from = 0;
      for (let nl = buffer.indexOf(10, 0); nl >= 0 && nl < n; nl = buffer.indexOf(10, from)) {
        const bytes = Buffer.concat([...pending, buffer.subarray(from, nl)]);
        out.push({ text: bytes.toString('utf8'), start, ended: true });
        start += bytes.length + 1;
        pending = [];
        from = nl + 1;
      }
      pending.push(Buffer.from(buffer.subarray(from, n)));
      at += n;
    }
    const rest = Buffer.concat(pending);
    if (rest.length) out.push({ text: rest.toString('utf8'), start, ended: false });
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** The names `file` leads through, link by link, to the last (which may not exist yet). */
function linkChain(file: string): string[] {
  const chain = [path.resolve(file)];
  for (let hops = 0; hops < 40; hops++) {
    const at = chain[chain.length - 1];
    if (!fs.lstatSync(at, { throwIfNoEntry: false })?.isSymbolicLink()) return chain;
    chain.push(path.resolve(path.dirname(at), fs.readlinkSync(at)));
  }
  throw Object.assign(new Error('loop'), { code: 'ELOOP' });
}

/**
 * The descriptor a name stands for (/dev/stdout, /dev/fd/1, /proc/self/fd/1, or a link to one): written to
 * as it is, whatever it is (a pipe, a socket, a terminal or a file), since reopening a socket is impossible.
 */
function descriptorOf(file: string): number | null {
  for (const name of linkChain(file)) {
    const std = /^\/dev\/std(in|out|err)$/.exec(name);
    if (std) return ['in', 'out', 'err'].indexOf(std[1]);
    const fd = /^\/(?:dev|proc\/(self|\d+))\/fd\/(\d+)$/.exec(name);
    if (fd && (fd[1] === undefined || fd[1] === 'self' || Number(fd[1]) === process.pid)) return Number(fd[2]);
  }
  return null;
}

/**
 * Open a file that must not be replaced (a device, a pipe, stdout's descriptor) for writing through.
 * A pipe with no reader, a socket or a block device cannot take a document: they are refused.
 */
function openThrough(file: string, stat: fs.Stats, flags: 'w' | 'a'): number {
  if (stat.isDirectory()) throw Object.assign(new Error('folder'), { code: 'EISDIR' });
  if (stat.isBlockDevice() || stat.isSocket())
    throw new Error(stat.isSocket() ? 'it is a socket' : 'it is a block device');
  const mode = stat.isFile() ? flags : fs.constants.O_WRONLY | (flags === 'a' ? fs.constants.O_APPEND : 0);
  if (!stat.isFIFO()) return fs.openSync(file, mode);
  // Opening a pipe with no reader would wait for ever: open it without waiting first (ENXIO: no reader),
  // and keep that open until the real one is, so that the reader never sees the pipe close between them.
  const probe = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  try {
    return fs.openSync(file, mode);
  } finally {
    fs.closeSync(probe);
  }
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  for (let at = 0; at < bytes.length;) {
    try {
      at += fs.writeSync(fd, bytes, at, bytes.length - at);
    } catch (e) {
      // A descriptor Node keeps non-blocking (stdout on a pipe) is full for a moment: try again. A reader that
      // closed early (`| head`) is no failure, as on stdout: the rest is dropped quietly.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return;
      if (code !== 'EAGAIN') throw e;
    }
  }
}

/** Whether writing `file` must go through to what is there (not a regular file) rather than replace it. */
function throughStat(file: string): fs.Stats | null {
  const stat = statOrNull(file);
  return stat && !stat.isFile() ? stat : null;
}

const cannotWrite = (file: string, e: unknown) => new Error(`cannot write ${file}: ${fsReason(e)}`, { cause: e });

/**
 * Write a file atomically: a temporary file beside it, then rename. A symbolic link is followed (its target
 * is replaced, never the link), and a device, a pipe or a descriptor name (/dev/stdout, /proc/self/fd/1) is
 * written through, never replaced. Never onto a file this process read as input.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  refuseInput(file);
  let tmp: string | undefined;
  try {
    const fd = descriptorOf(file);
    if (fd !== null) return writeAll(fd, data);
    const through = throughStat(file);
    if (through) {
      const fd = openThrough(file, through, 'w');
      try {
        return writeAll(fd, data);
      } finally {
        fs.closeSync(fd);
      }
    }
    const target = linkChain(file).pop()!;
    tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, target);
  } catch (e) {
    if (tmp) fs.rmSync(tmp, { force: true });
    // The temporary name is ours, not the user's: say which file could not be written.
    throw cannotWrite(file, e);
  }
}

/**
 * Check that `file` can be appended to, creating it (and its folder) if need be. Returns whether it is a
 * regular file: only a regular file holds earlier results to resume from, or needs a lock.
 */
export function prepareAppend(file: string): boolean {
  refuseInput(file);
  if (descriptorOf(file) !== null) return false;
  const through = throughStat(file);
  if (through) {
    // Records are appended one open at a time: a pipe's reader would see it end after the first.
    if (through.isFIFO()) throw new Error('a pipe cannot take results record by record; write to a file');
    fs.closeSync(openThrough(file, through, 'a'));
    return false;
  }
  fs.mkdirSync(path.dirname(linkChain(file).pop()!), { recursive: true });
  fs.closeSync(fs.openSync(file, 'a'));
  return true;
}

/** Append one line (a record) with a single write, worded as one error where it fails. */
export function appendLine(file: string, line: string): void {
  try {
    const text = line.endsWith('\n') ? line : line + '\n';
    const fd = descriptorOf(file);
    if (fd === null) fs.appendFileSync(file, text);
    else writeAll(fd, text);
  } catch (e) {
    throw cannotWrite(file, e);
  }
}
