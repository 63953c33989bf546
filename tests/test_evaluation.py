"""Evaluation: metrics against references, the recognition protocols, readers, eval.py."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from c2fdan_tf import image_metrics
from c2fdan_tf.evaluation import identification, recognition
from c2fdan_tf.evaluation.benchmark_data import lfw_pairs, megaface_occluded_benchmark
from tests.commands import assert_one_line_error, run_script

RNG = np.random.default_rng(11)


def numpy_psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2, axis=(1, 2, 3)))


def numpy_ssim(a, b, size=11, sigma=1.5, k1=0.01, k2=0.03):
    """SSIM as tf.image.ssim defines it: Gaussian window, valid filtering, per channel."""
    g = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * sigma**2))
    g /= g.sum()

    def filt(x):  # separable valid convolution over H and W
        x = np.apply_along_axis(lambda r: np.convolve(r, g, mode="valid"), 1, x)
        return np.apply_along_axis(lambda r: np.convolve(r, g, mode="valid"), 2, x)

    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b = filt(a * a) - mu_a**2, filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    c1, c2 = k1**2, k2**2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.mean(axis=(1, 2, 3))


def test_psnr_and_ssim_match_tensorflow_and_numpy():
    a = RNG.uniform(size=(3, 112, 112, 3)).astype(np.float32)
    b = np.clip(a + RNG.normal(0, 0.05, size=a.shape), 0, 1).astype(np.float32)
    psnr, ssim = image_metrics.psnr(a, b).numpy(), image_metrics.ssim(a, b).numpy()
    np.testing.assert_allclose(psnr, tf.image.psnr(a, b, 1.0).numpy(), rtol=1e-6)
    # The separable window sums in another order than tf.image.ssim's 11 x 11 one: float32 round-off.
    np.testing.assert_allclose(ssim, tf.image.ssim(a, b, 1.0, filter_size=11, filter_sigma=1.5).numpy(), atol=1e-5)
    np.testing.assert_allclose(psnr, numpy_psnr(a, b), rtol=1e-4)
    np.testing.assert_allclose(ssim, numpy_ssim(a, b), atol=2e-4)
    assert np.all(image_metrics.ssim(a, a).numpy() > 0.9999)
    grey = np.repeat(a[..., :1], 3, axis=-1)  # one channel's SSIM equals the three channels' mean
    np.testing.assert_allclose(image_metrics.ssim(grey, b[..., :1].repeat(3, -1)).numpy(),
                               numpy_ssim(a[..., :1], b[..., :1]), atol=2e-4)


def test_mask_iou_and_f1_against_counts():
    predicted = RNG.uniform(size=(4, 16, 16, 1)).astype(np.float32)
    truth = (RNG.uniform(size=(4, 16, 16, 1)) > 0.6).astype(np.float32)
    p, t = predicted > 0.5, truth > 0.5
    tp = (p & t).sum((1, 2, 3))
    fp, fn = (p & ~t).sum((1, 2, 3)), (~p & t).sum((1, 2, 3))
    np.testing.assert_allclose(image_metrics.mask_iou(predicted, truth).numpy(), tp / (tp + fp + fn), rtol=1e-6)
    np.testing.assert_allclose(image_metrics.mask_f1(predicted, truth).numpy(), 2 * tp / (2 * tp + fp + fn), rtol=1e-6)
    empty = np.zeros((1, 4, 4, 1), np.float32)
    assert image_metrics.mask_iou(empty, empty).numpy()[0] == 1.0


def test_occluder_residual_measures_the_contrast_left_inside_the_true_mask():
    truth = RNG.uniform(size=(3, 8, 8, 3)).astype(np.float32)
    mask = np.zeros((3, 8, 8, 1), np.float32)
    mask[:, 2:5, 1:7] = 1.0
    occluded = np.where(mask > 0, 1.0 - truth, truth).astype(np.float32)  # a contrasting occluder
    residual = lambda out: image_metrics.occluder_residual(out, occluded, truth, mask)  # noqa: E731
    assert residual(occluded) == pytest.approx(1.0)  # untouched
    assert residual(truth) == pytest.approx(0.0)  # perfect
    assert residual((occluded + truth) / 2) == pytest.approx(0.5, abs=1e-6)  # half the contrast removed
    # Outside the mask nothing counts; the sums pool the whole set (not a mean of per-face ratios).
    assert residual(np.where(mask > 0, truth, 0.0)) == pytest.approx(0.0)
    half = occluded.copy()
    half[0] = truth[0]  # one face of three perfect, two untouched
    numerator = np.abs(occluded[1:] - truth[1:]).mean(-1, keepdims=True)[mask[1:] > 0].sum()
    denominator = np.abs(occluded - truth).mean(-1, keepdims=True)[mask > 0].sum()
    assert residual(half) == pytest.approx(numerator / denominator, rel=1e-5)
    assert np.isnan(image_metrics.occluder_residual(truth, truth, truth, np.zeros_like(mask)))


def test_masked_psnr_counts_only_the_true_mask():
    truth = RNG.uniform(size=(2, 8, 8, 3)).astype(np.float32)
    mask = np.zeros((2, 8, 8, 1), np.float32)
    mask[0, :4] = 1.0  # face 0: the top half; face 1: nothing
    prediction = truth.copy()
    prediction[0, :4] += 0.1  # an error of 0.1 everywhere inside the mask ...
    prediction[0, 4:] += 0.5  # ... and a larger one outside it, which must not count
    value = image_metrics.masked_psnr(prediction, truth, mask).numpy()
    assert value[0] == pytest.approx(20.0, abs=1e-3)  # 10 log10(1 / 0.01)
    assert np.isnan(value[1])


def unit(n, dim=8, rng=RNG):
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force_tpir(gallery_versions, clean, labels, distractors, max_rank):
    """The released benchmark's protocol, literally: for a pair (a, b) of one identity, a (as
    given: occluded or completed) sits in the gallery among the distractors and the clean b is
    the probe; success at rank k when fewer than k distractors score at least as high against
    b as a does."""
    hits = np.zeros(max_rank)
    pairs = 0
    for a in range(len(labels)):
        for b in range(len(labels)):
            if a == b or labels[a] != labels[b]:
                continue
            s = float(gallery_versions[a] @ clean[b])
            higher = int(np.sum(distractors @ clean[b] >= s))  # ties count against
            hits += np.array([higher < k for k in range(1, max_rank + 1)])
            pairs += 1
    return hits / pairs


def test_tpir_equals_a_brute_force_count():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    clean = unit(9)
    occluded = unit(9) * 0.3 + clean * 0.7
    occluded /= np.linalg.norm(occluded, axis=1, keepdims=True)
    distractors = unit(60)
    chunks = [distractors[i : i + 7] for i in range(0, 60, 7)]
    curves = identification.identification_curves(occluded, clean, labels, iter(chunks), [10, 60], max_rank=5)
    np.testing.assert_allclose(curves[60], brute_force_tpir(occluded, clean, labels, distractors, 5))
    np.testing.assert_allclose(curves[10], brute_force_tpir(occluded, clean, labels, distractors[:10], 5))
    assert np.all(np.diff(curves[60]) >= 0) and np.all(curves[60] <= curves[10])


def test_released_protocol_ranks_distractors_against_the_clean_probe():
    """A case where ranking against the occluded image (the first release's protocol) and
    against the clean probe (the released benchmark's) disagree."""
    clean = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)  # two images of one identity
    occluded = np.array([[0.6, 0.8], [0.6, 0.8]], np.float32)  # occlusion turned them
    distractors = np.array([[0.0, 1.0]], np.float32)  # close to the occluded, far from the clean
    curves = identification.identification_curves(occluded, clean, np.array([0, 0]), iter([distractors]), [1],
                                                  max_rank=1)
    # Released: the distractor scores 0 against the clean probe, the pair 0.6: found.
    np.testing.assert_allclose(curves[1], [1.0])
    np.testing.assert_allclose(curves[1], brute_force_tpir(occluded, clean, np.array([0, 0]), distractors, 1))
    # Ranked against the occluded image, the distractor (0.8) would beat the pair (0.6).
    assert float(distractors[0] @ occluded[0]) > float(occluded[0] @ clean[1])


@pytest.mark.parametrize("chunk", [1, 5, 64, 1000])
def test_streaming_top_k_equals_the_full_sort(chunk):
    probes, distractors = unit(13, 16), unit(300, 16)
    counts = [10, 100, 300]
    got = identification.stream_top_k(probes, (distractors[i : i + chunk] for i in range(0, 300, chunk)), counts, 10)
    for d in counts:
        expected = -np.sort(-(probes @ distractors[:d].T), axis=1)[:, :10]
        np.testing.assert_allclose(got[d], expected, atol=1e-6)


def test_ties_count_against_the_method():
    # One distractor scores exactly as high against the clean probe as the gallery image: not
    # identified at rank 1.
    clean = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    distractors = [np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)]
    curves = identification.identification_curves(clean, clean, np.array([0, 0]), iter(distractors), [2], max_rank=2)
    np.testing.assert_allclose(curves[2], [0.0, 1.0])


