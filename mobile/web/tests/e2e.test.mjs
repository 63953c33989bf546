// End-to-end: the built page in Debian's Chromium, in a phone viewport, as a user would.
// Needs `vite build` (npm test does it) and a fixture from tests/make_fixture.py
// (made here with the project's Python unless C2FDAN_WEB_FIXTURE names one).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
let fixtureInfo;
let expected;
const requests = [];
const timings = {};

before(async () => {
  fixtureDir = fixture();
  fixtureInfo = JSON.parse(readFileSync(path.join(fixtureDir, 'fixture.json')));
  expected = readExpected(fixtureDir);
  mkdirSync(path.join(dist, 'models'), { recursive: true });
  copyFileSync(path.join(fixtureDir, 'model.tflite'), path.join(dist, 'models', 'c2fdan.tflite'));
  copyFileSync(path.join(fixtureDir, 'given_mask.tflite'), path.join(dist, 'models', 'c2fdan_given_mask.tflite'));
  cpSync(path.join(fixtureDir, 'face_detector'), path.join(dist, 'models', 'face_detector'), { recursive: true });
  // Like static hosting: no COOP/COEP from the server, only from the page's service worker.
  ({ server, origin } = await serve(dist));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // --enable-unsafe-webgpu: headless Chromium offers WebGPU (SwiftShader, on the CPU), so the
    // page's choice between WebGPU and wasm is exercised.
    args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ ...devices['Pixel 7'], acceptDownloads: true });
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

async function openPhoto(file) {
  await page.evaluate(() => { window.c2fdanFaces = null; });
  await page.setInputFiles('#photo', file);
  await page.waitForFunction(() => window.c2fdanFaces, null, { timeout: 60_000 });
  return page.evaluate(() => window.c2fdanFaces);
}

async function run(selector = '#run') {
  await page.waitForFunction((s) => !document.querySelector(s).disabled, selector, { timeout: 60_000 });
  await page.evaluate(() => { window.c2fdanLastResult = null; });
  await page.click(selector);
  await page.waitForFunction(() => window.c2fdanLastResult, null, { timeout: 120_000 });
}

// The aligned 112x112 face by hand (the square over the whole of face.png): what the model saw.
async function complete(file) {
  await openPhoto(file);
  if (await page.isVisible('#by-hand')) await page.click('#by-hand');
  await run();
  return page.evaluate(() => {
    const canvas = document.getElementById('result-canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const face = window.c2fdanLastResult.faces[0];
    return { pixels: Array.from(pixels), mask: Array.from(face.mask), completed: Array.from(face.completed),
      ms: window.c2fdanLastResult.ms.completion };
  });
}

// The file the download button saves, and the input photo, decoded by the browser:
// {width, height, type, changed: [[x, y], ...] pixels that differ}.
async function compareDownload(file, { diff = true } = {}) {
  const [saved] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const name = saved.suggestedFilename();
  const output = readFileSync(await saved.path()).toString('base64');
  const input = readFileSync(file).toString('base64');
  const result = await page.evaluate(async ([inB64, outB64, withDiff]) => {
    const decode = async (b64) => {
      const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]);
      const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const ctx = canvas.getContext('2d');
      ctx.drawImage(bitmap, 0, 0);
      return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    };
    const [a, b] = [await decode(inB64), await decode(outB64)];
    const changed = [];
    if (withDiff && a.width === b.width && a.height === b.height) {
      for (let p = 0; p < a.width * a.height; p += 1) {
        for (let c = 0; c < 4; c += 1) {
          if (a.data[4 * p + c] !== b.data[4 * p + c]) { changed.push([p % a.width, Math.floor(p / a.width)]); break; }
        }
      }
    }
    const head = atob(outB64.slice(0, 8));
    const type = head.startsWith('\x89PNG') ? 'image/png' : head.startsWith('\xff\xd8') ? 'image/jpeg' : 'other';
    return { width: b.width, height: b.height, type, changed };
  }, [input, output, diff]);
  return { ...result, name };
}

