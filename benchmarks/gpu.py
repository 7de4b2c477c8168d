"""Speed, memory, FLOP/s and host syncs of the paper's training step on one GPU (synthetic 4×32×32 latents, batch 128).

    python benchmarks/gpu.py                                  # bf16 eager and compiled, then tf32 and fp32 as time allows
    python benchmarks/gpu.py --modes bf16 --compile compiled --profile --channels_last
    python benchmarks/gpu.py --tiny --out /tmp/gpu/gpu.json   # CPU smoke test: tiny net, 8×8 latents, fp32 eager

Each mode (precision × eager/compiled) builds a fresh `lct_nb.train.Trainer` (net 'paper', preset 'full': OT, Cauchy,
diffusion loss, NsLN) on a synthetic cache of N(0, 1) latents, at the middle of the curriculum of the paper's
CelebA-HQ run, with the trainer's own settings (cuDNN benchmark mode on a GPU, TF32 as the mode says, `--channels_last`
as the trainer's flag of that name), and times one step as `fit` runs it (forward_backward, the next host batch
prepared meanwhile, update): the median over `--steps` steps after `--warmup` (the first warm-up step, compilation
included, is reported apart). It also times the step's three phases apart (prepare on the host; forward and backward;
the update), the ratio of the step to the bare network work it contains (student forward+backward and target forward
on device tensors), peak CUDA memory, FLOP/s, and the model-FLOP utilisation: FLOPs of one full step (counted once in
eager fp32 with `FlopCounterMode`) per second against the card's dense **bf16** peak in every mode, so modes compare.
Eager modes also time 1- and 2-step sampling of the EMA model. Precision: fp32 = TF32 off, tf32 = TF32 on,
bf16 = autocast (TF32 on). Host syncs (`--sync`): 'audit' runs one extra step under
`torch.cuda.set_sync_debug_mode('warn')` and lists every call that synced, then times under 'error' if there were
none; 'error' times under 'error' straight away and records the first sync. `--profile` writes a profiler table and a
gzipped Chrome trace of one step of each mode beside `--out`. The JSON (written after every mode) carries the
provenance: commit and dirty flag, Python/torch/CUDA/cuDNN/driver and diffusers/POT/fastcore versions, the GPU and
its clocks, the flags in effect, the compile mode and dynamo's graph breaks.
"""
import argparse, datetime, gc, gzip, importlib.metadata, itertools, json, os, platform, shutil, statistics, subprocess, sys
import tempfile, time, traceback, warnings
from pathlib import Path
import numpy as np, torch
from torch.utils.flop_counter import FlopCounterMode
from dataclasses import replace
from lct_nb.train import CONFIGS, Trainer
from lct_nb.sampling import sample, prior, two_step_sigmas
from lct_nb.cache import write_latent_cache

ROOT = Path(__file__).resolve().parent.parent
PAPER_STEPS = CONFIGS['celebahq256'].total_steps  # the paper's CelebA-HQ 256 run: 295,400 steps
PEAKS = (  # dense FLOP/s per precision; the first key the device's name contains wins (NVL and PCIe before SXM)
    ('H200 NVL', dict(fp32=60e12, tf32=418e12, bf16=835e12)), ('H200', dict(fp32=67e12, tf32=494e12, bf16=989e12)),
    ('H100 NVL', dict(fp32=60e12, tf32=418e12, bf16=835e12)), ('H100 PCIe', dict(fp32=51e12, tf32=378e12, bf16=756e12)),
    ('H100', dict(fp32=67e12, tf32=494e12, bf16=989e12)), ('A100', dict(fp32=19.5e12, tf32=156e12, bf16=312e12)))
SMI_FIELDS = ('name', 'driver_version', 'clocks.sm', 'clocks.max.sm', 'clocks.mem', 'clocks.max.mem', 'power.draw',
              'power.limit', 'temperature.gpu')


def peak_flops(name):
    "Dense peak FLOP/s per precision of a device by name (SXM figures for a plain 'H100' or 'H200'), or None."
    return next((p for key, p in PEAKS if key in name), None)


def _cmd(*args):
    "The stripped stdout of a command, or None if it is missing or fails."
    try: return subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=ROOT, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError): return None


