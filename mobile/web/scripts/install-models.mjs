// What an export.py output folder gives the page, under the names the page loads:
// the generator (int8, else fp32) as c2fdan.tflite, the given-mask model (mask correction) as
// c2fdan_given_mask.tflite and face_detector/ (finding faces in photos). Used by copy-model and
// screenshot.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

/** The packaged model's manifest (c2fdan_tf/pretrained/manifest.json: "files" with each file's
 * SHA-256 and size), after checking every file; throws naming the first that is missing,
 * truncated or changed. A folder without such a manifest (an export.py folder) returns null. */
export function verifyPackage(folder) {
  const manifestPath = path.join(folder, 'manifest.json');
  if (!existsSync(manifestPath)) return null;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (!manifest.files) return null;
  for (const [relative, expected] of Object.entries(manifest.files)) {
    const file = path.join(folder, relative);
    if (!existsSync(file)) throw new Error(`${file} is missing from the packaged model.`);
    const size = statSync(file).size;
    if (size !== expected.size_bytes) {
      throw new Error(`${file} has ${size} bytes, the manifest ${expected.size_bytes}: truncated or changed.`);
    }
    const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
    if (digest !== expected.sha256) throw new Error(`${file} does not match its SHA-256 in ${manifestPath}.`);
  }
  return manifest;
}

/** [[from, name in models/], ...] of an export folder; warns about the optional ones it lacks. */
export function exportFolderModels(folder, warn = console.warn) {
  const generator = ['c2fdan_int8.tflite', 'c2fdan_fp32.tflite'].map((f) => path.join(folder, f)).find(existsSync);
  if (!generator) throw new Error(`${folder} has no c2fdan_int8.tflite or c2fdan_fp32.tflite (is it an export.py folder?).`);
  const copies = [[generator, 'c2fdan.tflite']];
  const given = path.join(folder, 'c2fdan_given_mask_fp32.tflite');
  if (existsSync(given)) copies.push([given, 'c2fdan_given_mask.tflite']);
  else warn(`warning: ${given} is missing: the page will not offer mask correction.`);
  const detector = path.join(folder, 'face_detector');
  if (existsSync(path.join(detector, 'face_detector.json'))) copies.push([detector, 'face_detector']);
  else warn(`warning: ${detector}/ is missing: the page will ask users to place every face by hand.`);
  return copies;
}

/** Copies [[from, name], ...] into `target`, replacing what is there under those names. */
export function installModels(copies, target) {
  mkdirSync(target, { recursive: true });
  for (const [from, name] of copies) {
    const to = path.join(target, name);
    rmSync(to, { recursive: true, force: true });
    cpSync(from, to, { recursive: true });
  }
}
