// Five-point similarity alignment to the 112x112 template and the paste back into the
// full-resolution photo: the browser twin of c2fdan_tf/inference/alignment.py (same
// template, from face_detector.json; same transform; OpenCV's bicubic and bilinear
// sampling and border rules written out).

/** 2x3 matrix [a, b, tx, c, d, ty] of the least-squares similarity transform mapping
 * `source` points onto `target` points (Umeyama 1991), as alignment.similarity_transform. */
export function similarityTransform(source, target) {
  const n = source.length;
  const mean = (pts) => pts.reduce(([sx, sy], [x, y]) => [sx + x / n, sy + y / n], [0, 0]);
  const [msx, msy] = mean(source);
  const [mtx, mty] = mean(target);
  // covariance = t^T s / n (2x2), source variance
  let c00 = 0; let c01 = 0; let c10 = 0; let c11 = 0; let variance = 0;
  for (let i = 0; i < n; i += 1) {
    const sx = source[i][0] - msx; const sy = source[i][1] - msy;
    const tx = target[i][0] - mtx; const ty = target[i][1] - mty;
    c00 += (tx * sx) / n; c01 += (tx * sy) / n; c10 += (ty * sx) / n; c11 += (ty * sy) / n;
    variance += (sx * sx + sy * sy) / n;
  }
  // For 2x2, the optimal rotation is the one closest to the covariance: with
  // p = c00 + c11, q = c10 - c01, rotation angle atan2(q, p) and scale sqrt(p^2 + q^2) / var
  // when det(covariance) >= 0; with a reflection in the covariance (det < 0) Umeyama's sign
  // correction gives the same closed form (trace(D S) = sigma1 - sigma2 = sqrt(p^2 + q^2)).
  const p = c00 + c11;
  const q = c10 - c01;
  const norm = Math.hypot(p, q);
  const scale = norm / variance;
  const cos = p / norm; const sin = q / norm;
  const a = scale * cos; const b = -scale * sin; const c = scale * sin; const d = scale * cos;
  return [a, b, mtx - (a * msx + b * msy), c, d, mty - (c * msx + d * msy)];
}

export function invertAffine([a, b, tx, c, d, ty]) {
  const det = a * d - b * c;
  const ia = d / det; const ib = -b / det; const ic = -c / det; const id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

export function applyAffine([a, b, tx, c, d, ty], [x, y]) {
  return [a * x + b * y + tx, c * x + d * y + ty];
}

function reflect101(i, n) {
  if (n === 1) return 0;
  let k = i;
  while (k < 0 || k >= n) k = k < 0 ? -k : 2 * n - 2 - k;
  return k;
}

function cubicWeights(t) {
  const A = -0.75; // OpenCV's INTER_CUBIC
  const w0 = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
  const w1 = ((A + 2) * t - (A + 3)) * t * t + 1;
  const w2 = ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1;
  return [w0, w1, w2, 1 - w0 - w1 - w2];
}

/** Bicubic sample (OpenCV INTER_CUBIC, BORDER_REFLECT_101) of an RGBA/RGB uint8 image into out[0..2]. */
function sampleCubic(data, width, height, channels, x, y, out) {
  const x0 = Math.floor(x); const y0 = Math.floor(y);
  const wx = cubicWeights(x - x0); const wy = cubicWeights(y - y0);
  out[0] = 0; out[1] = 0; out[2] = 0;
  for (let j = 0; j < 4; j += 1) {
    const row = reflect101(y0 - 1 + j, height) * width;
    for (let i = 0; i < 4; i += 1) {
      const weight = wy[j] * wx[i];
      const p = channels * (row + reflect101(x0 - 1 + i, width));
      out[0] += weight * data[p]; out[1] += weight * data[p + 1]; out[2] += weight * data[p + 2];
    }
  }
}

/** The 112x112 aligned face (RGBA ImageData-like {width, height, data}) of a photo
 * (RGBA uint8, width x height) under the photo->aligned `matrix`. */
export function warpToFace(photo, matrix, size) {
  const inverse = invertAffine(matrix);
  const data = new Uint8ClampedArray(size * size * 4);
  const rgb = [0, 0, 0];
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      const [sx, sy] = applyAffine(inverse, [x, y]);
      sampleCubic(photo.data, photo.width, photo.height, 4, sx, sy, rgb);
      const o = 4 * (y * size + x);
      data[o] = rgb[0]; data[o + 1] = rgb[1]; data[o + 2] = rgb[2]; data[o + 3] = 255; // clamped + rounded
    }
  }
  return { width: size, height: size, data };
}

