"""Execute chapters in a real Jupyter kernel, as a reader would (not nbdev_test's in-process shell), skipping `#| slow` cells.

    python tools/run_chapters.py nbs/16g_train.ipynb nbs/00_latents.ipynb    # or no arguments: every chapter
    python tools/run_chapters.py --stamp nbs/03_consistency.ipynb          # execute and save the outputs, stamped
    python tools/run_chapters.py --check                                     # exit 1 if a committed output is stale

Run it with the venv's python and the venv's bin/ off PATH (`env PATH=/usr/bin:/bin .venv/bin/python tools/run_chapters.py`)
to check that nothing in a chapter depends on an activated environment (a bare `torchrun` would fail there). The kernel is
the interpreter running this script (jupyter_client starts the native kernel with `sys.executable`); IN_TEST=1 shrinks the
default paths as under nbdev_test.

Committed outputs. `--stamp` executes a chapter on its full default path (IN_TEST unset), saves its outputs, and records in
the notebook's metadata (`lct_nb_outputs`) a digest for every code cell that has outputs: the SHA-1 of the sources of
all code cells of the chapter up to and including that cell. `--check` recomputes the digests: an output whose cell, or
any code cell above it, changed since it was stamped, or an output that was never stamped, is stale, and the check fails.
"""
import argparse, hashlib, os, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
KEY = 'lct_nb_outputs'

def _slow(c): return c.cell_type == 'code' and c.source.lstrip().startswith('#| slow')

def run(path: Path, timeout: int = 1800, keep=False):
    "Execute the notebook at `path` in a fresh kernel, its folder as working directory; raises on the first failing cell."
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    nb.cells = [c for c in cells if not _slow(c)]
    NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    if keep: nb.cells = cells   # the executed cells are the same objects; slow ones keep no outputs
    return nb

def digests(nb) -> dict:
    "{cell id: SHA-1 of the sources of every code cell up to and including it}, for the code cells that have outputs."
    h, out = hashlib.sha1(), {}
    for c in nb.cells:
        if c.cell_type != 'code': continue
        h.update(c.source.encode() + b'\0')
        if c.get('outputs'): out[c['id']] = h.hexdigest()
    return out

def stamp(path: Path, timeout: int = 1800):
    "Execute `path` on its full default path and write it back with its outputs and their digests."
    saved = {k: os.environ.pop(k) for k in ('IN_TEST', 'MPLBACKEND') if k in os.environ}   # the kernel's inline figures
    try: nb = run(path, timeout, keep=True)
    finally: os.environ.update(saved)
    for c in nb.cells:
        if c.cell_type == 'code': c.metadata, c.execution_count = {}, None
        if _slow(c): c.outputs = []
    nb.metadata[KEY] = digests(nb)
    nbformat.write(nb, path)

def stale(path: Path) -> list:
    "The ids of the code cells of `path` whose committed outputs were not stamped from the code the chapter holds now."
    nb = nbformat.read(path, as_version=4)
    have = nb.metadata.get(KEY, {})
    return [i for i, d in digests(nb).items() if have.get(i) != d]

def check(paths) -> int:
    bad = {p.name: s for p in paths if (s := stale(p))}
    for name, ids in bad.items(): print(f'{name}: stale outputs in cells {", ".join(ids)} (run tools/run_chapters.py --stamp nbs/{name})')
    return 1 if bad else 0

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description='Execute chapters in a real kernel; stamp or check their committed outputs.')
    ap.add_argument('paths', nargs='*', help='notebooks (default: every chapter)')
    ap.add_argument('--stamp', action='store_true', help='execute on the full default path and save stamped outputs')
    ap.add_argument('--check', action='store_true', help='exit 1 if any committed output is stale')
    a = ap.parse_args()
    if not a.stamp: os.environ.setdefault('MPLBACKEND', 'Agg')
    paths = [Path(p).resolve() for p in a.paths] or sorted(p for p in (ROOT/'nbs').glob('[0-9]*.ipynb'))
    if a.check: sys.exit(check(paths))
    if not a.stamp: os.environ.setdefault('IN_TEST', '1')
    for p in paths:
        t0 = time.time()
        stamp(p) if a.stamp else run(p)
        print(f'{p.name}: {"stamped" if a.stamp else "ok"} in a real kernel ({time.time() - t0:.0f} s)', flush=True)
