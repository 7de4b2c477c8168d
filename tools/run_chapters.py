"""Execute chapters in a real Jupyter kernel, as a reader would (not nbdev_test's in-process shell), skipping `#| slow` cells.

    python tools/run_chapters.py nbs/16g_train.ipynb nbs/00_latents.ipynb    # or no arguments: every chapter
    python tools/run_chapters.py --stamp nbs/03_consistency.ipynb          # execute and save the outputs, stamped
    python tools/run_chapters.py --check                                     # exit 1 if a committed output is stale

Run it with the venv's python and the venv's bin/ off PATH (`env PATH=/usr/bin:/bin .venv/bin/python tools/run_chapters.py`)
to check that nothing in a chapter depends on an activated environment (a bare `torchrun` would fail there). The kernel is
the interpreter running this script (jupyter_client starts the native kernel with `sys.executable`); IN_TEST=1 shrinks the
default paths as under nbdev_test.

Committed outputs. `--stamp` executes a chapter on its full default path (IN_TEST unset), saves its outputs (then runs
nbdev_clean on it), and records in
the notebook's metadata (`lct_nb_outputs`) a digest for every code cell that has outputs: the SHA-1 of the sources of
all code cells of the chapter up to and including that cell. It also records (`lct_nb_inputs`) the SHA-1 of every file
the chapter's outputs depend on outside the chapter: the `lct_nb` modules its cells import by name, every `lct_nb`
module its kernel had loaded when it finished (those imported by other modules too), and every file under
`benchmarks/` and `results/` its kernel opened while it ran (seen by an audit hook). `--check` fails on an output whose
cell, or any code cell above it, changed since it was stamped, on an output that was never stamped, on a chapter whose
recorded inputs changed or vanished, and on a chapter of Parts I, II or IV (numbered below 10, or 20 and up) that has no
outputs at all. The chapters of Part III (machinery) are committed without outputs: `--stamp` refuses them.
"""
import argparse, hashlib, json, os, re, subprocess, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
KEY, INPUTS = 'lct_nb_outputs', 'lct_nb_inputs'
WATCHED = ('benchmarks', 'results')   # folders whose files a chapter's outputs are recorded as depending on

def _slow(c): return c.cell_type == 'code' and c.source.lstrip().startswith('#| slow')

_HOOK = """import sys as _s, os as _o
_lct_opened = set()
def _lct_audit(event, args, _seen=_lct_opened):
    if event == 'open' and isinstance(args[0], (str, bytes, _o.PathLike)): _seen.add(_o.path.abspath(_o.fsdecode(args[0])))
_s.addaudithook(_lct_audit)"""
_DUMP = """print(__import__('json').dumps([sorted(_lct_opened), sorted(m.__file__ for n, m in list(_s.modules.items())
                                                      if n.startswith('lct_nb.') and getattr(m, '__file__', None))]))"""

def run(path: Path, timeout: int = 1800, keep=False, opened: set | None = None, loaded: set | None = None):
    "Execute the notebook at `path` in a fresh kernel, its folder as working directory; raises on the first failing cell."
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    nb.cells = [c for c in cells if not _slow(c)]
    if opened is not None: nb.cells = [nbformat.v4.new_code_cell(_HOOK)] + nb.cells + [nbformat.v4.new_code_cell(_DUMP)]
    NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    if opened is not None: opened.update(json.loads(nb.cells[-1].outputs[0]['text'])[0])
    if loaded is not None: loaded.update(json.loads(nb.cells[-1].outputs[0]['text'])[1])
    if keep: nb.cells = cells   # the executed cells are the same objects; slow ones keep no outputs
    return nb

def imported_modules(nb) -> set:
    "The `lct_nb` modules the chapter's code cells import by name (`from lct_nb.x import …`, `import lct_nb.x`)."
    src = '\n'.join(c.source for c in nb.cells if c.cell_type == 'code')
    return {m for m in re.findall(r'\blct_nb\.(\w+)', src) if (ROOT/'lct_nb'/f'{m}.py').exists()}

