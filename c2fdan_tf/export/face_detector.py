"""MTCNN's three networks as TFLite files for the phone app's face detection.

The weights are the `mtcnn` package's (the Python side's detector, Sec. IV-A's
alignment); the pyramid, box regression and NMS run in JavaScript
(mobile/web/src/face_detection.js, a port of the package's pipeline).

A TFLite file has a fixed input size, so PNet, which is fully convolutional, is
exported at a few square canvases: each pyramid level is drawn into the top-left
corner of the smallest canvas that holds it, and only the output cells whose 12x12
window lies inside the level are read (PNet's convolutions are unpadded, so those
cells equal PNet run on the level alone). RNet and ONet take fixed batches of
patches.

Also writes `face_detector.json`: the canvases, batches and MTCNN's thresholds.
The 112x112 five-point template the app aligns to is mobile/web/src/face_template.json,
generated from `face_template.LANDMARKS` by `template_json()` (a test keeps them equal).
"""

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from c2fdan_tf.face_template import IMAGE_SIZE, LANDMARKS, TEMPLATE_ORDER
from c2fdan_tf.inference.alignment import MIN_CONFIDENCE

PNET_CANVASES = (384, 256, 160, 96, 48)  # square PNet inputs; a level uses the smallest that holds it
RNET_BATCH = 16
ONET_BATCH = 4
DETECTOR_FOLDER = "face_detector"
CONFIG_FILE = "face_detector.json"
# The mtcnn package's defaults (mtcnn 1.0.0, MTCNN.detect_faces), which the JavaScript port uses.
MTCNN_SETTINGS = {
    "min_face_size": 20, "min_size": 12, "scale_factor": 0.709, "threshold_pnet": 0.6, "nms_pnet1": 0.5,
    "nms_pnet2": 0.7, "threshold_rnet": 0.7, "nms_rnet": 0.7, "threshold_onet": 0.8, "nms_onet": 0.7,
}
# Photos are scaled down to this longer side for detection only (faces of at least
# min_face_size pixels at that scale are found: 3 % of the longer side).
DETECTION_MAX_SIDE = 640


def template_json():
    """The alignment template as the browser reads it: points in TEMPLATE_ORDER."""
    return {"size": IMAGE_SIZE, "order": list(TEMPLATE_ORDER),
            "points": [list(LANDMARKS[name]) for name in TEMPLATE_ORDER]}


def detector_config():
    return {
        "pnet": [{"file": f"pnet_{size}.tflite", "size": size} for size in PNET_CANVASES],
        "rnet": {"file": "rnet.tflite", "batch": RNET_BATCH, "size": 24},
        "onet": {"file": "onet.tflite", "batch": ONET_BATCH, "size": 48},
        "normalization": {"subtract": 127.5, "divide": 128.0},
        "mtcnn": dict(MTCNN_SETTINGS),
        "detection_max_side": DETECTION_MAX_SIDE,
        "min_confidence": MIN_CONFIDENCE,
    }


def _mtcnn_networks():
    """(PNet, RNet, ONet) Keras models with the mtcnn package's weights."""
    from mtcnn import MTCNN

    stages = MTCNN().stages
    return tuple(stage._model for stage in stages)


def _to_tflite(model, input_shape, output_names, folder):
    """Converts a Keras model at a fixed input shape; built-in ops only.

    Through keras.export.ExportArchive: its SavedModel holds the weights as constants
    the converter folds (a bare concrete function of the subclassed model leaves
    variable reads the TFLite runtime cannot resolve).
    """
    import keras
    import tensorflow as tf

    from c2fdan_tf.export.tflite import convert_saved_model

    def make_endpoint(network):
        def endpoint(image):
            return dict(zip(output_names, network(image)))

        return endpoint

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", make_endpoint(model), input_signature=[
        tf.TensorSpec(input_shape, tf.float32, name="image")])
    saved = Path(folder) / model.name
    archive.write_out(str(saved), verbose=False)
    return convert_saved_model(saved, "fp32", signature_key="serve")


def export_face_detector(out_dir, check=True):
    """Writes OUT/face_detector/ (the TFLite nets and face_detector.json); returns the config
    with each file's size. check: compare every file with the Keras network on random
    inputs (max |difference| recorded; > 1e-4 raises)."""
    from c2fdan_tf.export.tflite import tflite_op_names

    target = Path(out_dir) / DETECTOR_FOLDER
    pnet, rnet, onet = _mtcnn_networks()
    config = detector_config()
    jobs = [(pnet, (1, entry["size"], entry["size"], 3), ("box", "face"), entry) for entry in config["pnet"]]
    jobs.append((rnet, (RNET_BATCH, 24, 24, 3), ("box", "face"), config["rnet"]))
    jobs.append((onet, (ONET_BATCH, 48, 48, 3), ("box", "landmarks", "face"), config["onet"]))
    with tempfile.TemporaryDirectory() as workspace:
        staging = Path(workspace) / DETECTOR_FOLDER
        staging.mkdir()
        for network, shape, names, entry in jobs:
            content = _to_tflite(network, shape, names, workspace)
            (staging / entry["file"]).write_bytes(content)
            entry["size_bytes"] = len(content)
            entry["ops"] = sorted(tflite_op_names(content))
            if check:
                entry["max_abs_difference_vs_keras"] = _parity(network, content, shape, names)
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, target)
    return config


def _parity(network, content, shape, names):
    from ai_edge_litert.interpreter import Interpreter

    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, shape).astype(np.float32)
    expected = dict(zip(names, (np.asarray(v) for v in network(image))))
    interpreter = Interpreter(model_content=content)
    runner = interpreter.get_signature_runner("serve")
    got = runner(image=image)
    worst = max(float(np.abs(got[name] - expected[name]).max()) for name in names)
    if worst > 1e-4:
        raise RuntimeError(f"the TFLite {network.name} differs from Keras by {worst:.2e}")
    return worst
