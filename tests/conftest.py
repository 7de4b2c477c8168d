"""One trained run for the whole pytest session, one torch thread in this process, and every temporary file of the
session under pytest's base temp (`scratch_in_basetemp`), not left in the system's.

`trained_run` is a real `python -m lct_nb.train` run of `SHARED` (4 steps, checkpoints at steps 2 and 4, sample grids
and the exported model at the end), trained once per session: under pytest-xdist the first worker to ask trains it and
the others wait on a lock (flock) and read it. Tests never write into it: `run_copy` gives each test its own copy."""
import fcntl, os, shutil, subprocess, sys, tempfile
from pathlib import Path
import pytest, torch

ROOT = Path(__file__).resolve().parent.parent
# the shared run's flags: a resume of a copy passes them again (a change of batch size or length would be refused)
SHARED = ['--total_steps', '4', '--batch_size', '16', '--n_samples', '4', '--ckpt_every', '2', '--keep_ckpts', '5',
          '--log_every', '1', '--lr_decay', '0']
# in-process runs (the tools' `main`, `Trainer`) compute with one thread, as the commands the tests start do
# (OMP_NUM_THREADS=1): a run resumed in a process continues one trained here bit for bit
torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    "The tests marked full first (each most of a minute): under -n 2 they start early instead of ending the session."
    items.sort(key=lambda item: item.get_closest_marker('full') is None)   # a stable sort: the rest keep their order


@pytest.fixture(scope='session', autouse=True)
def scratch_in_basetemp(tmp_path_factory):
    "Every temporary file of the session (the chapters', torchrun's logs) under pytest's base temp, which pytest prunes."
    d = tmp_path_factory.getbasetemp()/'tmp'
    d.mkdir(exist_ok=True)
    old = os.environ.get('TMPDIR'), tempfile.tempdir
    os.environ['TMPDIR'], tempfile.tempdir = str(d), str(d)   # this process's and the processes it starts
    yield
    if old[0] is None: os.environ.pop('TMPDIR', None)
    else: os.environ['TMPDIR'] = old[0]
    tempfile.tempdir = old[1]


def _shared_root(tmp_path_factory) -> Path:
    "A folder every worker of this session sees: the session's base temp, or its parent under pytest-xdist."
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base


def _once(tmp_path_factory, name: str, launch: list) -> Path:
    "The run dir `name` trained by `launch --run_dir <it>`, once for the session (under an flock between workers)."
    root = _shared_root(tmp_path_factory)
    run, done = root/name, root/f'{name}.done'
    with open(root/f'{name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)                 # released when the file closes
        if not done.exists():
            shutil.rmtree(run, ignore_errors=True)
            env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1'}
            env.pop('IN_TEST', None)
            r = subprocess.run([*launch, '--run_dir', str(run)], capture_output=True, text=True, timeout=600, env=env,
                               cwd=ROOT)
            assert r.returncode == 0, r.stderr[-3000:]
            done.write_text('')
    return run


@pytest.fixture(scope='session')
def trained_run(tmp_path_factory) -> Path:
    "The session's trained run (read it, never write it): `python -m lct_nb.train --run_dir … SHARED`."
    return _once(tmp_path_factory, 'trained_run', [sys.executable, '-m', 'lct_nb.train', *SHARED])


# the two-rank run's flags: 20 steps, checkpoints at 10 and 20, the sample grids at the end, no export
TWO_RANKS = ['--total_steps', '20', '--ckpt_every', '10', '--sample_every', '20', '--no-export', '--batch_size', '32',
             '--log_every', '1', '--n_samples', '16']


@pytest.fixture(scope='session')
def two_rank_run(tmp_path_factory) -> Path:
    "The session's run of two gloo ranks (read it, never write it): `torchrun … -m lct_nb.train TWO_RANKS`."
    return _once(tmp_path_factory, 'two_rank_run', [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                                                    '--nproc_per_node=2', '-m', 'lct_nb.train', *TWO_RANKS])


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    "A copy of the session's trained run, this test's to change."
    return Path(shutil.copytree(trained_run, tmp_path/'run'))
