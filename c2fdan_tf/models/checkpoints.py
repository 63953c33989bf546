"""Saving and loading `.keras` checkpoints with clear errors.

Every problem (missing file, not a Keras archive, another kind of model, a
width that does not match) raises `CheckpointError` with a one-line message
naming the file and what is wrong. Saves go to a temporary name first and are
renamed, so a crash never leaves a half-written checkpoint under the real name.
"""

import hashlib
import os
import zipfile
from pathlib import Path

import keras

# Importing registers the classes for deserialisation.
from c2fdan_tf.models import BlindMotifRemoval, CoarseNetwork, FaceFeatureExtractor, Generator  # noqa: F401


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, with the reason."""


def save_model(model, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial.keras")
    model.save(temporary)
    os.replace(temporary, path)
    return path


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model(path, expected=None, what="checkpoint"):
    """Loads a `.keras` file (safe mode); `expected` is a class or tuple of classes."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{what} {path} does not exist.")
    if path.is_dir():
        raise CheckpointError(f"{what} {path} is a folder, not a .keras file.")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{what} {path} is not a Keras .keras archive (corrupt or another format).")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises many types for damaged archives
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{what} {path} cannot be loaded: {reason}") from None
    if expected is not None and not isinstance(model, expected):
        names = " or ".join(c.__name__ for c in (expected if isinstance(expected, tuple) else (expected,)))
        raise CheckpointError(f"{what} {path} holds a {type(model).__name__}, expected a {names}.")
    return model


def _load_in_policy(path, cls, what, policy):
    from c2fdan_tf.precision import policy_scope

    saved = load_model(path, cls, what)
    if saved.dtype_policy.name == policy:
        return saved
    with policy_scope(policy):
        model = cls(**{k: v for k, v in saved.get_config().items() if k not in ("name", "trainable")})
    model.set_weights(saved.get_weights())
    return model


def load_generator(path, policy="float32"):
    """A Generator from a `.keras` checkpoint, computing under the dtype `policy`
    ("float32", "mixed_bfloat16" or "mixed_float16"), whatever it was trained in."""
    return _load_in_policy(path, Generator, "generator checkpoint", policy)


def load_motif_removal(path, policy="float32"):
    """The BVMR baseline (`BlindMotifRemoval`, train.py --stage=bvmr) from a `.keras` checkpoint."""
    return _load_in_policy(path, BlindMotifRemoval, "BVMR checkpoint", policy)


def load_coarse_weights(generator, path, fine_too=False):
    """Copies the coarse network of a Generator or CoarseNetwork checkpoint into `generator`
    (`fine_too`: the fine network as well, from a Generator of the same configuration)."""
    saved = load_model(path, (Generator, CoarseNetwork), "--init_from checkpoint")
    coarse = saved.coarse_network if isinstance(saved, Generator) else saved
    if coarse.width != generator.width:
        raise CheckpointError(
            f"--init_from checkpoint {path} has width {coarse.width}, but this run has width "
            f"{generator.width}; use the same --width."
        )
    if fine_too:
        shape = lambda model: {key: model.get_config().get(key) for key in (  # noqa: E731
            "width", "attention", "cross_attention_mode", "architecture_version")}
        if not isinstance(saved, Generator) or shape(saved) != shape(generator):
            raise CheckpointError(f"--init_fine_network needs a whole generator like this run's ({shape(generator)}); "
                                  f"{path} holds a {type(saved).__name__} ({shape(saved)}).")
        generator.set_weights(saved.get_weights())
        return generator
    generator.coarse_network.set_weights(coarse.get_weights())
    return generator


class EmbeddingAdapter:
    """Makes any Keras face recogniser look like a FaceFeatureExtractor for
    evaluation: `adapter(images)["embedding"]` is its L2-normalised output."""

    def __init__(self, model):
        self.model = model

    def __call__(self, images, training=False):
        outputs = self.model(images, training=training)
        if isinstance(outputs, dict):
            outputs = outputs["embedding"] if "embedding" in outputs else next(iter(outputs.values()))
        return {"embedding": keras.ops.normalize(keras.ops.cast(outputs, "float32"), axis=-1)}


def load_extractor(path, image_size=112, require_features=False):
    """A face feature extractor checkpoint, checked for the 112x112 RGB input.

    `require_features`: the identity losses need a FaceFeatureExtractor (its block1 and
    block3 feature maps); for evaluation any Keras model from faces to embeddings works.
    """
    model = load_model(path, keras.Model, "extractor checkpoint")
    if isinstance(model.input_shape, list):
        raise CheckpointError(f"extractor checkpoint {path} takes several inputs; it must take one image batch.")
    shape = tuple(model.input_shape[1:])
    if shape != (image_size, image_size, 3):
        raise CheckpointError(
            f"extractor checkpoint {path} takes {shape} inputs, but C2FDAN faces are ({image_size}, {image_size}, 3)."
        )
    if isinstance(model, FaceFeatureExtractor):
        return model
    if require_features:
        raise CheckpointError(
            f"extractor checkpoint {path} holds a {type(model).__name__}; the identity losses need a "
            "FaceFeatureExtractor (train one with --stage=extractor)."
        )
    return EmbeddingAdapter(model)
