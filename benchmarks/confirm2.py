"""The second confirmatory study of chapter 09: the paper's mechanism on latents with outliers, planned in
`results/confirm2/PLAN.md` before any run.

    python benchmarks/confirm2.py --stage check     # the ordering check: seeds 200-203 of the five arms at 2 880 steps
    python benchmarks/confirm2.py --stage budget    # apply the plan's budget rule to the complete check (budget.json)
    python benchmarks/confirm2.py --stage main      # the main runs, seeds 2000, 2001, ..., up to the next look
    python benchmarks/confirm2.py --table           # the looks reached so far and claims.csv (results/confirm2/)

Every run trains the tiny UNet on the bundled digits latents, normalised per channel, with the tail weight k of its arm
(k = 0: the latents as they are; k = 1: sinh(u)/1 of the standardised latents, extremes -9.2...7.9 standard deviations),
the full recipe of Table 2(a) with one technique changed, at batch 64 with the digits recipe pinned in `BASE`, one
thread per worker. A run checkpoints every `CKPT_EVERY` steps into `--work`, so an interrupted run resumes where it
stopped; its JSON in `results/confirm2/runs/<stage>/` holds its scores and provenance (commit, the CPU's vendor, family,
model and torch capability, `torch.__config__.show()`, threads, the full config). The analysis (`analyse`) is the
plan's group-sequential design: paired ln FID ratios, Holm's step-down over the primary family at each look's level.
"""
import argparse, hashlib, json, math, os, platform, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'results'/'confirm2'
ALPHA, EFFECT, POWER = 0.05, 0.8, 0.8      # family-wise level; the FID ratio each primary is powered for; the power wanted
LOOKS = (8, 16, 24)                         # seeds at each look of the group-sequential design
LOOK_ALPHA = (0.005, 0.01, 0.035)           # family-wise level spent at each look (sum 0.05: a union bound over looks)
SD = 0.212                                  # paired sd of ln FID realised by the first study (six seeds, 960 steps)
CPU_HOURS = 40.0                            # the whole study's budget, check included, in worker-hours at one thread
CHECK = dict(seeds=(200, 201, 202, 203), steps=2880, snapshots=(960, 1920, 2880))
LONGER = 3840                               # the main budget when the check's orderings move between 1 920 and 2 880
FIRST_SEED = 2000                           # main seeds 2000, 2001, ...: never used by any earlier run of the project
CKPT_EVERY = 240                            # steps between the checkpoints an interrupted run resumes from
N_EVAL = 2000                               # samples per FID

# The digits recipe, pinned so that a change of TrainConfig's defaults cannot change the study half-way.
BASE = dict(preset='full', net='tiny', s1=160, batch_size=64, lr=1e-3, lr_decay=0.3, weight_decay=1e-4, betas=(0.9, 0.99),
            ema_rates=(0.999,), ema_warmup=True, grad_clip=0.0, micro_batch=0, latent_norm='channel', overlap=False,
            bf16=False, c_schedule='paper')
ARMS = {   # arm: the TrainConfig fields it sets on top of BASE (the full recipe of Table 2(a): Cauchy, diffusion loss, OT,
           # Eq. 11's c, NsLN)
    'full_k1':   dict(tail=1.0),                            # the full recipe on heavy-tailed latents
    'ph_k1':     dict(tail=1.0, distance='pseudo_huber'),   # ... with Pseudo-Huber instead of Cauchy (Table 2c)
    'nodiff_k1': dict(tail=1.0, diff_r=0.0),                # ... without the diffusion loss (Table 2b, r = 0)
    'full_k0':   dict(tail=0.0),                            # the full recipe on the latents as they are
    'ph_k0':     dict(tail=0.0, distance='pseudo_huber'),
    'full_el':   dict(tail=0.0, latent_norm='element'),     # the authors' per-element normalisation (secondary, if
    'ph_el':     dict(tail=0.0, latent_norm='element', distance='pseudo_huber'),   # the budget is left; PLAN.md)
}
MAIN_ARMS = ('full_k1', 'ph_k1', 'nodiff_k1', 'full_k0', 'ph_k0')
FAITHFUL_ARMS = ('full_el', 'ph_el')
# (id, claim, family, a, b, paper): "a beats b" is FID(a)/FID(b) < 1. An interaction's a and b are (a1, b1), (a2, b2):
# [FID(a1)/FID(b1)] / [FID(a2)/FID(b2)] < 1 says a1's advantage over b1 is larger than a2's over b2.
CLAIMS = [
    ('P1', 'Cauchy beats Pseudo-Huber on heavy-tailed latents (Table 2c, Sec. 4.2)', 'primary', 'full_k1', 'ph_k1', '7.27 vs 9.97'),
    ('P2', "Cauchy's advantage grows with the tail weight (Sec. 4.2)", 'primary', ('full_k1', 'ph_k1'), ('full_k0', 'ph_k0'), '-'),
    ('P3', 'the diffusion loss helps the full recipe (Table 2b)', 'primary', 'full_k1', 'nodiff_k1', '9.11 vs 13.02 (Table 2a)'),
    ('S1', 'Cauchy beats Pseudo-Huber on the latents as they are', 'secondary', 'full_k0', 'ph_k0', '-'),
    ('F1', "Cauchy beats Pseudo-Huber under the authors' per-element normalisation", 'faithful', 'full_el', 'ph_el', '7.27 vs 9.97'),
]


