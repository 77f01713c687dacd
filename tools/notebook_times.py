"""Execute notebooks through the tests and print how long each one took (GPU runner, budgets).

    python tools/notebook_times.py book exercises      # every chapter and exercise
    python tools/notebook_times.py book/02_convolution.md

Runs ``pytest`` on the given notebooks, one after the other (``-n 0``, so that each time is
measured alone), then prints the table of tools/execution.py: each notebook's seconds and its
ratio to its budget. Exits with pytest's status, so a failing cell fails the run. Prints the
device the library chose, so a log shows whether a GPU run really used CUDA (set
MMCOURSE_EXPECT_CUDA=1 to make that an error).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import execution

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
    command = [sys.executable, "-m", "pytest", "-q", "-n", "0", *(paths or ["book", "exercises"])]
    status = subprocess.call(command, cwd=ROOT)
    execution.main([])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
