"Launched by test_train.py under torchrun: rank 1's loss turns NaN from step 10 on; every rank must skip and stop."
import os, torch
from lct_nb.objective import lct_loss
from lct_nb.train import main

def nan_on_rank1(model, x0, k, *args, **kwargs):
    loss, terms = lct_loss(model, x0, k, *args, **kwargs)
    if int(os.environ['RANK']) == 1 and k >= 10: loss = loss * torch.nan
    return loss, terms

if __name__ == '__main__': main(loss_fn=nan_on_rank1)
