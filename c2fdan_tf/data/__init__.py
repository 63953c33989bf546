"""Data: occlusion synthesis, built-in synthetic faces, image readers, tf.data pipelines.

Knows nothing of the model. Submodules are imported on demand, so that the
synthetic-face renderer (NumPy only) loads without TensorFlow in worker processes.
"""
