"""The thread policy as torch's OpenMP sees it: every command starts it with idle threads asleep; the user's setting wins.

libgomp prints the settings it started with when OMP_DISPLAY_ENV=VERBOSE; GOMP_SPINCOUNT is how long an idle thread
spins before it sleeps: 0 under OMP_WAIT_POLICY=PASSIVE, 300000 when no wait policy is given."""
import os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLEAR = ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'OMP_NUM_THREADS')


def _spincount(code, **env):
    "The GOMP_SPINCOUNT that torch's OpenMP starts with when a fresh Python runs `code` with `env` added."
    e = {k: v for k, v in os.environ.items() if k not in CLEAR} | dict(OMP_DISPLAY_ENV='VERBOSE', PYTHONPATH=str(ROOT)) | env
    res = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=e, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return next(l.split('=')[1].strip(" '") for l in res.stderr.splitlines() if 'GOMP_SPINCOUNT' in l)


def test_commands_start_openmp_passive():
    "train, evaluate and latents import lct_nb.core before torch, so idle OpenMP threads sleep at once (spin count 0)."
    code = "import lct_nb.{}, lct_nb.core as c; assert c.OPENMP_WAIT == 'PASSIVE', c.OPENMP_WAIT"
    assert [_spincount(code.format(m)) for m in ('train', 'evaluate', 'latents')] == ['0'] * 3
    assert _spincount('import torch') == '300000'              # torch alone keeps OpenMP's spinning default


def test_user_wait_setting_wins():
    "An explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT reaches OpenMP untouched."
    assert _spincount('import lct_nb.train', OMP_WAIT_POLICY='ACTIVE') == '30000000000'
    assert _spincount('import lct_nb.train', GOMP_SPINCOUNT='1234') == '1234'
