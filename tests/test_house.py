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
