// Everything heavy, off the page's thread: LiteRT.js models (the C2FDAN generator, the
// given-mask model, MTCNN's three nets), face detection, alignment, completion and the paste
// back into the full-resolution photo, and encoding the download.
//
// Messages in:
//   {type: 'load', base, threads?, backend?}   models from the page's models/ folder
//                                   (threads: null = automatic, 1 = single-threaded build;
//                                   backend: 'auto' measures WebGPU against wasm, or 'wasm' / 'webgpu')
//   {type: 'load', bytes}           a generator chosen by the user (.tflite bytes)
//   {type: 'photo', bitmap, name, mimeType}    a decoded photo: find its faces
//   {type: 'complete', crop?}       complete the found faces, or the square {x, y, size}
//   {type: 'remask', index, mask}   complete face `index` again inside a corrected mask
// Messages out:
//   {type: 'loaded', runtime ('wasm' | 'webgpu'), threads, build, isolated, threadsReason,
//    backendMs: {wasm, webgpu}, webgpuError, loadMs, size, editing, detection, fetched} | {type: 'no-model'}
//   {type: 'progress', text} | {type: 'faces', faces, width, height, ms}
//   {type: 'result', faces, bitmap, blob, width, height, ms} | {type: 'error', message}
import { pasteBack, similarityTransform, warpToFace } from './alignment.js';
import { detectFaces } from './face_detection.js';
import TEMPLATE from './face_template.json';
import { compileFastest, compileModel, runModel, startLiteRt, warmUp } from './runtime.js';

const SIZE = TEMPLATE.size;
const models = { generator: null, givenMask: null, detector: null };
let photo = null; // {name, mimeType, width, height, pixels: ImageData, faces, results}

function checkGenerator(compiled, withMask) {
  const inputs = compiled.getInputDetails();
  const outputs = compiled.getOutputDetails().map((d) => d.name);
  const shapes = Object.fromEntries(inputs.map((d) => [d.name, Array.from(d.shape).join(',')]));
  const wanted = withMask ? { image: `1,${SIZE},${SIZE},3`, mask: `1,${SIZE},${SIZE},1` } : null;
  const ok = withMask
    ? inputs.length === 2 && Object.entries(wanted).every(([k, v]) => shapes[k] === v)
    : inputs.length === 1 && Object.values(shapes)[0] === `1,${SIZE},${SIZE},3`;
  if (!ok || !['completed', 'mask'].every((name) => outputs.includes(name))) {
    throw new Error(withMask
      ? `c2fdan_given_mask.tflite is not export.py's given-mask model (inputs ${JSON.stringify(shapes)}).`
      : 'This .tflite is not a C2FDAN generator from export.py: it must take one image ' +
        `(1, ${SIZE}, ${SIZE}, 3) and return "completed" and "mask" (it takes ${JSON.stringify(Object.values(shapes))} ` +
        `and returns ${outputs.join(', ')}).`);
  }
  return inputs.map((d) => d.name);
}

async function fetchBytes(url) {
  const response = await fetch(url);
  return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
}

async function loadDetector(base) {
  const response = await fetch(new URL('face_detector/face_detector.json', base));
  if (!response.ok) return null;
  const config = await response.json();
  const load = async (file) => {
    const bytes = await fetchBytes(new URL(`face_detector/${file}`, base));
    if (!bytes) throw new Error(`face_detector/${file} is missing from the page's models.`);
    const compiled = await compileModel(bytes, 'wasm');
    await warmUp(compiled); // now, not on the user's first photo
    return compiled;
  };
  const pnets = {};
  for (const entry of config.pnet) pnets[entry.size] = await load(entry.file);
  const detector = { config, pnets, rnet: await load(config.rnet.file), onet: await load(config.onet.file) };
  // Once on a made-up picture: the detection code is compiled by the JavaScript engine now,
  // not on the user's first photo.
  const side = 320;
  const picture = new ImageData(side, side);
  for (let i = 0; i < picture.data.length; i += 1) picture.data[i] = (i * 2654435761) >>> 24;
  await detectFaces(picture, config, nets(detector));
  return detector;
}

