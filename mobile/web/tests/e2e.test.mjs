// End-to-end: the built page in Debian's Chromium, in a phone viewport, as a user would.
// Needs `vite build` (npm test does it) and a fixture from tests/make_fixture.py
// (made here with the project's Python unless C2FDAN_WEB_FIXTURE names one).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, devices } from 'playwright-core';
import { serve } from '../scripts/static-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, '..');
const repo = path.resolve(web, '../..');
const dist = path.join(web, 'dist');
const artifacts = path.join(web, 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SIZE = 112;

function fixture() {
  const folder = process.env.C2FDAN_WEB_FIXTURE || path.join(artifacts, 'fixture');
  if (!existsSync(path.join(folder, 'fixture.json'))) {
    const python = process.env.C2FDAN_PYTHON || path.join(repo, '.venv', 'bin', 'python');
    execFileSync(python, [path.join(here, 'make_fixture.py'), '--out', folder], { stdio: 'inherit' });
  }
  return folder;
}

function readExpected(folder) {
  const floats = (name) => {
    const bytes = readFileSync(path.join(folder, name));
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4).slice();
  };
  return {
    completed: floats('expected_completed.f32'),
    mask: floats('expected_mask.f32'),
    input: Uint8Array.from(readFileSync(path.join(folder, 'input.u8'))),
  };
}

function psnr(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += (a[i] - b[i]) ** 2;
  const mse = sum / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

let server;
let origin;
let browser;
let context;
let page;
let fixtureDir;
let expected;
const requests = [];
const timings = {};

before(async () => {
  fixtureDir = fixture();
  expected = readExpected(fixtureDir);
  mkdirSync(path.join(dist, 'models'), { recursive: true });
  copyFileSync(path.join(fixtureDir, 'model.tflite'), path.join(dist, 'models', 'c2fdan.tflite'));
  ({ server, origin } = await serve(dist));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ ...devices['Pixel 7'] });
  context.on('request', (request) => requests.push(request.url()));
  page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error));
});

after(async () => {
  await browser?.close();
  server?.close();
  rmSync(path.join(dist, 'models'), { recursive: true, force: true });
  writeFileSync(path.join(artifacts, 'timing.json'), JSON.stringify(timings, null, 1));
});

async function complete(file) {
  await page.setInputFiles('#photo', file);
  await page.locator('#run').waitFor({ state: 'visible' });
  await page.waitForFunction(() => !document.getElementById('run').disabled, null, { timeout: 60_000 });
  await page.evaluate(() => { window.c2fdanLastResult = null; });
  await page.click('#run');
  await page.waitForFunction(() => window.c2fdanLastResult, null, { timeout: 60_000 });
  return page.evaluate(() => {
    const canvas = document.getElementById('result-canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    return { pixels: Array.from(pixels), mask: Array.from(window.c2fdanLastResult.mask), ms: window.c2fdanLastResult.ms };
  });
}

function checkAgainstPython(result) {
  const displayed = new Float32Array(SIZE * SIZE * 3);
  for (let p = 0, j = 0; p < result.pixels.length; p += 4, j += 3) {
    displayed[j] = result.pixels[p] / 255;
    displayed[j + 1] = result.pixels[p + 1] / 255;
    displayed[j + 2] = result.pixels[p + 2] / 255;
  }
  const value = psnr(displayed, expected.completed);
  assert.ok(value >= 45, `displayed result vs Python LiteRT: ${value.toFixed(1)} dB < 45 dB`);
  // Outside the predicted mask (where it cannot change a pixel level), the input is kept.
  let outside = 0;
  for (let p = 0; p < SIZE * SIZE; p += 1) {
    if (result.mask[p] >= 1 / 512) continue;
    outside += 1;
    for (let c = 0; c < 3; c += 1) {
      assert.equal(result.pixels[4 * p + c], expected.input[3 * p + c], `pixel ${p} changed outside the mask`);
    }
  }
  assert.ok(outside > 0.2 * SIZE * SIZE, `only ${outside} pixels outside the mask`);
  return value;
}

test('completes an occluded face on the device, like Python LiteRT', async () => {
  const response = await page.goto(`${origin}/`);
  assert.equal(response.status(), 200);
  await page.waitForFunction(() => document.body.dataset.runtime, null, { timeout: 60_000 });
  assert.match(await page.textContent('#runtime'), /Model ready on this device: wasm/);
  const result = await complete(path.join(fixtureDir, 'face.png'));
  timings.psnr_vs_python_db = checkAgainstPython(result);
  assert.match(await page.textContent('#timing'), /Completed in \d+ ms/);
  const runs = [];
  for (let i = 0; i < 5; i += 1) {
    await page.evaluate(() => { window.c2fdanLastResult = null; });
    await page.click('#run');
    await page.waitForFunction(() => window.c2fdanLastResult, null, { timeout: 60_000 });
    runs.push(await page.evaluate(() => window.c2fdanLastResult.ms));
  }
  runs.sort((a, b) => a - b);
  timings.browser_wasm_ms = runs[2];
  timings.python_litert_ms_1_thread = JSON.parse(readFileSync(path.join(fixtureDir, 'fixture.json'))).python_litert_ms_1_thread;
  console.log(`inference per image: headless Chromium wasm ${timings.browser_wasm_ms.toFixed(1)} ms, ` +
    `Python LiteRT (1 thread) ${timings.python_litert_ms_1_thread.toFixed(1)} ms`);
  const download = await page.getAttribute('#download', 'href');
  assert.match(download, /^blob:/);
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'result-screen.png'), fullPage: true });
});

test('every request stays on the page origin; first load is light', async () => {
  const foreign = requests.filter((url) => !url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:'));
  assert.deepEqual(foreign, []);
  const sizes = await page.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => ({ name: e.name, bytes: e.encodedBodySize || e.transferSize })));
  const ownCode = sizes.filter((e) => /\.(js|wasm|css)$/.test(new URL(e.name).pathname) && !path.basename(new URL(e.name).pathname).startsWith('litert_wasm'));
  const total = ownCode.reduce((sum, e) => sum + e.bytes, 0);
  timings.first_load_own_code_bytes = total;
  assert.ok(total > 0 && total < 1_000_000, `first load: ${total} bytes of own JS/CSS/wasm`);
  const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
  assert.match(csp, /default-src 'self'/);
});

test('works offline after the first visit', async () => {
  await page.waitForFunction(() => document.body.dataset.offlineReady === 'true', null, { timeout: 60_000 });
  await context.setOffline(true);
  try {
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.runtime, null, { timeout: 60_000 });
    const result = await complete(path.join(fixtureDir, 'face.png'));
    checkAgainstPython(result);
  } finally {
    await context.setOffline(false);
  }
});

test('a non-image file and a huge image get a visible message, and the page stays usable', async () => {
  await page.setInputFiles('#photo', path.join(fixtureDir, 'not_an_image.jpg'));
  await page.locator('#message').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#message'), /not an image/);
  const start = Date.now();
  await page.setInputFiles('#photo', path.join(fixtureDir, 'huge.png'));
  await page.waitForFunction(() => /too large/.test(document.getElementById('message').textContent), null, { timeout: 10_000 });
  assert.match(await page.textContent('#message'), /too large \(11000×11000, 121 MP\)/);
  assert.ok(Date.now() - start < 5000, 'the huge image was not refused quickly');
  assert.equal(await page.evaluate(() => 1 + 1), 2); // responsive
  const result = await complete(path.join(fixtureDir, 'face.png'));
  checkAgainstPython(result);
  assert.equal(await page.isHidden('#message'), true);
});
