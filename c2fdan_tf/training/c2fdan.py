"""The C2FDAN training model: a conditional GAN with a custom train_step."""

import keras
import tensorflow as tf
from keras import ops

from c2fdan_tf import image_metrics
from c2fdan_tf.data.occluders.paper import TEXT
from c2fdan_tf.losses import discriminator_loss, generator_loss
from c2fdan_tf.training.stage import GeneratorStage


def _global_mean(per_example):
    """Mean over the *global* batch: the per-replica sum divided by the global size.

    Gradients are summed across replicas, so this is the right scaling under
    tf.distribute (a plain mean would be `replicas` times too large)."""
    return tf.nn.compute_average_loss(per_example)


class C2FDAN(keras.Model):
    """Trains the generator (and discriminators) with the paper's losses.

    stage "coarse" (Sec. IV-A, step 1): only the coarse network, pixel-wise
    losses (mask BCE, occluded and non-occluded L1). stage "full" (step 2): the
    whole generator and the seven discriminators, alternating a discriminator
    update and a generator update per batch; identity losses through the frozen
    face feature extractor.

    Usable from Python:

        model = C2FDAN(generator, "full", discriminators, extractor)
        model.compile(optimizer=keras.optimizers.Adam(1e-4),
                      pretrained_optimizer=keras.optimizers.Adam(5e-5),
                      discriminator_optimizer=keras.optimizers.Adam(1e-4))
        model.fit(dataset, epochs=5, callbacks=[...])

    `dataset` yields dicts with "occluded", "mask" and "ground_truth" (see
    `c2fdan_tf.data.pipelines`). Every loss term, the PSNR of the completed
    face and the mask IoU are tracked as metrics.

    Args:
        generator: a `Generator`.
        stage: a `GeneratorStage`, or its name "coarse" or "full" (with
            `loss_weights`).
        discriminators: `Discriminators` (needed when the adversarial weight > 0).
        feature_extractor: a trained `FaceFeatureExtractor` (needed for the
            perceptual / style terms); frozen here.
        loss_weights: `LossWeights`; default: the paper's weights of the stage.
    """

    def __init__(
        self, generator, stage="full", discriminators=None, feature_extractor=None, loss_weights=None, **kwargs
    ):
        super().__init__(**kwargs)
        if not isinstance(stage, GeneratorStage):
            stage = GeneratorStage.named(stage, loss_weights)
        if stage.needs_discriminators and discriminators is None:
            raise ValueError("An adversarial weight > 0 needs discriminators.")
        if stage.needs_extractor and feature_extractor is None:
            raise ValueError("Perceptual/style weights > 0 need a trained face feature extractor.")
        self.generator = generator
        self.stage = stage
        self.loss_weights = stage.losses
        self.discriminators = discriminators if stage.needs_discriminators else None
        self.feature_extractor = feature_extractor if stage.needs_extractor else None
        if self.feature_extractor is not None:
            self.feature_extractor.trainable = False
        names = ["g_loss"] + [name for name, on in self._term_switches() if on]
        if self.discriminators is not None:
            names += ["d_loss", "d_real", "d_fake"]
        names += ["psnr", "mask_iou", "text_left"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def _term_switches(self):
        w = self.loss_weights
        return [
            ("mask_bce", w.mask),
            ("mask_dice", w.mask_dice),
            ("occluded_l1", w.occluded),
            ("occluded_l1_fine", w.occluded and w.occluded_on_fine),
            ("non_occluded_l1", w.non_occluded),
            ("perceptual", w.perceptual),
            ("style", w.style),
            ("g_adversarial", w.adversarial),
        ]

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def trained_network(self):
        return self.stage.trained_network(self.generator)

    def call(self, inputs, training=False):
        # A training batch (dict) or the occluded images themselves.
        images = inputs["occluded"] if isinstance(inputs, dict) else inputs
        return self.trained_network(images, training=training)

    # ------------------------------------------------------------------ compile

    def compile(self, optimizer, pretrained_optimizer=None, discriminator_optimizer=None, **kwargs):
        """`optimizer` trains the coarse net (stage coarse) or the new, fine weights
        (stage full); `pretrained_optimizer` the pretrained coarse weights (stage
        full); `discriminator_optimizer` the discriminators. One optimizer per
        variable set, each built here so BackupAndRestore restores its state."""
        mixed = keras.mixed_precision.global_policy().name == "mixed_float16"

        def prepare(opt):
            if opt is not None and mixed and not isinstance(opt, keras.optimizers.LossScaleOptimizer):
                return keras.optimizers.LossScaleOptimizer(opt)
            return opt

        self.generator_optimizer = prepare(optimizer)
        self.pretrained_optimizer = prepare(pretrained_optimizer)
        self.discriminator_optimizer = prepare(discriminator_optimizer)
        super().compile(optimizer=self.generator_optimizer, **kwargs)
        for role, variables in self.stage.variable_groups(self.generator).items():
            if self._optimizer(role) is None:
                raise ValueError(f"Stage {self.stage.name} needs a {role}_optimizer.")
            self._optimizer(role).build(variables)
        if self.discriminators is not None:
            if self.discriminator_optimizer is None:
                raise ValueError("Adversarial training needs a discriminator_optimizer.")
            self.discriminator_optimizer.build(self.discriminators.trainable_variables)

    def _optimizer(self, role):
        return {"generator": self.generator_optimizer, "pretrained": self.pretrained_optimizer}[role]

    # ------------------------------------------------------------------ steps

    def _identity_features(self, outputs, truth):
        """Extractor feature maps of I_f, I_f,r and I_gt, from one batched call."""
        if self.feature_extractor is None:
            return None
        images = ops.concatenate([outputs["fine"], outputs["completed"], truth], axis=0)
        features = self.feature_extractor(images, training=False)
        split = {level: tf.split(features[level], 3, axis=0) for level in ("block1", "block3")}
        return {
            key: {level: split[level][i] for level in split}
            for i, key in enumerate(("fine", "completed", "ground_truth"))
        }

    def _generator_terms(self, batch, outputs, training):
        fake_logits = None
        if self.discriminators is not None:
            fake_logits = self.discriminators([outputs["completed"], batch["occluded"]], training=training)
        features = self._identity_features(outputs, batch["ground_truth"])
        return generator_loss(self.loss_weights, batch, outputs, features, fake_logits)

    def _discriminator_step(self, batch, completed):
        with tf.GradientTape() as tape:
            fake = self.discriminators([ops.stop_gradient(completed), batch["occluded"]], training=True)
            real = self.discriminators([batch["ground_truth"], batch["occluded"]], training=True)
            per_example, terms = discriminator_loss(real, fake)
            loss = _global_mean(per_example)
            scaled = self._scale(self.discriminator_optimizer, loss)
        variables = self.discriminators.trainable_variables
        self.discriminator_optimizer.apply(tape.gradient(scaled, variables), variables)
        return per_example, terms

    @staticmethod
    def _scale(optimizer, loss):
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return optimizer.scale_loss(loss)
        return loss

    def _apply_generator_gradients(self, tape, scaled_loss):
        groups = self.stage.variable_groups(self.generator)
        variables = [v for group in groups.values() for v in group]
        grads = tape.gradient(scaled_loss, variables)
        start = 0
        for role, group in groups.items():
            optimizer, part = self._optimizer(role), grads[start : start + len(group)]
            start += len(group)
            if optimizer is not self.generator_optimizer and isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                # One backward pass serves both optimizers: rescale to this one's loss scale
                # (a power-of-two ratio, exact).
                ratio = optimizer.dynamic_scale / self.generator_optimizer.dynamic_scale
                part = [g * ops.cast(ratio, g.dtype) for g in part]
            optimizer.apply(part, group)

    def _forward(self, images, training):
        outputs = dict(self.trained_network(images, training=training))
        if not self.stage.trains_fine_network:  # the coarse network alone: blend here
            mask = outputs["mask"]
            outputs["coarse_completed"] = (1.0 - mask) * images + mask * outputs["coarse"]  # Eq. 2
        return outputs

    def train_step(self, data):
        batch = data
        d_total = d_terms = None
        with tf.GradientTape() as tape:
            outputs = self._forward(batch["occluded"], training=True)
            if self.discriminators is not None:
                with tape.stop_recording():  # alternate: the discriminators first
                    d_total, d_terms = self._discriminator_step(batch, outputs["completed"])
            total, terms = self._generator_terms(batch, outputs, training=True)
            scaled = self._scale(self.generator_optimizer, _global_mean(total))
        self._apply_generator_gradients(tape, scaled)
        self._track(batch, outputs, total, terms, d_total, d_terms)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        batch = data
        outputs = self._forward(batch["occluded"], training=False)
        total, terms = self._generator_terms(batch, outputs, training=False)
        d_total = d_terms = None
        if self.discriminators is not None:
            fake = self.discriminators([outputs["completed"], batch["occluded"]], training=False)
            real = self.discriminators([batch["ground_truth"], batch["occluded"]], training=False)
            d_total, d_terms = discriminator_loss(real, fake)
        self._track(batch, outputs, total, terms, d_total, d_terms)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def _track(self, batch, outputs, total, terms, d_total, d_terms):
        self.trackers["g_loss"].update_state(total)
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        if d_terms is not None:
            self.trackers["d_loss"].update_state(d_total)
            for name, value in d_terms.items():
                self.trackers[name].update_state(value)
        self.trackers["psnr"].update_state(
            image_metrics.psnr(outputs[self.stage.completed_key], batch["ground_truth"]))
        self.trackers["mask_iou"].update_state(image_metrics.mask_iou(outputs["mask"], batch["mask"]))
        if "form" in batch:  # text left: the text examples' pooled occluder residual (a weighted mean)
            left, before = image_metrics.occluder_contrast(
                outputs[self.stage.completed_key], batch["occluded"], batch["ground_truth"], batch["mask"])
            weight = before * ops.cast(ops.equal(batch["form"], TEXT), "float32")
            self.trackers["text_left"].update_state(tf.math.divide_no_nan(left, before), sample_weight=weight)
