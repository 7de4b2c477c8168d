"The house rules of lct_nb/: short functions, and no import of the package inside a function body."
import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location('census', Path(__file__).resolve().parents[1]/'tools'/'census.py')
census = importlib.util.module_from_spec(spec); spec.loader.exec_module(census)


def test_functions_are_short():
    fs = census.census()
    assert len(fs) > 100
    assert [f'{name} ({n})' for name, n, _ in fs if n > census.MAX_LINES] == []
    assert sorted(n for _, n, _ in fs)[len(fs) // 2] <= census.MAX_MEDIAN


def test_no_import_dodges():
    assert [name for name, _, k in census.census() if k] == []


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1]/'tools'/f'{name}.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_stale_outputs_are_caught(tmp_path):
    "A stamped chapter checks clean; editing a cell above an output, or adding an unstamped output, makes it stale."
    import nbformat
    rc = _tool('run_chapters')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 2'), nbformat.v4.new_code_cell('x * 21')])
    path = tmp_path/'01_tiny.ipynb'
    nbformat.write(nb, path)
    rc.stamp(path)
    assert nbformat.read(path, as_version=4).cells[1].outputs[0]['data']['text/plain'] == '42'
    assert rc.stale(path) == []
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = 'x = 3'
    nbformat.write(nb, path)
    assert rc.stale(path) == [nb.cells[1]['id']]
    nb.cells[0].source = 'x = 2'
    nb.cells[0].outputs = [nbformat.v4.new_output('stream', text='hand-made\n')]
    nbformat.write(nb, path)
    assert rc.stale(path) == [nb.cells[0]['id']]
