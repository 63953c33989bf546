"""What a generator training stage is (paper Sec. IV-A), decided in one place.

Stage "coarse" (step 1) trains the coarse network alone with the pixel-wise
losses; stage "full" (step 2) trains the whole generator, the coarse weights at
their own learning rate, against the seven discriminators and with the identity
losses of the frozen extractor. A `GeneratorStage` answers every question the
training model and the stage runner would otherwise ask of the stage's name.
"""

import dataclasses

from c2fdan_tf.losses import LossWeights

GENERATOR_STAGES = ("coarse", "full")


@dataclasses.dataclass(frozen=True)
class GeneratorStage:
    name: str
    losses: LossWeights

    def __post_init__(self):
        if self.name not in GENERATOR_STAGES:
            raise ValueError(f"stage must be one of {GENERATOR_STAGES}, got {self.name!r}.")
        if self.name == "coarse" and (self.losses.adversarial or self.losses.needs_extractor
                                      or self.losses.occluded_on_fine):
            raise ValueError("The coarse stage uses pixel-wise losses only (Sec. IV-A).")

    @classmethod
    def named(cls, name, losses=None):
        """The stage with the given losses, by default the paper's for that stage."""
        if losses is None:
            losses = LossWeights.coarse_stage() if name == "coarse" else LossWeights()
        return cls(name, losses)

    @property
    def trains_fine_network(self):
        return self.name == "full"

    @property
    def needs_discriminators(self):
        return self.trains_fine_network and self.losses.adversarial > 0

    @property
    def needs_extractor(self):
        return self.trains_fine_network and self.losses.needs_extractor

    @property
    def needs_coarse_checkpoint(self):
        """Stage full starts from the coarse stage's weights."""
        return self.trains_fine_network

    @property
    def completed_key(self):
        """The generator output this stage is judged on (PSNR, samples, best checkpoint)."""
        return "completed" if self.trains_fine_network else "coarse_completed"

    def trained_network(self, generator):
        return generator if self.trains_fine_network else generator.coarse_network

    def variable_groups(self, generator):
        """{optimizer role: variables}: each optimizer owns one fixed variable set."""
        coarse = generator.coarse_network.trainable_variables
        if not self.trains_fine_network:
            return {"generator": coarse}
        return {"pretrained": coarse, "generator": generator.fine_network.trainable_variables}
