"Launched by test_train.py under torchrun: each rank probes a different number of latents, so only rank 0's broadcast makes their c agree."
import json, os
from pathlib import Path
from lct_nb.train import main, default_callbacks, Callback, CalibratedC

RANK = int(os.environ['RANK'])

class RecordC(Callback):
    "Every step's c on this rank, written to run_dir/c_rank{RANK}.json at the end."
    def __init__(self): self.cs = []
    def after_step(self): self.cs.append(self.trainer.c)
    def after_fit(self): Path(self.trainer.run_dir, f'c_rank{RANK}.json').write_text(json.dumps(self.cs))

if __name__ == '__main__': main(cbs=default_callbacks() + [CalibratedC(probe=64 if RANK == 0 else 16), RecordC()])
