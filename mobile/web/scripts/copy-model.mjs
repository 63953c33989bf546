// Installs exported models into the page:
//   npm run copy-model -- path/to/export/            (an export.py output folder)
//   npm run copy-model -- path/to/model.tflite       (a generator only)
// Without an argument it takes the main job's export (runs/demo/export). From a folder it
// copies the generator (int8, else fp32) as models/c2fdan.tflite, the given-mask model (mask
// correction) as models/c2fdan_given_mask.tflite and face_detector/ (finding faces in photos).
import { cpSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const target = path.join(root, 'public', 'models');
const source = path.resolve(process.argv[2] ?? path.resolve(root, '../../runs/demo/export'));

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

if (!existsSync(source)) {
  fail(`${source} does not exist. Export a model with \`python export.py --checkpoint=... --out=...\` and pass ` +
    'its output folder or a .tflite file.');
}
const copies = [];
if (statSync(source).isDirectory()) {
  const generator = ['c2fdan_int8.tflite', 'c2fdan_fp32.tflite'].map((f) => path.join(source, f)).find(existsSync);
  if (!generator) fail(`${source} has no c2fdan_int8.tflite or c2fdan_fp32.tflite (is it an export.py folder?).`);
  copies.push([generator, 'c2fdan.tflite']);
  const given = path.join(source, 'c2fdan_given_mask_fp32.tflite');
  if (existsSync(given)) copies.push([given, 'c2fdan_given_mask.tflite']);
  else console.warn(`warning: ${given} is missing: the page will not offer mask correction.`);
  const detector = path.join(source, 'face_detector');
  if (existsSync(path.join(detector, 'face_detector.json'))) copies.push([detector, 'face_detector']);
  else console.warn(`warning: ${detector}/ is missing: the page will ask users to place every face by hand.`);
} else if (source.endsWith('.tflite')) {
  copies.push([source, 'c2fdan.tflite']);
} else {
  fail(`${source} is neither an export folder nor a .tflite file.`);
}
mkdirSync(target, { recursive: true });
for (const [from, name] of copies) {
  const to = path.join(target, name);
  rmSync(to, { recursive: true, force: true });
  cpSync(from, to, { recursive: true });
  console.log(`Copied ${from} to ${to}`);
}
console.log('Now run `npm run build`.');
