"""The training step across worker processes: 1 worker against 2, and the share of a step
spent all-reducing the gradients.

    python benchmarks/multi_worker_step.py [--stages=coarse,full] [--width=16] [--batch_size=8] [--steps=10]

For each stage and each cluster size it starts that many worker processes on 127.0.0.1
(free ports, TF_CONFIG as in the README) running `--strategy=multi_worker`'s step: the
stage's `train_step` through `strategy.run` on the same global batch (each worker gets
batch / workers faces). Then, in the same processes, the all-reduce alone: one batched
collective sum of tensors shaped like every gradient the step's optimizers reduce. On one
2-core host the workers share the cores, so 2 workers are not expected to be faster; the
all-reduce share is what carries over to real clusters.
"""

import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

_STAGES = flags.DEFINE_list("stages", ["coarse", "full"], "Stages whose step is timed.")
_WIDTH = flags.DEFINE_integer("width", 16, "Generator width (16 = small preset).")
_BATCH = flags.DEFINE_integer("batch_size", 8, "Global batch size.")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed steps (after two warm-up steps).")
_PRECISION = flags.DEFINE_string("precision", "float32", "Dtype policy of the step.")
_WORKER = flags.DEFINE_string("worker", None, "(internal) STAGE: run as a worker of TF_CONFIG.")


def run_cluster(stage, workers):
    """Starts `workers` processes of this script; returns worker 0's measurements."""
    from c2fdan_tf.training.runtime import local_cluster

    processes = []
    for config in local_cluster(workers):
        command = [sys.executable, __file__, f"--worker={stage}", f"--width={_WIDTH.value}",
                   f"--batch_size={_BATCH.value}", f"--steps={_STEPS.value}", f"--precision={_PRECISION.value}"]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          env={**os.environ, "TF_CONFIG": config}))
    outputs = [p.communicate(timeout=1800) for p in processes]
    for process, (_, err) in zip(processes, outputs):
        if process.returncode != 0:
            sys.exit(f"error: a worker failed: {err.strip().splitlines()[-1] if err.strip() else process.returncode}")
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def worker(stage):
    import keras
    import numpy as np
    import tensorflow as tf

    from c2fdan_tf.models import Discriminators, FaceFeatureExtractor, Generator
    from c2fdan_tf.precision import policy_scope
    from c2fdan_tf.training.c2fdan import C2FDAN
    from c2fdan_tf.training.config import preset
    from c2fdan_tf.training.runtime import make_strategy

    strategy = make_strategy("multi_worker", timeout_seconds=120)
    workers = strategy.num_replicas_in_sync
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(_BATCH.value, 112, 112, 3)).astype(np.float32)
    masks = (rng.uniform(size=(_BATCH.value, 112, 112, 1)) > 0.8).astype(np.float32)
    batch = {"occluded": images * (1 - masks), "mask": masks, "ground_truth": images}
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = tf.data.Dataset.from_tensors(batch).repeat().with_options(options)
    config = preset("small")
    with policy_scope(_PRECISION.value), strategy.scope():
        keras.utils.set_random_seed(0)
        extra = {}
        if stage == "full":
            extra = {"discriminators": Discriminators(config.model.discriminator_width),
                     "feature_extractor": FaceFeatureExtractor(1000, config.model.extractor_architecture,
                                                               width=config.model.extractor_width)}
        model = C2FDAN(Generator(width=_WIDTH.value), stage, **extra)
        model.compile(*[keras.optimizers.Adam(1e-4) for _ in range(3)])
        model(images[:1])
    batches = iter(strategy.experimental_distribute_dataset(data))

    @tf.function
    def train_function(iterator):  # as fit_loop.fit_resumable runs it
        strategy.run(model.train_step, args=(next(iterator),))

    # The gradients the step's optimizers reduce: every trained variable, once.
    reduced = [v for group in model.stage.variable_groups(model.generator).values() for v in group]
    if model.discriminators is not None:
        reduced += model.discriminators.trainable_variables
    gradients = [tf.zeros(v.shape, tf.float32) for v in reduced]

    @tf.function
    def all_reduce():
        return strategy.run(lambda: tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, gradients))

    def seconds_per_call(function, *args):  # (a tf.function call returns when its ops have run)
        for _ in range(2):
            function(*args)
        start = time.perf_counter()
        for _ in range(_STEPS.value):
            function(*args)
        return (time.perf_counter() - start) / _STEPS.value

    step = seconds_per_call(train_function, batches)
    reduce = seconds_per_call(all_reduce)
    size = sum(int(np.prod(v.shape)) for v in reduced)
    print(json.dumps({"workers": workers, "step_s": step, "all_reduce_s": reduce, "gradient_values": size}))


def main(argv):
    if _WORKER.value:
        worker(_WORKER.value)
        return
    print(f"$ python benchmarks/multi_worker_step.py --stages={','.join(_STAGES.value)} --width={_WIDTH.value} "
          f"--batch_size={_BATCH.value} --steps={_STEPS.value} --precision={_PRECISION.value}")
    print(f"global batch {_BATCH.value}; workers on 127.0.0.1 sharing this machine's {os.cpu_count()} cores\n")
    print("| stage | workers | step (ms) | all-reduce (ms) | all-reduce share | gradient values |")
    print("|---|---:|---:|---:|---:|---:|")
    for stage in _STAGES.value:
        for workers in (1, 2):
            r = run_cluster(stage, workers)
            print(f"| {stage} | {workers} | {r['step_s'] * 1000:.0f} | {r['all_reduce_s'] * 1000:.1f} | "
                  f"{r['all_reduce_s'] / r['step_s']:.1%} | {r['gradient_values']:,} |", flush=True)


if __name__ == "__main__":
    app.run(main)
