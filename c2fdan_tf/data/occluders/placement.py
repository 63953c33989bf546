"""Where an occluder goes: the benchmark's positions (mouth, nose, eyes, outside) or anywhere.

Shared by the paper's occluders and the wild families, so "mouth" means the same place for
all of them (architecture.md, Occlusion synthesis). Every draw is counter-based
(`counter_random`) on the caller's seed, so two families that pass different seeds place
independently and a seed gives the same centres on every run.
"""

import numpy as np
import tensorflow as tf

from c2fdan_tf.data import counter_random
from c2fdan_tf.face_template import FACE_ELLIPSE, IMAGE_SIZE, LANDMARKS

POSITIONS = ("mouth", "nose", "eyes", "outside")
MOUTH, NOSE, EYES, OUTSIDE = 0, 1, 2, 3
RANDOM_POSITION = -1

# Random streams of the placement (the paper's numbering: its occlusions stay bit-identical).
S_EYE = 5
S_JITTER = 20  # 20, 21
S_CANDIDATE = 30  # 30 .. 30 + 2 * OUTSIDE_CANDIDATES
OUTSIDE_CANDIDATES = 24
# Benchmark centres are jittered by up to this many pixels around the landmark.
JITTER = {MOUTH: 3.0, NOSE: 3.0, EYES: 2.0}
# "Outside": the occluder's centre lies outside the face ellipse and a compact occluder does
# not reach the inner face (the ellipse scaled by this factor).
INNER_FACE_SCALE = 0.6


def _mean_landmark(*names):
    ys = [LANDMARKS[n][1] for n in names]
    xs = [LANDMARKS[n][0] for n in names]
    return float(np.mean(ys)), float(np.mean(xs))


ANCHORS = {
    MOUTH: _mean_landmark("left_mouth", "right_mouth"),
    NOSE: _mean_landmark("nose"),
    "left_eye": _mean_landmark("left_eye"),
    "right_eye": _mean_landmark("right_eye"),
}


def ellipse_radius2(y, x, scale=1.0):
    """Squared normalised distance to the face ellipse's centre (1 = on it)."""
    cy, cx, ry, rx = FACE_ELLIPSE
    return ((y - cy) / (ry * scale)) ** 2 + ((x - cx) / (rx * scale)) ** 2


def centers(seed, ids, position, compact, extent_h, extent_w):
    """(centre_y, centre_x) per id: jittered around the position's landmark, outside the face
    (`outside_centers`), or uniform over the image for RANDOM_POSITION. `compact`: per-id bool,
    the occluder is a box of `extent_h` x `extent_w` that must stay off the inner face when outside."""
    jitter_y = counter_random.uniform(seed, S_JITTER, ids, -1.0, 1.0)
    jitter_x = counter_random.uniform(seed, S_JITTER + 1, ids, -1.0, 1.0)
    right_eye = counter_random.uniform(seed, S_EYE, ids) < 0.5
    eye_y = tf.where(right_eye, ANCHORS["right_eye"][0], ANCHORS["left_eye"][0])
    eye_x = tf.where(right_eye, ANCHORS["right_eye"][1], ANCHORS["left_eye"][1])
    outside_y, outside_x = outside_centers(seed, ids, compact, extent_h, extent_w)
    random_y = counter_random.uniform(seed, S_CANDIDATE, ids, 0.0, IMAGE_SIZE)
    random_x = counter_random.uniform(seed, S_CANDIDATE + 1, ids, 0.0, IMAGE_SIZE)

    def pick(mouth, nose, eyes, outside, random):
        return tf.where(
            position == MOUTH, mouth,
            tf.where(position == NOSE, nose,
                     tf.where(position == EYES, eyes,
                              tf.where(position == OUTSIDE, outside, random))))

    center_y = pick(ANCHORS[MOUTH][0] + JITTER[MOUTH] * jitter_y, ANCHORS[NOSE][0] + JITTER[NOSE] * jitter_y,
                    eye_y + JITTER[EYES] * jitter_y, outside_y, random_y)
    center_x = pick(ANCHORS[MOUTH][1] + JITTER[MOUTH] * jitter_x, ANCHORS[NOSE][1] + JITTER[NOSE] * jitter_x,
                    eye_x + JITTER[EYES] * jitter_x, outside_x, random_x)
    return center_y, center_x


def outside_centers(seed, ids, compact, extent_h, extent_w):
    """First of several candidate centres outside the face (rejection sampling)."""
    candidates = counter_random.uniform_streams(seed, range(S_CANDIDATE, S_CANDIDATE + 2 * OUTSIDE_CANDIDATES),
                                                ids, 0.0, IMAGE_SIZE)
    ys, xs = candidates[..., 0::2], candidates[..., 1::2]
    outside = ellipse_radius2(ys, xs) > 1.0
    # The box's point nearest the face centre stays out of the inner face.
    cy, cx = FACE_ELLIPSE[0], FACE_ELLIPSE[1]
    half_h, half_w = extent_h[:, None] / 2.0, extent_w[:, None] / 2.0
    near_y = tf.clip_by_value(tf.fill(tf.shape(ys), cy), ys - half_h, ys + half_h)
    near_x = tf.clip_by_value(tf.fill(tf.shape(xs), cx), xs - half_w, xs + half_w)
    clear = ellipse_radius2(near_y, near_x, INNER_FACE_SCALE) > 1.0
    ok = tf.logical_and(outside, tf.logical_or(~compact[:, None], clear))
    # Fallback, if no candidate qualifies: the top-left corner.
    ok = tf.concat([ok, tf.ones_like(ok[:, :1])], axis=-1)
    ys = tf.concat([ys, tf.fill(tf.shape(ys[:, :1]), 0.0)], axis=-1)
    xs = tf.concat([xs, tf.fill(tf.shape(xs[:, :1]), 0.0)], axis=-1)
    first = tf.argmax(tf.cast(ok, tf.int32), axis=-1, output_type=tf.int32)
    return tf.gather(ys, first, batch_dims=1), tf.gather(xs, first, batch_dims=1)
