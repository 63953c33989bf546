"""C2FDAN networks (functional Keras models wrapped in registered classes)."""

from c2fdan_tf.models.bvmr import BlindMotifRemoval
from c2fdan_tf.models.coarse_network import CoarseNetwork
from c2fdan_tf.models.discriminators import DISCRIMINATOR_NAMES, Discriminators
from c2fdan_tf.models.face_feature_extractor import FaceFeatureExtractor
from c2fdan_tf.models.fine_network import ATTENTION_VARIANTS, FineNetwork
from c2fdan_tf.models.generator import Generator

__all__ = [
    "ATTENTION_VARIANTS",
    "BlindMotifRemoval",
    "DISCRIMINATOR_NAMES",
    "CoarseNetwork",
    "Discriminators",
    "FaceFeatureExtractor",
    "FineNetwork",
    "Generator",
]
