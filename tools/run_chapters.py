"""Execute chapters in a real Jupyter kernel, as a reader would (not nbdev_test's in-process shell), skipping `#| slow` cells.

    python tools/run_chapters.py nbs/10_train.ipynb nbs/00_latents.ipynb    # or no arguments: every chapter

Run it with the venv's python and the venv's bin/ off PATH (`env PATH=/usr/bin:/bin .venv/bin/python tools/run_chapters.py`)
to check that nothing in a chapter depends on an activated environment (a bare `torchrun` would fail there). The kernel is
the interpreter running this script (jupyter_client starts the native kernel with `sys.executable`); IN_TEST=1 shrinks the
default paths as under nbdev_test.
"""
import os, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

def run(path: Path, timeout: int = 1800):
    "Execute the notebook at `path` in a fresh kernel, its folder as working directory; raises on the first failing cell."
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not (c.cell_type == 'code' and c.source.lstrip().startswith('#| slow'))]
    NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()

if __name__ == '__main__':
    os.environ.setdefault('IN_TEST', '1'); os.environ.setdefault('MPLBACKEND', 'Agg')
    root = Path(__file__).resolve().parents[1]
    paths = [Path(p).resolve() for p in sys.argv[1:]] or sorted(p for p in (root/'nbs').glob('[0-9]*.ipynb'))
    for p in paths:
        t0 = time.time(); run(p); print(f'{p.name}: ok in a real kernel ({time.time() - t0:.0f} s)', flush=True)
