"""One pre-commit hook on 200 files against bare ``python -c "import pydantic, yaml"``.
Target: <= 1.5x.

Run: python bench/bench_hooks.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import ROOT, env, report, time_interleaved


def main() -> int:
    prompt = (ROOT / "registry" / "prompts" / "support-answer.yaml").read_text()
    policy = (ROOT / "policies" / "release.yaml").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "registry" / "prompts").mkdir(parents=True)
        (root / "policies").mkdir()
        files = []
        for i in range(150):
            p = root / "registry" / "prompts" / f"p{i}.yaml"
            p.write_text(prompt.replace("name: support-answer", f"name: p{i}"))
            files.append(str(p.relative_to(root)))
        for i in range(50):
            p = root / "policies" / f"pack{i}.yaml"
            p.write_text(policy)
            files.append(str(p.relative_to(root)))
        t = time_interleaved({
            "floor": [sys.executable, "-c", "import pydantic, yaml"],
            "validate": [sys.executable, "-m", "govctl.hooks", "validate", *files],
            "lint": [sys.executable, "-m", "govctl.hooks", "prompt-lint", *files[:150]],
            "secrets": [sys.executable, "-m", "govctl.hooks", "secrets", *files],
            "data-guard": [sys.executable, "-m", "govctl.hooks", "data-guard", *files],
            "signatures": [sys.executable, "-m", "govctl.hooks", "signatures", *files],
        }, cwd=root, environ=env())
    floor = t["floor"]
    ok = report("govctl-validate on 200 files", t["validate"], floor, 1.5)
    ok &= report("govctl-prompt-lint on 150 files", t["lint"], floor, 1.5)
    ok &= report("govctl-secrets on 200 files", t["secrets"], floor, 1.5)
    ok &= report("govctl-data-guard on 200 files", t["data-guard"], floor, 1.5)
    ok &= report("govctl-signatures on 200 files", t["signatures"], floor, 1.5)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
