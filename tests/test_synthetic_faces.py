"""Built-in synthetic faces: determinism, splits, identity signal, alignment, caching."""

import subprocess
import sys

import numpy as np
import pytest

from c2fdan_tf.data import synthetic_faces
from c2fdan_tf.data.face_sources import render_synthetic_split, synthetic_face_source
from c2fdan_tf.face_template import LANDMARKS


def test_faces_are_deterministic_in_seed_identity_and_index():
    a = synthetic_faces.render_faces(0, [5, 5, 9], [0, 1, 0])
    b = synthetic_faces.render_faces(0, [9, 5], [0, 1])  # another batch composition
    assert a.shape == (3, 112, 112, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a[2], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])  # same identity, another image
    assert not np.array_equal(a[0], synthetic_faces.render_faces(1, [5], [0])[0])  # another seed


def test_splits_have_disjoint_identities():
    offsets = sorted(synthetic_faces.SPLIT_OFFSETS.values())
    assert all(b - a >= 1_000_000 for a, b in zip(offsets, offsets[1:]))
    train, _ = render_synthetic_split(0, "train", 3, 1)
    held_out, _ = render_synthetic_split(0, "eval", 3, 1)
    for face in held_out:
        assert all(not np.array_equal(face, t) for t in train)
    params = [synthetic_faces.identity_parameters(0, i) for i in (0, synthetic_faces.SPLIT_OFFSETS["eval"])]
    assert params[0]["face_rx"] != params[1]["face_rx"]


def test_identity_fixes_the_look_and_images_vary_the_rest():
    p0 = synthetic_faces.identity_parameters(3, 17)
    p1 = synthetic_faces.identity_parameters(3, 17)
    for key in p0:
        np.testing.assert_array_equal(p0[key], p1[key])
    v0, v1 = synthetic_faces.image_variation(3, 17, 0), synthetic_faces.image_variation(3, 17, 1)
    assert v0["light_angle"] != v1["light_angle"] and v0["rotation"] != v1["rotation"]
    identities = [synthetic_faces.identity_parameters(0, i) for i in range(400)]
    styles = {int(p["hair_style"]) for p in identities}
    assert styles == set(range(len(synthetic_faces.HAIR_STYLES)))
    # Asymmetric marks on a fair share of identities.
    assert 0.6 < np.mean([p["mole"] for p in identities]) < 0.8
    assert 0.25 < np.mean([p["scar"] for p in identities]) < 0.45
    assert 0.55 < np.mean([p["parting"] != 0 for p in identities]) < 0.8


