"""Faults injected for real into what the thread policy reads: a /proc/stat that is empty or cut short (bind-mounted
over the real one in a mount namespace of the test's own). Each test's docstring is "<fault> → <outcome>";
`benchmarks/faults.py` prints them."""
import os, shutil, subprocess, sys
from pathlib import Path
import pytest

pytestmark = [pytest.mark.fault,
              pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('unshare'), reason='needs root and unshare')]
ROOT = Path(__file__).resolve().parent.parent


def _with_proc_stat(text, tmp_path, *args):
    "Run `python ARGS` with `text` as /proc/stat; (return code, stdout, stderr)."
    fake = tmp_path/'stat'
    fake.write_text(text)
    env = {k: v for k, v in os.environ.items() if k not in ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'OMP_NUM_THREADS')}
    cmd = f"mount --bind {fake} /proc/stat && exec {sys.executable} \"$@\""
    r = subprocess.run(['unshare', '-m', 'sh', '-c', cmd, 'sh', *args], capture_output=True, text=True, timeout=300,
                       cwd=ROOT, env=env | dict(PYTHONPATH=str(ROOT), OMP_DISPLAY_ENV='VERBOSE'))
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize('text', ['', 'cpu  1 2\n', 'intr 5\n', 'cpu  a b c d e f g h\n'])
def test_unreadable_proc_stat(text, tmp_path):
    "/proc/stat empty, cut short, without a cpu line or not numbers → the command starts; unknown load: threads asleep"
    rc, out, err = _with_proc_stat(text, tmp_path, '-m', 'lct_nb.train', '--help')
    assert rc == 0 and out.startswith('usage: python -m lct_nb.train'), err[-3000:]
    assert "GOMP_SPINCOUNT = '0'" in err, err[-3000:]                    # OMP_WAIT_POLICY=PASSIVE reached OpenMP
    rc, out, err = _with_proc_stat(text, tmp_path, '-c', 'from lct_nb.threads import busy_cores; print(busy_cores())')
    assert (rc, out.strip()) == (0, 'None'), err[-3000:]
