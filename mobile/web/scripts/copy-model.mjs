// Installs exported models into the page:
//   npm run copy-model                               (the packaged pretrained model, c2fdan_tf/pretrained)
//   npm run copy-model -- ../../runs/demo/export     (an export.py output folder, e.g. make demo's)
//   npm run copy-model -- path/to/model.tflite       (a generator only)
// The packaged model's files are checked against its manifest's SHA-256 first. From a folder it
// copies the generator (int8, else fp32) as models/c2fdan.tflite, the given-mask model (mask
// correction) as models/c2fdan_given_mask.tflite and face_detector/ (finding faces in photos).
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportFolderModels, installModels, verifyPackage } from './install-models.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const target = path.join(root, 'public', 'models');
const source = path.resolve(process.argv[2] ?? path.resolve(root, '../../c2fdan_tf/pretrained'));

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

if (!existsSync(source)) {
  fail(`${source} does not exist. Export a model with \`python export.py --checkpoint=... --out=...\` and pass ` +
    'its output folder or a .tflite file.');
}
let copies;
if (statSync(source).isDirectory()) {
  try {
    const manifest = verifyPackage(source);
    if (manifest) console.log(`The packaged model: ${Object.keys(manifest.files).length} files match their SHA-256.`);
    copies = exportFolderModels(source);
  } catch (error) {
    fail(error.message);
  }
} else if (source.endsWith('.tflite')) {
  copies = [[source, 'c2fdan.tflite']];
} else {
  fail(`${source} is neither an export folder nor a .tflite file.`);
}
installModels(copies, target);
for (const [from, name] of copies) console.log(`Copied ${from} to ${path.join(target, name)}`);
console.log('Now run `npm run build`.');
