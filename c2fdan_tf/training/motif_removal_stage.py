"""Stage "bvmr": the BVMR baseline of Table I (`models.bvmr`), trained with its own loss on
the same occluded batches as C2FDAN's stages, with the same folder layout (resume,
best/last checkpoints, log.csv, samples)."""

import keras

from c2fdan_tf.training.callbacks import CompletionSamples, stage_callbacks
from c2fdan_tf.training.extractor_stage import check_finite
from c2fdan_tf.training.fit_loop import fit_stage, trained_state
from c2fdan_tf.training.motif_removal import MotifRemovalTraining
from c2fdan_tf.training.networks import build_network
from c2fdan_tf.training.stage_data import occluded_batches
from c2fdan_tf.training.workdir import CHECKPOINT_PREFIX


def train_motif_removal(config, directory, runtime, verbose, extra_callbacks=()):
    """Trains into `directory` (a StageDirectory); returns (history, summary)."""
    schedule = config.schedule_of("bvmr")
    train_data, val_data, sample_batch, steps = occluded_batches(config.data, schedule)
    with runtime.strategy.scope():
        network = build_network("bvmr", config.model)
        model = MotifRemovalTraining(network)
        model.compile(optimizer=keras.optimizers.Adam(schedule.learning_rate, beta_1=schedule.beta_1),
                      jit_compile=config.runtime.jit_compile)
        model(sample_batch["occluded"][:1])  # build, so that a backup can be restored into it
    callbacks = stage_callbacks(directory.path, network, CHECKPOINT_PREFIX["bvmr"], "val_psnr")
    callbacks.append(CompletionSamples(network, sample_batch, directory.path / "samples",
                                       directory.path / "tensorboard", columns=("mask", "motif", "completed")))
    history = fit_stage(model, runtime, directory.backup, train_data, epochs=schedule.epochs, steps_per_epoch=steps,
                        validation_data=val_data, callbacks=callbacks + list(extra_callbacks), verbose=verbose)
    check_finite(history, "bvmr")
    return history, {"final": {name: values[-1] for name, values in history.items()},
                     **trained_state(model, network)}
