"""The reproduction study of `nbs/09_ablation.ipynb`: paired seeds, intervals, verdicts. One command, resumable.

    python benchmarks/ablation.py                 # the whole planned study: the pilot, then the kept arms to 5 seeds
    python benchmarks/ablation.py --seeds 2       # the pilot: seeds 0-1 of every arm (measures the paired spread)
    python benchmarks/ablation.py --only +ot,+c,full --seeds 5   # the kept arms (`kept_arms()`, after DROPPED) to 5 seeds
    python benchmarks/ablation.py --table         # claims, the pooled spread and the kept arms from the results on disk

Protocol: every arm trains the tiny UNet on the bundled digits latents for 2100 steps (7 curriculum stages of
300) at batch 64 and is evaluated with 1-step digits-FID / precision / recall on 2000 samples. Seed s fixes the weights,
the data order and every noise draw, identically in every arm, so two arms are compared *paired*, seed by seed: the
ratio FID(a)/FID(b) is summarised by the mean of ln-ratios over seeds with a t-based 95% interval, and a claim is
*reproduced* (interval below 1: a beats b, the paper's direction), *contradicted* (interval above 1) or *unresolved*.
Runs are launched seed-major (seed 0 of every arm, then seed 1, ...), so an interrupted study always holds complete
pairs. No verdict is given below 5 paired seeds. The pilot's spread, pooled over the claims, sizes the study: claims
that cannot be resolved within 5 seeds or within the budget are dropped once, after the pilot (`suggest_drops`,
frozen in `DROPPED`), and keep their pilot intervals in claims.csv. A finished run writes `results/ablation/runs/<arm>_s<seed>.json` and is skipped next time.
"""
import argparse, json, math, os, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STAGES = (11, 21, 41, 81, 161, 321, 641)

# Every arm starts from BASE, pinned here so that a change of TrainConfig's digits defaults (tuned for
# speed) cannot change the study half-way: these are the defaults the study's first runs were made with.
BASE = dict(net='tiny', lr=3e-4, lr_decay=0.0, s1=0, weight_decay=1e-4, betas=(0.9, 0.999), ema_rates=(0.999,), ema_warmup=True,
            grad_clip=0.0, micro_batch=0)
