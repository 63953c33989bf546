"""How a stage's training model is trained: a loop of our own around the model's
`train_step` and `test_step`, with Keras callbacks, logs and progress bar, that resumes an
interrupted run at the exact step of its newest backup -- in one process as across workers.

Keras' `fit` resumes a `BackupAndRestore` backup at the start of its last epoch (it replays
the epoch's finished steps: on a real dataset an epoch is one pass, hundreds of thousands of
steps), and Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585).
The loop (`fit_resumable`) runs the step through `strategy.run` inside a `tf.function`
on batches from `strategy.experimental_distribute_dataset` (the default strategy in one
process, `MirroredStrategy` on several local devices, `MultiWorkerMirroredStrategy` across
machines). Across workers every global batch is split between them (auto-shard policy DATA:
the batches are numbered by the seed, so worker i takes the i-th slice of every global batch
and the workers together see exactly the batches of a one-process run). The step's losses
are already means over the global batch (`tf.nn.compute_average_loss`) and the optimizers
all-reduce the gradients. Each epoch's logs are the metrics over all workers. Every process
keeps a backup of its own (`StepBackup`: weights, every optimizer's state, step) and resumes
from the newest step all have: the step count, the learning-rate schedules, the epoch
boundaries and the data stream (`train_data(start_batch)`) go on as if uninterrupted.
"""

import hashlib
import json
import math
import os
import re
from pathlib import Path

import keras
import tensorflow as tf


def fit_stage(model, runtime, backup_folder, train_data, *, epochs, steps_per_epoch, validation_data, callbacks,
              verbose):
    """Trains the compiled, built `model` (in `runtime.strategy`'s scope, a `runtime.Runtime`);
    returns the history dict {log name: one value per epoch}. `train_data(start_batch)` gives
    the training batches from batch `start_batch` on; resumes from `backup_folder`."""
    backup = StepBackup(backup_folder)
    backup.adopt_keras_backup(steps_per_epoch)
    return fit_resumable(model, runtime.strategy, backup, train_data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                         validation_data=validation_data, callbacks=callbacks if runtime.role.is_chief else [],
                         verbose=verbose, backup_every_steps=runtime.backup_every_steps,
                         jit_compile=runtime.jit_compile, multi_worker=runtime.role.multi_worker)


class StepBackup:
    """One process's backup: the training model's weights with every optimizer's state as
    `step-<N>.weights.h5`, and `progress.json` naming the newest (written last, atomically);
    the two newest are kept, so a process killed while writing still has a whole one (and a
    worker still shares a step with its peers)."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def progress(self):
        try:
            return json.loads((self.folder / "progress.json").read_text())
        except (OSError, ValueError):
            return {"step": 0, "epoch": 0, "batch": 0}

    def _path(self, step):
        return self.folder / f"step-{step:09d}.weights.h5"

    def steps(self):
        return sorted(int(p.name[5:14]) for p in self.folder.glob("step-*.weights.h5"))

    def save(self, model, step, epoch, batch):
        self.folder.mkdir(parents=True, exist_ok=True)
        model.save_weights(self._path(step), overwrite=True)
        self.save_progress(step, epoch, batch)
        for old in self.steps()[:-2]:
            self._path(old).unlink()

    def adopt_keras_backup(self, steps_per_epoch):
        """Takes over a backup of Keras' `BackupAndRestore` (what one-process runs of earlier
        releases wrote: `latest.weights.h5` after `epoch` whole epochs and, saved mid-epoch,
        the index `batch` of the epoch's last batch), so that such an interrupted run resumes too."""
        weights, metadata = self.folder / "latest.weights.h5", self.folder / "training_metadata.json"
        if (self.folder / "progress.json").exists() or not (weights.exists() and metadata.exists()):
            return
        try:
            saved = json.loads(metadata.read_text())
            epoch, batch = int(saved["epoch"]), int(saved.get("batch", 0))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return
        step = epoch * steps_per_epoch + (batch + 1 if batch else 0)
        if step > 0:
            os.replace(weights, self._path(step))
            self.save_progress(step, epoch, step - epoch * steps_per_epoch)
        metadata.unlink()

    def save_progress(self, step, epoch, batch):
        progress = self.folder / "progress.json"
        progress.with_suffix(".tmp").write_text(json.dumps({"step": step, "epoch": epoch, "batch": batch}))
        os.replace(progress.with_suffix(".tmp"), progress)

    def has(self, step):
        return self._path(step).exists()

    def restore(self, model, step):
        if model.optimizer is not None and not model.optimizer.built:  # else its state is skipped
            model.optimizer.build(model.trainable_variables)
        model.load_weights(self._path(step))

    def remove(self):
        for path in self.folder.glob("*"):
            path.unlink()
        if self.folder.exists():
            self.folder.rmdir()