def smi():
    "The GPU's name, driver, clocks (MHz), power (W) and temperature from nvidia-smi, or {} without one."
    out = _cmd('nvidia-smi', '--query-gpu=' + ','.join(SMI_FIELDS), '--format=csv,noheader,nounits')
    return dict(zip(SMI_FIELDS, (v.strip() for v in out.splitlines()[0].split(',')))) if out else {}


def _version(pkg):
    try: return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError: return None


def provenance(name):
    "Where the numbers come from: the code (git, or LCT_NB_COMMIT / LCT_NB_DIRTY where the tree has no .git), libraries, GPU."
    commit = _cmd('git', 'rev-parse', 'HEAD')
    status = _cmd('git', 'status', '--porcelain', '--untracked-files=no') if commit else None
    cuda = torch.cuda.is_available()
    return dict(commit=commit or os.environ.get('LCT_NB_COMMIT', 'unknown'),
                dirty=bool(status) if commit else os.environ.get('LCT_NB_DIRTY', 'unknown'),
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'), host=platform.node(),
                python=platform.python_version(), torch=torch.__version__, cuda=torch.version.cuda,
                cudnn=torch.backends.cudnn.version() if cuda else None, device=name, smi=smi(),
                packages={p: _version(p) for p in ('diffusers', 'POT', 'fastcore', 'numpy', 'huggingface_hub', 'safetensors')})


def flags(tr, a, compiled):
    "The settings in effect for a mode's step."
    b = torch.backends
    return dict(cudnn_benchmark=b.cudnn.benchmark, cudnn_allow_tf32=b.cudnn.allow_tf32, matmul_allow_tf32=b.cuda.matmul.allow_tf32,
                float32_matmul_precision=torch.get_float32_matmul_precision(), bf16=tr.cfg.bf16, channels_last=tr.cfg.channels_last,
                compile=compiled, compile_mode=a.compile_mode if compiled else None, overlap=tr.overlap,
                guard='device' if tr.on_device else 'host', optimizer=type(tr.opt).__name__, threads=torch.get_num_threads())


def where(frames):
    "'file:line in fn' of the innermost lct_nb frame, and of the innermost frame when that lies elsewhere."
    fr = [f for f in frames if f.filename != __file__ and not f.filename.endswith('warnings.py')] or list(frames)
    own = [f for f in fr if '/lct_nb/' in f.filename.replace('\\', '/')]
    fmt = lambda f: f"{'/'.join(Path(f.filename).parts[-2:])}:{f.lineno} in {f.name}: {(f.line or '').strip()[:80]}"
    s = fmt(own[-1]) if own else fmt(fr[-1])
    return s if not own or own[-1] is fr[-1] else f'{s}  (-> {fmt(fr[-1])})'


def audit_syncs(step):
    "Run `step()` under sync debug mode 'warn'; {site: count} of every call that synchronised with the host."
    sites = {}
    def hook(message, *a, **k):
        if 'synchroniz' in str(message):
            s = where(traceback.extract_stack()[:-1])
            sites[s] = sites.get(s, 0) + 1
    with warnings.catch_warnings():
        warnings.simplefilter('always')
        warnings.showwarning = hook
        torch.cuda.set_sync_debug_mode('warn')
        try: step()
        finally: torch.cuda.set_sync_debug_mode(0)
    return sites


def run_sample(model, shape, sigmas, generator):
    "Latents of `shape` sampled at the levels `sigmas` from noise drawn by `generator`."
    return sample(model, prior(shape, sigmas[0], generator, generator.device), sigmas, generator)


def make_trainer(a, cache, run_dir, mode, compiled):
    "A fresh Trainer for one mode, set up as `python -m lct_nb.train` would set it up, mid-curriculum."
    cfg = replace(CONFIGS['celebahq256'], data=str(cache), net=a.net, preset=a.preset, ot=a.ot, batch_size=a.batch,
                  bf16=mode == 'bf16', run_dir=str(run_dir), compile=compiled, tf32=mode != 'fp32', channels_last=a.channels_last,
                  guard=a.guard, compile_mode='' if a.compile_mode == 'default' else a.compile_mode)
    if compiled:  # a fresh start per mode: no stale guards, no cache-size limit across modes, graph breaks counted anew
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
    tr = Trainer(cfg, cbs=[])
    if a.no_cudnn_benchmark: torch.backends.cudnn.benchmark = False
    tr.step = cfg.total_steps // 2       # mid-curriculum grid; the steps here leave tr.step alone, so N stays put
    return tr


