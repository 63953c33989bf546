"""The face recognizers that evaluation and the identity losses can use, by name.

- "project": the project's own face feature extractor (train.py --stage=extractor), a
  `.keras` checkpoint: the paper's ResNet50-v2 trained on the data at hand.
- "face_api": face-api.js' pretrained recognizer (dlib's descriptor net, trained on ~3 M
  real faces; `models.face_api`), which has never seen the benchmark's faces.
"""

from c2fdan_tf.models.checkpoints import file_sha256, load_extractor

RECOGNIZERS = ("project", "face_api")


def load_recognizer(name, extractor_path=None, require_features=False):
    """(model, description) of the recognizer `name`; the model maps faces to a dict with an
    L2-normalised "embedding" (and "block1"/"block3" feature maps when `require_features`).
    ValueError (or CheckpointError / FaceApiWeightsError, both ValueErrors) names the problem."""
    if name == "project":
        if not extractor_path:
            raise ValueError("--extractor is needed for identity metrics by the project's recognizer: a checkpoint "
                             "of train.py --stage=extractor (or --recognizer=face_api).")
        model = load_extractor(extractor_path, require_features=require_features)
        return model, {"name": name, "path": str(extractor_path), "sha256": file_sha256(extractor_path),
                       "description": f"the project's extractor `{extractor_path}`"}
    if name == "face_api":
        from c2fdan_tf.models.face_api import load_face_api_recognizer
        from c2fdan_tf.models.face_api.weights import FACE_API_PACKAGE, FACE_API_VERSION, SHARD_SHA256

        return load_face_api_recognizer(), {
            "name": name, "package": f"{FACE_API_PACKAGE} {FACE_API_VERSION}",
            "sha256": SHARD_SHA256["face_recognition_model.bin"],
            "description": f"face-api.js' pretrained recognizer ({FACE_API_PACKAGE} {FACE_API_VERSION}, dlib's net)"}
    raise ValueError(f"Unknown recognizer {name!r}; choose from {', '.join(RECOGNIZERS)}.")
