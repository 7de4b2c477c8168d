"Launched under torchrun by benchmarks/rank_exits.py: a user's script training with `lct_nb.train.train`, then returning."
import sys
from lct_nb.train import parse_config, train

if __name__ == '__main__':
    tr = train(parse_config(sys.argv[1:]))   # no `main`: the interpreter shuts down as after any script
    print(f'rank {tr.rank}: trained to step {tr.step}')
