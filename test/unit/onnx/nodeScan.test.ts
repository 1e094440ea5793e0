import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodesMention } from '../../../src/onnx/nodeScan.js';
import { decodeModel } from '../../../src/onnx/proto.js';
import { tempDir } from '../../helpers.js';

describe('nodesMention reads the graph nodes of a model file, not its initializers', () => {
  it.each(['models/sst2-tiny/onnx/model.onnx', 'models/tiny-lm/onnx/model.onnx'])(
    '%s: every op type the decoded graph holds is found, and one it lacks is not',
    (file) => {
      const ops = new Set(decodeModel(fs.readFileSync(file)).graph.node.map((n) => n.opType));
      expect(ops.size).toBeGreaterThan(3);
      for (const op of ops) expect(nodesMention(file, op), op).toBe(true);
      expect(nodesMention(file, 'DynamicQuantize')).toBe(false);
    },
  );

  it('a file that is not a protobuf message is searched whole', () => {
    const dir = tempDir('interp-nodescan-');
    try {
      const file = path.join(dir, 'model.onnx');
      fs.writeFileSync(file, Buffer.concat([Buffer.from([0x0b, 0xff]), Buffer.from(' DynamicQuantizeLinear ')]));
      expect(nodesMention(file, 'DynamicQuantize')).toBe(true);
      expect(nodesMention(file, 'MatMulNBits')).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
