"""The face-api.js ports against the original JavaScript nets, on real photos, and their errors."""

import io
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import keras
from PIL import Image

from c2fdan_tf.inference.alignment import TEMPLATE, similarity_transform
from c2fdan_tf.models.face_api import (
    FaceApiWeightsError,
    default_model_dir,
    five_points,
    load_face_api_landmarks,
    load_face_api_recognizer,
    read_face_api_weights,
)
from tests.real_photos import PHOTOS, aligned_face, detected_face, photo

FIXTURE = Path(__file__).parent / "data" / "face_api_reference.npz"
SAME_PERSON = 0.6  # dlib's threshold on the descriptor distance


@pytest.fixture(scope="module")
def recognizer():
    return load_face_api_recognizer()


@pytest.fixture(scope="module")
def landmark_net():
    return load_face_api_landmarks()


def descriptors(recognizer, faces):
    return recognizer(np.asarray(faces, np.float32) / 255.0)["descriptor"].numpy()


def test_recognizer_matches_the_original_javascript_net(recognizer):
    """Reference: face-api.js 1.7.15 on TensorFlow.js' CPU backend (tools/face_api_reference)."""
    reference = np.load(FIXTURE)
    got = descriptors(recognizer, reference["faces"])
    expected = reference["descriptors"]
    cosine = np.sum(got * expected, 1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert got.shape == (5, 128)
    assert cosine.min() >= 0.999, cosine
    assert np.linalg.norm(got - expected, axis=1).max() <= 0.01


def test_landmarks_match_the_original_javascript_net(landmark_net):
    reference = np.load(FIXTURE)
    got = landmark_net(reference["faces"].astype(np.float32) / 255.0).numpy()
    assert got.shape == (5, 68, 2)
    assert np.abs(got - reference["landmarks"]).max() <= 0.5


def rescaled(name, scale):
    """The photo's face aligned with the template scaled by `scale` about the centre (a crop
    `scale` times tighter)."""
    matrix = np.r_[similarity_transform(detected_face(name).landmarks, TEMPLATE), [[0, 0, 1]]]
    zoom = np.array([[scale, 0, 56 * (1 - scale)], [0, scale, 56 * (1 - scale)], [0, 0, 1]])
    return cv2.warpAffine(photo(name), (zoom @ matrix)[:2], (112, 112), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT101)


def jpeg(face, quality):
    buffer = io.BytesIO()
    Image.fromarray(face).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


@pytest.mark.parametrize("name", PHOTOS)
def test_same_face_stays_within_dlibs_threshold(recognizer, name):
    face, _ = aligned_face(name)
    variants = [face[:, ::-1], rescaled(name, 1.05), rescaled(name, 0.95), jpeg(face, 50)]
    found = descriptors(recognizer, [face, *variants])
    distances = np.linalg.norm(found[1:] - found[0], axis=1)
    assert distances.max() < SAME_PERSON, distances


def test_two_people_are_beyond_dlibs_threshold(recognizer):
    first, second = descriptors(recognizer, [aligned_face(name)[0] for name in PHOTOS])
    assert np.linalg.norm(first - second) > SAME_PERSON


@pytest.mark.parametrize("name", PHOTOS)
def test_landmarks_agree_with_mtcnns_five_points(landmark_net, name):
    face, mtcnn_points = aligned_face(name)
    points = five_points(landmark_net(face[None].astype(np.float32) / 255.0).numpy())[0]
    inter_ocular = np.linalg.norm(mtcnn_points[0] - mtcnn_points[1])
    errors = np.linalg.norm(points - mtcnn_points, axis=1) / inter_ocular
    assert errors.max() < 0.05, errors
    assert points[0, 0] < points[1, 0] and points[3, 0] < points[4, 0]  # left is the image's left


def test_five_points_are_the_ibug_eye_centres_nose_tip_and_mouth_corners():
    landmarks = np.zeros((1, 68, 2))
    landmarks[0, :, 0] = np.arange(68)
    landmarks[0, :, 1] = 2 * np.arange(68)
    expected = np.array([[38.5, 77.0], [44.5, 89.0], [30.0, 60.0], [48.0, 96.0], [54.0, 108.0]])
    np.testing.assert_allclose(five_points(landmarks)[0], expected)


def test_ported_models_save_and_load_safely(tmp_path, recognizer, landmark_net):
    faces = np.load(FIXTURE)["faces"][:2].astype(np.float32) / 255.0
    for model in (recognizer, landmark_net):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        expected, got = model(faces), loaded(faces)
        expected = expected["descriptor"] if isinstance(expected, dict) else expected
        got = got["descriptor"] if isinstance(got, dict) else got
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def copy_model_dir(tmp_path):
    target = tmp_path / "model"
    shutil.copytree(default_model_dir(), target)
    return target


def test_quantised_weights_are_dequantised_as_tfjs_does(tmp_path):
    """value = q * scale + min for uint8 shards, written by hand into a tiny manifest."""
    import json

    (tmp_path / "tiny-weights_manifest.json").write_text(json.dumps([{"paths": ["tiny.bin"], "weights": [
        {"name": "a", "shape": [2, 2], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
        {"name": "b", "shape": [3], "dtype": "float32"},
    ]}]))
    (tmp_path / "tiny.bin").write_bytes(bytes([0, 1, 2, 255]) + np.array([1.5, -2.0, 3.25], "<f4").tobytes())
    weights = read_face_api_weights("tiny", tmp_path)
    np.testing.assert_array_equal(weights["a"], [[-1.0, -0.5], [0.0, 126.5]])
    np.testing.assert_array_equal(weights["b"], [1.5, -2.0, 3.25])


@pytest.mark.parametrize("damage, message", [
    ("missing manifest", r"face_recognition_model-weights_manifest\.json does not exist.*make face-models"),
    ("missing shard", r"face_recognition_model\.bin does not exist.*make face-models"),
    ("truncated shard", r"face_recognition_model\.bin is not the file of @vladmandic/face-api 1\.7\.15"),
    ("altered shard", r"face_recognition_model\.bin is not the file of @vladmandic/face-api 1\.7\.15"),
    ("broken manifest", r"face_recognition_model-weights_manifest\.json is not a TensorFlow\.js weights manifest"),
])
def test_damaged_weight_files_are_named_with_the_remedy(tmp_path, damage, message):
    model_dir = copy_model_dir(tmp_path)
    manifest, shard = model_dir / "face_recognition_model-weights_manifest.json", model_dir / "face_recognition_model.bin"
    if damage == "missing manifest":
        manifest.unlink()
    elif damage == "missing shard":
        shard.unlink()
    elif damage == "truncated shard":
        shard.write_bytes(shard.read_bytes()[:1000])
    elif damage == "altered shard":
        data = bytearray(shard.read_bytes())
        data[5000] ^= 0xFF
        shard.write_bytes(bytes(data))
    else:
        manifest.write_text("{not json")
    with pytest.raises(FaceApiWeightsError, match=message):
        load_face_api_recognizer(model_dir)


def test_truncated_shard_is_caught_without_the_checksum(tmp_path):
    model_dir = copy_model_dir(tmp_path)
    shard = model_dir / "face_landmark_68_model.bin"
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(FaceApiWeightsError, match=r"face_landmark_68_model\.bin is truncated"):
        read_face_api_weights("face_landmark_68_model", model_dir, verify=False)
