"""Run a .tflite on given inputs in whatever Python runs this file (numpy + one TFLite runtime, no edgeprune).

    python -I tflite_child.py MODEL.tflite INPUTS.npz OUTPUTS.npz [FOLDER]

INPUTS.npz holds one float32 array per input, named like the model's signature inputs, with a batch axis; the
batch is run one sample at a time. OUTPUTS.npz gets `output` (float32, the first output, de-quantised) and
`runtime` (module and versions). export.tflite_elsewhere starts it with e.g. a tflite-runtime 2.14 + numpy<2 venv.
This file repeats the few lines of export.runtimes' int8 (de)quantisation on purpose: it must import nothing
but numpy and the runtime, because the other Python has neither torch nor edgeprune. A stepped file (`edgeprune
export --lstm step`: signatures pre, step, post) is run by device_bench's own loop: FOLDER holds a plain copy of
the device_bench package (numpy and the runtime only, as on a board), which tflite_elsewhere makes.
"""

import importlib
import sys

import numpy as np

MODULES = ("tflite_runtime.interpreter", "ai_edge_litert.interpreter")


def _interpreter_module():
    for name in MODULES:
        try:
            return name, importlib.import_module(name)
        except ImportError:
            continue
    raise SystemExit("no TFLite runtime in this Python (tried " + ", ".join(MODULES) + ")")


def _input_name(tensor_name):
    name = tensor_name.split(":")[0]
    return name[len("serving_default_"):] if name.startswith("serving_default_") else name


def _quantise(value, detail):
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return np.ascontiguousarray(value, dtype=np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(value / scale) + zero, info.min, info.max).astype(dtype)


def _dequantise(value, detail):
    if np.dtype(detail["dtype"]) == np.float32:
        return value.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((value.astype(np.float32) - zero) * scale).astype(np.float32)


def _stepped(interpreter, folder):
    """device_bench's SteppedRunner for a stepped file (None for any other file)."""
    keys = interpreter.get_signature_list()
    if not {"pre", "step", "post"} <= set(keys):
        return None
    if folder is None:
        raise SystemExit("a stepped file (signatures pre, step, post) needs the device_bench folder argument")
    sys.path.insert(0, folder)
    try:
        from device_bench.stepped import SteppedRunner
    except ImportError as exc:
        raise SystemExit("no device_bench copy in " + folder + " to run a stepped file: " + str(exc))

    return SteppedRunner(interpreter)


def main(model, inputs_path, outputs_path, folder=None):
    module_name, module = _interpreter_module()
    interpreter = module.Interpreter(model_path=model, num_threads=1)
    interpreter.allocate_tensors()
    feeds = dict(np.load(inputs_path))
    stepped = _stepped(interpreter, folder)
    if stepped is not None:
        missing = [n for n in stepped.input_names if n not in feeds]
        if missing:
            raise SystemExit("inputs missing from " + inputs_path + ": " + ", ".join(missing))
        _save(outputs_path, stepped(feeds), module_name)
        return
    details = interpreter.get_input_details()
    output = interpreter.get_output_details()[0]
    names = [_input_name(d["name"]) for d in details]
    missing = [n for n in names if n not in feeds]
    if missing:
        raise SystemExit("inputs missing from " + inputs_path + ": " + ", ".join(missing))
    results = []
    for i in range(len(feeds[names[0]])):
        for detail, name in zip(details, names):
            interpreter.set_tensor(detail["index"], _quantise(feeds[name][i : i + 1], detail))
        interpreter.invoke()
        value = _dequantise(interpreter.get_tensor(output["index"]), output)
        results.append(value.reshape(1, *value.shape[1:]) if value.ndim else value.reshape(1))
    _save(outputs_path, np.concatenate(results), module_name)


def _save(outputs_path, output, module_name):
    package = importlib.import_module(module_name.split(".")[0])
    runtime = "%s %s, numpy %s" % (module_name.split(".")[0], getattr(package, "__version__", "?"), np.__version__)
    np.savez(outputs_path, output=np.asarray(output, dtype=np.float32), runtime=np.array(runtime))


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        raise SystemExit("usage: tflite_child.py MODEL.tflite INPUTS.npz OUTPUTS.npz [FOLDER]")
    main(*sys.argv[1:])
