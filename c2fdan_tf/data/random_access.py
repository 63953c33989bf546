"""The base of face sources that read a face by its position (in memory, image folders,
insightface packs): `elements(indices)` maps a dataset of positions to faces, and the
source's own order is every position in turn. Training reads them in a global shuffle
(`pipelines.face_order`)."""

import tensorflow as tf


class RandomAccessFaces:
    """Subclasses define `__len__` and `elements(indices)`."""

    random_access = True

    def dataset(self, input_context=None):
        """Every face in position order; under `tf.distribute`, this input pipeline's shard."""
        positions = tf.data.Dataset.range(len(self))
        if input_context is not None and input_context.num_input_pipelines > 1:
            positions = positions.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        return self.elements(positions)
