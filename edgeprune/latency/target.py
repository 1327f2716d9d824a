"""Where latency is measured: this machine or a board over SSH, through device_bench (edgeprune bench's path)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgeprune.errors import EdgepruneError

FORMAT_OF = {"ort": "onnx", "litert": "tflite", "tflite-runtime": "tflite"}

# Run by the target's python beside a copy of device_bench: which machine, which runtime version.
_PROBE = ("import json, sys; from {pkg}.machine import describe; "
          "from {pkg}.runners import import_runtime, runtime_version; rt = sys.argv[1]; import_runtime(rt); "
          "print(json.dumps({{'machine': describe(), 'runtime_version': runtime_version(rt)}}))")


@dataclass
class Target:
    """`spec` is 'local' or ssh://user@host[:port]; `bench` the timing options of device_bench."""

    spec: str = "local"
    runtime: str = "ort"
    threads: int = 1
    ssh_options: object = None  # edgeprune.remote.SshOptions
    remote_python: str = "python3"
    remote_tmp: str | None = None
    bench: dict = field(default_factory=lambda: {"warmup": 5, "min_runs": 20, "min_seconds": 0.5,
                                                 "max_seconds": 60.0, "block": 5})
    clock: str = "wall"  # or "thread-cpu" (cputime.py): local ORT with one thread, immune to other load

    def __post_init__(self):
        from edgeprune.remote import SshOptions, parse_target

        if self.runtime not in FORMAT_OF:
            raise EdgepruneError(f"unknown runtime {self.runtime!r}; choose one of {', '.join(FORMAT_OF)}")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise EdgepruneError(f"threads must be a positive integer, got {self.threads!r}")
        self.ssh = parse_target(self.spec)
        if self.ssh is not None and self.ssh_options is None:
            self.ssh_options = SshOptions()
        if self.clock not in ("wall", "thread-cpu"):
            raise EdgepruneError(f"unknown clock {self.clock!r}; choose wall or thread-cpu")
        if self.clock == "thread-cpu":
            from edgeprune.latency.cputime import check

            check(self)

    @property
    def label(self) -> str:
        """The target as the cache and the table name it: the spec, and the clock unless wall time."""
        return self.spec if self.clock == "wall" else f"{self.spec} ({self.clock} clock)"

    @property
    def format(self) -> str:
        return FORMAT_OF[self.runtime]

    def device_args(self) -> list[str]:
        b = self.bench
        return ["--runtime", self.runtime, "--threads", str(self.threads), "--warmup", str(b["warmup"]),
                "--min-runs", str(b["min_runs"]), "--min-seconds", repr(float(b["min_seconds"])),
                "--max-seconds", repr(float(b["max_seconds"])), "--block", str(b["block"])]

    def probe(self) -> dict:
        """{'machine': device_bench's description of the target, 'runtime_version': ...}: cheap, no model."""
        if self.ssh is None:
            proc = subprocess.run([sys.executable, "-c", _PROBE.format(pkg="edgeprune.device_bench"), self.runtime],
                                  capture_output=True, text=True)
            return _parse_probe(proc, "this machine")
        from edgeprune.remote import RemoteFolder, remote_python_word

        with tempfile.TemporaryDirectory(prefix="edgeprune-probe.") as tmp:
            archive = Path(tmp) / "probe.tar"
            _pack_device_bench(archive)
            with RemoteFolder(self.ssh, self.ssh_options, self.remote_tmp) as folder:
                folder.upload(archive)
                code = _PROBE.format(pkg="device_bench")
                command = (f"cd {shlex.quote(folder.path)} && {remote_python_word(self.remote_python)} -c "
                           f"{shlex.quote(code)} {shlex.quote(self.runtime)}")
                proc = folder.ssh(command, what="probing the runtime")
        if proc.returncode == 255:
            raise EdgepruneError(f"ssh to {self.ssh} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        return _parse_probe(proc, str(self.ssh))

    def measure(self, paths: list[str]) -> list[dict]:
        """device_bench on `paths`, interleaved, in one process: the latency_ms block of each."""
        from edgeprune.local_bench import bench_local

        if self.clock == "thread-cpu":
            from edgeprune.latency.cputime import measure_cpu_time

            return measure_cpu_time(paths, self.bench)
        if self.ssh is None:
            result = bench_local(paths, self.device_args())
        else:
            from edgeprune.remote import bench_remote

            result = bench_remote(self.ssh, self.ssh_options, paths, self.device_args(), self.remote_python,
                                  self.remote_tmp)
        return [m["latency_ms"] for m in result["models"]]


def _pack_device_bench(archive: Path) -> None:
    from edgeprune import device_bench

    with tarfile.open(archive, "w") as tar:
        for src in sorted(Path(device_bench.__file__).parent.glob("*.py")):
            tar.add(src, arcname=f"device_bench/{src.name}")


def _parse_probe(proc, where: str) -> dict:
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        if "NoRuntimeError" in proc.stderr or "ModuleNotFoundError" in proc.stderr:
            last = last.split(":", 1)[-1].strip()
        raise EdgepruneError(f"cannot probe the runtime on {where}: {last}")
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise EdgepruneError(f"unreadable probe result from {where}") from None