def inputs(nb, opened=(), loaded=()) -> dict:
    "{path relative to the repo: SHA-1} of the modules the chapter imports or loaded and the watched files it opened."
    paths = {f'lct_nb/{m}.py' for m in imported_modules(nb)} | {f'lct_nb/{Path(p).name}' for p in loaded}
    for p in opened:
        rel = Path(p).resolve().relative_to(ROOT) if Path(p).resolve().is_relative_to(ROOT) else None
        if rel and rel.parts[0] in WATCHED and (ROOT/rel).is_file(): paths.add(rel.as_posix())
    return {p: _sha1(ROOT/p) for p in sorted(paths)}

def _sha1(path: Path): return hashlib.sha1(path.read_bytes()).hexdigest() if path.is_file() else None

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
    opened, loaded = set(), set()
    try: nb = run(path, timeout, keep=True, opened=opened, loaded=loaded)
    finally: os.environ.update(saved)
    for c in nb.cells:
        if c.cell_type == 'code': c.metadata, c.execution_count = {}, None
        if _slow(c): c.outputs = []
    nb.metadata[KEY] = digests(nb)
    nb.metadata[INPUTS] = inputs(nb, opened, loaded)
    nbformat.write(nb, path)
    if (ROOT/'settings.ini').is_file() and path.resolve().is_relative_to(ROOT/'nbs'):   # the project's own chapters
        subprocess.run(['nbdev_clean', '--fname', str(path)], check=True, cwd=ROOT)

def stale(path: Path) -> list:
    "The ids of the code cells of `path` whose committed outputs were not stamped from the code the chapter holds now."
    nb = nbformat.read(path, as_version=4)
    have = nb.metadata.get(KEY, {})
    return [i for i, d in digests(nb).items() if have.get(i) != d]

def changed_inputs(path: Path) -> list:
    "The recorded inputs of a chapter with outputs that changed or vanished since its stamp (and modules imported since)."
    nb = nbformat.read(path, as_version=4)
    if not digests(nb): return []
    have = nb.metadata.get(INPUTS, {})
    want = {**{f'lct_nb/{m}.py': None for m in imported_modules(nb)}, **have}
    return [p for p, d in want.items() if d is None or _sha1(ROOT/p) != d]

def needs_outputs(path: Path) -> bool:
    "A chapter of Parts I, II or IV (numbered below 10, or 20 and up) is read for its outputs."
    m = re.match(r'(\d+)', path.name)
    return bool(m) and (int(m.group(1)) < 10 or int(m.group(1)) >= 20)

def problems(path: Path) -> list:
    "Why the committed outputs of `path` cannot be trusted as the output of its code and inputs (empty: they can)."
    nb = nbformat.read(path, as_version=4)
    if needs_outputs(path) and not digests(nb): return ['no outputs: a chapter of Parts I, II and IV is committed with them']
    out = [f'stale outputs in cells {", ".join(s)}'] if (s := stale(path)) else []
    return out + ([f'inputs changed since the stamp: {", ".join(c)}'] if (c := changed_inputs(path)) else [])

def check(paths) -> int:
    bad = {p.name: s for p in paths if (s := problems(p))}
    for name, why in bad.items(): print(f'{name}: {"; ".join(why)} (run tools/run_chapters.py --stamp nbs/{name})')
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
    if a.stamp and (machinery := [p.name for p in paths if not needs_outputs(p)]):   # Part III is committed without outputs
        ap.error(f'{machinery[0]} is a chapter of Part III, committed without outputs: --stamp is for Parts I, II and IV')
    if not a.stamp: os.environ.setdefault('IN_TEST', '1')
    for p in paths:
        t0 = time.time()
        stamp(p) if a.stamp else run(p)
        print(f'{p.name}: {"stamped" if a.stamp else "ok"} in a real kernel ({time.time() - t0:.0f} s)', flush=True)