// Every changed pixel must map (photo -> aligned face) to within `reach` pixels of a mask pixel
// above 0.5 of one of the faces: the paste touches nothing else.
function outsideEveryMask(changed, faces, reach = 3.5) {
  const outside = [];
  for (const [x, y] of changed) {
    const inside = faces.some(({ matrix: m, mask }) => {
      const fx = m[0] * x + m[1] * y + m[2];
      const fy = m[3] * x + m[4] * y + m[5];
      for (let yy = Math.ceil(fy - reach); yy <= Math.floor(fy + reach); yy += 1) {
        for (let xx = Math.ceil(fx - reach); xx <= Math.floor(fx + reach); xx += 1) {
          if (xx >= 0 && yy >= 0 && xx < SIZE && yy < SIZE && mask[yy * SIZE + xx] > 0.5) return true;
        }
      }
      return false;
    });
    if (!inside) outside.push([x, y]);
  }
  return outside;
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

async function medianCompletionMs(runs = 5) {
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    await run();
    times.push(await page.evaluate(() => window.c2fdanLastResult.ms.completion));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)];
}

async function loadPage(query = '') {
  const response = await page.goto(`${origin}/${query}`);
  assert.equal(response.status(), 200);
  await page.waitForFunction(() => window.c2fdanRuntime, null, { timeout: 120_000 });
  return page.evaluate(() => window.c2fdanRuntime);
}

test('completes an occluded face on the device, like Python LiteRT, multithreaded once isolated', async () => {
  // First visit: the service worker installs, takes control and the page reloads itself once,
  // now cross-origin isolated by the worker's headers.
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.crossOriginIsolated && window.c2fdanRuntime, null, { timeout: 120_000 });
  const runtime = await page.evaluate(() => window.c2fdanRuntime);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.equal(runtime.isolated, true);
  assert.equal(runtime.threads, Math.min(cores, 4), `threads: ${runtime.threads} on ${cores} cores`);
  assert.equal(runtime.build, cores > 1 ? 'threaded' : 'simd');
  // WebGPU (SwiftShader here) is offered but this generator is only partly supported by it: wasm runs, and says why.
  assert.equal(runtime.runtime, 'wasm');
  assert.match(await page.textContent('#runtime'),
    new RegExp(`Model ready on this device: wasm \\(CPU, XNNPACK, ${runtime.threads} threads?\\)`));
  const result = await complete(path.join(fixtureDir, 'face.png'));
  timings.psnr_vs_python_db = checkAgainstPython(result);
  assert.match(await page.textContent('#timing'), /1 face completed in \d+ ms/);
  Object.assign(timings, {
    cross_origin_isolated: runtime.isolated,
    browser_backend: runtime.runtime,
    browser_wasm_threads: runtime.threads,
    browser_wasm_threads_ms: await medianCompletionMs(),
    browser_webgpu_ms: runtime.backendMs.webgpu,
    browser_webgpu_note: runtime.webgpuError,
    python_litert_ms_1_thread: fixtureInfo.python_litert_ms_1_thread,
    python_litert_ms_same_threads: fixtureInfo.python_litert_ms_by_threads[String(runtime.threads)] ?? null,
  });
  const download = await page.getAttribute('#download', 'href');
  assert.match(download, /^blob:/);
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'result-screen.png'), fullPage: true });
  // The same model on the single-threaded build (?threads=1), for the table.
  const single = await loadPage('?threads=1');
  assert.deepEqual([single.threads, single.build, single.isolated], [1, 'simd', true]);
  assert.match(await page.textContent('#runtime'), /wasm \(CPU, XNNPACK, 1 thread\)/);
  checkAgainstPython(await complete(path.join(fixtureDir, 'face.png')));
  timings.browser_wasm_ms = await medianCompletionMs();
  console.log(`inference per image: headless Chromium wasm ${timings.browser_wasm_ms.toFixed(1)} ms (1 thread), ` +
    `${timings.browser_wasm_threads_ms.toFixed(1)} ms (${runtime.threads} threads); Python LiteRT ` +
    `${timings.python_litert_ms_1_thread.toFixed(1)} ms (1 thread), ${timings.python_litert_ms_same_threads?.toFixed(1)} ms ` +
    `(${runtime.threads} threads); WebGPU: ${runtime.backendMs.webgpu ?? runtime.webgpuError}`);
  await loadPage();
});

