// A square crop tool over the photo, with the aligned-face template's eye and mouth
// positions drawn inside the square so the user can line the face up.

export const FACE_SIZE = 112;
// The 112x112 five-point template (ArcFace/insightface), (x, y) in pixels.
const EYES = [[38.29, 51.70], [73.53, 51.50]];
const MOUTH = [[41.55, 92.37], [70.73, 92.20]];

export class CropTool {
  constructor(canvas, slider, onChange = () => {}) {
    this.canvas = canvas;
    this.slider = slider;
    this.onChange = onChange;
    this.bitmap = null;
    this.crop = { x: 0, y: 0, size: 0 };
    this.drag = null;
    canvas.addEventListener('pointerdown', (e) => this.startDrag(e));
    canvas.addEventListener('pointermove', (e) => this.moveDrag(e));
    canvas.addEventListener('pointerup', () => { this.drag = null; });
    canvas.addEventListener('pointercancel', () => { this.drag = null; });
    canvas.tabIndex = 0;
    canvas.addEventListener('keydown', (e) => this.nudge(e));
    slider.addEventListener('input', () => this.resize(Number(slider.value) / 100));
  }

  /** Shows a decoded image; the crop starts as the largest centred square. */
  setImage(bitmap) {
    this.bitmap = bitmap;
    const side = Math.min(bitmap.width, bitmap.height);
    this.crop = { x: Math.floor((bitmap.width - side) / 2), y: Math.floor((bitmap.height - side) / 2), size: side };
    this.slider.value = '100';
    const scale = Math.min(1, 900 / Math.max(bitmap.width, bitmap.height));
    this.canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    this.canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    this.draw();
  }

  clamp() {
    const { width, height } = this.bitmap;
    const c = this.crop;
    c.size = Math.max(8, Math.min(c.size, width, height));
    c.x = Math.max(0, Math.min(c.x, width - c.size));
    c.y = Math.max(0, Math.min(c.y, height - c.size));
  }

  resize(fraction) {
    if (!this.bitmap) return;
    const c = this.crop;
    const centre = [c.x + c.size / 2, c.y + c.size / 2];
    c.size = Math.round(Math.min(this.bitmap.width, this.bitmap.height) * Math.max(0.1, fraction));
    c.x = Math.round(centre[0] - c.size / 2);
    c.y = Math.round(centre[1] - c.size / 2);
    this.clamp();
    this.draw();
  }

  toImage(e) {
    const rect = this.canvas.getBoundingClientRect();
    return [(e.clientX - rect.left) * (this.bitmap.width / rect.width),
            (e.clientY - rect.top) * (this.bitmap.height / rect.height)];
  }

  startDrag(e) {
    if (!this.bitmap) return;
    this.canvas.setPointerCapture(e.pointerId);
    const [x, y] = this.toImage(e);
    this.drag = { x, y, crop: { ...this.crop } };
  }

  moveDrag(e) {
    if (!this.drag) return;
    const [x, y] = this.toImage(e);
    this.crop.x = Math.round(this.drag.crop.x + x - this.drag.x);
    this.crop.y = Math.round(this.drag.crop.y + y - this.drag.y);
    this.clamp();
    this.draw();
  }

  nudge(e) {
    const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (!this.bitmap || !steps[e.key]) return;
    e.preventDefault();
    const step = Math.max(1, Math.round(this.crop.size / 50));
    this.crop.x += steps[e.key][0] * step;
    this.crop.y += steps[e.key][1] * step;
    this.clamp();
    this.draw();
  }

  draw() {
    const ctx = this.canvas.getContext('2d');
    const s = this.canvas.width / this.bitmap.width;
    const c = this.crop;
    ctx.drawImage(this.bitmap, 0, 0, this.canvas.width, this.canvas.height);
    ctx.fillStyle = 'rgba(0, 0, 0, 0.55)';
    ctx.beginPath();
    ctx.rect(0, 0, this.canvas.width, this.canvas.height);
    ctx.rect(c.x * s, c.y * s, c.size * s, c.size * s);
    ctx.fill('evenodd');
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 2;
    ctx.strokeRect(c.x * s, c.y * s, c.size * s, c.size * s);
    const point = ([px, py]) => [(c.x + (px / FACE_SIZE) * c.size) * s, (c.y + (py / FACE_SIZE) * c.size) * s];
    ctx.strokeStyle = '#f0a500';
    ctx.lineWidth = 2;
    const r = Math.max(3, (c.size * s) / 28);
    for (const eye of EYES) {
      const [ex, ey] = point(eye);
      ctx.beginPath();
      ctx.arc(ex, ey, r, 0, 2 * Math.PI);
      ctx.stroke();
    }
    const [m0, m1] = MOUTH.map(point);
    ctx.beginPath();
    ctx.moveTo(...m0);
    ctx.lineTo(...m1);
    ctx.stroke();
    this.onChange(this.crop);
  }

  /** The crop as 112x112 RGBA pixels. */
  extract() {
    const out = new OffscreenCanvas(FACE_SIZE, FACE_SIZE);
    const ctx = out.getContext('2d', { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    const c = this.crop;
    ctx.drawImage(this.bitmap, c.x, c.y, c.size, c.size, 0, 0, FACE_SIZE, FACE_SIZE);
    return ctx.getImageData(0, 0, FACE_SIZE, FACE_SIZE);
  }
}
