"""Run ``python ARGS`` and exit 0 for any of the given analysis verdicts (0, 1, 5), so a
benchmark times the command whatever the canary's verdict is."""

import subprocess
import sys

rc = subprocess.run([sys.executable, *sys.argv[1:]]).returncode
sys.exit(0 if rc in (0, 1, 5) else rc)
