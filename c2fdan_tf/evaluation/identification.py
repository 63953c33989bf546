"""MegaFace-style identification: TPIR at ranks 1..K against up to a million distractors.

Protocol of the authors' released benchmark (github.com/stefhoer/C2FDAN: "masks and
occluded images for all facescrub gallery images ... The probe images remain
untouched"): for every ordered pair (a, b) of distinct images of one identity, `a`
(occluded, then possibly completed) is placed in the gallery among D clean
distractors and the clean `b` is the probe; the pair succeeds at rank k when fewer
than k distractors score at least as high against `b` as `a` does (ties count
against the method). The distractors' scores are those of the clean probe, the same
for every method and condition. Scores are cosine similarities of L2-normalised
embeddings.

Distractors are streamed in chunks: for each probe only the running top-K
distractor scores are kept, snapshotted when the number of distractors seen
reaches each requested D, so memory does not grow with D.
"""

import numpy as np
import tensorflow as tf

DEFAULT_DISTRACTOR_COUNTS = (10, 100, 1_000, 10_000, 100_000, 1_000_000)


class DistractorTopK:
    """Running top-k distractor scores of a fixed set of probes.

    Probes are processed in row blocks so that one score block stays under
    `block_elements` floats, whatever the number of probes."""

    def __init__(self, probes, k=10, block_elements=1 << 26):
        probes = np.asarray(probes, np.float32)
        self.k = k
        self.block_elements = block_elements
        self.blocks = [tf.constant(probes[s : s + 4096]) for s in range(0, len(probes), 4096)]
        self.tops = [tf.fill((b.shape[0], k), -np.inf) for b in self.blocks]
        self.seen = 0

    @tf.function(reduce_retracing=True)
    def _merge(self, probes, top, chunk):
        scores = tf.matmul(probes, chunk, transpose_b=True)
        return tf.math.top_k(tf.concat([top, scores], axis=1), k=self.k, sorted=True).values

    def add(self, chunk):
        chunk = np.asarray(chunk, np.float32)
        rows = max(1, self.block_elements // 4096)
        for start in range(0, len(chunk), rows):
            piece = tf.constant(chunk[start : start + rows])
            self.tops = [self._merge(b, t, piece) for b, t in zip(self.blocks, self.tops)]
        self.seen += len(chunk)

    def scores(self):
        """(probes, k) highest distractor scores so far, descending (-inf if fewer)."""
        if not self.tops:
            return np.zeros((0, self.k), np.float32)
        return np.concatenate([t.numpy() for t in self.tops])


def stream_top_k(probes, distractor_chunks, counts, k=10):
    """{D: (probes, k) top distractor scores among the first D} for each D in counts.

    `distractor_chunks` yields (n, dim) arrays; a chunk that crosses a count is
    split there. Counts beyond the available distractors are left out.
    """
    counts = sorted(set(int(c) for c in counts))
    tracker = DistractorTopK(probes, k)
    snapshots = {}
    pending = list(counts)
    for chunk in distractor_chunks:
        chunk = np.asarray(chunk, np.float32)
        while len(chunk) and pending:
            room = pending[0] - tracker.seen
            tracker.add(chunk[:room])
            chunk = chunk[room:]
            if tracker.seen == pending[0]:
                snapshots[pending.pop(0)] = tracker.scores()
        if not pending:
            break
    return snapshots


def gallery_pairs(labels):
    """All ordered pairs (a, b), a != b, of images of the same identity: (a indices, b indices)."""
    labels = np.asarray(labels)
    probe, positive = [], []
    for identity in np.unique(labels):
        members = np.flatnonzero(labels == identity)
        for a in members:
            for b in members:
                if a != b:
                    probe.append(a)
                    positive.append(b)
    return np.array(probe, np.int64), np.array(positive, np.int64)


def tpir_at_ranks(pair_scores, probe_top_scores, max_rank=10):
    """TPIR at ranks 1..max_rank.

    pair_scores: (P,) score of each pair's probe against its gallery image.
    probe_top_scores: (P, >= max_rank) the probe's highest distractor scores,
        descending. A pair succeeds at rank k when its score beats the k-th
        highest distractor strictly (a tie counts against it).
    """
    pair_scores = np.asarray(pair_scores)[:, None]
    top = np.asarray(probe_top_scores)[:, :max_rank]
    # Distractors scoring at least as high as the gallery image, capped at max_rank.
    beaten_by = np.sum(top >= pair_scores, axis=1)
    return np.array([np.mean(beaten_by < k) for k in range(1, max_rank + 1)])


def pair_scores_and_probes(gallery_embeddings, probe_embeddings, labels):
    """(score of each pair, probe index of each pair): gallery image a against clean probe b."""
    gallery, probe = gallery_pairs(labels)
    return np.sum(gallery_embeddings[gallery] * probe_embeddings[probe], axis=1), probe


def identification_curves(gallery_embeddings, probe_embeddings, labels, distractor_chunks, counts, max_rank=10):
    """TPIR (ranks 1..max_rank) for each number of distractors.

    gallery_embeddings: (N, dim) of the images placed in the gallery (occluded /
        completed); probe_embeddings: (N, dim) of the same images, clean, as probes.
    Returns {D: array of max_rank TPIR values}.
    """
    scores, probe = pair_scores_and_probes(gallery_embeddings, probe_embeddings, labels)
    snapshots = stream_top_k(probe_embeddings, distractor_chunks, counts, k=max_rank)
    return {d: tpir_at_ranks(scores, top[probe], max_rank) for d, top in snapshots.items()}
