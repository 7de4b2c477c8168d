"Launched by test_compile.py under torchrun: `--compile` with a backend that records the step at which it compiles each graph."
import json, os, sys
import lct_nb.train as train
import lct_nb.learner as learner

step, calls = [None], []

class RecordStep(train.Callback):
    "Keeps the step being taken where the backend can see it; after the run (a multi-rank run ends in `os._exit`) writes the record."
    order = 1000   # after every other callback, so that graphs compiled by their end-of-run work are recorded too
    def before_step(self): step[0] = self.trainer.step
    def after_fit(self): _write(self.trainer.run_dir)
    def after_cancel(self): _write(self.trainer.run_dir)

def _write(run_dir):
    with open(os.path.join(run_dir, f"compiles_rank{os.environ.get('RANK', '0')}.json"), 'w') as f: json.dump(calls, f)

def recording_backend(gm, example_inputs):
    "dynamo's 'eager' backend (the captured graph runs as is) that notes the step of every graph it compiles."
    calls.append(step[0])
    return gm.forward

if __name__ == '__main__':
    learner.COMPILE_BACKEND = recording_backend   # read by `Trainer` where it is defined
    train.main(cbs=train.default_callbacks() + [RecordStep()])
