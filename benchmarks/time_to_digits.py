"""Time to digits: digits-FID against wall time of one training command, from launch to each checkpoint.

    python benchmarks/time_to_digits.py --name default                     # `torchrun -m lct_nb.train`, 1 thread
    python benchmarks/time_to_digits.py --name readme --threads 0          # the README command as printed: every core
    python benchmarks/time_to_digits.py --name b64 --threads 2 -- --batch_size 64 --total_steps 1200
    python benchmarks/time_to_digits.py --name ci --points 2 -- --total_steps 20    # end to end in seconds
    python benchmarks/time_to_digits.py --name default --table                       # print a finished result again

Launches `python -m torch.distributed.run --standalone --nproc_per_node=1 -m lct_nb.train` with the flags after `--`
(command-line flags only, so any refactor of the trainer keeps working), checkpointing about `--points` times. The
wall time of a checkpoint is its file's mtime minus the launch time, so start-up (imports, latent cache, net) counts
and nothing polls during training. Only after training ends is every checkpoint evaluated with
`python -m lct_nb.evaluate --n 2000 --steps 1` (1-step digits-FID, precision, recall), so evaluation steals no
training time. The thread policy the runs used (intra-op threads, OpenMP's wait policy: `lct_nb.core.thread_policy`
on their environment) is printed and recorded. Results go to `results/time_to_digits/<name>.json`, written after
each step; a rerun skips what is done (an interrupted training run is restarted from scratch, since its wall times
would be broken).
"""
import argparse, json, os, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lct_nb.core import thread_policy


def _flag(argv, name, default=None):
    "The value of `--name V` or `--name=V` in a list of command-line flags (the last one wins)."
    val = default
    for i, a in enumerate(argv):
        if a == f'--{name}' and i + 1 < len(argv): val = argv[i + 1]
        elif a.startswith(f'--{name}='): val = a.split('=', 1)[1]
    return val


def _save(res, out):
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix('.tmp'); tmp.write_text(json.dumps(res, indent=1)); os.replace(tmp, out)


def train(a, res, run_dir, out):
    "Run the training command once, from scratch; record each checkpoint's wall time since launch."
    total = int(_flag(a.train_args, 'total_steps') or _default_total_steps())
    every = a.ckpt_every or max(1, total // a.points)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=1', '-m', 'lct_nb.train',
           '--run_dir', str(run_dir), '--ckpt_every', str(every), '--keep_ckpts', '1000', *a.train_args]
    env = _env(a.threads)
    shutil.rmtree(run_dir, ignore_errors=True)
    print('launch:', ' '.join(cmd), f'({_policy(env)})', flush=True)
    t0, cpu = time.time(), {}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL if a.quiet else None)
    while proc.poll() is None:      # CPU seconds of the process tree when each checkpoint appears: robust to a busy machine
        c = _tree_cpu(proc.pid)
        for f in (run_dir/'checkpoints').glob('step*.pt'): cpu.setdefault(f.name, c)
        time.sleep(0.5)
    if proc.returncode: raise subprocess.CalledProcessError(proc.returncode, cmd)
    wall = time.time() - t0
    ckpts = sorted((run_dir/'checkpoints').glob('step*.pt'))
    res.update(cmd=cmd, threads=a.threads, policy=_launch_policy(env), total_steps=total, ckpt_every=every,
               train_wall_s=round(wall, 2),
               points=[dict(step=int(p.stem[4:]), wall_s=round(p.stat().st_mtime - t0, 2), cpu_s=cpu.get(p.name), ckpt=str(p))
                       for p in ckpts])
    _save(res, out)


def _env(threads):
    "The environment of a subprocess: OMP_NUM_THREADS=`threads`, or unset when 0 (the package's policy decides)."
    env = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    return env | ({'OMP_NUM_THREADS': str(threads)} if threads else {})


def _launch_policy(env) -> dict:
    "The thread policy a run launched with `env` gets: its threads, and its wait (set in `env`, else chosen at launch)."
    p = thread_policy(env=env, busy=0.)
    user = 'OMP_WAIT_POLICY' in env or 'GOMP_SPINCOUNT' in env
    return p if user or p['threads'] == 1 else dict(p, wait='chosen by lct_nb from the load at launch')


def _policy(env) -> str:
    "The thread policy a process started with `env` runs under, in words."
    return _policy_words(_launch_policy(env))


def _policy_words(p) -> str: return f"{p['threads']} intra-op thread(s), OMP_WAIT_POLICY={p['wait'] or 'unset'}"