const photos = () => JSON.parse(readFileSync(path.join(fixtureDir, 'photos.json')));

// Opens a photo three times: the faces of the last opening and the median detection time.
async function detectThrice(file) {
  const openings = [];
  for (let k = 0; k < 3; k += 1) openings.push(await openPhoto(file));
  const ms = openings.map((o) => o.ms).sort((a, b) => a - b);
  return { ...openings[2], ms: ms[1], stages: openings[2].stages };
}

// Worst landmark distance to the Python MTCNN's, as a fraction of the inter-ocular distance.
function landmarkError(found, truth) {
  const iod = Math.hypot(truth[1][0] - truth[0][0], truth[1][1] - truth[0][1]);
  return Math.max(...found.map(([x, y], i) => Math.hypot(x - truth[i][0], y - truth[i][1]) / iod));
}

test('finds the face in a real photo like the Python MTCNN and pastes it back at full resolution', async () => {
  const file = path.join(fixtureDir, 'astronaut_subtitle.png');
  const reference = photos()['astronaut_subtitle.png'].faces;
  const found = await detectThrice(file);
  assert.equal(found.faces.length, 1, `faces found: ${found.faces.length}`);
  assert.equal(reference.length, 1);
  const truth = reference[0].landmarks;
  const iod = Math.hypot(truth[1][0] - truth[0][0], truth[1][1] - truth[0][1]);
  timings.landmark_error_vs_python_iod = landmarkError(found.faces[0].landmarks, truth);
  assert.ok(timings.landmark_error_vs_python_iod <= 0.02,
    `landmarks vs Python MTCNN: ${(100 * timings.landmark_error_vs_python_iod).toFixed(2)} % of IOD`);
  assert.match(await page.textContent('#detect-status'), /Found 1 face/);
  timings.browser_detection_ms_512px = found.ms;
  timings.browser_detection_stages_512px = found.stages;
  timings.python_mtcnn_ms_512px = JSON.parse(readFileSync(path.join(fixtureDir, 'fixture.json'))).python_mtcnn_ms_512px;
  await run();
  const result = await page.evaluate(() => ({ ...window.c2fdanLastResult, bitmap: null, blob: null }));
  timings.browser_completion_ms_512px = result.ms.total;
  assert.equal(result.faces.length, 1);
  const download = await compareDownload(file);
  assert.deepEqual([download.width, download.height, download.type], [512, 512, 'image/png']);
  assert.ok(download.changed.length > 50, `only ${download.changed.length} pixels were completed`);
  const stray = outsideEveryMask(download.changed, result.faces);
  assert.deepEqual(stray.slice(0, 5), [], `${stray.length} pixels changed outside the pasted mask`);
  // The changed pixels lie on the face, around the landmarks (not elsewhere in the photo).
  const [ex, ey] = [(truth[0][0] + truth[4][0]) / 2, (truth[0][1] + truth[4][1]) / 2];
  const far = download.changed.filter(([x, y]) => Math.hypot(x - ex, y - ey) > 2.5 * iod);
  assert.equal(far.length, 0, `${far.length} changed pixels far from the face`);
  assert.equal(download.name, 'astronaut_subtitle-completed.png');
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'real-photo-screen.png'), fullPage: true });
});

