// The page: pick or take a photo; the worker finds every face, completes it and pastes it back
// into the full-resolution photo; the user can correct a face's mask and complete it again.
import { CropTool, FACE_SIZE } from './crop.js';
import { checkImageFile } from './image_checks.js';

const $ = (id) => document.getElementById(id);
const state = {
  modelReady: false, editing: false, detection: false, photoName: null, bitmap: null, faces: null,
  result: null, selected: 0, editorMask: null, busy: false, detectMs: 0,
};
const worker = new Worker(new URL('./inference.worker.js', import.meta.url));
// ?threads=1 runs the single-threaded build, ?threads=N asks for N; ?backend=wasm|webgpu skips the
// measurement that otherwise picks the faster of the two for this device.
const query = new URLSearchParams(location.search);
const runtimeChoice = {
  threads: Number(query.get('threads')) >= 1 ? Math.floor(Number(query.get('threads'))) : null,
  backend: ['wasm', 'webgpu'].includes(query.get('backend')) ? query.get('backend') : 'auto',
};
const crop = new CropTool($('crop-canvas'), $('crop-size'));

function showMessage(text) {
  const message = $('message');
  message.textContent = text ?? '';
  message.hidden = !text;
}

function setRuntime(text) { $('runtime').textContent = text; }

function setBusy(busy) {
  state.busy = busy;
  updateButtons();
}

function updateButtons() {
  const ready = state.modelReady && state.bitmap && state.faces !== null && !state.busy;
  $('run').disabled = !ready;
  $('remask').disabled = state.busy || !state.editing;
  const count = crop.manual ? 1 : state.faces?.length ?? 0;
  $('run').textContent = state.busy ? 'Working…' : count > 1 ? `Complete the ${count} faces` : 'Complete the face';
  $('by-hand').hidden = crop.manual || !state.faces?.length;
  $('manual-hint').hidden = !crop.manual;
  $('crop-size-row').hidden = !crop.manual;
}

worker.onmessage = ({ data }) => {
  if (data.type === 'loaded') {
    state.modelReady = true;
    state.editing = data.editing;
    state.detection = data.detection;
    setRuntime(runtimeDescription(data) + (data.detection ? '' : ' No face detector installed: choose faces by hand.'));
    window.c2fdanRuntime = { ...data, fetched: undefined, crossOriginIsolated: window.crossOriginIsolated === true };
    document.body.dataset.runtime = data.runtime;
    $('model-help').hidden = true;
    updateButtons();
    keepForOffline(data.fetched);
  } else if (data.type === 'no-model') {
    setRuntime('No model installed.');
    $('model-help').hidden = false;
  } else if (data.type === 'error') {
    setBusy(false);
    $('progress').textContent = '';
    if (!state.modelReady) {
      setRuntime('The model could not be loaded.');
      $('model-help').hidden = false;
    }
    showMessage(data.message);
  } else if (data.type === 'progress') {
    $('progress').textContent = data.text;
  } else if (data.type === 'faces') {
    showFaces(data);
  } else if (data.type === 'result') {
    showResult(data);
  }
};
worker.postMessage({ type: 'load', base: new URL('models/', document.baseURI).href, ...runtimeChoice });

function runtimeDescription(data) {
  const threads = `${data.threads} thread${data.threads > 1 ? 's' : ''}`;
  const where = data.runtime === 'webgpu' ? 'WebGPU (GPU)' : `wasm (CPU, XNNPACK, ${threads})`;
  const ms = (v) => `${Math.round(v)} ms`;
  const { wasm, webgpu } = data.backendMs;
  let measured = '';
  if (wasm !== null && webgpu !== null) {
    measured = ` Measured here: wasm ${ms(wasm)}, WebGPU ${ms(webgpu)} a face; the faster one runs.`;
  } else if (runtimeChoice.backend === 'auto' && data.webgpuError) {
    measured = ` WebGPU not used: ${data.webgpuError}.`;
  }
  const single = data.threadsReason ? ` One thread: ${data.threadsReason}.` : '';
  return `Model ready on this device: ${where}, ${(data.size / 1e6).toFixed(1)} MB, loaded in ${ms(data.loadMs)}.` +
    measured + single;
}

