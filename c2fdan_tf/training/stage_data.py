"""The faces a stage trains and validates on, from the data config."""

from c2fdan_tf.data.face_sources import HeldOutSplit, open_face_source
from c2fdan_tf.data.occluders.families import training_occluders
from c2fdan_tf.data.pipelines import training_dataset


class StageError(ValueError):
    """A stage cannot run as configured (one-line reason)."""


def open_split(data, split):
    """The "train" or "eval" faces of `data.source` (synthetic identities are rendered)."""
    options = {"allow_unaligned": data.allow_unaligned}
    if data.source == "synth":
        options = {
            "num_identities": data.synth_eval_identities if split == "eval" else data.synth_identities,
            "images_per_identity": data.synth_images_per_identity,
            "seed": data.seed,
            "progress": True,
            "faces": data.faces,
        }
    return open_face_source(data.source, split=split, **options)


def training_and_validation(data):
    """(train, validation) sources: held-out identities for synth, every
    `holdout_every`-th image of each identity for a folder."""
    source = open_split(data, "train")
    if data.source == "synth":
        return source, open_split(data, "eval")
    return HeldOutSplit(source, data.holdout_every, False), HeldOutSplit(source, data.holdout_every, True)


def steps_per_epoch(schedule, source):
    """The schedule's steps, or one pass over `source` when it says 0."""
    if schedule.steps_per_epoch:
        return schedule.steps_per_epoch
    size = len(source)
    if size <= 0:
        raise StageError(f"The size of {source.name} is unknown; pass --steps_per_epoch.")
    steps = size // schedule.batch_size
    if steps == 0:
        raise StageError(f"{source.name} has {size} faces, fewer than one batch of {schedule.batch_size}.")
    return steps


def occluded_batches(data, schedule):
    """(training batches from a start batch on -- a function of it, the fixed validation
    batches, one validation batch for sample grids, steps per epoch) of occluded faces for the
    stages that learn to complete them. A resumed run continues the face order and the
    occlusion numbering at its start batch."""
    train_source, val_source = training_and_validation(data)
    steps = steps_per_epoch(schedule, train_source)
    synthesizer = training_occluders(data.occluders, face_texture=data.face_texture)

    def train_data(start_batch):
        return training_dataset(train_source, synthesizer, schedule.batch_size, data.seed, start_batch=start_batch)

    # A fixed validation set: one shuffle (mixing identities), the same every epoch.
    val_data = training_dataset(
        val_source, synthesizer, schedule.batch_size, data.seed + 1, reshuffle=False
    ).take(schedule.validation_steps)
    # Cached: drawn once (a few batches), not re-occluded every epoch.
    return train_data, val_data.cache(), next(iter(val_data)), steps
