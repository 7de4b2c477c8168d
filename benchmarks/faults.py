"""Run the whole fault suite and print one line per fault, `injected → outcome`, then the total.

    python benchmarks/faults.py               # every test in tests/ marked `fault`
    python benchmarks/faults.py -k sigterm    # pytest's flags pass through (-n 2 --dist worksteal with pytest-xdist)
    python benchmarks/faults.py --all -n 2 --dist worksteal    # every test in tests/ in one pytest session, 2 workers
    python benchmarks/faults.py --all -n 2 --dist worksteal -m 'not full'   # what CI runs on every push: all but `full`

Each fault is a real one (SIGKILL, SIGTERM, SIGINT, a second launch, torn or flipped bytes, a full tmpfs, a pickle that
would run code, bad flags); the tests are in tests/test_faults_*.py and their docstrings are the lines printed here.
A fault "survived" when its test passed: nothing already written was lost and the user got one clear line.
"""
import importlib.util, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def _doc(nodeid: str) -> str:
    "The first docstring line of the test `nodeid` names (with its parameter id), read from its file."
    path, _, name = nodeid.partition('::'); func, _, param = name.partition('[')
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT/path); mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT/'tests')); spec.loader.exec_module(mod)
    doc = (getattr(mod, func).__doc__ or func).strip().splitlines()[0]
    return doc + (f' [{param[:-1]}]' if param else '')

class FaultReport:
    "A pytest plugin that keeps each fault test's outcome (it works under pytest-xdist, whose workers send their reports here)."
    def __init__(self): self.rows = []
    def pytest_runtest_logreport(self, report):
        if 'fault' in report.keywords and (report.when == 'call' or report.outcome != 'passed'): self.rows.append(report)

def main(argv=()):
    "`--all`: run every test (one session balances two workers better than two runs); only the faults are listed."
    argv, rest = [a for a in argv if a != '--all'], '--all' in argv
    rep, t0 = FaultReport(), time.time()
    rc = pytest.main(['-q', '-p', 'no:cacheprovider', *([] if rest else ['-m', 'fault']), str(ROOT/'tests'), *argv], plugins=[rep])
    seen = {}
    for r in rep.rows: seen.setdefault(r.nodeid, r)        # the first failing phase, or the call
    print('\n== faults: injected → outcome')
    for nodeid, r in seen.items():
        print(f"{'survived' if r.passed else 'not run ' if r.skipped else 'LOST    '}  {_doc(nodeid)}")
    rs = list(seen.values())
    n, ok, lost, skipped = len(rs), sum(r.passed for r in rs), sum(r.failed for r in rs), sum(r.skipped for r in rs)
    print(f"{n} faults, {ok} survived, {lost} runs lost" + (f", {skipped} not run here" if skipped else '') + f" ({time.time() - t0:.0f} s)")
    return 1 if lost or rc not in (0, 5) else 0     # 5: pytest collected nothing (e.g. a -k that matches no fault)

if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
