"Launched by test_compile.py under torchrun: `--compile` with a backend that records the step at which it compiles each graph."
import json, os, sys
import lct_nb.train as train

step, calls = [None], []

class RecordStep(train.Callback):
    "Keeps the step being taken where the backend can see it."
    def before_step(self): step[0] = self.trainer.step

def recording_backend(gm, example_inputs):
    "dynamo's 'eager' backend (the captured graph runs as is) that notes the step of every graph it compiles."
    calls.append(step[0])
    return gm.forward

if __name__ == '__main__':
    train.COMPILE_BACKEND = recording_backend
    run_dir = sys.argv[sys.argv.index('--run_dir') + 1]
    try: train.main(cbs=train.default_callbacks() + [RecordStep()])
    finally:
        with open(os.path.join(run_dir, f"compiles_rank{os.environ.get('RANK', '0')}.json"), 'w') as f: json.dump(calls, f)
