"""Latency, size and achieved GFLOP/s of every exported artifact, in one run."""

from pathlib import Path

from c2fdan_tf.compute_cost import forward_flops
from c2fdan_tf.export.exporter import FILE_NAMES, write_manifest
from c2fdan_tf.inference.latency import measure_in_subprocess

RUNTIMES = {"saved_model": "saved_model", "tflite": "tflite", "tflite_fp16": "tflite", "tflite_int8": "tflite",
            "onnx": "onnx"}


def benchmark_artifacts(out_dir, manifest, generator, keras_checkpoint, threads=(1, 2), runs=10, log=print):
    """Times Keras and every artifact at batch 1 with each thread count (each in a
    fresh process), next to a TF 3x3 convolution timed the same way; updates and
    rewrites the manifest and returns table rows."""
    out_dir = Path(out_dir)
    flops = forward_flops(generator, [(112, 112, 3)])
    reference = {t: measure_in_subprocess("conv_reference", "", t) for t in threads}
    log("conv reference: " + ", ".join(f"{t} thread(s) {reference[t]['gflops']:.0f} GFLOP/s" for t in threads))
    reference_bf16 = {t: measure_in_subprocess("conv_reference_bf16", "", t) for t in threads}
    log("conv reference bf16: " + ", ".join(f"{t} thread(s) {reference_bf16[t]['gflops']:.0f} GFLOP/s"
                                            for t in threads))
    subjects = [("keras", "keras", keras_checkpoint, None), ("keras_bf16", "keras_bf16", keras_checkpoint, None)]
    subjects += [(fmt, RUNTIMES[fmt], out_dir / FILE_NAMES[fmt], fmt) for fmt in manifest["artifacts"]]
    rows = []
    for name, kind, path, fmt in subjects:
        latency = {}
        for t in threads:
            latency[str(t)] = measure_in_subprocess(kind, str(path), t, runs)["median_ms"]
            log(f"{name}: {t} thread(s) {latency[str(t)]:.1f} ms")
        best_threads = max(threads)
        gflops = flops / (latency[str(best_threads)] / 1000) / 1e9
        row = {
            "artifact": name,
            "size_bytes": manifest["artifacts"][fmt]["size_bytes"] if fmt else None,
            "latency_ms": latency,
            "gflops": gflops,
            "fraction_of_conv_reference": gflops / reference[best_threads]["gflops"],
            "quality": manifest["artifacts"][fmt]["quality"] if fmt else (
                manifest["keras_reference"] if name == "keras" else None),
        }
        rows.append(row)
        if fmt:
            manifest["artifacts"][fmt]["latency_ms"] = latency
            manifest["artifacts"][fmt]["gflops"] = gflops
    manifest["benchmark"] = {
        "forward_gflop_per_image": flops / 1e9,
        "conv_reference_gflops": {str(t): reference[t]["gflops"] for t in threads},
        "conv_reference_bf16_gflops": {str(t): reference_bf16[t]["gflops"] for t in threads},
        "keras_latency_ms": rows[0]["latency_ms"],
        "keras_bf16_latency_ms": rows[1]["latency_ms"],
        "threads": list(threads),
        "runs": runs,
    }
    write_manifest(out_dir, manifest)
    return rows


def benchmark_table(rows, threads):
    header = "| artifact | size (MB) | " + " | ".join(f"latency {t} thr (ms)" for t in threads)
    header += " | GFLOP/s | of conv peak | PSNR vs truth (dB) | SSIM |"
    lines = [header, "|---|" + "---:|" * (len(threads) + 5)]
    for row in rows:
        size = f"{row['size_bytes'] / 1e6:.1f}" if row["size_bytes"] else "—"
        latencies = " | ".join(f"{row['latency_ms'][str(t)]:.1f}" for t in threads)
        quality = row["quality"] or {}
        psnr, ssim = quality.get("psnr_vs_truth_db"), quality.get("ssim_vs_truth")
        lines.append(
            f"| {row['artifact']} | {size} | {latencies} | {row['gflops']:.0f} | "
            f"{row['fraction_of_conv_reference']:.0%} | {'—' if psnr is None else f'{psnr:.2f}'} | "
            f"{'—' if ssim is None else f'{ssim:.4f}'} |"
        )
    return "\n".join(lines)
