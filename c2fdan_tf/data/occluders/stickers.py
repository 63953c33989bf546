"""Emoji and stickers: many-coloured sprites pasted over the face, slightly rotated.

- "emoji": real colour emoji glyphs of Noto Color Emoji (Debian's fonts-noto-color-emoji).
- "sticker": procedural die-cut stickers: a star, heart, circle, rounded square or blob in
  two or three colours (stripes, rings or halves) with their own shading (a light from the
  top left, a specular spot) and a white border.
Size: the sprite's square as a share of the face's area. Sprites are premultiplied RGBA,
64 x 64, rendered once.
"""

import functools

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from c2fdan_tf.data import counter_random
from c2fdan_tf.data.occluders import assets, compositing, placement
from c2fdan_tf.data.occluders.family import S_FAMILY, WildFamily, per_id
from c2fdan_tf.face_template import IMAGE_SIZE

SPRITE_SIZE = 64
# Faces, hands, hearts, animals, food, objects: what people paste over faces.
EMOJI = ("😀 😂 😍 😎 🤔 😭 😡 🥳 😱 🤡 👻 💀 🙈 👍 👎 👌 ✌ 🙏 👏 ✋ 🤘 ❤ 💔 💖 ⭐ 🌟 🔥 🌈 ☀ 🌙 ⚡ 🍕 🍔 "
         "🍎 🍓 🍩 🍉 ☕ 🎉 🎁 🎈 ⚽ 🏀 🎵 📷 📱 💡 🔒 💰 🚗 ✈ 🚀 🐶 🐱 🐼 🦊 🐸 🦄 🐝 🌸 🌻 🍀 🌵 🎃 "
         "👑 💎 🎀 🧸 🪐 🍦 🍿 🥑 🐧 🐙 🦋 🌍 ⚠ ✅ ❌ 💯 🔴 🟢").split()
NUM_STICKERS = 48
BANK_SEED = 37
_S_SPRITE, _S_ANGLE, _S_ASPECT = (S_FAMILY + k for k in (0, 1, 2))


