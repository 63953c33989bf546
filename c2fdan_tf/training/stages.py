"""Runs one training stage end to end: data, models, optimizers, callbacks, fit.

Work directory layout (one folder per stage):

    WORKDIR/extractor/  extractor_best.keras, extractor_last.keras, done.json, ...
    WORKDIR/coarse/     generator_best.keras, generator_last.keras, done.json, ...
    WORKDIR/full/       generator_best.keras, generator_last.keras, done.json, ...
    each with config.json (the resolved configuration), log.csv, samples/,
    tensorboard/ and, while running, backup/ (BackupAndRestore).

Running a stage again with the same command resumes an interrupted run from its
last backup (weights, both optimizers' states, epoch), and skips a finished one.
"""

import dataclasses
import json
import logging
import math
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from c2fdan_tf.data.face_sources import HeldOutSplit, open_face_source
from c2fdan_tf.data.occlusion import OcclusionSynthesizer
from c2fdan_tf.data.pipelines import identity_dataset, training_dataset
from c2fdan_tf.evaluation import recognition
from c2fdan_tf.models import Discriminators, FaceFeatureExtractor, Generator
from c2fdan_tf.models.checkpoints import load_coarse_weights, load_extractor
from c2fdan_tf.training.c2fdan import C2FDAN
from c2fdan_tf.training.callbacks import CompletionSamples, SaveBestAndLast, tensorboard_available
from c2fdan_tf.training.config import STAGE_NAMES

logger = logging.getLogger(__name__)
STRATEGIES = ("default", "mirrored", "multi_worker")


class StageError(ValueError):
    """A stage cannot run as configured (one-line reason)."""


@dataclasses.dataclass
class StageResult:
    stage: str
    directory: Path
    skipped: bool
    summary: dict


def make_strategy(name):
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise StageError(f"Unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}.")


def _synthetic_options(config, split):
    identities = config.synth_eval_identities if split == "eval" else config.synth_identities
    return {
        "num_identities": identities,
        "images_per_identity": config.synth_images_per_identity,
        "seed": config.seed,
        "progress": True,
    }


def _open(config, split):
    options = _synthetic_options(config, split) if config.data == "synth" else {}
    return open_face_source(config.data, split=split, **options)


def _steps_per_epoch(steps_per_epoch, batch_size, source):
    if steps_per_epoch:
        return steps_per_epoch
    size = len(source)
    if size <= 0:
        raise StageError(f"The size of {source.name} is unknown; pass --steps_per_epoch.")
    steps = size // batch_size
    if steps == 0:
        raise StageError(f"{source.name} has {size} faces, fewer than one batch of {batch_size}.")
    return steps


def _resume_epoch(backup_dir):
    metadata = Path(backup_dir) / "training_metadata.json"
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _callbacks(stage_dir, model_to_save, prefix, monitor, config):
    callbacks = [
        keras.callbacks.BackupAndRestore(
            str(stage_dir / "backup"), save_freq=config.backup_every_steps or "epoch", delete_checkpoint=True
        ),
        SaveBestAndLast(model_to_save, stage_dir, prefix, monitor, mode="max"),
        keras.callbacks.CSVLogger(str(stage_dir / "log.csv"), append=True),
        keras.callbacks.TerminateOnNaN(),
    ]
    if tensorboard_available():
        callbacks.append(keras.callbacks.TensorBoard(str(stage_dir / "tensorboard"), update_freq="epoch"))
    else:
        logger.warning("tensorboard is not installed: no TensorBoard logs (pip install tensorboard).")
    return callbacks


def _check_finite(history, stage):
    for name, values in history.items():
        for epoch, value in enumerate(values):
            if not math.isfinite(value):
                raise StageError(f"Stage {stage} diverged: {name} is {value} in epoch {epoch + 1}.")


def _write_done(stage_dir, summary):
    (stage_dir / "done.json").write_text(json.dumps(summary, indent=1, default=float))


# ---------------------------------------------------------------- extractor


