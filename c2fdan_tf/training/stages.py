"""Runs one training stage end to end (paper Sec. IV-A), resuming or skipping as
its folder in the work directory says (`workdir.StageDirectory`).

Running a stage again with the same command resumes an interrupted run from its
last backup (weights, every optimizer's state, epoch), and skips a finished one.
"""

import time

import keras

from c2fdan_tf.precision import policy_scope, resolve_precision, visible_gpus
from c2fdan_tf.training.config import EXTRACTOR_STAGES, STAGE_NAMES, replace_path
from c2fdan_tf.training.extractor_stage import train_extractor
from c2fdan_tf.training.generator_stage import train_generator
from c2fdan_tf.training.motif_removal_stage import train_motif_removal
from c2fdan_tf.training.runtime import Runtime, make_strategy, worker_role
from c2fdan_tf.training.stage_data import StageError
from c2fdan_tf.training.workdir import StageDirectory, StageResult

__all__ = ["StageError", "StageResult", "run_stage"]


def run_stage(config, stage, workdir, init_from=None, extractor_path=None, restart=False, verbose=1,
              extra_callbacks=(), log=print):
    """Trains one stage into WORKDIR/<stage>; resumes or skips as the folder says.

    The precision is resolved here (`auto` -> this machine's choice), printed and
    written into the stage's config.json. `extra_callbacks` run after the built-in
    ones (backup, checkpoints, logs)."""
    if stage not in STAGE_NAMES:
        raise StageError(f"Unknown stage {stage!r}; choose from {', '.join(STAGE_NAMES)}.")
    try:
        role = worker_role(config.runtime.strategy)
    except ValueError as error:
        raise StageError(str(error)) from None
    directory = StageDirectory(workdir, stage, None if role.is_chief else role.name)
    if not restart and (summary := directory.finished()) is not None:
        return StageResult(stage, directory.path, True, summary)
    policy, reason = resolve_precision(config.runtime.precision)
    config = replace_path(config, "runtime.precision", policy)
    log(f"stage {stage}: precision {policy} ({reason})")
    if role.multi_worker and config.runtime.jit_compile and not visible_gpus():
        raise StageError("--jit_compile with --strategy=multi_worker needs GPUs: XLA compiles no collectives for "
                         "CPUs (TensorFlow b/194942685); drop --jit_compile.")
    if role.multi_worker:
        log(f"stage {stage}: {role.name} of {len(role.peers) + 1} workers "
            f"({'chief: writes the results' if role.is_chief else 'not the chief'}); waiting for the others")
    try:  # before any file is written
        strategy = make_strategy(config.runtime.strategy, config.runtime.worker_timeout_seconds)
        runtime = Runtime(strategy, role, config.runtime.backup_every_steps, config.runtime.jit_compile)
    except ValueError as error:
        raise StageError(str(error)) from None
    directory.prepare(config, restart)
    start = time.time()
    keras.utils.set_random_seed(config.data.seed)  # the networks' initialisation follows --seed too
    with policy_scope(policy):
        if stage in EXTRACTOR_STAGES:
            _, summary = train_extractor(config, directory, runtime, verbose, extra_callbacks, stage, init_from)
        elif stage == "bvmr":
            _, summary = train_motif_removal(config, directory, runtime, verbose, extra_callbacks)
        else:
            _, summary = train_generator(config, stage, directory, runtime, init_from, extractor_path, verbose,
                                         extra_callbacks)
    summary.update({"stage": stage, "epochs": config.schedule_of(stage).epochs, "seconds": time.time() - start})
    return directory.finish(summary)