def _premultiplied(rgba):
    rgba = rgba.astype(np.float32)
    rgba[..., :3] *= rgba[..., 3:] / 255.0
    return np.round(rgba).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def emoji_bank():
    """Premultiplied RGBA uint8 (N, 64, 64, 4) of every glyph in EMOJI."""
    font = assets.emoji_font()
    sprites = []
    for glyph in EMOJI:
        canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((80, 80), glyph, font=font, embedded_color=True, anchor="mm")
        box = canvas.getbbox()
        if box is None:
            raise assets.OccluderAssetError(f"The emoji font renders nothing for {glyph!r}.")
        glyph_image = canvas.crop(box)
        side = max(glyph_image.size)
        square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        square.paste(glyph_image, ((side - glyph_image.width) // 2, (side - glyph_image.height) // 2))
        # Premultiplied before reducing, so transparent pixels' colours do not bleed in.
        small = Image.fromarray(_premultiplied(np.asarray(square))).resize((SPRITE_SIZE, SPRITE_SIZE),
                                                                            Image.Resampling.BOX)
        sprites.append(np.asarray(small))
    return np.stack(sprites)


def _shape(kind, grid, rng):
    """Signed inside-ness of a sticker shape on grid (y, x) in [-1, 1] (> 0 inside)."""
    y, x = grid
    radius, angle = np.hypot(x, y), np.arctan2(y, x)
    if kind == 0:  # a star
        points = rng.integers(5, 9)
        inner = rng.uniform(0.5, 0.7)
        wave = np.abs(((angle * points / (2 * np.pi)) % 1.0) - 0.5) * 2
        return inner + (1 - inner) * wave ** 1.5 - radius / 0.8
    if kind == 1:  # a heart
        yy, xx = -y * 1.1 + 0.15, x * 1.1
        return -((xx**2 + yy**2 - 0.45) ** 3 - xx**2 * yy**3)
    if kind == 2:  # a circle
        return 0.75 - radius
    if kind == 3:  # a rounded square
        return 0.62 - np.maximum(np.maximum(np.abs(x), np.abs(y)) - 0.08, 0) - 0.08
    wobble = sum(rng.uniform(0.03, 0.1) * np.cos(k * angle + rng.uniform(0, 6.3)) for k in (2, 3, 5))
    return 0.7 + wobble - radius  # a blob


@functools.lru_cache(maxsize=1)
def sticker_bank(num_stickers=NUM_STICKERS, seed=BANK_SEED):
    """Premultiplied RGBA uint8 (N, 64, 64, 4) procedural stickers."""
    rng = np.random.default_rng(seed)
    big = 4 * SPRITE_SIZE
    coords = (np.arange(big) + 0.5) / big * 2 - 1
    grid = np.meshgrid(coords, coords, indexing="ij")
    y, x = grid
    sprites = []
    for n in range(num_stickers):
        inside = _shape(n % 5, grid, rng)
        border = rng.uniform(0.04, 0.09)
        colors = rng.uniform(0, 1, (3, 3)) ** 0.7
        pattern = n // 5 % 3
        if pattern == 0:  # stripes
            band = np.floor((x * np.cos(rng.uniform(0, 3.2)) + y * np.sin(rng.uniform(0, 3.2))) * 3) % 3
        elif pattern == 1:  # rings
            band = np.floor(np.hypot(x, y) * 4.5) % 3
        else:  # halves
            band = (x > y * rng.uniform(-1, 1)).astype(float)
        rgb = colors[band.astype(int)]
        # Shading: a light from the top left, a specular spot.
        light = 0.75 + 0.35 * np.clip(1 - np.hypot(x + 0.35, y + 0.35) / 1.3, 0, 1)
        spot = np.exp(-(((x + 0.3) ** 2 + (y + 0.35) ** 2) / 0.02))[..., None]
        rgb = np.clip(rgb * light[..., None] * (1 - 0.6 * spot) + 0.6 * spot, 0, 1)
        rgb = np.where((inside > 0)[..., None], rgb, 1.0)  # the white die-cut border
        alpha = (inside > -border).astype(np.float32)
        rgba = np.concatenate([rgb, alpha[..., None]], axis=-1) * 255
        image = Image.fromarray(_premultiplied(rgba.astype(np.uint8)))
        sprites.append(np.asarray(image.resize((SPRITE_SIZE, SPRITE_SIZE), Image.Resampling.BOX)))
    return np.stack(sprites)


class _Sprites(WildFamily):
    size_name = "area / face"
    training_sizes = (0.02, 0.15)
    benchmark_sizes = (0.05, 0.10)

    def __init__(self, sprites):
        self._sprites = tf.constant(sprites)
        self._count = len(sprites)

    def parameters(self, seed, ids, size, position):
        ids, size, position = per_id(ids, size, position)
        side = tf.sqrt(size) * IMAGE_SIZE
        center_y, center_x = placement.centers(seed, ids, position, tf.ones(tf.shape(ids), tf.bool), side, side)
        return {"sprite": counter_random.randint(seed, _S_SPRITE, ids, self._count), "side": side,
                "angle": counter_random.uniform(seed, _S_ANGLE, ids, -0.4, 0.4),
                "center_y": center_y, "center_x": center_x, "size": size, "position": position}

    def render(self, faces, params):
        rgba = compositing.place_sprites(self._sprites, params["sprite"], params["center_y"], params["center_x"],
                                         SPRITE_SIZE / params["side"], params["angle"])
        return compositing.composite(faces, [(rgba[..., 3:], rgba[..., :3])])


class Emoji(_Sprites):
    name = "emoji"

    def __init__(self):
        super().__init__(emoji_bank())


class Sticker(_Sprites):
    name = "sticker"

    def __init__(self):
        super().__init__(sticker_bank())