async function load(message) {
  const start = performance.now();
  const runtime = await startLiteRt(message.threads ?? null);
  let bytes = message.bytes ? new Uint8Array(message.bytes) : null;
  if (!bytes) {
    bytes = await fetchBytes(new URL('c2fdan.tflite', message.base));
    if (!bytes) {
      postMessage({ type: 'no-model', runtime });
      return;
    }
  }
  const fastest = await compileFastest(bytes, message.backend ?? 'auto', (compiled) => checkGenerator(compiled, false));
  const { backend } = fastest; // where the generator runs: 'wasm' or 'webgpu'
  models.generator?.compiled.delete();
  models.generator = { compiled: fastest.compiled, inputName: fastest.checked[0] };
  if (message.base) {
    const maskBytes = await fetchBytes(new URL('c2fdan_given_mask.tflite', message.base));
    if (maskBytes) {
      const given = await compileModel(maskBytes, backend);
      checkGenerator(given, true);
      models.givenMask = { compiled: given };
    }
    models.detector = await loadDetector(message.base);
  } else {
    models.givenMask = null; // it belongs to the page's generator, not to the user's file
  }
  // What this worker fetched (the wasm variant, the models), for the offline cache.
  const fetched = performance.getEntriesByType('resource').map((entry) => entry.name)
    .filter((url) => new URL(url).origin === self.location.origin);
  postMessage({
    type: 'loaded', runtime: backend, threads: runtime.threads, build: runtime.build, isolated: runtime.isolated,
    threadsReason: runtime.reason, backendMs: fastest.times, webgpuError: fastest.webgpuError,
    loadMs: performance.now() - start, size: bytes.length, fetched,
    editing: Boolean(models.givenMask), detection: Boolean(models.detector),
  });
}

function nets({ config, pnets, rnet, onet }) {
  return {
    pnet: async (size, pixels) => {
      const out = await runModel(pnets[size], { image: [pixels, [1, size, size, 3]] });
      return { ...out, outSize: Math.ceil((size - 2) / 2) - 4 };
    },
    rnet: (patches) => runModel(rnet, { image: [patches, [config.rnet.batch, 24, 24, 3]] }),
    onet: (patches) => runModel(onet, { image: [patches, [config.onet.batch, 48, 48, 3]] }),
  };
}

function drawScaled(bitmapOrCanvas, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmapOrCanvas, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height);
}