def _gather(strategy, value):
    """`value` (an int) of every worker, gathered by all of them."""
    per_replica = strategy.run(lambda: tf.constant([value], tf.int64))
    return [int(v) for v in strategy.gather(per_replica, axis=0).numpy()]


class WorkerLost(ValueError):
    """Another worker stopped (killed, crashed, unreachable) while this one trained."""


def weights_sha256(variables):
    """The SHA-256 of the variables' values in order: equal on two workers when every weight
    is bit-identical."""
    digest = hashlib.sha256()
    for variable in variables:
        digest.update(keras.ops.convert_to_numpy(variable).tobytes())
    return digest.hexdigest()


def optimizers_of(model):
    """{attribute name: optimizer} of a compiled training model (`optimizer`, and a GAN's
    others, such as C2FDAN's pretrained and discriminator optimizers)."""
    found = {"optimizer": model.optimizer}
    for name, value in vars(model).items():
        if isinstance(value, keras.optimizers.Optimizer) and all(value is not o for o in found.values()):
            found[name] = value
    return found


def trained_state(model, network):
    """What a stage's done.json records of its training: the trained network's weights'
    SHA-256, the optimizer's step count and every optimizer's learning rate at the end (all
    continue across a resumed run)."""
    return {"weights_sha256": weights_sha256(network.weights),
            "optimizer_iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
            "learning_rates": {name: float(keras.ops.convert_to_numpy(optimizer.learning_rate))
                               for name, optimizer in optimizers_of(model).items()}}


def _agree_on_start(model, strategy, backup):
    """The newest backup step every worker has, restored on all of them (0: from scratch)."""
    step = min(_gather(strategy, backup.progress()["step"]))
    missing = step > 0 and not backup.has(step)
    if max(_gather(strategy, int(missing))):
        raise ValueError(f"The workers' backups share no step (the newest all have is {step}, missing in "
                         f"{backup.folder} or a peer's): re-run every worker with --restart.")
    if step > 0:
        backup.restore(model, step)
    return step


def fit_resumable(model, strategy, backup, train_data, *, epochs, steps_per_epoch, validation_data, callbacks,
                  verbose=1, backup_every_steps=0, jit_compile=False, multi_worker=False):
    """The `fit` of one process of `strategy` (see the module docstring); `callbacks` are
    Keras callbacks (across workers, give them to the chief only). `train_data(start_batch)`
    repeats and starts at that batch (a dataset instead: it is used as it is, for a fresh run);
    returns the history dict."""
    make_train_data = train_data if callable(train_data) else lambda start: train_data
    global_batch = tf.nest.flatten(make_train_data(0).element_spec)[0].shape[0]
    replicas = strategy.num_replicas_in_sync
    if global_batch is not None and global_batch % replicas:
        raise ValueError(f"The batch size {global_batch} does not split evenly among {replicas} replicas; "
                         f"pass a --batch_size that is a multiple of {replicas}.")
    loop = _TrainingLoop(model, strategy, backup, validation_data, jit_compile, multi_worker)
    try:
        return loop.run(make_train_data, epochs, steps_per_epoch, callbacks, verbose, backup_every_steps)
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
            tf.errors.DeadlineExceededError) as error:
        raise WorkerLost(f"another worker stopped during training ({_reason(error)}); run every worker's command "
                         f"again to resume from the backup in {backup.folder} (step {backup.progress()['step']})."
                         ) from None


def _reason(error):
    """The informative line of a collective failure ("Socket closed", "Connection refused")."""
    found = re.findall(r'grpc_message:"([^"]+)"', error.message or "")
    lines = [line.strip() for line in (error.message or "").splitlines()
             if line.strip() and not line.startswith(("Graph execution error", "Detected at node"))]
    return found[-1] if found else (lines[0] if lines else type(error).__name__)


