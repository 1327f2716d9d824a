"""Run a stepped .tflite (edgeprune export --lstm step: signatures pre, step, post): `pre`, `step` per time step, `post`.

numpy and device_bench only (the interpreter is passed in): the loop that edgeprune's export gate and
calibration use is the one a board runs. `SteppedBenchRunner` is device_bench's Runner for such a file. Float or int8:
in an int8 file the tensors handed from one signature to the next (gates_x, h, c, lstm_out) were calibrated on
one shared range (export.tflite_step_quant), so they pass as raw int8 bytes; where two ranges differ, the value
is re-quantised in numpy. The signatures are called through the interpreter's own wrapper (the calls its
SignatureRunner makes), because SignatureRunner.__call__ also resizes every input and re-plans the subgraph's
memory (AllocateTensors) on each call, once per time step here.
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
        # hand-over conversions: raw copy where the ranges agree
        self._gates = _handover(self.pre.outputs[GATES], self.step.inputs[GATES])
        self._h = _handover(self.step.outputs[HIDDEN], self.step.inputs[HIDDEN])
        self._c = _handover(self.step.outputs[CELL], self.step.inputs[CELL])
        self._seq = _handover(self.step.outputs[HIDDEN], self.post.inputs[SEQUENCE])

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
        w = self._wrapper
        w.Invoke(self.pre.index)
        gates = self._gates(w.GetTensor(self.pre.outputs[GATES]["index"], self.pre.index))
        s, ins, outs = self.step.index, self.step.inputs, self.step.outputs
        gi, hi, ci = ins[GATES]["index"], ins[HIDDEN]["index"], ins[CELL]["index"]
        ho, co = outs[HIDDEN]["index"], outs[CELL]["index"]
        h = quantise(np.zeros((1, self.hidden), np.float32), ins[HIDDEN])
        c = quantise(np.zeros((1, self.hidden), np.float32), ins[CELL])
        hs = []
        for t in range(gates.shape[1]):
            g = np.ascontiguousarray(gates[:, t])
            if record is not None:
                record.setdefault("step", []).append(
                    {GATES: dequantise(g, ins[GATES]), HIDDEN: dequantise(h, ins[HIDDEN]), CELL: dequantise(c, ins[CELL])})
            w.SetTensor(gi, g, s)
            w.SetTensor(hi, h, s)
            w.SetTensor(ci, c, s)
            w.Invoke(s)
            out_h = w.GetTensor(ho, s)
            hs.append(out_h)
            h, c = self._h(out_h), self._c(w.GetTensor(co, s))
        seq = self._seq(np.stack(hs, axis=1))
        if record is not None:
            record.setdefault("pre", []).append({k: np.asarray(v, np.float32) for k, v in inputs.items()})
            record.setdefault("post", []).append({SEQUENCE: dequantise(seq, self.post.inputs[SEQUENCE])})
        w.SetTensor(self.post.inputs[SEQUENCE]["index"], seq, self.post.index)
        w.Invoke(self.post.index)
        detail = self.post.outputs[self.output_name]
        return dequantise(w.GetTensor(detail["index"], self.post.index), detail)


def _handover(source: dict, target: dict):
    """A function taking `source`'s tensor values to `target`'s encoding: identity when both encode alike."""
    if np.dtype(source["dtype"]) == np.dtype(target["dtype"]) and _qparams(source) == _qparams(target):
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
