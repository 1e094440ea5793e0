import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultThreads, physicalCores, sessionOptions } from '../../../src/runtime/session.js';

const cpu = (processor: number, pkg: number | null, core: number | null) =>
  [
    `processor\t: ${processor}`,
    'model name\t: AMD EPYC',
    ...(pkg === null ? [] : [`physical id\t: ${pkg}`]),
    ...(core === null ? [] : [`core id\t\t: ${core}`]),
  ].join('\n');
const cpuinfo = (...cpus: string[]) => cpus.join('\n\n') + '\n\n';
const within = (n: number) => Math.min(n, os.availableParallelism());

describe('the default intra-op threads: physical cores by /proc/cpuinfo', () => {
  it('counts distinct physical id and core id pairs: hyperthreads of one core count once', () => {
    expect(physicalCores(cpuinfo(cpu(0, 0, 0), cpu(1, 0, 1)))).toBe(within(2)); // a VM: a thread a core
    expect(physicalCores(cpuinfo(cpu(0, 0, 0), cpu(1, 0, 0)))).toBe(1); // one core, two hyperthreads
    expect(physicalCores(cpuinfo(cpu(0, 0, 0), cpu(1, 0, 1), cpu(2, 0, 0), cpu(3, 0, 1)))).toBe(within(2));
    expect(physicalCores(cpuinfo(cpu(0, 0, 0), cpu(1, 1, 0)))).toBe(within(2)); // two sockets, core 0 each
  });

  it("leaves onnxruntime's own choice where the file does not say", () => {
    expect(physicalCores(null)).toBeUndefined();
    expect(physicalCores('')).toBeUndefined();
    expect(physicalCores(cpuinfo(cpu(0, null, null), cpu(1, null, null)))).toBeUndefined(); // an ARM kernel
  });

  it('is what a session opens with where neither --threads nor $INTERP_THREADS says', () => {
    const saved = process.env.INTERP_THREADS;
    delete process.env.INTERP_THREADS;
    try {
      const cores = physicalCores();
      expect(defaultThreads()).toBe(cores !== undefined && cores >= 2 ? cores : undefined);
      expect(sessionOptions().intraOpNumThreads).toBe(defaultThreads());
      expect(sessionOptions({ threads: 3 }).intraOpNumThreads).toBe(3);
      process.env.INTERP_THREADS = '1';
      expect(sessionOptions().intraOpNumThreads).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.INTERP_THREADS;
      else process.env.INTERP_THREADS = saved;
    }
  });
});
