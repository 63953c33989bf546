// Screenshot of the phone app completing a photo with a real model, for the README:
//   node scripts/screenshot.mjs EXPORT_DIR PHOTO OUT.png   (after npm run build)
// EXPORT_DIR is an export.py output folder (generator, given-mask model, face_detector/).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, devices } from 'playwright-core';
import { exportFolderModels, installModels } from './install-models.mjs';
import { serve } from './static-server.mjs';

const [exportDir, photo, out] = process.argv.slice(2);
if (!exportDir || !photo || !out) {
  console.error('usage: node scripts/screenshot.mjs EXPORT_DIR PHOTO OUT.png');
  process.exit(2);
}
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const models = path.join(dist, 'models');
try {
  installModels(exportFolderModels(exportDir), models);
} catch (error) {
  console.error(`error: ${error.message}`);
  process.exit(1);
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
