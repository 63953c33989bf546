// Screenshot of the phone app completing a photo with a real model, for the README:
//   node scripts/screenshot.mjs EXPORT_DIR PHOTO OUT.png   (after npm run build)
// EXPORT_DIR is an export.py output folder (generator, given-mask model, face_detector/).
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, devices } from 'playwright-core';
import { serve } from './static-server.mjs';

const [exportDir, photo, out] = process.argv.slice(2);
if (!exportDir || !photo || !out) {
  console.error('usage: node scripts/screenshot.mjs EXPORT_DIR PHOTO OUT.png');
  process.exit(2);
}
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const models = path.join(dist, 'models');
mkdirSync(models, { recursive: true });
const generator = ['c2fdan_int8.tflite', 'c2fdan_fp32.tflite'].map((f) => path.join(exportDir, f)).find(existsSync);
if (!generator) {
  console.error(`error: ${exportDir} has no c2fdan_int8.tflite or c2fdan_fp32.tflite`);
  process.exit(1);
}
cpSync(generator, path.join(models, 'c2fdan.tflite'));
for (const [from, to] of [['c2fdan_given_mask_fp32.tflite', 'c2fdan_given_mask.tflite'], ['face_detector', 'face_detector']]) {
  if (existsSync(path.join(exportDir, from))) cpSync(path.join(exportDir, from), path.join(models, to), { recursive: true });
}
const { server, origin } = await serve(dist);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = await (await browser.newContext({ ...devices['Pixel 7'] })).newPage();
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.body.dataset.runtime, null, { timeout: 60_000 });
  await page.setInputFiles('#photo', photo);
  await page.waitForFunction(() => window.c2fdanFaces, null, { timeout: 60_000 });
  await page.waitForFunction(() => !document.getElementById('run').disabled, null, { timeout: 60_000 });
  await page.click('#run');
  await page.waitForFunction(() => window.c2fdanLastResult, null, { timeout: 120_000 });
  await page.locator('#result-section').screenshot({ path: out });
  console.log(`wrote ${out}: ${await page.textContent('#timing')}`);
} finally {
  await browser.close();
  server.close();
  rmSync(models, { recursive: true, force: true });
}