function readFullResolution(bitmap, small) {
  const { width, height } = bitmap;
  if (small && small.width === width && small.height === height) {
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d').putImageData(small, 0, 0);
    return { canvas, pixels: small };
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  return { canvas, pixels: ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' }) };
}

async function openPhoto({ bitmap, name, mimeType }) {
  const start = performance.now();
  const { width, height } = bitmap;
  photo = { name, mimeType, width, height, pixels: null, canvas: null, faces: [], results: [] };
  let small = null;
  let found = [];
  let failure = null;
  const stages = {};
  if (models.detector) {
    postMessage({ type: 'progress', text: 'Looking for faces…' });
    const { config } = models.detector;
    // Detection on a copy at most detection_max_side pixels long, drawn straight from the decoded
    // photo; the full resolution (for the paste) is read after the faces are reported.
    const scale = Math.min(1, config.detection_max_side / Math.max(width, height));
    small = drawScaled(bitmap, Math.round(width * scale), Math.round(height * scale));
    stages.scaled = performance.now() - start;
    try {
      found = await detectFaces(small, config, nets(models.detector), stages);
    } catch (error) {
      failure = String(error?.message ?? error); // the photo stays open: the face can be placed by hand
    }
    const sx = small.width / width;
    const sy = small.height / height;
    photo.faces = found.filter((face) => face.score >= config.min_confidence).map((face) => ({
      score: face.score,
      box: { x1: face.box.x1 / sx, y1: face.box.y1 / sy, x2: face.box.x2 / sx, y2: face.box.y2 / sy },
      landmarks: face.landmarks.map(([x, y]) => [x / sx, y / sy]),
    }));
  }
  const ms = performance.now() - start;
  postMessage({ type: 'progress', text: `Reading ${width}×${height} pixels…` });
  Object.assign(photo, readFullResolution(bitmap, small));
  bitmap.close();
  stages.read = performance.now() - start - ms; // after detection: not in `ms`
  postMessage({
    type: 'faces', faces: photo.faces, width, height, ms, detector: Boolean(models.detector), stages,
    ...(failure ? { failure } : {}),
  });
}

function alignedFace(matrix) {
  // A face much larger than 112 pixels is first scaled down by the browser's filter (bicubic
  // point sampling alone would alias), to at most twice the aligned size.
  const scale = Math.hypot(matrix[0], matrix[3]);
  if (scale >= 0.5) return warpToFace(photo.pixels, matrix, SIZE);
  const factor = (2 * scale);
  const small = drawScaled(photo.canvas, Math.max(1, Math.round(photo.width * factor)), Math.max(1, Math.round(photo.height * factor)));
  const fx = small.width / photo.width;
  const fy = small.height / photo.height;
  const m = [matrix[0] / fx, matrix[1] / fy, matrix[2], matrix[3] / fx, matrix[4] / fy, matrix[5]];
  return warpToFace(small, m, SIZE);
}

function modelPixels(face) {
  const pixels = new Float32Array(SIZE * SIZE * 3);
  for (let i = 0, j = 0; j < pixels.length; i += 4, j += 3) {
    pixels[j] = face.data[i] / 255; pixels[j + 1] = face.data[i + 1] / 255; pixels[j + 2] = face.data[i + 2] / 255;
  }
  return pixels;
}

async function finish(start, timings) {
  const composite = new ImageData(new Uint8ClampedArray(photo.pixels.data), photo.width, photo.height);
  const pasteStart = performance.now();
  for (const result of photo.results) {
    result.pasted = pasteBack(composite, result.completed, result.mask, result.matrix, SIZE);
  }
  timings.paste = performance.now() - pasteStart;
  postMessage({ type: 'progress', text: 'Encoding the full-resolution result…' });
  const encodeStart = performance.now();
  const canvas = new OffscreenCanvas(photo.width, photo.height);
  canvas.getContext('2d').putImageData(composite, 0, 0);
  const type = photo.mimeType === 'image/jpeg' ? 'image/jpeg' : 'image/png';
  const blob = await canvas.convertToBlob(type === 'image/jpeg' ? { type, quality: 0.95 } : { type });
  timings.encode = performance.now() - encodeStart;
  const bitmap = canvas.transferToImageBitmap();
  const faces = photo.results.map((r) => ({
    aligned: r.aligned.data.slice(), completed: r.completed.slice(), mask: r.mask.slice(), matrix: r.matrix,
    landmarks: r.landmarks, pasted: r.pasted, edited: r.edited,
  }));
  postMessage({
    type: 'result', faces, bitmap, blob, width: photo.width, height: photo.height, mimeType: type,
    ms: { total: performance.now() - start, ...timings },
  }, [bitmap]);
}

async function complete({ crop }) {
  if (!models.generator) throw new Error('No model is loaded.');
  if (!photo) throw new Error('No photo is open.');
  const start = performance.now();
  const faces = crop
    ? [{ matrix: [SIZE / crop.size, 0, (-crop.x * SIZE) / crop.size, 0, SIZE / crop.size, (-crop.y * SIZE) / crop.size], landmarks: null }]
    : photo.faces.map((face) => ({ matrix: similarityTransform(face.landmarks, TEMPLATE.points), landmarks: face.landmarks }));
  const timings = { completion: 0 };
  photo.results = [];
  for (const [k, face] of faces.entries()) {
    postMessage({ type: 'progress', text: `Completing face ${k + 1} of ${faces.length}…` });
    const aligned = alignedFace(face.matrix);
    const runStart = performance.now();
    const out = await runModel(models.generator.compiled, { [models.generator.inputName]: [modelPixels(aligned), [1, SIZE, SIZE, 3]] });
    timings.completion += performance.now() - runStart;
    photo.results.push({ ...face, aligned, completed: out.completed, mask: out.mask, edited: false });
  }
  await finish(start, timings);
}

async function remask({ index, mask }) {
  if (!models.givenMask) throw new Error('This page has no given-mask model (c2fdan_given_mask.tflite): the mask cannot be corrected.');
  const result = photo?.results[index];
  if (!result) throw new Error(`There is no face ${index + 1} to complete again.`);
  const start = performance.now();
  postMessage({ type: 'progress', text: `Completing face ${index + 1} inside your mask…` });
  const out = await runModel(models.givenMask.compiled, {
    image: [modelPixels(result.aligned), [1, SIZE, SIZE, 3]], mask: [Float32Array.from(mask), [1, SIZE, SIZE, 1]],
  });
  const timings = { completion: performance.now() - start };
  Object.assign(result, { completed: out.completed, mask: Float32Array.from(mask), edited: true });
  await finish(start, timings);
}

// One message at a time, in order: a photo sent while the models still load waits for them.
let queue = Promise.resolve();
self.onmessage = ({ data }) => {
  queue = queue.then(async () => {
    try {
      if (data.type === 'load') await load(data);
      else if (data.type === 'photo') await openPhoto(data);
      else if (data.type === 'complete') await complete(data);
      else if (data.type === 'remask') await remask(data);
    } catch (error) {
      postMessage({ type: 'error', message: String(error?.message ?? error) });
    }
  });
};
