"""How a stage's training model is trained: Keras' `fit` in one process, and under
`--strategy=multi_worker`, where Keras 3's `fit` fails (keras-team/keras#20585), a loop of
our own around the *same* `train_step` and `test_step`, with the same callbacks and logs.

The loop (`fit_across_workers`) runs the step through `strategy.run` inside a `tf.function`
on batches from `strategy.experimental_distribute_dataset`: every global batch is split
between the workers (auto-shard policy DATA: the batches are numbered by the seed, so worker
i takes the i-th slice of every global batch and the workers together see exactly the
batches of a one-process run). The step's losses are already means over the global batch
(`tf.nn.compute_average_loss`) and the optimizers all-reduce the gradients. Each epoch's
logs are the metrics over all workers. Every worker keeps a backup of its own
(`WorkerBackup`) and resumes from the newest step all workers have.
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
    returns the history dict {log name: one value per epoch}. Resumes from `backup_folder`."""
    if runtime.role.multi_worker:
        return fit_across_workers(model, runtime.strategy, WorkerBackup(backup_folder), train_data, epochs=epochs,
                                  steps_per_epoch=steps_per_epoch, validation_data=validation_data,
                                  callbacks=callbacks if runtime.role.is_chief else [], verbose=verbose,
                                  backup_every_steps=runtime.backup_every_steps, jit_compile=runtime.jit_compile)
    backup = keras.callbacks.BackupAndRestore(str(backup_folder), save_freq=runtime.backup_every_steps or "epoch",
                                              delete_checkpoint=True)
    history = model.fit(train_data, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=validation_data,
                        callbacks=[backup, *callbacks, keras.callbacks.TerminateOnNaN()], verbose=verbose,
                        shuffle=False)
    return history.history


def batches_done(runtime, backup_folder, steps_per_epoch):
    """Training batches an interrupted run already consumed (0 for a fresh one): the data
    stream of a resumed run starts there. `fit` resumes at the start of its last epoch."""
    if runtime.role.multi_worker:
        return WorkerBackup(backup_folder).progress()["step"]
    try:
        epoch = json.loads((Path(backup_folder) / "training_metadata.json").read_text())["epoch"]
        return int(epoch) * steps_per_epoch
    except (OSError, ValueError, KeyError):
        return 0


class WorkerBackup:
    """One worker's backup: the training model's weights with every optimizer's state as
    `step-<N>.weights.h5`, and `progress.json` naming the newest (written last, atomically);
    the two newest are kept, so a worker killed while writing still shares a step with its
    peers."""

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
        progress = self.folder / "progress.json"
        progress.with_suffix(".tmp").write_text(json.dumps({"step": step, "epoch": epoch, "batch": batch}))
        os.replace(progress.with_suffix(".tmp"), progress)
        for old in self.steps()[:-2]:
            self._path(old).unlink()

    def has(self, step):
        return self._path(step).exists()

    def restore(self, model, step):
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


def trained_state(model, network):
    """What a stage's done.json records of its training: the trained network's weights'
    SHA-256 and the optimizer's step count (both continue across a resumed run)."""
    return {"weights_sha256": weights_sha256(network.weights), "optimizer_iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations))}


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


def fit_across_workers(model, strategy, backup, train_data, *, epochs, steps_per_epoch, validation_data, callbacks,
                       verbose=1, backup_every_steps=0, jit_compile=False):
    """The `fit` of one worker of `strategy` (see the module docstring); `callbacks` are
    Keras callbacks (give them to the chief only). `train_data` repeats and starts at the
    batch `batches_done` returned; returns the history dict."""
    global_batch = tf.nest.flatten(train_data.element_spec)[0].shape[0]
    replicas = strategy.num_replicas_in_sync
    if global_batch is not None and global_batch % replicas:
        raise ValueError(f"The batch size {global_batch} does not split evenly among {replicas} replicas; "
                         f"pass a --batch_size that is a multiple of {replicas}.")
    loop = _WorkerLoop(model, strategy, backup, train_data, validation_data, jit_compile)
    try:
        return loop.run(epochs, steps_per_epoch, callbacks, verbose, backup_every_steps)
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


class _WorkerLoop:
    """The traced functions every worker runs in step with the others."""

    def __init__(self, model, strategy, backup, train_data, validation_data, jit_compile):
        self.model, self.strategy, self.backup = model, strategy, backup
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        self.batches = iter(strategy.experimental_distribute_dataset(train_data.with_options(options)))
        self.validation = None
        if validation_data is not None:
            self.validation = strategy.experimental_distribute_dataset(validation_data.with_options(options))
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

    def run(self, epochs, steps_per_epoch, callbacks, verbose, backup_every_steps):
        model, backup = self.model, self.backup
        step = _agree_on_start(model, self.strategy, backup)
        if step:
            print(f"resuming from the backup of step {step} of {epochs * steps_per_epoch} ({backup.folder})")
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
                batch_logs = self.train_function(self.batches)
                step += 1
                callbacks.on_train_batch_end(batch, {name: float(value) for name, value in batch_logs.items()})
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
            backup.save(model, step, epoch + 1, 0)
            if not all(math.isfinite(value) for value in logs.values()):
                break  # every worker sees the same global logs, so all stop here (as TerminateOnNaN)
        callbacks.on_train_end(logs)
        if len(set(_gather(self.strategy, int(weights_sha256(model.weights)[:15], 16)))) != 1:
            raise ValueError(f"The workers finished with different weights; the backup in {backup.folder} is kept.")
        backup.remove()
        return history.history
