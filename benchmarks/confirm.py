"""The confirmatory study of chapter 09: the paper's headline claims, planned in `results/confirm/PLAN.md` before any run.

    python benchmarks/confirm.py --stage pilot      # the variance pilot: seeds 100-103 of ilct, cauchy, full at 960 and 1920 steps
    python benchmarks/confirm.py --stage size       # apply the plan's sizing rule to the pilot: budget, metric and seeds
    python benchmarks/confirm.py --stage confirm    # the confirmatory runs the sizing chose (fresh seeds 1000, 1001, ...)
    python benchmarks/confirm.py --stage replicate  # then +ot and +c on the confirmatory seeds the budget left affords
    python benchmarks/confirm.py --table            # the claims table (results/confirm/claims.csv) from the runs on disk;
                                                    # the replications join it once all their runs exist

Every run trains the tiny UNet on the bundled digits latents at batch 64 with the digits recipe pinned in `BASE`, one
thread per worker, and writes `results/confirm/runs/<stage>/<arm>_b<steps>_s<seed>.json` with its provenance (commit,
torch build, CPU and its vector extensions, threads, the full config). Finished runs are skipped; an interrupted run
restarts. The analysis (`analyse`) is the plan's: paired ln FID ratios per claim, a two-sided paired t-test, Holm's
step-down correction over the primary family, adjusted intervals and verdicts read from them.
"""
import argparse, json, math, os, platform, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'results'/'confirm'
ALPHA, EFFECT, POWER = 0.05, 0.8, 0.8   # family-wise level; the FID ratio each primary is powered for; the power wanted
CPU_HOURS = 16.0                         # the whole study's budget (pilot included), in worker-hours at one thread
HARDWARE = 'AVX2'                        # torch.backends.cpu.get_cpu_capability() every run of the study must report

# The digits recipe, pinned so that a change of TrainConfig's defaults cannot change the study half-way.
BASE = dict(net='tiny', s1=160, batch_size=64, lr=1e-3, lr_decay=0.3, weight_decay=1e-4, betas=(0.9, 0.99), ema_rates=(0.999,),
            ema_warmup=True, grad_clip=0.0, micro_batch=0, latent_norm='channel', tail=0.0, overlap=False, bf16=False)
ARMS = {   # arm: the TrainConfig fields it sets on top of BASE
    'ilct':           dict(preset='ilct'),           # Table 2(a), first row: Pseudo-Huber, iCT's c, no diffusion loss, no OT
    'cauchy':         dict(preset='cauchy'),
    'cauchy+diff':    dict(preset='cauchy+diff'),
    '+ot':            dict(preset='+ot'),
    '+c':             dict(preset='+c'),
    'full':           dict(preset='full'),           # Table 2(a), last row
    'ilct_el_k0.5':   dict(preset='ilct', latent_norm='element', tail=0.5),     # heavy-tailed latents: per-element
    'cauchy_el_k0.5': dict(preset='cauchy', latent_norm='element', tail=0.5),   # standardisation, then sinh(k·u)/k
}
# (claim, family, a, b, paper): "a beats b" is FID(a)/FID(b) < 1. An interaction's a and b are (a1, b1), (a2, b2): the
# ratio of ratios [FID(a1)/FID(b1)] / [FID(a2)/FID(b2)] < 1 says a1's advantage over b1 is larger than a2's over b2.
CLAIMS = [
    ('the full recipe beats iLCT (Table 2a)', 'primary', 'full', 'ilct', '7.27 vs 37.15'),
    ('Cauchy beats Pseudo-Huber (Table 2a)', 'primary', 'cauchy', 'ilct', '13.02 vs 37.15'),
    ('Cauchy beats Pseudo-Huber on heavy-tailed latents', 'primary', 'cauchy_el_k0.5', 'ilct_el_k0.5', '-'),
    ("Cauchy's advantage grows with the tail weight (Sec. 4.2)", 'primary', ('cauchy_el_k0.5', 'ilct_el_k0.5'), ('cauchy', 'ilct'), '-'),
    ('the diffusion loss helps (Table 2a)', 'primary', 'cauchy+diff', 'cauchy', '9.11 vs 13.02'),
    ('adaptive c (Eq. 11) beats fixed c0 (Table 2a)', 'replication', '+c', '+ot', '7.76 vs 8.89'),
    ('NsLN beats GroupNorm (Table 2a)', 'replication', 'full', '+c', '7.27 vs 7.76'),
]
PRIMARY_ARMS = ('ilct', 'cauchy', 'cauchy+diff', 'full', 'ilct_el_k0.5', 'cauchy_el_k0.5')
REPLICATION_ARMS = ('+ot', '+c')
PILOT = dict(arms=('ilct', 'cauchy', 'full'), seeds=(100, 101, 102, 103), budgets=(960, 1920))
FIRST_SEED = 1000            # confirmatory seeds are 1000, 1001, ...: never used by any earlier run of the project
METRICS = ('fid', 'fid10k', 'fid_last3')   # end FID on 2 000 samples; on 10 000; mean ln FID of the last 3 snapshots
SNAPSHOTS = (0.8, 0.9, 1.0)  # fractions of the run at which the EMA is scored for `fid_last3`


