"""CPU seconds (user + system) that importing each command's module costs a fresh Python, beside torch's own.

    python benchmarks/startup.py                   # 5 fresh processes per import, the median of each
    python benchmarks/startup.py --runs 9 --json   # one JSON line per import as well

Each row is `python -c "import X"` in a fresh process, measured with the children's rusage (the same numbers as
`/usr/bin/time -f "%U %S"`), so a busy machine inflates wall time but barely the CPU seconds. The rows: `torch` alone,
`torch` with the diffusers classes the package builds on (`UNet2DModel`, `AutoencoderKL`), `lct_nb.threads` (what a
command runs before torch), the modules of the four commands, and `python -m lct_nb.train --help`. A command's
start-up is its module's row plus its own flags' work; `python -X importtime -c "import lct_nb.train"` shows where the
seconds go.
"""
import argparse, json, os, resource, statistics, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = {'torch': 'import torch',
           'torch + diffusers': 'import torch; from diffusers import UNet2DModel, AutoencoderKL',
           'lct_nb.threads': 'import lct_nb.threads',
           **{f'lct_nb.{m}': f'import lct_nb.{m}' for m in ('train', 'evaluate', 'latents', 'export')},
           'lct_nb.train --help': "import runpy, sys; sys.argv = ['train', '--help']; "
                                  "runpy.run_module('lct_nb.train', run_name='__main__')"}


def cpu_seconds(code: str) -> tuple:
    "(user, system) CPU seconds of a fresh `python -c code`."
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    subprocess.run([sys.executable, '-c', code], check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', type=int, default=5, help='fresh processes per import (their median is printed)')
    p.add_argument('--json', action='store_true', help='also print one JSON line per import')
    a = p.parse_args()
    print(f"{'import':<20} {'user+sys s':>10} {'user s':>7} {'sys s':>6}   ({a.runs} runs, median; min-max of user+sys)")
    for name, code in IMPORTS.items():
        runs = [cpu_seconds(code) for _ in range(a.runs)]
        tot = [u + s for u, s in runs]
        u, s = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f'{name:<20} {statistics.median(tot):>10.2f} {u:>7.2f} {s:>6.2f}   {min(tot):.2f}-{max(tot):.2f}')
        if a.json: print(json.dumps(dict(name=name, cpu_s=tot, median_cpu_s=statistics.median(tot))))


if __name__ == '__main__': main()
