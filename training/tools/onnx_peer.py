#!/usr/bin/env python3
"""The ONNX Runtime peer of `engine bench`: runs an exported Inkling model on the same lines,
one thread, one line at a time, and reports latency (median, p90) and the time ONNX Runtime
spends in its LSTM nodes (from its own profiler). Needs `pip install onnxruntime numpy`.

usage: onnx_peer.py MODEL.onnx LINES_DIR RUNS [--outputs DIR]     (RUNS 0: no timing)
       onnx_peer.py MODEL.onnx LINES_DIR 0 --serve

LINES_DIR holds line_000.npy, line_001.npy, ... ([1, 1, height, width] float32). Prints one
JSON object on stdout. With --outputs, also writes each line's log-probs as out_NNN.npy.
With --serve (the interleaved timing of `engine bench`), it prints {"ready": ...} once the
session is warm, then for each line index read from stdin runs that line once and prints the
milliseconds it took, until stdin closes.
"""
import glob
import json
import os
import statistics
import sys
import tempfile
import time


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    model, lines_dir, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    outputs = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--outputs" else None
    serve = "--serve" in sys.argv[4:]
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        print(json.dumps({"skipped": f"onnxruntime not installed ({e})"}))
        return 0
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    lines = [np.load(p) for p in sorted(glob.glob(os.path.join(lines_dir, "line_*.npy")))]
    if not lines:
        print(json.dumps({"error": f"no line_*.npy in {lines_dir}"}))
        return 1
    if serve:
        for x in lines:
            sess.run(None, {"image": x})
        print(json.dumps({"ready": ort.__version__, "lines": len(lines)}), flush=True)
        for request in sys.stdin:
            x = lines[int(request)]
            start = time.perf_counter()
            sess.run(None, {"image": x})
            print(f"{(time.perf_counter() - start) * 1e3:.6f}", flush=True)
        return 0
    if outputs:
        os.makedirs(outputs, exist_ok=True)
        for i, x in enumerate(lines):
            (y,) = sess.run(None, {"image": x})
            np.save(os.path.join(outputs, f"out_{i:03}.npy"), y.astype(np.float32))
    for x in lines[:2]:
        sess.run(None, {"image": x})
    times = []
    for _ in range(runs):
        for x in lines:
            start = time.perf_counter()
            sess.run(None, {"image": x})
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    # A second session with the profiler on: share of time in LSTM nodes per line.
    prof_opts = ort.SessionOptions()
    prof_opts.intra_op_num_threads = 1
    prof_opts.inter_op_num_threads = 1
    prof_opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    prof_opts.enable_profiling = True
    prof_opts.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    prof = ort.InferenceSession(model, prof_opts, providers=["CPUExecutionProvider"])
    for x in lines[:2]:
        prof.run(None, {"image": x})
    path = prof.end_profiling()
    with open(path) as f:
        events = json.load(f)
    lstm_us = sum(
        e.get("dur", 0)
        for e in events
        if e.get("cat") == "Node" and e.get("args", {}).get("op_name") == "LSTM"
        and e.get("name", "").endswith("_kernel_time")
    )
    node_us = sum(
        e.get("dur", 0)
        for e in events
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")
    )
    print(
        json.dumps(
            {
                "onnxruntime": ort.__version__,
                "median_ms": statistics.median(times) if times else None,
                "p90_ms": times[min(len(times) - 1, len(times) * 9 // 10)] if times else None,
                "lstm_ms": lstm_us / 1e3 / min(2, len(lines)),
                "nodes_ms": node_us / 1e3 / min(2, len(lines)),
                "lines": len(lines),
                "runs": runs,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