def run_name(arm, steps, seed): return f'{arm}_b{steps}_s{seed}'


def _arms_of(a, b): return (*a, *b) if isinstance(a, tuple) else (a, b)


# ---------------------------------------------------------------- provenance and the hardware class
def _git(*a):
    try: return subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError): return ''


def _cpuinfo():
    "The first processor's fields of /proc/cpuinfo."
    try: lines = Path('/proc/cpuinfo').read_text().split('\n\n')[0].splitlines()
    except OSError: return {}
    return {l.split(':', 1)[0].strip(): l.split(':', 1)[1].strip() for l in lines if ':' in l}


def hardware_class():
    """The class a run's numbers depend on: CPU vendor, family and model (MKL and oneDNN pick kernels by CPUID), the
    capability torch dispatches at, and torch's build. Runs of one seed must share it."""
    import torch
    cpu = _cpuinfo()
    build = hashlib.sha1(torch.__config__.show().encode()).hexdigest()[:12]
    return (f"{cpu.get('vendor_id', '?')} family {cpu.get('cpu family', '?')} model {cpu.get('model', '?')} | "
            f"torch {torch.__version__} at {torch.backends.cpu.get_cpu_capability()} | build {build}")


def provenance():
    "Where and with what a run ran: commit, dirty flag, the hardware class and what makes it, versions, threads."
    import torch, diffusers, ot
    cpu = _cpuinfo()
    flags = cpu.get('flags', '').split()
    return dict(commit=_git('rev-parse', 'HEAD'), dirty=bool(_git('status', '--porcelain', '--', 'lct_nb', 'benchmarks')),
                hardware_class=hardware_class(), torch=torch.__version__, torch_git=torch.version.git_version,
                torch_capability=torch.backends.cpu.get_cpu_capability(), torch_config=torch.__config__.show(),
                aten_cpu_capability_env=os.environ.get('ATEN_CPU_CAPABILITY'),
                cpu=cpu.get('model name', ''), cpu_vendor=cpu.get('vendor_id', ''), cpu_family=cpu.get('cpu family', ''),
                cpu_model=cpu.get('model', ''), cpu_stepping=cpu.get('stepping', ''), microcode=cpu.get('microcode', ''),
                vector=sorted(f for f in flags if f in ('avx', 'avx2', 'fma') or f.startswith('avx512')),
                diffusers=diffusers.__version__, pot=ot.__version__, numpy=np.__version__, python=platform.python_version(),
                threads=torch.get_num_threads(), machine=platform.machine(), date=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))


# ---------------------------------------------------------------- one run (in a worker process)
def _snapshots(steps, at, run_dir):
    "A callback that writes the first EMA's weights to run_dir at the steps `at` (kept on disk, so a resumed run has them)."
    import torch
    from lct_nb.train import Callback

    class Snapshots(Callback):
        def after_step(self):
            tr = self.trainer
            if tr.step in at and tr.step != steps:
                path = run_dir/f'ema_{tr.step}.pt'; tmp = path.with_suffix('.tmp')
                torch.save(tr.emas[0].state_dict(), tmp); os.replace(tmp, path)
    return Snapshots()


