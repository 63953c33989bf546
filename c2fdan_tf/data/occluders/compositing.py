"""Drawing an occluder onto a face: layers over the face, the mask as what they changed.

An occluder is a stack of layers, each an alpha `a` (B, H, W, 1) in [0, 1] and a
premultiplied colour `p = a * c` (B, H, W, 3), drawn bottom to top with the "over"
operator: `I <- (1 - a) * I + p`. Eq. 1 is the case of one layer with a binary alpha and a
flat colour. The ground-truth mask is every pixel where the layers' combined coverage
`1 - prod(1 - a)` reaches `ALPHA_THRESHOLD`; below it the face is left exactly as it was,
so the mask is the set of changed pixels and Eq. 2 with it gives back the clean face.

Sprites (pre-rendered RGBA or alpha images: glyphs, emoji, textures) are sampled by
bilinear interpolation at per-pixel coordinates, all in graph ops on a whole batch.
"""

import tensorflow as tf

from c2fdan_tf.face_template import IMAGE_SIZE

# A layer whose coverage stays below this changes a pixel by less than 2 % of the colour
# difference (at most 5 of 255 levels): such faint fringes are trimmed, not masked.
ALPHA_THRESHOLD = 0.02


def pixel_grid():
    """Pixel centres (rows (1, H, 1), cols (1, 1, W)) of the 112 x 112 image."""
    coords = tf.range(IMAGE_SIZE, dtype=tf.float32) + 0.5
    return coords[None, :, None], coords[None, None, :]


def composite(faces, layers):
    """(occluded, mask) of `faces` (B, H, W, 3) float under `layers` [(alpha, premultiplied)]."""
    out, clear = faces, tf.ones_like(faces[..., :1])
    for alpha, premultiplied in layers:
        out = (1.0 - alpha) * out + premultiplied
        clear = clear * (1.0 - alpha)
    mask = (1.0 - clear) >= ALPHA_THRESHOLD
    occluded = tf.where(mask, tf.clip_by_value(out, 0.0, 1.0), faces)
    return occluded, tf.cast(mask, tf.float32)


def flat_layer(alpha, color):
    """A layer of one colour per image: alpha (B, H, W, 1), color (B, 3)."""
    return alpha, alpha * color[:, None, None, :]


def sample_bilinear(bank, index, y, x):
    """Bilinear samples of sprites at any per-pixel coordinates (e.g. a tiling): bank (K, H, W,
    C) uint8 (read as value / 255), index (B,) int, y and x (B, h, w) in the sprite's pixel
    coordinates (pixel centres at k + 0.5). Zero outside the sprite. Returns float32 (B, h, w, C).
    Only the taps are converted, never the bank. For an affine placement `place_sprites` is faster."""
    _, height, width, channels = bank.shape
    flat = tf.reshape(bank, [-1, channels])
    base = tf.cast(index, tf.int32)[:, None, None] * (height * width)
    y, x = y - 0.5, x - 0.5
    y0, x0 = tf.floor(y), tf.floor(x)
    wy, wx = (y - y0)[..., None], (x - x0)[..., None]
    y0, x0 = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)

    def tap(yy, xx):
        inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        where = base + tf.clip_by_value(yy, 0, height - 1) * width + tf.clip_by_value(xx, 0, width - 1)
        return tf.cast(tf.gather(flat, where), tf.float32) * (tf.cast(inside, tf.float32)[..., None] / 255.0)

    top = tap(y0, x0) * (1.0 - wx) + tap(y0, x0 + 1) * wx
    bottom = tap(y0 + 1, x0) * (1.0 - wx) + tap(y0 + 1, x0 + 1) * wx
    return top * (1.0 - wy) + bottom * wy


def place_sprites(bank, index, center_y, center_x, step, angle=None, sprite_y=None, sprite_x=None):
    """Sprites placed on the 112 x 112 image by an affine map, bilinear, zero outside them:
    bank (K, H, W, C) uint8 (read as value / 255), index (B,); the sprite point (sprite_y,
    sprite_x) (default: its centre) lands on (center_y, center_x); one image pixel spans `step`
    sprite pixels; the sprite turned by `angle` radians (`rotated`'s frame). Per-image tensors.
    Returns float32 (B, 112, 112, C), within 1/255 of `sample_bilinear`'s. One fused kernel
    (ImageProjectiveTransformV3)."""
    _, height, width, _ = bank.shape
    sprites = tf.gather(bank, tf.cast(index, tf.int32))  # interpolated in uint8 (truncated to 1/255), converted after
    sprite_y = height / 2.0 if sprite_y is None else sprite_y
    sprite_x = width / 2.0 if sprite_x is None else sprite_x
    angle = tf.zeros_like(center_y) if angle is None else angle
    cos, sin = step * tf.cos(angle), step * tf.sin(angle)
    # Sprite (x, y) = A (image x, y) + b in pixel-centre coordinates (`rotated`), written for the
    # op's pixel indices (centre = index + 0.5) and its row [a0, a1, a2, b0, b1, b2, c0, c1].
    a2 = cos * (0.5 - center_x) + sin * (0.5 - center_y) + sprite_x - 0.5
    b2 = cos * (0.5 - center_y) - sin * (0.5 - center_x) + sprite_y - 0.5
    zeros = tf.zeros_like(cos)
    transforms = tf.stack([cos, sin, a2, -sin, cos, b2, zeros, zeros], axis=-1)
    placed = tf.raw_ops.ImageProjectiveTransformV3(
        images=sprites, transforms=transforms, output_shape=tf.constant([IMAGE_SIZE, IMAGE_SIZE]),
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    return tf.cast(placed, tf.float32) / 255.0


def rotated(rows, cols, center_y, center_x, angle):
    """Offsets (v, u) of every pixel from (center_y, center_x) in a frame rotated by `angle`
    radians (per image): the coordinates at which an upright sprite is sampled."""
    dy = rows - center_y[:, None, None]
    dx = cols - center_x[:, None, None]
    cos, sin = tf.cos(angle)[:, None, None], tf.sin(angle)[:, None, None]
    return cos * dy - sin * dx, sin * dy + cos * dx


def gradient_fill(color_a, color_b, angle, rows, cols):
    """A linear gradient from color_a to color_b (B, 3) across the image along `angle` (B,)."""
    t = (tf.cos(angle)[:, None, None] * (cols - IMAGE_SIZE / 2) + tf.sin(angle)[:, None, None] * (rows - IMAGE_SIZE / 2))
    t = tf.clip_by_value(t / IMAGE_SIZE + 0.5, 0.0, 1.0)[..., None]
    return (1.0 - t) * color_a[:, None, None, :] + t * color_b[:, None, None, :]
