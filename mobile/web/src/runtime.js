// LiteRT.js in the worker: which wasm build runs (multithreaded when the page is
// cross-origin isolated, else single-threaded), with how many threads, and whether the
// generator runs on WebGPU or on wasm — measured on this device, not assumed.
import {
  getWebGpuDevice, isWebGPUSupported, loadAndCompile, loadLiteRt, supportsFeature, Tensor,
} from '@litertjs/core';

// More threads than this buy little for a 112x112 network and cost the phone's battery.
export const MAX_THREADS = 4;
const THREADED_GLUE = 'litert_wasm_threaded_internal.js';

let started = null;

function wasmDirectory() {
  // The LiteRT.js wasm files sit next to the worker script (copied there at build).
  return new URL('./', self.location.href).href;
}

/** What this browser allows: {isolated, threadsSupported, relaxedSimd, cores, reason}. */
export async function wasmFeatures() {
  const isolated = self.crossOriginIsolated === true;
  const relaxedSimd = await supportsFeature('relaxedSimd');
  const threadsSupported = isolated && relaxedSimd && typeof SharedArrayBuffer === 'function'
    && await supportsFeature('threads');
  const cores = Math.max(1, navigator.hardwareConcurrency || 1);
  let reason = null;
  if (!isolated) reason = 'the page is not cross-origin isolated (no SharedArrayBuffer)';
  else if (!relaxedSimd) reason = 'this browser has no wasm relaxed SIMD (LiteRT.js threads need it)';
  else if (!threadsSupported) reason = 'this browser cannot run wasm threads';
  else if (cores === 1) reason = 'this device reports one core';
  return { isolated, relaxedSimd, threadsSupported, cores, reason };
}

/**
 * Loads LiteRT.js once. requestedThreads: null = as many as the cores allow (at most
 * MAX_THREADS); 1 = the single-threaded build. Resolves to
 * {threads, build, isolated, relaxedSimd, reason, webgpu} where reason says why fewer
 * threads than requested run (null when none is missing).
 */
export function startLiteRt(requestedThreads = null) {
  started ??= (async () => {
    const features = await wasmFeatures();
    const wanted = requestedThreads ?? Math.min(features.cores, MAX_THREADS);
    let threads = features.threadsSupported && wanted > 1 ? Math.min(wanted, features.cores) : 1;
    let reason = wanted > 1 && threads === 1 ? features.reason : null;
    if (threads > 1) {
      // Emscripten starts its pthreads from the glue script's URL; loaded with importScripts
      // inside this worker it would take the worker's own script instead.
      self.Module = { mainScriptUrlOrBlob: new URL(THREADED_GLUE, wasmDirectory()).href };
      try {
        await loadLiteRt(wasmDirectory(), { threads: true });
      } catch (error) {
        self.Module = undefined;
        threads = 1;
        reason = `the threaded wasm did not start (${error?.message ?? error})`;
      }
    }
    if (threads === 1) await loadLiteRt(wasmDirectory(), { threads: false });
    const build = threads > 1 ? 'threaded' : features.relaxedSimd ? 'simd' : 'compat';
    return {
      threads, build, isolated: features.isolated, relaxedSimd: features.relaxedSimd, reason,
      webgpu: isWebGPUSupported() && Boolean(getWebGpuDevice()),
    };
  })();
  return started;
}

/** A compiled model on 'wasm' (with the runtime's threads) or 'webgpu'. */
export async function compileModel(bytes, accelerator = 'wasm') {
  const runtime = await startLiteRt();
  const options = accelerator === 'wasm' ? { accelerator, cpuOptions: { numThreads: runtime.threads } } : { accelerator };
  return loadAndCompile(bytes, options);
}

async function readOutput(tensor) {
  const onCpu = tensor.accelerator === 'wasm' ? tensor : await tensor.moveTo('wasm');
  const values = Float32Array.from(onCpu.toTypedArray());
  onCpu.delete();
  if (onCpu !== tensor && !tensor.deleted) tensor.delete();
  return values;
}

/** Runs a compiled model on {name: [Float32Array, shape]}; resolves to {output name: Float32Array}. */
export async function runModel(compiled, feeds) {
  const tensors = Object.fromEntries(Object.entries(feeds).map(([name, [data, shape]]) => [name, new Tensor(data, shape)]));
  try {
    const outputs = await compiled.run(tensors);
    const result = {};
    for (const [name, tensor] of Object.entries(outputs)) result[name] = await readOutput(tensor);
    return result;
  } finally {
    for (const tensor of Object.values(tensors)) tensor.delete();
  }
}

function zeroFeeds(compiled) {
  return Object.fromEntries(compiled.getInputDetails().map((d) => {
    const shape = Array.from(d.shape);
    return [d.name, [new Float32Array(shape.reduce((a, b) => a * b, 1)), shape]];
  }));
}

/** One run on zeros: the first run of a compiled model prepares its kernels (slow once). */
export async function warmUp(compiled) {
  await runModel(compiled, zeroFeeds(compiled));
}

/** Median milliseconds of `runs` runs after one warm-up, on zeros of the model's input shape. */
export async function timeModel(compiled, runs = 3) {
  await warmUp(compiled);
  const feeds = zeroFeeds(compiled);
  const times = [];
  for (let k = 0; k < runs; k += 1) {
    const start = performance.now();
    await runModel(compiled, feeds);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * The generator on the faster backend of this device: compiled on wasm and, where WebGPU has
 * a device, on WebGPU too; both timed on the model's own 112x112 input; the slower one is freed.
 * backend: 'auto' | 'wasm' | 'webgpu' (forced, e.g. for measurements); check(compiled) throws
 * if the model is not the one expected (called before anything runs; what it returns is `checked`).
 * Resolves to {compiled, backend, times: {wasm, webgpu}, webgpuError, checked}.
 */
export async function compileFastest(bytes, backend = 'auto', check = () => {}) {
  const runtime = await startLiteRt();
  const candidates = {};
  const times = { wasm: null, webgpu: null };
  let webgpuError = null;
  if (backend !== 'webgpu') candidates.wasm = await compileModel(bytes, 'wasm');
  if (backend !== 'wasm') {
    if (!runtime.webgpu) {
      webgpuError = 'this browser offers no WebGPU device';
    } else {
      try {
        candidates.webgpu = await compileModel(bytes, 'webgpu');
        if (!candidates.webgpu.isFullyAccelerated && backend === 'auto') {
          // Split between GPU and CPU, every run copies activations back and forth: not timed
          // (on a software adapter one run takes minutes), wasm runs.
          candidates.webgpu.delete();
          delete candidates.webgpu;
          webgpuError = 'part of this model has no WebGPU kernels (it would run split between GPU and CPU)';
        }
      } catch (error) {
        webgpuError = String(error?.message ?? error);
      }
    }
  }
  if (!candidates.wasm && !candidates.webgpu) throw new Error(`WebGPU was asked for, but ${webgpuError}.`);
  let checked;
  try {
    checked = check(Object.values(candidates)[0]);
  } catch (error) {
    for (const compiled of Object.values(candidates)) compiled.delete();
    throw error;
  }
  for (const [name, compiled] of Object.entries(candidates)) times[name] = await timeModel(compiled);
  const names = Object.keys(candidates);
  const chosen = names.reduce((best, name) => (times[name] < times[best] ? name : best), names[0]);
  for (const name of names) if (name !== chosen) candidates[name].delete();
  return { compiled: candidates[chosen], backend: chosen, times, webgpuError, checked };
}