def stepper(tr, xs):
    "One training step as `fit` runs it: queue forward and backward, draw the next batch on the host meanwhile, update."
    it = itertools.cycle(xs)
    nxt = [tr.prepare(next(it))]
    def step():
        nxt[0] = tr.forward_backward(nxt[0], side=lambda: tr.prepare(next(it)))
        return tr.update()
    return step


def bare_step(tr, mode):
    "The network work one step contains, alone: student forward and backward plus target forward, on device tensors."
    x = torch.randn(tr.cfg.batch_size, *tr.data.shape, device=tr.device)
    t = torch.full((len(x),), 1.0, device=tr.device)
    def bare():
        with torch.autocast(tr.device.type, torch.bfloat16, enabled=mode == 'bf16'):
            out = tr.model(x, t)
            with torch.no_grad(): tr.model(x, t)
        out.float().pow(2).mean().backward()
    return bare


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)


def time_it(fn, n, dev):
    "Seconds of each of `n` calls of `fn`, the device drained before and after each."
    ts = []
    for _ in range(n):
        sync(dev)
        t0 = time.perf_counter()
        fn()
        sync(dev)
        ts.append(time.perf_counter() - t0)
    return ts


def phases(tr, xs, n, dev):
    "Median seconds of a step's three phases, each timed on its own: prepare (host), forward_backward, update."
    parts, it = {k: [] for k in ('prepare', 'forward_backward', 'update')}, itertools.cycle(xs)
    for _ in range(n):
        sync(dev)
        t = [time.perf_counter()]
        b = tr.prepare(next(it))
        t.append(time.perf_counter())
        tr.forward_backward(b)
        sync(dev)
        t.append(time.perf_counter())
        tr.update()
        sync(dev)
        t.append(time.perf_counter())
        for k, t0, t1 in zip(parts, t, t[1:]): parts[k].append(t1 - t0)
    return {k: statistics.median(v) for k, v in parts.items()}


def profile_step(step, dev, folder, label, rows=25):
    "Profile one step (torch.profiler): a table of the top ops to profile_<label>.txt and a gzipped Chrome trace beside it."
    from torch.profiler import profile, ProfilerActivity
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == 'cuda' else [])
    with profile(activities=acts, record_shapes=False) as prof:
        step()
        sync(dev)
    key = 'self_cuda_time_total' if dev.type == 'cuda' else 'self_cpu_time_total'
    table = prof.key_averages().table(sort_by=key, row_limit=rows, max_name_column_width=70)
    (folder/f'profile_{label}.txt').write_text(table + '\n')
    with tempfile.TemporaryDirectory() as d:
        prof.export_chrome_trace(f'{d}/trace.json')
        with open(f'{d}/trace.json', 'rb') as src, gzip.open(folder/f'trace_{label}.json.gz', 'wb') as dst: shutil.copyfileobj(src, dst)
    return [f'profile_{label}.txt', f'trace_{label}.json.gz']


def graph_breaks():
    "Dynamo's graph breaks since the mode began ({reason: count}) and the number of graphs it compiled."
    c = torch._dynamo.utils.counters
    return dict(graph_breaks={str(k)[:300]: v for k, v in c['graph_break'].items()}, unique_graphs=c['stats']['unique_graphs'])


