"""Real photographs available offline, aligned with the project's MTCNN alignment:
scikit-image's astronaut (Eileen Collins, NASA, public domain) and matplotlib's Grace Hopper
sample (US Navy, public domain)."""

import functools

import numpy as np

from c2fdan_tf.evaluation import real_photos
from c2fdan_tf.inference.alignment import align, detect_faces

PHOTOS = real_photos.PHOTOS
photo = functools.lru_cache(maxsize=None)(real_photos.photo)  # the RGB uint8 photo, read once per process


@functools.lru_cache(maxsize=None)
def detected_face(name):
    """The most confident MTCNN face of the photo."""
    faces = detect_faces(photo(name))
    if not faces:
        raise AssertionError(f"MTCNN found no face in {name}")
    return faces[0]


def aligned_face(name):
    """(112x112 RGB uint8 face aligned to the template, its five MTCNN points in that frame)."""
    face = detected_face(name)
    aligned, matrix = align(photo(name), face.landmarks)
    points = np.c_[face.landmarks, np.ones(5)] @ matrix.T
    return aligned, points
