"""Occlusion synthesis (paper Sec. III-A, IV-A): rectangles and text in any colour.

`I = (1 - M_gt) * I_gt + M_gt * c` (Eq. 1) with a binary mask M_gt (1 = occluded)
and a uniformly random RGB colour c.

- Rectangles: aspect ratio (width / height) in [0.5, 2], size = area ratio `a`
  of the 112x112 image (snapped to whole pixels, so the unclipped area is within
  a few percent of `a`).
- Text: one word of a word list, size = height ratio `h`: the word's ink box is
  `h * 112` pixels tall, whatever its length; it may run past the face.
- Training: `a ~ U[0.01, 0.15]`, `h ~ U[0.05, 0.5]`, random form, colour and
  position (centre anywhere in the image), plus a horizontal flip of the face.
- Benchmark: forms x sizes x positions (mouth, nose, eyes, outside), every value
  a function of (seed, image id, condition) only (`benchmark_occlusions`).

Everything runs as TensorFlow graph ops on a whole batch: no per-sample Python.
Randomness is counter-based (`counter_random`), so a seed gives bit-identical
occlusions on every run and machine. This module knows nothing of the model.
"""

import tensorflow as tf

from c2fdan_tf.data import counter_random
from c2fdan_tf.data.occluders import placement
from c2fdan_tf.data.occluders.placement import (  # noqa: F401 (the paper's names, imported from here)
    EYES, INNER_FACE_SCALE, MOUTH, NOSE, OUTSIDE, POSITIONS, RANDOM_POSITION)
from c2fdan_tf.data.text_glyphs import build_glyph_bank, load_words
from c2fdan_tf.face_template import IMAGE_SIZE

FORMS = ("rectangle", "text")
RECTANGLE, TEXT = 0, 1
BENCHMARK_SIZES = {"rectangle": (0.05, 0.10, 0.15), "text": (0.1, 0.3, 0.5)}
TRAINING_SIZE_RANGES = {"rectangle": (0.01, 0.15), "text": (0.05, 0.5)}
ASPECT_RANGE = (0.5, 2.0)

# Random streams: one per quantity, so quantities never share random numbers (the
# placement's, 5 and from 20 on, are in `placement`).
_S_FORM, _S_SIZE, _S_ASPECT, _S_WORD, _S_FLIP = range(5)
_S_COLOR = 10  # 10, 11, 12


def mirrored(images, flip):
    """`images` (B, H, W, C), those where `flip` (B,) mirrored left-right. Exact; done by splitting
    the batch rather than by a broadcast select of the whole batch (several times faster on the CPU),
    and on whatever dtype comes in (uint8 before conversion moves a quarter of the bytes)."""
    images = tf.convert_to_tensor(images)
    flip = tf.cast(flip, tf.int32)
    rows = tf.dynamic_partition(tf.range(tf.shape(images)[0]), flip, 2)
    kept, turned = tf.dynamic_partition(images, flip, 2)
    return tf.ensure_shape(tf.dynamic_stitch(rows, [kept, tf.reverse(turned, axis=[2])]), images.shape)


def as_float_faces(faces):
    """Faces as float32 in [0, 1] (uint8 read as value / 255)."""
    if faces.dtype == tf.uint8:
        return tf.cast(faces, tf.float32) / 255.0
    return tf.cast(faces, tf.float32)


