// The page: pick or take a photo, align the face, complete it on the device.
import { CropTool, FACE_SIZE } from './crop.js';
import { checkImageFile } from './image_checks.js';

const $ = (id) => document.getElementById(id);
const state = { input: null, result: null, modelReady: false };
const worker = new Worker(new URL('./inference.worker.js', import.meta.url));
const crop = new CropTool($('crop-canvas'), $('crop-size'));

function showMessage(text) {
  const message = $('message');
  message.textContent = text ?? '';
  message.hidden = !text;
}

function setRuntime(text) { $('runtime').textContent = text; }

function updateRunButton() {
  $('run').disabled = !(state.modelReady && crop.bitmap);
}

worker.onmessage = ({ data }) => {
  if (data.type === 'loaded') {
    state.modelReady = true;
    const where = data.runtime === 'webgpu' ? 'WebGPU (GPU)' : 'wasm (CPU, XNNPACK)';
    setRuntime(`Model ready on this device: ${where}, ${(data.size / 1e6).toFixed(1)} MB, ` +
      `loaded in ${Math.round(data.loadMs)} ms.`);
    document.body.dataset.runtime = data.runtime;
    $('model-help').hidden = true;
    updateRunButton();
    keepForOffline(data.fetched);
  } else if (data.type === 'no-model') {
    setRuntime('No model installed.');
    $('model-help').hidden = false;
  } else if (data.type === 'error') {
    $('run').disabled = !state.modelReady;
    $('run').textContent = 'Complete the face';
    if (!state.modelReady) {
      setRuntime('The model could not be loaded.');
      $('model-help').hidden = false;
    }
    showMessage(data.message);
  } else if (data.type === 'result') {
    showResult(data);
  }
};
worker.postMessage({ type: 'load', url: new URL('models/c2fdan.tflite', document.baseURI).href });

$('model-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  setRuntime(`Loading ${file.name}…`);
  const bytes = await file.arrayBuffer();
  worker.postMessage({ type: 'load', bytes }, [bytes]);
});

async function openPhoto(event) {
  const file = event.target.files[0];
  event.target.value = '';
  if (!file) return;
  showMessage(null);
  const check = await checkImageFile(file);
  if (!check.ok) {
    showMessage(check.message);
    return;
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    showMessage(`"${file.name}" could not be decoded: it is damaged or in a format this browser cannot read.`);
    return;
  }
  if (bitmap.width * bitmap.height === 0) {
    showMessage(`"${file.name}" has no pixels.`);
    return;
  }
  $('crop-section').hidden = false;
  crop.setImage(bitmap);
  updateRunButton();
  $('crop-section').scrollIntoView({ behavior: 'smooth', block: 'start' });
}
$('photo').addEventListener('change', openPhoto);
$('camera').addEventListener('change', openPhoto);

$('run').addEventListener('click', () => {
  const image = crop.extract();
  state.input = image;
  const pixels = new Float32Array(FACE_SIZE * FACE_SIZE * 3);
  for (let i = 0, j = 0; i < image.data.length; i += 4, j += 3) {
    pixels[j] = image.data[i] / 255;
    pixels[j + 1] = image.data[i + 1] / 255;
    pixels[j + 2] = image.data[i + 2] / 255;
  }
  $('run').disabled = true;
  $('run').textContent = 'Completing…';
  worker.postMessage({ type: 'run', pixels }, [pixels.buffer]);
});

function toImageData(rgb) {
  const image = new ImageData(FACE_SIZE, FACE_SIZE);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    image.data[i] = Math.round(rgb[j] * 255);
    image.data[i + 1] = Math.round(rgb[j + 1] * 255);
    image.data[i + 2] = Math.round(rgb[j + 2] * 255);
    image.data[i + 3] = 255;
  }
  return image;
}

function showResult(result) {
  state.result = result;
  // Kept for debugging and the end-to-end tests: the raw model outputs.
  window.c2fdanLastResult = { completed: result.completed, mask: result.mask, ms: result.ms };
  const completed = toImageData(result.completed);
  $('input-canvas').getContext('2d').putImageData(state.input, 0, 0);
  $('result-canvas').getContext('2d').putImageData(completed, 0, 0);
  const overlay = new ImageData(new Uint8ClampedArray(state.input.data), FACE_SIZE, FACE_SIZE);
  for (let p = 0; p < result.mask.length; p += 1) {
    const a = result.mask[p];
    overlay.data[4 * p] = Math.round((1 - a) * overlay.data[4 * p] + a * 255);
    overlay.data[4 * p + 1] = Math.round((1 - a) * overlay.data[4 * p + 1]);
    overlay.data[4 * p + 2] = Math.round((1 - a) * overlay.data[4 * p + 2]);
  }
  $('mask-canvas').getContext('2d').putImageData(overlay, 0, 0);
  state.completedImage = completed;
  drawComparison();
  $('timing').textContent = `Completed in ${Math.round(result.ms)} ms on this device (${document.body.dataset.runtime}).`;
  $('result-section').hidden = false;
  $('run').disabled = false;
  $('run').textContent = 'Complete the face';
  $('result-canvas').toBlob((blob) => {
    const link = $('download');
    if (link.dataset.url) URL.revokeObjectURL(link.dataset.url);
    link.dataset.url = URL.createObjectURL(blob);
    link.href = link.dataset.url;
  }, 'image/png');
  $('result-section').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function drawComparison() {
  if (!state.completedImage) return;
  const split = Number($('compare').value);
  const ctx = $('compare-canvas').getContext('2d');
  ctx.putImageData(state.input, 0, 0);
  ctx.putImageData(state.completedImage, 0, 0, split, 0, FACE_SIZE - split, FACE_SIZE);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(split, 0, 1, FACE_SIZE);
}
$('compare').addEventListener('input', drawComparison);

// Offline: the service worker keeps the page, and what it used (wasm, model).
async function keepForOffline(workerUrls = []) {
  if (!('serviceWorker' in navigator)) return;
  const registration = await navigator.serviceWorker.ready;
  const pageUrls = performance.getEntriesByType('resource').map((entry) => entry.name);
  const urls = [...new Set([...pageUrls, ...workerUrls])].filter((url) => new URL(url).origin === location.origin);
  registration.active?.postMessage({ type: 'cache', urls });
}
navigator.serviceWorker?.addEventListener('message', ({ data }) => {
  if (data?.type === 'cached') document.body.dataset.offlineReady = 'true';
});
if ('serviceWorker' in navigator) {
  // eslint-disable-next-line no-undef
  navigator.serviceWorker.register(new URL(`sw.js?v=${__C2FDAN_BUILD__}`, document.baseURI)).catch(() => {});
}
