"""Real photographs available offline, aligned with the project's MTCNN alignment:
scikit-image's astronaut (Eileen Collins, NASA, public domain) and matplotlib's Grace Hopper
sample (US Navy, public domain)."""

import functools

import numpy as np
from PIL import Image

from c2fdan_tf.inference.alignment import align, detect_faces

PHOTOS = ("astronaut", "grace_hopper")


@functools.lru_cache(maxsize=None)
def photo(name):
    """The RGB uint8 photo."""
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())
    if name == "grace_hopper":
        from matplotlib import cbook

        with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
            return np.asarray(image.convert("RGB"))
    raise ValueError(f"unknown photo {name!r}; choose from {', '.join(PHOTOS)}")


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