def test_landmark_nme_by_hand():
    from c2fdan_tf.evaluation.landmarks import inter_ocular_distance, normalised_mean_error

    truth = np.zeros((1, 68, 2))
    truth[0, 36:42] = (30.0, 50.0)  # left eye centre
    truth[0, 42:48] = (70.0, 50.0)  # right eye centre: inter-ocular distance 40
    assert inter_ocular_distance(truth)[0] == 40.0
    shifted = truth + (3.0, 4.0)  # every point 5 px off
    np.testing.assert_allclose(normalised_mean_error(shifted, truth), [5.0 / 40.0])
    one_point = truth.copy()
    one_point[0, 30] += (0.0, 68.0)  # one of 68 points 68 px off: mean 1 px
    np.testing.assert_allclose(normalised_mean_error(one_point, truth), [1.0 / 40.0])


def test_ten_fold_verification_on_a_case_with_a_known_threshold():
    # Same pairs score in [0.6, 1.0], different ones in [-0.2, 0.5]: every fold's
    # threshold lies between 0.5 and 0.6 and all folds are perfect.
    same = np.tile([True, False], 300)
    scores = np.where(same, RNG.uniform(0.6, 1.0, 600), RNG.uniform(-0.2, 0.5, 600))
    accuracy, folds, thresholds = recognition.ten_fold_verification(scores, same)
    assert accuracy == 1.0 and len(folds) == 10
    assert all(0.5 <= t <= 0.6 for t in thresholds)
    # Flip 6 pairs of the first fold to the wrong side: only that fold drops, by 6/60.
    scores[:6] = np.where(same[:6], 0.0, 0.9)
    accuracy, folds, _ = recognition.ten_fold_verification(scores, same)
    np.testing.assert_allclose(folds[0], 54 / 60)
    assert all(f == 1.0 for f in folds[1:])
    np.testing.assert_allclose(accuracy, np.mean(folds))


