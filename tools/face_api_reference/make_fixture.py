"""Regenerates tests/data/face_api_reference.npz: the original face-api.js nets' outputs on
a few faces, which the Keras ports are tested against.

    cd tools/face_api_reference && npm ci && cd ../.. && python tools/face_api_reference/make_fixture.py

Faces: the astronaut and Grace Hopper photos aligned by MTCNN, two built-in synthetic faces
and one of uniform noise. The original runs in Node.js (TensorFlow.js 4.22, CPU backend) on
the same uint8 pixels, read from face_models/ (the weights the project uses).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from c2fdan_tf.data.synthetic_faces import render_faces  # noqa: E402
from c2fdan_tf.models.face_api.landmark_net import LANDMARK_CROP  # noqa: E402
from c2fdan_tf.models.face_api.recognition_net import RECOGNITION_CROP  # noqa: E402
from c2fdan_tf.models.face_api.weights import default_model_dir  # noqa: E402
from tests.real_photos import PHOTOS, aligned_face  # noqa: E402

OUT = ROOT / "tests" / "data" / "face_api_reference.npz"


def main():
    faces = [aligned_face(name)[0] for name in PHOTOS]
    faces += list(render_faces(seed=0, identities=[3, 7], indices=[0, 1]))
    faces.append(np.random.default_rng(0).integers(0, 256, (112, 112, 3), dtype=np.uint8))
    faces = np.stack(faces).astype(np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "faces.f32", Path(tmp) / "out.json"
        faces.astype(np.float32).tofile(raw)
        crops = [",".join(map(str, crop)) for crop in (RECOGNITION_CROP, LANDMARK_CROP)]
        subprocess.run(["node", str(Path(__file__).with_name("reference.cjs")), str(default_model_dir()), str(raw),
                        str(len(faces)), str(out), *crops], check=True, cwd=Path(__file__).parent,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = json.loads(out.read_text())
    top, left, _ = LANDMARK_CROP
    landmarks = np.array(result["landmarks"], np.float32) + np.float32([left, top])  # crop -> 112x112 frame
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, faces=faces, descriptors=np.array(result["descriptors"], np.float32),
                        landmarks=landmarks, recognizer_crop=RECOGNITION_CROP, landmark_crop=LANDMARK_CROP,
                        origin=f"face-api.js 1.7.15, TensorFlow.js {result['tfjs']} {result['backend']} backend")
    print(f"wrote {OUT} ({len(faces)} faces, {OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