def test_raw_pixels_already_carry_identity():
    """1-nearest-neighbour on raw face pixels beats chance by far (40 identities)."""
    faces, labels = render_synthetic_split(0, "train", 40, 5)
    x = faces[:, 34:104, 24:88].astype(np.float32)
    x = x.reshape(len(x), 35, 2, 32, 2, 3).mean((2, 4)).reshape(len(x), -1)
    x -= x.mean(1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    accuracy = (labels[similarity.argmax(1)] == labels).mean()
    assert accuracy > 10 / 40, accuracy  # chance is 1/40


def test_faces_are_aligned_to_the_template_and_anti_aliased():
    faces = synthetic_faces.render_faces(2, range(64), [0] * 64).astype(np.float32)
    mean = faces.mean(axis=(0, 3))
    # On the mean face, the darkest point near each eye landmark is the pupil, at it.
    for name in ("left_eye", "right_eye"):
        x, y = LANDMARKS[name]
        y0, x0 = int(y) - 10, int(x) - 10
        window = mean[y0 : y0 + 21, x0 : x0 + 21]
        dy, dx = np.unravel_index(window.argmin(), window.shape)
        assert np.hypot(y0 + dy + 0.5 - y, x0 + dx + 0.5 - x) <= 3.0, name
    # Anti-aliasing: edges have intermediate values between the flat regions.
    gradients = np.abs(np.diff(faces.mean(-1), axis=2))
    assert np.mean((gradients > 3) & (gradients < 40)) > np.mean(gradients >= 40)


def test_cache_is_written_atomically_and_reused(tmp_path):
    first = synthetic_face_source("eval", 3, 2, seed=4, cache_dir=tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz" and not files[0].name.startswith(".")
    files[0].write_bytes(files[0].read_bytes())  # untouched copy: reused as is
    second = synthetic_face_source("eval", 3, 2, seed=4, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(second.labels, [0, 0, 1, 1, 2, 2])
    files[0].write_bytes(b"not a cache")  # a corrupt cache is rendered again, not fatal
    third = synthetic_face_source("eval", 3, 2, seed=4, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.images, third.images)


def test_contact_sheet_command_writes_a_png(tmp_path):
    out = tmp_path / "sheet.png"
    subprocess.run(
        [sys.executable, "-m", "c2fdan_tf.commands.contact_sheet", f"--out={out}",
         "--identities=2", "--images=3", "--occluded"],
        check=True, capture_output=True,
    )
    from PIL import Image

    sheet = np.asarray(Image.open(out))
    assert sheet.shape == (2 * 112, 6 * 112, 3)
    # The occluded half differs from the clean half, image by image.
    assert not np.array_equal(sheet[:, :336], sheet[:, 336:])


@pytest.mark.parametrize("workers", [1, 2])
def test_rendering_is_independent_of_thread_count(workers):
    faces, labels = render_synthetic_split(1, "train", 3, 30, workers=workers)
    reference = synthetic_faces.render_faces(1, labels.tolist(), list(range(30)) * 3)
    np.testing.assert_array_equal(faces, reference)


def test_known_landmarks_are_where_the_renderer_draws_the_template_points():
    identities, indices = [10_000_000 + i for i in range(12)], [i % 5 for i in range(12)]
    known = synthetic_faces.known_landmarks(0, identities, indices)
    assert known.shape == (12, 5, 2)
    # render_faces maps pixel (y, x) into the template frame by the inverse similarity
    # y_c = (cos ry + sin rx) / s + c, x_c = (-sin ry + cos rx) / s + c, r = pixel - c - shift:
    # the known points must land on the template's eyes and nose, and on the mouth line's ends.
    c = 56.0
    for n, (identity, index) in enumerate(zip(identities, indices)):
        v = synthetic_faces.image_variation(0, identity, index)
        ry, rx = known[n, :, 1] - c - v["shift_y"], known[n, :, 0] - c - v["shift_x"]
        cos, sin = np.cos(v["rotation"]), np.sin(v["rotation"])
        y_c, x_c = (cos * ry + sin * rx) / v["scale"] + c, (-sin * ry + cos * rx) / v["scale"] + c
        for k, name in enumerate(("left_eye", "right_eye", "nose")):
            np.testing.assert_allclose((x_c[k], y_c[k]), LANDMARKS[name], atol=1e-4)
        mouth_width = synthetic_faces.identity_parameters(0, identity)["mouth_scale"] * (
            LANDMARKS["right_mouth"][0] - LANDMARKS["left_mouth"][0])
        assert x_c[4] - x_c[3] == pytest.approx(mouth_width, abs=1e-4)  # parameters are float32
        assert y_c[3] == pytest.approx((LANDMARKS["left_mouth"][1] + LANDMARKS["right_mouth"][1]) / 2, abs=1e-4)


def test_a_real_landmark_net_finds_the_known_points_on_clean_faces():
    from c2fdan_tf.evaluation.landmarks import LandmarkPredictor, five_point_error
    from c2fdan_tf.models.face_api import load_face_api_landmarks
    from c2fdan_tf.models.face_api.landmark_net import five_points

    identities, indices = [10_000_000 + i for i in range(16)], [i % 5 for i in range(16)]
    faces = synthetic_faces.render_faces(0, identities, indices)
    predicted = five_points(LandmarkPredictor(load_face_api_landmarks())(faces))
    errors = five_point_error(predicted, synthetic_faces.known_landmarks(0, identities, indices))
    # face-api.js' 68-point net, trained on real faces: ~8 % of the inter-ocular distance here
    # (measured: 7.7 % mean on 20 faces); a point off by a feature (an eyebrow, a nostril) is >= 25 %.
    assert errors.mean() < 0.12 and errors.max() < 0.2, errors