def _train_extractor(config, stage_dir, strategy, verbose, extra_callbacks):
    source = _open(config, "train")
    if source.num_identities < 2:
        raise StageError(
            f"The extractor stage needs identity labels: {source.name} must have one sub-folder per "
            "identity (or use --data=synth)."
        )
    train = HeldOutSplit(source, config.holdout_every, validation=False)
    held_out = HeldOutSplit(source, config.holdout_every, validation=True)
    batch_size = config.extractor_batch_size
    steps = _steps_per_epoch(config.extractor_steps_per_epoch, batch_size, train)
    epochs = config.extractor_epochs
    train_data = identity_dataset(train, batch_size, seed=config.seed)
    val_data = identity_dataset(held_out, batch_size, augment=False, repeat=False, shuffle_buffer=0)
    with strategy.scope():
        extractor = FaceFeatureExtractor(
            source.num_identities,
            config.extractor_architecture,
            width=config.extractor_width,
            blocks_per_stage=config.extractor_blocks,
        )
        # Softmax cross-entropy on the logits; the wrapper shares the extractor's weights.
        images = keras.Input(extractor.input_shape[1:])
        classifier = keras.Model(images, extractor(images)["logits"], name="identity_classifier")
        schedule = keras.optimizers.schedules.CosineDecay(config.extractor_learning_rate, epochs * steps)
        classifier.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=config.jit_compile,
        )
    callbacks = _callbacks(stage_dir, extractor, "extractor", "val_accuracy", config) + list(extra_callbacks)
    history = classifier.fit(
        train_data,
        epochs=epochs,
        steps_per_epoch=steps,
        validation_data=val_data,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,
    )
    _check_finite(history.history, "extractor")
    best = load_extractor(stage_dir / "extractor_best.keras")
    return history.history, _extractor_quality(config, best, train, held_out)


def _faces_and_labels(source):
    faces, labels = [], []
    for element in source.dataset():
        faces.append(element["image"].numpy())
        labels.append(int(element["label"]))
    return np.stack(faces), np.array(labels)


def _extractor_quality(config, extractor, train, held_out):
    """Rank-1 identification of held-out images against the training images, and
    10-fold verification accuracy on identities never seen in training."""
    gallery, gallery_labels = _faces_and_labels(train)
    queries, query_labels = _faces_and_labels(held_out)
    rank1 = recognition.rank1_identification(
        recognition.embed(extractor, queries), query_labels, recognition.embed(extractor, gallery), gallery_labels
    )
    summary = {"rank1_identification_held_out_images": rank1}
    if config.data == "synth":
        unseen, unseen_labels = _faces_and_labels(_open(config, "eval"))
        embeddings = recognition.embed(extractor, unseen)
        i, j, same = recognition.balanced_pairs(unseen_labels, 6000, seed=config.seed)
        similarities = np.sum(embeddings[i] * embeddings[j], axis=1)
        summary["verification_accuracy_unseen_identities"] = recognition.ten_fold_verification(similarities, same)[0]
    return summary


# ---------------------------------------------------------------- coarse / full


def _completion_sources(config):
    source = _open(config, "train")
    if config.data == "synth":
        return source, _open(config, "eval")
    return HeldOutSplit(source, config.holdout_every, False), HeldOutSplit(source, config.holdout_every, True)


def _default_checkpoint(workdir, stage, prefix):
    path = Path(workdir) / stage / f"{prefix}_best.keras"
    return path if path.exists() else None


