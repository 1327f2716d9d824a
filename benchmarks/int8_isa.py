"""int8 ONNX on a CPU without VNNI: a checkpoint's float file and its int8 files with uint8 weights (the default)
and int8 weights (U8S8), run here and under qemu's emulated CPU (default Haswell: AVX2, no VNNI); decisions
at the model's threshold against the float file, and here, 1-thread latency of each (interleaved).

    python benchmarks/int8_isa.py runs/cplr-tv-audio-synth/final/model.safetensors --data synth
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from provenance import stamp

CHILD = """
import json, site, sys, time
site.addsitedir(sys.argv[1])
import numpy as np, onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = 1
data = np.load(sys.argv[2])
paths, timed = sys.argv[4:], int(sys.argv[3])
sessions = [ort.InferenceSession(p, options, providers=["CPUExecutionProvider"]) for p in paths]
names = [[i.name for i in s.get_inputs()] for s in sessions]
n = len(data["labels"])
for p, s, k in zip(paths, sessions, names):
    np.save(p + ".out.npy", np.concatenate([s.run(None, {m: data[m][j:j + 1] for m in k})[0].reshape(-1) for j in range(n)]))
times = {p: [] for p in paths}
for _ in range(timed):  # interleaved: each file once per pass, 50 runs of the first clip
    for p, s, k in zip(paths, sessions, names):
        feed = {m: data[m][:1] for m in k}
        t = time.perf_counter()
        for _ in range(50):
            s.run(None, feed)
        times[p].append((time.perf_counter() - t) / 50 * 1e3)
print(json.dumps({p: float(np.median(v)) for p, v in times.items()} if timed else {}))
"""


def run_child(paths, data, timed: int, cpu: str | None) -> dict:
    command = [os.path.realpath(sys.executable), "-c", CHILD, sysconfig.get_paths()["purelib"], str(data), str(timed),
               *map(str, paths)]
    if cpu:
        command = [shutil.which("qemu-x86_64"), "-cpu", cpu, *command]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"int8_isa: the {'emulated ' if cpu else ''}run failed: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default="synth", help="data spec: calibration (train) and checked clips (test)")
    parser.add_argument("--qemu-cpu", default="Haswell", help="CPU model qemu-x86_64 emulates (default Haswell)")
    parser.add_argument("--repeats", type=int, default=7, help="timed passes here (50 runs each)")
    args = parser.parse_args(argv)
    if shutil.which("qemu-x86_64") is None:
        parser.error("qemu-x86_64 not found: apt-get install qemu-user")
    if not Path(args.checkpoint).is_file():
        parser.error(f"no checkpoint at {args.checkpoint}")
    print("command: python benchmarks/int8_isa.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(stamp())

    from edgeprune.export import export_model
    from edgeprune.export.samples import spec_samples
    from edgeprune.export.source import resolve

    with tempfile.TemporaryDirectory(prefix="int8_isa.") as tmp:
        tmp = Path(tmp)
        files = {"float": tmp / "float.onnx", "uint8 weights": tmp / "u8u8.onnx", "int8 weights": tmp / "u8s8.onnx"}
        report = export_model(args.checkpoint, "onnx", files["float"])
        for label, weights in (("uint8 weights", "uint8"), ("int8 weights", "int8")):
            export_model(args.checkpoint, "onnx", files[label], int8=True, calib=args.data, onnx_weights=weights,
                         gate=False)
        source = resolve(args.checkpoint)
        check = spec_samples(source, args.data, "test", None)
        data = tmp / "data.npz"
        np.savez(data, labels=np.zeros(len(check)), **check.inputs)
        t0 = time.perf_counter()
        here_ms = run_child(list(files.values()), data, args.repeats, None)
        run_child(list(files.values())[1:], data, 0, args.qemu_cpu)  # writes .out.npy over the native int8 ones
        emulated_s = time.perf_counter() - t0
        there = {k: np.load(f"{p}.out.npy") for k, p in files.items() if k != "float"}
        run_child(list(files.values()), data, 0, None)
        here = {k: np.load(f"{p}.out.npy") for k, p in files.items()}

    threshold = float(report["threshold"] if report["threshold"] is not None else 0.5)
    prob = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    decide = lambda z: prob(z) >= threshold  # noqa: E731
    ref = here["float"]
    print(f"\n{Path(args.checkpoint)}: {len(ref)} test clips of {args.data}, threshold {threshold:g}; "
          f"emulated CPU: qemu-x86_64 -cpu {args.qemu_cpu} ({emulated_s:.0f} s)\n")
    print("| file | decisions = float, here | max prob diff, here | decisions = float, emulated | "
          "max prob diff, emulated | 1-thread ms here |")
    print("|---|---|---|---|---|---|")
    print(f"| float | 100.00 % | 0 | - | - | {here_ms[str(files['float'])]:.4f} |")
    for k in ("uint8 weights", "int8 weights"):
        h, e = here[k], there[k]
        print(f"| int8, {k} | {100 * np.mean(decide(h) == decide(ref)):.2f} % | {np.abs(prob(h) - prob(ref)).max():.3f} | "
              f"{100 * np.mean(decide(e) == decide(ref)):.2f} % | {np.abs(prob(e) - prob(ref)).max():.3f} | "
              f"{here_ms[str(files[k])]:.4f} |")
    u8, s8, fl = (here_ms[str(files[k])] for k in ("uint8 weights", "int8 weights", "float"))
    print(f"\nratios here: float / int8 (uint8 weights) {fl / u8:.2f}x, float / int8 (int8 weights) {fl / s8:.2f}x, "
          f"uint8 / int8 weights time {u8 / s8:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
