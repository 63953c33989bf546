"""MTCNN's networks exported for the phone app (c2fdan_tf.export.face_detector): built-in
TFLite ops, the mtcnn package's outputs on a real photo, and the PNet canvas rule the
JavaScript pyramid relies on. The browser pipeline itself is tested in mobile/web/tests."""

import json
from pathlib import Path

import numpy as np
import pytest

from c2fdan_tf.export.face_detector import (CONFIG_FILE, DETECTOR_FOLDER, PNET_CANVASES, detector_config,
                                            export_face_detector, template_json)
from c2fdan_tf.face_template import LANDMARKS
from tests.real_photos import photo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    out = tmp_path_factory.mktemp("detector")
    config = export_face_detector(out)
    return out / DETECTOR_FOLDER, config


def run_tflite(path, image):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path)).get_signature_runner("serve")(image=image.astype(np.float32))


def mtcnn_networks():
    from mtcnn import MTCNN

    return [stage._model for stage in MTCNN().stages]


def normalized_astronaut():
    return (photo("astronaut").astype(np.float32) - 127.5) / 128.0  # the package's normalize_images


def test_the_app_template_is_face_template():
    """The browser aligns to mobile/web/src/face_template.json: generated from face_template.py."""
    shipped = json.loads((ROOT / "mobile" / "web" / "src" / "face_template.json").read_text())
    assert shipped == template_json()
    assert shipped["points"][0] == list(LANDMARKS["left_eye"]) and shipped["points"][4] == list(LANDMARKS["right_mouth"])


def test_files_ops_and_config(detector):
    folder, config = detector
    written = json.loads((folder / CONFIG_FILE).read_text())
    assert written["pnet"][0]["size"] == max(PNET_CANVASES)
    assert {p.name for p in folder.iterdir()} == {CONFIG_FILE, "rnet.tflite", "onet.tflite",
                                                  *(f"pnet_{s}.tflite" for s in PNET_CANVASES)}
    allowed = {"CONV_2D", "MAX_POOL_2D", "PRELU", "SOFTMAX", "FULLY_CONNECTED", "RESHAPE", "TRANSPOSE"}
    for entry in config["pnet"] + [config["rnet"], config["onet"]]:
        assert set(entry["ops"]) <= allowed, entry["ops"]
        assert entry["max_abs_difference_vs_keras"] < 1e-4
        assert (folder / entry["file"]).stat().st_size == entry["size_bytes"]
    # The settings are the mtcnn package's defaults the Python side detects with.
    assert written["mtcnn"] == detector_config()["mtcnn"]
    assert written["mtcnn"]["min_face_size"] == 20 and written["mtcnn"]["scale_factor"] == 0.709


def test_pnet_in_a_canvas_equals_pnet_on_the_level_alone(detector):
    """The JavaScript pyramid draws each level into the top-left of a fixed canvas and reads the
    cells whose 12x12 window lies inside the level: they must equal the package's PNet run on the
    level alone (unpadded convolutions)."""
    import tensorflow as tf

    folder, _ = detector
    pnet = mtcnn_networks()[0]
    image = normalized_astronaut()
    for height, width in ((153, 153), (108, 77)):  # one square and one odd, portrait level
        level = tf.image.resize(image[None], (height, width), method="area").numpy()
        canvas = np.zeros((1, 160, 160, 3), np.float32)
        canvas[:, :height, :width] = level
        got = run_tflite(folder / "pnet_160.tflite", canvas)
        box, face = (np.asarray(v) for v in pnet(level))
        rows, cols = (height - 12) // 2 + 1, (width - 12) // 2 + 1  # windows fully inside the level
        np.testing.assert_allclose(got["face"][0, :rows, :cols], face[0, :rows, :cols], atol=2e-5)
        np.testing.assert_allclose(got["box"][0, :rows, :cols], box[0, :rows, :cols], atol=2e-5)
        assert float(face[0, :rows, :cols, 1].max()) > 0.9  # the face is found at this level


def test_onet_gives_the_package_landmarks_on_the_astronaut(detector):
    """ONet's batch file on face crops of a real photo: the package's scores and landmarks."""
    import tensorflow as tf

    folder, config = detector
    onet = mtcnn_networks()[2]
    image = normalized_astronaut()
    boxes = np.array([[0.15, 0.33, 0.36, 0.54], [0.16, 0.34, 0.37, 0.55], [0.14, 0.32, 0.35, 0.53],
                      [0.6, 0.1, 0.8, 0.3]], np.float32)  # three around the face, one on the flag
    patches = tf.image.crop_and_resize(image[None], boxes, [0] * 4, (48, 48)).numpy()
    assert len(patches) == config["onet"]["batch"]
    got = run_tflite(folder / "onet.tflite", patches)
    box, landmarks, face = (np.asarray(v) for v in onet(patches))
    np.testing.assert_allclose(got["landmarks"], landmarks, atol=2e-5)
    np.testing.assert_allclose(got["face"], face, atol=2e-5)
    assert (got["face"][:3, 1] > 0.9).all() and got["face"][3, 1] < 0.5
