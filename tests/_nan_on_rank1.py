"Launched by test_train.py under torchrun: rank 1's loss turns NaN from step 10 on; every rank must skip and stop."
import torch
from lct_nb.train import Callback, default_callbacks, main

class NaNOnRank1(Callback):
    "From step 10 on, rank 1's loss is NaN (the other ranks' stay finite)."
    def after_loss(self):
        if self.trainer.rank == 1 and self.trainer.step >= 10: self.trainer.loss = self.trainer.loss * torch.nan

if __name__ == '__main__': main(cbs=default_callbacks() + [NaNOnRank1()])