def run_name(arm, steps, seed): return f'{arm}_b{steps}_s{seed}'


# ---------------------------------------------------------------- provenance
def _git(*a):
    try: return subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError): return ''


def provenance():
    "Where and with what a run ran: commit, dirty flag, torch build, CPU model and vector extensions, threads."
    import torch, diffusers, ot
    flags = _cpu_field('flags').split()
    return dict(commit=_git('rev-parse', 'HEAD'), dirty=bool(_git('status', '--porcelain', '--', 'lct_nb', 'benchmarks')),
                torch=torch.__version__, torch_git=torch.version.git_version, torch_capability=torch.backends.cpu.get_cpu_capability(),
                diffusers=diffusers.__version__, pot=ot.__version__, numpy=np.__version__, python=platform.python_version(),
                cpu=_cpu_field('model name'), vector=sorted(f for f in flags if f in ('avx', 'avx2', 'fma') or f.startswith('avx512')),
                threads=torch.get_num_threads(), machine=platform.machine(), date=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))


def _cpu_field(name):
    try: lines = Path('/proc/cpuinfo').read_text().splitlines()
    except OSError: return ''
    return next((l.split(':', 1)[1].strip() for l in lines if l.split(':')[0].strip() == name), '')


# ---------------------------------------------------------------- one run (in a worker process)
def _snapshot_callback(steps):
    "A callback keeping a copy of the first EMA's weights at the `SNAPSHOTS` fractions of the run."
    import copy
    from lct_nb.train import Callback

    class Snapshots(Callback):
        def __init__(self): self.at, self.states = {round(f * steps) for f in SNAPSHOTS}, {}
        def after_step(self):
            tr = self.trainer
            if tr.step in self.at: self.states[tr.step] = copy.deepcopy(tr.emas[0].state_dict())
    return Snapshots()