class _TrainingLoop:
    """The traced functions every process runs (across workers, in step with the others)."""

    def __init__(self, model, strategy, backup, validation_data, jit_compile, multi_worker):
        self.model, self.strategy, self.backup, self.multi_worker = model, strategy, backup, multi_worker
        self.options = tf.data.Options()
        self.options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        self.validation = None
        if validation_data is not None:
            self.validation = strategy.experimental_distribute_dataset(validation_data.with_options(self.options))
        self.train_step = tf.function(model.train_step, jit_compile=True) if jit_compile else model.train_step
        self.statistics = [v for v in model.non_trainable_variables if v.dtype.startswith("float")]

    @tf.function
    def train_function(self, iterator):
        outputs = self.strategy.run(self.train_step, args=(next(iterator),))
        return {name: self.strategy.experimental_local_results(value)[0] for name, value in outputs.items()}

    @tf.function
    def test_function(self, batch):
        self.strategy.run(self.model.test_step, args=(batch,))

    @tf.function
    def global_metrics(self):  # read outside the replicas: summed over every worker
        return self.model.get_metrics_result()

    @tf.function
    def average_statistics(self):
        """Batch-norm moving statistics are updated from each worker's own slice of the batch:
        replace them by their mean over the workers (the EMA of the mean batch mean), so that
        every worker holds the same model (and the chief saves what all trained)."""
        for variable in self.statistics:
            local = self.strategy.run(lambda v=variable: tf.identity(v.value))
            variable.assign(self.strategy.reduce(tf.distribute.ReduceOp.MEAN, local, axis=None))

    def _epoch_logs(self):
        return {name: float(value) for name, value in self.global_metrics().items()}

    def run(self, make_train_data, epochs, steps_per_epoch, callbacks, verbose, backup_every_steps):
        model, backup = self.model, self.backup
        step = _agree_on_start(model, self.strategy, backup)
        if step:
            print(f"resuming from the backup of step {step} of {epochs * steps_per_epoch} ({backup.folder})")
        batches = iter(self.strategy.experimental_distribute_dataset(make_train_data(step).with_options(self.options)))
        if not self.multi_worker:  # across workers, the epoch-end check below stops all of them together
            callbacks = [*callbacks, keras.callbacks.TerminateOnNaN()]
        model.stop_training = False
        history = keras.callbacks.History()
        callbacks = keras.callbacks.CallbackList([*callbacks, history], add_progbar=verbose != 0 and bool(callbacks),
                                                 model=model, verbose=verbose, epochs=epochs, steps=steps_per_epoch)
        callbacks.on_train_begin()
        logs = {}
        for epoch in range(step // steps_per_epoch, epochs):
            model.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            for batch in range(step - epoch * steps_per_epoch, steps_per_epoch):
                callbacks.on_train_batch_begin(batch)
                batch_logs = self.train_function(batches)
                step += 1
                callbacks.on_train_batch_end(batch, {name: float(value) for name, value in batch_logs.items()})
                if model.stop_training:
                    break
                if backup_every_steps and step % backup_every_steps == 0 and batch + 1 < steps_per_epoch:
                    backup.save(model, step, epoch, batch + 1)
            logs = self._epoch_logs()
            if self.statistics:
                self.average_statistics()
            if self.validation is not None:
                model.reset_metrics()
                for batch in self.validation:
                    self.test_function(batch)
                logs.update({f"val_{name}": value for name, value in self._epoch_logs().items()})
            callbacks.on_epoch_end(epoch, logs)
            if model.stop_training:
                break  # TerminateOnNaN or a user's callback (one process only); the backup stays
            backup.save(model, step, epoch + 1, 0)
            if not all(math.isfinite(value) for value in logs.values()):
                break  # every worker sees the same global logs, so all stop here (as TerminateOnNaN)
        callbacks.on_train_end(logs)
        if self.multi_worker and len(set(_gather(self.strategy, int(weights_sha256(model.weights)[:15], 16)))) != 1:
            raise ValueError(f"The workers finished with different weights; the backup in {backup.folder} is kept.")
        if not model.stop_training:
            backup.remove()
        return history.history
