"""Every chapter's own tests, as `nbdev_test` runs them: each notebook's code cells in order in an IPython shell, with
IN_TEST set and the cells flagged `#| slow` skipped. One pytest item per notebook, so the notebooks and the tests in
this folder share one pool of workers (`pytest -n 2`) and no core idles between the two.

A notebook runs in the worker's own process, as `nbdev_test`'s workers run several notebooks each; what a notebook may
change there for the tests after it (the environment, the working directory, `sys.path`, torch's threads) is put
back when it ends."""
import os, sys
from pathlib import Path
import pytest, torch
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook   # its own name would be collected as a test

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted((ROOT/'nbs').glob('*.ipynb'))
# a chapter's warnings are those its reader sees on its page, where the stamps (tools/run_chapters.py) keep them out;
# Python hides a library's DeprecationWarning there (torch's on TorchScript, matplotlib's on NumPy 2), pytest would not
pytestmark = pytest.mark.filterwarnings('ignore::DeprecationWarning')


@pytest.fixture
def restored():
    "Put back what a notebook may change in this process: the environment, working directory, sys.path, threads."
    env, cwd, path, threads = dict(os.environ), os.getcwd(), list(sys.path), torch.get_num_threads()
    try: yield
    finally:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.path[:] = path
        torch.set_num_threads(threads)


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_chapter(nb, restored, capsys):
    "The notebook's cells run in order without an error (its `test_eq`, `test_close`, `test_fail` among them)."
    os.environ.setdefault('MPLBACKEND', 'Agg')
    ok, _ = run_notebook(nb, skip_flags=get_config().tst_flags.split(), basepath=get_config().config_path)
    assert ok, f'{nb.name} failed: {capsys.readouterr().err[-5000:]}'