def timed_steps(a, rec, step, dev, label):
    "Time `a.steps` steps, under sync debug mode 'error' where the audit found none; None if a sync stopped it."
    guard = dev.type == 'cuda' and a.sync in ('audit', 'error')
    if dev.type == 'cuda' and a.sync == 'audit':
        rec['sync_sites'] = sites = audit_syncs(step)
        sync(dev)
        guard = not sites
        if sites: print(f'  {label}: {sum(sites.values())} host syncs in one step:\n    ' + '\n    '.join(f'{n}x {s}' for s, n in sites.items()))
    def guarded():
        if guard: torch.cuda.set_sync_debug_mode('error')
        try: step()
        finally:
            if guard: torch.cuda.set_sync_debug_mode(0)
    try: return time_it(guarded, a.steps, dev)
    except RuntimeError as e:
        if 'synchroniz' not in str(e): raise
        tb = traceback.extract_tb(e.__traceback__)
        rec['sync'] = where(tb)
        print(f'  sync inside the step ({label}):\n' + ''.join(traceback.format_list(tb[-4:])) + f'  {e}')
        return None if a.sync == 'error' else time_it(step, a.steps, dev)   # the audit missed it: time the step anyway


def sampling(a, tr, mode, dev):
    "1- and 2-step sampling throughput (latents/s) of the first EMA at the mode's precision."
    ema, g, rec = tr.emas[0].eval(), torch.Generator(dev), {}
    for name, sig in (('sample1', (80.,)), ('sample2', two_step_sigmas())):
        def go():
            with torch.autocast(dev.type, torch.bfloat16, enabled=mode == 'bf16'):
                assert torch.isfinite(run_sample(ema, (a.sample_batch, *tr.data.shape), sig, g.manual_seed(0))).all()
        go()
        rec[f'{name}_per_s'] = a.sample_batch / statistics.median(time_it(go, 3, dev))
    return rec


def run_mode(a, cache, mode, compiled, res):
    "Time one mode; returns its record (also on failure: 'error' or 'sync' says what happened)."
    label = f"{mode}_{'compiled' if compiled else 'eager'}"
    rec = dict(mode=mode, compiled=compiled)
    with tempfile.TemporaryDirectory() as rd:
        tr = make_trainer(a, cache, rd, mode, compiled)
        dev = tr.device
        rec['flags'] = flags(tr, a, compiled)
        if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats(dev)
        data = tr.batches()
        xs = [next(data) for _ in range(min(4, a.steps + a.warmup))]
        outs, step = [], stepper(tr, xs)
        rec['first_step_s'] = time_it(lambda: outs.append(step()), 1, dev)[0]
        if compiled: rec.update(graph_breaks())
        for _ in range(1, a.warmup): outs.append(step())
        times = timed_steps(a, rec, lambda: outs.append(step()), dev, label)
        if times is None: return rec
        check_losses(outs)
        st, bare = statistics.median(times), bare_step(tr, mode)
        bare()
        rec.update(step_s=st, bare_s=statistics.median(time_it(bare, a.steps, dev)), phases_s=phases(tr, xs, a.steps, dev),
                   smi_after=smi())
        rec.update(ratio=st / rec['bare_s'], **rates(a, st, res, outs, dev))
        if a.profile: rec['profile_files'] = profile_step(step, dev, Path(a.out).parent, label)
        if not compiled: rec.update(sampling(a, tr, mode, dev))
    return rec


def check_losses(outs):
    "Every timed step applied its update and had a finite loss."
    assert all(o is not None for o in outs), f'{sum(o is None for o in outs)} of {len(outs)} steps had a non-finite loss (skipped)'
    losses = torch.stack([o['loss'].float() for o in outs]).cpu()
    assert torch.isfinite(losses).all(), f'non-finite loss: {losses.tolist()}'


def rates(a, st, res, outs, dev):
    "Samples/s, memory, FLOP/s, MFU against the bf16 dense peak, and the paper run's hours, of a step of `st` seconds."
    fl, peak = res.get('flops_per_step'), (res.get('peak') or {}).get('bf16')
    return dict(samples_per_s=a.batch / st, N=outs[-1]['N'], loss=float(outs[-1]['loss']),
                peak_mem_gib=torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == 'cuda' else None,
                flops_per_s=fl / st if fl else None, mfu=fl / st / peak if fl and peak else None,
                paper_run_h=PAPER_STEPS * st / 3600)