# arm name: the TrainConfig fields it sets on top of BASE. Two arms differing in one field compare that one technique.
ARMS = {
    'ilct':           dict(preset='ilct'),                 # Table 2(a) rows, each adding one technique to the row above
    'cauchy':         dict(preset='cauchy'),
    'cauchy+diff':    dict(preset='cauchy+diff'),
    '+ot':            dict(preset='+ot'),
    '+c':             dict(preset='+c'),
    'full':           dict(preset='full'),
    '+ot_cal':        dict(preset='+ot', c_schedule='calibrated'),   # c measured online (this project's calibration) instead of Eq. 11
    'ilct_el':        dict(preset='ilct', latent_norm='element'),    # the mechanism: tails from per-element normalisation...
    'cauchy_el':      dict(preset='cauchy', latent_norm='element'),
    'ilct_el_k0.5':   dict(preset='ilct', latent_norm='element', tail=0.5),   # ...and heavier still (sinh tail weight)
    'cauchy_el_k0.5': dict(preset='cauchy', latent_norm='element', tail=0.5),
}
# (claim, a, b, paper's number for a vs b): "a beats b", i.e. FID(a)/FID(b) < 1 in the paper's direction
CLAIMS = [
    ('Cauchy beats Pseudo-Huber (Table 2a)', 'cauchy', 'ilct', '13.02 vs 37.15'),
    ('diffusion loss at small t helps (Table 2a)', 'cauchy+diff', 'cauchy', '9.11 vs 13.02'),
    ('OT pairing helps (Table 2a)', '+ot', 'cauchy+diff', '8.89 vs 9.11'),
    ('adaptive c (Eq. 11) beats fixed c0 (Table 2a)', '+c', '+ot', '7.76 vs 8.89'),
    ('NsLN beats GroupNorm (Table 2a)', 'full', '+c', '7.27 vs 7.76'),
    ('calibrated c beats fixed c0', '+ot_cal', '+ot', '-'),
    ('calibrated c beats Eq. 11', '+ot_cal', '+c', '-'),
    ('Cauchy beats Pseudo-Huber, per-element latents', 'cauchy_el', 'ilct_el', '-'),
    ('Cauchy beats Pseudo-Huber, per-element latents with tail k=0.5', 'cauchy_el_k0.5', 'ilct_el_k0.5', '-'),
]
# interactions: (claim, (a1, b1), (a2, b2)): the ratio FID(a1)/FID(b1) divided by FID(a2)/FID(b2), paired by seed
INTERACTIONS = [
    ("Cauchy's advantage grows: per-element vs per-channel", ('cauchy_el', 'ilct_el'), ('cauchy', 'ilct')),
    ("Cauchy's advantage grows: tail k=0.5 vs per-channel", ('cauchy_el_k0.5', 'ilct_el_k0.5'), ('cauchy', 'ilct')),
]
# Claims dropped after the pilot (seeds 0-1 of every arm) because the pooled spread says they cannot be resolved within the
# study's budget on this machine; each keeps its pilot interval in claims.csv, with this reason in `status`.
DROPPED = {   # frozen on 2026-11-30 from `suggest_drops(claims(out, seeds=range(PILOT_SEEDS)))` when the pilot was complete
    'Cauchy beats Pseudo-Huber (Table 2a)':
        'its pilot effect (ratio 1.18) would need about 6 seeds at the pooled spread, more than 5',
    'diffusion loss at small t helps (Table 2a)':
        'its pilot effect (ratio 1.10) would need about 12 seeds at the pooled spread, more than 5',
    'calibrated c beats fixed c0':
        'its pilot effect (ratio 0.87) would need about 7 seeds at the pooled spread, more than 5',
    'Cauchy beats Pseudo-Huber, per-element latents':
        'its pilot effect (ratio 0.87) would need about 8 seeds at the pooled spread, more than 5',
    'Cauchy beats Pseudo-Huber, per-element latents with tail k=0.5':
        'its pilot effect (ratio 1.18) would need about 6 seeds at the pooled spread, more than 5',
    "Cauchy's advantage grows: tail k=0.5 vs per-channel":
        'its pilot effect (ratio 1.00) could not be resolved within 50 seeds at the pooled spread',
    "Cauchy's advantage grows: per-element vs per-channel":
        'its pilot effect (ratio 0.74) would need about 5 seeds, the most of the claims left, and their arms exceeded the budget of 9 further runs',
    'OT pairing helps (Table 2a)':
        'its pilot effect (ratio 1.23) would need about 5 seeds, the most of the claims left, and their arms exceeded the budget of 9 further runs',
    'calibrated c beats Eq. 11':
        'its pilot effect (ratio 1.39) would need about 4 seeds, the most of the claims left, and their arms exceeded the budget of 9 further runs',
}
PILOT_SEEDS, TARGET_SEEDS = 2, 5   # the pilot: seeds 0-1 of every arm; kept arms then go on to 5 seeds
BUDGET_RUNS = 9                    # runs after the pilot: ~75 min of two workers at ~16 min a run (what this machine had left, 2026-11-30)
TD21_ARMS = ('ilct', 'ilct_el', 'ilct_el_k0.5')   # seed-0 runs keep their TD values at N = 21 (Fig. 1, right)

def run_name(arm, seed): return f'{arm}_s{seed}'

def run_list(seeds):
    "Every run of the study, seed-major: all arms of seed 0, then of seed 1, ..."
    return [(arm, s) for s in range(seeds) for arm in ARMS]

# ---------------------------------------------------------------- one run (in a worker process)
def _td_probe(model, n, recipe, x0, seed=1234):
    "TD values f(x_{t_{i+1}}) − f(x_{t_i}) of `model` (its own target) on `x0` at grid size `n`, pairs drawn as in training."
    import torch
    from lct_nb.consistency import karras_sigmas, temporal_difference
    from lct_nb.curriculum import lognormal_index_probs
    from lct_nb.objective import draw_pairs
    sig = karras_sigmas(n, recipe.sigma_min, recipe.sigma_max, recipe.rho)
    idx, z = draw_pairs(x0, lognormal_index_probs(sig, recipe.p_mean, recipe.p_std).float(), torch.Generator().manual_seed(seed))
    with torch.no_grad(): return temporal_difference(model, model, x0, z, sig.float(), idx)

def _td_stats(td):
    from lct_nb.stats import tukey_fences
    v = td.double(); f = tukey_fences(v)
    rms = v.flatten(1).pow(2).mean(1).sqrt()    # the per-sample ‖TD‖ in the loss's per-element-mean units
    return dict(std=v.std().item(), rms_mean=rms.mean().item(), rms_median=rms.median().item(),
                q1=float(f['q1']), q3=float(f['q3']), min=v.min().item(), max=v.max().item(),
                frac_inner=((v < f['inner'][0]) | (v > f['inner'][1])).double().mean().item(),
                frac_outer=((v < f['outer'][0]) | (v > f['outer'][1])).double().mean().item())

