"""Run a stepped .tflite (edgeprune export --lstm step: signatures pre, step, post): pre, step T/K times, post.

numpy and device_bench only (the interpreter is passed in): the loop that edgeprune's export gate and calibration
use is the one a board runs. `SteppedBenchRunner` is device_bench's Runner for such a file. `step` runs K time
steps per call (K = the length of its gates_x input). In an int8 file the tensors handed from one signature to the
next (gates_x, h, c, lstm_out) were calibrated on one shared range (export.tflite_step_quant), so they pass as raw
int8 bytes; where two ranges differ, the value is re-quantised in numpy. The signatures are called through the
interpreter's own wrapper (the calls its SignatureRunner makes), because SignatureRunner.__call__ also resizes
every input and re-plans the subgraph's memory (AllocateTensors) on each call, T/K times a clip here.
"""

from __future__ import annotations

import numpy as np

from .runners import Runner  # runners imports this module only inside open_runner: no cycle at import time

SIGNATURES = ("pre", "step", "post")
GATES, HIDDEN, CELL, SEQUENCE = "gates_x", "h", "c", "lstm_out"


def is_stepped(signatures) -> bool:
    """Whether a list of signature keys is that of a stepped file."""
    return set(SIGNATURES) <= set(signatures)


class _Signature:
    """One signature: its subgraph index and the details of its inputs and outputs by name."""

    def __init__(self, interpreter, key):
        runner = interpreter.get_signature_runner(key)
        self.index = runner._subgraph_index
        self.inputs = runner.get_input_details()
        self.outputs = runner.get_output_details()
        interpreter._interpreter.AllocateTensors(self.index)


