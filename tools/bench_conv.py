"""How much each convolution costs: CPU time of mmcourse's versions relative to F.conv2d.

    python tools/bench_conv.py

A benchmark, not a test: it prints median times and ratios measured in one run on this machine
(forward and forward+backward), for the digits-sized batch the course trains on and for a larger
layer. The goal for the im2col version is to stay within about 3× of F.conv2d.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from mmcourse.conv import conv2d, conv2d_loop

CASES = {
    "digits batch: (256, 1, 8, 8) -> 32 maps, 3×3, padding 1": ((256, 1, 8, 8), (32, 1, 3, 3), 1),
    "mid layer: (64, 16, 28, 28) -> 32 maps, 3×3, padding 1": ((64, 16, 28, 28), (32, 16, 3, 3), 1),
}


def median_time(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after two warm-up runs."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_version(fn, x, w, padding: int, repeats: int) -> tuple[float, float]:
    """Median seconds of the forward pass, and of forward plus backward."""
    forward = median_time(lambda: fn(x, w, padding=padding), repeats)
    both = median_time(lambda: fn(x, w, padding=padding).sum().backward(), repeats)
    return forward, both


def main() -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")
    for name, (x_shape, w_shape, padding) in CASES.items():
        x = torch.randn(x_shape, requires_grad=True)
        w = torch.randn(w_shape, requires_grad=True)
        print(name)
        versions = {"F.conv2d": F.conv2d, "mmcourse.conv2d (im2col)": conv2d}
        if x.shape[-1] <= 8:
            versions["mmcourse.conv2d_loop"] = conv2d_loop
        reference = {}
        for label, fn in versions.items():
            forward, both = time_version(fn, x, w, padding, repeats=5 if "loop" in label else 30)
            reference.setdefault("forward", forward)
            reference.setdefault("both", both)
            print(
                f"  {label:<26} forward {forward * 1e3:8.2f} ms "
                f"({forward / reference['forward']:5.1f}×)   forward+backward "
                f"{both * 1e3:8.2f} ms ({both / reference['both']:5.1f}×)"
            )
        print()


if __name__ == "__main__":
    main()
