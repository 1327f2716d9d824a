"""The core install works without the tflite extra: nothing imports it at import time, and every place that
needs it says in one line how to add it."""

import subprocess
import sys
import textwrap

import pytest

from edgeprune import cli
from edgeprune.device_bench.errors import NoRuntimeError
from edgeprune.device_bench.runners import choose_runtime, import_runtime
from edgeprune.errors import EdgepruneError
from edgeprune.export import export_model
from edgeprune.export.runtimes import tflite_interpreter_class
from edgeprune.export.tflite_export import import_litert_torch
from edgeprune.export.tflite_extra import install_command, tflite_extra_error
from edgeprune.export.tflite_quant import quantize_tflite

STACK = ("litert_torch", "ai_edge_litert", "ai_edge_quantizer", "tflite_runtime", "tensorflow", "jax", "transformers")


@pytest.fixture
def no_extra(monkeypatch):
    """This Python as after `pip install edgeprune` (core only): the extra's packages do not import."""
    loaded = [name for name in sys.modules if name.split(".")[0] in STACK]  # e.g. by earlier tests
    for name in set(STACK) | set(loaded):
        monkeypatch.setitem(sys.modules, name, None)


def test_no_module_imports_the_tflite_stack_at_import_time():
    # A fresh interpreter with an import hook that refuses and records the TFLite stack, then every module of
    # the installed package (the CLI, all commands, export, device_bench, report, ...) is imported.
    probe = textwrap.dedent(f"""
        import importlib, pkgutil, sys
        STACK = {STACK!r}
        tried = []
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in STACK:
                    tried.append(name)
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Block())
        names = []
        # models/, export/ and device_bench/ are mapped into edgeprune (pyproject), so each is walked itself.
        for top in ("edgeprune", "edgeprune.models", "edgeprune.export", "edgeprune.device_bench"):
            package = importlib.import_module(top)
            names += [m.name for m in pkgutil.walk_packages(package.__path__, top + ".")
                      if not m.name.endswith("__main__")]
        assert "edgeprune.export.tflite_export" in names and "edgeprune.device_bench.runners" in names, names
        for name in names:
            importlib.import_module(name)
        from edgeprune import cli
        cli.build_parser()
        print(len(names), sorted(set(tried)))
    """)
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, tried = proc.stdout.split(maxsplit=1)
    assert tried.strip() == "[]", f"imported at import time: {tried}"
    assert int(count) > 40, "walk_packages found too few modules: the probe checked nothing"


def test_export_tflite_without_extra_is_one_line_before_any_work(no_extra, tmp_path, capsys):
    missing = tmp_path / "not-read.safetensors"  # the extra is checked before the checkpoint is read:
    missing.write_bytes(b"not a checkpoint")  # reading it would fail with another message
    with pytest.raises(EdgepruneError, match=r"^--format tflite needs the tflite extra: pip install ") as err:
        export_model(missing, "tflite", tmp_path / "m.tflite")
    assert str(err.value) == f"--format tflite needs the tflite extra: {install_command()}"
    with pytest.raises(EdgepruneError, match=r"^--format tflite --int8 needs the tflite extra"):
        export_model(missing, "tflite", tmp_path / "m.tflite", int8=True, calib="synth")
    assert cli.main(["export", str(missing), "--format", "tflite", "--out", str(tmp_path / "m.tflite")]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert err_lines == [f"edgeprune export: error: --format tflite needs the tflite extra: {install_command()}"]
    assert list(tmp_path.iterdir()) == [missing]


def test_install_command_names_the_clone_or_the_package():
    cmd = install_command()
    # The tests run from a source checkout: the editable form, run in that checkout.
    assert cmd.startswith('pip install -c constraints.txt -e ".[tflite]" (in ') and cmd.endswith(")")


def test_every_import_site_gives_the_same_line(no_extra, tmp_path):
    with pytest.raises(EdgepruneError, match=r"^--format tflite needs the tflite extra"):
        import_litert_torch()
    with pytest.raises(EdgepruneError, match=r"^--format tflite --int8 needs the tflite extra"):
        quantize_tflite(tmp_path / "f.tflite", tmp_path / "q.tflite", samples=None, metadata={})
    with pytest.raises(EdgepruneError, match=r"^running a \.tflite file needs the tflite extra"):
        tflite_interpreter_class()
    with pytest.raises(NoRuntimeError, match=r"m\.tflite: no TFLite runtime in this Python \(pip install ai-edge-litert; "
                                            r"beside edgeprune: pip install \"edgeprune\[tflite\]\""):
        choose_runtime(str(tmp_path / "m.tflite"), "auto")
    with pytest.raises(NoRuntimeError, match=r"runtime 'litert' is not available .*edgeprune\[tflite\]"):
        import_runtime("litert")
    assert choose_runtime("m.onnx", "auto") == "ort"  # ONNX needs nothing from the extra


def test_a_broken_extra_is_not_reported_as_missing():
    err = tflite_extra_error(ModuleNotFoundError("No module named 'jax'", name="jax"))
    assert str(err).startswith("--format tflite: the tflite extra is installed but does not import "
                               "(No module named 'jax'); reinstall it: pip install")
    err = tflite_extra_error(ImportError("numpy.core.multiarray failed to import\nmore"), "running a .tflite file")
    assert "(numpy.core.multiarray failed to import)" in str(err) and "\n" not in str(err)
