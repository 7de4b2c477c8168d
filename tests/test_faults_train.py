"""Faults injected for real into `python -m lct_nb.train`: SIGKILL, SIGTERM, SIGINT, a second launch, torn
and corrupt bytes, a full tmpfs, divergence. Each test's docstring is "<fault> → <outcome>"; `benchmarks/faults.py` prints them."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from lct_nb.core import file_digest

from test_train import ROOT, FAST, _env, torchrun, metrics, train_in_process, ranks_exited, files
from conftest import SHARED, TWO_RANKS
from _cli import cli

pytestmark = pytest.mark.fault
QUIET = [*FAST, '--sample_every', '100000']          # no sample grids on the way (one is made at the end)


def train(run, *args, timeout=600, **env):
    "Run `python -m lct_nb.train --run_dir run ARGS` to its end, as a process."
    return subprocess.run([sys.executable, '-m', 'lct_nb.train', '--run_dir', str(run), *args], capture_output=True, text=True,
                          timeout=timeout, env=_env(**env), cwd=ROOT)


def train_here(run, *args):
    "`python -m lct_nb.train --run_dir run ARGS` in this process (the fault is not the process): (exit code, stderr)."
    return cli('train', '--run_dir', run, *args)


def start(cmd, **kw):
    return subprocess.Popen(cmd, env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


def wait_until(cond, proc, timeout=300, what='the condition'):
    deadline = time.time() + timeout
    while not cond():
        assert proc.poll() is None, f'the run ended before {what}: {proc.stderr.read()[-3000:]}'
        assert time.time() < deadline, f'timed out waiting for {what}'
        time.sleep(0.05)


def logged_step(run):
    "The last step in metrics.jsonl (0 if none)."
    try: return max([json.loads(l)['step'] for l in (Path(run)/'metrics.jsonl').read_text().splitlines() if l.endswith('}')] or [0])
    except (FileNotFoundError, json.JSONDecodeError): return 0


def ckpt(path):
    "A checkpoint file, or the newest of a run dir."
    from lct_nb.checkpoint import load_checkpoint
    return load_checkpoint(path)


def same_weights(a, b):
    return all(torch.equal(a['model'][k], b['model'][k]) for k in a['model']) and all(torch.equal(a['emas'][0][k], b['emas'][0][k]) for k in a['emas'][0])


def finite(st):
    return all(torch.isfinite(v).all() for d in (st['model'], *st['emas']) for v in d.values() if v.is_floating_point())


def one_line(stderr, start):
    lines = [l for l in stderr.strip().splitlines() if l.startswith('lct_nb.train: stopped') or l.startswith('lct_nb.train: error')]
    assert len(lines) == 1 and lines[0].startswith(start), stderr[-3000:]
    return lines[0]


def stopped_at_2(run):
    "A copy of the session's 4-step run (conftest.py) as a run stopped after its checkpoint of step 2 would leave it."
    for p in (run/'checkpoints').glob('step0000004.pt*'): p.unlink()
    return run


def sigkill_after(run, step, *args):
    "Start a run, SIGKILL its process group once metrics.jsonl reaches `step`."
    p = start([sys.executable, '-m', 'lct_nb.train', '--run_dir', str(run), *args])
    wait_until(lambda: logged_step(run) >= step, p, what=f'step {step}')
    os.killpg(p.pid, signal.SIGKILL); p.wait()


# where the non-finite flag is read: every step; on the device, read at log and checkpoint steps
GUARDS = {'host': ['--guard', 'host'], 'device': ['--guard', 'device', '--ckpt_every', '2', '--log_every', '2']}


@pytest.mark.parametrize('guard', GUARDS.values(), ids=GUARDS.keys())
def test_divergence_leaves_only_finite_checkpoints_and_never_exits_0(tmp_path, guard):
    "--lr 1e6 (losses overflow within a few steps) → exit 1 naming the newest checkpoint; every checkpoint on disk finite; --resume stops again"
    run, args = tmp_path/'r', ['--lr', '1e6', '--total_steps', '40', '--ckpt_every', '1', '--keep_ckpts', '2', '--max_bad_steps', '3', *QUIET, *guard]
    code, err = train_here(run, *args)
    assert code == 1, err[-3000:]
    line = one_line(err, 'lct_nb.train: stopped:')
    stop = int(line.split('in a row at step ')[1].split(';')[0])
    left = sorted((run/'checkpoints').glob('step*.pt'))
    assert left and all(finite(ckpt(p)) for p in left) and ckpt(run)['step'] < stop, [p.name for p in left]
    assert f'the newest checkpoint, {left[-1]}, holds the last finite weights' in line, line
    code, err = train_here(run, *args, '--resume')
    assert code == 1 and 'non-finite' in one_line(err, 'lct_nb.train: stopped:')
    assert all(finite(ckpt(p)) for p in (run/'checkpoints').glob('step*.pt'))


def test_lr_and_weight_decay_given_on_resume_are_applied_and_logged(run_copy):
    "a run stopped at its step-2 checkpoint, then --resume --lr 1e-4 --weight_decay 0 --betas 0.8 0.9 → the optimiser uses them, metrics.jsonl records each change, config.json keeps the run's first values"
    run = stopped_at_2(run_copy)
    code, err = train_here(run, *SHARED, '--resume', '--lr', '1e-4', '--weight_decay', '0', '--betas', '0.8', '0.9')
    assert code == 0, err[-3000:]
    ev = {m['event']: (m['was'], m['now'], m['step']) for m in metrics(run) if 'event' in m}
    assert ev == {'lr changed on resume': (1e-3, 1e-4, 2), 'weight_decay changed on resume': (1e-4, 0.0, 2),
                  'betas changed on resume': ([0.9, 0.99], [0.8, 0.9], 2)}, ev
    g = ckpt(run)['opt']['param_groups'][0]
    assert (g['lr'], g['weight_decay'], tuple(g['betas'])) == (1e-4, 0.0, (0.8, 0.9))
    assert [m['lr'] for m in metrics(run) if 'loss' in m and m['step'] > 2] == [1e-4] * 2
    conf = json.loads((run/'config.json').read_text()); assert (conf['lr'], conf['weight_decay'], conf['betas']) == (1e-3, 1e-4, [0.9, 0.99])
    assert (ckpt(run)['config']['lr'], ckpt(run)['config']['weight_decay']) == (1e-4, 0.0)   # what the last steps ran with


def test_torn_metrics_line_is_repaired_on_resume(tmp_path):
    "SIGKILL, then half a JSON line appended to metrics.jsonl → resume drops it with a message and the log is valid JSON again"
    run, args = tmp_path/'r', ['--total_steps', '16', '--ckpt_every', '4', '--no-export', *QUIET]
    sigkill_after(run, 6, *args)
    with open(run/'metrics.jsonl', 'a') as f: f.write('{"step": 7, "loss": 0.51')
    code, err = train_here(run, *args, '--resume')
    assert code == 0, err[-3000:]
    assert 'dropped 1 torn line' in err
    m = metrics(run)                                   # every line parses (strict JSON: no NaN / Infinity)
    assert [x['step'] for x in m] == list(range(1, 17))
    for l in (run/'metrics.jsonl').read_text().splitlines(): json.loads(l, parse_constant=lambda c: pytest.fail(f'{c} in {l}'))


def test_second_trainer_on_a_run_dir_is_refused_and_a_dead_holder_does_not_block(tmp_path):
    "a second launch on a running run dir → exit 2, one line naming the dir and the holder, nothing written; after SIGKILL of the first, --resume runs"
    run, args = tmp_path/'r', ['--total_steps', '24', '--ckpt_every', '2', '--no-export', *QUIET]
    first = start([sys.executable, '-m', 'lct_nb.train', '--run_dir', str(run), *args])
    wait_until(lambda: (run/'checkpoints'/'step0000002.pt').exists(), first, what='the first checkpoint')
    os.killpg(first.pid, signal.SIGSTOP)                    # the holder holds still: only the second launch could write
    before = files(run)
    code, err = train_here(run, *args, '--resume')          # the second launch, in this process
    assert code == 2, err[-3000:]
    line = one_line(err, 'lct_nb.train: error:')
    assert f'--run_dir {run} is in use by process {first.pid}' in line, line
    assert files(run) == before                             # nothing written, renamed or removed
    step = logged_step(run)
    os.killpg(first.pid, signal.SIGCONT)
    wait_until(lambda: logged_step(run) > min(step, 23), first, what='the first run to go on')   # undisturbed
    os.killpg(first.pid, signal.SIGKILL); first.wait()
    code, err = train_here(run, *args, '--resume')          # the dead holder's lock does not block: it runs to its end
    assert code == 0 and 'resumed' in err, err[-3000:]
    assert logged_step(run) == 24 and (run/'.lock').read_text().startswith(f'process {os.getpid()} ')


def test_sigterm_under_torchrun_checkpoints_the_current_step_and_resumes_exactly(two_rank_run, tmp_path):
    "SIGTERM to the torchrun agent of 2 ranks mid-run → both ranks agree, checkpoint that step, exit non-zero with one line; --resume is bit-exact"
    args, whole = TWO_RANKS, two_rank_run           # the session's uninterrupted run of 2 ranks, 20 steps (conftest.py)
    cut = tmp_path/'cut'
    p = start([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
               '-m', 'lct_nb.train', '--run_dir', str(cut), *args])
    wait_until(lambda: logged_step(cut) >= 5, p, what='step 5')
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=300)
    assert p.returncode != 0 and 'terminate called' not in err, err[-3000:]
    line = one_line(err, 'lct_nb.train: stopped: SIGTERM: checkpointed step')
    k = int(line.split('checkpointed step ')[1].split()[0])
    assert 5 <= k < 20 and ckpt(cut)['step'] == k and [m['step'] for m in metrics(cut)] == list(range(1, k + 1))
    torchrun(2, '-m', 'lct_nb.train', '--run_dir', str(cut), *args, '--resume')
    assert same_weights(ckpt(whole), ckpt(cut))
    assert [m['loss'] for m in metrics(whole)] == [m['loss'] for m in metrics(cut)]


def test_sigint_checkpoints_the_current_step(tmp_path):
    "SIGINT (Ctrl-C) to a single-process run → checkpoint at that step, exit 130 with one line; nothing lost"
    run = tmp_path/'r'
    p = start([sys.executable, '-m', 'lct_nb.train', '--run_dir', str(run), '--total_steps', '400', '--ckpt_every', '1000', *QUIET])
    wait_until(lambda: logged_step(run) >= 5, p, what='step 5')
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 130, err[-3000:]
    line = one_line(err, 'lct_nb.train: stopped: SIGINT: checkpointed step')
    k = int(line.split('checkpointed step ')[1].split()[0])
    assert ckpt(run)['step'] == k == logged_step(run) >= 5


def test_corrupt_latest_checkpoint_is_set_aside_and_resume_is_exact(trained_run, run_copy):
    "a flipped byte in the newest checkpoint → --resume names it, sets it aside as *.corrupt, resumes the previous one; the result is bit-exact"
    whole, cut = trained_run, run_copy              # the session's 4-step run (conftest.py), checkpoints of steps 2, 4
    bad = cut/'checkpoints'/'step0000004.pt'
    raw = bytearray(bad.read_bytes()); raw[len(raw) // 2] ^= 0xFF; bad.write_bytes(bytes(raw))
    code, err = train_here(cut, *SHARED, '--resume')
    assert code == 0, err[-3000:]
    assert f'{bad}: its bytes do not match the checksum' in err and 'resumed' in err and 'step0000002.pt' in err, err
    assert (cut/'checkpoints'/'step0000004.pt.corrupt').exists() and ckpt(cut)['step'] == 4
    assert same_weights(ckpt(whole), ckpt(cut))


def _tmpfs(path, opts):
    "Mount a tmpfs with mount options `opts` (e.g. 'size=4m,ro') at `path` (needs root); returns the unmount function."
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(['mount', '-t', 'tmpfs', '-o', opts, 'tmpfs', str(path)]).returncode != 0:
        pytest.skip('cannot mount a tmpfs here (not root)')
    return lambda: subprocess.run(['umount', '-l', str(path)])


def test_full_disk_while_checkpointing(tmp_path):
    "a 40 MB tmpfs filling up at the 2nd checkpoint → one line naming the file and 'no space left', exit 1, no temporary file, the 1st checkpoint intact"
    disk = tmp_path/'disk'
    umount = _tmpfs(disk, 'size=40m')
    try:
        run = disk/'r'
        code, err = train_here(run, '--total_steps', '8', '--ckpt_every', '2', '--keep_ckpts', '3', *QUIET)
        assert code == 1, err[-3000:]
        line = one_line(err, 'lct_nb.train: stopped:')
        assert 'no space left' in line and 'step0000004.pt' in line, line
        left = sorted(p.name for p in (run/'checkpoints').iterdir())
        assert left == ['step0000002.pt', 'step0000002.pt.sha256']   # no .tmp, no stray checksum
        assert ckpt(run)['step'] == 2 and finite(ckpt(run))
    finally: umount()


def test_killed_before_first_checkpoint_starts_a_clean_log(tmp_path):
    "SIGKILL before any checkpoint, then the same command again → a clean metrics.jsonl (no duplicated steps), said on stderr"
    run, args = tmp_path/'r', ['--total_steps', '12', '--ckpt_every', '1000', '--no-export', *QUIET]
    sigkill_after(run, 4, *args)
    assert not (run/'checkpoints').exists() or not any((run/'checkpoints').glob('step*.pt'))
    code, err = train_here(run, *args)
    assert code == 0, err[-3000:]
    assert 'starting a clean log' in err
    assert [m['step'] for m in metrics(run)] == list(range(1, 13))


@pytest.mark.parametrize('args, message', [
    (['--grad_clip', '-1'], '--grad_clip -1.0: expected a finite number >= 0'),
    (['--lr', 'nan'], '--lr nan'), (['--lr', 'inf'], '--lr inf'), (['--lr', '0'], '--lr 0.0'),
    (['--n_samples', '0'], '--n_samples must be at least 1'),
    (['--batch_size', '4096'], '--batch_size 4096 is larger than the 1797 latents'),
    (['--net', 'foo'], "--net 'foo': expected one of"),
    (['--latent_norm', 'pixel'], "--latent_norm 'pixel'"),
])
def test_unchecked_values_are_one_line_errors(tmp_path, capsys, args, message):
    "a bad flag value → exit 2, one line naming the flag, nothing written"
    code, err = train_in_process(tmp_path/'r', *args, capsys=capsys)   # real processes refused: test_faults_lock.py
    assert code == 2 and one_line(err, 'lct_nb.train: error:') and message in err, err
    assert not (tmp_path/'r').exists()


def test_bad_config_file_and_non_cache_data_are_one_line_errors(tmp_path, capsys):
    "a JSON --config with a wrong type, or --data that is not a latent cache → exit 2, one line naming the field or folder, nothing written"
    bad = tmp_path/'c.json'; bad.write_text('{"total_steps": "many"}')
    code, err = train_in_process(tmp_path/'r', '--config', str(bad), capsys=capsys)
    assert code == 2 and "field 'total_steps' must be int, got 'many'" in one_line(err, 'lct_nb.train: error:')
    (tmp_path/'notcache').mkdir()
    code, err = train_in_process(tmp_path/'r', '--data', str(tmp_path/'notcache'), capsys=capsys)
    assert code == 2 and 'not a latent cache (no meta.json)' in one_line(err, 'lct_nb.train: error:')
    assert not (tmp_path/'r').exists()


def test_changed_config_on_resume_is_refused_before_writing(run_copy):
    "--resume with a different --preset, --distance or --diff_r → exit 2, one line naming the checkpoint and the field, no file changed"
    run = run_copy                                   # the session's 4-step run (conftest.py)
    before = {p: p.read_bytes() for p in run.rglob('*') if p.is_file()}
    for flag, value, said in (('--preset', 'ilct', "preset='full' (now 'ilct')"),
                              ('--distance', 'pseudo_huber', "distance='' (now 'pseudo_huber')"),
                              ('--diff_r', '0', 'diff_r=-1.0 (now 0.0)')):
        code, err = train_here(run, *SHARED, '--resume', flag, value)   # the recipe: a change is refused, not applied
        assert code == 2 and said in one_line(err, 'lct_nb.train: error:'), err
        assert {p: p.read_bytes() for p in run.rglob('*') if p.is_file()} == before


def test_a_checkpoint_that_would_run_code_is_never_unpickled(run_copy, tmp_path):
    "a newest checkpoint holding a pickle that creates a file → --resume refuses to unpickle it, sets it aside, resumes the previous one"
    run = stopped_at_2(run_copy)                    # the session's 4-step run, as stopped after its step-2 checkpoint
    marker = tmp_path/'pwned'

    class Payload:
        def __reduce__(self): return (open, (str(marker), 'w'))
    st = ckpt(run); st['step'] = 4; st['evil'] = Payload()
    torch.save(st, run/'checkpoints'/'step0000004.pt')
    (run/'checkpoints'/'step0000004.pt.sha256').write_text(file_digest(run/'checkpoints'/'step0000004.pt'))
    code, err = train_here(run, *SHARED, '--resume')
    assert code == 0, err[-3000:]
    assert not marker.exists() and 'Weights only load failed' in err
    assert (run/'checkpoints'/'step0000004.pt.corrupt').exists()
    assert ckpt(run)['step'] == 4 and 'evil' not in ckpt(run)