def count_flops(a, cache):
    "FLOPs of one full train step (student fwd+bwd, target fwd, OT cost matrix), counted once in eager fp32."
    with tempfile.TemporaryDirectory() as rd:
        tr = make_trainer(a, cache, rd, 'fp32', False)
        step = stepper(tr, [next(tr.batches())])
        with FlopCounterMode(display=False) as fc: step()
        return fc.get_total_flops(), sum(p.numel() for p in tr.params)


def fmt(v, spec, none='-'): return none if v is None else format(v, spec)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--modes', default='bf16,tf32,fp32', help='comma-separated precisions, in the order to run: fp32, tf32, bf16')
    p.add_argument('--compile', default='both', choices=('both', 'eager', 'compiled'))
    p.add_argument('--compile_mode', default='default', choices=('default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs'),
                   help="torch.compile's mode for the compiled steps")
    p.add_argument('--steps', type=int, default=10, help='timed steps per mode')
    p.add_argument('--warmup', type=int, default=3, help='untimed steps per mode (the first includes compilation)')
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--sample_batch', type=int, default=256)
    p.add_argument('--net', default='paper')
    p.add_argument('--preset', default='full')
    p.add_argument('--ot', default='', help="override the preset's OT pairing: none | local | global")
    p.add_argument('--size', type=int, default=32, help='latent height = width')
    p.add_argument('--sync', default='audit', choices=('audit', 'error', 'off'), help='host-sync check (CUDA only)')
    p.add_argument('--no_cudnn_benchmark', action='store_true', help="turn off cuDNN's benchmark mode (the trainer turns it on)")
    p.add_argument('--channels_last', action='store_true', help="the trainer's --channels_last: NHWC conv weights in the flat buffer")
    p.add_argument('--guard', default='auto', choices=('auto', 'device', 'host'),
                   help="the trainer's --guard: the non-finite flag gates a fused RAdam on the device, or is read every step")
    p.add_argument('--profile', action='store_true', help='write a profiler table and trace of one step of each mode beside --out')
    p.add_argument('--tiny', action='store_true', help='CPU smoke test: net tiny, size 8, batch 8, 2 steps, fp32 eager')
    p.add_argument('--out', default='results/gpu/gpu.json')
    p.add_argument('--budget_s', type=float, default=420, help='start no mode that would end after this many seconds')
    a = p.parse_args(argv)
    if a.tiny: a.net, a.size, a.batch, a.sample_batch, a.steps, a.warmup, a.compile, a.modes = 'tiny', 8, 8, 16, 2, 1, 'eager', 'fp32'
    return a


def plan(a):
    "(mode, compiled) in order: the first precision eager then compiled, then the others eager, then the others compiled."
    modes, comp = [m for m in a.modes.split(',') if m], {'both': (False, True), 'eager': (False,), 'compiled': (True,)}[a.compile]
    first = [(modes[0], c) for c in comp]
    return first + [(m, c) for c in comp for m in modes[1:]]


def run_plan(a, cache, res, t_start, out):
    "Run every mode of the plan that fits the budget, writing the JSON after each."
    took, cuda = {}, torch.cuda.is_available()
    for mode, compiled in plan(a):
        est = took.get(compiled) or ((max(180, 3 * took.get(False, 0)) if compiled else 60) if cuda else 0)
        if time.perf_counter() - t_start + est > a.budget_s:
            print(f'skip {mode} compiled={compiled}: budget')
            res['modes'].append(dict(mode=mode, compiled=compiled, skipped='budget'))
            continue
        t0 = time.perf_counter()
        try: rec = run_mode(a, cache, mode, compiled, res)
        except Exception as e:
            traceback.print_exc(limit=-4)
            rec = dict(mode=mode, compiled=compiled, error=f'{type(e).__name__}: {e}'[:500])
        took[compiled] = rec['mode_s'] = time.perf_counter() - t0
        res['modes'].append(rec)
        out.write_text(json.dumps(res, indent=1, default=str))
        print(f"done {mode} compiled={compiled} in {rec['mode_s']:.0f} s: " + (f"{rec['step_s']*1e3:.1f} ms/step" if 'step_s' in rec else rec.get('sync') or rec.get('error', '')))
        gc.collect()
        if cuda: torch.cuda.empty_cache()