class SteppedRunner:
    """Takes {input name: float32 array with a batch axis}, returns the model's output as float32 (a batch is run
    one sample at a time, as export.runtimes.TfliteRunner does)."""

    runtime = "tflite"

    def __init__(self, interpreter):
        """`interpreter`: a TFLite Interpreter (ai-edge-litert or tflite-runtime) of a stepped file."""
        self.interpreter = interpreter
        keys = interpreter.get_signature_list()
        if not is_stepped(keys):
            raise ValueError(f"not a stepped model (signatures {', '.join(sorted(keys)) or 'none'}; "
                             f"expected {', '.join(SIGNATURES)})")
        self._wrapper = self.interpreter._interpreter
        self.pre, self.step, self.post = (_Signature(self.interpreter, k) for k in SIGNATURES)
        self.input_names = list(self.pre.inputs)
        self.output_name = next(iter(self.post.outputs))
        self.hidden = int(self.step.inputs[HIDDEN]["shape"][-1])
        self.chunk = int(self.step.inputs[GATES]["shape"][1])  # time steps per call of `step`
        ins, outs = self.step.inputs, self.step.outputs
        # hand-over conversions: raw copy where the ranges agree
        self._gates = _handover(self.pre.outputs[GATES], ins[GATES])
        self._h = _handover(outs[SEQUENCE], ins[HIDDEN])
        self._c = _handover(outs[CELL], ins[CELL])
        self._seq = _handover(outs[SEQUENCE], self.post.inputs[SEQUENCE])
        self._raw_state = _same_encoding(outs[SEQUENCE], ins[HIDDEN]) and _same_encoding(outs[CELL], ins[CELL])
        self._step_indices = tuple(d["index"] for d in (ins[GATES], ins[HIDDEN], ins[CELL], outs[SEQUENCE], outs[CELL]))
        self._gates_out = self.pre.outputs[GATES]["index"]
        self._h0 = quantise(np.zeros((1, self.hidden), np.float32), ins[HIDDEN])
        self._c0 = quantise(np.zeros((1, self.hidden), np.float32), ins[CELL])

    @classmethod
    def open(cls, path, interpreter_class, num_threads: int = 1) -> "SteppedRunner":
        interpreter = interpreter_class(model_path=str(path), num_threads=num_threads)
        interpreter.allocate_tensors()
        return cls(interpreter)

    def __call__(self, feeds: dict) -> np.ndarray:
        batch = len(next(iter(feeds.values())))
        results = [self.run_one({k: v[i : i + 1] for k, v in feeds.items()}) for i in range(batch)]
        return np.concatenate([r.reshape(1, *r.shape[1:]) if r.ndim else r.reshape(1) for r in results])

    def run_one(self, inputs: dict, record: dict | None = None) -> np.ndarray:
        """The output for one sample (batch 1). `record`, when given, gets each signature's inputs de-quantised
        ({signature: [feed dict, ...]}): the calibration feeds of export.tflite_step_quant."""
        w = self._wrapper
        for name, detail in self.pre.inputs.items():
            w.SetTensor(detail["index"], quantise(inputs[name], detail), self.pre.index)
        return self.run_set(inputs, record)

    def run_set(self, inputs: dict | None = None, record: dict | None = None) -> np.ndarray:
        """The output for the inputs already set in `pre`'s tensors (run_one, or a benchmark's encoded feeds)."""
        w, s = self._wrapper, self.step.index
        w.Invoke(self.pre.index)
        gates = self._gates(w.GetTensor(self._gates_out, self.pre.index))
        chunks = gates.reshape(gates.shape[1] // self.chunk, 1, self.chunk, gates.shape[2])  # batch 1: views
        if record is not None:
            return self._record(inputs, chunks, record)
        set_tensor, get_tensor, invoke = w.SetTensor, w.GetTensor, w.Invoke
        gi, hi, ci, so, co = self._step_indices
        h, c, outs = self._h0, self._c0, []
        raw = self._raw_state  # an int8 file with tied ranges, or a float file: no numpy work per call
        for g in chunks:
            set_tensor(gi, g, s)
            set_tensor(hi, h, s)
            set_tensor(ci, c, s)
            invoke(s)
            out, c = get_tensor(so, s), get_tensor(co, s)
            h = out[:, -1] if raw else self._h(np.ascontiguousarray(out[:, -1]))
            if not raw:
                c = self._c(c)
            outs.append(out)
        return self._post(self._seq(np.concatenate(outs, axis=1)))

    def _record(self, inputs, chunks, record) -> np.ndarray:
        """run_set's loop, recording every signature's inputs de-quantised (calibration)."""
        w, s, ins = self._wrapper, self.step.index, self.step.inputs
        gi, hi, ci, so, co = self._step_indices
        h, c, outs = self._h0, self._c0, []
        record.setdefault("pre", []).append({k: np.asarray(v, np.float32) for k, v in inputs.items()})
        for g in chunks:
            record.setdefault("step", []).append(
                {GATES: dequantise(g, ins[GATES]), HIDDEN: dequantise(h, ins[HIDDEN]), CELL: dequantise(c, ins[CELL])})
            w.SetTensor(gi, g, s)
            w.SetTensor(hi, h, s)
            w.SetTensor(ci, c, s)
            w.Invoke(s)
            out = w.GetTensor(so, s)
            h, c = self._h(np.ascontiguousarray(out[:, -1])), self._c(w.GetTensor(co, s))
            outs.append(out)
        seq = self._seq(np.concatenate(outs, axis=1))
        record.setdefault("post", []).append({SEQUENCE: dequantise(seq, self.post.inputs[SEQUENCE])})
        return self._post(seq)

    def _post(self, seq) -> np.ndarray:
        w = self._wrapper
        w.SetTensor(self.post.inputs[SEQUENCE]["index"], seq, self.post.index)
        w.Invoke(self.post.index)
        detail = self.post.outputs[self.output_name]
        return dequantise(w.GetTensor(detail["index"], self.post.index), detail)


def _same_encoding(a: dict, b: dict) -> bool:
    return np.dtype(a["dtype"]) == np.dtype(b["dtype"]) and _qparams(a) == _qparams(b)


def _handover(source: dict, target: dict):
    """A function taking `source`'s tensor values to `target`'s encoding: identity when both encode alike."""
    if _same_encoding(source, target):
        return lambda value: value
    return lambda value: quantise(dequantise(value, source), target)


def _qparams(detail: dict):
    if np.dtype(detail["dtype"]) == np.float32:
        return None
    return tuple(float(v) for v in detail["quantization"])


def quantise(value, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return np.ascontiguousarray(value, dtype=np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(np.asarray(value, np.float32) / scale) + zero, info.min, info.max).astype(dtype)


def dequantise(value, detail: dict) -> np.ndarray:
    if np.dtype(detail["dtype"]) == np.float32:
        return np.asarray(value, dtype=np.float32)
    scale, zero = detail["quantization"]
    return ((np.asarray(value).astype(np.float32) - zero) * scale).astype(np.float32)


def stepped_bench_runner(runner):
    """`runner` (runners.TfliteRunner) as a SteppedBenchRunner when its file is stepped, else itself."""
    if not is_stepped(runner.interpreter.get_signature_list()):
        return runner
    return SteppedBenchRunner(runner)


class SteppedBenchRunner(Runner):
    """device_bench's Runner for a stepped file: one run() is one clip (pre, every step, post)."""

    def __init__(self, base):
        self.runtime, self.version = base.runtime, base.version
        super().__init__(base.path, base.inputs, base.outputs, {"lstm": "step"})
        self.loop = SteppedRunner(base.interpreter)
        self.feeds = base.feeds  # pre's inputs (the primary subgraph's), encoded in their dtype
        self.outputs = [{"name": name, "shape": [int(x) for x in d["shape"]], "type": np.dtype(d["dtype"]).name}
                        for name, d in self.loop.post.outputs.items()]

    def run(self):
        w = self.loop._wrapper
        for index, value in self.feeds:
            w.SetTensor(index, value, self.loop.pre.index)
        return [self.loop.run_set()]
