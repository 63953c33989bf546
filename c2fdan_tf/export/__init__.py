"""Deployment artifacts of the generator: SavedModel, TFLite and ONNX."""
