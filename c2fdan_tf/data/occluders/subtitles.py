"""Subtitles as films burn them in: one or two lines of words in a real font, white, yellow
or any fill (flat or a gradient), a dark outline of 1-3 px and/or a drop shadow, sometimes
on a translucent dark band. Size: the cap height as a share of the face (6-20 %).

A bank of lines is rendered once with Pillow (fonts of matplotlib's wheel), each sprite
holding three coverage layers: the fill, the fill with its outline stroke, and the shadow
(the outlined text shifted and blurred). Colours, which layers show, the band, the scale and
the place are drawn per image in graph ops: the drawing order is band, shadow, outline, fill.
"""

import functools

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFilter

from c2fdan_tf.data import counter_random
from c2fdan_tf.data.occluders import assets, compositing, placement
from c2fdan_tf.data.occluders.family import S_FAMILY, WildFamily, chance, per_id, pick, random_colors
from c2fdan_tf.data.text_glyphs import load_words
from c2fdan_tf.face_template import IMAGE_SIZE

SPRITE_HEIGHT, SPRITE_WIDTH = 80, 320
CAP_HEIGHT = 16  # of the capitals in the sprites, pixels
NUM_LINES = 160
BANK_SEED = 29
FILL_COLORS = ((1.0, 1.0, 1.0), (1.0, 0.92, 0.16))  # white, subtitle yellow
_S_SPRITE, _S_FILL, _S_RANDOM_FILL, _S_GRADIENT, _S_OUTLINE, _S_OUTLINE_DARK, _S_SHADOW, _S_BAND = (
    S_FAMILY + k for k in (0, 1, 2, 6, 7, 8, 12, 14))
_S_SHADOW_ALPHA, _S_BAND_ALPHA, _S_BAND_GREY, _S_FILL2, _S_ANGLE = (S_FAMILY + k for k in (15, 16, 17, 18, 22))


def _font_for_cap_height(name):
    """The font at the size whose capital "H" is CAP_HEIGHT pixels tall."""
    size = 22
    for _ in range(6):
        font = assets.text_font(name, size)
        top, bottom = font.getbbox("H")[1], font.getbbox("H")[3]
        size = max(6, round(size * CAP_HEIGHT / max(1, bottom - top)))
    return assets.text_font(name, size)


@functools.lru_cache(maxsize=2)
def subtitle_bank(num_lines=NUM_LINES, seed=BANK_SEED):
    """(sprites uint8 (N, H, W, 3): fill, outlined, shadow coverage; ink boxes (N, 4) float32
    top, left, bottom, right in sprite pixels)."""
    rng = np.random.default_rng(seed)
    words = load_words()
    fonts = [_font_for_cap_height(name) for name in assets.TEXT_FONTS]
    sprites = np.zeros((num_lines, SPRITE_HEIGHT, SPRITE_WIDTH, 3), np.uint8)
    boxes = np.zeros((num_lines, 4), np.float32)
    for n in range(num_lines):
        font = fonts[n % len(fonts)]
        stroke = int(rng.integers(2, 5))  # 2-4 sprite pixels: 1-3 px on the face at most scales
        shift = int(rng.integers(2, 5))
        lines = []
        for _ in range(int(rng.integers(1, 3))):
            line = ""
            for word in rng.choice(words, 5):
                candidate = (line + " " + word).strip()
                if font.getlength(candidate) > SPRITE_WIDTH - 2 * (stroke + shift + 6) and line:
                    break
                line = candidate
            lines.append(line[0].upper() + line[1:] if rng.random() < 0.5 else line)
        text = "\n".join(lines)
        canvas = Image.new("L", (SPRITE_WIDTH, SPRITE_HEIGHT), 0)
        draw = ImageDraw.Draw(canvas)
        left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font, align="center",
                                                            stroke_width=stroke)
        origin = ((SPRITE_WIDTH - (right - left)) / 2 - left - shift / 2, (SPRITE_HEIGHT - (bottom - top)) / 2 - top
                  - shift / 2)
        fill = canvas.copy()
        ImageDraw.Draw(fill).multiline_text(origin, text, fill=255, font=font, align="center")
        outlined = canvas.copy()
        ImageDraw.Draw(outlined).multiline_text(origin, text, fill=255, font=font, align="center",
                                                stroke_width=stroke, stroke_fill=255)
        shadow = Image.new("L", canvas.size, 0)
        shadow.paste(outlined, (shift, shift))
        shadow = shadow.filter(ImageFilter.GaussianBlur(1.0))
        layers = np.stack([np.asarray(fill), np.asarray(outlined), np.asarray(shadow)], axis=-1)
        sprites[n] = layers
        ink = np.argwhere(layers.max(axis=-1) > 0)
        (y0, x0), (y1, x1) = ink.min(axis=0), ink.max(axis=0) + 1
        boxes[n] = (y0, x0, y1, x1)
    return sprites, boxes


