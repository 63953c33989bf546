"""ONNX export (fixed opset, through Keras' exporter and tf2onnx) and a runner."""

import numpy as np

from c2fdan_tf.export.serving import INPUT_NAME, serving_model

ONNX_OPSET = 17


def export_onnx(generator, path, opset=ONNX_OPSET):
    """Writes `image` -> {completed, mask, coarse} as ONNX and checks it with onnx.checker."""
    import onnx

    serving_model(generator).export(str(path), format="onnx", verbose=False, opset_version=opset)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    return model


class OnnxRunner:
    """Runs the exported model with onnxruntime on the CPU."""

    def __init__(self, path, num_threads=None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, image):
        values = self.session.run(None, {INPUT_NAME: np.asarray(image, np.float32)})
        return dict(zip(self.output_names, values))
