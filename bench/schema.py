"""A fresh benchmark database made the way a deployment makes one: by the migrations, in a child
process (`run.py migrate`), so it holds what they seed (the department registry's kinds) and the
benchmark process itself never loads the web application it does not measure."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def migrate(url):
    env = dict(os.environ, DATABASE_URL=url, YIZHAN_SCHEDULER="off")
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "migrate"], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"could not migrate {url}:\n{done.stderr[-2000:]}")