def worker(arm, steps, seed, stage, args):
    "Train one run (resuming its checkpoint if one of this hardware class exists), score it, write its JSON atomically."
    import torch
    torch.set_num_threads(1)
    from lct_nb.train import TrainConfig, Trainer, MetricsLog, Checkpointer
    from lct_nb.evaluate import evaluate
    from lct_nb.metrics import digits_reference_stats, get_feature_extractor
    from lct_nb.images import decode_to_images
    if os.environ.get('ATEN_CPU_CAPABILITY'):
        sys.exit('confirm2: ATEN_CPU_CAPABILITY is set; it hides the CPU the kernels are picked for (see PLAN.md)')
    prov, name = provenance(), run_name(arm, steps, seed)
    run_dir = Path(args.work)/'runs'/name
    mark = run_dir/'hardware_class.txt'
    if run_dir.exists() and (not mark.exists() or mark.read_text() != prov['hardware_class']):
        shutil.rmtree(run_dir)            # a part-run of another class (or of unknown class) is never continued here
    run_dir.mkdir(parents=True, exist_ok=True); mark.write_text(prov['hardware_class'])
    snap_at = set(CHECK['snapshots']) if stage == 'check' else set()
    cfg = TrainConfig(total_steps=steps, seed=seed, run_dir=str(run_dir), log_every=40, ckpt_every=CKPT_EVERY,
                      sample_every=steps, keep_ckpts=1, export=False, resume=True, **{**BASE, **ARMS[arm]})
    t0 = time.time()
    tr = Trainer(cfg, [MetricsLog(), Checkpointer(), _snapshots(steps, snap_at, run_dir)]).fit()
    train_s = time.time() - t0
    ext = get_feature_extractor('digits'); ref = digits_reference_stats(extractor=ext)
    score = lambda: evaluate(tr.emas[0], ref, ext, lambda x: decode_to_images(x, tr.data), tr.data.shape, n=N_EVAL, seed=seed)
    t = time.time(); m = score(); eval_s = time.time() - t
    snaps = {}
    for k in sorted(snap_at - {steps}):
        tr.emas[0].load_state_dict(torch.load(run_dir/f'ema_{k}.pt')); snaps[str(k)] = score()['fid']
    res = dict(arm=arm, seed=seed, steps=steps, stage=stage, fid=m['fid'], precision=m['precision'], recall=m['recall'],
               fid_snapshots=snaps, train_s=round(train_s, 1), eval_s=round(eval_s, 1), config=asdict(cfg), provenance=prov,
               loss_curve=[json.loads(l) for l in (run_dir/'metrics.jsonl').read_text().splitlines()])
    res['wall_s'] = round(time.time() - t0, 1)
    if not all(math.isfinite(v) and v > 0 for v in (res['fid'], *snaps.values())):
        sys.exit(f'confirm2: {name}: a score is not a positive finite number ({res["fid"]}, {snaps}); nothing written')
    path = Path(args.out)/'runs'/stage/f'{name}.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp'); tmp.write_text(json.dumps(res, default=float)); os.replace(tmp, path)
    shutil.rmtree(run_dir, ignore_errors=True)


# ---------------------------------------------------------------- results
def load_runs(stage, out=OUT, steps=None):
    "The run JSONs of a stage, each checked: the name its content gives, finite positive scores; one per (arm, seed)."
    runs, seen = [], {}
    for p in sorted(Path(out, 'runs', stage).glob('*.json')):
        try: r = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as e: raise ValueError(f'{p}: not a readable run file ({e})') from None
        if p.name != f"{run_name(r['arm'], r['steps'], r['seed'])}.json":
            raise ValueError(f'{p}: its content names another run ({run_name(r["arm"], r["steps"], r["seed"])})')
        if steps is not None and r['steps'] != steps: continue
        if (r['arm'], r['seed']) in seen: raise ValueError(f'{p}: a second run of {r["arm"]} seed {r["seed"]} ({seen[r["arm"], r["seed"]]})')
        seen[r['arm'], r['seed']] = p.name
        runs.append(r)
    return runs


def seed_classes(runs):
    "{seed: hardware class} for the seeds whose runs all share one class; a seed whose runs span classes is left out."
    by = {}
    for r in runs: by.setdefault(r['seed'], set()).add(r['provenance']['hardware_class'])
    return {s: next(iter(c)) for s, c in by.items() if len(c) == 1}


def _by(runs, key='fid'):
    "{(arm, seed): ln score} of the runs, `key` 'fid' or a snapshot step."
    return {(r['arm'], r['seed']): math.log(r['fid'] if key == 'fid' else r['fid_snapshots'][str(key)]) for r in runs}