def face(value):
    return np.full((112, 112, 3), value, np.uint8)


def write_megaface_layout(tmp_path):
    """The authors' occluded FaceScrub layout: 2 identities x 2 clean images, two conditions
    of one occluded image each, 5 distractors; returns (clean, occluded, distractors)."""
    clean, occluded, distractors = tmp_path / "clean", tmp_path / "occluded", tmp_path / "distractors"
    for identity in ("alice", "bob"):
        (clean / identity).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(face(10 * k + (100 if identity == "bob" else 0))).save(clean / identity / f"{k}.png")
    mask = np.zeros((112, 112), np.uint8)
    mask[40:60, 30:70] = 255
    for form, position, size in (("square", "eyes", "0.05"), ("text", "mouth", "0.3")):
        for identity in ("alice", "bob"):
            img_dir = occluded / form / position / size / "img" / identity
            mask_dir = occluded / form / position / size / "mask" / identity
            img_dir.mkdir(parents=True)
            mask_dir.mkdir(parents=True)
            Image.fromarray(face(200)).save(img_dir / "1.jpg")
            Image.fromarray(mask).save(mask_dir / "1.png")
    distractors.mkdir()
    for k in range(5):
        Image.fromarray(face(k)).save(distractors / f"d{k}.png")
    return clean, occluded, distractors


def test_megaface_layout_reader(tmp_path):
    clean, occluded, distractors = write_megaface_layout(tmp_path)
    benchmark = megaface_occluded_benchmark(occluded, clean, distractors)
    assert len(benchmark.gallery) == 4 and sorted(set(benchmark.labels)) == [0, 1]
    assert [o.condition.name for o in benchmark.occluded] == ["rectangle/eyes/0.05", "text/mouth/0.3"]
    first = benchmark.occluded[0]
    np.testing.assert_array_equal(first.index, [1, 3])  # alice/1 and bob/1
    assert first.mask.shape == (2, 112, 112, 1) and first.mask.sum() == 2 * 20 * 40
    assert first.occluded.dtype == first.mask.dtype == np.uint8  # as read: a quarter of float32's memory
    as_float = first.as_float()
    assert as_float.occluded.dtype == as_float.mask.dtype == np.float32
    np.testing.assert_array_equal(as_float.occluded * 255.0, first.occluded.astype(np.float32))
    np.testing.assert_array_equal(as_float.mask, first.mask)
    assert benchmark.distractor_count == 5
    assert sum(len(c) for c in benchmark.distractor_chunks(2)) == 5
    assert str(clean) in benchmark.name and str(distractors) in benchmark.name  # the report names its data
    # A clean folder that matches none of the occluded images: an error, not an empty report.
    with pytest.raises(ValueError, match="has a clean counterpart in .*check --megaface_clean"):
        megaface_occluded_benchmark(occluded, distractors, distractors)
    # Without masks: a one-line error naming the folder.
    import shutil

    shutil.rmtree(occluded / "text" / "mouth" / "0.3" / "mask")
    with pytest.raises(ValueError, match=r"0\.3 has img/ but no mask/"):
        megaface_occluded_benchmark(occluded, clean, distractors)


def test_lfw_reader(tmp_path):
    for name, count in (("Ann_A", 3), ("Bob_B", 2)):
        (tmp_path / name).mkdir()
        for k in range(1, count + 1):
            Image.fromarray(face(k * 20)).save(tmp_path / name / f"{name}_{k:04d}.jpg")
    (tmp_path / "pairs.txt").write_text("2\t1\nAnn_A\t1\t2\nAnn_A\t3\tBob_B\t1\nBob_B\t1\t2\nAnn_A\t2\tBob_B\t2\n")
    pairs = lfw_pairs(tmp_path, tmp_path / "pairs.txt")
    assert pairs.same.tolist() == [True, False, True, False]
    assert pairs.fold.tolist() == [0, 0, 1, 1]
    assert len(pairs.images) == 5  # each distinct image read once
    assert pairs.first[0] != pairs.second[0] and pairs.second[1] == pairs.first[2]  # Bob_B_0001 shared
    assert not pairs.failed.any()
    # A face the aligner missed: its pairs count as failures (the MegaFace devkit's rule), not an abort.
    (tmp_path / "pairs.txt").write_text("2\t1\nAnn_A\t1\t9\nAnn_A\t3\tBob_B\t1\nBob_B\t1\t2\nAnn_A\t2\tBob_B\t9\n")
    pairs = lfw_pairs(tmp_path, tmp_path / "pairs.txt")
    assert pairs.failed.tolist() == [True, False, False, True]
    np.testing.assert_array_equal(pairs.scored(np.full(4, 0.5)), [-2.0, 0.5, 0.5, 2.0])  # always on the wrong side
    (tmp_path / "pairs.txt").write_text("1\t1\nZed_Z\t1\t9\n")
    with pytest.raises(ValueError, match="None of the images"):
        lfw_pairs(tmp_path, tmp_path / "pairs.txt")


