"""The real-photo measurement (evaluation.real_photos) with runners whose answers are known:
one that leaves the face as it is, one that knows the clean face; and the packaged model's
targets (issue 31) from summaries."""

import numpy as np
import pytest

from c2fdan_tf.data.benchmark_occlusions import occlude_benchmark, wild_conditions
from c2fdan_tf.evaluation.real_photos import PHOTOS, aligned_real_faces, clean_faces_check, measure
from c2fdan_tf.packaged_comparison import packaged_targets
from tests.real_photos import aligned_face


def psnr_db(a, b):  # the textbook definition, images in [0, 1], per image then averaged
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(1.0 / mse)))


def untouched(images):
    return {"completed": images, "coarse": images, "mask": np.zeros(images.shape[:3] + (1,), np.float32)}


def test_the_real_faces_are_the_photos_faces_aligned_by_mtcnn():
    faces = aligned_real_faces()
    assert faces.shape == (len(PHOTOS), 112, 112, 3) and faces.dtype == np.uint8
    for face, name in zip(faces, PHOTOS):  # the tests' own alignment of the same photos
        np.testing.assert_array_equal(face, aligned_face(name)[0])


def test_a_runner_that_changes_nothing_leaves_all_of_the_occluder_and_finds_no_mask():
    faces = aligned_real_faces()
    conditions = wild_conditions(("subtitle",))[:4]
    rows = measure(untouched, faces, conditions, seeds=1)
    expected = [occlude_benchmark(faces, 0, c)["occluded"] for c in conditions]
    truth = faces.astype(np.float32) / 255.0
    assert rows["images"] == 2 * len(conditions)
    assert rows["psnr"] == pytest.approx(rows["psnr_occluded"], abs=1e-4)
    assert rows["psnr_occluded"] == pytest.approx(psnr_db(np.concatenate(expected), np.tile(truth, (4, 1, 1, 1))),
                                                  abs=0.01)
    assert rows["left"] == pytest.approx(1.0) and rows["mask_iou"] == pytest.approx(0.0, abs=1e-6)
    assert rows["psnr_telea"] == pytest.approx(rows["psnr_occluded"], abs=1e-4)  # Telea given an empty mask
    check = clean_faces_check(untouched, faces)
    assert check["mask_share"] == [0.0, 0.0] and check["psnr_vs_input"] > 90


def test_a_runner_that_knows_the_clean_face_removes_everything():
    faces = aligned_real_faces()
    clean = faces.astype(np.float32) / 255.0

    def oracle(images):  # each face's clean version, and the pixels the occluder changed
        truth = np.tile(clean, (len(images) // len(clean), 1, 1, 1))
        changed = np.any(np.abs(images - truth) > 1e-6, axis=-1, keepdims=True).astype(np.float32)
        return {"completed": truth, "coarse": truth, "mask": changed}

    rows = measure(oracle, faces, wild_conditions(("watermark",))[:3], seeds=2)
    assert rows["left"] == pytest.approx(0.0, abs=1e-6)
    assert rows["mask_iou"] > 0.9  # the true mask: every pixel changed, plus faint alpha below the threshold
    assert rows["psnr"] > 90 and rows["psnr_telea"] > rows["psnr_occluded"]


def test_the_packaged_models_targets_are_computed_from_its_summaries():
    def entry(psnr, iou=0.92, tpir=0.5, text_left=0.1):
        return {"psnr": {"average": psnr}, "mask_iou": {"average": iou}, "tpir_rank1": {"average": tpir},
                "occluder_residual": {"text": text_left, "rectangle": 0.0}}

    paper = {"c2fdan": entry(32.0), "c2fdan_coarse": entry(30.5), "telea_predicted_mask": entry(31.6, tpir=0.49)}
    wild = {"summary": {"c2fdan": {"mask_iou": {"subtitle": 0.9, "watermark": 0.6, "average": 0.75}}},
            "clean": {"mask_share": 0.0002}}
    targets = packaged_targets(paper, wild, 36.8)
    named = lambda t: targets[f"packaged model: {t}"]  # noqa: E731
    assert named("psnr >= Telea (predicted mask) + 0.5 dB") == {"value": pytest.approx(0.4), "met": False}
    assert named("TPIR@1 >= Telea (predicted mask)") == {"value": pytest.approx(0.01), "met": True}
    assert named("fine psnr >= coarse psnr + 1 dB") == {"value": 1.5, "met": True}
    assert named("text left <= 0.15")["met"] and named("mask_iou >= 0.9") == {"value": 0.92, "met": True}
    assert named("wild subtitle: mask_iou >= 0.85")["met"] and not named("wild watermark: mask_iou >= 0.85")["met"]
    assert "packaged model: wild average: mask_iou >= 0.85" not in targets  # families only
    assert named("clean faces: mask on < 0.1 % of pixels")["met"]
    assert named("int8 vs Keras on a real photo >= 40 dB") == {"value": pytest.approx(36.8), "met": False}


def test_without_a_packaged_model_the_comparison_says_so_in_one_line_and_writes_nothing(tmp_path):
    from c2fdan_tf.packaged_comparison import compare_packaged

    lines = []
    never = lambda: pytest.fail("nothing is measured without a package")  # noqa: E731
    result = compare_packaged(never, never, never, 0, 2, never, {}, {}, tmp_path / "packaged", {},
                              log=lines.append, folder=tmp_path / "no_package")
    assert result is None and not (tmp_path / "packaged").exists()
    assert len(lines) == 1 and lines[0].startswith("the packaged model is not compared:") and "\n" not in lines[0]
    assert "no_package" in lines[0]  # names where it looked
