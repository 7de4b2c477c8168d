"""How long the README's test command takes here: wall and CPU seconds (user + sys, of every process a phase waited
for) of each of its pieces, with the load, the CPU model and the number of cores they ran on.

    python benchmarks/test_time.py                       # the README's test command, piece by piece
    python benchmarks/test_time.py 'pytest -q tests -n 2' # any commands, each a phase (run from the root)
    python benchmarks/test_time.py --json t.json ...      # also write the numbers

On a shared machine the wall time grows with the other work (printed before and after each phase: the load, and the
seconds a virtual machine's vCPUs were given to other guests, its steal); the CPU time much less: compare CPU seconds
between machines, wall seconds only on a quiet one. The command stops at the first phase that fails, as `&&` would.
"""
import argparse, json, os, platform, resource, shlex, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the README's test command (nbs/index.ipynb), one phase per piece of its `&&`
README = ['pytest -q -n 2 --dist worksteal tests']


def cpu_model() -> str:
    "The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."
    try: lines = Path('/proc/cpuinfo').read_text().splitlines()
    except OSError: lines = []
    names = [l.split(':', 1)[1].strip() for l in lines if l.startswith('model name')]
    return names[0] if names else platform.processor() or 'unknown'


def children_cpu() -> float:
    "CPU seconds (user + sys) of every process this one has waited for, and of theirs."
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def steal_s() -> float|None:
    "Seconds the hypervisor gave this machine's vCPUs to others since boot, summed over them (None without /proc/stat)."
    try: fields = Path('/proc/stat').read_text().split('\n', 1)[0].split()
    except OSError: return None
    return int(fields[8]) / os.sysconf('SC_CLK_TCK') if len(fields) > 8 else None


def phase(cmd: str) -> dict:
    "Run shell command `cmd` from the repository root: its wall and CPU seconds, exit status, load and steal around it."
    load0, c0, t0, st0 = os.getloadavg(), children_cpu(), time.time(), steal_s()
    rc = subprocess.call(cmd, shell=True, cwd=ROOT)
    wall, cpu, st1 = time.time() - t0, children_cpu() - c0, steal_s()
    return dict(command=cmd, rc=rc, wall_s=round(wall, 1), cpu_s=round(cpu, 1), load_before=load0,
                load_after=os.getloadavg(), steal_s=None if st0 is None else round(st1 - st0, 1))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('commands', nargs='*', help=f"phases to time (default: the README's, {' && '.join(README)})")
    p.add_argument('--json', help='also write the numbers to this file')
    a = p.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    head = dict(cpu=cpu_model(), cores=cores, cpu_count=os.cpu_count(), python=sys.version.split()[0],
                started=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
    load = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    print(f"cpu: {head['cpu']}; {cores} usable cores of {head['cpu_count']}; load {load}", flush=True)
    rows = []
    for cmd in a.commands or README:
        print(f'== {cmd}', flush=True)
        rows.append(phase(cmd))
        if rows[-1]['rc'] != 0: break
    print(f"\n{'wall s':>8} {'cpu s':>8} {'cpu/wall':>8} {'steal s':>8}  {'load before → after':<24} rc  phase")
    for r in rows:
        load = f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f}"
        ratio, steal = r['cpu_s'] / max(r['wall_s'], 1e-9), '–' if r['steal_s'] is None else f"{r['steal_s']:.1f}"
        print(f"{r['wall_s']:8.1f} {r['cpu_s']:8.1f} {ratio:8.2f} {steal:>8}  {load:<24} {r['rc']:>2}  {r['command']}")
    wall, cpu = sum(r['wall_s'] for r in rows), sum(r['cpu_s'] for r in rows)
    where = f"{shlex.quote(head['cpu'])}, {cores} cores"
    print(f"{wall:8.1f} {cpu:8.1f} {cpu / max(wall, 1e-9):8.2f} {'':>8}  {'':<24}     total ({where})")
    if a.json: Path(a.json).write_text(json.dumps(dict(head, phases=rows, wall_s=wall, cpu_s=cpu), indent=1))
    return next((r['rc'] for r in rows if r['rc']), 0)


if __name__ == '__main__': sys.exit(main())
