"""End-to-end checks of `torchrun -m lct_nb.train` that do not fit a notebook: real processes, real files,
SIGKILL and resume, two gloo ranks, a non-finite loss on one rank."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'benchmarks'))
import rank_exits
FAST = ['--batch_size', '32', '--log_every', '1', '--n_samples', '16']


def _env(**kw):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1', **kw}
    env.pop('IN_TEST', None)
    return env


def torchrun(nproc, *args, timeout=600, check=True, env=None):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}', *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(**(env or {})), cwd=ROOT)
    if check: assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return res


def ranks_exited(rc: int, out: str, code: int, nproc: int = 2):
    "torchrun's exit `rc` and output `out` say every worker exited with `code` (each failed one is listed), none aborted."
    v = rank_exits.verdict(dict(kind='', out=out))   # the benchmark's reading of torchrun's report
    assert not v['abort'] and rc == int(code != 0) and v['codes'] == [code] * (nproc * (code != 0)), (rc, v, out[-5000:])


def train_in_process(run, *args, capsys):
    "`lct_nb.train.main(['--run_dir', run, *args])` in this process, for errors raised before any work: (exit code, stderr)."
    from lct_nb.train import main
    with pytest.raises(SystemExit) as e: main(['--run_dir', str(run), *args])
    return e.value.code, capsys.readouterr().err


def wait_unlocked(run_dir, timeout=300):
    "Wait until no process holds `run_dir`'s lock (a worker whose torchrun agent was killed leaves at the end of its step)."
    import fcntl
    deadline = time.time() + timeout
    with open(Path(run_dir)/'.lock', 'a') as f:
        while True:
            try: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); break
            except BlockingIOError: assert time.time() < deadline, f'{run_dir} is still held'
            time.sleep(0.05)
        fcntl.flock(f, fcntl.LOCK_UN)


def files(folder, but=()):
    "{path under `folder`: (size, mtime)} of every file and folder in it but the names in `but`: what 'nothing written' compares."
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in Path(folder).rglob('*') if p.name not in but}


def metrics(run_dir):
    return [json.loads(l) for l in (Path(run_dir)/'metrics.jsonl').read_text().splitlines()]


def train_here(*args):
    "`python -m lct_nb.train ARGS` in this process: (exit code, stdout, stderr)."
    from _cli import cli_run
    return cli_run('train', *args)


def test_help_lists_every_flag():
    "`--help` (in this process; test_faults_threads.py reads a real process's): every TrainConfig field is a flag."
    from dataclasses import fields
    from lct_nb.train import TrainConfig
    code, out, _ = train_here('--help')
    assert code == 0 and out.startswith('usage: python -m lct_nb.train')
    for f in fields(TrainConfig): assert f'--{f.name}' in out


@pytest.mark.parametrize('args, world, message', [
    (['--preset', 'best'], 1, "unknown preset 'best'"),
    (['--data', '/no/such/cache'], 1, '--data /no/such/cache'),
    (['--batch_size', '127'], 2, '--batch_size 127 is not divisible by the world size 2'),
    (['--config', 'missing.json'], 1, "--config 'missing.json'"),
])
def test_bad_input_is_one_line_before_any_work(tmp_path, monkeypatch, capsys, args, world, message):
    "In this process (real processes refused in one line: test_faults_lock.py): exit 2, one line, nothing written."
    for k, v in dict(WORLD_SIZE=str(world), RANK='0', LOCAL_RANK='0').items(): monkeypatch.setenv(k, v)
    code, err = train_in_process(tmp_path/'r', *args, capsys=capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path/'r').exists()   # nothing was written


def test_existing_run_is_not_overwritten(run_copy):
    "A new run (no --resume) in the run dir of a finished one → refused, saying to pass --resume; nothing changed."
    from conftest import SHARED
    run = run_copy                                   # the session's 4-step run (conftest.py)
    before = {p: p.read_bytes() for p in (run/'checkpoints').iterdir()}
    code, _, err = train_here('--run_dir', run, *SHARED)
    assert code != 0 and 'pass --resume' in err, err[-3000:]
    assert {p: p.read_bytes() for p in (run/'checkpoints').iterdir()} == before


@pytest.mark.fault
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    "SIGKILL right after a checkpoint → --resume gives the uninterrupted run, bit for bit"
    args = ['--total_steps', '12', '--ckpt_every', '4', '--sample_every', '1000', '--keep_ckpts', '5', '--no-export',
            *FAST]
    whole, cut = tmp_path/'whole', tmp_path/'cut'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=1', '-m', 'lct_nb.train', '--run_dir', str(cut), *args]
    proc = subprocess.Popen(cmd, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (cut/'checkpoints'/'step0000004.pt').exists():
        assert proc.poll() is None and time.time() < deadline, 'run ended before its first checkpoint'
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    wait_unlocked(cut)                                  # the worker (a session of its own) stops at the end of its step
    killed_at = max(m['step'] for m in metrics(cut))
    assert killed_at < 12
    code, _, err = train_here('--run_dir', cut, '--resume', *args)    # the resume and the whole run: in this process
    assert code == 0, err[-3000:]
    code, _, err = train_here('--run_dir', whole, *args)
    assert code == 0, err[-3000:]
    a, b = metrics(whole), metrics(cut)
    assert [m['step'] for m in b] == list(range(1, 13))   # truncated at the checkpoint, then continued
    for x, y in zip(a, b, strict=True):
        assert (x['step'], x['loss'], x['ct'], x['diff'], x['grad_norm']) == (y['step'], y['loss'], y['ct'], y['diff'], y['grad_norm'])


def test_two_ranks_leave_metrics_samples_and_checkpoints(two_rank_run):
    "Two gloo ranks (the session's run, conftest.py): each step logged, checkpoints at 10, 20, grids, each rank's RNG."
    run = two_rank_run
    assert [m['step'] for m in metrics(run)] == list(range(1, 21))
    assert sorted(p.name for p in (run/'checkpoints').glob('*.pt')) == ['step0000010.pt', 'step0000020.pt']
    assert {p.name for p in (run/'samples').iterdir()} == {'step0000020_1step.png', 'step0000020_2step.png'}
    import torch
    st = torch.load(run/'checkpoints'/'step0000020.pt', weights_only=False)
    assert len(st['rng']) == 2 and not torch.equal(st['rng'][0]['gen'], st['rng'][1]['gen'])


@pytest.mark.fault
def test_nonfinite_loss_on_one_rank_stops_both_cleanly(tmp_path):
    "NaN losses on rank 1 only → both ranks skip the same steps, stop together with exit 1; the newest checkpoint is finite"
    run = tmp_path/'r'
    script = ROOT/'tests'/'_nan_on_rank1.py'
    res = torchrun(2, str(script), '--run_dir', str(run), '--total_steps', '40', '--ckpt_every', '4',
                   '--sample_every', '1000',
                   '--max_bad_steps', '3', *FAST, check=False, timeout=300, env=dict(NAN_FROM_STEP='4'))
    ranks_exited(res.returncode, res.stdout + res.stderr, 1)   # both ranks stop alike, with status 1
    assert 'non-finite losses in a row at step 7' in res.stderr, res.stderr[-3000:]
    m = metrics(run)
    assert max(x['step'] for x in m if x['skipped'] == 0) == 4 and all(x['loss'] is not None for x in m[:4])
    assert [(x['step'], x['loss'], x['skipped']) for x in m[4:]] == [(5, None, 1), (6, None, 2)]
    import torch
    from lct_nb.checkpoint import load_checkpoint
    st = load_checkpoint(run/'checkpoints')         # nothing is written at the stop: the newest holds the last finite weights
    assert st['step'] == 4 and st['skipped'] == 0
    assert all(torch.isfinite(v).all() for v in st['model'].values() if v.is_floating_point())


@pytest.mark.fault
def test_worker_whose_agent_is_killed_stops_without_writing(tmp_path):
    "SIGKILL of the torchrun agent's process group → its worker (in a session of its own) stops at the end of its step, writing nothing"
    run = tmp_path/'r'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=1', '-m', 'lct_nb.train',
           '--run_dir', str(run), '--total_steps', '400', '--ckpt_every', '4', '--sample_every', '1000', *FAST]
    proc = subprocess.Popen(cmd, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (run/'checkpoints'/'step0000004.pt').exists():
        assert proc.poll() is None and time.time() < deadline, 'run ended before its first checkpoint'
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    lines = len(metrics(run))
    while (alive := subprocess.run(['pgrep', '-f', '--', f'run_dir {run}'], capture_output=True, text=True)).stdout:
        assert time.time() < deadline, 'the worker is still running'   # it notices at the end of the step it is in
        time.sleep(0.05)
    assert alive.returncode == 1, (alive.stdout, alive.stderr)       # pgrep ran and matched no process: it has exited
    assert lines <= len(metrics(run)) <= lines + 1 < 400               # at most the step it was in, then it stopped


def test_calibrated_c_agrees_across_ranks(tmp_path):
    "Two ranks probing different batches measure different TD medians; the broadcast gives both rank 0's c at every step."
    run = tmp_path/'r'
    torchrun(2, str(ROOT/'tests'/'_calibrated_ranks.py'), '--run_dir', str(run), '--preset', '+ot', '--c_schedule', 'calibrated',
             '--total_steps', '14', '--s1', '640', '--sample_every', '1000', '--no-export', *FAST)
    c0, c1 = (json.loads((run/f'c_rank{r}.json').read_text()) for r in (0, 1))
    assert len(c0) == 14 and c0 == c1
    per_stage = c0[::2]                                # 14 steps, 7 stages of 2 steps, one c per stage
    assert c0[1::2] == per_stage and all(a > b for a, b in zip(per_stage, per_stage[1:])), per_stage
    assert [m['c'] for m in metrics(run)] == c0


def test_trainer_refuses_a_misspelt_callback_event(tmp_path):
    "A callback whose method is named like an event but is none (after_stpe) → Trainer(...) raises, naming it; nothing trains."
    from lct_nb.train import Trainer, Callback, TrainConfig
    class Typo(Callback):
        def after_stpe(self): pass
    with pytest.raises(ValueError, match='after_stpe is not an event'):
        Trainer(TrainConfig(run_dir=str(tmp_path/'run'), total_steps=2), [Typo()])
    assert not (tmp_path/'run'/'checkpoints').exists()