def callbacks(probe_x0):
    "The study's callbacks: metrics, checkpoints, the end-of-run sample grid and a TD probe at the end of every stage."
    from lct_nb.train import Callback, MetricsLog, Checkpointer, SampleGrids, stage_of

    class TDProbe(Callback):
        "The TD spread of the current weights at the end of every curriculum stage (on a fixed probe batch)."
        def __init__(self): self.stage_td, self.td21 = {}, None
        def after_stage(self):
            tr = self.trainer; n = stage_of(tr.step - 1, tr.cfg, tr.recipe)
            td = _td_probe(tr.model, n, tr.recipe, probe_x0)
            self.stage_td[n] = dict(_td_stats(td), step=tr.step)
            if n == 21: self.td21 = td[:64].numpy().astype(np.float16)
    return [MetricsLog(), Checkpointer(), SampleGrids(), TDProbe()]

def _write_json(path, obj):
    tmp = path.with_name(f'.{path.name}.tmp'); tmp.write_text(json.dumps(obj, default=float)); os.replace(tmp, path)

def worker(arm, seed, args):
    import torch
    torch.set_num_threads(1)
    from lct_nb.train import TrainConfig, Trainer
    from lct_nb.evaluate import evaluate
    from lct_nb.metrics import digits_reference_stats, get_feature_extractor
    from lct_nb.images import decode_to_images
    from lct_nb.cache import latent_cache_path
    from lct_nb.latents import load_latent_cache
    out, name = Path(args.out), run_name(arm, seed)
    run_dir = Path(args.work)/'runs'/name
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = TrainConfig(total_steps=args.steps, batch_size=args.batch, seed=seed, run_dir=str(run_dir), log_every=25,
                      ckpt_every=args.steps, sample_every=args.steps, keep_ckpts=1, **{**BASE, **ARMS[arm]})
    t0 = time.time()
    data = load_latent_cache(latent_cache_path(cfg.data), norm=cfg.latent_norm, tail=cfg.tail)
    probe_x0 = data[torch.randperm(len(data), generator=torch.Generator().manual_seed(99))[:args.probe].sort().values]
    tr = Trainer(cfg, callbacks(probe_x0)).fit()
    probe = next(cb for cb in tr.cbs if type(cb).__name__ == 'TDProbe')
    train_s = time.time() - t0
    final_td = {n: _td_stats(_td_probe(tr.model, n, tr.recipe, probe_x0)) for n in STAGES}
    ext = get_feature_extractor('digits'); ref = digits_reference_stats(extractor=ext)
    m = evaluate(tr.emas[0], ref, ext, lambda x: decode_to_images(x, tr.data), tr.data.shape, n=args.n_eval, seed=seed,
                 quantize=False)   # float samples, as the study's first runs were scored (before evaluate quantised to uint8)
    res = dict(arm=arm, seed=seed, config=ARMS[arm], steps=args.steps, batch=args.batch, lr=cfg.lr, recipe=tr.recipe.__dict__,
               fid=m['fid'], precision=m['precision'], recall=m['recall'], n_eval=args.n_eval, eval_uint8=False, train_s=round(train_s, 1),
               stage_td=probe.stage_td, final_td=final_td,
               loss_curve=[json.loads(l) for l in (run_dir/'metrics.jsonl').read_text().splitlines()])
    if seed == 0:
        shutil.copy(run_dir/'samples'/f'step{args.steps:07d}_1step.png', out/'grids'/f'{arm}.png')
        if arm in TD21_ARMS and probe.td21 is not None: np.savez_compressed(out/'td'/f'{arm}_N21.npz', td=probe.td21)
    res['wall_s'] = round(time.time() - t0, 1)
    _write_json(out/'runs'/f'{name}.json', res)
    write_claims(out)                     # claims.csv always matches the runs on disk
    shutil.rmtree(run_dir, ignore_errors=True)
    return res

# ---------------------------------------------------------------- claims
def load_results(out, seeds=None):
    "Every finished run's result (a dict per `runs/*.json`), optionally only those of `seeds` (e.g. `range(PILOT_SEEDS)`)."
    rs = [json.loads(p.read_text()) for p in sorted(Path(out, 'runs').glob('*.json'))]
    return rs if seeds is None else [r for r in rs if r['seed'] in seeds]

