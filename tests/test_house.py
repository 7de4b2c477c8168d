"The house rules of lct_nb/ (tools/census.py): statements per function, one statement per line, short lines and modules."
import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location('census', Path(__file__).resolve().parents[1]/'tools'/'census.py')
census = importlib.util.module_from_spec(spec); spec.loader.exec_module(census)


def test_house_rules():
    "Statements per function, one statement per line, lines and modules short: nothing broken beyond census.PENDING."
    assert len(census.census()) > 100
    assert census.problems() == []


def test_census_counts(tmp_path):
    "The census counts statements, joined statements and long lines as the rules define them."
    import ast
    src = "__all__ = ['a', '" + "b" * 130 + "']\ndef f(x):\n    if x: y = 1; z = 2\n    for i in x:\n        pass\n    return 1  # " + "x" * 120 + "\n"
    p = tmp_path/'m.py'
    p.write_text(src)
    fn = next(n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.FunctionDef))
    assert census.statements(fn) == 6          # if, two assignments, for, pass, return
    assert census.joined(p) == 1 and census.long_lines(p) == 1   # `__all__`'s long line is nbdev's, not counted


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1]/'tools'/f'{name}.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_stale_outputs_are_caught(tmp_path):
    "A stamped chapter checks clean; editing a cell above an output, or adding an unstamped output, makes it stale."
    import nbformat
    rc = _tool('run_chapters')
    plot = nbformat.v4.new_code_cell('import matplotlib.pyplot as plt\nplt.plot([1, 2]);')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 2'), nbformat.v4.new_code_cell('x * 21'), plot])
    path = tmp_path/'01_tiny.ipynb'
    nbformat.write(nb, path)
    rc.stamp(path)
    done = nbformat.read(path, as_version=4)
    assert done.cells[1].outputs[0]['data']['text/plain'] == '42'
    assert 'image/png' in done.cells[2].outputs[0]['data']           # figures inline, as a reader sees them
    assert rc.stale(path) == []
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = 'x = 3'
    nbformat.write(nb, path)
    assert rc.stale(path) == [nb.cells[1]['id'], nb.cells[2]['id']]   # every output below the edit
    nb.cells[0].source = 'x = 2'
    nb.cells[0].outputs = [nbformat.v4.new_output('stream', text='hand-made\n')]
    nbformat.write(nb, path)
    assert rc.stale(path) == [nb.cells[0]['id']]


def test_changed_inputs_and_missing_outputs_are_caught(tmp_path, monkeypatch):
    "A stamped chapter goes stale when a module it imports or a results file it read changes; a Part I chapter without outputs fails."
    import nbformat
    rc = _tool('run_chapters')
    for d in ('lct_nb', 'results', 'nbs'): (tmp_path/d).mkdir()
    monkeypatch.setattr(rc, 'ROOT', tmp_path)
    (tmp_path/'lct_nb'/'paired.py').write_text('x = 1\n')
    (tmp_path/'results'/'n.txt').write_text('21')
    cells = [nbformat.v4.new_code_cell("# reads lct_nb.paired's numbers\nint(open('../results/n.txt').read()) * 2")]
    path = tmp_path/'nbs'/'01_tiny.ipynb'
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    rc.stamp(path)
    assert nbformat.read(path, as_version=4).cells[0].outputs[0]['data']['text/plain'] == '42'
    assert set(nbformat.read(path, as_version=4).metadata[rc.INPUTS]) == {'lct_nb/paired.py', 'results/n.txt'}
    assert rc.problems(path) == []
    (tmp_path/'results'/'n.txt').write_text('22')
    assert rc.changed_inputs(path) == ['results/n.txt']
    (tmp_path/'results'/'n.txt').write_text('21'); (tmp_path/'lct_nb'/'paired.py').write_text('x = 2\n')
    assert rc.changed_inputs(path) == ['lct_nb/paired.py'] and rc.check([path]) == 1
    bare = tmp_path/'nbs'/'02_bare.ipynb'
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1 + 1')]), bare)
    assert rc.problems(bare) == ['no outputs: a chapter of Parts I, II and IV is committed with them']
    machinery = tmp_path/'nbs'/'13_machinery.ipynb'
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1 + 1')]), machinery)
    assert rc.problems(machinery) == []


