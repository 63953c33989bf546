"""A one-process training run killed mid-epoch (a real SIGKILL) resumes at the exact step of
its newest backup: the same optimizer steps, learning rates, epoch boundaries and data as a
run that was never interrupted (issue 34), for both kinds of stage: one compiled Keras model with one
optimizer (the extractor; BVMR is the same kind) and the GAN with its two (stage full)."""

import csv
import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import c2fdan_tf.models  # noqa: F401  (registers the networks for load_model)
from tests.commands import ROOT, run_script

EPOCHS, STEPS, BACKUP_EVERY = 2, 6, 4  # backups at steps 4 (mid-epoch 1), 6, 8 (mid-epoch 2), 12
KILL_BEFORE_STEP = 10  # the newest backup then is step 8: epoch 2, batch 2 of 6

STAGES = {  # stage: (extra flags, the checkpoint it writes), one per training loop:
    "extractor": ((), "extractor"),
    # The generator stages share one loop (`generator_stage`); the full stage restores everything the
    # coarse one does (the generator, its optimizer and rate schedule) plus the discriminators and
    # their optimizer, so it stands for both. No identity losses: it needs no extractor checkpoint.
    "full": (("--init_from=none", "--perceptual_weight=0", "--style_weight=0"), "generator"),
    # BVMR (one compiled Keras model, one optimizer) resumes through the same loop as the extractor.
}

# Trains the stage uninterrupted into argv[2], then again into argv[3], where the process
# SIGKILLs itself as step KILL_BEFORE_STEP begins -- after the backups have been written.
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import keras
    from absl import flags
    sys.path.insert(0, sys.argv[1])
    import train
    from c2fdan_tf.training.config import resolve_config
    from c2fdan_tf.training.stages import run_stage

    class KillBeforeStep(keras.callbacks.Callback):
        def __init__(self, step):
            super().__init__()
            self.step, self.begun = step, 0

        def on_train_batch_begin(self, batch, logs=None):
            self.begun += 1
            if self.begun == self.step:
                os.kill(os.getpid(), signal.SIGKILL)

    argv = [sys.argv[0], *sys.argv[5:]]
    flags.FLAGS(argv)
    stage = flags.FLAGS.stage
    config = resolve_config(flags.FLAGS.config, stage, {flag.name: flag.value for flag in train._OVERRIDES})
    options = {"init_from": flags.FLAGS.init_from, "verbose": 0, "log": lambda line: None}
    run_stage(config, stage, sys.argv[2], **options)
    run_stage(config, stage, sys.argv[3], extra_callbacks=[KillBeforeStep(int(sys.argv[4]))], **options)
    """
)


def log_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.long(minutes=1.3)
@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_killed_run_resumes_at_the_step_of_its_backup(tmp_path, stage):
    extra, prefix = STAGES[stage]
    flags = (f"--stage={stage}", "--config=tiny", f"--epochs={EPOCHS}", f"--steps_per_epoch={STEPS}",
             f"--backup_every_steps={BACKUP_EVERY}", *extra)
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    env = {"C2FDAN_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), str(reference), str(resumed),
                             str(KILL_BEFORE_STEP), *flags], capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]  # died by SIGKILL, in epoch 2
    progress = json.loads((resumed / stage / "backup" / "progress.json").read_text())
    assert progress == {"step": 8, "epoch": 1, "batch": 2}
    assert not (resumed / stage / "done.json").exists()

    result = run_script("train.py", tmp_path, f"--workdir={resumed}", *flags)  # the same command again
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resuming from the backup of step 8 of {EPOCHS * STEPS}" in result.stdout

    expected = json.loads((reference / stage / "done.json").read_text())
    done = json.loads((resumed / stage / "done.json").read_text())
    # Keras' fit resumed at the start of epoch 2: 8 + 6 = 14 optimizer steps, not 12.
    assert done["optimizer_iterations"] == expected["optimizer_iterations"] == EPOCHS * STEPS
    assert done["learning_rates"] == pytest.approx(expected["learning_rates"], rel=1e-6)
    # The same faces, occlusions and updates from the restored state: the weights agree to
    # float rounding (measured 0.0 on this machine); a replayed or reseeded epoch moves some
    # weight by about one Adam step (the rate, >= 1e-4 here).
    gap = max(float(np.abs(a - b).max()) for a, b in zip(
        keras.saving.load_model(reference / stage / f"{prefix}_last.keras", compile=False).get_weights(),
        keras.saving.load_model(resumed / stage / f"{prefix}_last.keras", compile=False).get_weights()))
    assert gap < 1e-6, gap
    # One log row per epoch, as without the interruption; validation ran at both epochs' ends.
    rows, reference_rows = log_rows(resumed / stage / "log.csv"), log_rows(reference / stage / "log.csv")
    assert [row["epoch"] for row in rows] == [row["epoch"] for row in reference_rows] == ["0", "1"]
    assert all(any(key.startswith("val_") and row[key] for key in row) for row in rows)
    # The resumed epoch's one progress line counts its real steps (batches 3..6 of 6).
    assert f"{STEPS}/{STEPS}" in result.stdout
    assert not (resumed / stage / "backup").exists()  # removed once the stage finished


def test_a_backup_of_keras_backup_and_restore_is_taken_over(tmp_path):
    """What an interrupted one-process run of an earlier release left (Keras' BackupAndRestore
    after one whole epoch of 3 steps) resumes at step 3 with its weights and optimizer state."""
    from c2fdan_tf.training.fit_loop import StepBackup

    def model():
        keras.utils.set_random_seed(0)
        built = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        built.compile(keras.optimizers.Adam(0.1), "mse")
        return built

    trained = model()
    data = (np.ones((6, 3), np.float32), np.zeros((6, 2), np.float32))
    trained.fit(*data, batch_size=2, epochs=1, verbose=0,
                callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)])
    backup = StepBackup(tmp_path / "backup")
    backup.adopt_keras_backup(steps_per_epoch=3)
    assert backup.progress() == {"step": 3, "epoch": 1, "batch": 0} and backup.steps() == [3]
    restored = model()
    backup.restore(restored, 3)
    for a, b in zip(restored.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(restored.optimizer.iterations.numpy()) == 3
