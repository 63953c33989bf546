"""The GAN training step, stages, resume, distribution and the train.py command."""

import dataclasses
import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from c2fdan_tf.data.face_sources import InMemoryFaces, render_synthetic_split
from c2fdan_tf.data.occluders.families import WILD_MIX
from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer
from c2fdan_tf.data.pipelines import training_dataset
from c2fdan_tf.losses import LossWeights
from c2fdan_tf.models import Discriminators, FaceFeatureExtractor, Generator
from c2fdan_tf.training.c2fdan import C2FDAN
from c2fdan_tf.training.config import load_config, preset
from c2fdan_tf.training.stages import run_stage
from tests.commands import ROOT, assert_one_line_error, run_script


@pytest.fixture(scope="module")
def fixed_batch():
    faces, labels = render_synthetic_split(0, "train", 4, 2)
    batch = next(iter(training_dataset(InMemoryFaces(faces, labels), OcclusionSynthesizer(), 4)))
    return {k: batch[k] for k in ("occluded", "mask", "ground_truth")}


def build(stage, extractor=True, lr=2e-3, d_lr=None, g_lr=None):
    keras.utils.set_random_seed(0)
    generator = Generator(width=4)
    kwargs = {}
    if stage == "full":
        kwargs["discriminators"] = Discriminators(4)
        kwargs["feature_extractor"] = FaceFeatureExtractor(4, "resnet_v2_small", width=4) if extractor else None
        kwargs["loss_weights"] = LossWeights() if extractor else LossWeights(perceptual=0, style=0)
    model = C2FDAN(generator, stage, **kwargs)
    g = lr if g_lr is None else g_lr
    model.compile(
        keras.optimizers.Adam(g),
        pretrained_optimizer=keras.optimizers.Adam(g),
        discriminator_optimizer=keras.optimizers.Adam(lr if d_lr is None else d_lr),
    )
    return model


class PerStepLoss(keras.callbacks.Callback):
    def __init__(self, key):
        super().__init__()
        self.key, self.values = key, []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(float(logs[self.key]))


@pytest.mark.parametrize("stage", ["coarse", "full"])
def test_overfitting_one_batch_halves_the_generator_loss(fixed_batch, stage):
    model = build(stage)
    record = PerStepLoss("g_loss")
    data = tf.data.Dataset.from_tensors(fixed_batch).repeat()
    # One step per epoch: the logged value is that step's loss, not a running mean.
    model.fit(data, epochs=50, steps_per_epoch=1, verbose=0, callbacks=[record], shuffle=False)
    assert record.values[-1] <= 0.5 * record.values[0], (record.values[0], record.values[-1])


def test_overfitting_one_batch_halves_the_extractor_loss(fixed_batch):
    keras.utils.set_random_seed(0)
    extractor = FaceFeatureExtractor(8, "resnet_v2_small", width=8)
    images = keras.Input((112, 112, 3))
    classifier = keras.Model(images, extractor(images)["logits"])
    classifier.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.concatenate([fixed_batch["ground_truth"].numpy()] * 2)
    history = classifier.fit(x, np.arange(8), epochs=50, batch_size=8, verbose=0)
    assert history.history["loss"][-1] <= 0.5 * history.history["loss"][0]


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


def changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


