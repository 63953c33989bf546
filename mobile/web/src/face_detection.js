// MTCNN face detection with five landmarks: a port of the `mtcnn` package's pipeline
// (1.0.0: StagePNet, StageRNet, StageONet and utils/bboxes.py), the networks running as
// TFLite files exported by c2fdan_tf/export/face_detector.py. Nothing here knows LiteRT:
// `nets.pnet(canvasSize, pixels)`, `nets.rnet(patches)`, `nets.onet(patches)` run them.
//
// Images are {width, height, data: Float32Array RGB, 0..255}.

/** tf.image.resize(method=AREA) to (outH, outW): each output pixel averages the input area it covers. */
export function resizeArea(image, outW, outH) {
  const { width: w, height: h, data } = image;
  const weights = (inSize, outSize) => {
    const scale = inSize / outSize;
    const rows = [];
    for (let o = 0; o < outSize; o += 1) {
      const start = o * scale;
      const end = (o + 1) * scale;
      const taps = [];
      for (let i = Math.floor(start); i < Math.ceil(end); i += 1) {
        const weight = Math.min(i + 1, end) - Math.max(i, start);
        if (weight > 0) taps.push([Math.min(i, inSize - 1), weight / scale]);
      }
      rows.push(taps);
    }
    return rows;
  };
  const xs = weights(w, outW);
  const ys = weights(h, outH);
  const horizontal = new Float32Array(h * outW * 3);
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < outW; x += 1) {
      let r = 0; let g = 0; let b = 0;
      for (const [i, weight] of xs[x]) {
        const p = 3 * (y * w + i);
        r += weight * data[p]; g += weight * data[p + 1]; b += weight * data[p + 2];
      }
      const q = 3 * (y * outW + x);
      horizontal[q] = r; horizontal[q + 1] = g; horizontal[q + 2] = b;
    }
  }
  const out = new Float32Array(outH * outW * 3);
  for (let y = 0; y < outH; y += 1) {
    for (const [i, weight] of ys[y]) {
      const row = i * outW * 3;
      const target = y * outW * 3;
      for (let k = 0; k < outW * 3; k += 1) out[target + k] += weight * horizontal[row + k];
    }
  }
  return { width: outW, height: outH, data: out };
}

/** tf.image.crop_and_resize of one box (pixel x1, y1, x2, y2 of an image of width x height,
 * normalised by the image size as the package does) to size x size, bilinear, 0 outside. */
export function cropAndResize(image, box, size, out, offset = 0) {
  const { width: w, height: h, data } = image;
  const [x1, y1, x2, y2] = [box[0] / w, box[1] / h, box[2] / w, box[3] / h];
  const sy = ((y2 - y1) * (h - 1)) / (size - 1);
  const sx = ((x2 - x1) * (w - 1)) / (size - 1);
  for (let i = 0; i < size; i += 1) {
    const inY = y1 * (h - 1) + i * sy;
    for (let j = 0; j < size; j += 1) {
      const inX = x1 * (w - 1) + j * sx;
      const o = offset + 3 * (i * size + j);
      if (inY < 0 || inY > h - 1 || inX < 0 || inX > w - 1) {
        out[o] = 0; out[o + 1] = 0; out[o + 2] = 0;
        continue;
      }
      const top = Math.floor(inY); const bottom = Math.ceil(inY); const dy = inY - top;
      const left = Math.floor(inX); const right = Math.ceil(inX); const dx = inX - left;
      for (let c = 0; c < 3; c += 1) {
        const tl = data[3 * (top * w + left) + c]; const tr = data[3 * (top * w + right) + c];
        const bl = data[3 * (bottom * w + left) + c]; const br = data[3 * (bottom * w + right) + c];
        const t = tl + (tr - tl) * dx;
        const b = bl + (br - bl) * dx;
        out[o + c] = t + (b - t) * dy;
      }
    }
  }
}

/** utils/images.py build_scale_pyramid. */
export function scalePyramid(width, height, { min_face_size: minFace, min_size: minSize, scale_factor: factor }) {
  const minDim = Math.min(width, height);
  const count = Math.round(-(Math.log(minDim / minSize) / Math.log(factor) + 1));
  const m = minSize / minFace;
  return Array.from({ length: Math.max(0, count) }, (_, k) => m * factor ** k);
}

function area(b) { return (b.x2 - b.x1) * (b.y2 - b.y1); }

function overlap(a, b, method) {
  const iw = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const ih = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const inter = iw * ih;
  return method === 'min' ? inter / Math.min(area(a), area(b)) : inter / (area(a) + area(b) - inter);
}

/** utils/bboxes.py nms: box j stays unless a box before it (higher score, kept or not) overlaps it above
 * the threshold. */
export function nms(boxes, threshold, method = 'union', sort = true) {
  const ordered = sort ? [...boxes].sort((a, b) => b.score - a.score) : boxes;
  return ordered.filter((box, j) => {
    for (let i = 0; i < j; i += 1) if (overlap(ordered[i], box, method) > threshold) return false;
    return true;
  });
}

function toSquare(box) {
  const w = box.x2 - box.x1;
  const h = box.y2 - box.y1;
  const side = Math.max(w, h);
  const x1 = box.x1 + w * 0.5 - side * 0.5;
  const y1 = box.y1 + h * 0.5 - side * 0.5;
  return { ...box, x1, y1, x2: x1 + side, y2: y1 + side };
}

