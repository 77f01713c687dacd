"""Run notebooks through nbval and print how long each one took (for the GPU runner and budgets).

    python tools/notebook_times.py book exercises      # every chapter and exercise
    python tools/notebook_times.py book/02_convolution.md

Runs ``pytest`` with a JUnit report, then sums the time of every cell per notebook. Exits with
pytest's status, so a failing cell fails the run. Prints the device the library chose, so a log
shows whether a GPU run really used CUDA (set MMCOURSE_EXPECT_CUDA=1 to make that an error).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(paths: list[str]) -> int:
    import torch

    import mmcourse

    device = mmcourse.get_device()
    cuda = device.type == "cuda" and torch.cuda.is_available()
    gpu = f" ({torch.cuda.get_device_name()})" if cuda else ""
    print(f"mmcourse.get_device() -> {device}{gpu}")
    if os.environ.get("MMCOURSE_EXPECT_CUDA") == "1" and not cuda:
        print("MMCOURSE_EXPECT_CUDA=1 but CUDA is not available or the library would not use it")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        status = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                f"--junitxml={report}",
                *(paths or ["book", "exercises"]),
            ],
            cwd=ROOT,
        )
        if not report.exists():
            return status or 1
        seconds: dict[str, float] = defaultdict(float)
        for case in ET.parse(report).getroot().iter("testcase"):
            # nbval's class name is the notebook path with dots for slashes: book.02_conv.md
            base, _, suffix = case.get("classname", "").rpartition(".")
            notebook = f"{base.replace('.', '/')}.{suffix}" if base else suffix
            seconds[notebook] += float(case.get("time", 0))
    print(f"\n{'notebook':<48} {'seconds':>8}   ({device})")
    for notebook, total in sorted(seconds.items()):
        print(f"{notebook:<48} {total:8.1f}")
    print(f"{'total':<48} {sum(seconds.values()):8.1f}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
