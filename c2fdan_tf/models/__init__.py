"""C2FDAN networks (functional Keras models wrapped in registered classes)."""

from c2fdan_tf.models.coarse_network import CoarseNetwork
from c2fdan_tf.models.fine_network import ATTENTION_VARIANTS, FineNetwork
from c2fdan_tf.models.generator import Generator

__all__ = ["ATTENTION_VARIANTS", "CoarseNetwork", "FineNetwork", "Generator"]
