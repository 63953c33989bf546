"""Free-form brush strokes and scribbles, after DeepFill v2's free-form masks (Yu et al.,
"Free-Form Image Inpainting with Gated Convolution", ICCV 2019, Alg. 1): a random walk of
3-8 vertices, each step turning by a random angle and running a random length, drawn with a
round brush. Size: the brush width as a share of the face (thin scribbles at 0.015, broad
strokes at 0.12); a flat colour or a gradient. The stroke's coverage is anti-aliased (the
distance to the polyline against the brush radius), all in graph ops.
"""

import math

import tensorflow as tf

from c2fdan_tf.data import counter_random
from c2fdan_tf.data.occluders import compositing, placement
from c2fdan_tf.data.occluders.family import S_FAMILY, WildFamily, chance, per_id, random_colors
from c2fdan_tf.face_template import IMAGE_SIZE

MAX_SEGMENTS = 8
MAX_TURN = 2.2  # radians per vertex
LENGTH_RANGE = (0.08, 0.25)  # of the image, per segment
_S_SEGMENTS, _S_HEADING, _S_WIDTH, _S_GRADIENT, _S_ANGLE = (S_FAMILY + k for k in (0, 1, 2, 3, 4))
_S_COLOR, _S_COLOR2 = S_FAMILY + 5, S_FAMILY + 8
_S_TURN, _S_LENGTH = S_FAMILY + 20, S_FAMILY + 40


class Strokes(WildFamily):
    name = "stroke"
    size_name = "brush width / face"
    training_sizes = (0.015, 0.12)
    benchmark_sizes = (0.03, 0.08)

    def parameters(self, seed, ids, size, position):
        ids, size, position = per_id(ids, size, position)
        segments = 3 + counter_random.randint(seed, _S_SEGMENTS, ids, MAX_SEGMENTS - 2)
        heading = counter_random.uniform(seed, _S_HEADING, ids, 0.0, 2 * math.pi)
        turns = counter_random.uniform_streams(seed, range(_S_TURN, _S_TURN + MAX_SEGMENTS), ids, -MAX_TURN, MAX_TURN)
        lengths = counter_random.uniform_streams(seed, range(_S_LENGTH, _S_LENGTH + MAX_SEGMENTS), ids,
                                                 *LENGTH_RANGE) * IMAGE_SIZE
        angles = heading[:, None] + tf.cumsum(turns, axis=-1)
        steps_y, steps_x = lengths * tf.sin(angles), lengths * tf.cos(angles)
        zero = tf.zeros_like(steps_y[:, :1])
        ys = tf.concat([zero, tf.cumsum(steps_y, axis=-1)], axis=-1)  # (B, MAX_SEGMENTS + 1) vertices
        xs = tf.concat([zero, tf.cumsum(steps_x, axis=-1)], axis=-1)
        used = tf.range(MAX_SEGMENTS + 1)[None, :] <= segments[:, None]
        big = tf.constant(1e6)
        # The stroke's middle vertex goes to the chosen centre: a point of the stroke itself, so
        # a stroke placed anywhere in the image is (at least partly) in it.
        middle_vertex = segments // 2

        def middle(values):
            return tf.gather(values, middle_vertex, batch_dims=1)

        extent_h = tf.reduce_max(tf.where(used, ys, -big), -1) - tf.reduce_min(tf.where(used, ys, big), -1)
        extent_w = tf.reduce_max(tf.where(used, xs, -big), -1) - tf.reduce_min(tf.where(used, xs, big), -1)
        center_y, center_x = placement.centers(seed, ids, position, tf.zeros(tf.shape(ids), tf.bool), extent_h,
                                               extent_w)
        color = random_colors(seed, _S_COLOR, ids)
        color_end = tf.where(chance(seed, _S_GRADIENT, ids, 0.4)[:, None], random_colors(seed, _S_COLOR2, ids), color)
        return {"ys": ys - middle(ys)[:, None] + center_y[:, None], "xs": xs - middle(xs)[:, None] + center_x[:, None],
                "segments": segments, "width": size * IMAGE_SIZE, "color": color, "color_end": color_end,
                "color_angle": counter_random.uniform(seed, _S_ANGLE, ids, 0.0, 2 * math.pi),
                "size": size, "position": position}

    def render(self, faces, params):
        rows, cols = compositing.pixel_grid()
        # Segments last; an unused segment is moved far away instead of masked out.
        used = tf.range(MAX_SEGMENTS)[None, :] < params["segments"][:, None]
        far = tf.constant(1e4)
        y0 = tf.where(used, params["ys"][:, :-1], far)[:, None, None, :]
        x0 = tf.where(used, params["xs"][:, :-1], far)[:, None, None, :]
        dy = tf.where(used, params["ys"][:, 1:] - params["ys"][:, :-1], 0.0)[:, None, None, :]
        dx = tf.where(used, params["xs"][:, 1:] - params["xs"][:, :-1], 0.0)[:, None, None, :]
        inverse = tf.math.divide_no_nan(1.0, dy * dy + dx * dx)
        py, px = rows[..., None] - y0, cols[..., None] - x0
        t = tf.clip_by_value((py * dy + px * dx) * inverse, 0.0, 1.0)  # the nearest point of each segment
        distance = tf.sqrt(tf.reduce_min(tf.square(py - t * dy) + tf.square(px - t * dx), axis=-1))
        alpha = tf.clip_by_value(params["width"][:, None, None] / 2 + 0.5 - distance, 0.0, 1.0)[..., None]
        fill = compositing.gradient_fill(params["color"], params["color_end"], params["color_angle"], rows, cols)
        return compositing.composite(faces, [(alpha, alpha * fill)])