$('model-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  setRuntime(`Loading ${file.name}…`);
  const bytes = await file.arrayBuffer();
  worker.postMessage({ type: 'load', bytes, ...runtimeChoice }, [bytes]);
});

async function openPhoto(event) {
  const file = event.target.files[0];
  event.target.value = '';
  if (file) await openPhotoFile(file);
}

async function openPhotoFile(file) {
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
  state.bitmap = bitmap;
  state.photoFile = file;
  state.faces = null;
  state.result = null;
  state.photoName = file.name;
  state.photoType = check.info?.format === 'jpeg' ? 'image/jpeg' : 'image/png';
  window.c2fdanFaces = null;
  $('result-section').hidden = true;
  $('edit-section').hidden = true;
  $('crop-section').hidden = false;
  $('detect-status').textContent = '';
  crop.setImage(bitmap);
  setBusy(true);
  const copy = await createImageBitmap(bitmap);
  worker.postMessage({ type: 'photo', bitmap: copy, name: file.name, mimeType: state.photoType }, [copy]);
  $('crop-section').scrollIntoView({ behavior: 'smooth', block: 'start' });
}
$('photo').addEventListener('change', openPhoto);
$('camera').addEventListener('change', openPhoto);

function showFaces(data) {
  state.faces = data.faces;
  state.detectMs = data.ms;
  window.c2fdanFaces = { faces: data.faces, ms: data.ms, stages: data.stages };
  crop.showFaces(data.faces);
  const n = data.faces.length;
  $('progress').textContent = '';
  if (data.failure) {
    $('detect-status').textContent = `Face detection failed (${data.failure}). Put the square over the face by hand.`;
  } else if (!data.detector) {
    $('detect-status').textContent = 'This page has no face detector: put the square over the face by hand.';
  } else if (n === 0) {
    $('detect-status').textContent = 'No face found in this photo. Put the square over the face by hand, with the ' +
      'eyes and the mouth on the guides.';
  } else {
    $('detect-status').textContent = `Found ${n} face${n > 1 ? 's' : ''} in ${Math.round(data.ms)} ms ` +
      `(${data.width}×${data.height}).`;
  }
  setBusy(false);
}

$('by-hand').addEventListener('click', () => {
  crop.chooseByHand();
  $('detect-status').textContent = 'Put the square over the face, with the eyes and the mouth on the guides.';
  updateButtons();
});

$('run').addEventListener('click', () => {
  window.c2fdanLastResult = null;
  setBusy(true);
  worker.postMessage(crop.manual ? { type: 'complete', crop: { ...crop.crop } } : { type: 'complete' });
});

function faceImage(rgb) {
  const image = new ImageData(FACE_SIZE, FACE_SIZE);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    image.data[i] = Math.round(rgb[j] * 255);
    image.data[i + 1] = Math.round(rgb[j + 1] * 255);
    image.data[i + 2] = Math.round(rgb[j + 2] * 255);
    image.data[i + 3] = 255;
  }
  return image;
}

function maskOverlay(aligned, mask) {
  const overlay = new ImageData(new Uint8ClampedArray(aligned), FACE_SIZE, FACE_SIZE);
  for (let p = 0; p < mask.length; p += 1) {
    const a = 0.75 * mask[p];
    overlay.data[4 * p] = Math.round((1 - a) * overlay.data[4 * p] + a * 255);
    overlay.data[4 * p + 1] = Math.round((1 - a) * overlay.data[4 * p + 1]);
    overlay.data[4 * p + 2] = Math.round((1 - a) * overlay.data[4 * p + 2]);
  }
  return overlay;
}

