"""Faults injected for real into a run dir's lock: `--resume` on a run dir that another process holds (this test's
process, through `lock_run_dir`), by one rank and by two. Each test's docstring is "<fault> → <outcome>";
`benchmarks/faults.py` prints them."""
import os
import pytest
from test_train import torchrun, ranks_exited, files
from _cli import refused
from lct_nb.guard import lock_run_dir
from conftest import SHARED

pytestmark = pytest.mark.fault
TINY = SHARED                                     # the flags of the session's trained run (conftest.py)


@pytest.fixture
def held_run(run_copy):
    "A finished run (a copy of the session's: checkpoints of steps 2, 4) this process holds, as a live run would."
    run = run_copy
    lock = lock_run_dir(run)
    yield run
    lock.close()


def _files(run): return files(run, but=('.lock',))      # all but the run dir's lock


def test_resume_on_a_held_run_dir_says_one_line(held_run, capsys):
    "--resume on a run dir another process holds → one line naming the holder and nothing before it, exit 2, nothing written"
    from lct_nb.train import main
    before, _ = _files(held_run), capsys.readouterr()
    with pytest.raises(SystemExit) as e: main(['--run_dir', str(held_run), *TINY, '--resume'])
    refused('train', e.value.code, capsys.readouterr().err, f'--run_dir {held_run} is in use by process {os.getpid()}')
    assert _files(held_run) == before


def test_two_rank_resume_on_a_held_run_dir_is_refused_once(held_run):
    "torchrun of 2 ranks, --resume on a held run dir → rank 0's one line, nothing said before it, no rank's traceback"
    before = _files(held_run)
    res = torchrun(2, '-m', 'lct_nb.train', '--run_dir', str(held_run), *TINY, '--resume', check=False)
    ours = [l for l in res.stderr.splitlines() if l.startswith('lct_nb.train:')]
    assert res.returncode != 0 and len(ours) == 1, res.stderr[-5000:]
    assert ours[0].startswith(f'lct_nb.train: error: --run_dir {held_run} is in use by process {os.getpid()}'), ours
    assert 'lct_nb/' not in res.stderr, res.stderr[-5000:]   # no rank's traceback
    ranks_exited(res.returncode, res.stdout + res.stderr, 2)   # both ranks refuse alike, with status 2
    assert _files(held_run) == before
