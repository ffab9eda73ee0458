"""The demo's DVC pipeline stage: ``python -m govctl.demo.stages prepare RAW OUTDIR``."""

from __future__ import annotations

import sys
from pathlib import Path

from govctl.demo import corpus


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "prepare":
        sys.stderr.write("usage: python -m govctl.demo.stages prepare RAW.csv OUTDIR\n")
        return 2
    raw, out = Path(argv[1]), Path(argv[2])
    corpus.split_questions(raw, out / "train.csv", out / "eval.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