function showResult(result) {
  state.result = result;
  setBusy(false);
  $('progress').textContent = '';
  window.c2fdanLastResult = result; // the raw outputs, for debugging and the end-to-end tests
  const n = result.faces.length;
  const ms = result.ms;
  $('timing').textContent = `${n} face${n > 1 ? 's' : ''} completed in ${Math.round(ms.total)} ms on this device ` +
    `(${document.body.dataset.runtime}; model ${Math.round(ms.completion)} ms, paste ${Math.round(ms.paste)} ms, ` +
    `encoding ${Math.round(ms.encode)} ms)` + (state.detectMs ? `; faces found in ${Math.round(state.detectMs)} ms.` : '.');
  // Shown at most 1600 pixels long (a 12 MP canvas on the page's thread would be slow); the
  // download keeps the full resolution.
  const canvas = $('compare-canvas');
  const shown = Math.min(1, 1600 / Math.max(result.width, result.height));
  canvas.width = Math.round(result.width * shown);
  canvas.height = Math.round(result.height * shown);
  state.resultBitmap?.close();
  state.resultBitmap = result.bitmap;
  drawComparison();
  const link = $('download');
  if (link.dataset.url) URL.revokeObjectURL(link.dataset.url);
  link.dataset.url = URL.createObjectURL(result.blob);
  link.href = link.dataset.url;
  const stem = (state.photoName ?? 'photo').replace(/\.[^.]+$/, '');
  link.download = `${stem}-completed.${result.mimeType === 'image/jpeg' ? 'jpg' : 'png'}`;
  $('download-info').textContent = `${result.width}×${result.height}, ${result.mimeType === 'image/jpeg' ? 'JPEG' : 'PNG'}, ` +
    `${(result.blob.size / 1e6).toFixed(1)} MB` +
    (result.mimeType === 'image/jpeg' ? ' (re-encoded at quality 95: pixels away from the faces change slightly).' : '; ' +
      'every pixel outside the completed regions is the original.');
  const picker = $('face-picker');
  picker.replaceChildren(...result.faces.map((_, k) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button secondary';
    button.textContent = `Face ${k + 1}`;
    button.addEventListener('click', () => selectFace(k));
    return button;
  }));
  picker.hidden = n < 2;
  selectFace(Math.min(state.selected, n - 1), true);
  $('result-section').hidden = false;
  $('edit-section').hidden = !state.editing;
  $('result-section').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function selectFace(k, keepEditor = false) {
  const face = state.result.faces[k];
  const changed = state.selected !== k;
  state.selected = k;
  [...$('face-picker').children].forEach((b, i) => b.setAttribute('aria-pressed', String(i === k)));
  const aligned = new ImageData(new Uint8ClampedArray(face.aligned), FACE_SIZE, FACE_SIZE);
  $('input-canvas').getContext('2d').putImageData(aligned, 0, 0);
  $('mask-canvas').getContext('2d').putImageData(maskOverlay(face.aligned, face.mask), 0, 0);
  $('mask-caption').textContent = face.edited ? 'Your mask' : 'Predicted mask';
  $('result-canvas').getContext('2d').putImageData(faceImage(face.completed), 0, 0);
  if (!keepEditor || changed || !state.editorMask || !face.edited) resetEditor();
  else drawEditor();
}

function resetEditor() {
  const face = state.result.faces[state.selected];
  state.editorMask = Float32Array.from(face.mask, (v) => (v > 0.5 ? 1 : 0));
  window.c2fdanEditorMask = state.editorMask;
  drawEditor();
}

function drawEditor() {
  const face = state.result.faces[state.selected];
  $('editor-canvas').getContext('2d').putImageData(maskOverlay(face.aligned, state.editorMask), 0, 0);
}

