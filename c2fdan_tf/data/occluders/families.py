"""The wild occluder families by name, and the training mix of them with the paper's.

A mix is a probability per family ("paper" = the paper's rectangles and words, Eq. 1;
"clean" = no occluder at all, an empty mask): every training image gets one family, drawn from (seed, image id), then that family's
random occluder. The batch is split by family (`tf.dynamic_partition`), so each image pays
only for its own family's drawing. `form` in the batches says which: 0 / 1 the paper's
rectangle / text, 2 + k the k-th of WILD_FAMILIES, -1 a clean face.
"""

import functools

import tensorflow as tf

from c2fdan_tf.data import counter_random
from c2fdan_tf.data.face_texture import FaceTexture
from c2fdan_tf.data.occluders.family import family_seed
from c2fdan_tf.data.occluders.objects import Objects, TexturedFills
from c2fdan_tf.data.occluders.paper import RANDOM_POSITION, OcclusionSynthesizer, as_float_faces, mirrored
from c2fdan_tf.data.occluders.stickers import Emoji, Sticker
from c2fdan_tf.data.occluders.strokes import Strokes
from c2fdan_tf.data.occluders.subtitles import Subtitles
from c2fdan_tf.data.occluders.watermarks import TiledWatermark, Watermark

PAPER = "paper"
# A face left as it is (mask all zero): without such examples nothing tells the mask that a face
# with nothing on it needs no edit (the demo model masked 10-25 % of clean real faces).
CLEAN = "clean"
CLEAN_FORM = -1
_CLASSES = (Subtitles, Watermark, TiledWatermark, Emoji, Sticker, Strokes, Objects, TexturedFills)
WILD_FAMILIES = tuple(cls.name for cls in _CLASSES)
BENCHMARK_SIZES = {cls.name: cls.benchmark_sizes for cls in _CLASSES}  # the wild benchmark's two per family
FIRST_WILD_FORM = 2
# The `small` preset's mix: half the paper's occluders (Table I's case keeps its share),
# half the wild ones, subtitles (the paper's motivating case) the most.
WILD_MIX = "paper:0.5,subtitle:0.12,watermark:0.06,tiled_watermark:0.04,emoji:0.06,sticker:0.04,stroke:0.06," \
           "object:0.06,textured:0.06"
_S_CHOICE, _S_SIZE = 90, 91  # of the mix's own draws (the paper's flip is its stream 4)


@functools.lru_cache(maxsize=None)
def wild_family(name):
    """The family named `name` (its sprite banks built once per process)."""
    for cls in _CLASSES:
        if cls.name == name:
            return cls()
    raise ValueError(f"Unknown occluder family {name!r}; choose from {', '.join(WILD_FAMILIES)}.")


def parse_mix(text):
    """{family: probability} of "paper:0.5,subtitle:0.2,..." (normalised; "paper" alone: {paper: 1})."""
    mix = {}
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        name, _, weight = part.partition(":")
        name = name.strip()
        if name not in (PAPER, CLEAN) + WILD_FAMILIES:
            raise ValueError(f"Unknown occluder family {name!r} in {text!r}; choose from "
                             f"{', '.join((PAPER, CLEAN) + WILD_FAMILIES)}.")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"{part!r} in {text!r} is not family:probability.") from None
        if value < 0:
            raise ValueError(f"A negative probability for {name} in {text!r}.")
        mix[name] = mix.get(name, 0.0) + value
    total = sum(mix.values())
    if total <= 0:
        raise ValueError(f"The occluder mix {text!r} gives no family a probability.")
    return {name: value / total for name, value in mix.items() if value > 0}


def training_occluders(mix_text="paper", words=None, face_texture=0.0):
    """The paper's synthesizer for "paper" alone on untouched faces (Table I's reproduction:
    bit-identical to the earlier releases' batches), else a `MixedOccluders` (`face_texture`:
    the share of clean faces given natural texture first, `data.face_texture`)."""
    mix = parse_mix(mix_text)
    if set(mix) == {PAPER} and not face_texture:
        return OcclusionSynthesizer(words)
    return MixedOccluders(mix, words, face_texture)


class MixedOccluders:
    """The training occluders of a mix; `training_batch` as `OcclusionSynthesizer`'s."""

    def __init__(self, mix, words=None, face_texture=0.0):
        self.mix = dict(mix)
        self.paper = OcclusionSynthesizer(words)
        self.texture = FaceTexture(face_texture)
        self.members = list(self.mix)
        self.families = {name: wild_family(name) for name in self.members if name not in (PAPER, CLEAN)}

    def training_batch(self, faces, seed, ids):
        """Flipped faces (the paper's flip), each occluded by its family's random occluder:
        "occluded", "mask", "ground_truth", "form", "size", "position"."""
        ids = tf.convert_to_tensor(ids, tf.int64)
        faces = as_float_faces(mirrored(faces, self.paper.flips(seed, ids)))
        faces = self.texture.apply(faces, seed, ids)
        edges = tf.constant([sum(self.mix[m] for m in self.members[: k + 1]) for k in range(len(self.members) - 1)],
                            tf.float32)
        unit = counter_random.uniform(seed, _S_CHOICE, ids)
        choice = tf.reduce_sum(tf.cast(unit[:, None] >= edges[None, :], tf.int32), axis=-1)
        positions = tf.dynamic_partition(tf.range(tf.shape(ids)[0]), choice, len(self.members))
        parts = {key: [] for key in ("occluded", "mask", "form", "size", "position")}
        for member, where in zip(self.members, positions):
            with tf.name_scope(member):  # a family's ops under its name in profiles
                values = self._member_batch(member, seed, tf.gather(ids, where), tf.gather(faces, where))
            for key, value in zip(parts, values):
                parts[key].append(value)
        example = {key: tf.dynamic_stitch(positions, values) for key, values in parts.items()}
        example["ground_truth"] = faces
        return example

    def _member_batch(self, member, seed, ids, faces):
        """(occluded, mask, form, size, position) of the faces whose family is `member`."""
        if member == PAPER:
            params = self.paper.training_parameters(seed, ids)
            mask = self.paper.render_masks(params)
            occluded = (1.0 - mask) * faces + mask * params["color"][:, None, None, :]  # Eq. 1
            return occluded, mask, params["form"], params["size"], params["position"]
        position = tf.fill(tf.shape(ids), RANDOM_POSITION)
        if member == CLEAN:  # nothing drawn: the face is its own ground truth, the mask empty
            return (faces, tf.zeros_like(faces[..., :1]), tf.fill(tf.shape(ids), CLEAN_FORM),
                    tf.zeros(tf.shape(ids), tf.float32), position)
        family = self.families[member]
        size = counter_random.uniform(seed, _S_SIZE, ids, *family.training_sizes)
        occluded, mask = family.render(faces, family.parameters(family_seed(seed, member), ids, size, position))
        return occluded, mask, tf.fill(tf.shape(ids), FIRST_WILD_FORM + WILD_FAMILIES.index(member)), size, position
