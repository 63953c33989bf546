"""Keras layers of C2FDAN (all registered serializable under package "c2fdan_tf")."""

from c2fdan_tf.layers.dense_multi_scale_fusion import DenseMultiScaleFusion
from c2fdan_tf.layers.face_api_ops import PadChannels, ResizeBilinearLegacy
from c2fdan_tf.layers.masked_blend import MaskedBlend
from c2fdan_tf.layers.patch_cross_attention import PatchCrossAttention
from c2fdan_tf.layers.region_crop import RegionCrop
from c2fdan_tf.layers.self_attention import SelfAttention

__all__ = [
    "DenseMultiScaleFusion",
    "MaskedBlend",
    "PadChannels",
    "PatchCrossAttention",
    "RegionCrop",
    "ResizeBilinearLegacy",
    "SelfAttention",
]
