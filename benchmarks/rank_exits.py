"""How two-rank runs end: many short `torchrun --nproc_per_node=2 -m lct_nb.train` runs of each kind of end, counted.

    python benchmarks/rank_exits.py --runs 10                  # 10 runs of each kind, one after another
    python benchmarks/rank_exits.py --runs 50 --load 2         # under two busy-looping processes
    python benchmarks/rank_exits.py --runs 1 --tiny            # one run of each kind, as small as a run can be

The kinds (interleaved, so each sees the same machine):
  end        a run that reaches its last step (--no-export)              every worker exits 0, torchrun 0
  lock       a second launch on a run dir whose lock this script holds   every worker exits 2, one `error:` line
  signal     SIGTERM to both workers once step 2 is logged               every worker exits 143 (128 + SIGTERM)
  nonfinite  rank 1's loss turns NaN from step 10 (1 with --tiny)       every worker exits 1, one `stopped:` line
  script     a user's script calling `lct_nb.train.train`, then returning   every worker exits 0
             (tests/_train_script.py)
  evaluate   `-m lct_nb.evaluate` on a checkpoint trained once beforehand   every worker exits 0, torchrun 0

A run *aborts* when a worker dies of SIGABRT or its output says "terminate called" (std::terminate: a C++ thread that
met the interpreter's shutdown, or was destroyed while joinable). *killed* counts workers that died of SIGTERM/SIGKILL:
torchrun stops the other workers as soon as one exits with an error, so a rank still on its way out is cut short.
*said why* counts runs whose every `error:`/`stopped:` line is the stop's own. Aborted runs' output is kept in --keep
(and with --cores their core files, for gdb).
"""
import argparse, collections, os, re, shutil, signal, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ('end', 'lock', 'signal', 'nonfinite', 'script', 'evaluate')
WORKER_EXIT = dict(end=0, lock=2, signal=128 + signal.SIGTERM, nonfinite=1, script=0, evaluate=0)   # every worker's exit status
LINE = dict(lock='lct_nb.train: error: --run_dir', signal='lct_nb.train: stopped: SIGTERM',
            nonfinite='lct_nb.train: stopped: 3 non-finite losses')   # how each early stop explains itself

def _args(kind: str, run: Path, tiny: bool) -> list:
    "The torchrun command line of a run of `kind` in `run`."
    if kind == 'evaluate': return [*TORCHRUN, '-m', 'lct_nb.evaluate', '--ckpt', str(run.parent.parent/'trained'),
                                   '--num_samples', '32' if tiny else '128', '--batch_size', '16', '--out',
                                   str(run.parent/'eval.json')]
    fast = ['--batch_size', '8' if tiny else '32', '--n_samples', '4', '--log_every', '1', '--sample_every', '100000',
            '--no-export', '--run_dir', str(run)]
    steps = dict(end=['--total_steps', '3' if tiny else '20'], lock=['--total_steps', '20'],
                 signal=['--total_steps', '400'], nonfinite=['--total_steps', '40', '--max_bad_steps', '3'],
                 script=['--total_steps', '3' if tiny else '20'])[kind]
    scripts = dict(nonfinite='_nan_on_rank1.py', script='_train_script.py')
    prog = [str(ROOT/'tests'/scripts[kind])] if kind in scripts else ['-m', 'lct_nb.train']
    return [*TORCHRUN, *prog, *fast, *steps]

TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2']

def train_once(work: Path):
    "The checkpoint every `evaluate` run scores: 3 steps in one process, in `work`/trained."
    cmd = [sys.executable, '-m', 'lct_nb.train', '--total_steps', '3', '--batch_size', '8', '--n_samples', '4',
           '--sample_every', '100000', '--no-export', '--run_dir', str(work/'trained')]
    subprocess.run(cmd, env=_env(), check=True, capture_output=True)

def _env(kind: str = '', tiny: bool = False) -> dict:
    "Two workers of one thread each; Python prints every thread's stack if a worker aborts; --tiny: NaN from step 1."
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1', 'PYTHONFAULTHANDLER': '1',
           'PYTHONPATH': os.pathsep.join([str(ROOT), *filter(None, [os.environ.get('PYTHONPATH')])])}
    env.pop('IN_TEST', None)
    if kind == 'nonfinite' and tiny: env['NAN_FROM_STEP'] = '1'   # tests/_nan_on_rank1's default: step 10
    return env

def _workers(agent: int) -> list:
    "The pids of the torchrun agent's worker processes."
    kids = []
    for t in Path(f'/proc/{agent}/task').glob('*'):
        try: kids += [int(p) for p in (t/'children').read_text().split()]
        except OSError: pass
    return kids

def _logged(run: Path) -> int:
    "How many lines metrics.jsonl holds (0 before the first)."
    try: return len((run/'metrics.jsonl').read_text().splitlines())
    except OSError: return 0

def _signal_mid_run(p: subprocess.Popen, run: Path, timeout: float):
    "SIGTERM both workers of agent `p` once step 2 is logged (or let the run end if it ends first)."
    deadline = time.time() + timeout
    while p.poll() is None and time.time() < deadline:
        kids = _workers(p.pid)
        if _logged(run) >= 2 and len(kids) == 2:
            for k in kids: os.kill(k, signal.SIGTERM)
            return
        time.sleep(0.05)

def _hold_lock(run: Path):
    "Lock `run` as a live run would (this process holds it until the returned file is closed)."
    from lct_nb.train import lock_run_dir
    return lock_run_dir(run)

