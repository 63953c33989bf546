"""Running a trained generator in any form (.keras, SavedModel, TFLite, ONNX):
runners with one output contract, face and photo completion, alignment."""

from c2fdan_tf.inference.completion import FaceResult, PhotoResult, complete_faces, complete_photo
from c2fdan_tf.inference.runners import (
    GeneratorRunner,
    KerasRunner,
    ModelError,
    OnnxRunner,
    SavedModelRunner,
    TFLiteRunner,
    as_runner,
    load_runner,
)

__all__ = [
    "FaceResult",
    "GeneratorRunner",
    "KerasRunner",
    "ModelError",
    "OnnxRunner",
    "PhotoResult",
    "SavedModelRunner",
    "TFLiteRunner",
    "as_runner",
    "complete_faces",
    "complete_photo",
    "load_runner",
]