def worker(arm, steps, seed, stage, args):
    "Train one run, score it, write its JSON (atomically) with its provenance."
    import torch
    torch.set_num_threads(1)
    from lct_nb.train import TrainConfig, Trainer, MetricsLog
    from lct_nb.evaluate import evaluate
    from lct_nb.metrics import digits_reference_stats, get_feature_extractor
    from lct_nb.images import decode_to_images
    prov = provenance()
    if prov['torch_capability'] != HARDWARE and not args.any_hardware:
        sys.exit(f'confirm: this CPU runs torch at {prov["torch_capability"]}, the study runs at {HARDWARE} (see PLAN.md)')
    name = run_name(arm, steps, seed)
    run_dir = Path(args.work)/'runs'/name
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = TrainConfig(total_steps=steps, seed=seed, run_dir=str(run_dir), log_every=50, ckpt_every=steps, sample_every=steps,
                      keep_ckpts=1, export=False, **{**BASE, **ARMS[arm]})
    t0 = time.time()
    snaps = _snapshot_callback(steps)
    tr = Trainer(cfg, [MetricsLog(), snaps]).fit()
    train_s = time.time() - t0
    ext = get_feature_extractor('digits'); ref = digits_reference_stats(extractor=ext)
    score = lambda n: evaluate(tr.emas[0], ref, ext, lambda x: decode_to_images(x, tr.data), tr.data.shape, n=n, seed=seed)
    wanted = _metrics_to_score(stage, args.out)   # the pilot scores all three; a confirmatory run the chosen one (Amendment 2)
    t = time.time(); m = score(2000); t2k = time.time() - t
    t = time.time(); m10 = score(10_000) if 'fid10k' in wanted else {}; t10k = time.time() - t
    t, last = time.time(), {}
    for k, sd in sorted(snaps.states.items()) if 'fid_last3' in wanted else ():
        tr.emas[0].load_state_dict(sd); last[k] = score(2000)['fid']
    eval_s = {k: v for k, v in dict(fid=round(t2k, 1), fid10k=round(t10k, 1), fid_last3=round(time.time() - t, 1)).items() if k in wanted}
    res = dict(arm=arm, seed=seed, steps=steps, stage=stage, fid=m['fid'], precision=m['precision'], recall=m['recall'],
               fid10k=m10.get('fid'), precision10k=m10.get('precision'), recall10k=m10.get('recall'), scored=sorted(wanted),
               fid_snapshots={str(k): v for k, v in last.items()},
               fid_last3=float(np.exp(np.mean(np.log(list(last.values()))))) if last else None,
               train_s=round(train_s, 1), eval_s=eval_s, config=asdict(cfg), provenance=prov,
               loss_curve=[json.loads(l) for l in (run_dir/'metrics.jsonl').read_text().splitlines()])
    res['wall_s'] = round(time.time() - t0, 1)
    path = Path(args.out)/'runs'/stage/f'{name}.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp'); tmp.write_text(json.dumps(res, default=float)); os.replace(tmp, path)
    shutil.rmtree(run_dir, ignore_errors=True)


def _metrics_to_score(stage, out):
    "All of `METRICS` for the pilot; for a confirmatory or replication run, `fid` (with precision and recall) and sizing.json's metric."
    if stage == 'pilot': return set(METRICS)
    return {'fid', _read_json(Path(out, 'sizing.json'))['metric']}


# ---------------------------------------------------------------- statistics (chapter 08b)
from lct_nb.paired import paired_t, holm, power, seeds_for_power


# ---------------------------------------------------------------- results and analysis
def _read_json(p):
    try: return json.loads(Path(p).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e: raise ValueError(f'{p}: not a readable JSON file ({e})') from None


def load_runs(stage, out=OUT):
    "The run files of a stage, each named for the run it holds, one per (arm, steps, seed); anything else is refused."
    runs = []
    for p in sorted(Path(out, 'runs', stage).glob('*.json')):
        r = _read_json(p)
        try: name = run_name(r['arm'], r['steps'], r['seed'])
        except (KeyError, TypeError): raise ValueError(f'{p}: not a run file (no arm, steps and seed)') from None
        if p.name != f'{name}.json': raise ValueError(f'{p}: holds the run {name}; a run file is named for its run')
        runs.append(r)
    return runs


def _by(runs, metric, steps=None):
    "{(arm, seed): ln metric} of the runs (at `steps` when given); a score that is not a positive finite number is refused."
    by = {}
    for r in runs:
        if steps is not None and r['steps'] != steps: continue
        v = r.get(metric)
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"run {run_name(r['arm'], r['steps'], r['seed'])}: {metric} = {v!r} is not a positive finite number")
        by[r['arm'], r['seed']] = math.log(v)
    return by


