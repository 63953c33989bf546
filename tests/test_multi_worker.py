"""--strategy=multi_worker: real worker processes on 127.0.0.1 (free ports picked at run time,
always killed at the end), the training loop against Keras' fit, resuming after a SIGKILL,
and a worker whose peer never starts."""

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

import c2fdan_tf.models  # noqa: F401  (registers the networks for load_model)
from c2fdan_tf.training.fit_loop import StepBackup
from c2fdan_tf.training.config import preset
from c2fdan_tf.training.networks import build_network
from c2fdan_tf.training.runtime import local_cluster, worker_role
from c2fdan_tf.training.stages import run_stage
from c2fdan_tf.training.workdir import StageDirectory
from tests.commands import ROOT, assert_one_line_error, run_script

WORKER_SECONDS = 240  # a hung worker is still caught; 110 s was too short on a CPU without bfloat16 (~3x slower)


class Workers:
    """Two `train.py` worker processes; every one still running at the end is SIGKILLed
    (TensorFlow's preemption handler catches SIGTERM)."""

    def __init__(self, tmp_path):
        self.tmp_path, self.processes = tmp_path, []

    def start(self, workdir, *args, count=2):
        self.processes = []
        for config in local_cluster(count):
            env = {"C2FDAN_CACHE": str(self.tmp_path / "cache"), "PATH": "/usr/bin:/bin", "TF_CONFIG": config}
            command = [sys.executable, str(ROOT / "train.py"), f"--workdir={workdir}", "--config=tiny",
                       "--strategy=multi_worker", *args]
            self.processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                   env=env, cwd=ROOT))
        return self.processes

    def wait(self, timeout=WORKER_SECONDS):
        deadline = time.monotonic() + timeout
        results = []
        for process in self.processes:
            try:
                out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail("a worker did not finish in time")
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
        return results

    def kill(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.communicate()


@pytest.fixture
def workers(tmp_path):
    launched = Workers(tmp_path)
    yield launched
    launched.kill()


def train_in_this_process(tmp_path, monkeypatch, workdir, stage, **inputs):
    """What `train.py --config=tiny --stage=STAGE` does, without starting another Python."""
    monkeypatch.setenv("C2FDAN_CACHE", str(tmp_path / "cache"))
    run_stage(preset("tiny"), stage, workdir, verbose=0, log=lambda line: None, **inputs)


def weights_of(path):
    return keras.saving.load_model(path, compile=False).get_weights()


def sha256_of(arrays):
    """Written here, not imported: the digest the stage records of its trained weights."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def log_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def assert_workers_agree(workdir, stage, iterations, saved="generator_last.keras"):
    chief = json.loads((workdir / stage / "done.json").read_text())
    other = json.loads((workdir / stage / "workers" / "worker-1" / "done.json").read_text())
    assert chief["weights_sha256"] == other["weights_sha256"]  # bit-identical weights on both workers
    assert chief["optimizer_iterations"] == other["optimizer_iterations"] == iterations
    # The chief saved exactly the weights it trained.
    assert sha256_of(weights_of(workdir / stage / saved)) == chief["weights_sha256"]
    # The other worker wrote nothing but its own marker, and both backups are gone.
    assert sorted(p.name for p in (workdir / stage / "workers" / "worker-1").iterdir()) == ["done.json"]
    assert not (workdir / stage / "backup").exists()


def assert_matches_single_process(distributed, single, stage):
    """Same seed, same global batch of 2: each worker trains on its half of every batch.

    Tolerance: the gradients differ only by float32 summation order (all-reduce vs one
    batch, ~1e-7 relative); Adam moves a weight by at most ~lr per step, so a wrong shard
    (both workers on the same faces, a batch counted twice) differs by O(lr) = 1e-4.
    1e-5 is a tenth of one step at lr 1e-4 and 100x the differences measured here
    (3e-8 after 3 steps of either stage)."""
    for a, b in zip(weights_of(distributed / stage / "generator_last.keras"),
                    weights_of(single / stage / "generator_last.keras")):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    rows_d, rows_s = log_rows(distributed / stage / "log.csv"), log_rows(single / stage / "log.csv")
    assert len(rows_d) == len(rows_s) == 1
    assert set(rows_d[0]) == set(rows_s[0])  # the same logs, validation included
    for key, value in rows_s[0].items():  # every worker's faces count in the chief's epoch logs
        assert float(rows_d[0][key]) == pytest.approx(float(value), rel=1e-4, abs=1e-5), key


@pytest.mark.long(minutes=1.5)
def test_two_workers_train_the_full_gan_stage_like_one_process(tmp_path, workers, monkeypatch):
    # Stage full's inputs (a coarse checkpoint, an extractor): the tiny preset's networks as
    # built (what the workers must agree on does not depend on how well they were trained).
    model = preset("tiny").model
    (tmp_path / "inputs").mkdir()
    coarse, extractor = tmp_path / "inputs" / "coarse.keras", tmp_path / "inputs" / "extractor.keras"
    build_network("generator", model).save(coarse)
    build_network("extractor", model, num_identities=6).save(extractor)
    train_in_this_process(tmp_path, monkeypatch, tmp_path / "single", "full", init_from=coarse,
                          extractor_path=extractor)
    workers.start(tmp_path / "two", "--stage=full", f"--init_from={coarse}", f"--extractor={extractor}")
    for result in workers.wait():
        assert result.returncode == 0, result.stderr[-2000:]
    assert_workers_agree(tmp_path / "two", "full", iterations=3)
    assert_matches_single_process(tmp_path / "two", tmp_path / "single", "full")
    row = log_rows(tmp_path / "two" / "full" / "log.csv")[0]
    assert {"d_loss", "perceptual", "style", "val_d_loss"} <= set(row)
    # (The coarse stage runs the same GAN model and loop with the discriminators off: this test,
    # with both networks and both optimizers, stands for it; the killed-worker test trains it.)
    chief = tmp_path / "two" / "full"
    assert json.loads((chief / "config.json").read_text())["runtime"]["strategy"] == "multi_worker"
    assert sorted(p.name for p in (chief / "samples").iterdir()) == ["epoch_001.png"]


@pytest.mark.long(minutes=0.5)
def test_two_workers_train_the_extractor_to_one_model_with_averaged_batch_norm_statistics(tmp_path, workers):
    """The extractor trains through Keras' compiled loss and metrics, and its batch norm's
    moving statistics come from each worker's own faces until the loop averages them."""
    workers.start(tmp_path / "two", "--stage=extractor")
    results = workers.wait()
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
    assert_workers_agree(tmp_path / "two", "extractor", iterations=3, saved="extractor_last.keras")
    row = log_rows(tmp_path / "two" / "extractor" / "log.csv")[0]
    assert 0 <= float(row["accuracy"]) <= 1 and float(row["loss"]) > 0 and "val_accuracy" in row
    assert "rank1_identification_held_out_images" in results[0].stdout  # measured by the chief only
    assert "rank1_identification_held_out_images" not in results[1].stdout


@pytest.mark.long(minutes=1.2)
def test_a_killed_worker_resumes_both_from_the_last_backup(tmp_path, workers):
    workdir, args = tmp_path / "work", ("--stage=coarse", "--epochs=2", "--steps_per_epoch=6", "--backup_every_steps=2")
    chief, other = workers.start(workdir, *args)
    progress = workdir / "coarse" / "workers" / "worker-1" / "backup" / "progress.json"
    deadline = time.monotonic() + WORKER_SECONDS / 2
    while not progress.exists() and time.monotonic() < deadline and other.poll() is None:
        time.sleep(0.05)
    assert progress.exists(), "worker-1 wrote no backup"
    other.send_signal(signal.SIGKILL)
    survivor = chief.communicate(timeout=WORKER_SECONDS / 2)
    other.communicate()
    # The survivor notices within seconds and says how to go on, in one line.
    lines = survivor[1].strip().splitlines()
    assert chief.returncode != 0 and lines[-1].startswith("error: another worker stopped"), survivor[1][-1500:]
    assert "Traceback" not in survivor[1] and "run every worker's command again" in lines[-1]
    assert not (workdir / "coarse" / "done.json").exists()
    steps = [StepBackup(p.parent).progress()["step"]
             for p in (workdir / "coarse" / "backup" / "progress.json", progress)]
    resume_step = min(steps)
    assert 2 <= resume_step < 12 and resume_step % 2 == 0

    workers.start(workdir, *args)
    results = workers.wait()
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        assert f"resuming from the backup of step {resume_step} of 12" in result.stdout
    # 12 optimizer steps in all: the restored count went on (a restart would give 12 - step
    # without the optimizer state, 12 + step with the step counter reset).
    assert_workers_agree(workdir, "coarse", iterations=12)
    assert [row["epoch"] for row in log_rows(workdir / "coarse" / "log.csv")] == ["0", "1"]


def test_a_batch_that_does_not_split_among_the_workers_is_a_one_line_error_on_each(tmp_path, workers):
    workers.start(tmp_path / "work", "--stage=coarse", "--batch_size=3")
    for result in workers.wait():
        assert_one_line_error(result, "batch size 3", "multiple of 2")


def test_a_worker_whose_peer_never_starts_fails_in_bounded_time_with_one_line(tmp_path):
    config = json.loads(local_cluster(2)[0])  # the peer's port stays unused
    peer = config["cluster"]["worker"][1]
    start = time.monotonic()
    result = run_script("train.py", tmp_path, f"--workdir={tmp_path / 'work'}", "--config=tiny", "--stage=coarse",
                        "--strategy=multi_worker", "--worker_timeout=5", timeout=WORKER_SECONDS,
                        extra_env={"TF_CONFIG": json.dumps(config)})
    assert time.monotonic() - start < 60
    assert_one_line_error(result, peer, "5 s")
    assert not (tmp_path / "work").exists()  # nothing written before the cluster is up


@pytest.mark.parametrize("config, flag, message", [
    ("", "--seed=0", "needs the TF_CONFIG environment variable"),
    ("{not json", "--seed=0", "not a valid cluster description"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "--seed=0",
     "not a valid cluster description"),
    # XLA has no CPU collectives: the step would abort the process after the workers connected.
    ('{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}',
     "--jit_compile", "needs GPUs"),
])
def test_a_missing_or_broken_tf_config_is_a_one_line_error(tmp_path, config, flag, message):
    result = run_script("train.py", tmp_path, f"--workdir={tmp_path / 'work'}", "--config=tiny", "--stage=coarse",
                        "--strategy=multi_worker", flag, extra_env={"TF_CONFIG": config} if config else None)
    assert_one_line_error(result, message)
    assert not (tmp_path / "work").exists()


def test_worker_roles_from_tf_config():
    def role(cluster, kind, index):
        return worker_role("multi_worker", {"TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": kind, "index": index}})})

    workers_only = {"worker": ["h1:1", "h2:2", "h3:3"]}
    assert role(workers_only, "worker", 0).is_chief and role(workers_only, "worker", 0).name == "worker-0"
    assert not role(workers_only, "worker", 2).is_chief
    assert role(workers_only, "worker", 1).peers == ("h1:1", "h3:3")
    with_chief = {"chief": ["c:1"], "worker": ["h1:1"]}
    assert role(with_chief, "chief", 0).is_chief and not role(with_chief, "worker", 0).is_chief
    assert not worker_role("default").multi_worker and worker_role("mirrored").is_chief


