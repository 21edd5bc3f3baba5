"""The classification helpers every image-classifier plugin shares."""

import math

import torch
from torch.nn import functional as F

from plugins.classification import binomial_error, keras_categorical_crossentropy


def test_keras_crossentropy_equals_cross_entropy_inside_the_clip():
    torch.manual_seed(0)
    logits = (torch.randn(16, 10) * 3).requires_grad_()
    labels = torch.randint(0, 10, (16,))
    keras_loss = keras_categorical_crossentropy(logits, labels)
    (keras_gradient,) = torch.autograd.grad(keras_loss, logits)
    torch_loss = F.cross_entropy(logits, labels)
    (torch_gradient,) = torch.autograd.grad(torch_loss, logits)
    assert torch.allclose(keras_loss, torch_loss, atol=1e-6)
    assert torch.allclose(keras_gradient, torch_gradient, atol=1e-6)


def test_keras_crossentropy_gives_a_confidently_wrong_example_no_gradient():
    logits = torch.zeros(2, 10)
    logits[0, 3] = 40.0  # example 0 is labelled 5 but the model is sure of 3: p(5) ~ 4e-18 < 1e-7
    logits = logits.requires_grad_()
    labels = torch.tensor([5, 1])
    loss = keras_categorical_crossentropy(logits, labels)
    (gradient,) = torch.autograd.grad(loss, logits)
    assert torch.count_nonzero(gradient[0]) == 0
    assert torch.count_nonzero(gradient[1]) == 10
    assert math.isclose(float(loss.detach()), (-math.log(1e-7) + math.log(10)) / 2, rel_tol=1e-4)
    (torch_gradient,) = torch.autograd.grad(F.cross_entropy(logits, labels), logits)
    assert torch.count_nonzero(torch_gradient[0]) > 0  # where torch's loss differs


def test_binomial_error_of_an_accuracy():
    assert math.isclose(binomial_error(0.9948, 10_000), 0.000719, rel_tol=1e-2)
    assert binomial_error(1.0, 10_000) == 0.0