def test_a_failed_pair_is_counted_wrong_by_the_ten_fold_accuracy():
    from c2fdan_tf.evaluation.benchmark_data import VerificationPairs
    from c2fdan_tf.evaluation.runner import _pair_accuracy

    same = np.tile([True, False], 10)  # 10 folds of one same and one different pair
    embeddings = np.zeros((40, 2), np.float32)
    embeddings[:, 0] = 1.0
    embeddings[3::4] = [0.0, 1.0]  # the different pairs' second images: similarity 0; the same pairs': 1
    pairs = VerificationPairs(embeddings, np.arange(0, 40, 2), np.arange(1, 40, 2), same, np.repeat(np.arange(10), 2))
    assert _pair_accuracy(embeddings, pairs) == pytest.approx(1.0)
    pairs.failed = np.zeros(20, bool)
    pairs.failed[4] = True  # a same pair whose image is missing
    assert _pair_accuracy(embeddings, pairs) == pytest.approx(0.95)


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    from c2fdan_tf.models import FaceFeatureExtractor, Generator

    folder = tmp_path_factory.mktemp("checkpoints")
    keras.utils.set_random_seed(0)
    Generator(width=4).save(folder / "generator.keras")
    FaceFeatureExtractor(10, "resnet_v2_small", width=4).save(folder / "extractor.keras")
    wrong = keras.Sequential([keras.Input((224, 224, 3)), keras.layers.GlobalAveragePooling2D()])
    wrong.save(folder / "wrong_extractor.keras")
    return folder


def run_eval(tmp_path, *args, extra_env=None):
    """eval.py on the paper's benchmark unless a test names --benchmark (the wild one is tested once)."""
    if not any(str(a).startswith("--benchmark=") for a in args):
        args = (*args, "--benchmark=paper")
    return run_script("eval.py", tmp_path, *args, timeout=900, extra_env=extra_env)


@pytest.mark.long(minutes=0.8)
def test_eval_command_writes_the_report(tmp_path, tiny_checkpoints):
    out = tmp_path / "report"
    result = run_eval(
        tmp_path, f"--checkpoint={tiny_checkpoints / 'generator.keras'}",
        f"--extractor={tiny_checkpoints / 'extractor.keras'}", f"--out={out}",
        "--gallery_identities=3", "--images_per_identity=3", "--distractors=30", "--verification_pairs=40",
        "--benchmark=paper,wild", "--wild_images=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("report.json", "report.md", "identification.png", "tpir_vs_area.png", "reconstruction.png",
                 "examples.png", "wild/report.json", "wild/report.md", "wild/examples.png"):
        assert (out / name).stat().st_size > 0, name
    # The wild benchmark: 8 families x 2 sizes x 4 positions on the first 2 faces, a row per family.
    wild = json.loads((out / "wild" / "report.json").read_text())
    assert wild["benchmark"]["gallery_images"] == 2 and len(wild["benchmark"]["conditions"]) == 64
    assert set(wild["reconstruction"]["c2fdan"]) == set(wild["benchmark"]["conditions"])
    families = ("subtitle", "watermark", "tiled_watermark", "emoji", "sticker", "stroke", "object", "textured")
    assert set(wild["summary"]["c2fdan"]["mask_iou"]) == {*families, "average"}
    # Telea given the true mask changes only the occluder's pixels: closer to the face than the input.
    for family in families:
        assert wild["summary"]["telea_gt_mask"]["psnr"][family] > wild["summary"]["occluded"]["psnr"][family], family
    assert 0.0 <= wild["clean"]["mask_share"] <= 1.0
    assert all(f"| {family} |" in (out / "wild" / "report.md").read_text() for family in families)
    report = json.loads((out / "report.json").read_text())
    assert len(report["metadata"]["checkpoint"]["sha256"]) == 64
    assert report["metadata"]["benchmark"]["gallery_images"] == 9
    conditions = report["metadata"]["benchmark"]["conditions"]
    assert len(conditions) == 24
    for method in ("occluded", "c2fdan", "c2fdan_coarse", "telea_gt_mask", "telea_predicted_mask"):
        assert set(report["identification"][method]) == set(conditions)
        assert set(report["reconstruction"][method]) == set(conditions)
        assert set(report["verification"][method]) == set(conditions)
        for curves in report["identification"][method].values():
            assert list(curves) == ["10", "30"]
            for d in curves:
                assert np.all(np.diff(curves[d]) >= 0)  # TPIR grows with the rank
            assert np.all(np.array(curves["30"]) <= np.array(curves["10"]) + 1e-12)  # and falls with D
    # Fig. 8's landmark error is reported for every method, as a fraction of the inter-ocular distance.
    nme = {m: report["summary"][m]["landmark_nme"]["average"] for m in ("occluded", "telea_gt_mask", "c2fdan")}
    assert all(0 < v < 1 for v in nme.values()), nme
    # On synthetic faces, also against the renderer's own five points; the clean faces' error is
    # the landmark net's own, the floor of every method's.
    floor = report["clean_landmark_error_vs_renderer"]
    renderer = {m: report["summary"][m]["landmark_error_vs_renderer"]["average"] for m in nme}
    assert 0 < floor < min(renderer.values()) and max(renderer.values()) < 1, (floor, renderer)
    assert "against the renderer's own five points" in (out / "report.md").read_text()
    # Telea with the true mask changes only masked pixels: it is at least as close as the occluded input.
    assert report["summary"]["telea_gt_mask"]["psnr"]["average"] > report["summary"]["occluded"]["psnr"]["average"]
    assert "| C2FDAN |" in (out / "report.md").read_text()


