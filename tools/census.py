"""The house rules of `lct_nb/`, measured: the length of every function and method, and imports inside function bodies.

    python tools/census.py            # median and longest functions, in-body imports; exit 1 if a rule is broken

Rules: median function length <= 6 lines, none above 35; no function imports a module of this package
inside its body (that only dodges an import order). Optional third-party imports inside a function are allowed.
"""
import ast, statistics, sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / 'lct_nb'
MAX_LINES, MAX_MEDIAN = 35, 6

def functions(path):
    "(name, lines, in-body package imports) of every function and method in a module."
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)) and n is not node]
            own = [n for n in inner if (isinstance(n, ast.ImportFrom) and (n.level or (n.module or '').startswith('lct_nb')))
                   or (isinstance(n, ast.Import) and any(a.name.startswith('lct_nb') for a in n.names))]
            yield f'{path.stem}.{node.name}', node.end_lineno - node.lineno + 1, len(own)

def census():
    return [f for p in sorted(PKG.glob('*.py')) if p.name != '_modidx.py' for f in functions(p)]

def main():
    fs = census()
    lines = [n for _, n, _ in fs]
    med, longest = statistics.median(lines), sorted(fs, key=lambda f: -f[1])[:5]
    print(f'{len(fs)} functions in {PKG}: median {med} lines, longest ' + ', '.join(f'{name} ({n})' for name, n, _ in longest))
    bad = [f'{name}: {n} lines > {MAX_LINES}' for name, n, _ in fs if n > MAX_LINES]
    bad += [f'{name}: imports lct_nb inside its body' for name, _, k in fs if k]
    bad += [f'median {med} > {MAX_MEDIAN}'] if med > MAX_MEDIAN else []
    for b in bad: print('  broken:', b)
    return 1 if bad else 0

if __name__ == '__main__': sys.exit(main())
