"""The thread policy as torch's OpenMP sees it: beside other work every command starts it with idle threads asleep, and
what `lct_nb.core` chose is what OpenMP got; the user's setting wins.

libgomp prints the settings it started with when OMP_DISPLAY_ENV=VERBOSE; GOMP_SPINCOUNT is how long an idle thread
spins before it sleeps: 0 under OMP_WAIT_POLICY=PASSIVE, 300000 when no wait policy is given."""
import os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLEAR = ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'OMP_NUM_THREADS')


def _spincount(code, **env):
    "The GOMP_SPINCOUNT that torch's OpenMP starts with when a fresh Python runs `code` with `env` added; and its stdout."
    e = {k: v for k, v in os.environ.items() if k not in CLEAR} | dict(OMP_DISPLAY_ENV='VERBOSE', PYTHONPATH=str(ROOT)) | env
    res = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=e, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return next(l.split('=')[1].strip(" '") for l in res.stderr.splitlines() if 'GOMP_SPINCOUNT' in l), res.stdout.strip()


def test_commands_start_openmp_passive_beside_load():
    "With a core kept busy, train, evaluate and latents import lct_nb.core before torch: idle threads sleep at once."
    code = "import lct_nb.{}, lct_nb.core as c; assert c.OPENMP_WAIT == 'PASSIVE', c.OPENMP_WAIT"
    busy = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    try: assert [_spincount(code.format(m))[0] for m in ('train', 'evaluate', 'latents')] == ['0'] * 3
    finally:
        busy.kill()
        busy.wait()


def test_chosen_wait_reaches_openmp():
    "Whatever the load, OpenMP starts with the wait lct_nb.core chose: its own spinning (quiet) or none (PASSIVE)."
    spin, wait = _spincount("import lct_nb.train, lct_nb.core as c; print(c.OPENMP_WAIT)")
    assert (wait, spin) in [('default', '300000'), ('PASSIVE', '0')], (wait, spin)
    assert _spincount('import torch')[0] == '300000'           # torch alone keeps OpenMP's spinning default


def test_user_wait_setting_wins():
    "An explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT reaches OpenMP untouched."
    assert _spincount('import lct_nb.train', OMP_WAIT_POLICY='ACTIVE')[0] == '30000000000'
    assert _spincount('import lct_nb.train', GOMP_SPINCOUNT='1234')[0] == '1234'
