"""Run a .tflite in another Python (e.g. tflite-runtime 2.14 with numpy<2, as on a Raspberry Pi image) and compare.

`run_elsewhere(python, model, feeds)` runs export/tflite_child.py in that interpreter (a subprocess: the two
runtimes need different numpy majors, PITFALLS.md "TFLite") and returns its outputs; `compare_elsewhere` runs the
same inputs through this Python's runner (ai-edge-litert) too and compares them as the parity gate does.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from edgeprune.errors import EdgepruneError

CHILD = Path(__file__).with_name("tflite_child.py")
TIMEOUT_S = 600


def run_elsewhere(python, model, feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, str]:
    """(first output de-quantised, float32; 'module version, numpy version') of `model` run by `python`."""
    python, model = Path(python), Path(model)
    if not python.is_file():
        raise EdgepruneError(f"no Python interpreter at {python}")
    if not model.is_file():
        raise EdgepruneError(f"model file not found: {model}")
    with tempfile.TemporaryDirectory(prefix="edgeprune-elsewhere-") as tmp:
        inputs, outputs = Path(tmp) / "inputs.npz", Path(tmp) / "outputs.npz"
        np.savez(inputs, **{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items()})
        # a plain copy of device_bench (numpy + runtime only, as on a board) runs stepped files' loop there
        from edgeprune import device_bench

        shutil.copytree(Path(device_bench.__file__).parent, Path(tmp) / "device_bench",
                        ignore=shutil.ignore_patterns("__pycache__"))
        # -I: neither PYTHONPATH, the user's site nor this file's folder (export/ has modules named like others)
        done = subprocess.run([str(python), "-I", str(CHILD), str(model), str(inputs), str(outputs), tmp],
                              capture_output=True, text=True, timeout=TIMEOUT_S)
        if done.returncode != 0:
            lines = [l for l in (done.stderr or done.stdout).strip().splitlines() if l.strip()]
            why = lines[-1] if lines else f"exit status {done.returncode}"
            if done.returncode < 0:  # a crash in the runtime leaves no traceback: its last line is only a log line
                why = f"killed by {_signal_name(-done.returncode)}" + (f" (its last output: {lines[-1]})" if lines else "")
            raise EdgepruneError(f"{python} cannot run {model.name}: {why[:300]}")
        with np.load(outputs) as result:
            return result["output"].astype(np.float32), str(result["runtime"])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def compare_elsewhere(python, model, feeds: dict[str, np.ndarray], task: str, threshold: float) -> dict:
    """The runner of this Python vs `python` on `feeds`: parity.compare's figures (this Python's outputs as the
    reference) plus both runtimes' names."""
    from edgeprune.export.parity import compare
    from edgeprune.export.runtimes import open_runner, tflite_interpreter_class

    here = open_runner(model)(feeds)
    there, runtime = run_elsewhere(python, model, feeds)
    result = compare(here, there, task, threshold)
    result["reference"] = tflite_interpreter_class().__module__.split(".")[0]
    result["runtime"] = runtime
    return result
