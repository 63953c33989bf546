"""ONNX export (fixed opset, through Keras' exporter and tf2onnx); run it with
`c2fdan_tf.inference.OnnxRunner`."""

from c2fdan_tf.export.serving import serving_model

ONNX_OPSET = 17


def export_onnx(generator, path, opset=ONNX_OPSET):
    """Writes `image` -> {completed, mask, coarse} as ONNX and checks it with onnx.checker."""
    import onnx

    serving_model(generator).export(str(path), format="onnx", verbose=False, opset_version=opset)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    return model
