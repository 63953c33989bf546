// MTCNN face detection with five landmarks: a port of the `mtcnn` package's pipeline
// (1.0.0: StagePNet, StageRNet, StageONet and utils/bboxes.py), the networks running as
// TFLite files exported by c2fdan_tf/export/face_detector.py. Nothing here knows LiteRT:
// `nets.pnet(canvasSize, pixels)`, `nets.rnet(patches)`, `nets.onet(patches)` run them.
//
// Images are {width, height, data: RGBA, 0..255} (an ImageData).

/** tf.image.crop_and_resize of one box (pixel x1, y1, x2, y2 of an image of width x height,
 * normalised by the image size as the package does) to size x size, bilinear, 0 outside, of
 * the image normalised as (v - subtract) / divide (interpolation is linear: the same as
 * normalising first). The image is RGBA (an ImageData). */
export function cropAndResize(image, box, size, out, offset = 0, { subtract = 0, divide = 1 } = {}) {
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
        const tl = data[4 * (top * w + left) + c]; const tr = data[4 * (top * w + right) + c];
        const bl = data[4 * (bottom * w + left) + c]; const br = data[4 * (bottom * w + right) + c];
        const t = tl + (tr - tl) * dx;
        const b = bl + (br - bl) * dx;
        out[o + c] = (t + (b - t) * dy - subtract) / divide;
      }
    }
  }
}

// The smallest face the app looks for, as a fraction of the detection image's longer side
// (1/16: 40 pixels at the 640-pixel detection scale, 250 in a 4000-pixel phone photo). MTCNN's
// own minimum (min_face_size, 20 pixels) would add the two largest pyramid levels, three
// quarters of PNet's pixels and most of its false proposals, for faces too small to be a
// photo's subject; such a face can still be placed by hand.
export const MIN_FACE_FRACTION = 1 / 16;

