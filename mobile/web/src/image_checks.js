// Reads an image's format and size from its first bytes, before decoding it, so a
// non-image or a huge image is refused at once instead of freezing the page.

export const MAX_PIXELS = 40_000_000; // 40 MP: a large phone photo is 12-50 MP

function u16be(b, i) { return (b[i] << 8) | b[i + 1]; }
function u32be(b, i) { return ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3]; }
function u16le(b, i) { return b[i] | (b[i + 1] << 8); }
function u24le(b, i) { return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16); }
function i32le(b, i) { return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24); }

function jpegSize(b) {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) { i += 1; continue; }
    const marker = b[i + 1];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }
    const length = u16be(b, i + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame) return { width: u16be(b, i + 7), height: u16be(b, i + 5) };
    i += 2 + length;
  }
  return null;
}

function webpSize(b) {
  const chunk = String.fromCharCode(...b.slice(12, 16));
  if (chunk === 'VP8X') return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  if (chunk === 'VP8L') {
    const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ') return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  return null;
}

/** {format, width, height} from the header bytes, or null if not a known image. */
export function sniffImage(bytes) {
  const b = bytes;
  const ascii = (start, end) => String.fromCharCode(...b.slice(start, end));
  if (b.length >= 24 && b[0] === 0x89 && ascii(1, 4) === 'PNG') {
    return { format: 'png', width: u32be(b, 16), height: u32be(b, 20) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    const size = jpegSize(b);
    return size ? { format: 'jpeg', ...size } : { format: 'jpeg', width: 0, height: 0 };
  }
  if (b.length >= 10 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) {
    return { format: 'gif', width: u16le(b, 6), height: u16le(b, 8) };
  }
  if (b.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') {
    const size = webpSize(b);
    return size ? { format: 'webp', ...size } : null;
  }
  if (b.length >= 26 && ascii(0, 2) === 'BM') {
    return { format: 'bmp', width: Math.abs(i32le(b, 18)), height: Math.abs(i32le(b, 22)) };
  }
  return null;
}

/**
 * Checks a File before decoding. Returns {ok: true, info} or {ok: false, message}.
 * Formats the header cannot describe (HEIC, AVIF...) pass if the browser says
 * they are images; decoding failures are reported later.
 */
export async function checkImageFile(file) {
  const head = new Uint8Array(await file.slice(0, 256 * 1024).arrayBuffer());
  if (head.length === 0) return { ok: false, message: `"${file.name}" is empty.` };
  const info = sniffImage(head);
  if (!info) {
    // A type the header check cannot read (HEIC, AVIF...) is left to the browser's decoder;
    // a file named like JPEG/PNG/... whose bytes are not is simply not an image.
    const readable = ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/bmp'];
    if (file.type.startsWith('image/') && !readable.includes(file.type)) return { ok: true, info: null };
    return { ok: false, message: `"${file.name}" is not an image (JPEG, PNG, WebP, GIF or BMP).` };
  }
  const pixels = info.width * info.height;
  if (pixels > MAX_PIXELS) {
    const mp = (pixels / 1e6).toFixed(0);
    return {
      ok: false,
      message: `"${file.name}" is too large (${info.width}×${info.height}, ${mp} MP). ` +
        `Use a photo of at most ${MAX_PIXELS / 1e6} MP.`,
    };
  }
  return { ok: true, info };
}
