"""Stages "extractor" and "extractor_occ" (Table I's ResNet-50-occ, the same network with
occlusion augmentation): the face feature extractor, trained as an identity classifier
(softmax cross-entropy), then measured on held-out images and unseen identities."""

import math

import keras
import numpy as np

from c2fdan_tf.data.face_sources import HeldOutSplit
from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer
from c2fdan_tf.data.pipelines import identity_dataset, shuffled_faces
from c2fdan_tf.evaluation import recognition
from c2fdan_tf.models.checkpoints import load_extractor
from c2fdan_tf.training.callbacks import stage_callbacks
from c2fdan_tf.training.fit_loop import fit_stage, trained_state
from c2fdan_tf.training.networks import build_network
from c2fdan_tf.training.stage_data import StageError, open_split, steps_per_epoch
from c2fdan_tf.training.workdir import CHECKPOINT_PREFIX, stage_checkpoint


def check_finite(history, stage):
    for name, values in history.items():
        for epoch, value in enumerate(values):
            if not math.isfinite(value):
                raise StageError(f"Stage {stage} diverged: {name} is {value} in epoch {epoch + 1}.")


def train_extractor(config, directory, runtime, verbose, extra_callbacks=(), stage="extractor", init_from=None):
    """Trains into `directory` (a StageDirectory); returns (history, summary). Stage
    "extractor_occ" (ResNet-50-occ) occludes `config.data.occlusion_augmentation` of its
    training faces; from scratch as in the paper ("another ResNet-50"), or fine-tuning the
    extractor checkpoint `init_from`."""
    data, schedule = config.data, config.schedule_of(stage)
    occlusion = {}
    if stage == "extractor_occ":
        occlusion = {"occlusions": OcclusionSynthesizer(), "occlusion_probability": data.occlusion_augmentation}
    source = open_split(data, "train")
    if source.num_identities < 2:
        raise StageError(
            f"The extractor stage needs identity labels: {source.name} must have one sub-folder per "
            "identity (or use --data=synth)."
        )
    train = HeldOutSplit(source, data.holdout_every, validation=False)
    held_out = HeldOutSplit(source, data.holdout_every, validation=True)
    steps = steps_per_epoch(schedule, train)

    def train_data(start_batch):  # a resumed run goes on with the face order and augmentations
        return identity_dataset(train, schedule.batch_size, seed=data.seed, start_batch=start_batch, **occlusion)

    val_data = identity_dataset(held_out, schedule.batch_size, augment=False, repeat=False, shuffle_buffer=0)
    with runtime.strategy.scope():
        extractor = build_network("extractor", config.model, source.num_identities)
        if stage == "extractor_occ":
            _start_from(extractor, init_from)
        # Softmax cross-entropy on the logits; the wrapper shares the extractor's weights.
        images = keras.Input(extractor.input_shape[1:])
        classifier = keras.Model(images, extractor(images)["logits"], name="identity_classifier")
        rate = keras.optimizers.schedules.CosineDecay(schedule.learning_rate, schedule.epochs * steps)
        classifier.compile(
            optimizer=keras.optimizers.Adam(rate, beta_1=schedule.beta_1),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=config.runtime.jit_compile,
        )
    callbacks = stage_callbacks(directory.path, extractor, CHECKPOINT_PREFIX[stage], "val_accuracy")
    history = fit_stage(classifier, runtime, directory.backup, train_data, epochs=schedule.epochs,
                        steps_per_epoch=steps, validation_data=val_data, callbacks=callbacks + list(extra_callbacks),
                        verbose=verbose)
    check_finite(history, stage)
    state = trained_state(classifier, extractor)
    if not directory.writes_results:  # another worker writes (and measures) the checkpoint
        return history, state
    best = load_extractor(stage_checkpoint(directory.workdir, stage))
    return history, {**extractor_quality(config, best, train, held_out), **state}


def _start_from(extractor, path):
    if path is None or str(path) == "none":
        return
    trained = load_extractor(path, require_features=True)
    if [w.shape for w in trained.weights] != [w.shape for w in extractor.weights]:
        raise StageError(f"--init_from extractor {path} has another architecture or number of identities than "
                         "this run; train extractor_occ from scratch with --init_from=none.")
    extractor.set_weights(trained.get_weights())


# The end-of-stage quality check measures on at most this many images of each split (a sample
# drawn from the whole split), embedded batch by batch: its memory and time stay bounded on
# VGGFace2's 3.1 M faces, where stacking the training split took ~100 GB.
QUALITY_SAMPLE = 20_000


def _embeddings_and_labels(embedder, source, limit=QUALITY_SAMPLE, seed=0):
    """(L2-normalised embeddings, labels) of at most `limit` faces of `source`: a seeded sample
    of a random-access source larger than that, else its first `limit` faces."""
    faces = shuffled_faces(source, seed, repeat=False) if len(source) > limit else source.dataset()
    embeddings, labels = [], []
    for batch in faces.take(limit).batch(256):
        embeddings.append(embedder(batch["image"].numpy()))
        labels.append(batch["label"].numpy())
    return np.concatenate(embeddings), np.concatenate(labels)


def extractor_quality(config, extractor, train, held_out, limit=QUALITY_SAMPLE):
    """Rank-1 identification of held-out images against the training images, and
    10-fold verification accuracy on identities never seen in training (each on at most
    `limit` images)."""
    embedder = recognition.Embedder(extractor)
    gallery, gallery_labels = _embeddings_and_labels(embedder, train, limit)
    queries, query_labels = _embeddings_and_labels(embedder, held_out, limit)
    rank1 = recognition.rank1_identification(queries, query_labels, gallery, gallery_labels)
    summary = {"rank1_identification_held_out_images": rank1}
    if config.data.source == "synth":
        embeddings, unseen_labels = _embeddings_and_labels(embedder, open_split(config.data, "eval"), limit)
        i, j, same = recognition.balanced_pairs(unseen_labels, 6000, seed=config.data.seed)
        similarities = np.sum(embeddings[i] * embeddings[j], axis=1)
        summary["verification_accuracy_unseen_identities"] = recognition.ten_fold_verification(similarities, same)[0]
    return summary
