"""Callbacks of the training runs."""

import importlib.util
import json
import logging
import math
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from c2fdan_tf.models.checkpoints import save_model


logger = logging.getLogger(__name__)


def tensorboard_available():
    return importlib.util.find_spec("tensorboard") is not None


def stage_callbacks(stage_dir, model_to_save, prefix, monitor):
    """Every stage's result files: best and last checkpoints by `monitor`, CSV log,
    TensorBoard when installed (backup and stop on NaN: `fit_loop.fit_stage`)."""
    callbacks = [
        SaveBestAndLast(model_to_save, stage_dir, prefix, monitor, mode="max"),
        keras.callbacks.CSVLogger(str(Path(stage_dir) / "log.csv"), append=True),
    ]
    if tensorboard_available():
        callbacks.append(keras.callbacks.TensorBoard(str(Path(stage_dir) / "tensorboard"), update_freq="epoch"))
    else:
        logger.warning("tensorboard is not installed: no TensorBoard logs (pip install tensorboard).")
    return callbacks


class SaveBestAndLast(keras.callbacks.Callback):
    """Saves `model_to_save` as `<prefix>_last.keras` every epoch and as
    `<prefix>_best.keras` when the monitored log value improves. The best value
    is kept in `<prefix>_best.json`, so a resumed run compares against it."""

    def __init__(self, model_to_save, directory, prefix, monitor, mode="max"):
        super().__init__()
        self.model_to_save = model_to_save
        self.last_path = Path(directory) / f"{prefix}_last.keras"
        self.best_path = Path(directory) / f"{prefix}_best.keras"
        self.record_path = Path(directory) / f"{prefix}_best.json"
        self.monitor, self.mode = monitor, mode
        self.best = -math.inf if mode == "max" else math.inf
        if self.record_path.exists() and self.best_path.exists():
            self.best = json.loads(self.record_path.read_text())["value"]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        save_model(self.model_to_save, self.last_path)
        value = logs.get(self.monitor)
        if value is None:
            if not self.best_path.exists():
                save_model(self.model_to_save, self.best_path)
            return
        better = value > self.best if self.mode == "max" else value < self.best
        if better or not self.best_path.exists():
            self.best = float(value)
            save_model(self.model_to_save, self.best_path)
            record = {"monitor": self.monitor, "value": self.best, "epoch": epoch + 1}
            self.record_path.write_text(json.dumps(record))


GENERATOR_COLUMNS = ("mask", "coarse_completed", "completed")  # occluded | mask | coarse | final | truth


def completion_grid(outputs, batch, columns=GENERATOR_COLUMNS):
    """uint8 rows of (occluded | the `columns` of the network's outputs | ground truth);
    one-channel outputs (the mask) are shown in grey."""
    def rgb(x):
        x = np.asarray(x)
        return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x

    parts = [batch["occluded"].numpy()] + [rgb(outputs[key]) for key in columns] + [batch["ground_truth"].numpy()]
    rows = np.concatenate(parts, axis=2)
    return np.round(np.clip(np.concatenate(list(rows), axis=0), 0, 1) * 255).astype(np.uint8)


class CompletionSamples(keras.callbacks.Callback):
    """Every epoch, runs `network` on a fixed batch and writes the grid of `completion_grid`
    as a PNG (and as a TensorBoard image when TensorBoard is installed). The coarse stage
    shows its coarse result in both the coarse and the final column."""

    def __init__(self, network, batch, directory, log_dir=None, columns=GENERATOR_COLUMNS):
        super().__init__()
        self.network, self.batch, self.columns = network, batch, tuple(columns)
        self.directory = Path(directory)
        self.log_dir = log_dir if log_dir and tensorboard_available() else None
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        outputs = self.network(self.batch["occluded"], training=False)
        grid = completion_grid(outputs, self.batch, self.columns)
        self.directory.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(self.directory / f"epoch_{epoch + 1:03d}.png")
        if self.log_dir is not None:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(Path(self.log_dir) / "samples"))
            with self._writer.as_default():
                tf.summary.image("|".join(("occluded",) + self.columns + ("truth",)), grid[None], step=epoch + 1)
            self._writer.flush()