def report(res, cuda, sync_mode):
    "Print the table of modes, the phases, the host syncs and the best mode."
    print(f"\n{'mode':14} {'ms/step':>8} {'first s':>7} {'samp/s':>7} {'GiB':>6} {'TFLOP/s':>8} {'MFU':>6} {'1-step/s':>8} {'2-step/s':>8} {'paper h':>7} {'ratio':>6}  sync")
    for r in res['modes']:
        label = r['mode'] + (' compiled' if r['compiled'] else ' eager')
        if 'step_s' not in r:
            print(f"{label:14} {r.get('skipped') or r.get('sync') and 'sync: ' + r['sync'] or r.get('error')}")
            continue
        mfu = 'n/a' if r['mfu'] is None else f"{100*r['mfu']:.1f}%"
        ss = r.get('sync_sites')
        syncs = f"{sum(ss.values())} syncs" if ss else 'sync: ' + r['sync'] if r.get('sync') else 'none' if cuda and sync_mode != 'off' else 'n/a'
        print(f"{label:14} {r['step_s']*1e3:8.1f} {r['first_step_s']:7.1f} {r['samples_per_s']:7.0f} {fmt(r['peak_mem_gib'], '.2f'):>6} "
              f"{fmt(r['flops_per_s'] and r['flops_per_s'] / 1e12, '.2f'):>8} {mfu:>6} {fmt(r.get('sample1_per_s'), '.0f'):>8} "
              f"{fmt(r.get('sample2_per_s'), '.0f'):>8} {r['paper_run_h']:7.1f} {r['ratio']:6.3f}  {syncs}")
        print(f"{'':14} phases: " + ', '.join(f'{k} {v*1e3:.1f} ms' for k, v in r['phases_s'].items())
              + (f"; {sum(r['graph_breaks'].values())} graph breaks, {r['unique_graphs']} graphs" if r['compiled'] else ''))
    sites = sorted({s for r in res['modes'] for s in r.get('sync_sites') or {}})
    if sites: print('host syncs inside the step (sync debug mode), per step:\n  ' + '\n  '.join(sites))


def main(argv=None):
    a = parse(argv)
    t_start, out = time.perf_counter(), Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name() if cuda else 'cpu'
    res = dict(device=name, provenance=provenance(name), args=vars(a), peak=peak_flops(name), mfu_against='bf16 dense peak', modes=[])
    print(f'device {name}, torch {torch.__version__}, commit {res["provenance"]["commit"][:12]}, net {a.net}, batch {a.batch}, latents 4x{a.size}x{a.size}')
    with tempfile.TemporaryDirectory() as d:
        x = np.random.default_rng(0).standard_normal((max(2048, 4 * a.batch), 4, a.size, a.size), dtype=np.float32)
        cache = write_latent_cache(Path(d)/'cache', x, dict(source='synthetic', vae='none:synthetic'))
        try:
            res['flops_per_step'], res['params'] = count_flops(a, cache)
            print(f"{res['params']/1e6:.1f} M params, {res['flops_per_step']/1e12:.3f} TFLOP per step (FlopCounterMode, eager)")
        except Exception:
            traceback.print_exc(limit=-4)
            print('FLOP count failed: FLOP/s and MFU n/a')
        run_plan(a, cache, res, t_start, out)
    report(res, cuda, a.sync)
    if not res['peak']: print(f'unknown peak for {name!r}: MFU n/a')
    ok = [r for r in res['modes'] if 'step_s' in r]
    if ok:
        b = min(ok, key=lambda r: r['step_s'])
        res['best'] = dict(mode=b['mode'], compiled=b['compiled'], step_s=b['step_s'], mfu=b['mfu'], paper_run_h=b['paper_run_h'])
        print(f"best: {b['mode']}{' compiled' if b['compiled'] else ''}: {b['step_s']*1e3:.1f} ms/step -> "
              f"{b['paper_run_h']:.1f} h for the paper's {PAPER_STEPS:,} steps on one {name}")
    res['total_s'] = time.perf_counter() - t_start
    out.write_text(json.dumps(res, indent=1, default=str))
    print(f'wrote {out} ({res["total_s"]:.0f} s)')
    return 0 if ok else 1


if __name__ == '__main__': sys.exit(main())