def paired_interval(logs, level=0.95):
    "Mean of paired log-ratios and its t-based interval, as ratios: (n, ratio, low, high); NaNs below 2 pairs."
    from scipy import stats
    logs = np.asarray(logs, dtype=float); n = len(logs)
    if n < 2: return n, (math.exp(logs[0]) if n else math.nan), math.nan, math.nan
    m, se = logs.mean(), logs.std(ddof=1) / math.sqrt(n)
    h = stats.t.ppf((1 + level) / 2, n - 1) * se
    return n, math.exp(m), math.exp(m - h), math.exp(m + h)

def verdict(low, high, n=None, min_seeds=None):
    "The paper's direction is ratio < 1 (a beats b). No verdict below `min_seeds` (default `TARGET_SEEDS`) paired seeds when `n` is given."
    if not (low == low) or (n is not None and n < (min_seeds or TARGET_SEEDS)): return 'too few seeds'
    return 'reproduced' if high < 1 else 'contradicted' if low > 1 else 'unresolved'

def seeds_to_resolve(logs, level=0.95, cap=50, sd=None):
    "Fewest seeds n at which an effect of the observed mean and spread (or `sd`) would have an interval excluding 1 (None beyond cap)."
    from scipy import stats
    logs = np.asarray(logs, dtype=float)
    if len(logs) < (1 if sd else 2): return None
    m, s = abs(logs.mean()), (sd or logs.std(ddof=1))
    if s == 0: return None
    return next((n for n in range(2, cap + 1) if stats.t.ppf((1 + level) / 2, n - 1) * s / math.sqrt(n) < m), None)

def pooled_sd(logs_by_claim):
    "Pooled within-claim sd of paired ln-ratios, and its degrees of freedom: Σ over claims of Σ(l − l̄)² / Σ(n − 1)."
    ss = dof = 0
    for logs in logs_by_claim:
        l = np.asarray(logs, dtype=float)
        if len(l) >= 2: ss += ((l - l.mean()) ** 2).sum(); dof += len(l) - 1
    return (math.sqrt(ss / dof) if dof else math.nan), dof

def _by(rs):
    return {(r['arm'], r['seed']): r for r in rs}

def _paired(rs, a, *others):
    "The seeds, sorted, that arm `a` and every arm of `others` have in `rs` (a `_by` dict)."
    return sorted(s for (arm, s) in rs if arm == a and all((x, s) in rs for x in others))

def _claim_logs(rs):
    "{claim: per-seed ln FID(a)/FID(b)} for every claim of `CLAIMS`, over the seeds both arms have in `rs` (a `_by` dict)."
    return {claim: [math.log(rs[a, s]['fid'] / rs[b, s]['fid']) for s in _paired(rs, a, b)] for claim, a, b, _ in CLAIMS}

def claims(out, seeds=None):
    "One row per claim: paired FID ratio a/b with its 95% interval, the paired recall difference, verdict and sizing."
    import pandas as pd
    rs = _by(load_results(out, seeds)); rows = []
    lr = lambda a, b, s: math.log(rs[a, s]['fid'] / rs[b, s]['fid'])
    logs = _claim_logs(rs); sd, _ = pooled_sd(logs.values())
    def row(claim, a, b, paper, logs, rec, sd):
        n, ratio, lo, hi = paired_interval(logs)
        rn, rd, rl, rh = _mean_interval(rec)
        rows.append(dict(claim=claim, a=a, b=b, seeds=n, steps=_steps(rs), ratio=ratio, ci_low=lo, ci_high=hi, verdict=verdict(lo, hi, n),
                         recall_diff=rd, recall_low=rl, recall_high=rh, paper=paper,
                         seeds_needed=seeds_to_resolve(logs, sd=sd if sd == sd else None),
                         status=f'dropped: {DROPPED[claim]}' if claim in DROPPED else 'kept'))
    for claim, a, b, paper in CLAIMS:
        ss = _paired(rs, a, b)
        row(claim, a, b, paper, logs[claim], [rs[a, s]['recall'] - rs[b, s]['recall'] for s in ss], sd)
    for claim, (a1, b1), (a2, b2) in INTERACTIONS:   # a difference of two paired ln-ratios: about √2 × their spread
        ss = _paired(rs, a1, b1, a2, b2)
        row(claim, f'{a1}/{b1}', f'{a2}/{b2}', '-', [lr(a1, b1, s) - lr(a2, b2, s) for s in ss],
            [(rs[a1, s]['recall'] - rs[b1, s]['recall']) - (rs[a2, s]['recall'] - rs[b2, s]['recall']) for s in ss], sd * math.sqrt(2))
    return pd.DataFrame(rows)

