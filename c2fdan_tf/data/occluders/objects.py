"""Objects in front of the face, as a hand, a cup, a microphone or a phone would be: a patch
of a natural photo (scikit-image's bundled samples: a coffee cup, a cat, a rocket, bricks,
grass, gravel, a star field) cut by a random smooth shape -- an ellipse of random aspect and
angle whose radius wobbles with three low harmonics -- and shaded as a rounded body lit from
the top left. Size: the shape's area as a share of the face's.
"""

import functools
import math

import numpy as np
import tensorflow as tf
from PIL import Image

from c2fdan_tf.data import counter_random
from c2fdan_tf.data.occluders import assets, compositing, placement
from c2fdan_tf.data.occluders.family import S_FAMILY, WildFamily, per_id, random_colors
from c2fdan_tf.face_template import IMAGE_SIZE

TEXTURE_SIZE = 96
CROPS_PER_PHOTO = 8
BANK_SEED = 41
HARMONICS = (2, 3, 4)
_S_TEXTURE, _S_ASPECT, _S_ANGLE, _S_TEXTURE_SCALE = (S_FAMILY + k for k in (0, 1, 2, 3))
_S_AMPLITUDE, _S_PHASE = S_FAMILY + 10, S_FAMILY + 20


@functools.lru_cache(maxsize=1)
def texture_bank(seed=BANK_SEED):
    """uint8 (N, 96, 96, 3): square crops of the natural photos, grey ones tinted."""
    rng = np.random.default_rng(seed)
    crops = []
    for name in assets.NATURAL_PHOTOS:
        photo = assets.natural_photo(name)
        grey = np.ptp(photo.astype(np.int16)[..., :3] - photo[..., :1], axis=None) < 8
        for _ in range(CROPS_PER_PHOTO):
            side = int(min(photo.shape[:2]) * rng.uniform(0.25, 0.6))
            top = rng.integers(0, photo.shape[0] - side + 1)
            left = rng.integers(0, photo.shape[1] - side + 1)
            crop = Image.fromarray(photo[top : top + side, left : left + side])
            crop = np.asarray(crop.resize((TEXTURE_SIZE, TEXTURE_SIZE), Image.Resampling.BOX), np.float32)
            if grey:
                crop = crop * rng.uniform(0.4, 1.0, 3)
            crops.append(np.clip(crop, 0, 255).astype(np.uint8))
    return np.stack(crops)


