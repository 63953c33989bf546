"""Built-in synthetic faces, both renderers (v1 flat, v2 shaded): determinism, splits, identity
signal, alignment, caching, and where the five template points are drawn."""

import subprocess
import sys

import numpy as np
import pytest

from c2fdan_tf.data import face_renderers, synthetic_faces, synthetic_faces_v2
from c2fdan_tf.data.face_sources import render_synthetic_split, synthetic_face_source
from c2fdan_tf.face_template import LANDMARKS


@pytest.mark.parametrize("faces", ["v1", "v2"])
def test_faces_are_deterministic_in_seed_identity_and_index(faces):
    render = face_renderers.renderer(faces).render_faces
    a = render(0, [5, 5, 9], [0, 1, 0])
    b = render(0, [9, 5], [0, 1])  # another batch composition
    assert a.shape == (3, 112, 112, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a[2], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])  # same identity, another image
    assert not np.array_equal(a[0], render(1, [5], [0])[0])  # another seed


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


@pytest.mark.parametrize("faces, better_than", [("v1", 10 / 40), ("v2", 4 / 40)])
def test_raw_pixels_already_carry_identity(faces, better_than):
    """1-nearest-neighbour on raw face pixels beats chance (1/40) by far; v2 less so: its images
    of one identity differ in lighting, camera, background, glasses and hats."""
    faces, labels = render_synthetic_split(0, "train", 40, 5, faces=faces)
    x = faces[:, 34:104, 24:88].astype(np.float32)
    x = x.reshape(len(x), 35, 2, 32, 2, 3).mean((2, 4)).reshape(len(x), -1)
    x -= x.mean(1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    accuracy = (labels[similarity.argmax(1)] == labels).mean()
    assert accuracy > better_than, accuracy  # chance is 1/40


@pytest.mark.parametrize("faces, centre", [("v1", 0.5), ("v2", 0.0)])  # where pixel n's centre is
def test_faces_are_aligned_to_the_template_and_anti_aliased(faces, centre):
    faces = face_renderers.renderer(faces).render_faces(2, range(64), [0] * 64).astype(np.float32)
    mean = faces.mean(axis=(0, 3))
    # On the mean face, the darkest point near each eye landmark is the pupil, at it.
    for name in ("left_eye", "right_eye"):
        x, y = LANDMARKS[name]
        y0, x0 = int(y) - 10, int(x) - 10
        window = mean[y0 : y0 + 21, x0 : x0 + 21]
        dy, dx = np.unravel_index(window.argmin(), window.shape)
        assert np.hypot(y0 + dy + centre - y, x0 + dx + centre - x) <= 3.0, name
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
@pytest.mark.parametrize("faces", ["v1", "v2"])
def test_rendering_is_independent_of_thread_count(workers, faces):
    images, labels = render_synthetic_split(1, "train", 3, 30, workers=workers, faces=faces)
    reference = face_renderers.renderer(faces).render_faces(1, labels.tolist(), list(range(30)) * 3)
    np.testing.assert_array_equal(images, reference)


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


def _plain_v2(monkeypatch, **identity):
    """v2 with the camera, accessories and gaze held still and the given identity fields, so that
    a feature's own colour can be found in the image."""
    own_identity, own_variation = synthetic_faces_v2.identity_parameters, synthetic_faces_v2.image_variation
    monkeypatch.setattr(synthetic_faces_v2, "identity_parameters",
                        lambda seed, i: {**own_identity(seed, i), "glasses_owner": 0.0, "beard_kind": 0.0, **identity})
    monkeypatch.setattr(synthetic_faces_v2, "image_variation", lambda seed, i, j: {
        **own_variation(seed, i, j), "gaze_x": 0.0, "gaze_y": 0.0, "eye_open": 1.05, "smile": 0.0, "mouth_open": 0.0,
        "other_glasses": 0.0, "hat": 0.0, "blur": 0.0, "noise": 0.0, "jpeg": 0.0, "grayscale": 0.0,
        "brightness": 1.0, "contrast": 1.0, "tint": np.ones(3)})


def test_v2_known_landmarks_are_where_the_irises_and_the_lips_ends_are_drawn(monkeypatch):
    """The irises drawn pure green and the lips pure blue: the green blobs' centres are the known
    eye points and the blue band's ends the known mouth corners, under each image's rotation,
    scale, shift, yaw and pitch (pixel n's centre at n, the alignment's convention)."""
    _plain_v2(monkeypatch, iris=np.array([0.0, 1.0, 0.0]), lip=np.array([0.0, 0.0, 1.0]), eye_height=3.8, iris_r=2.8,
              eye_shadow=0.0)
    identities, indices = [10_000_000 + i for i in range(10)], [i % 3 for i in range(10)]
    faces = synthetic_faces_v2.render_faces(0, identities, indices).astype(np.float32) / 255.0
    known = synthetic_faces_v2.known_landmarks(0, identities, indices)
    for face, points in zip(faces, known):
        green = np.clip(face[..., 1] - face[..., [0, 2]].max(-1) - 0.25, 0, None)
        for (x, y) in points[:2]:
            window = np.zeros_like(green)
            window[int(y) - 6 : int(y) + 7, int(x) - 9 : int(x) + 10] = 1
            rows, cols = np.nonzero(green * window)
            weights = (green * window)[rows, cols]
            centre = np.array([np.average(cols, weights=weights), np.average(rows, weights=weights)])
            assert np.hypot(*(centre - (x, y))) < 0.6, (centre, (x, y))
        blue = face[..., 2] - face[..., :2].max(-1) > 0.1  # the lips, and their shadowed corners
        (lx, ly), (rx, ry) = points[3], points[4]
        band = np.zeros_like(blue)
        band[int(min(ly, ry)) - 3 : int(max(ly, ry)) + 4, int(lx) - 6 : int(rx) + 7] = True  # not the background
        cols = np.nonzero((blue & band).any(0))[0]
        assert abs(cols.min() - lx) <= 1.0 and abs(cols.max() - rx) <= 1.0, (cols.min(), cols.max(), lx, rx)


def test_v2_identities_keep_their_look_and_span_what_faces_look_like():
    a, b = synthetic_faces_v2.identity_parameters(3, 17), synthetic_faces_v2.identity_parameters(3, 17)
    assert all(np.array_equal(a[key], b[key]) for key in a)
    first, second = synthetic_faces_v2.image_variation(3, 17, 0), synthetic_faces_v2.image_variation(3, 17, 1)
    assert first["light"].tolist() != second["light"].tolist() and first["rotation"] != second["rotation"]
    people = [synthetic_faces_v2.identity_parameters(0, i) for i in range(400)]
    images = [synthetic_faces_v2.image_variation(0, i, 0) for i in range(400)]
    luminance = [float(np.dot(p["skin"], [0.299, 0.587, 0.114])) for p in people]
    assert min(luminance) < 0.3 and max(luminance) > 0.8  # very dark to very light skin
    assert {int(p["hair_style"]) for p in people} == set(range(len(synthetic_faces_v2.HAIR_STYLES)))
    assert {int(p["beard_kind"]) for p in people} == {0, 1, 2, 3}
    glasses = np.mean([(p["glasses_owner"] * v["glasses"] + v["other_glasses"]) > 0 for p, v in zip(people, images)])
    assert 0.2 < glasses < 0.45 and 0.12 < np.mean([v["hat"] for v in images]) < 0.3
    assert 0.03 < np.mean([v["grayscale"] for v in images]) < 0.12


def test_v1_and_v2_caches_are_apart_and_an_unknown_renderer_is_named(tmp_path):
    one = synthetic_face_source("eval", 2, 1, seed=0, cache_dir=tmp_path, faces="v1")
    two = synthetic_face_source("eval", 2, 1, seed=0, cache_dir=tmp_path, faces="v2")
    assert len(list(tmp_path.iterdir())) == 2 and not np.array_equal(one.images, two.images)
    np.testing.assert_array_equal(one.images, synthetic_faces.render_faces(0, [10_000_000, 10_000_001], [0, 0]))
    with pytest.raises(ValueError, match="Unknown face renderer 'v3'; choose from v1, v2"):
        synthetic_face_source("eval", 2, 1, cache_dir=tmp_path, faces="v3")


def test_v2_hats_cover_the_head_above_the_brows_and_leave_the_face_below_alone(monkeypatch):
    """Each hat kind drawn on the same images, camera held still: pixels change only above the
    eyes (the hat, its badge, and the shade of a brim or visor on the forehead), a uniform's peaked
    cap is wider than the face at the top of the image, and the drawn hats reach down to where
    the variation says their lower edge is."""
    _plain_v2(monkeypatch, eye_shadow=0.0)
    identities, indices = [10_000_000 + i for i in range(6)], [1] * 6
    bare = synthetic_faces_v2.render_faces(0, identities, indices).astype(np.int16)
    eyes_y = synthetic_faces_v2.known_landmarks(0, identities, indices)[:, :2, 1].min(axis=1)
    line = 30.0
    for kind, name in enumerate(synthetic_faces_v2.HAT_KINDS):
        hatted = synthetic_faces_v2.render_faces(0, identities, indices, [{"hat": 1.0, "hat_kind": float(kind),
                                                                           "hat_line": line}] * 6).astype(np.int16)
        changed = np.abs(hatted - bare).max(axis=-1) > 8
        for face, eye_y in zip(changed, eyes_y):
            rows = np.nonzero(face.any(axis=1))[0]
            assert rows.max() < eye_y - 2, (name, rows.max(), eye_y)  # the eyes and all below untouched
            assert rows.max() > line - 6, (name, rows.max())  # down to about the hat's edge (rotation <= 4 deg)
            top = np.nonzero(face[8])[0]
            if name == "peaked":  # a crown wider than the face outline (the head is ~ 70 px wide)
                assert top.max() - top.min() > 76, (name, top.min(), top.max())
    # Gold leaves across a peaked cap's crown (revision 4): drawn above the band (rows line - 6 to line - 1), gold.
    peaked = {"hat": 1.0, "hat_kind": 2.0, "hat_line": line, "badge": 0.0, "visor_leaves": 0.0}
    plain_cap = synthetic_faces_v2.render_faces(0, identities, indices, [{**peaked, "crown_leaves": 0.0}] * 6)
    leaves = synthetic_faces_v2.render_faces(0, identities, indices, [{**peaked, "crown_leaves": 1.0,
                                                                       "crown_leaves_width": 20.0}] * 6)
    change = np.abs(leaves.astype(np.int16) - plain_cap).max(axis=-1)
    for face, drawn in zip(change, leaves.astype(np.float32) / 255.0):
        rows, cols = np.nonzero(face > 8)
        assert rows.size > 30 and rows.max() < line - 4 and rows.min() > line - 22, (rows.min(), rows.max())
        assert np.abs(cols - 56).max() < 24, cols  # within the leaves' half-width (20 px) and the roll
        fully = drawn.reshape(-1, 3)[np.argsort(face.ravel())[-10:]]  # the most changed: the leaves' own colour
        assert (fully[:, 0] > fully[:, 2] + 0.3).all(), fully  # gold: red well above blue


def test_v2_side_props_and_light_backdrops_stay_behind_the_head(monkeypatch):
    """Revision 4: a pole, a flag's edge or a door frame changes only the background's columns near
    the side it is drawn at, never the face; a light studio backdrop is light and nearly grey."""
    _plain_v2(monkeypatch)
    identities, indices = [10_000_000 + i for i in range(9)], [2] * 9
    props = [{"side_prop": 1.0, "side_prop_kind": float(k % 3), "side_prop_side": 1.0 if k % 2 else -1.0,
              "side_prop_x": 4.0, "side_prop_width": 6.0, "side_prop_colour": np.array([0.9, 0.1, 0.1]),
              "background_kind": 2.0, "light_backdrop": 0.0} for k in range(9)]
    on = synthetic_faces_v2.render_faces(0, identities, indices, props).astype(np.int16)
    reference = synthetic_faces_v2.render_faces(0, identities, indices, [{**d, "side_prop": 0.0} for d in props])
    for k, (with_prop, without) in enumerate(zip(on, reference.astype(np.int16))):
        cols = np.nonzero((np.abs(with_prop - without).max(axis=-1) > 8).any(axis=0))[0]
        assert cols.size > 0, k  # the prop shows somewhere beside the head
        reach = 4 + 6 + 3 + 2  # the frame's second moulding ends 15 px from the edge
        assert (cols > 111 - reach).all() if k % 2 else (cols < reach).all(), (k, cols)
    light = synthetic_faces_v2.render_faces(0, identities, indices, [
        {"side_prop": 0.0, "background_kind": 2.0, "light_backdrop": 1.0, "backdrop_tone": 0.9}] * 9) / 255.0
    corners = np.concatenate([light[:, :10, :10], light[:, :10, -10:]], axis=1).reshape(9, -1, 3)
    brightest = np.argsort(corners.mean(-1), axis=1)[:, -40:]  # hair may reach a corner: these are backdrop
    backdrop = np.take_along_axis(corners, brightest[..., None], axis=1).mean(axis=1)
    assert (backdrop.mean(axis=1) > 0.6).all(), backdrop
    assert (backdrop.max(axis=1) - backdrop.min(axis=1) < 0.1).all(), backdrop  # nearly grey


def test_v2_draws_hats_of_every_kind_and_clothing_of_every_kind():
    images = [synthetic_faces_v2.image_variation(0, i, j) for i in range(200) for j in range(2)]
    worn = [v for v in images if v["hat"]]
    assert 0.15 < len(worn) / len(images) < 0.3
    assert {int(v["hat_kind"]) for v in worn} == set(range(len(synthetic_faces_v2.HAT_KINDS)))
    assert all(v["hat_line"] < 35.0 for v in worn)  # above the brows (~40)
    assert {int(v["clothing_kind"]) for v in images} == {0, 1, 2}
    # Revision 4: side props of every kind on about 30 %, plain backdrops on about 28 %, half light.
    assert 0.22 < np.mean([v["side_prop"] for v in images]) < 0.38
    assert {int(v["side_prop_kind"]) for v in images if v["side_prop"]} == set(range(len(synthetic_faces_v2.SIDE_PROPS)))
    studio = [v for v in images if v["background_kind"] == 2]
    assert 0.2 < len(studio) / len(images) < 0.36 and 0.35 < np.mean([v["light_backdrop"] for v in studio]) < 0.65
    peaked = [v for v in images if v["hat_kind"] == 2]  # drawn for every image, worn by those with a hat
    assert 0.45 < np.mean([v["crown_leaves"] for v in peaked]) < 0.75
    assert not any(v["crown_leaves"] for v in images if v["hat_kind"] != 2)
