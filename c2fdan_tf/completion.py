"""Completing faces with any exported form of the generator, and whole photos.

`load_completer(path)` accepts a `.keras` checkpoint, a SavedModel folder (from
export.py) or a `.tflite` file and returns a callable mapping float faces
(N, 112, 112, 3) in [0, 1] to {"completed", "mask", "coarse"}.
"""

import dataclasses
from pathlib import Path

import numpy as np

from c2fdan_tf.face_template import IMAGE_SIZE

# A mask covering less than this fraction of the face counts as empty: the face is
# returned untouched (a clean face is not "completed").
EMPTY_MASK_FRACTION = 0.002


class ModelError(ValueError):
    """The model path cannot be used (one-line reason)."""


class _KerasCompleter:
    def __init__(self, path):
        import tensorflow as tf

        from c2fdan_tf.models.checkpoints import load_generator

        generator = load_generator(path)
        self._run = tf.function(lambda x: generator(x, training=False), reduce_retracing=True)

    def __call__(self, faces):
        out = self._run(np.asarray(faces, np.float32))
        return {"completed": out["completed"].numpy(), "mask": out["mask"].numpy(),
                "coarse": out["coarse_completed"].numpy()}


class _SavedModelCompleter:
    def __init__(self, path):
        import tensorflow as tf

        try:
            self._signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        except (OSError, KeyError, ValueError) as error:
            raise ModelError(f"SavedModel {path} cannot be loaded: {str(error).splitlines()[0]}") from None

    def __call__(self, faces):
        import tensorflow as tf

        out = self._signature(image=tf.constant(np.asarray(faces, np.float32)))
        return {key: value.numpy() for key, value in out.items()}


class _TFLiteCompleter:
    def __init__(self, path):
        from c2fdan_tf.export.tflite import TFLiteRunner

        try:
            self._runner = TFLiteRunner(model_path=path)
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"{path} is not a usable .tflite: {str(error).splitlines()[0]}") from None

    def __call__(self, faces):
        return self._runner.run_batch(np.asarray(faces, np.float32))


def load_completer(path):
    """A callable over batches of faces, whatever the model's format."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"Model {path} does not exist.")
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise ModelError(f"{path} is a folder but not a SavedModel (no saved_model.pb).")
        return _SavedModelCompleter(path)
    if path.suffix == ".tflite":
        return _TFLiteCompleter(path)
    if path.suffix == ".keras":
        from c2fdan_tf.models.checkpoints import CheckpointError

        try:
            return _KerasCompleter(path)
        except CheckpointError as error:
            raise ModelError(str(error)) from None
    raise ModelError(f"{path}: expected a .keras checkpoint, a SavedModel folder or a .tflite file.")


@dataclasses.dataclass
class FaceResult:
    completed: np.ndarray  # float (112, 112, 3)
    mask: np.ndarray  # float (112, 112)
    coarse: np.ndarray
    empty_mask: bool  # nothing to complete: `completed` is the input itself


def complete_faces(completer, faces, batch_size=16):
    """FaceResults for uint8 or float faces (N, 112, 112, 3)."""
    faces = np.asarray(faces)
    floats = faces.astype(np.float32) / 255.0 if faces.dtype == np.uint8 else faces.astype(np.float32)
    results = []
    for start in range(0, len(floats), batch_size):
        chunk = floats[start : start + batch_size]
        outputs = completer(chunk)
        for i, face in enumerate(chunk):
            mask = outputs["mask"][i].reshape(IMAGE_SIZE, IMAGE_SIZE)
            empty = float(np.mean(mask > 0.5)) < EMPTY_MASK_FRACTION
            completed = face if empty else outputs["completed"][i]
            results.append(FaceResult(completed, mask, outputs["coarse"][i], empty))
    return results


@dataclasses.dataclass
class PhotoResult:
    photo: np.ndarray  # uint8, the photo with every completed face pasted in
    mask: np.ndarray  # float (H, W), where pixels were replaced
    faces: list  # [(DetectedFace, FaceResult)]


def complete_photo(completer, photo):
    """Detects every face of an RGB uint8 photo, aligns, completes and pastes each back.

    Pixels outside the pasted masks keep their exact values. Returns None if no face."""
    from c2fdan_tf.alignment import align, detect_faces, paste_back

    detected = detect_faces(photo)
    if not detected:
        return None
    result, total_mask, faces = np.asarray(photo, np.uint8).copy(), np.zeros(photo.shape[:2], np.float32), []
    for face in detected:
        aligned, matrix = align(result, face.landmarks)
        [completed] = complete_faces(completer, aligned[None])
        if not completed.empty_mask:
            result, photo_mask = paste_back(result, completed.completed, completed.mask, matrix)
            total_mask = np.maximum(total_mask, photo_mask)
        faces.append((face, completed))
    return PhotoResult(result, total_mask, faces)