def test_a_module_loaded_without_its_name_is_recorded(tmp_path, monkeypatch):
    "A module the chapter's kernel loaded without naming it (another module imported it) is among the stamp's inputs."
    import nbformat
    rc = _tool('run_chapters')
    for d in ('lct_nb', 'nbs'): (tmp_path/d).mkdir()
    monkeypatch.setattr(rc, 'ROOT', tmp_path)
    (tmp_path/'lct_nb'/'paired.py').write_text('x = 1\n')
    cell = nbformat.v4.new_code_cell("import importlib\nimportlib.import_module('.'.join(['lct_nb', 'paired'])).__name__")
    path = tmp_path/'nbs'/'01_tiny.ipynb'
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    assert rc.imported_modules(nbformat.read(path, as_version=4)) == set()
    rc.stamp(path)
    assert set(nbformat.read(path, as_version=4).metadata[rc.INPUTS]) == {'lct_nb/paired.py'}
    (tmp_path/'lct_nb'/'paired.py').write_text('x = 2\n')
    assert rc.changed_inputs(path) == ['lct_nb/paired.py']


def test_import_floors(tmp_path):
    "The package's module-level import graph is at most census.MAX_FLOORS deep; an import in a function is no edge."
    assert len(census.floors()) <= census.MAX_FLOORS, census.floors()
    assert census.floors({'a': {'b'}, 'b': {'c'}, 'c': set(), 'd': {'c'}}) == ['a', 'b', 'c']
    import ast
    src = "from .core import x\ndef f():\n    from lct_nb.nets import y\n    from .cache import z\n"
    fn = next(n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.FunctionDef))
    assert census._package_imports(fn) == 1   # nets is in census.LAZY (it loads diffusers); cache is not


def test_main_text_within_its_length():
    "The book's main text (Parts I, II, IV) stays within tools/words.py's word count and engineering share."
    words = _tool('words')
    rows = [words.count(p) for p in sorted((words.ROOT/'nbs').glob('[0-9]*.ipynb')) if words.is_main(p)]
    n, eng = sum(r[0] for r in rows), sum(r[1] for r in rows)
    assert n <= words.MAX_WORDS and eng <= words.MAX_SHARE * n, (n, eng)
    assert words.words('one $x^2$ two\n```\ncode here\n```\nthree') == 3


def test_no_chapter_imports_from_benchmarks():
    "A chapter imports what it uses from lct_nb or defines it; never from benchmarks/ (a script, not the library)."
    import json, re
    root = Path(__file__).resolve().parents[1]
    names = '|'.join(sorted(p.stem for p in (root/'benchmarks').glob('*.py')))
    bad = re.compile(rf"^\s*(from|import)\s+({names})\b|sys\.path\.\w+\(.*benchmarks", re.M)
    found = [(nb.name, m.group(0).strip()) for nb in sorted((root/'nbs').glob('*.ipynb'))
             for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code'
             for m in bad.finditer(''.join(c['source']))]
    assert found == [], found
    assert bad.search("import sys; sys.path.insert(0, '../benchmarks')\nfrom ablation import paired_interval")


def test_stamp_refuses_a_part_iii_chapter():
    "`run_chapters.py --stamp` on a machinery chapter (committed without outputs): one line, exit 2, the chapter untouched."
    import subprocess, sys
    root = Path(__file__).resolve().parents[1]
    nb = root/'nbs'/'16g_train.ipynb'
    before = nb.read_bytes()
    r = subprocess.run([sys.executable, 'tools/run_chapters.py', '--stamp', str(nb)], cwd=root, capture_output=True, text=True)
    assert r.returncode == 2 and 'error: 16g_train.ipynb is a chapter of Part III' in r.stderr, r.stderr
    assert nb.read_bytes() == before