function paintAt(event) {
  const canvas = $('editor-canvas');
  const rect = canvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left) / rect.width) * FACE_SIZE;
  const y = ((event.clientY - rect.top) / rect.height) * FACE_SIZE;
  const radius = Number($('brush-size').value);
  const value = $('brush-erase').checked ? 0 : 1;
  for (let yy = Math.max(0, Math.floor(y - radius)); yy <= Math.min(FACE_SIZE - 1, Math.ceil(y + radius)); yy += 1) {
    for (let xx = Math.max(0, Math.floor(x - radius)); xx <= Math.min(FACE_SIZE - 1, Math.ceil(x + radius)); xx += 1) {
      if ((xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= radius * radius) state.editorMask[yy * FACE_SIZE + xx] = value;
    }
  }
  drawEditor();
}

const editor = $('editor-canvas');
let painting = false;
editor.addEventListener('pointerdown', (e) => {
  if (!state.editorMask) return;
  painting = true;
  editor.setPointerCapture(e.pointerId);
  paintAt(e);
});
editor.addEventListener('pointermove', (e) => { if (painting) paintAt(e); });
editor.addEventListener('pointerup', () => { painting = false; });
editor.addEventListener('pointercancel', () => { painting = false; });
$('reset-mask').addEventListener('click', () => { if (state.result) resetEditor(); });
$('remask').addEventListener('click', () => {
  if (!state.result || !state.editorMask) return;
  window.c2fdanLastResult = null;
  setBusy(true);
  worker.postMessage({ type: 'remask', index: state.selected, mask: Float32Array.from(state.editorMask) });
});

function drawComparison() {
  if (!state.resultBitmap || !state.bitmap) return;
  const canvas = $('compare-canvas');
  const split = Math.round((Number($('compare').value) / 1000) * canvas.width);
  const ctx = canvas.getContext('2d');
  const sx = state.resultBitmap.width / canvas.width;
  const sy = state.resultBitmap.height / canvas.height;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(state.bitmap, 0, 0, canvas.width, canvas.height);
  ctx.drawImage(state.resultBitmap, split * sx, 0, (canvas.width - split) * sx, state.resultBitmap.height,
    split, 0, canvas.width - split, canvas.height);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(split, 0, Math.max(1, Math.round(canvas.width / 300)), canvas.height);
}
$('compare').addEventListener('input', drawComparison);

// Offline: the service worker keeps the page, and what it used (wasm, models).
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

// Cross-origin isolation comes from the service worker's headers (sw.js), so from the load after
// the one that installed it: when it takes control of a page that is not isolated, the page
// reloads once, keeping the photo the user had opened (a result already shown is not thrown
// away: then the threads come with the next visit). Tried once per tab, so a browser without
// COOP/COEP support stays on the single-threaded path instead of reloading in a loop.
const ISOLATION_RELOAD = 'c2fdan-isolation-reload';
const PENDING_PHOTO = 'pending-photo';

async function reloadForIsolation() {
  if (window.crossOriginIsolated || sessionStorage.getItem(ISOLATION_RELOAD) || state.result) return;
  sessionStorage.setItem(ISOLATION_RELOAD, String(Date.now()));
  if (state.photoFile && 'caches' in window) {
    const cache = await caches.open(PENDING_PHOTO);
    await cache.put(PENDING_PHOTO, new Response(state.photoFile, {
      headers: { 'Content-Type': state.photoFile.type || 'application/octet-stream', 'X-File-Name': encodeURIComponent(state.photoFile.name) },
    }));
  }
  location.reload();
}

async function restorePendingPhoto() {
  if (!('caches' in window) || !(await caches.has(PENDING_PHOTO))) return;
  const response = await (await caches.open(PENDING_PHOTO)).match(PENDING_PHOTO);
  await caches.delete(PENDING_PHOTO);
  if (!response) return;
  const blob = await response.blob();
  const name = decodeURIComponent(response.headers.get('X-File-Name') ?? 'photo');
  await openPhotoFile(new File([blob], name, { type: blob.type }));
}

navigator.serviceWorker?.addEventListener('controllerchange', reloadForIsolation);
restorePendingPhoto().catch((error) => showMessage(`The photo opened before the reload is lost: ${error?.message ?? error}`));
