"""Training configuration: a dataclass with named presets, overridden by flags.

The resolved configuration of every run is written into its work directory.
"""

import dataclasses
import json

from c2fdan_tf.losses import LossWeights

STAGE_NAMES = ("extractor", "coarse", "full")


@dataclasses.dataclass
class TrainConfig:
    # Generator and discriminators.
    width: int = 64
    attention: str = "both"
    cross_attention_mode: str = "hard"
    discriminator_width: int = 64
    # Face feature extractor.
    extractor_architecture: str = "resnet50v2"
    extractor_width: int = 32
    extractor_blocks: tuple = (1, 1, 1, 1)
    # Data: "synth" or a path; sizes of the built-in synthetic set.
    data: str = "synth"
    synth_identities: int = 2000
    synth_images_per_identity: int = 24
    synth_eval_identities: int = 200
    holdout_every: int = 8  # every 8th image of an identity is held out for validation
    seed: int = 0
    # Schedule. The extractor has its own batch size and steps (a classifier wants
    # larger batches than the GAN's 8).
    batch_size: int = 8
    extractor_batch_size: int = 64
    extractor_steps_per_epoch: int = 0  # 0: one pass over the training data per epoch
    extractor_epochs: int = 20
    coarse_epochs: int = 1
    full_epochs: int = 5
    steps_per_epoch: int = 0  # stages coarse and full; 0: one pass over the data per epoch
    validation_steps: int = 20
    backup_every_steps: int = 0  # 0: back up at the end of every epoch
    # Learning rates (Adam).
    extractor_learning_rate: float = 1e-3
    coarse_learning_rate: float = 2e-4
    learning_rate: float = 1e-4  # new (fine) weights in stage full
    pretrained_learning_rate: float = 5e-5  # the pretrained coarse weights in stage full
    discriminator_learning_rate: float = 1e-4
    learning_rate_decay: float = 0.1  # per epoch in stage full (paper)
    gan_beta_1: float = 0.5  # [decision] Adam beta_1 of the GAN stage
    # Stage-1 mask weight (the paper: 1; more makes the shared encoder learn the mask sooner).
    coarse_mask_weight: float = 1.0
    # Stage-2 loss weights (Eq. 4).
    mask_weight: float = 10.0
    occluded_weight: float = 3.0
    non_occluded_weight: float = 1.0
    perceptual_weight: float = 0.1
    style_weight: float = 240.0
    adversarial_weight: float = 1.0
    occluded_on_fine: bool = False
    # Runtime.
    strategy: str = "default"
    mixed_precision: bool = False
    jit_compile: bool = False

    def loss_weights(self):
        return LossWeights(
            mask=self.mask_weight,
            occluded=self.occluded_weight,
            non_occluded=self.non_occluded_weight,
            perceptual=self.perceptual_weight,
            style=self.style_weight,
            adversarial=self.adversarial_weight,
            occluded_on_fine=self.occluded_on_fine,
        )

    def coarse_loss_weights(self):
        return dataclasses.replace(LossWeights.coarse_stage(), mask=self.coarse_mask_weight)

    def epochs(self, stage):
        return {"extractor": self.extractor_epochs, "coarse": self.coarse_epochs, "full": self.full_epochs}[stage]

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)


PRESETS = {
    # The paper's recipe (Sec. IV-A): width 64, batch 8, ResNet50-v2 extractor for 20
    # epochs, coarse stage 1 epoch at 2e-4, full stage 5 epochs with lr / 10 per epoch.
    "paper": TrainConfig(),
    # A CPU-sized run: narrow networks, a compact extractor, short epochs.
    "small": TrainConfig(
        width=16,
        discriminator_width=16,
        extractor_architecture="resnet_v2_small",
        extractor_width=16,
        synth_identities=200,
        synth_images_per_identity=16,
        synth_eval_identities=60,
        batch_size=8,
        extractor_batch_size=32,
        extractor_epochs=12,
        coarse_epochs=6,
        full_epochs=3,
        steps_per_epoch=300,
        validation_steps=8,
        extractor_learning_rate=2e-3,
        coarse_learning_rate=1e-3,
        learning_rate=2e-4,
        pretrained_learning_rate=1e-4,
        discriminator_learning_rate=2e-4,
        learning_rate_decay=0.5,
        # Measured on synth (README, Results): a heavier mask term makes the short coarse stage
        # find the occlusion (val mask IoU 0.80 after 1800 steps); Table I's row without the
        # style loss (the paper's best recognition model) plus '*' (occluded L1 on I_f) lets the
        # fine network overtake the coarse one in 900 steps, where the Gram loss of a width-16
        # extractor dominated the generator loss and painted plaid textures.
        coarse_mask_weight=10.0,
        style_weight=0.0,
        occluded_on_fine=True,
    ),
    # Seconds per stage: for tests and smoke runs only.
    "tiny": TrainConfig(
        width=4,
        discriminator_width=4,
        extractor_architecture="resnet_v2_small",
        extractor_width=4,
        synth_identities=6,
        synth_images_per_identity=8,
        synth_eval_identities=4,
        batch_size=2,
        extractor_batch_size=4,
        extractor_epochs=1,
        coarse_epochs=1,
        full_epochs=1,
        steps_per_epoch=3,
        extractor_steps_per_epoch=3,
        validation_steps=1,
    ),
}


def preset(name):
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose from {', '.join(sorted(PRESETS))}.")
    return dataclasses.replace(PRESETS[name])


def apply_overrides(config, overrides):
    """Replaces the fields named in `overrides` (None values are ignored)."""
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"Unknown config field(s): {', '.join(sorted(unknown))}.")
    return dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})


def load_config(path):
    data = json.loads(open(path).read())
    data["extractor_blocks"] = tuple(data.get("extractor_blocks", (1, 1, 1, 1)))
    return TrainConfig(**data)
