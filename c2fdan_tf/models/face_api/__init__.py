"""Pretrained face models of face-api.js (MIT), ported to Keras: a face recognizer (dlib's
descriptor net) and a 68-point landmark net, with weights read from the npm package's shards."""

from c2fdan_tf.models.face_api.landmark_net import FaceApiLandmarks68, five_points, load_face_api_landmarks
from c2fdan_tf.models.face_api.recognition_net import FaceApiRecognizer, load_face_api_recognizer
from c2fdan_tf.models.face_api.weights import FaceApiWeightsError, default_model_dir, read_face_api_weights

__all__ = [
    "FaceApiLandmarks68",
    "FaceApiRecognizer",
    "FaceApiWeightsError",
    "default_model_dir",
    "five_points",
    "load_face_api_landmarks",
    "load_face_api_recognizer",
    "read_face_api_weights",
]