def test_eval_command_with_the_pretrained_recognizer(tmp_path, tiny_checkpoints):
    out = tmp_path / "report"
    result = run_eval(
        tmp_path, f"--checkpoint={tiny_checkpoints / 'generator.keras'}", "--recognizer=face_api", f"--out={out}",
        "--protocol=identification,verification", "--methods=non_occluded,occluded,c2fdan",
        "--gallery_identities=4", "--images_per_identity=3", "--distractors=30", "--verification_pairs=60",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "recognizer: face-api.js' pretrained recognizer" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["metadata"]["recognizer"]["name"] == "face_api"
    assert set(report["identification"]) == {"non_occluded", "occluded", "c2fdan"}
    assert "face-api.js' pretrained recognizer" in (out / "report.md").read_text()
    missing = run_eval(tmp_path, f"--checkpoint={tiny_checkpoints / 'generator.keras'}", "--recognizer=face_api",
                       f"--out={out}", extra_env={"C2FDAN_FACE_API_MODELS": str(tmp_path / "nowhere")})
    assert_one_line_error(missing, "nowhere/face_recognition_model-weights_manifest.json does not exist",
                          "make face-models")


@pytest.mark.long(minutes=0.6)
def test_eval_command_errors_are_one_line(tmp_path, tiny_checkpoints):
    generator, extractor = tiny_checkpoints / "generator.keras", tiny_checkpoints / "extractor.keras"
    assert_one_line_error(run_eval(tmp_path, f"--checkpoint={tmp_path / 'missing.keras'}", f"--out={tmp_path}"),
                          "missing.keras does not exist")
    assert_one_line_error(
        run_eval(tmp_path, f"--checkpoint={generator}", f"--extractor={tiny_checkpoints / 'wrong_extractor.keras'}",
                 f"--out={tmp_path}"),
        "(224, 224, 3)", "(112, 112, 3)")
    assert_one_line_error(run_eval(tmp_path, f"--checkpoint={extractor}", f"--out={tmp_path}"),
                          "holds a FaceFeatureExtractor, expected a Generator")
    assert_one_line_error(run_eval(tmp_path, f"--checkpoint={generator}", f"--out={tmp_path}", "--benchmark=cartoon"),
                          "Unknown benchmark(s) cartoon")
    (tmp_path / "occluded" / "square" / "eyes" / "0.05" / "img").mkdir(parents=True)
    (tmp_path / "clean").mkdir()
    assert_one_line_error(
        run_eval(tmp_path, f"--checkpoint={generator}", f"--extractor={extractor}", f"--out={tmp_path}",
                 f"--megaface_occluded={tmp_path / 'occluded'}", f"--megaface_clean={tmp_path / 'clean'}",
                 f"--megaface_distractors={tmp_path}"),
        "no mask/")
    assert_one_line_error(run_eval(tmp_path, f"--checkpoint={generator}", f"--out={tmp_path}"),
                          "--extractor is needed")
    # MegaFace has no verification pairs of its own: the hint names the LFW flags.
    clean, occluded, distractors = write_megaface_layout(tmp_path / "megaface")
    assert_one_line_error(
        run_eval(tmp_path, f"--checkpoint={generator}", f"--extractor={extractor}", f"--out={tmp_path}",
                 f"--megaface_occluded={occluded}", f"--megaface_clean={clean}", f"--megaface_distractors={distractors}"),
        "verification needs pairs", "--lfw_root", "--lfw_pairs")


def write_identity_folder(root, identities, per_identity, seed=0):
    from PIL import Image

    from c2fdan_tf.data.synthetic_faces import render_faces

    for identity in identities:
        faces = render_faces(seed, [identity] * per_identity, range(per_identity))
        (root / f"person{identity}").mkdir(parents=True)
        for index, face in enumerate(faces):
            Image.fromarray(face).save(root / f"person{identity}" / f"{index}.png")
    return root


@pytest.mark.long(minutes=0.8)
def test_folder_evaluation_checks_every_protocols_inputs_before_any_work(tmp_path, tiny_checkpoints):
    faces = write_identity_folder(tmp_path / "faces", range(3), 3)
    common = [f"--checkpoint={tiny_checkpoints / 'generator.keras'}", f"--extractor={tiny_checkpoints / 'extractor.keras'}",
              f"--data={faces}", "--gallery_identities=3", "--verification_pairs=12"]
    result = run_eval(tmp_path, *common, f"--out={tmp_path / 'all'}")
    assert_one_line_error(result, "identification needs distractors", "--distractors_dir")
    assert not (tmp_path / "all").exists()  # failed before any work
    # Without identification: the other protocols run and the caption names only them.
    result = run_eval(tmp_path, *common, "--protocol=reconstruction,verification", f"--out={tmp_path / 'some'}")
    assert result.returncode == 0, result.stderr[-3000:]
    (caption,) = [line for line in (tmp_path / "some" / "report.md").read_text().splitlines()
                  if line.endswith("not measured.")]
    assert "10-fold verification" in caption and "PSNR/SSIM" in caption and "TPIR" not in caption
    # Distractors from a folder of other people make identification possible.
    others = tmp_path / "others"
    write_identity_folder(tmp_path / "tmp_others", range(10, 14), 1)
    others.mkdir()
    for path in (tmp_path / "tmp_others").rglob("*.png"):
        path.rename(others / f"{path.parent.name}_{path.name}")
    result = run_eval(tmp_path, *common, f"--distractors_dir={others}", "--protocol=identification",
                      f"--out={tmp_path / 'ident'}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "ident" / "report.json").read_text())
    assert report["metadata"]["benchmark"]["distractors_available"] == 4


@pytest.mark.long(minutes=0.7)
def test_coarse_stage1_row_comes_from_the_work_directorys_coarse_checkpoint(tmp_path):
    from c2fdan_tf.models import Generator

    work = tmp_path / "work"
    for stage, seed in (("coarse", 1), ("full", 2)):
        (work / stage).mkdir(parents=True)
        keras.utils.set_random_seed(seed)
        Generator(width=4).save(work / stage / "generator_best.keras")
    small = ["--protocol=reconstruction", "--nolandmarks", "--gallery_identities=2", "--images_per_identity=2"]
    result = run_eval(tmp_path, f"--checkpoint={work / 'full' / 'generator_best.keras'}", *small,
                      f"--out={tmp_path / 'full_eval'}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "full_eval" / "report.json").read_text())
    assert report["metadata"]["baselines"]["coarse_stage1"]["path"] == str(work / "coarse" / "generator_best.keras")
    # The stage-1 row is what the coarse checkpoint itself gives as its coarse output.
    alone = run_eval(tmp_path, f"--checkpoint={work / 'coarse' / 'generator_best.keras'}", *small,
                     f"--out={tmp_path / 'coarse_eval'}")
    assert alone.returncode == 0, alone.stderr[-3000:]
    own = json.loads((tmp_path / "coarse_eval" / "report.json").read_text())
    assert "coarse_stage1" not in own["reconstruction"]  # a coarse checkpoint has no stage-1 row of its own
    stage1, itself = report["reconstruction"]["coarse_stage1"], own["reconstruction"]["c2fdan_coarse"]
    for condition in stage1:
        assert stage1[condition]["psnr"] == pytest.approx(itself[condition]["psnr"], abs=1e-4)
        assert stage1[condition]["mask_iou"] == pytest.approx(itself[condition]["mask_iou"], abs=1e-6)
    assert any(stage1[c]["psnr"] != pytest.approx(report["reconstruction"]["c2fdan_coarse"][c]["psnr"], abs=1e-3)
               for c in stage1)


@pytest.mark.long(minutes=0.8)
def test_bvmr_and_resnet50_occ_rows_come_from_the_work_directory(tmp_path, tiny_checkpoints):
    import shutil

    from c2fdan_tf.models import BlindMotifRemoval

    work = tmp_path / "work"
    for stage in ("full", "bvmr", "extractor_occ"):
        (work / stage).mkdir(parents=True)
    shutil.copy(tiny_checkpoints / "generator.keras", work / "full" / "generator_best.keras")
    BlindMotifRemoval(width=2).save(work / "bvmr" / "bvmr_best.keras")
    # ResNet-50-occ *is* the --extractor here: its row must then equal the occluded row's.
    shutil.copy(tiny_checkpoints / "extractor.keras", work / "extractor_occ" / "extractor_best.keras")
    common = [f"--checkpoint={work / 'full' / 'generator_best.keras'}", f"--extractor={tiny_checkpoints / 'extractor.keras'}",
              "--nolandmarks", "--gallery_identities=3", "--images_per_identity=2", "--distractors=20",
              "--verification_pairs=20"]
    result = run_eval(tmp_path, *common, "--methods=occluded,bvmr,resnet50_occ", f"--out={tmp_path / 'eval'}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["metadata"]["baselines"]["bvmr"]["path"] == str(work / "bvmr" / "bvmr_best.keras")
    summary = report["summary"]
    assert {"psnr", "ssim", "mask_iou", "tpir_rank1", "verification"} <= set(summary["bvmr"])
    # The occluded input leaves every bit of the occluder (residual 1) and, inside the mask,
    # is as far from the truth as it is: the demo-quality metrics at their untouched values.
    assert summary["occluded"]["occluder_residual"]["text"] == pytest.approx(1.0)
    inside = summary["occluded"]["psnr_in_mask_by_position"]
    assert set(inside) == {"mouth", "nose", "eyes", "outside"}
    for condition, values in report["reconstruction"]["occluded"].items():
        assert values["psnr_in_mask"] < values["psnr"], condition  # the error is all inside the mask
    assert 0 <= summary["bvmr"]["occluder_residual"]["average"] < 5
    # Recognition only: no reconstruction metrics, and the same numbers as the occluded row's
    # when its recognizer is the same network.
    assert "resnet50_occ" not in report["reconstruction"]
    assert report["identification"]["resnet50_occ"] == report["identification"]["occluded"]
    assert report["verification"]["resnet50_occ"] == report["verification"]["occluded"]
    table = (tmp_path / "eval" / "report.md").read_text()
    assert "| BVMR |" in table and "| ResNet-50-occ |" in table
    # A row asked for without its network names the stage that trains it.
    (work / "bvmr" / "bvmr_best.keras").unlink()
    assert_one_line_error(run_eval(tmp_path, *common, "--methods=occluded,bvmr", f"--out={tmp_path / 'no'}"),
                          "the bvmr row needs a checkpoint of train.py --stage=bvmr", "--bvmr_checkpoint")
    # By default it is left out, and said so.
    result = run_eval(tmp_path, *common, "--protocol=reconstruction", f"--out={tmp_path / 'default'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "bvmr row: left out: no bvmr stage checkpoint (--bvmr_checkpoint)" in result.stdout
    assert "bvmr" not in json.loads((tmp_path / "default" / "report.json").read_text())["summary"]


def test_a_second_recognizer_in_the_same_pass_equals_its_own_evaluation():
    from c2fdan_tf.evaluation.benchmark_data import synthetic_benchmark
    from c2fdan_tf.evaluation.runner import evaluate
    from c2fdan_tf.models import FaceFeatureExtractor, Generator

    keras.utils.set_random_seed(3)
    generator = Generator(width=4)
    first, second = (FaceFeatureExtractor(10, "resnet_v2_small", width=4) for _ in range(2))
    benchmark = synthetic_benchmark(0, 3, 2, 20, 20, occlusion_seed=0)
    methods = ["non_occluded", "occluded", "c2fdan"]
    both = evaluate(generator, first, benchmark, methods=methods, progress=False,
                    other_recognizers={"second": second})
    alone = evaluate(generator, second, benchmark, methods=methods, progress=False)
    for protocol in ("identification", "verification"):
        assert both["by_recognizer"]["second"][protocol] == alone[protocol]
    assert both["by_recognizer"]["second"]["summary"]["c2fdan"]["tpir_rank1"] == alone["summary"]["c2fdan"]["tpir_rank1"]
    # ...and the first recognizer's numbers are its own, not the second's.
    assert both["identification"] == evaluate(generator, first, benchmark, methods=methods,
                                              progress=False)["identification"]
    assert both["identification"] != alone["identification"]


def test_distractor_embeddings_are_computed_once_per_recognizer_and_list(tmp_path):
    from c2fdan_tf.evaluation.distractor_cache import cache_key, cached_embeddings, list_digest

    rng = np.random.default_rng(0)
    table = rng.standard_normal((10, 4)).astype(np.float32)
    calls = []

    def compute(chunk=3):  # stands for embedding the distractor images, chunk by chunk
        for start in range(0, len(table), chunk):
            calls.append(start)
            yield table[start : start + chunk]

    key = cache_key("recognizer-a", "list-1")
    first = np.concatenate(list(cached_embeddings(tmp_path, key, 10, compute)))
    np.testing.assert_array_equal(first, table)
    assert len(calls) == 4 and sorted(p.name for p in tmp_path.iterdir()) == [f"{key}.f32", f"{key}.json"]
    calls.clear()
    again = np.concatenate(list(cached_embeddings(tmp_path, key, 7, compute)))  # fewer rows: read, not computed
    np.testing.assert_array_equal(again, table[:7])
    assert calls == []
    # Another recognizer (or list) has another key: computed again.
    assert cache_key("recognizer-b", "list-1") != key != cache_key("recognizer-a", "list-2")
    # A reader that stops at the last row it needs (stream_top_k does) still leaves a whole entry.
    other = cache_key("recognizer-a", "list-3")
    for chunk in cached_embeddings(tmp_path, other, 6, compute):
        if len(chunk) == 3 and np.array_equal(chunk, table[3:6]):
            break
    np.testing.assert_array_equal(np.concatenate(list(cached_embeddings(tmp_path, other, 6, compute))), table[:6])
    # An interrupted computation leaves no entry and no partial file.
    broken = cache_key("recognizer-a", "list-4")

    def failing():
        yield table[:3]
        raise OSError("disk gone")

    with pytest.raises(OSError):
        list(cached_embeddings(tmp_path, broken, 10, failing))
    assert not any(p.name.startswith(broken) for p in tmp_path.iterdir())
    # A folder's list digest changes with a file's size or name.
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"12")
    before = list_digest(folder, [folder / "a.png"])
    (folder / "a.png").write_bytes(b"123")
    assert list_digest(folder, [folder / "a.png"]) != before


def test_identification_reads_the_distractors_once_for_a_recognizer(tmp_path):
    from c2fdan_tf.evaluation.benchmark_data import synthetic_benchmark
    from c2fdan_tf.evaluation.runner import evaluate
    from c2fdan_tf.models import FaceFeatureExtractor

    keras.utils.set_random_seed(5)
    recognizer, retrained = (FaceFeatureExtractor(10, "resnet_v2_small", width=4) for _ in range(2))
    benchmark = synthetic_benchmark(0, 3, 2, 20, 0, occlusion_seed=0)
    original, reads = benchmark.distractor_chunks, []

    def counted(size):
        for chunk in original(size):
            reads.append(len(chunk))
            yield chunk

    benchmark.distractor_chunks = counted
    options = dict(protocols=["identification"], methods=["occluded"], progress=False,
                   distractor_cache=tmp_path)
    first = evaluate(None, recognizer, benchmark, **options)
    assert sum(reads) == 20
    reads.clear()
    again = evaluate(None, recognizer, benchmark, **options)
    assert reads == [] and again["identification"] == first["identification"]  # from the cache, same numbers
    uncached = evaluate(None, recognizer, benchmark, **{**options, "distractor_cache": None})
    assert uncached["identification"] == first["identification"] and sum(reads) == 20
    reads.clear()
    evaluate(None, retrained, benchmark, **options)  # other weights: embedded anew, cached beside
    assert sum(reads) == 20 and len(list(tmp_path.glob("*.json"))) == 2


def test_devkit_distractor_lists_and_the_noise_list_pick_the_distractors(tmp_path):
    clean, occluded, distractors = write_megaface_layout(tmp_path)
    nested = distractors / "046" / "04679@N04"
    nested.mkdir(parents=True)
    for k in range(3):
        Image.fromarray(face(50 + k)).save(nested / f"{k}_0.jpg")
    # The devkit's JSON subset (3 of the 8 images, in its order) and insightface's noise list.
    subset = tmp_path / "megaface_features_list.json_3_1"
    subset.write_text(json.dumps({"id": [1, 2, 3], "path": ["046/04679@N04/2_0.jpg", "d1.png",
                                                           "046/04679@N04/0_0.jpg"]}))
    noises = tmp_path / "megaface_noises.txt"
    noises.write_text("# noises\nx\t046/04679@N04/0_0.jpg\n")
    every = megaface_occluded_benchmark(occluded, clean, distractors)
    assert every.distractor_count == 8
    chosen = megaface_occluded_benchmark(occluded, clean, distractors, distractor_list=subset)
    assert chosen.distractor_count == 3
    images = np.concatenate(list(chosen.distractor_chunks(10)))
    assert [int(i[0, 0, 0]) for i in images] == [52, 1, 50]  # the list's order (JPEG keeps flat values)
    cleaned = megaface_occluded_benchmark(occluded, clean, distractors, distractor_list=subset,
                                          distractor_noises=noises)
    assert cleaned.distractor_count == 2
    assert len({every.distractor_digest, chosen.distractor_digest, cleaned.distractor_digest}) == 3
    (nested / "2_0.jpg").unlink()
    with pytest.raises(ValueError, match="1 of the 3 distractors in .* are not in"):
        megaface_occluded_benchmark(occluded, clean, distractors, distractor_list=subset)


def test_eval_verifies_on_an_insightface_bin_and_names_it(tmp_path, tiny_checkpoints):
    import io
    import pickle

    from c2fdan_tf.data.synthetic_faces import render_faces

    faces = render_faces(7, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10], list(range(20)))
    bins = []
    for face in faces:
        buffer = io.BytesIO()
        Image.fromarray(face).save(buffer, "PNG")
        bins.append(buffer.getvalue())
    with open(tmp_path / "lfw.bin", "wb") as out:
        pickle.dump((bins, [True] * 10), out, protocol=2)  # every pair one identity (10 folds of one)
    with open(tmp_path / "cfp_fp.bin", "wb") as out:
        pickle.dump((bins[:4], [True, False]), out, protocol=2)
    out = tmp_path / "report"
    result = run_eval(tmp_path, f"--checkpoint={tiny_checkpoints / 'generator.keras'}",
                      f"--extractor={tiny_checkpoints / 'extractor.keras'}", f"--out={out}", "--protocol=verification",
                      "--gallery_identities=3", "--images_per_identity=2", "--distractors=10",
                      f"--verification_bin={tmp_path / 'lfw.bin'},{tmp_path / 'cfp_fp.bin'}",
                      "--methods=non_occluded,occluded")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert str(tmp_path / "lfw.bin") in (out / "report.md").read_text().splitlines()[0]  # the title names it
    assert len(report["verification"]["occluded"]) == 24
    assert 0.0 <= report["verification"]["non_occluded"]["clean"] <= 1.0
    further = json.loads((out / "cfp_fp" / "report.json").read_text())  # the second set: a report of its own
    assert further["metadata"]["benchmark"]["name"] == "verification: cfp_fp"
    assert len(further["verification"]["occluded"]) == 24 and not further["identification"]


def test_eval_on_a_folder_warns_about_resized_and_unreadable_faces_and_refuses_raw_ones(tmp_path, tiny_checkpoints):
    faces = write_identity_folder(tmp_path / "faces", range(6), 4)  # 24 aligned faces
    Image.fromarray(np.full((150, 150, 3), 90, np.uint8)).save(faces / "person0" / "big.png")  # 1 of 25: warned
    truncated = (faces / "person1" / "0.png").read_bytes()
    (faces / "person1" / "9.png").write_bytes(truncated[: len(truncated) // 3])
    common = [f"--checkpoint={tiny_checkpoints / 'generator.keras'}", f"--extractor={tiny_checkpoints / 'extractor.keras'}",
              "--protocol=reconstruction", "--methods=occluded", "--gallery_identities=6", "--nolandmarks"]
    result = run_eval(tmp_path, *common, f"--data={faces}", f"--out={tmp_path / 'report'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 of 26 sampled images" in result.stderr and "big.png: 150x150" in result.stderr  # without --verbose
    assert "big.png is not 112x112 and was resized" in result.stderr
    assert "Skipping unreadable image" in result.stderr and "9.png" in result.stderr
    raw = tmp_path / "raw"
    for person in ("a", "b"):
        (raw / person).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(np.full((250, 250, 3), 40 * k, np.uint8)).save(raw / person / f"{k}.jpg")
    assert_one_line_error(run_eval(tmp_path, *common, f"--data={raw}", f"--out={tmp_path / 'raw_report'}"),
                          "6 of 6 sampled images", "--allow_unaligned")
