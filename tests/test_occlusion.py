"""Occlusion synthesis: sizes, shapes, Eq. 1, positions, determinism, flips."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from c2fdan_tf.data import counter_random
from c2fdan_tf.data.occluders.paper import (
    ASPECT_RANGE,
    EYES,
    FORMS,
    INNER_FACE_SCALE,
    MOUTH,
    NOSE,
    OUTSIDE,
    POSITIONS,
    RECTANGLE,
    TEXT,
    OcclusionSynthesizer,
)
from c2fdan_tf.data.benchmark_occlusions import Condition, benchmark_conditions, occlude_benchmark
from c2fdan_tf.face_template import FACE_ELLIPSE, REGION_BOXES, REGION_SIZE


@pytest.fixture(scope="module")
def synthesizer():
    return OcclusionSynthesizer()


def ids(n, start=0):
    return tf.range(start, start + n, dtype=tf.int64)


def numpy_fmix32(h):
    h = np.uint32(h)
    h ^= h >> np.uint32(16)
    h = np.uint32((int(h) * 0x85EBCA6B) & 0xFFFFFFFF)
    h ^= h >> np.uint32(13)
    h = np.uint32((int(h) * 0xC2B2AE35) & 0xFFFFFFFF)
    return h ^ (h >> np.uint32(16))


def test_counter_random_matches_a_numpy_reference_and_is_uniform():
    seed, stream, values = 1234, 7, [0, 1, 2**33 + 5, 987654321]
    key = numpy_fmix32((seed + ((stream + 1) * 0x9E3779B9)) & 0xFFFFFFFF)
    expected = []
    for v in values:
        h = numpy_fmix32(key ^ np.uint32(v & 0xFFFFFFFF))
        expected.append(numpy_fmix32(h ^ np.uint32(((v >> 32) * 0x27D4EB2F) & 0xFFFFFFFF)))
    got = counter_random.hash_uint32(seed, stream, tf.constant(values, tf.int64)).numpy()
    np.testing.assert_array_equal(got, np.array(expected, np.uint32))
    u = counter_random.uniform(seed, stream, ids(100_000)).numpy()
    assert 0.0 <= u.min() and u.max() < 1.0
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - 10_000) < 500), counts
    other = counter_random.uniform(seed, stream + 1, ids(100_000)).numpy()
    assert abs(np.corrcoef(u, other)[0, 1]) < 0.02  # streams are independent
    # Many streams in one vectorised hash: the numpy reference's value for each (stream, id).
    values2d = tf.constant([[3, 2**40 + 1], [77, 5]], tf.int64)
    many = counter_random.uniform_streams(seed, [7, 30, 31, 1000], values2d, -2.0, 6.0).numpy()
    assert many.shape == (2, 2, 4)
    for k, s in enumerate([7, 30, 31, 1000]):
        key = numpy_fmix32((seed + ((s + 1) * 0x9E3779B9)) & 0xFFFFFFFF)
        for (i, j), v in np.ndenumerate(values2d.numpy()):
            h = numpy_fmix32(key ^ np.uint32(int(v) & 0xFFFFFFFF))
            h = numpy_fmix32(h ^ np.uint32(((int(v) >> 32) * 0x27D4EB2F) & 0xFFFFFFFF))
            assert many[i, j, k] == np.float32(-2.0 + 8.0 * np.float32((int(h) >> 8) * 2.0**-24))


def test_rectangle_area_and_aspect(synthesizer):
    params = synthesizer.training_parameters(3, ids(4000))
    masks = synthesizer.render_masks(params).numpy()[..., 0]
    rect = params["form"].numpy() == RECTANGLE
    h, w = params["rect_height"].numpy(), params["rect_width"].numpy()
    area_ratio = params["size"].numpy()
    assert rect.sum() > 1500
    target = area_ratio * 112**2
    assert np.all(np.abs(h * w - target)[rect] <= 0.10 * target[rect])
    assert np.all((w / h)[rect] >= ASPECT_RANGE[0]) and np.all((w / h)[rect] <= ASPECT_RANGE[1])
    assert area_ratio[rect].min() >= 0.01 and area_ratio[rect].max() <= 0.15
    # Unclipped rectangles cover exactly h x w pixels, as one solid box.
    cy, cx = params["center_y"].numpy(), params["center_x"].numpy()
    top, left = np.round(cy - h / 2), np.round(cx - w / 2)
    inside = rect & (top >= 0) & (left >= 0) & (top + h <= 112) & (left + w <= 112)
    assert inside.sum() > 300
    for i in np.flatnonzero(inside)[:200]:
        rows, cols = np.flatnonzero(masks[i].any(1)), np.flatnonzero(masks[i].any(0))
        assert masks[i].sum() == h[i] * w[i]
        assert len(rows) == h[i] and len(cols) == w[i]


@pytest.mark.parametrize("height_ratio", [0.1, 0.3, 0.5])
def test_text_height_matches_the_ratio(height_ratio):
    # Short words, so that every word fits the image and its height is visible.
    synthesizer = OcclusionSynthesizer(words=["fit", "big", "jolt", "hop", "quay", "ill", "ox"])
    params = synthesizer.benchmark_parameters(1, ids(300), TEXT, height_ratio, NOSE)
    masks = synthesizer.render_masks(params).numpy()[..., 0]
    for mask in masks:
        rows = np.flatnonzero(mask.any(1))
        measured = rows[-1] - rows[0] + 1
        assert abs(measured - height_ratio * 112) <= 0.15 * height_ratio * 112
    words = set(params["word"].numpy().tolist())
    assert words <= set(range(7)) and len(words) == 7  # the replaced word list is used


def test_training_text_heights_within_tolerance(synthesizer):
    params = synthesizer.training_parameters(9, ids(3000))
    masks = synthesizer.render_masks(params).numpy()[..., 0]
    text = params["form"].numpy() == TEXT
    h = params["size"].numpy()
    assert h[text].min() >= 0.05 and h[text].max() <= 0.5
    cy = params["center_y"].numpy()
    checked = 0
    for i in np.flatnonzero(text):
        if cy[i] - h[i] * 56 < 0 or cy[i] + h[i] * 56 > 112:
            continue  # cut by the top or bottom edge
        rows = np.flatnonzero(masks[i].any(1))
        if len(rows) == 0:
            continue  # entirely beside the image
        measured, target = rows[-1] - rows[0] + 1, h[i] * 112
        # +-15 %, or a pixel and a half for the smallest words; words cut by a side
        # edge may show only their lower-case part, so only over-tall is checked there.
        assert measured <= max(1.15 * target, target + 1.5)
        checked += 1
    assert checked > 800


def test_equation_1_holds_exactly(synthesizer):
    faces = tf.random.stateless_uniform((64, 112, 112, 3), seed=(1, 2))
    params = synthesizer.training_parameters(11, ids(64))
    params["flip"] = tf.zeros_like(params["flip"])
    example = synthesizer.occlude(faces, params)
    mask = example["mask"].numpy()
    occluded, faces = example["occluded"].numpy(), faces.numpy()
    assert set(np.unique(mask)) <= {0.0, 1.0}
    outside = mask[..., 0] == 0
    np.testing.assert_array_equal(occluded[outside], faces[outside])
    color = params["color"].numpy()
    for i in range(64):
        inside = mask[i, ..., 0] == 1
        assert inside.any()
        np.testing.assert_array_equal(occluded[i][inside], np.broadcast_to(color[i], occluded[i][inside].shape))
    assert color.min() >= 0.0 and color.max() < 1.0


def in_box(y, x, region):
    y0, x0 = REGION_BOXES[region]
    return y0 <= y < y0 + REGION_SIZE and x0 <= x < x0 + REGION_SIZE


def ellipse_r2(y, x, scale=1.0):
    cy, cx, ry, rx = FACE_ELLIPSE
    return ((y - cy) / (ry * scale)) ** 2 + ((x - cx) / (rx * scale)) ** 2


@pytest.mark.parametrize("form", FORMS)
def test_benchmark_positions_land_on_their_regions(synthesizer, form):
    n = 200
    grid_y, grid_x = np.mgrid[0:112, 0:112] + 0.5
    inner = ellipse_r2(grid_y, grid_x, INNER_FACE_SCALE) <= 1.0
    for size in (0.05, 0.15) if form == "rectangle" else (0.1, 0.5):
        for position in range(4):
            params = synthesizer.benchmark_parameters(4, ids(n), FORMS.index(form), size, position)
            masks = synthesizer.render_masks(params).numpy()[..., 0]
            cy, cx = params["center_y"].numpy(), params["center_x"].numpy()
            eyes = 0
            for i in range(n):
                if form == "rectangle":
                    ys, xs = np.nonzero(masks[i])
                    y, x = ys.mean() + 0.5, xs.mean() + 0.5
                else:
                    y, x = cy[i], cx[i]
                if position == MOUTH:
                    assert in_box(y, x, "mouth")
                elif position == NOSE:
                    assert in_box(y, x, "nose")
                elif position == EYES:
                    left, right = in_box(y, x, "left_eye"), in_box(y, x, "right_eye")
                    assert left != right
                    eyes += right
                else:
                    assert ellipse_r2(cy[i], cx[i]) > 1.0  # the centre is off the face
                    if form == "rectangle":
                        assert not (masks[i].astype(bool) & inner).any()
            if position == EYES:
                assert 0.35 * n < eyes < 0.65 * n  # which eye is seeded, both occur


def test_benchmark_set_is_deterministic_across_runs_and_processes(synthesizer):
    conditions = benchmark_conditions()
    assert len(conditions) == 24 and len(set(conditions)) == 24
    code = (
        "import hashlib, numpy as np, tensorflow as tf\n"
        "from c2fdan_tf.data.benchmark_occlusions import benchmark_conditions, occlude_benchmark\n"
        "tf.config.threading.set_intra_op_parallelism_threads(1)\n"
        "digest = hashlib.sha256(); faces = np.zeros((50, 112, 112, 3), np.uint8)\n"
        "for condition in benchmark_conditions():\n"
        "    example = occlude_benchmark(faces, 77, condition)\n"
        "    digest.update(example['mask'].tobytes())\n"
        "    digest.update(example['occluded'][:, 0, 0].tobytes())\n"
        "print(digest.hexdigest())\n"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        for _ in range(2)
    }
    import hashlib

    # The contract, written out: image i under condition c is keyed by i * 1000 + c.
    digest = hashlib.sha256()
    for c, (f, z, p) in enumerate(conditions):
        i = tf.range(50, dtype=tf.int64) * 1000 + c
        prm = synthesizer.benchmark_parameters(77, i, FORMS.index(f), z, POSITIONS.index(p))
        digest.update(synthesizer.render_masks(prm).numpy().tobytes())
        # On black faces the occluded corner pixel is the colour where the mask covers it, else 0.
        corner = synthesizer.render_masks(prm).numpy()[:, 0, 0] * prm["color"].numpy()
        digest.update(corner.astype(np.float32).tobytes())
    assert digests == {digest.hexdigest()}
    # And a different seed gives a different set.
    other = synthesizer.benchmark_parameters(78, ids(50), RECTANGLE, 0.1, OUTSIDE)
    same = synthesizer.benchmark_parameters(77, ids(50), RECTANGLE, 0.1, OUTSIDE)
    assert not np.array_equal(other["color"].numpy(), same["color"].numpy())


def test_occlusion_depends_only_on_its_id_not_the_batch(synthesizer):
    a = synthesizer.training_parameters(5, tf.constant([3, 10, 42], tf.int64))
    b = synthesizer.training_parameters(5, tf.constant([42], tf.int64))
    mask_a = synthesizer.render_masks(a).numpy()[2]
    mask_b = synthesizer.render_masks(b).numpy()[0]
    np.testing.assert_array_equal(mask_a, mask_b)


def test_flip_flips_the_face_and_keeps_image_mask_and_truth_consistent(synthesizer):
    faces = tf.random.stateless_uniform((16, 112, 112, 3), seed=(3, 4))
    params = synthesizer.training_parameters(2, ids(16))
    plain = synthesizer.occlude(faces, {**params, "flip": tf.zeros(16, tf.bool)})
    flipped = synthesizer.occlude(faces, {**params, "flip": tf.ones(16, tf.bool)})
    np.testing.assert_array_equal(flipped["ground_truth"].numpy(), faces.numpy()[:, :, ::-1])
    # The occlusion itself is not mirrored: text stays readable.
    np.testing.assert_array_equal(flipped["mask"].numpy(), plain["mask"].numpy())
    m = flipped["mask"].numpy()
    expected = (1 - m) * flipped["ground_truth"].numpy() + m * params["color"].numpy()[:, None, None]
    np.testing.assert_array_equal(flipped["occluded"].numpy(), expected)
    rate = synthesizer.training_parameters(2, ids(4000))["flip"].numpy().mean()
    assert 0.45 < rate < 0.55
    # A batch flipped in part (uint8, as the pipelines feed it): exactly those faces mirrored, in place.
    faces_u8 = tf.cast(faces * 255.0, tf.uint8)
    some = np.array([True, False, False, True, True, False, True, False, False, False, True, True, False, True, False, True])
    mixed = synthesizer.occlude(faces_u8, {**params, "flip": tf.constant(some)})["ground_truth"].numpy()
    expected = faces_u8.numpy().astype(np.float32) / np.float32(255.0)
    expected[some] = expected[some][:, :, ::-1]
    np.testing.assert_array_equal(mixed, expected)


def test_training_forms_positions_and_colours_cover_their_ranges(synthesizer):
    params = synthesizer.training_parameters(8, ids(4000))
    form = params["form"].numpy()
    assert 0.45 < form.mean() < 0.55
    cy, cx = params["center_y"].numpy(), params["center_x"].numpy()
    assert cy.min() < 5 and cy.max() > 107 and cx.min() < 5 and cx.max() > 107
    color = params["color"].numpy()
    assert np.all(np.abs(color.mean(0) - 0.5) < 0.03)
    assert set(POSITIONS) == {"mouth", "nose", "eyes", "outside"}


def test_word_list_file_replaces_the_default(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("alpha\n\nbeta\n")
    synthesizer = OcclusionSynthesizer(word_list_path=path)
    assert synthesizer.bank.words == ("alpha", "beta")
    with pytest.raises(ValueError, match="no words"):
        (tmp_path / "empty.txt").write_text("\n")
        OcclusionSynthesizer(word_list_path=tmp_path / "empty.txt")
    with pytest.raises(ValueError, match="Cannot read word list"):
        OcclusionSynthesizer(word_list_path=tmp_path / "missing.txt")
    assert OcclusionSynthesizer().num_words == 2048


def test_a_condition_is_occluded_alike_whichever_conditions_run_with_it(synthesizer):
    faces = np.random.default_rng(0).integers(0, 255, (5, 112, 112, 3), dtype=np.uint8)
    text_eyes = Condition.parse("text/eyes/0.3")
    assert text_eyes == Condition("text", 0.3, "eyes") and text_eyes.name == "text/eyes/0.3"
    alone = occlude_benchmark(faces, 3, text_eyes)
    # Per-image conditions, as the export's parity batch uses them, with the same image ids.
    mixed = occlude_benchmark(faces, 3, [text_eyes, Condition("rectangle", 0.05, "mouth")] * 2 + [text_eyes])
    for k in (0, 2, 4):
        np.testing.assert_array_equal(alone["mask"][k], mixed["mask"][k])
        np.testing.assert_array_equal(alone["occluded"][k], mixed["occluded"][k])
    assert not np.array_equal(alone["mask"][1], mixed["mask"][1])
    # The rendered mask is the text mask of the documented key (image id * 1000 + condition index).
    params = synthesizer.benchmark_parameters(3, tf.constant([2 * 1000 + text_eyes.index], tf.int64), TEXT, 0.3, EYES)
    np.testing.assert_array_equal(alone["mask"][2], synthesizer.render_masks(params).numpy()[0])
    with pytest.raises(ValueError, match="not a condition name"):
        Condition.parse("text-eyes")

