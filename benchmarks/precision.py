"""What bf16 mixed precision buys in training time: ms per training clip (forward, backward, AdamW step) of zoo
models in fp32 and in bf16 autocast (edgeprune.train.precision, as `--train '{"precision": "bf16"}'` runs it),
interleaved on one torch thread, and the speed-up, from one run.

    python benchmarks/precision.py                       # misp-audio and tv-audio
    python benchmarks/precision.py --models misp-audio --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from provenance import stamp


def step_ms(model, inputs, labels, opt, precision: str) -> float:
    """One training step on the batch, in ms per clip."""
    import torch

    from edgeprune.train.precision import autocast

    t = time.perf_counter()
    with autocast(torch.device("cpu"), precision):
        out = model(*inputs)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(out.float().reshape(-1), labels)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return (time.perf_counter() - t) * 1000 / labels.shape[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["misp-audio", "tv-audio"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds of --steps steps per precision")
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args(argv)
    import torch

    from edgeprune import models
    from edgeprune.train.precision import native_bf16

    torch.set_num_threads(1)
    print(f"command: python benchmarks/precision.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"{stamp()} · torch {torch.__version__}, 1 thread · native bf16: {native_bf16(torch.device('cpu'))}\n")
    print("| model | batch | fp32 ms/clip | bf16 ms/clip | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for name in args.models:
        torch.manual_seed(0)
        model = models.build(name).train()
        inputs = models.example_inputs(name, batch=args.batch)
        labels = torch.randint(0, 2, (args.batch,)).float()
        opt = torch.optim.AdamW(model.parameters(), 1e-4)
        times = {"fp32": [], "bf16": []}
        for precision in times:  # warm-up: first calls pick kernels
            step_ms(model, inputs, labels, opt, precision)
        for _ in range(args.repeats):
            for precision in times:
                times[precision] += [step_ms(model, inputs, labels, opt, precision) for _ in range(args.steps)]
        f32, b16 = statistics.median(times["fp32"]), statistics.median(times["bf16"])
        print(f"| {name} | {args.batch} | {f32:.2f} | {b16:.2f} | {f32 / b16:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
