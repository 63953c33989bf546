"""Facial landmark accuracy (paper Fig. 8): how well a method's output keeps the face's
geometry. The landmarks of the non-occluded face are the ground truth; for the occluded
input and each method, the normalised mean error (NME) is the mean distance of the 68 points
from the ground truth divided by the ground truth's inter-ocular distance (between the eye
centres). The paper used insightface's 196-point predictor; this project uses face-api.js'
68-point net (`models.face_api`), so the values are comparable in trend, not in scale.
On synthetic faces the renderer's own five points are a second ground truth that no
landmark net has predicted (`five_point_error`).
"""

import numpy as np

from c2fdan_tf.models.face_api.landmark_net import LEFT_EYE, RIGHT_EYE


def inter_ocular_distance(landmarks):
    """(N,) distance between the eye centres (means of iBUG points 36-41 and 42-47)."""
    landmarks = np.asarray(landmarks, np.float64)
    return np.linalg.norm(landmarks[:, list(LEFT_EYE)].mean(1) - landmarks[:, list(RIGHT_EYE)].mean(1), axis=1)


def normalised_mean_error(predicted, truth):
    """(N,) mean point-to-point distance / inter-ocular distance of `truth`; (N, P, 2) inputs."""
    distances = np.linalg.norm(np.asarray(predicted, np.float64) - np.asarray(truth, np.float64), axis=-1)
    return distances.mean(1) / np.maximum(inter_ocular_distance(truth), 1e-6)


def five_point_error(predicted, truth):
    """(N,) mean distance of five points (N, 5, 2: eyes, nose tip, mouth corners, as
    `face_template`) from `truth`, over the distance between `truth`'s eye centres (points 0, 1)."""
    predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
    distances = np.linalg.norm(predicted - truth, axis=-1)
    return distances.mean(1) / np.maximum(np.linalg.norm(truth[:, 0] - truth[:, 1], axis=-1), 1e-6)


class LandmarkPredictor:
    """Batched (N, 68, 2) landmarks of uint8 or [0, 1] float faces from a landmark model."""

    def __init__(self, model, batch_size=128):
        import tensorflow as tf

        self.batch_size = batch_size
        self.model = tf.function(lambda x: model(x), reduce_retracing=True)  # traced: half the eager time

    def __call__(self, images):
        images = np.asarray(images)
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255.0
        return np.concatenate([np.asarray(self.model(images[s : s + self.batch_size]))
                               for s in range(0, len(images), self.batch_size)]) if len(images) else \
            np.zeros((0, 68, 2), np.float32)