def claim_logs(by, a, b, seeds=None):
    "Per-seed ln-ratio of a claim over the seeds (of `seeds`, if given) that every arm it needs has: (seeds, logs)."
    arms = _arms_of(a, b)
    f = ((lambda s: (by[a[0], s] - by[a[1], s]) - (by[b[0], s] - by[b[1], s])) if isinstance(a, tuple)
         else (lambda s: by[a, s] - by[b, s]))
    have = sorted(s for (x, s) in by if x == arms[0] and all((y, s) in by for y in arms) and (seeds is None or s in seeds))
    return have, [f(s) for s in have]


# ---------------------------------------------------------------- the budget rule (applied once to the complete check)
def budget(check_runs, used_hours=None):
    """PLAN.md's budget rule: the main budget is 2 880 steps if, for every primary claim, the mean ln-ratio over the
    check's seeds has the same sign at the 1 920-step snapshot as at the end (2 880); otherwise `LONGER`. The last
    look is LOOKS[-1] seeds, or the most whole seeds the budget left affords at the check's cost (at least LOOKS[-2])."""
    from lct_nb.paired import power, pooled_sd
    signs = {}
    for cid, claim, fam, a, b, _ in CLAIMS:
        if fam != 'primary': continue
        s = [np.sign(np.mean(claim_logs(_by(check_runs, k), a, b)[1])) for k in (1920, 'fid')]
        signs[cid] = dict(at_1920=float(s[0]), at_2880=float(s[1]))
    steps = 2880 if all(v['at_1920'] == v['at_2880'] for v in signs.values()) else LONGER
    rate = float(np.median([r['train_s'] / r['steps'] for r in check_runs]))              # seconds per step, pooled
    run_hours = (steps * rate + float(np.median([r['eval_s'] for r in check_runs]))) / 3600
    used = used_hours if used_hours is not None else sum(r['wall_s'] for r in check_runs) / 3600
    afford = int((CPU_HOURS - used) // (len(MAIN_ARMS) * run_hours))
    last = max(LOOKS[-2], min(LOOKS[-1], afford))
    sd_check = pooled_sd([claim_logs(_by(check_runs), a, b)[1] for _, _, f, a, b, _ in CLAIMS if f != 'faithful' and not isinstance(a, tuple)])
    return dict(steps=steps, signs=signs, sec_per_step=rate, run_hours=run_hours, check_hours=used, hours_left=CPU_HOURS - used,
                affordable_seeds=afford, looks=[n for n in LOOKS if n < last] + [last],
                power_at_last=dict(P1=power(last, SD, EFFECT, LOOK_ALPHA[-1], 3), P2=power(last, SD * math.sqrt(2), EFFECT, LOOK_ALPHA[-1], 3),
                                   P3=power(last, SD, EFFECT, LOOK_ALPHA[-1], 3)),
                check_sd=sd_check[0], check_dof=sd_check[1])


# ---------------------------------------------------------------- the analysis: group-sequential Holm
def _row(by, cid, claim, fam, a, b, paper, seeds, level):
    from lct_nb.paired import paired_t
    have, logs = claim_logs(by, a, b, seeds)
    n, m, lo, hi, p = paired_t(logs, level)
    return dict(id=cid, claim=claim, family=fam, a=a if isinstance(a, str) else '/'.join(a),
                b=b if isinstance(b, str) else '/'.join(b), seeds=' '.join(map(str, have)), n=n, ratio=math.exp(m), p=p,
                paper=paper, logs=logs)


def analyse(runs, looks, alpha_looks=LOOK_ALPHA, first_seed=FIRST_SEED):
    """The plan's analysis. Primaries: at look l (the first looks[l] seeds that are complete for every main arm, one
    hardware class each), Holm's step-down at family-wise level alpha_looks[l] over the primaries still open; a claim
    whose adjusted interval excludes 1 is decided there and closes; at the last look every open claim gets its verdict.
    The secondary and faithful claims are tested once, when the primaries are all decided (PLAN.md, amendment 2): the
    secondary on the seeds of the look that ended the main stage, the faithful pair on its own seeds, each at α = 0.05
    alone. Before that they have no row."""
    import pandas as pd
    from lct_nb.paired import paired_t, holm, verdict
    by, cls = _by(runs), seed_classes(runs)
    complete = sorted(s for s in cls if all((a, s) in by for a in MAIN_ARMS))
    complete = [s for i, s in enumerate(complete) if s == first_seed + i]           # consecutive from the first seed
    rows, open_, seeds = {}, [c for c in CLAIMS if c[2] == 'primary'], None
    alphas = list(alpha_looks[:len(looks) - 1]) + [ALPHA - sum(alpha_looks[:len(looks) - 1])]
    for li, (n_look, a_look) in enumerate(zip(looks, alphas)):
        if len(complete) < n_look or not open_: break
        seeds = set(complete[:n_look]); last = li == len(looks) - 1
        cand = [_row(by, *c, seeds, 0.95) for c in open_]
        adj, levels = holm([r['p'] for r in cand], a_look)
        for r, pa, lev in zip(cand, adj, levels):
            _, _, lo, hi, _ = paired_t(r.pop('logs'), lev)
            r.update(look=li + 1, look_alpha=a_look, p_holm=pa, adj_level=lev, adj_low=math.exp(lo), adj_high=math.exp(hi))
            r['verdict'] = verdict(r['adj_low'], r['adj_high'])
            if r['verdict'] != 'unresolved' or last: rows[r['id']] = r
        open_ = [c for c in open_ if c[0] not in rows]
    for c in CLAIMS:
        if c[2] == 'primary' or open_: continue       # tested once, after the main stage's last look
        r = _row(by, *c, seeds if c[2] == 'secondary' else None, 0.95)
        if r['n'] < 2: continue
        _, _, lo, hi, p = paired_t(r.pop('logs'), 1 - ALPHA)
        rows[c[0]] = dict(r, look=None, look_alpha=ALPHA, p_holm=p, adj_level=1 - ALPHA, adj_low=math.exp(lo), adj_high=math.exp(hi),
                          verdict=verdict(math.exp(lo), math.exp(hi)))
    for r in rows.values(): r.pop('logs', None)
    cols = ['id', 'claim', 'family', 'a', 'b', 'seeds', 'n', 'look', 'look_alpha', 'ratio', 'p', 'p_holm', 'adj_level',
            'adj_low', 'adj_high', 'verdict', 'paper']
    return pd.DataFrame([rows[c[0]] for c in CLAIMS if c[0] in rows], columns=cols), complete


# ---------------------------------------------------------------- launcher
def _budget_json(out):
    p = Path(out, 'budget.json')
    if not p.exists(): return None
    try: return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e: raise ValueError(f'{p}: not readable ({e})') from None


def plan_runs(stage, out=OUT):
    "The runs of a stage, seed-major: (arm, steps, seed). The main stage runs up to the next look not yet decided."
    if stage == 'check': return [(a, CHECK['steps'], s) for s in CHECK['seeds'] for a in MAIN_ARMS]
    b = _budget_json(out)
    if b is None: return []
    if stage == 'main':
        runs = load_runs('main', out, b['steps'])
        claims, complete = analyse(runs, b['looks'])
        decided = set(claims.id[claims.family == 'primary']) if len(claims) else set()
        need = {a for c in CLAIMS if c[2] == 'primary' and c[0] not in decided for a in _arms_of(c[3], c[4])}
        need |= set(MAIN_ARMS) if need else set()      # secondary S1's arms are P2's; every main arm runs to each look
        nxt = next((n for n in b['looks'] if n > len(complete)), None) if need else None
        if nxt is None: return []
        return [(a, b['steps'], s) for s in range(FIRST_SEED, FIRST_SEED + nxt) for a in MAIN_ARMS]
    if stage == 'faithful':
        done = plan_runs('main', out) == [] and len(load_runs('main', out, b['steps'])) > 0
        if not done: return []
        seeds = sorted({r['seed'] for r in load_runs('main', out, b['steps'])})
        return [(a, b['steps'], s) for s in seeds for a in FAITHFUL_ARMS]
    raise ValueError(stage)


def runs_to_do(stage, out=OUT):
    return [r for r in plan_runs(stage, out) if not (Path(out)/'runs'/stage/f'{run_name(*r)}.json').exists()]


def set_aside_split_seeds(stage, out, here):
    """A seed whose finished runs are of another hardware class than this machine's is set aside whole (moved to
    runs/set_aside/), so that all its arms run again on one class; the plan's rule, applied without choice."""
    runs = load_runs(stage, out)
    for s in sorted({r['seed'] for r in runs}):
        mine = [r for r in runs if r['seed'] == s]
        planned = {x for x in plan_runs(stage, out) if x[2] == s}
        missing = [x for x in planned if not (Path(out)/'runs'/stage/f'{run_name(*x)}.json').exists()]
        if missing and any(r['provenance']['hardware_class'] != here for r in mine):
            dest = Path(out)/'runs'/'set_aside'/stage; dest.mkdir(parents=True, exist_ok=True)
            for r in mine:
                n = f"{run_name(r['arm'], r['steps'], r['seed'])}.json"; os.replace(Path(out)/'runs'/stage/n, dest/n)
            print(f'confirm2: seed {s} set aside: its runs are of another hardware class than this machine', flush=True)


def _launch(todo, stage, args):
    logs = Path(args.work)/'logs'; logs.mkdir(parents=True, exist_ok=True)
    def go(run):
        arm, steps, seed = run
        cmd = [sys.executable, __file__, '--worker', f'{arm}:{steps}:{seed}:{stage}', '--out', args.out, '--work', args.work]
        t = time.time()
        with open(logs/f'{run_name(arm, steps, seed)}.log', 'a') as f:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1'))
        print(f'  {stage} {run_name(arm, steps, seed)}: rc={rc} {time.time() - t:.0f}s', flush=True)
    with ThreadPoolExecutor(args.jobs) as ex: list(ex.map(go, todo))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--stage', choices=('check', 'budget', 'main', 'faithful'), default='', help='which part of the plan to run')
    p.add_argument('--table', action='store_true', help='print and write the claims decided so far (claims.csv)')
    p.add_argument('--out', default=str(OUT), help='results folder (runs/<stage>/*.json, budget.json, claims.csv)')
    p.add_argument('--work', default='/work/lct_confirm2', help='run folders (checkpoints) and logs, not results')
    p.add_argument('--jobs', type=int, default=2, help='runs in parallel (one thread each)')
    p.add_argument('--dry_run', action='store_true', help='print the runs still to do and exit')
    p.add_argument('--worker', default='', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        arm, steps, seed, stage = args.worker.split(':'); return worker(arm, int(steps), int(seed), stage, args)
    out = Path(args.out)
    try:
        if args.stage in ('check', 'main', 'faithful'):
            if args.stage != 'check' and _budget_json(out) is None: p.exit(2, 'confirm2: error: --stage %s: no budget.json; run --stage budget\n' % args.stage)
            while True:   # the main stage goes look by look: after each look, the claims decided there close
                if not args.dry_run: set_aside_split_seeds(args.stage, out, hardware_class())
                todo = runs_to_do(args.stage, out)
                print(f'confirm2: {len(todo)} {args.stage} runs to do, {args.jobs} at a time', flush=True)
                if args.dry_run: print(' '.join(run_name(*r) for r in todo)); return
                if not todo: break
                _launch(todo, args.stage, args)
                if runs_to_do(args.stage, out) == todo: break   # nothing finished: do not loop on a failing run
        if args.stage == 'budget':
            missing = runs_to_do('check', out)
            if missing: p.exit(2, f'confirm2: error: --stage budget reads the complete check: {len(missing)} of its runs are missing\n')
            if (out/'budget.json').exists(): p.exit(2, f'confirm2: error: --stage budget: {out/"budget.json"} exists; the rule is applied once\n')
            b = budget(load_runs('check', out))
            print(json.dumps(b, indent=1)); (out/'budget.json').write_text(json.dumps(b, indent=1, default=float))
        if args.table:
            b = _budget_json(out)
            if b is None: p.exit(2, f'confirm2: error: --table: {out}/budget.json is missing; run --stage budget\n')
            c, complete = analyse(load_runs('main', out, b['steps']) + load_runs('faithful', out, b['steps']), b['looks'])
            c.to_csv(out/'claims.csv', index=False)
            print(f'confirm2: {len(complete)} complete seeds; looks at {b["looks"]}')
            import pandas as pd
            with pd.option_context('display.width', 250, 'display.max_columns', None):
                print(c[['id', 'family', 'n', 'look', 'ratio', 'p', 'p_holm', 'adj_low', 'adj_high', 'verdict']].round(4))
    except ValueError as e:
        p.exit(2, f'confirm2: error: {e}\n')


if __name__ == '__main__': main()
