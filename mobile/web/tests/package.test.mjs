// copy-model's check of the packaged pretrained model (scripts/install-models.mjs: verifyPackage)
// on a made-up package, and on the real one in c2fdan_tf/pretrained/.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportFolderModels, verifyPackage } from '../scripts/install-models.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// SHA-256("abc"), FIPS 180-2's first example: an independent reference for the hash the check uses.
const ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

function madeUpPackage(files) {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'package-'));
  mkdirSync(path.join(folder, 'face_detector'));
  writeFileSync(path.join(folder, 'c2fdan_int8.tflite'), 'abc');
  writeFileSync(path.join(folder, 'face_detector', 'onet.tflite'), 'abc');
  writeFileSync(path.join(folder, 'manifest.json'), JSON.stringify({ files }));
  return folder;
}

test('a package whose files match their SHA-256 passes; a changed or truncated one names the file', () => {
  const entry = { sha256: ABC, size_bytes: 3 };
  const good = madeUpPackage({ 'c2fdan_int8.tflite': entry, 'face_detector/onet.tflite': entry });
  assert.equal(Object.keys(verifyPackage(good).files).length, 2);
  const changed = madeUpPackage({ 'c2fdan_int8.tflite': entry, 'face_detector/onet.tflite': { ...entry, sha256: ABC.replace('b', 'c') } });
  assert.throws(() => verifyPackage(changed), /onet\.tflite does not match its SHA-256/);
  const truncated = madeUpPackage({ 'c2fdan_int8.tflite': { ...entry, size_bytes: 4 } });
  assert.throws(() => verifyPackage(truncated), /c2fdan_int8\.tflite has 3 bytes, the manifest 4: truncated/);
  const missing = madeUpPackage({ 'c2fdan_given_mask_fp32.tflite': entry });
  assert.throws(() => verifyPackage(missing), /c2fdan_given_mask_fp32\.tflite is missing/);
});

test('the packaged model verifies and gives the page its generator, mask-correction model and detector', () => {
  const folder = path.join(repo, 'c2fdan_tf', 'pretrained');
  const manifest = verifyPackage(folder);
  assert.ok(manifest && Object.keys(manifest.files).length >= 8);
  const copies = exportFolderModels(folder, () => assert.fail('the package lacks an optional model'));
  assert.deepEqual(copies.map(([from, name]) => [path.basename(from), name]), [
    ['c2fdan_int8.tflite', 'c2fdan.tflite'],
    ['c2fdan_given_mask_fp32.tflite', 'c2fdan_given_mask.tflite'],
    ['face_detector', 'face_detector'],
  ]);
});
