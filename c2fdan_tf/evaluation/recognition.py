"""Face recognition measurements on embeddings: identification and verification."""

import hashlib

import numpy as np


class Embedder:
    """L2-normalised embeddings (N, D) of float images in [0, 1] (or uint8), in batches
    through one traced function of the extractor."""

    def __init__(self, extractor, batch_size=128):
        import tensorflow as tf

        self.batch_size = batch_size
        self.extractor = extractor
        self._run = tf.function(lambda x: extractor(x, training=False)["embedding"], reduce_retracing=True)

    @property
    def digest(self):
        """SHA-256 of the recognizer's weights: what its embeddings depend on (cache keys)."""
        if not hasattr(self, "_digest"):
            digest = hashlib.sha256()
            for weight in self.extractor.weights:
                digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
            self._digest = digest.hexdigest()
        return self._digest

    def __call__(self, images):
        images = np.asarray(images)
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255.0
        parts = [np.asarray(self._run(images[s : s + self.batch_size]))
                 for s in range(0, len(images), self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def embed(extractor, images, batch_size=128):
    """L2-normalised embeddings of `images` (see Embedder)."""
    return Embedder(extractor, batch_size)(images)


def rank1_identification(query, query_labels, gallery, gallery_labels):
    """Fraction of queries whose most similar gallery embedding has their identity."""
    nearest = np.argmax(query @ gallery.T, axis=1)
    return float(np.mean(np.asarray(gallery_labels)[nearest] == np.asarray(query_labels)))


def balanced_pairs(labels, num_pairs, seed=0):
    """(i, j, same) index pairs, half same-identity and half different, seeded."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    by_identity = {}
    for index, label in enumerate(labels):
        by_identity.setdefault(int(label), []).append(index)
    multi = [ids for ids in by_identity.values() if len(ids) > 1]
    if not multi or len(by_identity) < 2:
        raise ValueError("Verification pairs need identities with two or more images, and two identities.")
    pairs = []
    for k in range(num_pairs):
        if k % 2 == 0:
            ids = multi[rng.integers(len(multi))]
            i, j = rng.choice(ids, 2, replace=False)
            pairs.append((i, j, True))
        else:
            while True:
                i, j = rng.integers(len(labels), size=2)
                if labels[i] != labels[j]:
                    break
            pairs.append((i, j, False))
    i, j, same = (np.array(x) for x in zip(*pairs))
    return i, j, same.astype(bool)


def best_threshold(similarities, same):
    """The threshold with the highest accuracy on these pairs (ties: the lowest)."""
    candidates = np.unique(similarities)
    candidates = np.concatenate([[candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2, [candidates[-1] + 1e-6]])
    accuracies = [np.mean((similarities > t) == same) for t in candidates]
    return float(candidates[int(np.argmax(accuracies))])


def ten_fold_verification(similarities, same, folds=10, fold_of=None):
    """LFW protocol: accuracy on each fold with the threshold picked on the other
    folds; returns (mean accuracy, per-fold accuracies, per-fold thresholds).

    Folds are contiguous blocks of the pair list (as in LFW's pairs.txt) unless
    `fold_of` gives each pair's fold."""
    similarities, same = np.asarray(similarities, np.float64), np.asarray(same, bool)
    if fold_of is None:
        fold_of = np.arange(len(same)) * folds // max(len(same), 1)
    fold_of = np.asarray(fold_of)
    accuracies, thresholds = [], []
    for fold in range(folds):
        test = fold_of == fold
        threshold = best_threshold(similarities[~test], same[~test])
        thresholds.append(threshold)
        accuracies.append(float(np.mean((similarities[test] > threshold) == same[test])))
    return float(np.mean(accuracies)), accuracies, thresholds
