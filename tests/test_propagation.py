"""The signal-propagation study (Fig. 5): its inputs have the statistics they claim, its
network is the authors' block, and a verdict never contradicts its own numbers."""
from __future__ import annotations

import itertools
import math

import torch

from leaderboard.paper import ladder_verdict
from sensitivity import paper_inputs
from sensitivity.paper_net import PaperNet
from sensitivity.propagation import build_net, propagate


def test_bert_fit_inputs_have_the_authors_autocorrelation():
    x = paper_inputs.make_inputs("bert_fit", 64, 700, 32, seed=3)
    lags = [0, 1, 10, 100, 300]
    measured = paper_inputs.autocorrelation(x, lags)
    for lag, m in zip(lags, measured):
        fit = paper_inputs.BERT_WHITE * (lag == 0) + paper_inputs.BERT_SLOW * paper_inputs.BERT_RHO**lag
        assert abs(m - fit) < 0.01, (lag, m, fit)


def test_padded_inputs_end_in_one_constant_tail():
    tails = paper_inputs.PadTails(fraction=0.5, min_content=10, max_content=30)
    x = paper_inputs.make_inputs("bert_pad", 40, 64, 8, seed=0, tails=tails)
    constant = (x[:, 1:] == x[:, :-1]).all(dim=-1)  # (batch, length-1): step t+1 repeats step t
    padded = constant[:, -1]
    assert 5 < int(padded.sum()) < 35  # about half of 40
    pads = {tuple(x[b, -1].tolist()) for b in torch.nonzero(padded).flatten().tolist()}
    assert len(pads) == 1  # one pad embedding for every sequence
    for b in torch.nonzero(padded).flatten().tolist():
        start = int(torch.nonzero(~constant[b]).max()) + 2  # first pad position
        assert 10 <= start <= 30 and constant[b, start - 1:].all()


def test_network_is_the_authors_block_with_flax_dense_init():
    torch.manual_seed(0)
    net = build_net("crnn", 100.0, width=32, n_layers=2, d_input=48, init="flax", max_phase=2 * math.pi)
    assert [net.encoder.in_features, net.encoder.out_features] == [48, 32]
    assert [net.decoder.in_features, net.decoder.out_features] == [32, 48]
    for dense in (net.encoder, net.blocks[0].glu_value, net.blocks[1].glu_gate):
        assert float(dense.bias.detach().abs().max()) == 0
        var = float(dense.weight.detach().var()) * dense.in_features
        assert 0.85 < var < 1.15, var  # LeCun normal: variance 1/fan_in
    lam = net.blocks[0].layer.eigenvalues().detach().abs()
    assert float(lam.min()) >= 0.99 - 1e-6 and float(lam.max()) <= 0.995 + 1e-6
    # norm = none: a block is x + GLU(GELU(recurrence(x))), nothing else
    block, x = net.blocks[1], torch.randn(2, 5, 32)
    y = torch.nn.functional.gelu(block.layer(x))
    expected = x + block.glu_value(y) * torch.sigmoid(block.glu_gate(y))
    assert torch.allclose(block(x), expected, atol=1e-6)
    groups = net.param_groups()
    assert sum(p.numel() for p in groups["recurrent"]) == 2 * 2 * 32  # re and im of λ, two layers
    torch_net = PaperNet(lambda d: torch.nn.Identity(), d_input=48, d_model=32, n_layers=1, init="torch")
    assert float(torch_net.encoder.bias.detach().abs().max()) > 0


def test_crnn_gradient_explodes_with_memory_and_the_lru_does_not():
    kw = {"width": 32, "n_layers": 2, "seq_len": 256, "batch": 4, "d_input": 48, "inputs": "bert_fit"}
    crnn = [propagate("crnn", t, **kw)["grad"]["recurrent"] for t in (1.0, 100.0)]
    lru = [propagate("lru", t, **kw)["grad"]["recurrent"] for t in (1.0, 100.0)]
    assert crnn[1] / crnn[0] > 1e6
    assert lru[1] / lru[0] < 1e2


def test_ladder_verdict_never_says_reproduced_when_a_rung_does_not_beat_the_one_before():
    labels = ["dense", "32 heads", "64 heads", "complex", "+ γ", "LRU"]
    losses = [1.0, 0.3, 0.1, 0.01, 0.003, 0.001]
    # every ordering of the same losses with dense worst and LRU best
    for middle in itertools.permutations(losses[1:-1]):
        values = [losses[0], *middle, losses[-1]]
        verdict = ladder_verdict([(label, v, None, 3) for label, v in zip(labels, values)])
        monotone = all(b < a for a, b in zip(values, values[1:]))
        assert verdict.startswith("reproduced") == monotone, (values, verdict)
        if not monotone:
            assert verdict.startswith("partly reproduced") and "not lower than the rung before" in verdict
    # the committed quick ladder: the LRU is worse than + γ, overall gain 1730×
    verdict = ladder_verdict([(lb, v, None, 3) for lb, v in zip(labels, [13.7, 1.0, 0.5, 0.00133, 8.37e-4, 0.0079])])
    assert verdict.startswith("partly reproduced") and "LRU (0.0079 vs 8.37e-04)" in verdict
    flat = ladder_verdict([(lb, v, None, 3) for lb, v in zip(labels, [1.0, 1.0, 0.9, 0.5, 0.4, 0.3])])
    assert flat.startswith("not reproduced")