/** The smallest face looked for in an image of width x height: MTCNN's minimum or MIN_FACE_FRACTION. */
export function minimumFace(width, height, settings) {
  return Math.max(settings.min_face_size, MIN_FACE_FRACTION * Math.max(width, height));
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

/**
 * Area averages of an image at any size from one summed-area table: the integral of the
 * piecewise-constant image is bilinear inside each pixel, so the average over any box with
 * fractional corners is exact (tf.image.resize(method=AREA) of every level after one pass).
 * The pixels must be integers (0..255: sums stay exact in 32 bits up to 8 MP);
 * `channels` is the stride of `data` (3 for RGB, 4 for an ImageData's RGBA), of which R, G, B are used.
 */
export class AreaPyramid {
  constructor({ width: w, height: h, data }, channels = 3) {
    if (w * h > 8_000_000) throw new Error(`AreaPyramid: ${w}x${h} is too large for 32-bit sums`);
    const stride = 3 * (w + 1);
    const table = new Int32Array((h + 1) * stride);
    for (let y = 0; y < h; y += 1) {
      let r = 0; let g = 0; let b = 0;
      let p = y * w * channels;
      let q = (y + 1) * stride + 3;
      for (let x = 0; x < w; x += 1, p += channels, q += 3) {
        r += data[p]; g += data[p + 1]; b += data[p + 2];
        table[q] = table[q - stride] + r; table[q + 1] = table[q + 1 - stride] + g; table[q + 2] = table[q + 2 - stride] + b;
      }
    }
    this.width = w;
    this.height = h;
    this.table = table;
    this.stride = stride;
  }

  /** The image resized to outW x outH like tf.image.resize(method=AREA), then (v - subtract) / divide. */
  resize(outW, outH, subtract = 0, divide = 1) {
    const { width: w, height: h, table, stride } = this;
    // Where each output column / row boundary falls: pixel index and fraction.
    const cornerIndex = (size, count) => {
      const index = new Int32Array(count + 1);
      const fraction = new Float64Array(count + 1);
      for (let o = 0; o <= count; o += 1) {
        const at = Math.min(o * (size / count), size);
        index[o] = Math.min(Math.floor(at), size - 1);
        fraction[o] = at - index[o];
      }
      return { index, fraction };
    };
    const xs = cornerIndex(w, outW);
    const ys = cornerIndex(h, outH);
    // The integral at every corner of the output grid (bilinear inside a pixel: exact).
    const gridRow = 3 * (outW + 1);
    const grid = new Float64Array((outH + 1) * gridRow);
    for (let gy = 0; gy <= outH; gy += 1) {
      const top = ys.index[gy] * stride;
      const bottom = top + stride;
      const b = ys.fraction[gy];
      for (let gx = 0, q = gy * gridRow; gx <= outW; gx += 1, q += 3) {
        const i = 3 * xs.index[gx];
        const a = xs.fraction[gx];
        for (let c = 0; c < 3; c += 1) {
          const s00 = table[top + i + c]; const s01 = table[top + i + 3 + c];
          const s10 = table[bottom + i + c]; const s11 = table[bottom + i + 3 + c];
          grid[q + c] = s00 + a * (s01 - s00) + b * (s10 - s00) + a * b * (s11 - s10 - s01 + s00);
        }
      }
    }
    const scale = 1 / ((w / outW) * (h / outH) * divide);
    const offset = subtract / divide;
    const out = new Float32Array(outW * outH * 3);
    for (let y = 0, o = 0; y < outH; y += 1) {
      for (let x = 0, q = y * gridRow; x < 3 * outW; x += 1, q += 1, o += 1) {
        out[o] = (grid[q + gridRow + 3] - grid[q + gridRow] - grid[q + 3] + grid[q]) * scale - offset;
      }
    }
    return { width: outW, height: outH, data: out };
  }
}

const LEVEL_GAP = 2; // zeros between packed levels (even: PNet's stride-2 cells stay aligned)

/**
 * Places pyramid levels ({width, height}, largest first) into as few PNet canvases as possible
 * (sizes: the exported square canvases): shelves left to right, even offsets, a zero gap between
 * levels. Returns [{size, levels: [{index, x, y}]}].
 */
export function packLevels(levels, sizes) {
  const ascending = [...sizes].sort((a, b) => a - b);
  const order = levels.map((level, index) => ({ ...level, index })).sort((a, b) => b.height - a.height || b.width - a.width);
  const even = (v) => v + (v % 2);
  const canvases = [];
  for (const level of order) {
    let placed = false;
    for (const canvas of canvases) {
      for (const shelf of canvas.shelves) {
        if (level.height <= shelf.height && shelf.x + level.width <= canvas.size) {
          canvas.levels.push({ index: level.index, x: shelf.x, y: shelf.y });
          shelf.x = even(shelf.x + level.width + LEVEL_GAP);
          placed = true;
          break;
        }
      }
      if (placed) break;
      if (canvas.nextY + level.height <= canvas.size && level.width <= canvas.size) {
        canvas.shelves.push({ y: canvas.nextY, height: level.height, x: even(level.width + LEVEL_GAP) });
        canvas.levels.push({ index: level.index, x: 0, y: canvas.nextY });
        canvas.nextY = even(canvas.nextY + level.height + LEVEL_GAP);
        placed = true;
        break;
      }
    }
    if (placed) continue;
    const size = ascending.find((s) => s >= Math.max(level.width, level.height));
    if (!size) throw new Error(`no PNet canvas holds a ${level.width}x${level.height} pyramid level`);
    canvases.push({
      size, levels: [{ index: level.index, x: 0, y: 0 }], nextY: even(level.height + LEVEL_GAP),
      shelves: [{ y: 0, height: level.height, x: even(level.width + LEVEL_GAP) }],
    });
  }
  return canvases.map(({ size, levels: placed }) => ({ size, levels: placed }));
}

async function proposals(image, config, nets, timings) {
  const settings = config.mtcnn;
  const { subtract, divide } = config.normalization;
  // MTCNN's own scales, without those that only find faces below the app's minimum: the
  // levels left are the Python detector's, so are its proposals for the faces both look for.
  const largest = settings.min_size / minimumFace(image.width, image.height, settings);
  let t = performance.now();
  const areas = new AreaPyramid(image, 4);
  timings.table = performance.now() - t;
  const levels = scalePyramid(image.width, image.height, settings)
    .filter((scale) => scale <= largest * (1 + 1e-9))
    .map((scale) => ({ scale, width: Math.floor(image.width * scale), height: Math.floor(image.height * scale) }))
    .filter((level) => Math.min(level.width, level.height) >= 12);
  for (const level of levels) level.pixels = areas.resize(level.width, level.height, subtract, divide).data;
  timings.resize = performance.now() - t; // the table included
  let all = [];
  for (const canvas of packLevels(levels, config.pnet.map((c) => c.size))) {
    const { size } = canvas;
    const pixels = new Float32Array(size * size * 3);
    for (const { index, x: ox, y: oy } of canvas.levels) {
      const { width: lw, height: lh, pixels: data } = levels[index];
      for (let y = 0; y < lh; y += 1) pixels.set(data.subarray(3 * y * lw, 3 * (y + 1) * lw), 3 * ((oy + y) * size + ox));
    }
    t = performance.now();
    const { box, face, outSize } = await nets.pnet(size, pixels);
    timings.pnet += performance.now() - t;
    timings.pnetRuns += 1;
    for (const { index, x: ox, y: oy } of canvas.levels) {
      const { width: lw, height: lh, scale } = levels[index];
      // The cells PNet gives for the level alone (its 'same' pooling adds one for odd sizes).
      const rows = Math.ceil((lh - 2) / 2) - 4;
      const cols = Math.ceil((lw - 2) / 2) - 4;
      const found = [];
      for (let y = 0; y < rows; y += 1) {
        for (let x = 0; x < cols; x += 1) {
          const cell = (oy / 2 + y) * outSize + ox / 2 + x;
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
  }
  return nms(all, settings.nms_pnet2, 'union', true).map(toSquare);
}

async function refine(image, boxes, net, entry, normalization, fn) {
  const { batch, size } = entry;
  const outputs = [];
  for (let start = 0; start < boxes.length; start += batch) {
    const chunk = boxes.slice(start, start + batch);
    const patches = new Float32Array(batch * size * size * 3);
    chunk.forEach((box, k) => cropAndResize(image, [box.x1, box.y1, box.x2, box.y2], size, patches, k * size * size * 3, normalization));
    const result = await net(patches);
    chunk.forEach((box, k) => outputs.push(fn(box, result, k)));
  }
  return outputs;
}

/**
 * Faces in an image (RGBA ImageData, 0..255): [{box: {x1, y1, x2, y2}, score, landmarks: [[x, y] x 5]}], the
 * landmarks in template order (left eye, right eye, nose, left and right mouth corner), most
 * confident first. timings: filled with each stage's milliseconds and counts.
 */
export async function detectFaces(image, config, nets, timings = {}) {
  Object.assign(timings, { resize: 0, pnet: 0, pnetRuns: 0, rnet: 0, onet: 0 });
  const settings = config.mtcnn;
  let boxes = await proposals(image, config, nets, timings);
  timings.proposals = boxes.length;
  if (boxes.length === 0) return [];
  let t = performance.now();
  boxes = await refine(image, boxes, nets.rnet, config.rnet, config.normalization, (box, result, k) => adjust(
    { ...box, score: result.face[2 * k + 1] }, result.box.subarray(4 * k, 4 * k + 4)));
  boxes = nms(boxes.filter((b) => b.score > settings.threshold_rnet), settings.nms_rnet, 'union', true).map(toSquare);
  timings.rnet = performance.now() - t;
  timings.refined = boxes.length;
  if (boxes.length === 0) return [];
  t = performance.now();
  boxes = await refine(image, boxes, nets.onet, config.onet, config.normalization, (box, result, k) => {
    const w = box.x2 - box.x1 + 1;
    const h = box.y2 - box.y1 + 1;
    const l = result.landmarks.subarray(10 * k, 10 * k + 10);
    const landmarks = [0, 1, 2, 3, 4].map((i) => [w * l[i] + box.x1 - 1, h * l[5 + i] + box.y1 - 1]);
    return { ...adjust(box, result.box.subarray(4 * k, 4 * k + 4)), score: result.face[2 * k + 1], landmarks };
  });
  boxes = nms(boxes.filter((b) => b.score > settings.threshold_onet), settings.nms_onet, 'min', true);
  timings.onet = performance.now() - t;
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi - 1);
  return boxes.map((b) => ({
    box: { x1: clamp(b.x1, image.width), y1: clamp(b.y1, image.height), x2: clamp(b.x2, image.width), y2: clamp(b.y2, image.height) },
    score: b.score,
    landmarks: b.landmarks,
  }));
}
