"""Translucent watermarks: a word or a logo drawn at alpha 0.2-0.8 in white, black or any
colour, slightly rotated, once ("watermark", size = its width / the face's) or tiled over the
whole image in staggered rows ("tiled_watermark", size = the mark's height / the face's).

The marks (words of the list in bold fonts, "(c)" notices, and procedural logos: rings,
stars, badges, play buttons) are rendered once into a bank of coverage sprites.
"""

import functools

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from c2fdan_tf.data import counter_random
from c2fdan_tf.data.occluders import assets, compositing, placement
from c2fdan_tf.data.occluders.family import S_FAMILY, WildFamily, per_id, pick, random_colors
from c2fdan_tf.data.text_glyphs import load_words
from c2fdan_tf.face_template import IMAGE_SIZE

SPRITE_HEIGHT, SPRITE_WIDTH = 64, 256
NUM_MARKS = 64
NUM_LOGOS = 24
BANK_SEED = 31
COLORS = ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (-1.0, -1.0, -1.0))  # white, black, random
_S_MARK, _S_ANGLE, _S_ALPHA, _S_COLOR, _S_RANDOM_COLOR, _S_PITCH_Y, _S_GAP = (
    S_FAMILY + k for k in (0, 1, 2, 3, 4, 8, 9))


def _logo(rng, size=SPRITE_HEIGHT):
    """A procedural logo, white on black, `size` pixels square (drawn at 4x and reduced)."""
    big = 4 * size
    image = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(image)
    kind = rng.integers(4)
    margin = big * 0.06
    box = (margin, margin, big - margin, big - margin)
    centre, radius = big / 2, big / 2 - margin
    if kind == 0:  # a ring with a letter
        draw.ellipse(box, outline=255, width=int(big * 0.07))
        font = assets.text_font("DejaVuSans-Bold.ttf", int(big * 0.5))
        draw.text((centre, centre), chr(ord("A") + rng.integers(26)), fill=255, font=font, anchor="mm")
    elif kind == 1:  # a star
        points = int(rng.integers(5, 8))
        angles = np.arange(2 * points) * np.pi / points - np.pi / 2
        radii = np.where(np.arange(2 * points) % 2 == 0, radius, radius * rng.uniform(0.4, 0.55))
        draw.polygon(list(zip(centre + radii * np.cos(angles), centre + radii * np.sin(angles))), fill=255)
    elif kind == 2:  # a badge: a rounded square with a cut-out
        draw.rounded_rectangle(box, radius=big * 0.2, fill=255)
        inner = big * 0.28
        draw.ellipse((inner, inner, big - inner, big - inner), fill=0)
    else:  # a play button
        draw.ellipse(box, fill=255)
        draw.polygon([(big * 0.4, big * 0.3), (big * 0.4, big * 0.7), (big * 0.72, big * 0.5)], fill=0)
    return np.asarray(image.resize((size, size), Image.Resampling.BOX))


