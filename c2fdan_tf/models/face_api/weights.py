"""Reading face-api.js weights (TensorFlow.js shards + `weights_manifest.json`) from disk.

The npm package `@vladmandic/face-api` (MIT) ships its pretrained nets in `model/` as
`<name>-weights_manifest.json` and `<name>.bin`. A manifest lists weight groups; each group
names its shard files (concatenated in order) and its weights (name, shape, dtype and, for
quantised weights, `quantization` with dtype uint8/uint16 and `scale`/`min`, or float16).
Dequantisation is TensorFlow.js' `io.decodeWeights`: value = q * scale + min.
"""

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

FACE_API_PACKAGE = "@vladmandic/face-api"
FACE_API_VERSION = "1.7.15"
RECOGNITION_MODEL = "face_recognition_model"
LANDMARK_MODEL = "face_landmark_68_model"
# SHA-256 of the shards of @vladmandic/face-api 1.7.15 that the ports were checked against.
SHARD_SHA256 = {
    "face_recognition_model.bin": "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589",
    "face_landmark_68_model.bin": "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b",
}
_REPO_ROOT = Path(__file__).resolve().parents[3]
HOW_TO_INSTALL = "run `make face-models` (npm ci in face_models/) or set C2FDAN_FACE_API_MODELS to its model/ folder"


class FaceApiWeightsError(ValueError):
    """Missing, truncated or altered face-api.js weight files, with the file and the remedy."""


def default_model_dir():
    """C2FDAN_FACE_API_MODELS, else face_models/node_modules/@vladmandic/face-api/model in the checkout."""
    configured = os.environ.get("C2FDAN_FACE_API_MODELS")
    if configured:
        return Path(configured)
    return _REPO_ROOT / "face_models" / "node_modules" / FACE_API_PACKAGE / "model"


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _decode(spec, data, offset, where):
    count = math.prod(spec["shape"])
    quantization = spec.get("quantization")
    stored = np.dtype(quantization["dtype"] if quantization else spec["dtype"])
    size = count * stored.itemsize
    if offset + size > len(data):
        raise FaceApiWeightsError(f"{where} is truncated: {spec['name']} needs bytes {offset}..{offset + size}, "
                                  f"the shards hold {len(data)}; {HOW_TO_INSTALL}.")
    values = np.frombuffer(data, stored, count, offset)
    if quantization and stored.kind == "u":
        values = values.astype(np.float64) * quantization["scale"] + quantization["min"]
    return values.astype(np.float32).reshape(spec["shape"]), offset + size


def read_face_api_weights(model_name, model_dir=None, verify=True):
    """{weight name: float32 array} of one face-api.js net, e.g. `RECOGNITION_MODEL`.

    `verify`: the shards must have the SHA-256 recorded for the pinned package version.
    FaceApiWeightsError names the file and how to re-create it on any problem.
    """
    model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
    manifest_path = model_dir / f"{model_name}-weights_manifest.json"
    if not manifest_path.is_file():
        raise FaceApiWeightsError(f"face-api.js weights manifest {manifest_path} does not exist; {HOW_TO_INSTALL}.")
    try:
        groups = json.loads(manifest_path.read_text())
        specs = [(group["paths"], group["weights"]) for group in groups]
    except (ValueError, KeyError, TypeError) as error:
        raise FaceApiWeightsError(f"face-api.js weights manifest {manifest_path} is not a TensorFlow.js "
                                  f"weights manifest ({error}); {HOW_TO_INSTALL}.") from None
    weights = {}
    for paths, group_weights in specs:
        shards = [model_dir / path for path in paths]
        for shard in shards:
            if not shard.is_file():
                raise FaceApiWeightsError(f"face-api.js weight shard {shard} does not exist; {HOW_TO_INSTALL}.")
            expected = SHARD_SHA256.get(shard.name)
            if verify and expected is not None and _sha256(shard) != expected:
                raise FaceApiWeightsError(f"face-api.js weight shard {shard} is not the file of {FACE_API_PACKAGE} "
                                          f"{FACE_API_VERSION} (SHA-256 differs: corrupt or another version); "
                                          f"{HOW_TO_INSTALL}.")
        data = b"".join(shard.read_bytes() for shard in shards)
        offset = 0
        where = f"face-api.js weight shard {shards[0]}"
        for spec in group_weights:
            weights[spec["name"]], offset = _decode(spec, data, offset, where)
        if offset != len(data):
            raise FaceApiWeightsError(f"{where} holds {len(data)} bytes, its manifest describes {offset}; "
                                      f"{HOW_TO_INSTALL}.")
    return weights


class WeightTaker:
    """Hands out the weights of a mapping by name and checks that a port used every one."""

    def __init__(self, weights, model_name):
        self.weights, self.model_name, self.taken = weights, model_name, set()

    def __call__(self, name):
        if name not in self.weights:
            raise FaceApiWeightsError(f"face-api.js weights of {self.model_name} lack {name!r} "
                                      f"(another version of {FACE_API_PACKAGE}?); {HOW_TO_INSTALL}.")
        self.taken.add(name)
        return self.weights[name]

    def check_all_taken(self):
        unused = sorted(set(self.weights) - self.taken)
        if unused:
            raise FaceApiWeightsError(f"face-api.js weights of {self.model_name} hold weights the port does not "
                                      f"use: {', '.join(unused[:3])}... (another version of {FACE_API_PACKAGE}?)")
