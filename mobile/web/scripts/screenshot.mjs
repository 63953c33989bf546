// Screenshot of the demo completing a face with a real model, for the README:
// node scripts/screenshot.mjs MODEL.tflite FACE.png OUT.png   (after npm run build)
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, devices } from 'playwright-core';
import { serve } from './static-server.mjs';

const [model, face, out] = process.argv.slice(2);
if (!model || !face || !out) {
  console.error('usage: node scripts/screenshot.mjs MODEL.tflite FACE.png OUT.png');
  process.exit(2);
}
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
mkdirSync(path.join(dist, 'models'), { recursive: true });
copyFileSync(model, path.join(dist, 'models', 'c2fdan.tflite'));
const { server, origin } = await serve(dist);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = await (await browser.newContext({ ...devices['Pixel 7'] })).newPage();
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.body.dataset.runtime, null, { timeout: 60_000 });
  await page.setInputFiles('#photo', face);
  await page.waitForFunction(() => !document.getElementById('run').disabled, null, { timeout: 60_000 });
  await page.click('#run');
  await page.waitForFunction(() => window.c2fdanLastResult, null, { timeout: 60_000 });
  await page.evaluate(() => document.getElementById('result-section').scrollIntoView());
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  server.close();
  rmSync(path.join(dist, 'models'), { recursive: true, force: true });
}