def _tree_cpu(pid):
    "User + system CPU seconds of process `pid` and its descendants (None without psutil)."
    try:
        import psutil
        ps = [psutil.Process(pid)]; ps += ps[0].children(recursive=True)
        return round(sum(sum(p.cpu_times()[:2]) for p in ps), 2)
    except Exception: return None


def _default_total_steps():
    from lct_nb.train import TrainConfig
    return TrainConfig().total_steps


def evaluate(a, res, out):
    "Evaluate every checkpoint not yet evaluated (1 step, `--n` samples), saving after each."
    for pt in res['points']:
        if 'fid' in pt: continue
        js = Path(pt['ckpt']).with_suffix('.eval.json')
        env = _env(a.eval_threads or a.threads)
        subprocess.run([sys.executable, '-m', 'lct_nb.evaluate', '--ckpt', pt['ckpt'], '--n', str(a.n), '--steps', '1',
                        '--out', str(js)], env=env, check=True, stdout=subprocess.DEVNULL)
        m = json.loads(js.read_text())
        pt.update(fid=round(m['fid'], 2), precision=round(m['precision'], 4), recall=round(m['recall'], 4))
        _save(res, out)
        print(f"  step {pt['step']:6d}  wall {pt['wall_s']:7.1f} s  FID {pt['fid']:7.2f}", flush=True)


def table(res, target):
    pts = res['points']
    pol = res.get('policy')
    threads = _policy_words(pol) if pol else f"{res['threads']} thread(s)"
    print(f"\n{res['name']}: {' '.join(res['train_args']) or '(defaults)'}, {threads}, "
          f"training {res['train_wall_s']:.0f} s for {res['total_steps']} steps")
    print(f"{'step':>6} {'wall_s':>8} {'cpu_s':>8} {'FID':>8} {'prec':>6} {'recall':>6}")
    for p in pts: print(f"{p['step']:6d} {p['wall_s']:8.1f} {p.get('cpu_s') or float('nan'):8.1f} {p.get('fid', float('nan')):8.2f} "
                        f"{p.get('precision', float('nan')):6.3f} {p.get('recall', float('nan')):6.3f}")
    hit = next((p for p in pts if p.get('fid', 1e9) <= target), None)
    print(f"first reaches FID <= {target:g} at {hit['wall_s']:.1f} s wall, {hit.get('cpu_s') or float('nan'):.1f} s CPU (step {hit['step']})" if hit
          else f"never reaches FID <= {target:g}")
    return hit


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--name', default='default', help='names the result file and the run folder')
    p.add_argument('--threads', type=int, default=1, help='OMP_NUM_THREADS of training (0: unset, every core)')
    p.add_argument('--eval_threads', type=int, default=0, help='OMP_NUM_THREADS of evaluation (0: same as --threads)')
    p.add_argument('--points', type=int, default=10, help='about how many checkpoints to time and evaluate')
    p.add_argument('--ckpt_every', type=int, default=0, help='steps between checkpoints (0: total_steps // points)')
    p.add_argument('--n', type=int, default=2000, help='samples per evaluation')
    p.add_argument('--target', type=float, default=100., help='the FID that counts as recognisable digits')
    p.add_argument('--out', default=None, help='result JSON (default: results/time_to_digits/<name>.json)')
    p.add_argument('--work', default=str(ROOT/'runs'/'time_to_digits'), help='where run folders (checkpoints) go')
    p.add_argument('--quiet', action='store_true', help="hide the trainer's stdout")
    p.add_argument('--table', action='store_true', help='only print the table of an existing result')
    p.add_argument('train_args', nargs=argparse.REMAINDER, help='-- then flags of lct_nb.train')
    a = p.parse_args()
    if a.train_args[:1] == ['--']: a.train_args = a.train_args[1:]
    out = Path(a.out or ROOT/'results'/'time_to_digits'/f'{a.name}.json')
    res = json.loads(out.read_text()) if out.exists() else {}
    if a.table: return table(res, a.target)
    if res.get('train_args') != a.train_args or res.get('threads') != a.threads or 'points' not in res:
        res = dict(name=a.name, train_args=a.train_args, n=a.n)       # new, changed or unfinished: train from scratch
        train(a, res, Path(a.work)/a.name, out)
    evaluate(a, res, out)
    hit = table(res, a.target)
    res['first_le_target'] = dict(target=a.target, **{k: hit.get(k) for k in ('step', 'wall_s', 'cpu_s', 'fid')}) if hit else None
    _save(res, out)


if __name__ == '__main__': main()