@functools.lru_cache(maxsize=2)
def mark_bank(num_marks=NUM_MARKS, seed=BANK_SEED):
    """(sprites uint8 (N, H, W, 1) coverage, ink boxes (N, 4) float32 top, left, bottom, right)."""
    rng = np.random.default_rng(seed)
    words = load_words()
    sprites = np.zeros((num_marks, SPRITE_HEIGHT, SPRITE_WIDTH, 1), np.uint8)
    fonts = [assets.text_font(name, 40) for name in ("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf",
                                                      "DejaVuSans.ttf")]
    for n in range(num_marks):
        canvas = Image.new("L", (SPRITE_WIDTH, SPRITE_HEIGHT), 0)
        if n < NUM_LOGOS:
            canvas.paste(Image.fromarray(_logo(rng)), ((SPRITE_WIDTH - SPRITE_HEIGHT) // 2, 0))
        else:
            word = str(rng.choice(words))
            text = {0: word.upper(), 1: "\u00a9 " + word, 2: word.capitalize()}[n % 3]
            font = fonts[n % len(fonts)]
            while font.getlength(text) > SPRITE_WIDTH - 8:
                text = text[:-1]
            ImageDraw.Draw(canvas).text((SPRITE_WIDTH / 2, SPRITE_HEIGHT / 2), text, fill=255, font=font, anchor="mm")
        sprites[n, ..., 0] = np.asarray(canvas)
    boxes = np.zeros((num_marks, 4), np.float32)
    for n in range(num_marks):
        ink = np.argwhere(sprites[n, ..., 0] > 0)
        boxes[n] = (*ink.min(axis=0), *(ink.max(axis=0) + 1))
    return sprites, boxes


class _Watermarks(WildFamily):
    tiled = False

    def __init__(self):
        sprites, boxes = mark_bank()
        self._sprites = tf.constant(sprites)
        self._boxes = tf.constant(boxes)

    def parameters(self, seed, ids, size, position):
        ids, size, position = per_id(ids, size, position)
        mark = counter_random.randint(seed, _S_MARK, ids, NUM_MARKS)
        box = tf.gather(self._boxes, mark)
        ink_h, ink_w = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
        scale = size * IMAGE_SIZE / (ink_h if self.tiled else ink_w)
        center_y, center_x = placement.centers(seed, ids, position, tf.zeros(tf.shape(ids), tf.bool),
                                               ink_h * scale, ink_w * scale)
        color = pick(seed, _S_COLOR, ids, COLORS, (0.45, 0.25, 0.3))
        color = tf.where(color[:, :1] < 0, random_colors(seed, _S_RANDOM_COLOR, ids), color)
        return {
            "mark": mark, "box": box, "scale": scale, "center_y": center_y, "center_x": center_x,
            "angle": counter_random.uniform(seed, _S_ANGLE, ids, -0.5, 0.5),
            "alpha": counter_random.uniform(seed, _S_ALPHA, ids, 0.2, 0.8), "color": color,
            # Tiles: rows 1.8-3 mark heights apart, marks a 0.3-1 mark height gap apart.
            "pitch_y": ink_h * scale * counter_random.uniform(seed, _S_PITCH_Y, ids, 1.8, 3.0),
            "pitch_x": (ink_w + ink_h * counter_random.uniform(seed, _S_GAP, ids, 0.3, 1.0)) * scale,
            "size": size, "position": position,
        }

    def render(self, faces, params):
        box, scale = params["box"], params["scale"]
        mid_y, mid_x = (box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2
        if self.tiled:  # staggered rows: every other row shifted by half a pitch
            rows, cols = compositing.pixel_grid()
            v, u = compositing.rotated(rows, cols, params["center_y"], params["center_x"], params["angle"])
            pitch_y, pitch_x = params["pitch_y"][:, None, None], params["pitch_x"][:, None, None]
            row = tf.floor(v / pitch_y + 0.5)
            v = v - row * pitch_y
            u = u - tf.math.floormod(row, 2.0) * pitch_x / 2.0
            u = u - tf.floor(u / pitch_x + 0.5) * pitch_x
            coverage = compositing.sample_bilinear(self._sprites, params["mark"], v / scale[:, None, None]
                                                   + mid_y[:, None, None], u / scale[:, None, None] + mid_x[:, None, None])
        else:
            coverage = compositing.place_sprites(self._sprites, params["mark"], params["center_y"], params["center_x"],
                                                 1.0 / scale, params["angle"], mid_y, mid_x)
        alpha = coverage * params["alpha"][:, None, None, None]
        return compositing.composite(faces, [compositing.flat_layer(alpha, params["color"])])


class Watermark(_Watermarks):
    name = "watermark"
    size_name = "width / face"
    training_sizes = (0.3, 0.9)
    benchmark_sizes = (0.4, 0.8)


class TiledWatermark(_Watermarks):
    name = "tiled_watermark"
    size_name = "mark height / face"
    tiled = True
    training_sizes = (0.06, 0.16)
    benchmark_sizes = (0.08, 0.12)
