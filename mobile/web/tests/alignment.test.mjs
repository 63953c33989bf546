// The browser's alignment and paste back (src/alignment.js) against the Python side's
// (c2fdan_tf/inference/alignment.py: NumPy's SVD for the transform, OpenCV for the warps).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { invertAffine, pasteBack, similarityTransform, warpToFace } from '../src/alignment.js';
import TEMPLATE from '../src/face_template.json' with { type: 'json' };

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const python = process.env.C2FDAN_PYTHON || path.join(repo, '.venv', 'bin', 'python');

function pythonJson(code, input) {
  const out = execFileSync(python, ['-c', code], { cwd: repo, input: JSON.stringify(input), env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
  return JSON.parse(out.toString());
}

// Five landmarks of a face somewhere in a photo: the template rotated, scaled, moved and jittered.
function landmarks(seed, angle, scale, dx, dy) {
  let s = seed;
  const noise = () => { s = (s * 1103515245 + 12345) % 2 ** 31; return (s / 2 ** 31 - 0.5) * 4; };
  const [c, sn] = [Math.cos(angle), Math.sin(angle)];
  return TEMPLATE.points.map(([x, y]) => [scale * (c * x - sn * y) + dx + noise(), scale * (sn * x + c * y) + dy + noise()]);
}

test('the similarity transform equals the Python (Umeyama, SVD) one', () => {
  const cases = [landmarks(1, 0.3, 2.5, 140, 60), landmarks(2, -0.8, 0.7, 30, 90), landmarks(3, 2.9, 5.0, 400, 300)];
  const expected = pythonJson(
    'import json, sys; from c2fdan_tf.inference.alignment import similarity_transform, TEMPLATE\n' +
    'print(json.dumps([similarity_transform(p, TEMPLATE).ravel().tolist() for p in json.load(sys.stdin)]))', cases);
  cases.forEach((points, k) => {
    const got = similarityTransform(points, TEMPLATE.points);
    got.forEach((v, i) => assert.ok(Math.abs(v - expected[k][i]) < 1e-9, `case ${k}, entry ${i}: ${v} vs ${expected[k][i]}`));
  });
});

function randomPhoto(width, height, seed) {
  const data = new Uint8ClampedArray(width * height * 4);
  let s = seed;
  for (let i = 0; i < data.length; i += 1) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    // smooth-ish content: a gradient plus noise, so interpolation errors stay small
    const p = Math.floor(i / 4);
    data[i] = i % 4 === 3 ? 255 : ((p % width) * 2 + Math.floor(p / width) + (s % 24)) % 256;
  }
  return { width, height, data };
}

test('warping: the identity copies the photo exactly; a whole-pixel shift moves it', () => {
  const photo = randomPhoto(112, 112, 7);
  const same = warpToFace(photo, [1, 0, 0, 0, 1, 0], 112);
  assert.deepEqual(Array.from(same.data), Array.from(photo.data));
  const big = randomPhoto(200, 150, 8);
  const moved = warpToFace(big, [1, 0, -30, 0, 1, -20], 112); // aligned (x, y) = photo (x + 30, y + 20)
  for (let y = 0; y < 112; y += 1) {
    for (let x = 0; x < 112; x += 1) {
      for (let c = 0; c < 3; c += 1) assert.equal(moved.data[4 * (y * 112 + x) + c], big.data[4 * ((y + 20) * 200 + x + 30) + c]);
    }
  }
});

test('pasting back equals OpenCV-based paste_back, and touches nothing outside the mask', () => {
  const photo = randomPhoto(240, 200, 11);
  const points = landmarks(5, 0.25, 1.2, 50, 30);
  const matrix = similarityTransform(points, TEMPLATE.points);
  const completed = new Float32Array(112 * 112 * 3);
  const mask = new Float32Array(112 * 112);
  for (let y = 0; y < 112; y += 1) {
    for (let x = 0; x < 112; x += 1) {
      const p = y * 112 + x;
      completed[3 * p] = x / 111; completed[3 * p + 1] = y / 111; completed[3 * p + 2] = 0.5;
      mask[p] = y >= 60 && y < 80 && x >= 20 && x < 90 ? 0.9 : 0.1; // a subtitle band, soft values
    }
  }
  const ours = { ...photo, data: new Uint8ClampedArray(photo.data) };
  const touched = pasteBack(ours, completed, mask, matrix, 112);
  const rgb = [];
  for (let i = 0; i < photo.data.length; i += 4) rgb.push(photo.data[i], photo.data[i + 1], photo.data[i + 2]);
  const theirs = pythonJson(
    'import json, sys; import numpy as np; from c2fdan_tf.inference.alignment import paste_back\n' +
    'd = json.load(sys.stdin); photo = np.array(d["rgb"], np.uint8).reshape(200, 240, 3)\n' +
    'out, m = paste_back(photo, np.array(d["completed"], np.float32).reshape(112, 112, 3), np.array(d["mask"]), ' +
    'np.array(d["matrix"]).reshape(2, 3))\n' +
    'print(json.dumps({"out": out.ravel().tolist(), "mask": (m > 0).ravel().tolist()}))',
    { rgb, completed: Array.from(completed), mask: Array.from(mask), matrix: matrix.slice() });
  let worst = 0; let changedOutside = 0; let agreeOnMask = 0; let pasted = 0;
  for (let p = 0; p < 240 * 200; p += 1) {
    const inPython = theirs.mask[p];
    pasted += inPython ? 1 : 0;
    const differs = [0, 1, 2].some((c) => ours.data[4 * p + c] !== photo.data[4 * p + c]);
    if (!inPython && differs) changedOutside += 1;
    if (inPython) agreeOnMask += 1;
    for (let c = 0; c < 3; c += 1) worst = Math.max(worst, Math.abs(ours.data[4 * p + c] - theirs.out[3 * p + c]));
  }
  assert.ok(pasted > 1000 && Math.abs(touched - pasted) <= 0.02 * pasted, `touched ${touched} pixels, Python ${pasted}`);
  assert.equal(changedOutside, 0, 'pixels changed where Python pastes nothing');
  // OpenCV interpolates in fixed point (1/32 pixel, 15-bit weights): a few levels apart at most.
  assert.ok(worst <= 4, `largest difference from OpenCV's paste: ${worst} levels`);
  assert.deepEqual(invertAffine(invertAffine(matrix)).map((v) => Math.round(v * 1e9)), matrix.map((v) => Math.round(v * 1e9)));
});
