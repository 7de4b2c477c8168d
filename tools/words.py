"""The length of the book's main text, and how much of it is engineering.

    python tools/words.py            # words per chapter of Parts I, II and IV, the total, and the engineering share

Words: whitespace-separated tokens of a chapter's markdown cells, with fenced code blocks and LaTeX math (`$…$`, `$$…$$`)
removed. Main text: the chapters of Parts I, II and IV (numbered below 10, or 20 and up; `index.ipynb` is not a chapter).
Engineering: the words of a markdown cell that sits in a section (under a `##` or `###` heading) whose title is about
performance, memory layout, processes, files or commands (`ENGINEERING`).
Targets: main text <= `MAX_WORDS`, engineering <= `MAX_SHARE` of it.
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from run_chapters import needs_outputs as is_main   # a chapter of Parts I, II or IV
MAX_WORDS, MAX_SHARE = 19_000, 0.12
ENGINEERING = re.compile(r'\b(cost|costs|time|timing|dtype|layout|ranks?|process(es)?|threads?|GPUs?|CPUs?|command'
                         r'|cache|launch\w*|saved|benchmarks?|speed|memory)\b', re.I)
_MATH = re.compile(r'\$\$.*?\$\$|\$[^$\n]*\$', re.S)
_FENCE = re.compile(r'```.*?```', re.S)

def words(md: str) -> int:
    "Words of markdown `md`, its fenced code and its math left out."
    return len(_MATH.sub(' ', _FENCE.sub(' ', md)).split())


def count(path: Path) -> tuple:
    "(words, engineering words) of the markdown cells of the chapter at `path`."
    total = eng = 0
    section = ''
    for c in json.loads(path.read_text())['cells']:
        if c['cell_type'] != 'markdown': continue
        md = ''.join(c['source'])
        heads = re.findall(r'^#{2,3} (.*)$', md, re.M)
        if heads: section = heads[-1]
        n = words(md)
        total += n
        if ENGINEERING.search(section): eng += n
    return total, eng

def main():
    rows = [(p.stem, *count(p)) for p in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')) if is_main(p)]
    for name, n, e in rows: print(f'{name:22s} {n:6d} words, {e:5d} engineering')
    n, e = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f'{"main text":22s} {n:6d} words, {e:5d} engineering ({e / n:.1%}); targets <= {MAX_WORDS} and <= {MAX_SHARE:.0%}')
    return 0 if n <= MAX_WORDS and e <= MAX_SHARE * n else 1

if __name__ == '__main__': sys.exit(main())
