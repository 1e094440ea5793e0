import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Every temporary folder a run makes, its own and those of the CLIs it starts, goes under one folder that is
 * removed when the run ends, and derived graphs are cached there unless INTERP_CACHE_DIR says otherwise: a run
 * leaves nothing in /tmp or in the user's cache. The workers inherit TMPDIR, which os.tmpdir() reads.
 */
export default function setup(): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-tests-'));
  // The golden corpus keeps its paths as long as they always were (test/e2e/golden.test.ts).
  process.env.INTERP_TESTS_OUTER_TMPDIR ??= os.tmpdir();
  process.env.TMPDIR = root;
  process.env.INTERP_CACHE_DIR ??= path.join(root, 'cache');
  // Two test processes share the 2 cores: each runs its sessions on one thread, as onnxruntime did before
  // interp's default became the physical cores (test/unit/runtime/threads.test.ts checks that default).
  process.env.INTERP_THREADS ??= '1';
  return () => fs.rmSync(root, { recursive: true, force: true });
}
