"""The network factory: builds the networks a stage needs from the model config."""

from c2fdan_tf.models import BlindMotifRemoval, Discriminators, FaceFeatureExtractor, Generator

NETWORK_NAMES = ("generator", "discriminators", "extractor", "bvmr")


def build_network(name, model, num_identities=None):
    """A fresh network by name from a `ModelConfig`; ValueError on an unknown name
    (and on unknown attention/architecture names, from the networks themselves)."""
    if name == "generator":
        return Generator(model.width, model.attention, model.cross_attention_mode,
                         model.exclude_partially_masked_keys)
    if name == "bvmr":
        return BlindMotifRemoval(model.bvmr_width)
    if name == "discriminators":
        return Discriminators(model.discriminator_width)
    if name == "extractor":
        if num_identities is None:
            raise ValueError("The extractor is a classifier: it needs the number of identities.")
        return FaceFeatureExtractor(num_identities, model.extractor_architecture, width=model.extractor_width,
                                    blocks_per_stage=model.extractor_blocks)
    raise ValueError(f"Unknown network {name!r}; choose from {', '.join(NETWORK_NAMES)}.")


def stage_networks(stage, model, coarse_checkpoint=None, extractor_checkpoint=None):
    """(generator, discriminators or None, frozen extractor or None) for a GeneratorStage.

    The generator starts from `coarse_checkpoint`'s coarse weights when given (and its fine ones
    with `model.init_fine_network`); when the
    stage's losses need an identity network, it is `model.identity_network`: the extractor
    loaded from `extractor_checkpoint` ("project") or face-api.js' pretrained recognizer."""
    from c2fdan_tf.models.checkpoints import load_coarse_weights
    from c2fdan_tf.models.recognizers import load_recognizer

    generator = build_network("generator", model)
    if coarse_checkpoint is not None:
        load_coarse_weights(generator, coarse_checkpoint, fine_too=model.init_fine_network)
    discriminators = build_network("discriminators", model) if stage.needs_discriminators else None
    extractor = None
    if stage.needs_extractor:
        extractor, _ = load_recognizer(model.identity_network, extractor_checkpoint, require_features=True)
    return generator, discriminators, extractor
