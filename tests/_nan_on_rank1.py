"""Launched by test_train.py under torchrun: rank 1's loss turns NaN from step NAN_FROM_STEP (default 10) on; every rank
must skip and stop."""
import os
import torch
from lct_nb.train import Callback, default_callbacks, main

NAN_FROM = int(os.environ.get('NAN_FROM_STEP', '10'))

class NaNOnRank1(Callback):
    "From step NAN_FROM on, rank 1's loss is NaN (the other ranks' stay finite)."
    def after_loss(self):
        if self.trainer.rank == 1 and self.trainer.step >= NAN_FROM: self.trainer.loss = self.trainer.loss * torch.nan

if __name__ == '__main__': main(cbs=default_callbacks() + [NaNOnRank1()])
