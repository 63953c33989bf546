// Runs the C2FDAN generator with LiteRT.js in a worker, off the page's thread.
// Messages in:  {type: 'load', url} | {type: 'load', bytes} | {type: 'run', pixels: Float32Array}
// Messages out: {type: 'loaded', runtime, loadMs} | {type: 'no-model'} | {type: 'error', message}
//               | {type: 'result', completed, mask, coarse, ms}
import { isWebGPUSupported, loadAndCompile, loadLiteRt, Tensor } from '@litertjs/core';

const SIZE = 112;
let model = null;
let runtime = null;
let liteRtReady = null;

function wasmDirectory() {
  // The LiteRT.js wasm files sit next to this worker script (copied there at build).
  return new URL('./', self.location.href).href;
}

async function compile(bytes) {
  liteRtReady ??= loadLiteRt(wasmDirectory());
  await liteRtReady;
  const attempts = [];
  if (isWebGPUSupported()) attempts.push('webgpu');
  attempts.push('wasm');
  let lastError = null;
  for (const accelerator of attempts) {
    try {
      const compiled = await loadAndCompile(bytes, { accelerator });
      return { compiled, accelerator };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

function checkSignature(compiled) {
  const inputs = compiled.getInputDetails();
  const outputs = compiled.getOutputDetails().map((d) => d.name);
  const shape = Array.from(inputs[0]?.shape ?? []);
  const ok = inputs.length === 1 && shape.join(',') === `1,${SIZE},${SIZE},3` &&
    ['completed', 'mask'].every((name) => outputs.includes(name));
  if (!ok) {
    throw new Error('This .tflite is not a C2FDAN generator from export.py: it must take one image ' +
      `(1, ${SIZE}, ${SIZE}, 3) and return "completed" and "mask" (it takes ${JSON.stringify(shape)} ` +
      `and returns ${outputs.join(', ')}).`);
  }
  return inputs[0].name;
}

async function load(message) {
  const start = performance.now();
  let bytes = message.bytes ? new Uint8Array(message.bytes) : null;
  if (!bytes) {
    const response = await fetch(message.url);
    if (!response.ok) {
      postMessage({ type: 'no-model' });
      return;
    }
    bytes = new Uint8Array(await response.arrayBuffer());
  }
  const { compiled, accelerator } = await compile(bytes);
  const inputName = checkSignature(compiled);
  model?.compiled.delete();
  model = { compiled, inputName };
  runtime = accelerator;
  // What this worker fetched (the wasm variant, the model), for the offline cache.
  const fetched = performance.getEntriesByType('resource').map((entry) => entry.name)
    .filter((url) => new URL(url).origin === self.location.origin);
  postMessage({ type: 'loaded', runtime, loadMs: performance.now() - start, size: bytes.length, fetched });
}

async function readOutput(tensor) {
  const onCpu = runtime === 'wasm' ? tensor : await tensor.moveTo('wasm');
  const values = Float32Array.from(onCpu.toTypedArray());
  onCpu.delete();
  return values;
}

async function run(pixels) {
  if (!model) throw new Error('No model is loaded.');
  const input = new Tensor(pixels, [1, SIZE, SIZE, 3]);
  const start = performance.now();
  const outputs = await model.compiled.run({ [model.inputName]: input });
  const result = {};
  for (const [name, tensor] of Object.entries(outputs)) result[name] = await readOutput(tensor);
  const ms = performance.now() - start;
  input.delete();
  postMessage({ type: 'result', ...result, ms }, [result.completed.buffer, result.mask.buffer]);
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === 'load') await load(data);
    else if (data.type === 'run') await run(data.pixels);
  } catch (error) {
    postMessage({ type: 'error', message: String(error?.message ?? error) });
  }
};