def test_a_worker_that_is_not_the_chief_keeps_its_files_apart(tmp_path):
    chief, other = StageDirectory(tmp_path, "coarse"), StageDirectory(tmp_path, "coarse", "worker-1")
    other.prepare(preset("tiny"))
    assert not (tmp_path / "coarse" / "config.json").exists()
    other.finish({"weights_sha256": "x"})
    assert other.finished() == {"weights_sha256": "x"} and chief.finished() is None
    assert other.backup == tmp_path / "coarse" / "workers" / "worker-1" / "backup"
    other.prepare(preset("tiny"), restart=True)  # --restart empties only its own folder
    assert other.finished() is None


def test_worker_backup_keeps_the_two_newest_steps_and_names_the_newest_last(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    backup = StepBackup(tmp_path / "backup")
    assert backup.progress()["step"] == 0
    saved = {}
    for step in (2, 4, 6):
        model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
        saved[step] = [w.copy() for w in model.get_weights()]
        backup.save(model, step, epoch=0, batch=step)
    assert backup.steps() == [4, 6] and backup.progress() == {"step": 6, "epoch": 0, "batch": 6}
    backup.restore(model, 4)  # a peer killed while saving step 6 still shares step 4
    for restored, expected in zip(model.get_weights(), saved[4]):
        np.testing.assert_array_equal(restored, expected)
    assert int(model.optimizer.iterations.numpy()) == 2  # the optimizer's state came back too
    backup.remove()
    assert not (tmp_path / "backup").exists()


LOOP_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    sys.path.insert(0, sys.argv[1])
    from c2fdan_tf.models import Discriminators, Generator
    from c2fdan_tf.losses import LossWeights
    from c2fdan_tf.training.c2fdan import C2FDAN
    from c2fdan_tf.training.fit_loop import StepBackup, fit_resumable

    rng = np.random.default_rng(0)
    images = rng.uniform(size=(16, 112, 112, 3)).astype(np.float32)
    masks = (rng.uniform(size=(16, 112, 112, 1)) > 0.8).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices({"occluded": images * (1 - masks), "mask": masks, "ground_truth": images})
    train, validation = data.take(12).batch(4).repeat(), data.skip(12).batch(4)

    def build(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = C2FDAN(Generator(width=4), "full", Discriminators(4), loss_weights=LossWeights(perceptual=0, style=0))
            # SGD: Adam's invariance to a gradient scale would hide a wrong loss scaling.
            model.compile(*[keras.optimizers.SGD(2e-3) for _ in range(3)])
            model(images[:1])  # built, as the stages do, so that a backup can be saved and restored
        return model

    fit_model = build(tf.distribute.get_strategy())
    history = fit_model.fit(train, epochs=2, steps_per_epoch=3, validation_data=validation, verbose=0).history
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    loop_model = build(mirrored)
    loop = fit_resumable(loop_model, mirrored, StepBackup(sys.argv[2]), train, epochs=2, steps_per_epoch=3,
                              validation_data=validation, callbacks=[], verbose=0)
    gap = max(float(np.abs(a - b).max()) for a, b in zip(fit_model.get_weights(), loop_model.get_weights()))
    print(json.dumps({"fit": history, "loop": loop, "weight_gap": gap}))
    """
)


@pytest.mark.long(minutes=0.7)
def test_the_workers_loop_logs_and_trains_like_keras_fit(tmp_path):
    """The multi-worker loop under MirroredStrategy on two logical CPUs (its all-reduce and
    batch splitting, without processes) against Keras' fit in one: the same epochs, the same
    per-epoch training and validation logs, the same weights."""
    result = subprocess.run([sys.executable, "-c", LOOP_SCRIPT, str(ROOT), str(tmp_path / "backup")],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(out["loop"]) == set(out["fit"]) and "val_d_loss" in out["fit"]
    for key, values in out["fit"].items():
        assert len(values) == 2
        np.testing.assert_allclose(out["loop"][key], values, rtol=1e-4, atol=1e-5, err_msg=key)
    assert out["weight_gap"] < 1e-5
    assert not (tmp_path / "backup").exists()  # saved every epoch, removed at the end
