"""The BVMR baseline's training model: one optimizer over the whole network (its code's
per-part Adams at one learning rate are the same update), its own loss
(`losses.motif_removal_loss`), the same batches as C2FDAN's stages."""

import keras
import tensorflow as tf

from c2fdan_tf import image_metrics
from c2fdan_tf.losses import motif_removal_loss

METRIC_NAMES = ("loss", "image_l1", "motif_l1", "mask_bce", "psnr", "mask_iou")


class MotifRemovalTraining(keras.Model):
    """Trains a `BlindMotifRemoval` network on dicts of "occluded", "mask", "ground_truth".

        model = MotifRemovalTraining(BlindMotifRemoval(width=8))
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(training_dataset(...), ...)

    Tracks the loss and its terms, the PSNR of the blended result and the mask IoU."""

    def __init__(self, network, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.trackers = {name: keras.metrics.Mean(name=name) for name in METRIC_NAMES}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, optimizer, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)  # wrapped in a LossScaleOptimizer under mixed_float16
        self.optimizer.build(self.network.trainable_variables)  # so that a backup restores its state

    def call(self, inputs, training=False):
        images = inputs["occluded"] if isinstance(inputs, dict) else inputs
        return self.network(images, training=training)

    def train_step(self, batch):
        with tf.GradientTape() as tape:
            outputs = self.network(batch["occluded"], training=True)
            total, terms = motif_removal_loss(batch, outputs)
            # The mean over the *global* batch: replicas' gradients are summed under tf.distribute.
            scaled = self.optimizer.scale_loss(tf.nn.compute_average_loss(total))
        variables = self.network.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        return self._track(batch, outputs, total, terms)

    def test_step(self, batch):
        outputs = self.network(batch["occluded"], training=False)
        return self._track(batch, outputs, *motif_removal_loss(batch, outputs))

    def _track(self, batch, outputs, total, terms):
        self.trackers["loss"].update_state(total)
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        self.trackers["psnr"].update_state(image_metrics.psnr(outputs["completed"], batch["ground_truth"]))
        self.trackers["mask_iou"].update_state(image_metrics.mask_iou(outputs["mask"], batch["mask"]))
        return {name: tracker.result() for name, tracker in self.trackers.items()}