class OcclusionSynthesizer:
    """Samples occlusion parameters and renders masks, for whole batches in graph.

    Args:
        words: list of words for text occlusions, or None for the 2048-word
            BIP-39 English list; `word_list_path` reads them from a file.
    """

    def __init__(self, words=None, word_list_path=None):
        if words is None:
            words = load_words(word_list_path)
        self.bank = build_glyph_bank(tuple(words))
        self._flat = tf.constant(self.bank.flat)
        self._offsets = tf.constant(self.bank.offsets)
        self._widths = tf.constant(self.bank.widths)
        self._aspect = tf.constant(self.bank.aspect, tf.float32)

    @property
    def num_words(self):
        return len(self.bank.words)

    # ------------------------------------------------------------------ parameters

    def training_parameters(self, seed, ids):
        """Random form, size, aspect, word, colour, position and flip per id."""
        ids = tf.convert_to_tensor(ids, tf.int64)
        form = counter_random.randint(seed, _S_FORM, ids, 2)
        rect_lo, rect_hi = TRAINING_SIZE_RANGES["rectangle"]
        text_lo, text_hi = TRAINING_SIZE_RANGES["text"]
        unit = counter_random.uniform(seed, _S_SIZE, ids)
        size = tf.where(
            form == RECTANGLE, rect_lo + (rect_hi - rect_lo) * unit, text_lo + (text_hi - text_lo) * unit
        )
        position = tf.fill(tf.shape(ids), RANDOM_POSITION)
        params = self._shape_parameters(seed, ids, form, size, position)
        params["flip"] = self.flips(seed, ids)
        return params

    @staticmethod
    def flips(seed, ids):
        """Whether each training face is flipped horizontally (half of them)."""
        return counter_random.uniform(seed, _S_FLIP, tf.convert_to_tensor(ids, tf.int64)) < 0.5

    def benchmark_parameters(self, seed, ids, form, size, position):
        """Parameters for given conditions (per-id tensors of form, size, position)."""
        ids = tf.convert_to_tensor(ids, tf.int64)
        form = tf.cast(tf.broadcast_to(form, tf.shape(ids)), tf.int32)
        size = tf.cast(tf.broadcast_to(size, tf.shape(ids)), tf.float32)
        position = tf.cast(tf.broadcast_to(position, tf.shape(ids)), tf.int32)
        params = self._shape_parameters(seed, ids, form, size, position)
        params["flip"] = tf.zeros(tf.shape(ids), tf.bool)
        return params

    def _shape_parameters(self, seed, ids, form, size, position):
        area = size * IMAGE_SIZE**2
        aspect = counter_random.uniform(seed, _S_ASPECT, ids, *ASPECT_RANGE)
        # Snap to whole pixels, keeping the area and the aspect range.
        rect_h = tf.maximum(1.0, tf.round(tf.sqrt(area / aspect)))
        rect_w = tf.clip_by_value(
            tf.round(area / rect_h), tf.math.ceil(ASPECT_RANGE[0] * rect_h), tf.floor(ASPECT_RANGE[1] * rect_h)
        )
        word = counter_random.randint(seed, _S_WORD, ids, self.num_words)
        text_h = size * IMAGE_SIZE
        text_w = text_h * tf.gather(self._aspect, word)
        is_rect = form == RECTANGLE
        extent_h = tf.where(is_rect, rect_h, text_h)
        extent_w = tf.where(is_rect, rect_w, text_w)
        center_y, center_x = placement.centers(seed, ids, position, is_rect, extent_h, extent_w)
        color = counter_random.uniform_streams(seed, range(_S_COLOR, _S_COLOR + 3), ids)
        return {
            "form": form,
            "size": size,
            "position": position,
            "center_y": center_y,
            "center_x": center_x,
            "rect_height": rect_h,
            "rect_width": rect_w,
            "word": word,
            "color": color,
        }

    # ------------------------------------------------------------------ rendering

    def render_masks(self, params):
        """Binary masks `(B, 112, 112, 1)` float32 for a batch of parameters."""
        rows = tf.range(IMAGE_SIZE, dtype=tf.float32)[None, :, None] + 0.5
        cols = tf.range(IMAGE_SIZE, dtype=tf.float32)[None, None, :] + 0.5
        cy = params["center_y"][:, None, None]
        cx = params["center_x"][:, None, None]

        # Rectangles on whole pixels: top/left rounded, size already integral.
        top = tf.round(cy - params["rect_height"][:, None, None] / 2.0)
        left = tf.round(cx - params["rect_width"][:, None, None] / 2.0)
        rect = tf.logical_and(
            tf.logical_and(rows >= top, rows < top + params["rect_height"][:, None, None]),
            tf.logical_and(cols >= left, cols < left + params["rect_width"][:, None, None]),
        )
        text = self._text_masks(params, rows, cols)
        is_rect = (params["form"] == RECTANGLE)[:, None, None]
        return tf.cast(tf.where(is_rect, rect, text), tf.float32)[..., None]

    def _text_masks(self, params, rows, cols):
        word = params["word"]
        text_h = (params["size"] * IMAGE_SIZE)[:, None, None]
        # The smallest mip level still at least as tall as the text (exact comparisons,
        # no transcendental functions: identical on every machine).
        taller = tf.cast(self.bank.heights[1:], tf.float32)[None, :] >= (params["size"] * IMAGE_SIZE)[:, None]
        level = tf.reduce_sum(tf.cast(taller, tf.int32), axis=-1)
        level_h = tf.cast(tf.gather(self.bank.heights, level), tf.float32)[:, None, None]
        index = tf.stack([level, word], axis=-1)
        glyph_w = tf.gather_nd(self._widths, index)[:, None, None]
        offset = tf.gather_nd(self._offsets, index)[:, None, None]
        text_w = text_h * tf.gather(self._aspect, word)[:, None, None]
        u = (rows - (params["center_y"][:, None, None] - text_h / 2.0)) / text_h
        v = (cols - (params["center_x"][:, None, None] - text_w / 2.0)) / text_w
        inside = (u >= 0.0) & (u < 1.0) & (v >= 0.0) & (v < 1.0)
        gy = tf.cast(tf.floor(tf.clip_by_value(u, 0.0, 0.9999) * level_h), tf.int64)
        gx = tf.cast(
            tf.floor(tf.clip_by_value(v, 0.0, 0.9999) * tf.cast(glyph_w, tf.float32)), tf.int64
        )
        coverage = tf.gather(self._flat, offset + gy * tf.cast(glyph_w, tf.int64) + gx)
        return tf.logical_and(inside, coverage >= 128)

    # ------------------------------------------------------------------ Eq. 1

    def training_batch(self, faces, seed, ids):
        """Random training occlusions (flip included) of a batch: "occluded", "mask",
        "ground_truth" and the metadata "form", "size", "position", "color", "word"."""
        params = self.training_parameters(seed, ids)
        example = self.occlude(faces, params)
        example.update({key: params[key] for key in ("form", "size", "position", "color", "word")})
        return example

    def occlude(self, faces, params):
        """Flips the faces where `params["flip"]`, then applies Eq. 1.

        The face is flipped, not the occlusion: text stays readable. Faces are
        uint8 or float in [0, 1]; returns float32 "occluded", "mask" (M_gt,
        `(B, 112, 112, 1)`) and "ground_truth" (the possibly flipped face).
        """
        faces = as_float_faces(mirrored(faces, params["flip"]))
        mask = self.render_masks(params)
        color = params["color"][:, None, None, :]
        occluded = (1.0 - mask) * faces + mask * color  # Eq. 1
        return {"occluded": occluded, "mask": mask, "ground_truth": faces}