class Subtitles(WildFamily):
    name = "subtitle"
    size_name = "cap height / face"
    training_sizes = (0.06, 0.20)
    benchmark_sizes = (0.08, 0.14)

    def __init__(self):
        sprites, boxes = subtitle_bank()
        self._sprites = tf.constant(sprites)
        self._boxes = tf.constant(boxes)

    def parameters(self, seed, ids, size, position):
        ids, size, position = per_id(ids, size, position)
        sprite = counter_random.randint(seed, _S_SPRITE, ids, NUM_LINES)
        box = tf.gather(self._boxes, sprite)
        scale = size * IMAGE_SIZE / CAP_HEIGHT
        extent_h, extent_w = (box[:, 2] - box[:, 0]) * scale, (box[:, 3] - box[:, 1]) * scale
        center_y, center_x = placement.centers(seed, ids, position, tf.zeros(tf.shape(ids), tf.bool), extent_h,
                                               extent_w)
        fill = pick(seed, _S_FILL, ids, FILL_COLORS + ((-1.0, -1.0, -1.0),), (0.4, 0.3, 0.3))
        fill = tf.where(fill[:, :1] < 0, random_colors(seed, _S_RANDOM_FILL, ids), fill)
        # Half-way to another colour across the line: fills that are not flat.
        fill_end = tf.where(chance(seed, _S_GRADIENT, ids, 0.25)[:, None],
                            0.5 * fill + 0.5 * random_colors(seed, _S_FILL2, ids), fill)
        outline_color = tf.where(chance(seed, _S_OUTLINE_DARK, ids, 0.7)[:, None], 0.0,
                                 0.35 * random_colors(seed, _S_OUTLINE_DARK + 1, ids))
        return {
            "sprite": sprite, "box": box, "scale": scale, "center_y": center_y, "center_x": center_x,
            "fill": fill, "fill_end": fill_end, "fill_angle": counter_random.uniform(seed, _S_ANGLE, ids, 0.0, 6.2832),
            "outline": tf.cast(chance(seed, _S_OUTLINE, ids, 0.7), tf.float32), "outline_color": outline_color,
            "shadow": tf.cast(chance(seed, _S_SHADOW, ids, 0.5), tf.float32)
            * counter_random.uniform(seed, _S_SHADOW_ALPHA, ids, 0.5, 0.9),
            "band": tf.cast(chance(seed, _S_BAND, ids, 0.3), tf.float32)
            * counter_random.uniform(seed, _S_BAND_ALPHA, ids, 0.3, 0.7),
            "band_color": counter_random.uniform(seed, _S_BAND_GREY, ids, 0.0, 0.2)[:, None] * tf.ones([1, 3]),
            "size": size, "position": position,
        }

    def render(self, faces, params):
        rows, cols = compositing.pixel_grid()
        scale = params["scale"]
        box = params["box"]
        mid_y, mid_x = (box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2
        layers = compositing.place_sprites(self._sprites, params["sprite"], params["center_y"], params["center_x"],
                                           1.0 / scale, sprite_y=mid_y, sprite_x=mid_x)
        # The band, in sprite coordinates: the ink box padded by 4 pixels (8 at the ends).
        y = (rows - params["center_y"][:, None, None]) / scale[:, None, None] + mid_y[:, None, None]
        x = (cols - params["center_x"][:, None, None]) / scale[:, None, None] + mid_x[:, None, None]
        pad = 4.0
        band = ((y >= box[:, 0, None, None] - pad) & (y < box[:, 2, None, None] + pad)
                & (x >= box[:, 1, None, None] - 2 * pad) & (x < box[:, 3, None, None] + 2 * pad))
        band_alpha = tf.cast(band, tf.float32)[..., None] * params["band"][:, None, None, None]
        black = tf.zeros_like(params["fill"])
        fill = compositing.gradient_fill(params["fill"], params["fill_end"], params["fill_angle"], rows, cols)
        fill_alpha = layers[..., 0:1]
        return compositing.composite(faces, [
            compositing.flat_layer(band_alpha, params["band_color"]),
            compositing.flat_layer(layers[..., 2:3] * params["shadow"][:, None, None, None], black),
            compositing.flat_layer(layers[..., 1:2] * params["outline"][:, None, None, None], params["outline_color"]),
            (fill_alpha, fill_alpha * fill),
        ])
