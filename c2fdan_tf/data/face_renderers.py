"""The built-in face renderers by name: "v1" (flat-shaded, the first two releases) and "v2"
(shaded, textured, with accessories, photo backgrounds and a camera; the default).
Every renderer has the same contract: `render_faces(seed, identities, indices)` -> uint8
(B, 112, 112, 3) aligned faces, `known_landmarks(...)` -> (B, 5, 2) where the five template
points are drawn, `RENDERER_VERSION` (caches are keyed by name and version)."""

import importlib

from c2fdan_tf.data.synthetic_faces import SPLIT_OFFSETS  # noqa: F401  (shared by every renderer)

RENDERERS = {"v1": "c2fdan_tf.data.synthetic_faces", "v2": "c2fdan_tf.data.synthetic_faces_v2"}
DEFAULT_RENDERER = "v2"


def renderer(name=DEFAULT_RENDERER):
    """The module of renderer `name`; ValueError naming the choices for an unknown one."""
    if name not in RENDERERS:
        raise ValueError(f"Unknown face renderer {name!r}; choose from {', '.join(RENDERERS)}.")
    return importlib.import_module(RENDERERS[name])


def render_faces(seed, identities, indices, faces=DEFAULT_RENDERER):
    return renderer(faces).render_faces(seed, identities, indices)


def known_landmarks(seed, identities, indices, faces=DEFAULT_RENDERER):
    return renderer(faces).known_landmarks(seed, identities, indices)