test('two faces in one picture: both found and completed', async () => {
  const file = path.join(fixtureDir, 'two_faces.png');
  const found = await openPhoto(file);
  assert.equal(found.faces.length, 2);
  const reference = photos()['two_faces.png'].faces;
  assert.equal(reference.length, 2);
  const centres = found.faces.map((f) => f.landmarks[2][0]).sort((a, b) => a - b);
  assert.ok(centres[0] < 512 && centres[1] > 512, `noses at x = ${centres.join(', ')}`);
  // Each face's landmarks against the Python MTCNN's face on the same side. The page looks for
  // faces in a copy at most 640 pixels long, Python in the whole 902-pixel picture: 2.0 and 3.1 %
  // of the IOD apart in the previous release, the same now.
  const side = (face) => face.landmarks[2][0] < 512;
  const errors = found.faces.map((face) => landmarkError(face.landmarks, reference.find((r) => side(r) === side(face)).landmarks));
  timings.landmark_error_two_faces_vs_python_iod = Math.max(...errors);
  assert.ok(Math.max(...errors) <= 0.035, `two faces' landmarks vs Python MTCNN: ${errors.map((e) => (100 * e).toFixed(2))} % of IOD`);
  assert.match(await page.textContent('#run'), /Complete the 2 faces/);
  await run();
  const result = await page.evaluate(() => ({ ...window.c2fdanLastResult, bitmap: null, blob: null }));
  assert.equal(result.faces.length, 2);
  const download = await compareDownload(file);
  assert.equal(download.width, photos()['two_faces.png'].width);
  const left = download.changed.filter(([x]) => x < 512).length;
  const right = download.changed.length - left;
  assert.ok(left > 50 && right > 50, `changed pixels: ${left} on the left face, ${right} on the right`);
  assert.deepEqual(outsideEveryMask(download.changed, result.faces).length, 0);
  assert.equal(await page.isVisible('#face-picker'), true);
});

test('no face in a landscape: the square by hand, with a message', async () => {
  const file = path.join(fixtureDir, 'landscape.png');
  const found = await openPhoto(file);
  assert.equal(found.faces.length, 0);
  assert.match(await page.textContent('#detect-status'), /No face found in this photo/);
  assert.equal(await page.isVisible('#manual-hint'), true);
  assert.equal(await page.isVisible('#crop-size'), true);
  await run();
  const download = await compareDownload(file);
  assert.deepEqual([download.width, download.height], [600, 400]);
  assert.equal(await page.isHidden('#message'), true);
});

test('a 12 MP photo: found on a scaled copy, completed and saved at full resolution, the page responsive', async () => {
  const file = path.join(fixtureDir, 'large_12mp.jpg');
  const info = photos()['large_12mp.jpg'];
  const small = photos()[info.from].faces[0].landmarks;
  const found = await detectThrice(file);
  const start = Date.now();
  timings.browser_detection_ms_12mp = found.ms;
  timings.browser_detection_stages_12mp = found.stages;
  assert.equal(found.faces.length, 1);
  const truth = small.map(([x, y]) => [x * info.scale + info.offset[0], y * info.scale + info.offset[1]]);
  const worst = landmarkError(found.faces[0].landmarks, truth);
  timings.landmark_error_12mp_vs_512px_iod = worst;
  assert.ok(worst <= 0.08, `landmarks vs the 512-pixel photo's, enlarged: ${(100 * worst).toFixed(1)} % of IOD`);
  await page.waitForFunction(() => !document.getElementById('run').disabled, null, { timeout: 60_000 });
  await page.evaluate(() => { window.c2fdanLastResult = null; });
  await page.click('#run');
  // While the worker completes, pastes and encodes 12 MP, the page answers at once.
  const lags = [];
  while (!(await page.evaluate(() => Boolean(window.c2fdanLastResult)))) {
    const t = Date.now();
    await page.evaluate(() => document.getElementById('progress').textContent);
    lags.push(Date.now() - t);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(Date.now() - start < 120_000, 'the 12 MP photo took over two minutes');
  }
  timings.browser_total_ms_12mp = (await page.evaluate(() => window.c2fdanLastResult.ms.total));
  timings.page_max_response_ms_during_12mp = Math.max(...lags);
  assert.ok(Math.max(...lags) < 500, `the page froze for ${Math.max(...lags)} ms`);
  assert.match(await page.textContent('#timing'), /1 face completed in \d+ ms/);
  const download = await compareDownload(file, { diff: false });
  assert.deepEqual([download.width, download.height, download.type], [4000, 3000, 'image/jpeg']);
  assert.equal(download.name, 'large_12mp-completed.jpg');
});

