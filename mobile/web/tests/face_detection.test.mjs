// The detector's JavaScript parts against independent references: the pyramid's area resize
// against TensorFlow's tf.image.resize(method='area'), the packing of levels into PNet canvases
// against its invariants.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AreaPyramid, minimumFace, packLevels, scalePyramid } from '../src/face_detection.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const python = process.env.C2FDAN_PYTHON || path.join(repo, '.venv', 'bin', 'python');

test('every pyramid level equals TensorFlow\'s area resize of the picture', () => {
  const [w, h] = [97, 61];
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < rgba.length; i += 1) rgba[i] = (i * 2654435761) >>> 24;
  const sizes = [[48, 30], [33, 21], [12, 12], [97, 61], [5, 40]];
  const reference = JSON.parse(execFileSync(python, ['-c',
    'import json, sys, numpy as np, tensorflow as tf\n' +
    'd = json.load(sys.stdin); img = np.array(d["rgba"], np.float32).reshape(d["h"], d["w"], 4)[..., :3]\n' +
    'print(json.dumps([tf.image.resize(img[None], (oh, ow), method="area")[0].numpy().ravel().tolist() for ow, oh in d["sizes"]]))',
  ], { input: JSON.stringify({ rgba: Array.from(rgba), w, h, sizes }), env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } }).toString());
  const pyramid = new AreaPyramid({ width: w, height: h, data: rgba }, 4);
  sizes.forEach(([ow, oh], k) => {
    const level = pyramid.resize(ow, oh, 127.5, 128);
    const worst = Math.max(...Array.from(level.data, (v, i) => Math.abs(v - (reference[k][i] - 127.5) / 128)));
    assert.ok(worst < 1e-4, `${ow}x${oh}: ${worst} from TensorFlow's`);
  });
});

test('levels packed into PNet canvases: inside, apart, on even offsets, every level once', () => {
  const settings = { min_face_size: 20, min_size: 12, scale_factor: 0.709 };
  for (const [w, h] of [[512, 512], [640, 480], [480, 640], [640, 90], [112, 112]]) {
    const largest = settings.min_size / minimumFace(w, h, settings);
    const levels = scalePyramid(w, h, settings).filter((s) => s <= largest * (1 + 1e-9))
      .map((s) => ({ width: Math.floor(w * s), height: Math.floor(h * s) })).filter((l) => Math.min(l.width, l.height) >= 12);
    const canvases = packLevels(levels, [384, 256, 160, 96, 48]);
    const placed = canvases.flatMap((c) => c.levels.map((p) => ({ ...p, size: c.size, ...levels[p.index] })));
    assert.deepEqual(placed.map((p) => p.index).sort((a, b) => a - b), levels.map((_, i) => i));
    for (const p of placed) {
      assert.ok(p.x % 2 === 0 && p.y % 2 === 0, `odd offset ${p.x}, ${p.y}`);
      assert.ok(p.x + p.width <= p.size && p.y + p.height <= p.size, `level ${p.index} leaves its ${p.size} canvas`);
    }
    for (const c of canvases) {
      const boxes = c.levels.map((p) => ({ ...p, ...levels[p.index] }));
      for (const a of boxes) {
        for (const b of boxes) {
          if (a === b) continue;
          // At least 2 pixels of zeros between two levels (the cell of an odd level that reaches one pixel past it sees zeros).
          const apart = a.x + a.width + 2 <= b.x || b.x + b.width + 2 <= a.x || a.y + a.height + 2 <= b.y || b.y + b.height + 2 <= a.y;
          assert.ok(apart, `levels ${a.index} and ${b.index} touch in the ${c.size} canvas`);
        }
      }
    }
    // Fewer PNet runs than one per level (the previous release's count).
    if (levels.length > 3) assert.ok(canvases.length < levels.length, `${canvases.length} runs for ${levels.length} levels`);
  }
});
