"""Stages "coarse" and "full": the generator (and discriminators) trained with the
paper's losses through the `C2FDAN` training model."""

import keras

from c2fdan_tf.training.c2fdan import C2FDAN
from c2fdan_tf.training.callbacks import GENERATOR_COLUMNS, CompletionSamples, stage_callbacks
from c2fdan_tf.training.extractor_stage import check_finite
from c2fdan_tf.training.fit_loop import fit_stage, trained_state
from c2fdan_tf.training.networks import stage_networks
from c2fdan_tf.training.stage import GeneratorStage
from c2fdan_tf.training.stage_data import StageError, occluded_batches
from c2fdan_tf.training.workdir import CHECKPOINT_PREFIX, best_checkpoint


def _inputs(stage, workdir, init_from, extractor_path, identity_network):
    """(coarse checkpoint or None, extractor checkpoint or None) the stage starts from."""
    coarse = extractor = None
    if stage.needs_coarse_checkpoint:
        coarse = init_from or best_checkpoint(workdir, "coarse")
        if coarse is None:
            raise StageError(
                "Stage full starts from the coarse stage: run --stage=coarse first (same --workdir) "
                "or pass --init_from=CHECKPOINT (--init_from=none trains from scratch)."
            )
        coarse = None if str(coarse) == "none" else coarse
    if stage.needs_extractor and identity_network == "project":
        extractor = extractor_path or best_checkpoint(workdir, "extractor")
        if extractor is None:
            raise StageError(
                "The identity losses need a face feature extractor: run --stage=extractor first "
                "(same --workdir) or pass --extractor=CHECKPOINT (or set the perceptual and style "
                "weights to 0, or use --identity_network=face_api)."
            )
    return coarse, extractor


def _adam(rate, schedule, steps):
    """Adam whose rate is multiplied by the schedule's decay after every epoch (Sec. IV-A:
    lr / 10), restored with the optimizer's iterations on resume."""
    if schedule.learning_rate_decay != 1.0:
        rate = keras.optimizers.schedules.ExponentialDecay(
            rate, decay_steps=steps, decay_rate=schedule.learning_rate_decay, staircase=True)
    return keras.optimizers.Adam(rate, beta_1=schedule.beta_1)


def train_generator(config, stage_name, directory, runtime, init_from, extractor_path, verbose,
                    extra_callbacks=()):
    """Trains stage `stage_name` into `directory` (a StageDirectory); returns (history, summary)."""
    stage = GeneratorStage(stage_name, config.losses_of(stage_name))
    schedule = config.schedule_of(stage_name)
    train_data, val_data, sample_batch, steps = occluded_batches(config.data, schedule)
    coarse_checkpoint, extractor_checkpoint = _inputs(stage, directory.workdir, init_from, extractor_path,
                                                        config.model.identity_network)

    with runtime.strategy.scope():
        generator, discriminators, extractor = stage_networks(stage, config.model, coarse_checkpoint,
                                                              extractor_checkpoint)
        model = C2FDAN(generator, stage, discriminators, extractor)
        model.compile(
            optimizer=_adam(schedule.learning_rate, schedule, steps),
            pretrained_optimizer=_adam(schedule.pretrained_learning_rate, schedule, steps)
            if stage.trains_fine_network else None,
            discriminator_optimizer=_adam(schedule.discriminator_learning_rate, schedule, steps)
            if discriminators is not None else None,
            jit_compile=config.runtime.jit_compile,
        )
        model(sample_batch["occluded"][:1])  # build, so that a backup can be restored into it
    callbacks = stage_callbacks(directory.path, generator, CHECKPOINT_PREFIX[stage_name], "val_psnr")
    columns = GENERATOR_COLUMNS if stage.trains_fine_network else ("mask", "coarse_completed", "coarse_completed")
    callbacks.append(CompletionSamples(generator, sample_batch, directory.path / "samples",
                                       directory.path / "tensorboard", columns))
    history = fit_stage(model, runtime, directory.backup, train_data, epochs=schedule.epochs, steps_per_epoch=steps,
                        validation_data=val_data, callbacks=callbacks + list(extra_callbacks), verbose=verbose)
    check_finite(history, stage_name)
    return history, {"final": {name: values[-1] for name, values in history.items()},
                     **trained_state(model, generator)}
