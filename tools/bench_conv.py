"""How much each convolution costs: the time of mmcourse's versions relative to F.conv2d.

    python tools/bench_conv.py [--repeats 30] [--threads N]

A benchmark, not a test: it prints, for the digits-sized batch the course trains on and for a
mid-network layer, how many times as long as F.conv2d each from-scratch version takes, for the
forward pass and for forward plus backward, measured in this one process. The runs are
interleaved: every round times F.conv2d and the version back to back, and a ratio is the median
of the rounds' ratios (``mmcourse.conv.compare_speed``, which the chapter calls with a few
rounds). The goal for the im2col version is to stay within 3× of F.conv2d on both.
"""

from __future__ import annotations

import argparse

import torch

from mmcourse.conv import compare_speed, conv2d, conv2d_loop

# name: (input shape, weight shape, padding)
CASES = {
    "digits batch: (256, 1, 8, 8) -> 32 maps, 3×3, padding 1": ((256, 1, 8, 8), (32, 1, 3, 3), 1),
    "mid layer: (64, 16, 28, 28) -> 32 maps, 3×3, padding 1": ((64, 16, 28, 28), (32, 16, 3, 3), 1),
}
GOAL = 3.0  # the im2col version should take at most this many times as long as F.conv2d


def measure(repeats: int = 30) -> dict[str, dict[str, dict[str, float]]]:
    """``{case: {version: compare_speed(...)}}`` on the CPU, for every case of ``CASES``.

    The loop version is timed on the digits batch only (it takes seconds on the larger layer),
    with a third of the rounds.
    """
    generator = torch.Generator().manual_seed(0)
    results = {}
    for name, (x_shape, w_shape, padding) in CASES.items():
        x = torch.randn(x_shape, generator=generator)
        weight = torch.randn(w_shape, generator=generator)
        versions = {"mmcourse.conv2d (im2col)": (conv2d, repeats)}
        if x_shape[-1] <= 8:
            versions["mmcourse.conv2d_loop"] = (conv2d_loop, max(1, repeats // 3))
        results[name] = {
            label: compare_speed(fn, x, weight, padding=padding, repeats=rounds)
            for label, (fn, rounds) in versions.items()
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="rounds per version (30)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread{'s' * (threads > 1)}, CPU")
    print("times are medians; ratios are medians of interleaved rounds, relative to F.conv2d\n")
    worst = 0.0
    for name, versions in measure(args.repeats).items():
        print(name)
        for label, r in versions.items():
            if label == next(iter(versions)):
                print(
                    f"  {'F.conv2d':<26} forward {r['F.conv2d forward ms']:8.2f} ms"
                    f"           forward+backward {r['F.conv2d forward+backward ms']:8.2f} ms"
                )
            print(
                f"  {label:<26} forward {r['forward ms']:8.2f} ms ({r['forward']:5.1f}×)"
                f"   forward+backward {r['forward+backward ms']:8.2f} ms"
                f" ({r['forward+backward']:5.1f}×)"
            )
            if "im2col" in label:
                worst = max(worst, r["forward"], r["forward+backward"])
        print()
    verdict = "within" if worst <= GOAL else "OUTSIDE"
    print(f"im2col version: at most {worst:.1f}× F.conv2d, {verdict} the goal of {GOAL:.0f}×")


if __name__ == "__main__":
    main()
