// Installs an exported model into the page: npm run copy-model -- path/to/model.tflite
// Without an argument it takes the main job's export (int8, else fp32).
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const defaults = ['c2fdan_int8.tflite', 'c2fdan_fp32.tflite'].map((f) => path.resolve(root, '../../runs/demo/export', f));
const source = process.argv[2] ? path.resolve(process.argv[2]) : defaults.find((f) => existsSync(f));
if (!source || !existsSync(source)) {
  console.error(`error: no model to copy: ${process.argv[2] ?? defaults.join(' or ')} does not exist. ` +
    'Export one with `python export.py --checkpoint=... --out=...` and pass its .tflite.');
  process.exit(1);
}
if (!source.endsWith('.tflite')) {
  console.error(`error: ${source} is not a .tflite file.`);
  process.exit(1);
}
const target = path.join(root, 'public', 'models', 'c2fdan.tflite');
mkdirSync(path.dirname(target), { recursive: true });
copyFileSync(source, target);
console.log(`Copied ${source} (${(statSync(target).size / 1e6).toFixed(1)} MB) to ${target}; run \`npm run build\`.`);