class Objects(WildFamily):
    name = "object"
    size_name = "area / face"
    training_sizes = (0.03, 0.20)
    benchmark_sizes = (0.08, 0.15)

    def __init__(self):
        self._textures = tf.constant(texture_bank())

    def parameters(self, seed, ids, size, position):
        ids, size, position = per_id(ids, size, position)
        aspect = counter_random.uniform(seed, _S_ASPECT, ids, 0.45, 1.0)  # minor / major axis
        radius = tf.sqrt(size * IMAGE_SIZE**2 / (math.pi * aspect))  # of the major axis
        center_y, center_x = placement.centers(seed, ids, position, tf.ones(tf.shape(ids), tf.bool),
                                               2 * radius * aspect, 2 * radius)
        amplitudes = counter_random.uniform_streams(seed, range(_S_AMPLITUDE, _S_AMPLITUDE + len(HARMONICS)), ids,
                                                    -0.1, 0.1)
        phases = counter_random.uniform_streams(seed, range(_S_PHASE, _S_PHASE + len(HARMONICS)), ids,
                                                0.0, 2 * math.pi)
        return {"texture": counter_random.randint(seed, _S_TEXTURE, ids, int(self._textures.shape[0])),
                "radius": radius, "aspect": aspect, "angle": counter_random.uniform(seed, _S_ANGLE, ids, 0.0, math.pi),
                "amplitudes": amplitudes, "phases": phases, "center_y": center_y, "center_x": center_x,
                "texture_scale": counter_random.uniform(seed, _S_TEXTURE_SCALE, ids, 0.8, 1.3),
                "size": size, "position": position}

    def shape_coverage(self, params):
        """(coverage (B, H, W, 1), normalised radius rho, offsets v, u) of the shapes."""
        rows, cols = compositing.pixel_grid()
        v, u = compositing.rotated(rows, cols, params["center_y"], params["center_x"], params["angle"])
        radius, aspect = params["radius"][:, None, None], params["aspect"][:, None, None]
        ny, nx = v / (radius * aspect), u / radius
        rho = tf.sqrt(ny * ny + nx * nx)
        theta = tf.atan2(ny, nx)
        boundary = 1.0 + tf.add_n([params["amplitudes"][:, k, None, None] * tf.cos(
            h * theta + params["phases"][:, k, None, None]) for k, h in enumerate(HARMONICS)])
        coverage = tf.clip_by_value((boundary - rho) * radius * aspect + 0.5, 0.0, 1.0)
        return coverage[..., None], rho, v, u

    def render(self, faces, params):
        coverage, rho, v, u = self.shape_coverage(params)
        texture = compositing.place_sprites(self._textures, params["texture"], params["center_y"], params["center_x"],
                                            TEXTURE_SIZE / (2.2 * params["radius"]) / params["texture_scale"],
                                            params["angle"])
        radius = params["radius"][:, None, None]
        shade = tf.clip_by_value(1.1 - 0.45 * rho**2 - 0.2 * (v + u) / radius, 0.35, 1.3)[..., None]
        color = tf.clip_by_value(texture * shade, 0.0, 1.0)
        return compositing.composite(faces, [(coverage, coverage * color)])


def texture_fill(textures, index, center_y, center_x, scale):
    """A texture of the bank laid over the image, centred on (center_y, center_x)."""
    return compositing.place_sprites(textures, index, center_y, center_x, scale)


class TexturedFills(WildFamily):
    """The paper's rectangles and words, filled with a gradient or a photo texture instead of
    one colour. Size: the rectangle's area share a (the paper's); a word is drawn 3a tall (the
    paper's benchmark pairs a = 0.05 / 0.10 with h = 0.1 / 0.3)."""

    name = "textured"
    size_name = "area a (words 3a tall)"
    training_sizes = (0.02, 0.15)
    benchmark_sizes = (0.05, 0.10)

    def __init__(self):
        from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer

        self._shapes = OcclusionSynthesizer()
        self._textures = tf.constant(texture_bank())

    def parameters(self, seed, ids, size, position):
        ids, size, position = per_id(ids, size, position)
        form = counter_random.randint(seed, S_FAMILY + 30, ids, 2)
        shape_size = tf.where(form == 0, size, tf.minimum(3.0 * size, 0.5))
        params = self._shapes.benchmark_parameters(seed, ids, form, shape_size, position)
        params.update({
            "textured": counter_random.uniform(seed, S_FAMILY + 31, ids) < 0.5,
            "texture": counter_random.randint(seed, S_FAMILY + 32, ids, int(self._textures.shape[0])),
            "texture_scale": counter_random.uniform(seed, S_FAMILY + 33, ids, 0.5, 1.5),
            "color_end": random_colors(seed, S_FAMILY + 34, ids),
            "color_angle": counter_random.uniform(seed, S_FAMILY + 37, ids, 0.0, 2 * math.pi),
            "size": size,
        })
        return params

    def render(self, faces, params):
        rows, cols = compositing.pixel_grid()
        mask = self._shapes.render_masks(params)
        gradient = compositing.gradient_fill(params["color"], params["color_end"], params["color_angle"], rows, cols)
        texture = texture_fill(self._textures, params["texture"], params["center_y"], params["center_x"],
                               params["texture_scale"])
        fill = tf.where(params["textured"][:, None, None, None], texture, gradient)
        return compositing.composite(faces, [(mask, mask * fill)])
