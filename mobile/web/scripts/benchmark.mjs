// The phone app's speed in headless Chromium beside Python LiteRT, for the same model, in
// interleaved repetitions (this machine is shared: each figure is a median over repetitions
// measured alternately, never one run against another's baseline):
//   npm run build && node scripts/benchmark.mjs [--export=DIR] [--reps=5] [--photo=FILE ...] [--webgpu]
// --export: an export.py folder or the packaged model (default: c2fdan_tf/pretrained);
// --photo: photos to find faces in (default: the e2e fixture's astronaut and 12 MP photo;
// --photo=none: none);
// --webgpu: also time the generator forced onto WebGPU (minutes on a software adapter).
// Prints one table; writes nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { exportFolderModels, installModels, verifyPackage } from './install-models.mjs';
import { serve } from './static-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, '..');
const repo = path.resolve(web, '../..');
const options = { export: path.join(repo, 'c2fdan_tf', 'pretrained'), reps: 5, photo: [], webgpu: false };
for (const arg of process.argv.slice(2)) {
  const [key, value] = arg.replace(/^--/, '').split('=');
  if (key === 'photo') options.photo.push(value === 'none' ? null : path.resolve(value));
  else if (key === 'webgpu') options.webgpu = true;
  else if (key === 'reps') options.reps = Number(value);
  else if (key === 'export') options.export = path.resolve(value);
  else { console.error(`error: unknown option ${arg}`); process.exit(2); }
}
if (options.photo.length === 0) {
  options.photo = ['astronaut_subtitle.png', 'large_12mp.jpg'].map((f) => path.join(web, 'test-artifacts', 'fixture', f)).filter(existsSync);
}
options.photo = options.photo.filter(Boolean);
for (const photo of options.photo) if (!existsSync(photo)) { console.error(`error: ${photo} does not exist`); process.exit(1); }
const dist = path.join(web, 'dist');
if (!existsSync(path.join(dist, 'index.html'))) { console.error('error: build the page first (npm run build)'); process.exit(1); }
let copies;
try {
  verifyPackage(options.export);
  copies = exportFolderModels(options.export);
} catch (error) {
  console.error(`error: ${error.message}`);
  process.exit(1);
}
const generator = copies.find(([, name]) => name === 'c2fdan.tflite')[0];
const python = process.env.C2FDAN_PYTHON || path.join(repo, '.venv', 'bin', 'python');
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Python LiteRT (XNNPACK), median of 10 runs after 3, with each thread count.
function pythonMs(threadCounts) {
  const code = 'import json, sys, time, statistics, numpy as np\n' +
    'from ai_edge_litert.interpreter import Interpreter\n' +
    'out = {}\n' +
    'for t in json.loads(sys.argv[2]):\n' +
    '    run = Interpreter(model_path=sys.argv[1], num_threads=t).get_signature_runner()\n' +
    '    x = np.random.default_rng(0).random((1, 112, 112, 3), np.float32)\n' +
    '    times = []\n' +
    '    for k in range(13):\n' +
    '        s = time.perf_counter(); run(image=x); times.append((time.perf_counter() - s) * 1000)\n' +
    '    out[t] = statistics.median(times[3:])\n' +
    'print(json.dumps(out))';
  const text = execFileSync(python, ['-c', code, generator, JSON.stringify(threadCounts)],
    { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' }, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return JSON.parse(text);
}

installModels(copies, path.join(dist, 'models'));
// The headers from the server: isolated from the first load (the service worker's route is the e2e tests').
const { server, origin } = await serve(dist, 0, { isolation: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update'],
});
const rows = {};
const add = (name, value) => { (rows[name] ??= []).push(value); };
try {
  for (let rep = 0; rep < options.reps; rep += 1) {
    let threads = 1;
    for (const query of ['?backend=wasm&threads=1', '?backend=wasm']) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${origin}/${query}`);
      await page.waitForFunction(() => window.c2fdanRuntime, null, { timeout: 120_000 });
      const runtime = await page.evaluate(() => window.c2fdanRuntime);
      threads = runtime.threads;
      add(`browser wasm, ${threads} thread${threads > 1 ? 's' : ''} (${runtime.build}${runtime.isolated ? ', isolated' : ''})`,
        runtime.backendMs.wasm);
      for (const photo of options.photo) {
        await page.evaluate(() => { window.c2fdanFaces = null; });
        await page.setInputFiles('#photo', photo);
        await page.waitForFunction(() => window.c2fdanFaces || !document.getElementById('message').hidden, null, { timeout: 60_000 });
        const found = await page.evaluate(() => window.c2fdanFaces);
        if (!found) throw new Error(`${photo}: ${await page.textContent('#message')}`);
        add(`face detection, ${threads} thread${threads > 1 ? 's' : ''}: ${path.basename(photo)} (${found.faces.length} found)`, found.ms);
      }
      await context.close();
    }
    const native = pythonMs([...new Set([1, threads])]);
    for (const [t, ms] of Object.entries(native)) add(`Python LiteRT, ${t} thread${t > 1 ? 's' : ''}`, ms);
    if (options.webgpu) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${origin}/?backend=webgpu`);
      await page.waitForFunction(() => window.c2fdanRuntime || !document.getElementById('message').hidden, null, { timeout: 600_000 });
      const runtime = await page.evaluate(() => window.c2fdanRuntime);
      if (runtime?.backendMs.webgpu) add('browser WebGPU', runtime.backendMs.webgpu);
      await context.close();
    }
    process.stderr.write(`repetition ${rep + 1} of ${options.reps} done\n`);
  }
} finally {
  await browser.close();
  server.close();
  rmSync(path.join(dist, 'models'), { recursive: true, force: true });
}
console.log(`${path.relative(repo, generator)}, ${options.reps} interleaved repetitions, ${os.cpus().length} cores` +
  ` (command: node scripts/benchmark.mjs ${process.argv.slice(2).join(' ')})`);
console.log('| what | median ms | min–max |\n|---|---:|---:|');
for (const [name, values] of Object.entries(rows)) {
  console.log(`| ${name} | ${median(values).toFixed(1)} | ${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)} |`);
}
