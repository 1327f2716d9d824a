"""A model with one LSTM as a stepped .tflite: signatures `pre`, `step` (K LSTM time steps) and `post` in one file.

litert-torch 0.10 cannot emit TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM, and it has no lowering for a while
loop ("Lowering not found: while_loop" for torch's while_loop), so a whole-model file unrolls the LSTM over time
(about 600 ops for tv-audio's 32 steps). Here the model is cut at its LSTM into three modules converted as three
signatures of one file (litert-torch's multi-signature Converter; they share no weights):
- `pre`:  the model's inputs -> `gates_x` (1, T, 4H), the LSTM's input projection of every step (both biases folded);
- `step`: `gates_x` (1, K, 4H), `h` (1, H), `c` (1, H) -> `lstm_out` (1, K, H), `c`: K time steps (`chunk`,
  a divisor of T) in PyTorch's gate order, as tflite_lstm; the next call's `h` is the last row of `lstm_out`;
- `post`: `lstm_out` (1, T, H), the LSTM's output sequence -> the model's output.
A runner (device_bench.stepped, numpy and the runtime only) calls `step` T/K times. K trades Python calls per clip
(each costs a few microseconds of interpreter overhead) against ops and tensors in the file. The cut is checked
in PyTorch before conversion: the model must use nothing but the LSTM's output sequence after it (not its final
cell state, no path around it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from edgeprune.errors import EdgepruneError
from edgeprune.export.rewrite import replace_modules

SIGNATURES = ("pre", "step", "post")
GATES, HIDDEN, CELL, SEQUENCE = "gates_x", "h", "c", "lstm_out"  # signature input/output names
DEFAULT_CHUNK = 4  # time steps per call of `step` (docs: measured per clip against the unrolled file)
SPLIT_TOL = 1e-4  # the three parts chained in PyTorch must give the model's output within this (relative)


def find_lstm(model: nn.Module, what: str = "the model") -> tuple[str, nn.LSTM]:
    """(name, module) of the model's only LSTM; one clear error when it has none, several, or one that cannot step."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.RNNBase)]
    if not found:
        raise EdgepruneError(f"--lstm step: {what} has no LSTM to step ({type(model).__name__}); "
                             "export it without --lstm")
    if len(found) > 1:
        raise EdgepruneError(f"--lstm step: {what} has {len(found)} recurrent layers "
                             f"({', '.join(n for n, _ in found)}); only a model with one LSTM can be stepped")
    name, lstm = found[0]
    if not isinstance(lstm, nn.LSTM) or lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size:
        raise EdgepruneError(f"--lstm step: {name} is not a one-layer unidirectional LSTM without projection "
                             f"({lstm!r}); only such an LSTM can be stepped")
    return name, lstm


class _Capture(nn.Module):
    """Stands in for the LSTM in `pre`: keeps its input projection (B, T, 4H) and returns zeros (dead code after)."""

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        self.batch_first = lstm.batch_first
        self.weight = nn.Parameter(lstm.weight_ih_l0.detach().clone(), requires_grad=False)
        bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0) if lstm.bias else torch.zeros(4 * lstm.hidden_size)
        self.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)
        self.captured = None

    def forward(self, x, state=None):
        if state is not None:
            raise EdgepruneError("--lstm step: the model passes an initial state to its LSTM; only a zero state steps")
        seq = x if self.batch_first else x.transpose(0, 1)
        self.captured = F.linear(seq, self.weight, self.bias)
        hidden = self.weight.shape[0] // 4
        zeros = x.new_zeros(*x.shape[:2], hidden)  # the LSTM's output layout, (B, T, H) or (T, B, H)
        last = x.new_zeros(1, seq.shape[0], hidden)
        return zeros, (last, last.clone())