// Drags the brush in the mask editor from aligned pixel `from` to `to`.
async function brush(mode, from, to, size) {
  await page.check(mode === 'erase' ? '#brush-erase' : '#brush-paint');
  await page.fill('#brush-size', String(size));
  const box = await page.locator('#editor-canvas').boundingBox();
  const at = ([x, y]) => [box.x + ((x + 0.5) / SIZE) * box.width, box.y + ((y + 0.5) / SIZE) * box.height];
  await page.mouse.move(...at(from));
  await page.mouse.down();
  for (let k = 1; k <= 8; k += 1) await page.mouse.move(...at([from[0] + ((to[0] - from[0]) * k) / 8, from[1] + ((to[1] - from[1]) * k) / 8]));
  await page.mouse.up();
}

test('mask correction: erased pixels stay the input, painted ones are redrawn, as in Python', async () => {
  const first = await complete(path.join(fixtureDir, 'face.png'));
  const predicted = first.mask;
  // A row where the predicted mask is on over a run of pixels, and a region where it is off.
  let on = null;
  let off = null;
  for (let y = 10; y < SIZE - 10 && !(on && off); y += 2) {
    for (let x = 10; x < SIZE - 20; x += 1) {
      const run10 = (value) => [...Array(10).keys()].every((k) => (predicted[y * SIZE + x + k] > 0.5) === value
        && (predicted[(y + 3) * SIZE + x + k] > 0.5) === value);
      if (!on && run10(true)) on = [x, y];
      if (!off && run10(false) && y > 20) off = [x, y];
    }
  }
  assert.ok(on && off, 'the predicted mask has no region on and off to edit');
  await brush('erase', on, [on[0] + 9, on[1]], 3);
  await brush('paint', off, [off[0] + 9, off[1]], 3);
  const edited = await page.evaluate(() => Array.from(window.c2fdanEditorMask));
  const erased = [];
  const painted = [];
  for (let p = 0; p < SIZE * SIZE; p += 1) {
    if (predicted[p] > 0.5 && edited[p] === 0) erased.push(p);
    if (predicted[p] <= 0.5 && edited[p] === 1) painted.push(p);
  }
  assert.ok(erased.length >= 20 && painted.length >= 20, `erased ${erased.length}, painted ${painted.length} pixels`);
  await run('#remask');
  const result = await page.evaluate(() => {
    const face = window.c2fdanLastResult.faces[0];
    return { completed: Array.from(face.completed), mask: Array.from(face.mask), edited: face.edited };
  });
  assert.equal(result.edited, true);
  assert.deepEqual(result.mask, edited);
  assert.match(await page.textContent('#mask-caption'), /Your mask/);
  for (const p of erased) {
    for (let c = 0; c < 3; c += 1) {
      assert.equal(Math.round(result.completed[3 * p + c] * 255), expected.input[3 * p + c], `erased pixel ${p} is not the input`);
    }
  }
  let change = 0;
  for (const p of painted) for (let c = 0; c < 3; c += 1) change += Math.abs(result.completed[3 * p + c] - expected.input[3 * p + c] / 255);
  change /= 3 * painted.length;
  assert.ok(change > 0.01, `painted pixels changed by ${change.toFixed(4)} on average`);
  // The same image and mask through Python LiteRT's given-mask model.
  mkdirSync(artifacts, { recursive: true });
  const maskFile = path.join(artifacts, 'edited_mask.f32');
  writeFileSync(maskFile, Buffer.from(Float32Array.from(edited).buffer));
  const python = process.env.C2FDAN_PYTHON || path.join(repo, '.venv', 'bin', 'python');
  execFileSync(python, [path.join(here, 'make_fixture.py'), '--out', fixtureDir, '--given_mask_reference', maskFile], { stdio: 'inherit' });
  const reference = new Float32Array(readFileSync(path.join(artifacts, 'given_mask_completed.f32')).buffer.slice(0));
  const value = psnr(Float32Array.from(result.completed), reference);
  timings.given_mask_psnr_vs_python_db = value;
  assert.ok(value >= 45, `JS vs Python given-mask result: ${value.toFixed(1)} dB`);
});

