"""Short tensor names in a .tflite file: litert-torch names every tensor by its full module path.

A name such as `edgeprune.export.tflite_export._Keywords/edgeprune.models.tv.TVAudio_model/.../
torch.nn.modules.rnn.LSTM_lstm;36` (~140 bytes) on each of ~700 tensors of an unrolled LSTM made up 100-130 KB
of tv-audio's file, a quarter of its int8 size. Each name is cut to its last module (`LSTM_lstm;36`), with
`#<index>` added where that would repeat a name (ai-edge-quantizer needs unique names); the model's input and
output tensors keep their names (runners find inputs by them).
"""

from __future__ import annotations


def short_name(name: str) -> str:
    """The last module of a litert-torch tensor name: 'a.B_b/c.d.LSTM_lstm;36' -> 'LSTM_lstm;36'."""
    first = name.split(";;")[0]  # fused ops join the names of their parts with ';;'
    return first.rsplit("/", 1)[-1].rsplit(".", 1)[-1] or name


def shorten_tensor_names(model) -> int:
    """Shorten the tensor names of a tflite ModelT in place, except subgraph inputs and outputs -> bytes saved."""
    saved = 0
    for subgraph in model.subgraphs or []:
        keep = set(subgraph.inputs if subgraph.inputs is not None else []) | set(
            subgraph.outputs if subgraph.outputs is not None else [])
        tensors = subgraph.tensors or []
        used = {_text(tensors[i].name) for i in keep if i < len(tensors)}
        for index, tensor in enumerate(tensors):
            if index in keep or not tensor.name:
                continue
            name = _text(tensor.name)
            short = short_name(name)
            if short in used:
                short = f"{short}#{index}"
            used.add(short)
            saved += len(name.encode()) - len(short.encode())
            tensor.name = short
    return saved


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
