"""The house rules of `lct_nb/`, measured: function size in statements, one statement per line, short lines, short modules.

    python tools/census.py            # the counts, and every rule broken; exit 1 if a rule is broken beyond PENDING

Rules: a function's size is its statements (every statement in its body, nested ones included), median <= 6, none
above 30; no two simple statements on one line (`a; b`); no line over 120 characters (nbdev's generated `__all__` list
excepted); no module over 400 lines; the package's import graph is at most `MAX_FLOORS` modules deep (`floors`,
module-level imports only); no function imports a module of this package inside its body (that only dodges an import
order; optional third-party imports inside a function are allowed), except the modules of `LAZY`: importing one loads
a heavy third-party library that a run needs only once it builds or exports a network, so reaching it from inside the
function that needs it keeps `import lct_nb.train`, `--help` and the checks of a config light. `PENDING` lists what
breaks a rule today and is still to be mended; the check fails on anything else, and on an entry of `PENDING` that no
longer breaks its rule, so the list only shrinks.
"""
import ast, statistics, sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / 'lct_nb'
MAX_STATEMENTS, MAX_MEDIAN, MAX_LINE, MAX_MODULE, MAX_FLOORS = 30, 6, 120, 400, 9
LAZY = {   # package modules a function may import in its body, and the heavy library each loads at import
    'nets': 'diffusers (UNet2DModel): ~3 s of CPU, torch._dynamo and scipy.stats with it',
    'pipeline': 'diffusers (DiffusionPipeline, the UNet of nets)',
    'export': 'diffusers, through pipeline',
}
_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While, ast.With,
             ast.AsyncWith, ast.Try, ast.Match)
PENDING = {   # rule: names that break it today (functions as module.name, modules by file name)
    'statements': set(),
    'joined': set(),
    'long_lines': set(),
    'module_lines': set(),
}

def _modules(): return [p for p in sorted(PKG.glob('*.py')) if p.name != '_modidx.py']

def statements(fn) -> int:
    "The statements in the body of function `fn`, nested ones included."
    return sum(isinstance(n, ast.stmt) for n in ast.walk(fn)) - 1

def _own_modules(n) -> list:
    "The modules of this package that import statement `n` imports, by short name ('core' for `lct_nb.core`)."
    if isinstance(n, ast.ImportFrom) and (n.level or (n.module or '').startswith('lct_nb')):
        mod = (n.module or '').removeprefix('lct_nb').lstrip('.')
        return [mod.split('.')[0]] if mod else [a.name for a in n.names]
    if isinstance(n, ast.Import): return [a.name.split('.')[1] for a in n.names if a.name.startswith('lct_nb.')]
    return []

def _package_imports(fn) -> int:
    inner = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)) and n is not fn]
    return sum(m not in LAZY for n in inner for m in _own_modules(n))

def import_graph() -> dict:
    "{module: the package modules it imports at module level} (a function's imports are not edges)."
    return {p.stem: {m for n in ast.parse(p.read_text()).body for m in _own_modules(n)} - {p.stem}
            for p in _modules() if p.stem != '__init__'}

def floors(graph=None) -> list:
    "The longest chain of module-level imports, importer first: `len(floors())` is the graph's depth."
    graph, memo = graph or import_graph(), {}
    def chain(m):
        if m not in memo: memo[m] = [m] + max((chain(d) for d in graph.get(m, ()) if d in graph), key=len, default=[])
        return memo[m]
    return max((chain(m) for m in graph), key=len, default=[])

def functions(path):
    "(name, statements, in-body package imports) of every function and method in a module."
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f'{path.stem}.{node.name}', statements(node), _package_imports(node)

def census():
    return [f for p in _modules() for f in functions(p)]

def joined(path) -> int:
    "Simple statements that share a line with another simple statement (`a; b`, `if x: a; b`)."
    per_line = {}
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.stmt) and not isinstance(n, _COMPOUND): per_line[n.lineno] = per_line.get(n.lineno, 0) + 1
    return sum(k - 1 for k in per_line.values() if k > 1)

def long_lines(path) -> int:
    "Lines over `MAX_LINE` characters, outside nbdev's generated `__all__` list."
    lines, skip = path.read_text().splitlines(), set()
    for n in ast.parse(path.read_text()).body:
        if isinstance(n, ast.Assign) and any(getattr(t, 'id', '') == '__all__' for t in n.targets):
            skip |= set(range(n.lineno, n.end_lineno + 1))
    return sum(len(l) > MAX_LINE for i, l in enumerate(lines, 1) if i not in skip)

def broken() -> dict:
    "{rule: set of names breaking it} over the package."
    fs, mods = census(), _modules()
    return {'statements': {name for name, n, _ in fs if n > MAX_STATEMENTS},
            'joined': {p.name for p in mods if joined(p)},
            'long_lines': {p.name for p in mods if long_lines(p)},
            'module_lines': {p.name for p in mods if len(p.read_text().splitlines()) > MAX_MODULE},
            'imports': {name for name, _, k in fs if k}}

def problems() -> list:
    "Every rule broken beyond `PENDING`, and every `PENDING` entry that no longer breaks its rule."
    b, fs = broken(), census()
    out = [f'{rule}: {name}' for rule, names in b.items() for name in sorted(names - PENDING.get(rule, set()))]
    out += [f'{rule}: {name} holds now; remove it from PENDING' for rule, names in PENDING.items()
            for name in sorted(names - b[rule])]
    med = statistics.median(n for _, n, _ in fs)
    deep = floors()
    out += [f"floors: {' -> '.join(deep)} is {len(deep)} deep > {MAX_FLOORS}"] if len(deep) > MAX_FLOORS else []
    return out + ([f'median {med} statements > {MAX_MEDIAN}'] if med > MAX_MEDIAN else [])

def main():
    fs = census()
    longest = sorted(fs, key=lambda f: -f[1])[:5]
    print(f'{len(fs)} functions in {PKG}: median {statistics.median(n for _, n, _ in fs)} statements, longest '
          + ', '.join(f'{name} ({n})' for name, n, _ in longest))
    for p in _modules():
        print(f'  {p.name}: {len(p.read_text().splitlines())} lines, {joined(p)} joined statements, {long_lines(p)} long lines')
    deep = floors()
    print(f"  import graph: {len(deep)} floors ({' -> '.join(deep)})")
    bad = problems()
    for b in bad: print('  broken:', b)
    return 1 if bad else 0

if __name__ == '__main__': sys.exit(main())