class _Feed(nn.Module):
    """Stands in for the LSTM in `post`: returns the sequence it is given. The final cell state is NaN, so a model
    that uses it fails the split check instead of giving a plausible wrong answer."""

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        self.batch_first = lstm.batch_first
        self.sequence = None  # (B, T, H), set by _Post before the model runs

    def forward(self, x, state=None):
        seq = self.sequence
        last = seq[:, -1].unsqueeze(0)
        out = seq if self.batch_first else seq.transpose(0, 1)
        return out, (last, torch.full_like(last, float("nan")))


class _Pre(nn.Module):
    def __init__(self, model, capture, names):
        super().__init__()
        self.model, self.capture, self.names = model, capture, tuple(names)

    def forward(self, **inputs):
        self.model(*(inputs[n] for n in self.names))
        return {GATES: self.capture.captured}


class Step(nn.Module):
    """K LSTM time steps: (input projections of these steps (B, K, 4H), h, c) -> {lstm_out (B, K, H), c}."""

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        self.weight_hh = nn.Parameter(lstm.weight_hh_l0.detach().clone(), requires_grad=False)

    def forward(self, gates_x, h, c):
        hs = []
        for t in range(gates_x.shape[1]):
            gates = gates_x[:, t] + F.linear(h, self.weight_hh)
            i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
        return {SEQUENCE: torch.stack(hs, dim=1), CELL: c}


class _Post(nn.Module):
    def __init__(self, model, feed, example, output_name):
        super().__init__()
        self.model, self.feed, self.output_name = model, feed, output_name
        self.shapes = [tuple(t.shape) for t in example]

    def forward(self, lstm_out):
        self.feed.sequence = lstm_out
        # The inputs feed only the part before the LSTM, which _Feed ignores: constants, removed as dead code.
        return {self.output_name: self.model(*(torch.zeros(s) for s in self.shapes))}


@dataclass
class StepParts:
    pre: nn.Module
    step: Step
    post: nn.Module
    hidden: int
    steps: int
    lstm_name: str
    chunk: int = 1


def split_at_lstm(source, chunk: int = DEFAULT_CHUNK) -> StepParts:
    """The three parts of `source` (export.source.ExportSource), checked in PyTorch on its example inputs; `step`
    takes the largest divisor of the sequence length that is at most `chunk` time steps."""
    if chunk < 1:
        raise EdgepruneError(f"--lstm step: the chunk must be a positive number of time steps, got {chunk}")
    from edgeprune.export.tflite_conv3d import replace_conv3d

    model, _ = replace_conv3d(source.model)  # the converter segfaults on Conv3d (tflite_conv3d)
    name, lstm = find_lstm(model, source.name)
    capture, feed = _Capture(lstm), _Feed(lstm)
    # find_lstm made sure the model has exactly one recurrent layer: the copies swap it by type
    pre_model, _ = replace_modules(model, lambda m: capture if isinstance(m, nn.LSTM) else None)
    post_model, _ = replace_modules(model, lambda m: feed if isinstance(m, nn.LSTM) else None)
    parts = StepParts(_Pre(pre_model, capture, source.input_names).eval(), Step(lstm).eval(),
                      _Post(post_model, feed, source.example, source.output_name).eval(), lstm.hidden_size, 0, name)
    with torch.no_grad():
        expected = source.model(*source.example).float()
        parts.steps = int(parts.pre(**dict(zip(source.input_names, source.example)))[GATES].shape[1])
        parts.chunk = max(k for k in range(1, min(chunk, parts.steps) + 1) if parts.steps % k == 0)
        got, _ = run_parts(parts, dict(zip(source.input_names, source.example)))
    diff = float((expected - got).abs().max()) if expected.shape == got.shape else float("inf")
    scale = max(1.0, float(expected.abs().max()))
    if not diff <= SPLIT_TOL * scale:  # NaN too: the model used the LSTM's final cell state
        raise EdgepruneError(f"--lstm step: {source.name} does not split at its LSTM {name} (the parts give "
                             f"max |diff| {diff:.3g} from the model): after the LSTM it must use only the LSTM's "
                             "output sequence, not its final state nor a path around it")
    return parts