def _cores():
    "Let the run's processes dump core (into their working folder) when they abort."
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

def one_run(kind: str, work: Path, tiny: bool, timeout: float, cores: bool = False) -> dict:
    "Launch one two-rank run of `kind` in a fresh folder under `work`; its outcome as a dict."
    tmp = Path(tempfile.mkdtemp(prefix=f'{kind}_', dir=work))
    run, lock = tmp/'run', None
    if kind == 'lock': lock = _hold_lock(run)
    t0 = time.time()
    p = subprocess.Popen(_args(kind, run, tiny), cwd=tmp, env=_env(kind, tiny), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True,
                         preexec_fn=_cores if cores else None)
    if kind == 'signal': _signal_mid_run(p, run, timeout)
    try: out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:   # torchrun starts its workers in sessions of their own: stop them first
        for k in _workers(p.pid): os.kill(k, signal.SIGKILL)
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
    if lock: lock.close()
    return dict(kind=kind, rc=p.returncode, out=out, dir=tmp, s=time.time() - t0)

def verdict(r: dict) -> dict:
    "What a run's output says: aborted, the failed workers' exit codes, workers killed by a signal, the stop's line."
    out = r['out']
    codes = [int(c) for c in re.findall(r'^\s+exitcode\s+:\s*(-?\d+)', out, re.M)]   # torchrun lists each failed worker
    abort = 'terminate called' in out or 'SIGABRT' in out or -signal.SIGABRT in codes
    killed = sum(c in (-signal.SIGTERM, -signal.SIGKILL) for c in codes)   # cut short by torchrun while leaving
    lines = [l for l in out.splitlines() if l.startswith(('lct_nb.train: error', 'lct_nb.train: stopped'))]
    said = None if r['kind'] not in LINE else bool(lines) and all(l.startswith(LINE[r['kind']]) for l in lines)
    return dict(abort=abort, codes=codes, killed=killed, said=said)

def _load(k: int) -> list:
    "Start `k` busy-looping processes (a background load)."
    return [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(k)]

def _counts(xs) -> str:
    return ' '.join(f'{k}×{n}' for k, n in sorted(collections.Counter(xs).items(), key=lambda kv: str(kv[0]))) or '-'

def table(rows: list) -> str:
    "Per kind: runs, aborts, torchrun's exit codes, the failed workers' codes, workers killed, runs that said why."
    head = (f"{'kind':<10} {'runs':>5} {'aborts':>6} {'killed':>6} {'torchrun exit':<14} {'worker exits':<22} "
            f"{'said why':>8} {'s/run':>6}")
    lines = [head, '-' * len(head)]
    for kind in KINDS:
        rs = [r for r in rows if r['kind'] == kind]
        if not rs: continue
        said = [r['said'] for r in rs if r['said'] is not None]
        lines.append(f"{kind:<10} {len(rs):>5} {sum(r['abort'] for r in rs):>6} {sum(r['killed'] for r in rs):>6} "
                     f"{_counts(r['rc'] for r in rs):<14} {_counts(c for r in rs for c in r['codes']):<22} "
                     f"{(f'{sum(said)}/{len(said)}' if said else '-'):>8} {sum(r['s'] for r in rs) / len(rs):>6.1f}")
    return '\n'.join(lines)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', type=int, default=10, help='runs of each kind')
    p.add_argument('--kinds', default=','.join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    p.add_argument('--load', type=int, default=0, help='busy-looping processes to start beside the runs')
    p.add_argument('--jobs', type=int, default=1, help='runs at a time')
    p.add_argument('--tiny', action='store_true', help='the smallest runs (a smoke test)')
    p.add_argument('--timeout', type=float, default=600, help='seconds before a run is killed')
    p.add_argument('--keep', default='rank_exits_aborts', help='folder for the output of every aborted run')
    p.add_argument('--cores', action='store_true', help='workers dump core when they abort (kept under --keep)')
    a = p.parse_args(argv)
    kinds = [k for k in a.kinds.split(',') if k]
    if not kinds or set(kinds) - set(KINDS): p.error(f'--kinds {a.kinds}: expected some of {",".join(KINDS)}')
    work, load, rows = Path(tempfile.mkdtemp(prefix='rank_exits_')), _load(a.load), []
    try:
        if 'evaluate' in kinds: train_once(work)
        with ThreadPoolExecutor(a.jobs) as ex:
            futs = [ex.submit(one_run, k, work, a.tiny, a.timeout, a.cores) for _ in range(a.runs) for k in kinds]
            for f in futs: rows.append(_report(f.result(), Path(a.keep)))
    finally:
        for q in load: q.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    return rows

def _report(r: dict, keep: Path) -> dict:
    "Print one line for run `r`, keep its output if it aborted, drop its folder; its verdict with kind, exit and time."
    v = dict(kind=r['kind'], rc=r['rc'], s=r['s'], **verdict(r))
    print(f"{r['kind']:<10} exit {r['rc']:>4}  {r['s']:6.1f} s  failed workers {v['codes'] or '-'}"
          + ('  ABORT' if v['abort'] else ''), flush=True)
    if v['abort']:
        keep.mkdir(parents=True, exist_ok=True)
        (keep/f"{r['dir'].name}.log").write_text(r['out'])
        for c in r['dir'].glob('core*'): shutil.move(c, keep/f"{r['dir'].name}.{c.name}")
    shutil.rmtree(r['dir'], ignore_errors=True)
    return v

if __name__ == '__main__': main()