def claim_logs(by, a, b):
    "Per-seed ln-ratio of a claim over the seeds every arm it needs has, sorted by seed: (seeds, logs)."
    if isinstance(a, tuple):
        arms, f = (*a, *b), lambda s: (by[a[0], s] - by[a[1], s]) - (by[b[0], s] - by[b[1], s])
    else:
        arms, f = (a, b), lambda s: by[a, s] - by[b, s]
    seeds = sorted(s for (x, s) in by if x == arms[0] and all((y, s) in by for y in arms))
    return seeds, [f(s) for s in seeds]


def pilot_spread(runs, steps, metric):
    "Pooled sd of the pilot's paired ln-ratios full/ilct and cauchy/ilct at `steps` under `metric`, and its degrees of freedom."
    by, ss, dof = _by(runs, metric, steps), 0.0, 0
    for a in ('full', 'cauchy'):
        _, l = claim_logs(by, a, 'ilct'); l = np.asarray(l)
        if len(l) >= 2: ss += ((l - l.mean()) ** 2).sum(); dof += len(l) - 1
    return (math.sqrt(ss / dof) if dof else math.nan), dof


def size(runs, used_hours=None):
    """The plan's sizing rule: for each pilot budget and metric, the seeds that give 80% power at Holm's first step for a
    ratio of 0.8 at the pilot's pooled sd, and their cost in worker-hours for the six primary arms; the cheapest wins.
    A run's cost is its steps at the median seconds per step of all pilot runs plus the median time of its metric's
    scoring, so that budgets run under different machine load are costed alike."""
    used = used_hours if used_hours is not None else sum(r['wall_s'] for r in runs) / 3600
    rows = []
    rate = float(np.median([r['train_s'] / r['steps'] for r in runs])) if runs else math.nan   # seconds per step, pooled
    for steps in PILOT['budgets']:
        if not any(r['steps'] == steps for r in runs): continue
        for metric in METRICS:   # a run's cost: its steps at the pooled rate, plus the scoring its metric needs
            sd, dof = pilot_spread(runs, steps, metric)
            if not sd == sd: continue
            hours = (steps * rate + float(np.median([r['eval_s'][metric] for r in runs]))) / 3600
            n = seeds_for_power(sd)
            cost = n * len(PRIMARY_ARMS) * hours if n else math.inf
            rows.append(dict(steps=steps, metric=metric, sd=sd, dof=dof, run_hours=hours, seeds=n, cost_hours=cost))
    best = min(rows, key=lambda r: (r['cost_hours'], r['steps'])) if rows else None
    if best:
        left = CPU_HOURS - used
        afford = int(left // (len(PRIMARY_ARMS) * best['run_hours']))
        best = dict(best, pilot_hours=used, hours_left=left, affordable_seeds=afford,
                    chosen_seeds=max(6, min(best['seeds'] or afford, afford)))
        best.update(power_at_chosen=power(best['chosen_seeds'], best['sd']),
                    interaction_power=power(best['chosen_seeds'], best['sd'] * math.sqrt(2)))
    return rows, best


def analyse(runs, metric='fid', alpha=ALPHA):
    "The plan's analysis: one row per claim with raw and Holm-adjusted p and interval (primaries), verdicts from the adjusted interval."
    import pandas as pd
    by = _by(runs, metric); rows = []
    for claim, fam, a, b, paper in CLAIMS:
        seeds, logs = claim_logs(by, a, b)
        n, m, lo, hi, p = paired_t(logs)
        rows.append(dict(claim=claim, family=fam, a=a if isinstance(a, str) else '/'.join(a), b=b if isinstance(b, str) else '/'.join(b),
                         seeds=' '.join(map(str, seeds)), n=n, ratio=math.exp(m), ci_low=math.exp(lo), ci_high=math.exp(hi), p=p,
                         paper=paper, metric=metric))
    c = pd.DataFrame(rows)
    for fam in ('primary', 'replication'):
        k = c.family == fam
        if not k.any() or c[k].p.isna().any():
            c.loc[k, ['p_holm', 'adj_level', 'adj_low', 'adj_high']] = math.nan; continue
        adj, levels = holm(c[k].p.to_numpy(), alpha)
        c.loc[k, 'p_holm'], c.loc[k, 'adj_level'] = adj, levels
        for i in c.index[k]:
            logs = claim_logs(by, *c.loc[i, ['a', 'b']].map(_arms).tolist())[1]
            _, _, lo, hi, _ = paired_t(logs, c.loc[i, 'adj_level'])
            c.loc[i, 'adj_low'], c.loc[i, 'adj_high'] = math.exp(lo), math.exp(hi)
    c['verdict'] = [_verdict(r) for r in c.itertuples()]
    return c


def _arms(s): return tuple(s.split('/')) if '/' in s else s


def _verdict(r):
    if not r.adj_low == r.adj_low: return 'too few seeds'
    return 'reproduced' if r.adj_high < 1 else 'contradicted' if r.adj_low > 1 else 'unresolved'


# ---------------------------------------------------------------- launcher
def plan_runs(stage, out=OUT):
    "The runs of a stage, seed-major: (arm, steps, seed)."
    if stage == 'pilot':
        return [(a, b, s) for b in PILOT['budgets'] for s in PILOT['seeds'] for a in PILOT['arms']]
    sizing = _read_json(Path(out, 'sizing.json'))
    if stage == 'replicate': return [(a, sizing['steps'], s) for s in replication_seeds(out) for a in REPLICATION_ARMS]
    seeds = range(FIRST_SEED, FIRST_SEED + sizing['chosen_seeds'])
    return [(a, sizing['steps'], s) for s in seeds for a in PRIMARY_ARMS]


def runs_to_do(stage, out=OUT):
    "The planned runs of a stage whose JSON is not yet in `out`: (arm, steps, seed)."
    return [r for r in plan_runs(stage, out) if not (Path(out)/'runs'/stage/f'{run_name(*r)}.json').exists()]


def replication_seeds(out=OUT):
    """Amendment 4: the replication arms run on the first confirmatory seeds that the budget left after the complete
    primary study affords, at the median wall time of a confirmatory run; none while a confirmatory run is missing."""
    if runs_to_do('confirm', out): return range(FIRST_SEED, FIRST_SEED)
    planned, conf = plan_runs('confirm', out), load_runs('confirm', out)
    left = CPU_HOURS - sum(r['wall_s'] for r in load_runs('pilot', out) + conf) / 3600
    run_hours = float(np.median([r['wall_s'] for r in conf])) / 3600
    n = min(len(planned) // len(PRIMARY_ARMS), int(left // (len(REPLICATION_ARMS) * run_hours)))
    return range(FIRST_SEED, FIRST_SEED + (n if n >= 2 else 0))   # one seed gives no interval


def study_runs(out=OUT):
    "The runs the analysis reads: the confirmatory ones, and the replication ones once every one of them exists (no interim look)."
    done = replication_seeds(out) and not runs_to_do('replicate', out)
    return load_runs('confirm', out) + (load_runs('replicate', out) if done else [])


def _launch(todo, stage, args):
    logs = Path(args.work)/'logs'; logs.mkdir(parents=True, exist_ok=True)
    def go(run):
        arm, steps, seed = run
        cmd = [sys.executable, __file__, '--worker', f'{arm}:{steps}:{seed}:{stage}', '--out', args.out, '--work', args.work]
        cmd += ['--any_hardware'] if args.any_hardware else []
        t = time.time()
        with open(logs/f'{run_name(arm, steps, seed)}.log', 'w') as f:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1'))
        print(f'  {stage} {run_name(arm, steps, seed)}: rc={rc} {time.time() - t:.0f}s', flush=True)
    with ThreadPoolExecutor(args.jobs) as ex: list(ex.map(go, todo))


def main(argv=None):
    p = _parser()
    args = p.parse_args(argv)
    try: return _main(p, args)
    except ValueError as e: p.exit(2, f'confirm: error: {e}\n')


def _parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--stage', choices=('pilot', 'size', 'confirm', 'replicate'), default='', help='which part of the plan to run')
    p.add_argument('--table', action='store_true', help='print and write the claims of the confirmatory runs on disk')
    p.add_argument('--out', default=str(OUT), help='results folder (runs/<stage>/*.json, sizing.json, claims.csv)')
    p.add_argument('--work', default='/tmp/lct_confirm', help='run folders and logs, not results')
    p.add_argument('--jobs', type=int, default=2, help='runs in parallel (one thread each)')
    p.add_argument('--any_hardware', action='store_true', help='run on a CPU other than the plan\'s class (not for the study)')
    p.add_argument('--dry_run', action='store_true', help='print the runs still to do and exit')
    p.add_argument('--worker', default='', help=argparse.SUPPRESS)
    return p


def _main(p, args):
    if args.worker:
        arm, steps, seed, stage = args.worker.split(':'); return worker(arm, int(steps), int(seed), stage, args)
    out = Path(args.out)
    if args.stage == 'replicate' and not replication_seeds(out):
        p.exit(2, 'confirm: error: --stage replicate: no seeds to run; it needs every confirmatory run, and a budget left '
                  'that affords at least 2 seeds of its two arms (Amendment 4)\n')
    if args.stage in ('pilot', 'confirm', 'replicate'):
        todo = runs_to_do(args.stage, out)
        print(f'confirm: {len(todo)} {args.stage} runs to do, {args.jobs} at a time', flush=True)
        if args.dry_run: print(' '.join(run_name(*r) for r in todo)); return
        _launch(todo, args.stage, args)
    if args.stage == 'size':
        missing = [run_name(*r) for r in runs_to_do('pilot', out)]
        if missing: p.exit(2, f'confirm: error: --stage size reads the complete pilot: {len(missing)} of its runs are missing '
                              f'({" ".join(missing[:2])}{" ..." if len(missing) > 2 else ""}); run --stage pilot\n')
        if Path(out, 'sizing.json').exists():
            p.exit(2, f'confirm: error: --stage size: {Path(out, "sizing.json")} exists; the rule is applied once (PLAN.md)\n')
        rows, best = size(load_runs('pilot', out))
        for r in rows: print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
        print('chosen:', best)
        if best: Path(out, 'sizing.json').write_text(json.dumps(dict(best, rows=rows), indent=1, default=float))
    if args.table:
        import pandas as pd
        if not Path(out, 'sizing.json').exists(): p.exit(2, f'confirm: error: --table: {out}/sizing.json is missing; run --stage size\n')
        sizing, planned, todo = _read_json(Path(out, 'sizing.json')), plan_runs('confirm', out), runs_to_do('confirm', out)
        if todo:   # the plan has no interim look: no claims from part of the runs
            p.exit(2, f'confirm: error: --table: {len(planned) - len(todo)} of the {len(planned)} planned confirmatory runs '
                      'exist; the plan has no interim look, so no claims until all do\n')
        c = analyse(study_runs(out), sizing['metric'])
        c.to_csv(out/'claims.csv', index=False)
        with pd.option_context('display.width', 250, 'display.max_colwidth', 50, 'display.max_columns', None):
            print(c[['claim', 'family', 'n', 'ratio', 'ci_low', 'ci_high', 'p', 'p_holm', 'adj_low', 'adj_high', 'verdict']].round(4))


if __name__ == '__main__': main()