function adjust(box, offsets) {
  const w = box.x2 - box.x1 + 1;
  const h = box.y2 - box.y1 + 1;
  return { ...box, x1: box.x1 + offsets[0] * w, y1: box.y1 + offsets[1] * h, x2: box.x2 + offsets[2] * w, y2: box.y2 + offsets[3] * h };
}

function normalize(image, { subtract, divide }) {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i += 1) data[i] = (image.data[i] - subtract) / divide;
  return { width: image.width, height: image.height, data };
}

async function proposals(image, config, nets) {
  const settings = config.mtcnn;
  const canvases = [...config.pnet].sort((a, b) => a.size - b.size);
  let all = [];
  for (const scale of scalePyramid(image.width, image.height, settings)) {
    const lw = Math.floor(image.width * scale);
    const lh = Math.floor(image.height * scale);
    if (Math.min(lw, lh) < 12) continue;
    const level = resizeArea(image, lw, lh);
    const canvas = canvases.find((c) => c.size >= Math.max(lw, lh));
    if (!canvas) throw new Error(`no PNet canvas holds a ${lw}x${lh} pyramid level`);
    const size = canvas.size;
    const pixels = new Float32Array(size * size * 3);
    for (let y = 0; y < lh; y += 1) pixels.set(level.data.subarray(3 * y * lw, 3 * (y + 1) * lw), 3 * y * size);
    const { box, face, outSize } = await nets.pnet(size, pixels);
    // The cells PNet gives for the level alone (its 'same' pooling adds one for odd sizes).
    const rows = Math.ceil((lh - 2) / 2) - 4;
    const cols = Math.ceil((lw - 2) / 2) - 4;
    const found = [];
    for (let y = 0; y < rows; y += 1) {
      for (let x = 0; x < cols; x += 1) {
        const cell = y * outSize + x;
        const score = face[2 * cell + 1];
        if (!(score > settings.threshold_pnet)) continue;
        const r = box.subarray(4 * cell, 4 * cell + 4);
        // generate_bounding_box: the 12x12 cell at stride 2, corners (2x+1, 2y+1)..(2x+12, 2y+12).
        const [left, top, right, bottom] = [2 * x + 1, 2 * y + 1, 2 * x + 12, 2 * y + 12];
        const s = 11;
        found.push({
          x1: (left + r[0] * s) / scale, y1: (top + r[1] * s) / scale,
          x2: (right + r[2] * s) / scale, y2: (bottom + r[3] * s) / scale, score,
        });
      }
    }
    found.sort((a, b) => b.score - a.score);
    all = all.concat(nms(found, settings.nms_pnet1, 'union', false));
  }
  return nms(all, settings.nms_pnet2, 'union', true).map(toSquare);
}

async function refine(image, boxes, net, entry, fn) {
  const { batch, size } = entry;
  const outputs = [];
  for (let start = 0; start < boxes.length; start += batch) {
    const chunk = boxes.slice(start, start + batch);
    const patches = new Float32Array(batch * size * size * 3);
    chunk.forEach((box, k) => cropAndResize(image, [box.x1, box.y1, box.x2, box.y2], size, patches, k * size * size * 3));
    const result = await net(patches);
    chunk.forEach((box, k) => outputs.push(fn(box, result, k)));
  }
  return outputs;
}

/**
 * Faces in an image (RGB 0..255): [{box: {x1, y1, x2, y2}, score, landmarks: [[x, y] x 5]}], the
 * landmarks in template order (left eye, right eye, nose, left and right mouth corner), most
 * confident first.
 */
export async function detectFaces(image, config, nets) {
  const settings = config.mtcnn;
  const normalized = normalize(image, config.normalization);
  let boxes = await proposals(normalized, config, nets);
  if (boxes.length === 0) return [];
  boxes = await refine(normalized, boxes, nets.rnet, config.rnet, (box, result, k) => adjust(
    { ...box, score: result.face[2 * k + 1] }, result.box.subarray(4 * k, 4 * k + 4)));
  boxes = nms(boxes.filter((b) => b.score > settings.threshold_rnet), settings.nms_rnet, 'union', true).map(toSquare);
  if (boxes.length === 0) return [];
  boxes = await refine(normalized, boxes, nets.onet, config.onet, (box, result, k) => {
    const w = box.x2 - box.x1 + 1;
    const h = box.y2 - box.y1 + 1;
    const l = result.landmarks.subarray(10 * k, 10 * k + 10);
    const landmarks = [0, 1, 2, 3, 4].map((i) => [w * l[i] + box.x1 - 1, h * l[5 + i] + box.y1 - 1]);
    return { ...adjust(box, result.box.subarray(4 * k, 4 * k + 4)), score: result.face[2 * k + 1], landmarks };
  });
  boxes = nms(boxes.filter((b) => b.score > settings.threshold_onet), settings.nms_onet, 'min', true);
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi - 1);
  return boxes.map((b) => ({
    box: { x1: clamp(b.x1, image.width), y1: clamp(b.y1, image.height), x2: clamp(b.x2, image.width), y2: clamp(b.y2, image.height) },
    score: b.score,
    landmarks: b.landmarks,
  }));
}