test('every request stays on the page origin; first load is light', async () => {
  const foreign = requests.filter((url) => !url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:'));
  assert.deepEqual(foreign, []);
  // The page's own code it asked for (the page, its worker and the service worker; not the LiteRT
  // runtime), by the size of the built files: responses from the service worker report no body size.
  const ownCode = new Set(requests.filter((url) => url.startsWith(origin)).map((url) => new URL(url).pathname)
    .filter((name) => /\.(js|wasm|css)$/.test(name) && !path.basename(name).startsWith('litert_wasm')));
  const total = [...ownCode].reduce((sum, name) => sum + statSync(path.join(dist, decodeURIComponent(name))).size, 0);
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

test('the one-time reload for isolation keeps the photo opened before it; a server sending COOP/COEP needs none; no threaded runtime, one thread', async () => {
  const file = path.join(fixtureDir, 'astronaut_subtitle.png');
  const fresh = await browser.newContext({ ...devices['Pixel 7'] });
  fresh.on('request', (request) => requests.push(request.url()));
  // The service worker's script is held back until the user has opened a photo.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await fresh.route('**/sw.js*', async (route) => { await held; await route.continue(); });
  const first = await fresh.newPage();
  await first.goto(`${origin}/`);
  assert.equal(await first.evaluate(() => window.crossOriginIsolated), false);
  await first.setInputFiles('#photo', file);
  await first.waitForFunction(() => window.c2fdanFaces, null, { timeout: 60_000 });
  release();
  await first.waitForFunction(() => window.crossOriginIsolated && window.c2fdanFaces?.faces.length === 1, null, { timeout: 120_000 });
  assert.equal(await first.evaluate(() => performance.getEntriesByType('navigation')[0].type), 'reload');
  assert.match(await first.textContent('#detect-status'), /Found 1 face/);
  assert.equal(await first.evaluate(() => caches.has('pending-photo')), false);
  await first.waitForFunction(() => window.c2fdanRuntime, null, { timeout: 120_000 });
  assert.ok((await first.evaluate(() => window.c2fdanRuntime.threads)) >= Math.min(2, await first.evaluate(() => navigator.hardwareConcurrency)));
  await fresh.close();

  const headers = await serve(dist, 0, { isolation: true });
  const other = await browser.newContext({ ...devices['Pixel 7'] });
  const broken = await browser.newContext({ ...devices['Pixel 7'] });
  try {
    const direct = await other.newPage();
    await direct.goto(`${headers.origin}/`);
    await direct.waitForFunction(() => window.c2fdanRuntime, null, { timeout: 120_000 });
    assert.equal(await direct.evaluate(() => window.crossOriginIsolated), true);
    assert.equal(await direct.evaluate(() => performance.getEntriesByType('navigation')[0].type), 'navigate');
    assert.equal(await direct.evaluate(() => sessionStorage.getItem('c2fdan-isolation-reload')), null);
    // Isolated, but the threaded runtime cannot be fetched: the single-threaded one runs, and the page says why.
    await broken.route('**/litert_wasm_threaded_internal.*', (route) => route.abort());
    const fallback = await broken.newPage();
    await fallback.goto(`${headers.origin}/`);
    await fallback.waitForFunction(() => window.c2fdanRuntime, null, { timeout: 120_000 });
    const runtime = await fallback.evaluate(() => window.c2fdanRuntime);
    assert.deepEqual([runtime.isolated, runtime.threads, runtime.build], [true, 1, 'simd']);
    assert.match(await fallback.textContent('#runtime'), /wasm \(CPU, XNNPACK, 1 thread\).*One thread: the threaded wasm did not start/);
  } finally {
    await other.close();
    await broken.close();
    headers.server.close();
  }
});