def run_parts(parts: StepParts, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(model output, gates_x) of the three parts chained in PyTorch, with zero initial state."""
    gates = parts.pre(**inputs)[GATES]
    h = gates.new_zeros(gates.shape[0], parts.hidden)
    c = torch.zeros_like(h)
    chunks = []
    for start in range(0, gates.shape[1], parts.chunk):
        out = parts.step(gates[:, start : start + parts.chunk], h, c)
        c = out[CELL]
        chunks.append(out[SEQUENCE])
        h = chunks[-1][:, -1]
    post = parts.post(torch.cat(chunks, dim=1))
    return next(iter(post.values())).float(), gates


def to_tflite_step(source, path: Path, metadata: dict[str, str], chunk: int = DEFAULT_CHUNK) -> dict:
    """Write `source` as a float stepped .tflite at `path` (signatures pre/step/post); return what was done."""
    from edgeprune.export.metadata import add_tflite_metadata
    from edgeprune.export.quiet import quiet
    from edgeprune.export.tflite_export import import_litert_torch
    from edgeprune.export.unsupported import converter_error

    parts = split_at_lstm(source, chunk)
    with quiet():
        litert_torch = import_litert_torch()
    h = torch.zeros(1, parts.hidden)
    gates = torch.zeros(1, parts.chunk, 4 * parts.hidden)
    try:
        with quiet():
            converted = (litert_torch.signature("pre", parts.pre, sample_kwargs=dict(zip(source.input_names, source.example)))
                         .signature("step", parts.step, sample_kwargs={GATES: gates, HIDDEN: h, CELL: h.clone()})
                         .signature("post", parts.post, sample_kwargs={SEQUENCE: torch.zeros(1, parts.steps, parts.hidden)})
                         .convert())
            blob = bytes(converted.model_content())
    except Exception as exc:
        raise converter_error("TFLite conversion (--lstm step)", exc, source.model, source.example) from None
    path.write_bytes(add_tflite_metadata(prefix_tensor_names(blob), {**metadata, "lstm": "step", "lstm_chunk": str(parts.chunk)}))
    return {"shapes": {n: list(t.shape) for n, t in zip(source.input_names, source.example)}, "lstm": "step",
            "lstm_layer": parts.lstm_name, "steps": parts.steps, "hidden": parts.hidden, "chunk": parts.chunk,
            "signatures": list(SIGNATURES)}


def prefix_tensor_names(blob: bytes) -> bytes:
    """Every tensor name prefixed by its signature ('step:Linear_fc;3'), after tflite_names' shortening.

    ai-edge-quantizer keys calibrated ranges by tensor name over the whole file: two subgraphs with a tensor of
    the same (shortened) name would share one range. The signature inputs and outputs keep their names."""
    import flatbuffers

    from edgeprune.export.metadata import _schema
    from edgeprune.export.tflite_names import short_name

    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(blob), 0)
    names = {d.subgraphIndex: _text(d.signatureKey) for d in model.signatureDefs or []}
    for index, subgraph in enumerate(model.subgraphs or []):
        keep = set(subgraph.inputs if subgraph.inputs is not None else []) | set(
            subgraph.outputs if subgraph.outputs is not None else [])
        prefix = names.get(index, f"subgraph{index}")
        for i, tensor in enumerate(subgraph.tensors or []):
            if i not in keep and tensor.name:
                tensor.name = f"{prefix}:{short_name(_text(tensor.name))}"
    builder = flatbuffers.Builder(len(blob) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def open_stepped_runner(path):
    """device_bench.stepped.SteppedRunner on this Python's TFLite interpreter (one thread)."""
    from edgeprune.export.quiet import quiet
    from edgeprune.export.runtimes import tflite_interpreter_class
    from edgeprune.device_bench.stepped import SteppedRunner

    interpreter_class = tflite_interpreter_class()
    try:
        with quiet():
            return SteppedRunner.open(path, interpreter_class)
    except Exception as exc:
        raise EdgepruneError(f"the TFLite interpreter cannot run {path} as a stepped model: "
                             f"{str(exc).splitlines()[0]}") from None