def spread(out, seeds=None):
    "The study's pooled spread: `pooled_sd` of the paired ln-ratios of every claim of `CLAIMS`, from the runs on disk."
    return pooled_sd(_claim_logs(_by(load_results(out, seeds))).values())

def suggest_drops(c, budget_runs=BUDGET_RUNS, target=TARGET_SEEDS, have=PILOT_SEEDS):
    """The sizing rule, applied once to the pilot's claims table `c`: drop a claim whose pilot effect would need more than
    `target` seeds at the pooled spread; then, while the kept claims' arms need more than `budget_runs` further runs to
    reach `target` seeds, drop the kept claim that needs the most seeds (the later one on a tie). Returns {claim: reason}."""
    drops = {}
    for r in c.itertuples():
        if not r.seeds_needed == r.seeds_needed or not r.seeds_needed:
            drops[r.claim] = f'its pilot effect (ratio {r.ratio:.2f}) could not be resolved within 50 seeds at the pooled spread'
        elif r.seeds_needed > target:
            drops[r.claim] = f'its pilot effect (ratio {r.ratio:.2f}) would need about {int(r.seeds_needed)} seeds at the pooled spread, more than {target}'
    while len(kept_arms(drops)) * (target - have) > budget_runs:
        k = c[~c.claim.isin(list(drops))]
        worst = k.sort_values('seeds_needed', kind='stable').iloc[-1]   # stable: on a tie, the claim listed later
        drops[worst.claim] = (f'its pilot effect (ratio {worst.ratio:.2f}) would need about {int(worst.seeds_needed)} seeds, the most of the claims '
                              f'left, and their arms exceeded the budget of {budget_runs} further runs')
    return drops

def kept_arms(dropped=None):
    "The arms the kept claims compare (the study runs more seeds of these only)."
    dropped = DROPPED if dropped is None else dropped
    arms = {x for c, a, b, _ in CLAIMS if c not in dropped for x in (a, b)}
    arms |= {x for c, *pairs in INTERACTIONS if c not in dropped for pair in pairs for x in pair}
    return [a for a in ARMS if a in arms]

def write_claims(out):
    "Recompute the claims from the per-run files and write claims.csv atomically; returns the table."
    c = claims(out)
    if len(c): tmp = Path(out)/f'.claims.{os.getpid()}.csv'; c.to_csv(tmp, index=False); os.replace(tmp, Path(out)/'claims.csv')
    return c

def _steps(rs): return sorted({r['steps'] for r in rs.values()}) [0] if rs else None