/** The mask binarised at `threshold` and grown by `grow` pixels (a square structuring element). */
export function binaryMask(mask, size, threshold = 0.5, grow = 2) {
  const binary = new Uint8Array(size * size);
  for (let p = 0; p < binary.length; p += 1) binary[p] = mask[p] > threshold ? 1 : 0;
  if (!grow) return binary;
  const grown = new Uint8Array(size * size);
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      let on = 0;
      for (let dy = -grow; dy <= grow && !on; dy += 1) {
        const yy = y + dy;
        if (yy < 0 || yy >= size) continue;
        for (let dx = -grow; dx <= grow; dx += 1) {
          const xx = x + dx;
          if (xx >= 0 && xx < size && binary[yy * size + xx]) { on = 1; break; }
        }
      }
      grown[y * size + x] = on;
    }
  }
  return grown;
}

function sampleLinearZero(values, size, x, y) {
  const x0 = Math.floor(x); const y0 = Math.floor(y);
  const fx = x - x0; const fy = y - y0;
  const at = (xx, yy) => (xx < 0 || yy < 0 || xx >= size || yy >= size ? 0 : values[yy * size + xx]);
  return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
}

/**
 * Pastes a completed aligned face back into `photo` (RGBA uint8, modified in place) where its
 * grown binary mask, warped back with bilinear edges, is on; every other pixel keeps its value.
 * `completed` is RGB float in [0, 1] (size x size). Returns the number of pixels touched.
 */
export function pasteBack(photo, completed, mask, matrix, size, { threshold = 0.5, grow = 2 } = {}) {
  const binary = binaryMask(mask, size, threshold, grow);
  const face = new Uint8ClampedArray(size * size * 3);
  for (let i = 0; i < face.length; i += 1) face[i] = Math.round(Math.min(Math.max(completed[i], 0), 1) * 255);
  const inverse = invertAffine(matrix);
  const corners = [[-1, -1], [size, -1], [-1, size], [size, size]].map((pt) => applyAffine(inverse, pt));
  const xs = corners.map((c) => c[0]); const ys = corners.map((c) => c[1]);
  const left = Math.max(0, Math.floor(Math.min(...xs)) - 1);
  const right = Math.min(photo.width - 1, Math.ceil(Math.max(...xs)) + 1);
  const top = Math.max(0, Math.floor(Math.min(...ys)) - 1);
  const bottom = Math.min(photo.height - 1, Math.ceil(Math.max(...ys)) + 1);
  const rgb = [0, 0, 0];
  let touched = 0;
  for (let y = top; y <= bottom; y += 1) {
    for (let x = left; x <= right; x += 1) {
      const [fx, fy] = applyAffine(matrix, [x, y]);
      if (fx <= -1 || fy <= -1 || fx >= size || fy >= size) continue;
      const m = sampleLinearZero(binary, size, fx, fy);
      if (m <= 0) continue;
      sampleCubic(face, size, size, 3, fx, fy, rgb);
      const p = 4 * (y * photo.width + x);
      for (let c = 0; c < 3; c += 1) {
        const warped = Math.round(Math.min(Math.max(rgb[c], 0), 255)); // cv2's uint8 warp
        photo.data[p + c] = Math.round(photo.data[p + c] * (1 - m) + warped * m);
      }
      touched += 1;
    }
  }
  return touched;
}
