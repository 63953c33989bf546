// The photo with the faces found in it (boxes and five landmarks), or, by hand, a square
// crop tool with the aligned-face template's eye and mouth positions drawn inside it.
import TEMPLATE from './face_template.json';

export const FACE_SIZE = TEMPLATE.size;
// The 112x112 five-point template (face_template.py, generated), (x, y) in pixels.
const EYES = TEMPLATE.points.slice(0, 2);
const MOUTH = TEMPLATE.points.slice(3, 5);

export class CropTool {
  constructor(canvas, slider, onChange = () => {}) {
    this.canvas = canvas;
    this.slider = slider;
    this.onChange = onChange;
    this.bitmap = null;
    this.faces = [];
    this.manual = true;
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

  /** Shows the faces found ({box, landmarks} in photo pixels) instead of the square. */
  showFaces(faces) {
    this.faces = faces;
    this.manual = faces.length === 0;
    this.draw();
  }

  /** Back to the square, by hand. */
  chooseByHand() {
    this.manual = true;
    this.draw();
  }

  /** Shows a decoded image; the crop starts as the largest centred square. */
  setImage(bitmap) {
    this.bitmap = bitmap;
    this.faces = [];
    this.manual = true;
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
    if (!this.bitmap || !this.manual) return;
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
    if (!this.bitmap || !this.manual || !steps[e.key]) return;
    e.preventDefault();
    const step = Math.max(1, Math.round(this.crop.size / 50));
    this.crop.x += steps[e.key][0] * step;
    this.crop.y += steps[e.key][1] * step;
    this.clamp();
    this.draw();
  }

  drawFaces(ctx, s) {
    ctx.lineWidth = 2;
    this.faces.forEach((face, k) => {
      const { x1, y1, x2, y2 } = face.box;
      ctx.strokeStyle = '#ffffff';
      ctx.strokeRect(x1 * s, y1 * s, (x2 - x1) * s, (y2 - y1) * s);
      ctx.fillStyle = '#f0a500';
      for (const [x, y] of face.landmarks) {
        ctx.beginPath();
        ctx.arc(x * s, y * s, Math.max(2, ((x2 - x1) * s) / 40), 0, 2 * Math.PI);
        ctx.fill();
      }
      ctx.font = `${Math.max(12, Math.round(this.canvas.width / 40))}px system-ui, sans-serif`;
      ctx.fillStyle = '#ffffff';
      ctx.fillText(String(k + 1), x1 * s + 3, y1 * s - 4 > 10 ? y1 * s - 4 : y1 * s + 14);
    });
  }

  draw() {
    const ctx = this.canvas.getContext('2d');
    const s = this.canvas.width / this.bitmap.width;
    const c = this.crop;
    ctx.drawImage(this.bitmap, 0, 0, this.canvas.width, this.canvas.height);
    if (!this.manual) {
      this.drawFaces(ctx, s);
      return;
    }
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
}
