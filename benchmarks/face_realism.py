"""Do the built-in faces look like faces to networks trained on real ones? v1 vs v2 (issue 30).

For each renderer, on held-out ("eval" split) identities, two images each:
- MTCNN detection rate (score >= 0.9) and mean score, each face at the centre of a 250x250
  mid-grey canvas; the two real photos' aligned faces (scikit-image's astronaut, matplotlib's
  Grace Hopper; public domain) in the same canvas as the reference;
- face-api.js' 68-point net: five-point error against the renderer's known points, as a
  fraction of the inter-ocular distance (mean and median);
- face-api.js' recognizer: 10-fold verification accuracy on same/different identity pairs;
- rendering speed: faces/s of the cache's threaded renderer on this machine.

    python benchmarks/face_realism.py [--faces=v1,v2] [--identities=100]
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from c2fdan_tf.data import face_renderers  # noqa: E402
from c2fdan_tf.data.face_sources import render_synthetic_split  # noqa: E402
from c2fdan_tf.evaluation.face_realism import detection_in_canvas, verification_accuracy  # noqa: E402
from c2fdan_tf.evaluation.real_photos import aligned_real_faces  # noqa: E402

_FACES = flags.DEFINE_list("faces", ["v1", "v2"], "Renderers to compare.")
_IDENTITIES = flags.DEFINE_integer("identities", 100, "Held-out identities (two images each).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the faces.")


def main(argv):
    del argv
    from c2fdan_tf.evaluation.landmarks import LandmarkPredictor, five_point_error
    from c2fdan_tf.evaluation.recognition import Embedder
    from c2fdan_tf.inference.alignment import detect_faces
    from c2fdan_tf.models.face_api import load_face_api_landmarks, load_face_api_recognizer
    from c2fdan_tf.models.face_api.landmark_net import five_points

    landmarks = LandmarkPredictor(load_face_api_landmarks())
    embedder = Embedder(load_face_api_recognizer())
    found, scores = detection_in_canvas(aligned_real_faces(), detect_faces)
    print(f"real aligned faces (astronaut, Grace Hopper) in the canvas: MTCNN found {found.sum()}/2, "
          f"scores {np.round(scores, 3).tolist()}")
    count = 2 * _IDENTITIES.value
    offset = face_renderers.SPLIT_OFFSETS["eval"]
    identities = offset + np.repeat(np.arange(_IDENTITIES.value), 2)
    indices = np.tile([0, 1], _IDENTITIES.value)
    print(f"{count} held-out faces per renderer ({_IDENTITIES.value} identities x 2), seed {_SEED.value}")
    print("| renderer | MTCNN found | mean score | five-point NME mean | median | verification (face-api) "
          "| render faces/s |")
    print("|---|---|---|---|---|---|---|")
    for name in _FACES.value:
        module = face_renderers.renderer(name)
        start = time.perf_counter()
        faces, labels = render_synthetic_split(_SEED.value, "eval", _IDENTITIES.value, 2, faces=name)
        speed = count / (time.perf_counter() - start)
        assert np.array_equal(faces[:4], module.render_faces(_SEED.value, identities[:4], indices[:4]))
        found, scores = detection_in_canvas(faces, detect_faces)
        errors = five_point_error(five_points(landmarks(faces)),
                                  module.known_landmarks(_SEED.value, identities, indices))
        accuracy = verification_accuracy(embedder(faces), labels)
        print(f"| {name} | {found.mean():.1%} | {scores[found].mean() if found.any() else 0:.3f} | "
              f"{errors.mean():.2%} | {np.median(errors):.2%} | {accuracy:.1%} | {speed:.0f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
