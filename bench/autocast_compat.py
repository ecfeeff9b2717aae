"""autocast_compat.py - lets upstream's code run under PyTorch 1.13's CPU bf16 autocast
(torch.autocast("cpu", dtype=torch.bfloat16)), for bench/train_step_torch.py --bf16 and
bench/infer_torch.py --bf16.

Debian's torch 1.13 autocasts convolutions and matmuls to bf16 on the CPU but leaves layer_norm and
group_norm alone, and its CPU kernels of those two refuse a bf16 input with fp32 weights ("expected
scalar type BFloat16 but found Float"): every LayerNorm of upstream's text encoder, flows and duration
predictors, and WavLM's, fails on the output of a bf16 convolution. Later PyTorch releases accept that
mix (mixed-dtype CPU layer / group norm) and normalise in fp32 - which is what install() makes
F.layer_norm / F.group_norm do here: a bf16 input with fp32 weights is normalised in fp32 and the
result cast back to bf16. Only mixed calls change; everything else goes to the original functions.
"""
import torch
import torch.nn.functional as F

NOTE = "F.layer_norm / F.group_norm of a bf16 input with fp32 weights computed in fp32, as later PyTorch does"


def install():
    layer_norm, group_norm = F.layer_norm, F.group_norm

    def mixed(x, w):
        return x.dtype != torch.float32 and w is not None and w.dtype == torch.float32

    def layer_norm_mixed(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        if mixed(x, weight):
            return layer_norm(x.float(), normalized_shape, weight, bias, eps).to(x.dtype)
        return layer_norm(x, normalized_shape, weight, bias, eps)

    def group_norm_mixed(x, num_groups, weight=None, bias=None, eps=1e-5):
        if mixed(x, weight):
            return group_norm(x.float(), num_groups, weight, bias, eps).to(x.dtype)
        return group_norm(x, num_groups, weight, bias, eps)

    F.layer_norm, F.group_norm = layer_norm_mixed, group_norm_mixed