def _mean_interval(x, level=0.95):
    from scipy import stats
    x = np.asarray(x, dtype=float); n = len(x)
    if n < 2: return n, (x[0] if n else math.nan), math.nan, math.nan
    h = stats.t.ppf((1 + level) / 2, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return n, x.mean(), x.mean() - h, x.mean() + h

def arm_table(out):
    "Per arm: seeds, geometric-mean FID and its spread over seeds, mean precision and recall."
    import pandas as pd
    rs = load_results(out)
    if not rs: return pd.DataFrame()
    df = pd.DataFrame([dict(arm=r['arm'], seed=r['seed'], fid=r['fid'], precision=r['precision'], recall=r['recall'], train_s=r['train_s']) for r in rs])
    g = df.groupby('arm', sort=False)
    t = g.agg(seeds=('seed', 'count'), fid_gmean=('fid', lambda v: float(np.exp(np.log(v).mean()))), fid_min=('fid', 'min'),
              fid_max=('fid', 'max'), precision=('precision', 'mean'), recall=('recall', 'mean'), train_s=('train_s', 'mean'))
    return t.reindex([a for a in ARMS if a in t.index]).reset_index()

# ---------------------------------------------------------------- launcher
def _launch(todo, args, out):
    logs = Path(args.work)/'logs'; logs.mkdir(parents=True, exist_ok=True)
    def go(run):
        arm, seed = run
        cmd = [sys.executable, __file__, '--worker', f'{arm}:{seed}', '--out', str(out), '--work', args.work, '--steps', str(args.steps),
               '--batch', str(args.batch), '--n_eval', str(args.n_eval), '--probe', str(args.probe)]
        s = time.time()
        with open(logs/f'{run_name(arm, seed)}.log', 'w') as f:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1'))
        print(f'  {run_name(arm, seed)}: rc={rc} {time.time() - s:.0f}s', flush=True)
    with ThreadPoolExecutor(args.jobs) as ex: list(ex.map(go, todo))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=str(ROOT/'results'/'ablation'), help='results folder (a JSON per run, claims.csv, grids)')
    p.add_argument('--work', default='/tmp/lct_ablation', help='run folders (checkpoints) and logs, not results')
    p.add_argument('--seeds', type=int, default=5, help='paired seeds per arm (0 .. seeds-1)')
    p.add_argument('--steps', type=int, default=2100, help='training steps per run (7 curriculum stages)')
    p.add_argument('--batch', type=int, default=64, help='batch size')
    p.add_argument('--n_eval', type=int, default=2000, help='samples for 1-step digits-FID / precision / recall')
    p.add_argument('--probe', type=int, default=256, help='latents in the fixed TD-probe batch')
    p.add_argument('--jobs', type=int, default=2, help='runs in parallel (one thread each)')
    p.add_argument('--only', default='', help='comma-separated arms to run, seeds 0 .. --seeds-1 (default: the plan: seeds 0-1 of every arm, then the kept arms)')
    p.add_argument('--dry_run', action='store_true', help='print the runs still to do and exit')
    p.add_argument('--table', action='store_true', help='print the claims of the results on disk and exit')
    p.add_argument('--worker', default='', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    out = Path(args.out)
    for d in ('runs', 'grids', 'td'): (out/d).mkdir(parents=True, exist_ok=True)
    if args.worker:
        arm, seed = args.worker.rsplit(':', 1); worker(arm, int(seed), args); return
    t0, todo = time.time(), []
    if not args.table:
        sel = set(filter(None, args.only.split(',')))
        runs = ([r for r in run_list(args.seeds) if r[0] in sel] if sel else   # the plan: the pilot, then the kept arms
                [r for r in run_list(args.seeds) if r[1] < PILOT_SEEDS or r[0] in kept_arms()])
        todo = [r for r in runs if not (out/'runs'/f'{run_name(*r)}.json').exists()]
        print(f'ablation: {len(todo)} runs to do, {args.jobs} at a time, {args.steps} steps × batch {args.batch}', flush=True)
        if args.dry_run: print(' '.join(run_name(*r) for r in todo)); return
        lock = out/'.launcher.pid'
        if lock.exists() and Path(f'/proc/{lock.read_text().strip()}').exists():
            sys.exit(f'ablation: another launcher (pid {lock.read_text().strip()}) is running on {out}; wait for it or delete {lock}')
        lock.write_text(str(os.getpid()))
        try: _launch(todo, args, out)
        finally: lock.unlink(missing_ok=True)
        wall = json.loads((out/'wall.json').read_text()) if (out/'wall.json').exists() else {}
        wall.setdefault('sessions', []).append(dict(started=time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t0)), runs=len(todo),
                                                    wall_s=round(time.time() - t0, 1)))
        wall.update(steps=args.steps, batch=args.batch, jobs=args.jobs, n_eval=args.n_eval,
                    wall_s_total=round(sum(s['wall_s'] for s in wall['sessions']), 1))
        _write_json(out/'wall.json', wall)
    import pandas as pd
    c = write_claims(out)
    with pd.option_context('display.width', 200, 'display.max_rows', 100, 'display.max_colwidth', 60):
        print(arm_table(out).round(3).to_string(index=False)); print()
        print(c[['claim', 'seeds', 'ratio', 'ci_low', 'ci_high', 'verdict', 'seeds_needed']].round(3).to_string(index=False))
    sd, dof = spread(out); keep = kept_arms(); done = {(r['arm'], r['seed']) for r in load_results(out)}
    todo5 = [r for r in run_list(args.seeds) if r[0] in keep and r not in done]
    print(f'\npooled spread of paired ln(FID ratio): sd {sd:.3f} ({dof} degrees of freedom); seeds_needed uses it (×√2 for interactions)')
    print(f'kept arms: {", ".join(keep)}; {len(todo5)} runs missing for {args.seeds} seeds of each '
          f'(`--only {",".join(keep)} --seeds {args.seeds}`)')
    if not args.table: print(f'ablation wall time: {(time.time() - t0) / 60:.1f} min ({len(todo)} runs, {args.jobs} parallel, this machine)')

if __name__ == '__main__': main()
