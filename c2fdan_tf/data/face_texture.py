"""Natural texture on the clean training faces, so that texture alone does not read as an occluder.

The built-in faces are flat-shaded: on them, every occluder family with texture or shading
(photo patches, shaded stickers, emoji) differs from the face by texture alone, and a model
trained on them masks what is textured on a real face -- hair, eyes, glasses, a cap badge
(measured: 34-47 % of a clean real face masked after training on the wild mix, 2-4 % after the
paper's occluders alone). This puts the texture of natural photos (the same crops the object
occluders use: scikit-image's CC0 / public-domain samples) into the *clean* face, before it is
occluded: the image is modulated by the photo's luminance detail (its high-pass, gain 0.1-0.6)
and, more gently, by its low-frequency shading, over the whole image. The ground truth is the
textured face, so the mask is unchanged and Eq. 2 still gives it back; what the model must
learn instead is the occluder's boundary and its difference from the face around it.
Drawn per image from (seed, id), like the occluders.
"""

import math

import tensorflow as tf

from c2fdan_tf.data import counter_random
from c2fdan_tf.face_template import IMAGE_SIZE

S_TEXTURE = 900  # streams of this module (the occluders use 0-99 and S_FAMILY + 100 k)
_S_APPLY, _S_CROP, _S_DETAIL, _S_SHADING, _S_FLIP, _S_TRANSPOSE = (S_TEXTURE + k for k in range(6))
DETAIL_GAIN = (0.1, 0.6)  # the high-pass luminance's gain on the image (the photo's contrast, about 0-1)
SHADING_GAIN = (0.0, 0.25)  # the low-pass luminance's
SIGMA = 3.0  # pixels, of the blur separating detail from shading (at 112 x 112)


def _gaussian_blur(images, sigma):
    """Separable Gaussian blur of (B, H, W, 1) float images, reflected at the borders."""
    radius = int(math.ceil(3 * sigma))
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * (x / sigma) ** 2)
    kernel /= tf.reduce_sum(kernel)
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    rows = tf.nn.conv2d(padded, tf.reshape(kernel, (-1, 1, 1, 1)), 1, "VALID")
    return tf.nn.conv2d(rows, tf.reshape(kernel, (1, -1, 1, 1)), 1, "VALID")


class FaceTexture:
    """`apply(faces, seed, ids)`: the faces, a share `probability` of them textured."""

    def __init__(self, probability):
        from c2fdan_tf.data.occluders.objects import texture_bank  # the photo crops, built once

        self.probability = float(probability)
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"face_texture must be a probability in [0, 1], not {probability}")
        # (detail, shading) of every crop in its four orientations (as it is, mirrored, transposed,
        # both), computed once: the blur commutes with them (a symmetric kernel, reflected borders),
        # so per image only one row of this table is gathered.
        self._layers = self._orientations(self._detail_and_shading(texture_bank())) if self.probability > 0 else None

    @staticmethod
    def _detail_and_shading(bank):
        """(N, 112, 112, 2): each crop's luminance high-pass and its zero-mean low-pass."""
        crops = tf.image.resize(tf.cast(bank, tf.float32) / 255.0, (IMAGE_SIZE, IMAGE_SIZE))
        luminance = tf.reduce_mean(crops, axis=-1, keepdims=True)
        low = _gaussian_blur(luminance, SIGMA)
        return tf.concat([luminance - low, low - tf.reduce_mean(low, axis=[1, 2, 3], keepdims=True)], -1)

    @staticmethod
    def _orientations(layers):
        """(4 N, ...): row 4 n + k is crop n mirrored left-right if k & 1, then transposed if k & 2."""
        mirrored = tf.reverse(layers, axis=[2])
        variants = [layers, mirrored, tf.transpose(layers, [0, 2, 1, 3]), tf.transpose(mirrored, [0, 2, 1, 3])]
        return tf.constant(tf.reshape(tf.stack(variants, axis=1), [-1, *layers.shape[1:]]))

    def luminance_detail(self, seed, ids):
        """(detail, shading) of each id's photo crop, (B, 112, 112, 1) float32, zero-mean."""
        crop = counter_random.randint(seed, _S_CROP, ids, int(self._layers.shape[0]) // 4)
        mirror = tf.cast(counter_random.uniform(seed, _S_FLIP, ids) < 0.5, crop.dtype)
        transpose = tf.cast(counter_random.uniform(seed, _S_TRANSPOSE, ids) < 0.5, crop.dtype)
        layers = tf.gather(self._layers, 4 * crop + mirror + 2 * transpose)
        return layers[..., :1], layers[..., 1:]

    def apply(self, faces, seed, ids):
        """float32 faces in [0, 1] -> the same, those drawn textured: f * (1 + a d + b s)."""
        if self.probability <= 0:
            return faces
        ids = tf.convert_to_tensor(ids, tf.int64)
        chosen = tf.where(counter_random.uniform(seed, _S_APPLY, ids) < self.probability)  # (k, 1) rows
        ids, chosen_faces = tf.gather_nd(ids, chosen), tf.gather_nd(faces, chosen)  # only those drawn textured
        detail, shading = self.luminance_detail(seed, ids)
        a = counter_random.uniform(seed, _S_DETAIL, ids, *DETAIL_GAIN)[:, None, None, None]
        b = counter_random.uniform(seed, _S_SHADING, ids, *SHADING_GAIN)[:, None, None, None]
        textured = tf.clip_by_value(chosen_faces * (1.0 + a * detail / 0.25 + b * shading / 0.25), 0.0, 1.0)
        return tf.tensor_scatter_nd_update(faces, chosen, textured)
