"""Stability from frame to frame, in the aligned 112x112 frame of each tracked face.

- Masks: a subtitle or a watermark stays in place on the screen for many frames while the face
  moves under it, so a neighbouring frame's mask is carried into this frame's aligned square
  through the screen (`screen_relation`: this frame's alignment after the neighbour's
  inverse). The fused probability is the mean over a centred window (one frame each side by
  default: a one-frame blip is outvoted, the first and last frame of a subtitle are not), and
  `hysteresis` keeps a pixel that was on while the fused value stays above a lower threshold.
- Fill: the face moves with its aligned square, so last frame's fill sits at the same aligned
  pixels. Where both frames are masked, `blend_fill` keeps most of last frame's fill while the
  visible face has not changed in its square (`face_change`: the network's fill varies from frame
  to frame with the letters' place on the face, the face does not) and the two fills roughly
  agree; a blink, a turn or a very different fill brings this frame's completion in. The blend
  only ever mixes two completions: no occluder pixel enters it.
"""

import math

import cv2
import numpy as np

from c2fdan_tf.face_template import IMAGE_SIZE

MASK_ON = 0.5  # evidence (fused probability, or held) that masks a pixel
HOLD_DECAY = 0.85  # a frame's share of the held evidence that survives into the next
RELEASE = 0.15  # a held line of text whose fused probability falls below this on average is let go


def _homogeneous(matrix):
    return np.vstack([np.asarray(matrix, np.float64), [0.0, 0.0, 1.0]])


def screen_relation(matrix_to, matrix_from):
    """2x3 map from the aligned square of `matrix_from` to that of `matrix_to` (both photo->aligned)
    through the photo: a point fixed on the screen lands where it is in the other square."""
    return (_homogeneous(matrix_to) @ np.linalg.inv(_homogeneous(matrix_from)))[:2]


def carry(array, relation):
    """`array` (112, 112[, C]) resampled into the other square; (values, valid) with valid 0
    where the other square saw nothing."""
    size = (IMAGE_SIZE, IMAGE_SIZE)
    values = cv2.warpAffine(np.asarray(array, np.float32), relation, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    valid = cv2.warpAffine(np.ones((IMAGE_SIZE, IMAGE_SIZE), np.float32), relation, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return values, valid


def fused_probability(current, neighbours):
    """Mean of `current` (112, 112) and the neighbours' probabilities carried in, each weighted by
    where it saw this square. neighbours: [(probability, relation into this square)]."""
    total, weight = np.asarray(current, np.float32).copy(), np.ones_like(current, np.float32)
    for probability, relation in neighbours:
        values, valid = carry(probability, relation)
        total += values
        weight += valid
    return total / weight


def hysteresis(fused, held=None, on=MASK_ON, decay=HOLD_DECAY, release=RELEASE):
    """(binary mask, held evidence): a pixel is on while its evidence -- the fused probability, or
    the last frame's evidence (`held`, carried in) times `decay` if larger -- is >= `on`: a letter
    the network misses for a frame or two stays masked. A line of text (on pixels within 3 px of
    each other) whose fused probability has fallen below `release` on average is let go at once:
    the subtitle has gone, nothing is held over the clean face."""
    fused = np.asarray(fused, np.float32)
    evidence = fused if held is None else np.maximum(fused, decay * np.asarray(held, np.float32))
    mask = evidence >= on
    if held is not None and mask.any():
        count, labels = cv2.connectedComponents(cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)))
        labels = np.where(mask, labels, 0)
        area = np.bincount(labels.ravel(), minlength=count)
        seen = np.bincount(labels.ravel(), weights=fused.ravel(), minlength=count)
        gone = seen < release * np.maximum(area, 1)
        gone[0] = False
        dropped = gone[labels]
        evidence = np.where(dropped, fused, evidence)
        mask &= ~dropped | (fused >= on)
    return mask, evidence


def network_fill(completed, face, probability):
    """The fine network's fill F from its output I_f = (1 - M) I + M F (Eq. 2) where M >= MASK_ON
    (elsewhere the division would amplify the output's rounding; those pixels are not used)."""
    m = np.asarray(probability, np.float32)[..., None]
    return np.clip((np.asarray(completed, np.float32) - (1.0 - m) * face) / np.maximum(m, MASK_ON), 0.0, 1.0)


def face_change(face, previous_face, masked):
    """How much the visible face changed in its aligned square since the last frame: the mean
    absolute RGB difference outside the masks (grown by 3 px), in [0, 1]. Near 0 for a still
    face; a blink, a turn or a misalignment raise it."""
    outside = ~(cv2.dilate(masked.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
    if not outside.any():
        return 1.0
    return float(np.mean(np.abs(np.asarray(face, np.float32) - previous_face)[outside]))


def blend_fill(fill, previous, both, change=0.0, keep=0.95, tolerance=0.3, still=0.03):
    """This frame's fill mixed with the previous one where `both` are masked: the previous fill's
    weight is keep * exp(-(change / still)^2) * exp(-(d / tolerance)^2), `change` the face's
    (`face_change`) and d the two fills' mean absolute RGB difference at the pixel. A still face
    keeps its fill; a face that moved or blinked, or a fill that changed a lot, takes the new one."""
    difference = np.mean(np.abs(fill - previous), axis=-1)
    weight = keep * math.exp(-((change / still) ** 2)) * np.exp(-np.square(difference / tolerance)) * both
    return fill * (1.0 - weight[..., None]) + previous * weight[..., None]
