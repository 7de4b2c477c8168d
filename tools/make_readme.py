"""Write README.md from nbs/index.ipynb without Quarto; `--check` fails if README.md is stale.

Markdown cells are copied as they are, code cells become ```python blocks, text outputs become
plain blocks, and cells marked `#| hide` are left out. Relative links and images are rebased onto nbs/.
"""
import json, posixpath, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NB, README = ROOT/'nbs'/'index.ipynb', ROOT/'README.md'
HEADER = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n'

def _src(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']

def _directives(src): return {l[3:].strip().split()[0] for l in src.splitlines() if l.startswith('#|') and l[3:].strip()}

def _rebase(md):
    return re.sub(r'(\]\()(?!https?:|/|#|mailto:)([^)]+)(\))', lambda m: m[1] + posixpath.normpath('nbs/' + m[2]) + m[3], md)

def _outputs(cell):
    for o in cell.get('outputs', []):
        txt = o.get('text') or o.get('data', {}).get('text/plain')
        if txt: yield ''.join(txt).rstrip()

def render(nb):
    parts = []
    for cell in nb['cells']:
        src = _src(cell)
        if cell['cell_type'] == 'markdown': parts.append(_rebase(src.strip()))
        elif cell['cell_type'] == 'code':
            if {'hide', 'exporti', 'export'} & _directives(src): continue
            code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
            if code: parts.append(f'```python\n{code}\n```')
            parts += [f'```\n{o}\n```' for o in _outputs(cell)]
    return HEADER + '\n\n'.join(p for p in parts if p) + '\n'

def main(argv=sys.argv[1:]):
    text = render(json.loads(NB.read_text(encoding='utf-8')))
    if '--check' in argv:
        if not README.exists() or README.read_text(encoding='utf-8') != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `python tools/make_readme.py`')
        print('README.md is in sync with nbs/index.ipynb')
    else: README.write_text(text, encoding='utf-8'); print(f'wrote {README}')

if __name__ == '__main__': main()