@pytest.mark.long(minutes=0.6)
def test_generator_and_discriminator_updates_touch_only_their_own_weights(fixed_batch):
    data = tf.data.Dataset.from_tensors(fixed_batch).repeat()
    # Discriminator optimizer frozen (lr 0): a step changes the generator only.
    model = build("full", d_lr=0.0)
    groups = {
        "coarse": model.generator.coarse_network.trainable_variables,
        "fine": model.generator.fine_network.trainable_variables,
        "discriminators": model.discriminators.trainable_variables,
        "extractor": model.feature_extractor.variables,
    }
    before = {k: snapshot(v) for k, v in groups.items()}
    model.fit(data, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    moved = {k: changed(before[k], v) for k, v in groups.items()}
    assert all(moved["coarse"]) and any(moved["fine"])
    assert not any(moved["discriminators"]) and not any(moved["extractor"])
    # Generator optimizers frozen: a step changes the discriminators only.
    model = build("full", g_lr=0.0)
    groups = {
        "generator": model.generator.variables,
        "discriminators": model.discriminators.trainable_variables,
        "extractor": model.feature_extractor.variables,
    }
    before = {k: snapshot(v) for k, v in groups.items()}
    model.fit(data, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    moved = {k: changed(before[k], v) for k, v in groups.items()}
    assert all(moved["discriminators"])
    assert not any(moved["generator"]) and not any(moved["extractor"])


def test_coarse_stage_trains_only_the_coarse_network(fixed_batch):
    model = build("coarse")
    fine, coarse = model.generator.fine_network.variables, model.generator.coarse_network.trainable_variables
    before_fine, before_coarse = snapshot(fine), snapshot(coarse)
    model.fit(tf.data.Dataset.from_tensors(fixed_batch).repeat(), epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    assert not any(changed(before_fine, fine)) and all(changed(before_coarse, coarse))


def test_text_left_metric_is_the_text_examples_pooled_occluder_residual():
    faces, labels = render_synthetic_split(0, "train", 4, 4)
    batch = next(iter(training_dataset(InMemoryFaces(faces, labels), OcclusionSynthesizer(), 16, seed=3)))
    form = batch["form"].numpy()
    assert 0 < form.sum() < len(form)  # both forms, so the metric has to pick the text ones
    model = build("coarse")
    logs = model.test_step(batch)
    out = model.generator.coarse_network(batch["occluded"])
    occluded, truth, m_gt = (np.asarray(batch[k], np.float64) for k in ("occluded", "ground_truth", "mask"))
    m = np.asarray(out["mask"], np.float64)
    completed = (1 - m) * occluded + m * np.asarray(out["coarse"], np.float64)  # Eq. 2
    text = form == 1
    left = (m_gt * np.abs(completed - truth).mean(-1, keepdims=True))[text].sum()
    before = (m_gt * np.abs(occluded - truth).mean(-1, keepdims=True))[text].sum()
    np.testing.assert_allclose(float(logs["text_left"]), left / before, rtol=1e-4)
    rect_only = {k: v[~text] for k, v in batch.items()}
    model.reset_metrics()
    assert float(model.test_step(rect_only)["text_left"]) == 0.0  # no text example: no contribution


def tiny(**full_schedule):
    """The tiny preset without identity losses, with stage full's schedule changed."""
    config = preset("tiny")
    losses = dataclasses.replace(config.losses, full=dataclasses.replace(config.losses.full, perceptual=0.0, style=0.0))
    schedule = dataclasses.replace(config.schedule, full=dataclasses.replace(config.schedule.full, **full_schedule))
    return dataclasses.replace(config, losses=losses, schedule=schedule)


def optimizers(model):
    names = ("generator_optimizer", "pretrained_optimizer", "discriminator_optimizer")
    return {n: getattr(model, n) for n in names if getattr(model, n, None) is not None}


# Resuming an interrupted stage: tests/test_resume.py (a real SIGKILL mid-epoch, every stage).


@pytest.mark.long(minutes=0.5)
def test_learning_rates_drop_tenfold_per_epoch_and_config_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("C2FDAN_CACHE", str(tmp_path / "cache"))
    config = tiny(epochs=2, learning_rate_decay=0.1)
    seen = {}

    class LearningRates(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen[epoch] = {n: float(o.learning_rate.numpy()) for n, o in optimizers(self.model).items()}

    run_stage(config, "full", tmp_path, init_from="none", verbose=0, extra_callbacks=[LearningRates()])
    assert seen[0]["generator_optimizer"] == pytest.approx(config.schedule.full.learning_rate)
    assert seen[0]["pretrained_optimizer"] == pytest.approx(config.schedule.full.pretrained_learning_rate)
    for name in seen[0]:
        assert seen[1][name] == pytest.approx(seen[0][name] * 0.1), name
    written = json.loads((tmp_path / "full" / "config.json").read_text())
    assert written["schedule"]["full"]["learning_rate_decay"] == 0.1
    assert written["model"]["width"] == config.model.width
    assert load_config(tmp_path / "full" / "config.json") == config
    for name in ("generator_best.keras", "generator_last.keras", "log.csv"):
        assert (tmp_path / "full" / name).exists()
    assert sorted(p.name for p in (tmp_path / "full" / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    sys.path.insert(0, sys.argv[1])
    from tests.test_training import build_for_strategy_comparison
    losses = {}
    for name, strategy in (("default", tf.distribute.get_strategy()),
                           ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))):
        losses[name] = build_for_strategy_comparison(strategy)
    print(json.dumps(losses))
    """
)


def build_for_strategy_comparison(strategy):
    """Trains 3 steps of stage full on fixed data; returns per-step logged losses."""
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(12, 112, 112, 3)).astype(np.float32)
    masks = (rng.uniform(size=(12, 112, 112, 1)) > 0.8).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices(
        {"occluded": images * (1 - masks), "mask": masks, "ground_truth": images}
    ).batch(4)
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = C2FDAN(
            Generator(width=4), "full", Discriminators(4), FaceFeatureExtractor(4, "resnet_v2_small", width=4)
        )
        # SGD, not Adam: Adam is invariant to a gradient scale, so it would hide a
        # per-replica (instead of global-batch) loss scaling.
        model.compile(
            keras.optimizers.SGD(2e-3),
            pretrained_optimizer=keras.optimizers.SGD(2e-3),
            discriminator_optimizer=keras.optimizers.SGD(2e-3),
        )
    record = {}

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for key in ("g_loss", "d_loss", "perceptual", "mask_bce"):
                record.setdefault(key, []).append(float(logs[key]))

    model.fit(data, epochs=1, verbose=0, callbacks=[Record()], shuffle=False)
    return record


@pytest.mark.long(minutes=0.8)
def test_mirrored_strategy_on_two_cpus_matches_the_default_strategy():
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(ROOT)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    losses = json.loads(result.stdout.strip().splitlines()[-1])
    for key, values in losses["default"].items():
        assert len(values) == 3
        np.testing.assert_allclose(losses["mirrored"][key], values, atol=1e-4, rtol=1e-4, err_msg=key)


def run_train(tmp_path, *args):
    return run_script("train.py", tmp_path, f"--workdir={tmp_path / 'work'}", *args)


@pytest.mark.long(minutes=0.6)
def test_train_command_errors_are_one_line(tmp_path):
    assert_one_line_error(run_train(tmp_path, "--stage=coarse", "--config=tiny", f"--data={tmp_path / 'nope'}"),
                          "does not exist")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_train(tmp_path, "--stage=coarse", "--config=tiny", f"--data={tmp_path / 'empty'}"),
                          "contains no images")
    assert_one_line_error(run_train(tmp_path, "--stage=coarse", "--config=huge"), "Unknown preset 'huge'")
    # A width-8 coarse checkpoint cannot initialise a width-4 full stage.
    checkpoint = tmp_path / "wide.keras"
    Generator(width=8).save(checkpoint)
    assert_one_line_error(
        run_train(tmp_path, "--stage=full", "--config=tiny", f"--init_from={checkpoint}", "--perceptual_weight=0",
                  "--style_weight=0"),
        "width 8", "width 4",
    )
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    assert_one_line_error(
        run_train(tmp_path, "--stage=full", "--config=tiny", f"--init_from={tmp_path / 'broken.keras'}",
                  "--perceptual_weight=0", "--style_weight=0"),
        "not a Keras .keras archive",
    )


@pytest.mark.long(minutes=2)
def test_train_command_runs_the_completion_stages_in_one_workdir(tmp_path):
    # The completion stages on the small preset's mix of the paper's and the wild occluders, the
    # full stage from the coarse stage's checkpoint in the work directory (without the identity
    # losses: the extractor stage before them runs in the main job's test).
    # The coarse stage also asks for a precision: resolved, said and recorded.
    full_flags = (f"--occluders={WILD_MIX}", "--perceptual_weight=0", "--style_weight=0")
    for stage, extra in (("coarse", (f"--occluders={WILD_MIX}", "--face_texture=0.5", "--precision=mixed_bfloat16")),
                         ("full", full_flags)):
        result = run_train(tmp_path, f"--stage={stage}", "--config=tiny", *extra)
        assert result.returncode == 0, result.stderr[-2000:]
        assert f"Stage {stage} finished" in result.stdout
        if stage == "coarse":
            assert "precision mixed_bfloat16 (asked for)" in result.stdout
    work = tmp_path / "work"
    for stage in ("coarse", "full"):
        assert json.loads((work / stage / "config.json").read_text())["data"]["occluders"] == WILD_MIX
    assert [json.loads((work / stage / "config.json").read_text())["data"]["face_texture"]
            for stage in ("coarse", "full")] == [0.5, 0.0]
    assert json.loads((work / "coarse" / "config.json").read_text())["runtime"]["precision"] == "mixed_bfloat16"
    assert (work / "full" / "generator_best.keras").exists() and not (work / "extractor").exists()
    # The learning curve: one point per epoch, steps counted on across the two stages.
    from c2fdan_tf.training.learning_curve import write_learning_curve

    config = preset("tiny")
    points = write_learning_curve(work)
    coarse_steps = config.schedule.coarse.epochs * config.schedule.coarse.steps_per_epoch
    full_steps = config.schedule.full.epochs * config.schedule.full.steps_per_epoch
    assert [p["stage"] for p in points] == ["coarse"] * config.schedule.coarse.epochs + ["full"] * config.schedule.full.epochs
    assert [p["step"] for p in points][config.schedule.coarse.epochs - 1] == coarse_steps
    assert points[-1]["step"] == coarse_steps + full_steps
    full_log = (work / "full" / "log.csv").read_text().splitlines()
    header, last = full_log[0].split(","), full_log[-1].split(",")
    assert points[-1]["psnr"] == pytest.approx(float(last[header.index("val_psnr")]))
    assert all(10 < p["psnr"] < 60 and 0 <= p["mask_iou"] <= 1 and p["text_left"] >= 0 for p in points)
    assert (work / "learning_curve.png").stat().st_size > 1000
    again = run_train(tmp_path, "--stage=full", "--config=tiny", *full_flags)
    assert "already finished" in again.stdout
    # ResNet-50-occ fine-tunes the extractor, whose architecture and identities it must share
    # (Table I's baseline stages train in the main job's test and in test_resume).
    from c2fdan_tf.models import FaceFeatureExtractor

    FaceFeatureExtractor(6, "resnet_v2_small", width=8).save(tmp_path / "wider.keras")
    assert_one_line_error(
        run_train(tmp_path, "--stage=extractor_occ", "--config=tiny", "--restart",
                  f"--init_from={tmp_path / 'wider.keras'}"), "wider.keras has another architecture")


@pytest.mark.long(minutes=0.6)
def test_mixed_precision_steps_are_finite_and_outputs_stay_float32(fixed_batch):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        for stage in ("coarse", "full"):
            model = build(stage)
            assert isinstance(model.generator_optimizer, keras.optimizers.LossScaleOptimizer)
            before = snapshot(model.generator.coarse_network.trainable_variables)
            # The first steps overflow at the initial loss scale (2^15) and are skipped by design.
            history = model.fit(tf.data.Dataset.from_tensors(fixed_batch).repeat(), epochs=1, steps_per_epoch=6,
                                verbose=0, shuffle=False)
            assert all(np.isfinite(v[-1]) for v in history.history.values()), history.history
            assert any(changed(before, model.generator.coarse_network.trainable_variables)), stage
            outputs = model.generator(fixed_batch["occluded"])
            assert all(v.dtype == "float32" for v in outputs.values())
            assert model.generator.get_layer("coarse_network").compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_the_old_mixed_precision_flag_says_what_it_became(tmp_path):
    # (--precision itself: the three-stage test's coarse stage.) The old flag still works and says
    # what it became, and trains to finite losses in float16; both at once is a usage error.
    old = run_train(tmp_path, "--stage=coarse", "--config=tiny", "--mixed_precision")
    assert old.returncode == 0 and "--mixed_precision is now --precision=mixed_float16" in old.stdout
    assert json.loads((tmp_path / "work" / "coarse" / "config.json").read_text())["runtime"]["precision"] == \
        "mixed_float16"
    history = (tmp_path / "work" / "coarse" / "log.csv").read_text().splitlines()
    assert len(history) == 2 and all(np.isfinite(float(v)) for v in history[1].split(",")[1:])
    both = run_train(tmp_path, "--stage=coarse", "--config=tiny", "--mixed_precision", "--precision=float32")
    assert both.returncode != 0 and "Give --precision, not --mixed_precision as well" in both.stderr


@pytest.mark.long(minutes=0.8)
def test_full_stage_with_the_pretrained_identity_network_needs_no_extractor_stage(tmp_path):
    import csv

    result = run_train(tmp_path, "--stage=full", "--config=tiny", "--init_from=none", "--identity_network=face_api")
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "work" / "full" / "config.json").read_text())
    assert written["model"]["identity_network"] == "face_api"
    (row,) = list(csv.DictReader(open(tmp_path / "work" / "full" / "log.csv")))
    # Eq. 8-10 on the pretrained net's stage outputs: real, finite, non-zero distances.
    assert 0 < float(row["perceptual"]) < 100 and 0 < float(row["style"]) < 100, row
    without = run_train(tmp_path, "--stage=full", "--config=tiny", "--init_from=none", "--restart",
                        f"--workdir={tmp_path / 'other'}")
    assert_one_line_error(without, "--identity_network=face_api")


def test_the_extractor_quality_check_embeds_a_bounded_sample_of_the_whole_split():
    from c2fdan_tf.training.extractor_stage import _embeddings_and_labels

    faces, labels = render_synthetic_split(0, "train", 6, 8)  # 48 faces, identities in order
    source = InMemoryFaces(faces, labels)
    seen = []

    def first_pixels(images):  # stands for the extractor: an embedding that names its face
        seen.append(len(images))
        return images.reshape(len(images), -1)[:, :6].astype(np.float32)

    embeddings, sample_labels = _embeddings_and_labels(first_pixels, source, limit=12)
    assert embeddings.shape == (12, 6) and sum(seen) == 12  # only the sample is read and embedded
    rows = {tuple(face.reshape(-1)[:6]): label for face, label in zip(faces, labels)}
    assert len({tuple(e) for e in embeddings}) == 12  # 12 distinct faces
    assert all(rows[tuple(e.astype(np.uint8))] == label for e, label in zip(embeddings, sample_labels))
    assert len(set(sample_labels.tolist())) >= 4  # drawn from the whole split, not its first 12 faces (2 identities)
    everything, _ = _embeddings_and_labels(first_pixels, source, limit=100)
    assert len(everything) == 48


def test_train_command_on_unaligned_faces_refuses_then_warns_with_the_count(tmp_path):
    """Unaligned faces (here 150x150) are refused in one line naming the count, and with
    --allow_unaligned trained on with the project's warnings printed (no --verbose)."""
    from PIL import Image

    faces = tmp_path / "faces"
    rng = np.random.default_rng(0)
    for person in ("p1", "p2"):
        (faces / person).mkdir(parents=True)
        for k in range(8):
            Image.fromarray(rng.integers(0, 256, (150, 150, 3), dtype=np.uint8)).save(faces / person / f"{k}.png")
    (faces / "p2" / "7.png").write_bytes((faces / "p2" / "6.png").read_bytes()[:300])  # truncated
    args = ("--stage=coarse", "--config=tiny", f"--data={faces}", "--epochs=1", "--steps_per_epoch=1")
    assert_one_line_error(run_train(tmp_path, *args), "16 of 16 sampled images", "not 112x112", "--allow_unaligned")
    result = run_train(tmp_path, *args, "--allow_unaligned")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "16 of 16 sampled images" in result.stderr and "centre-cropped and resized" in result.stderr
    assert "was resized" in result.stderr  # the reader's own warning
    assert "Skipping unreadable image" in result.stderr and "7.png" in result.stderr