def _train_generator(
    config, stage, stage_dir, workdir, strategy, init_from, extractor_path, verbose, extra_callbacks
):
    weights = config.loss_weights() if stage == "full" else config.coarse_loss_weights()
    train_source, val_source = _completion_sources(config)
    steps = _steps_per_epoch(config.steps_per_epoch, config.batch_size, train_source)
    epochs = config.epochs(stage)
    synthesizer = OcclusionSynthesizer()
    start_batch = _resume_epoch(stage_dir / "backup") * steps
    train_data = training_dataset(train_source, synthesizer, config.batch_size, config.seed, start_batch=start_batch)
    # A fixed validation set: one shuffle (mixing identities), the same every epoch.
    val_data = training_dataset(
        val_source, synthesizer, config.batch_size, config.seed + 1, reshuffle=False
    ).take(config.validation_steps)
    sample_batch = next(iter(val_data))

    if stage == "full":
        init_from = init_from or _default_checkpoint(workdir, "coarse", "generator")
        if init_from is None:
            raise StageError(
                "Stage full starts from the coarse stage: run --stage=coarse first (same --workdir) "
                "or pass --init_from=CHECKPOINT (--init_from=none trains from scratch)."
            )
        if weights.needs_extractor:
            extractor_path = extractor_path or _default_checkpoint(workdir, "extractor", "extractor")
            if extractor_path is None:
                raise StageError(
                    "The identity losses need a face feature extractor: run --stage=extractor first "
                    "(same --workdir) or pass --extractor=CHECKPOINT (or set the perceptual and style "
                    "weights to 0)."
                )

    with strategy.scope():
        generator = Generator(config.width, config.attention, config.cross_attention_mode)
        if stage == "full" and str(init_from) != "none":
            load_coarse_weights(generator, init_from)
        discriminators = Discriminators(config.discriminator_width) if weights.adversarial and stage == "full" else None
        extractor = (
            load_extractor(extractor_path, require_features=True)
            if stage == "full" and weights.needs_extractor else None
        )
        model = C2FDAN(generator, stage, discriminators, extractor, weights)
        if stage == "coarse":
            model.compile(
                optimizer=keras.optimizers.Adam(config.coarse_learning_rate), jit_compile=config.jit_compile
            )
        else:

            def adam(rate):  # lr / 10 after every epoch (Sec. IV-A), restored with the iterations
                schedule = keras.optimizers.schedules.ExponentialDecay(
                    rate, decay_steps=steps, decay_rate=config.learning_rate_decay, staircase=True
                )
                return keras.optimizers.Adam(schedule, beta_1=config.gan_beta_1)

            model.compile(
                optimizer=adam(config.learning_rate),
                pretrained_optimizer=adam(config.pretrained_learning_rate),
                discriminator_optimizer=adam(config.discriminator_learning_rate) if discriminators else None,
                jit_compile=config.jit_compile,
            )
        model(sample_batch["occluded"][:1])  # build, so that a backup can be restored into it
    callbacks = _callbacks(stage_dir, generator, "generator", "val_psnr", config)
    callbacks.append(CompletionSamples(generator, sample_batch, stage_dir / "samples", stage_dir / "tensorboard",
                                       coarse_only=stage == "coarse"))
    callbacks += list(extra_callbacks)
    history = model.fit(
        train_data,
        epochs=epochs,
        steps_per_epoch=steps,
        validation_data=val_data,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,
    )
    _check_finite(history.history, stage)
    last = {name: values[-1] for name, values in history.history.items()}
    return history.history, {"final": last}


# ---------------------------------------------------------------- entry point


def run_stage(
    config, stage, workdir, init_from=None, extractor_path=None, restart=False, verbose=1, extra_callbacks=()
):
    """Trains one stage into WORKDIR/<stage>; resumes or skips as the folder says.

    `extra_callbacks` run after the built-in ones (backup, checkpoints, logs)."""
    if stage not in STAGE_NAMES:
        raise StageError(f"Unknown stage {stage!r}; choose from {', '.join(STAGE_NAMES)}.")
    workdir = Path(workdir)
    stage_dir = workdir / stage
    if restart and stage_dir.exists():
        shutil.rmtree(stage_dir)
    done = stage_dir / "done.json"
    if done.exists():
        return StageResult(stage, stage_dir, True, json.loads(done.read_text()))
    stage_dir.mkdir(parents=True, exist_ok=True)
    (stage_dir / "config.json").write_text(config.to_json())
    strategy = make_strategy(config.strategy)
    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    start = time.time()
    try:
        if stage == "extractor":
            history, summary = _train_extractor(config, stage_dir, strategy, verbose, extra_callbacks)
        else:
            history, summary = _train_generator(
                config, stage, stage_dir, workdir, strategy, init_from, extractor_path, verbose, extra_callbacks
            )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    summary.update({"stage": stage, "epochs": config.epochs(stage), "seconds": time.time() - start})
    _write_done(stage_dir, summary)
    return StageResult(stage, stage_dir, False, summary)
