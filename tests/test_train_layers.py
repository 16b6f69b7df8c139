"""train() on any graph: a symgrad.layers model (the one-block transformer-style network on the built-in
majority-token task, an MLP with a symbolic batch), NumPy and JAX, and its one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from extras_hidden import needs

from symgrad.errors import UsageError
from symgrad.layers import layer, sequential
from symgrad.numeric.train import train
from symgrad.store.sequences import majority_tokens

B, T, V, K = 16, 8, 6, 4


def one_block(seed: int = 0):
    """RMSNorm → attention head → residual → SwiGLU → mean over each sequence → softmax cross-entropy."""
    return sequential(V, layer.residual(layer.rms_norm(), layer.attention(4, sequences=B)),
                      layer.swiglu(8, K), layer.mean_pool(B), batch=B * T, seed=seed)


def test_the_majority_token_task_is_deterministic():
    X, y = majority_tokens(50, tokens=T, vocabulary=V, classes=K, seed=3)
    X2, y2 = majority_tokens(50, tokens=T, vocabulary=V, classes=K, seed=3)
    assert X.shape == (50, V, T) and np.array_equal(X, X2) and np.array_equal(y, y2)
    assert np.all(X.sum(axis=1) == 1)  # one token per column
    counts = X[:, :K, :].sum(axis=2)
    assert np.array_equal(np.argmax(counts, axis=1), y)
    assert all(np.count_nonzero(c == c.max()) == 1 for c in counts)  # a unique majority


def test_one_block_network_trains_to_the_stated_accuracy():
    """The figure docs/layers.md states: ≥ 95% on 400 held-out sequences after 4 epochs (chance is 25%)."""
    X, y = majority_tokens(1200, tokens=T, vocabulary=V, classes=K, seed=0)
    Xh, yh = majority_tokens(400, tokens=T, vocabulary=V, classes=K, seed=1)
    model = one_block()
    history = train(model, X, y, epochs=4, batch_size=B, lr=0.01, optimizer="adam", holdout=(Xh, yh))
    assert history[-1]["holdout_accuracy"] >= 0.95
    assert history[-1]["train_cost"] < history[0]["train_cost"]
    # the trained values are the graph's
    assert not np.allclose(model.params()["Wq3"], one_block().params()["Wq3"])


def test_an_untrained_one_block_network_is_near_chance():
    from symgrad.numeric.compile import compile_graph

    Xh, yh = majority_tokens(400, tokens=T, vocabulary=V, classes=K, seed=1)
    model = one_block()
    fn = compile_graph(model.graph, outputs=["p"])
    right = 0
    for s in range(0, 400, B):
        x = Xh[s : s + B].transpose(1, 0, 2).reshape(V, -1)
        right += int(np.sum(fn.evaluate({**model.params(), **model.constants, "x": x})["p"].argmax(0) == yh[s : s + B]))
    assert right / 400 < 0.6


def _blobs(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    return centres[labels] + 0.5 * rng.standard_normal((n, 2)), labels


def test_a_sequential_mlp_with_a_symbolic_batch_trains():
    X, y = _blobs(205, 0)  # 205 = 20 mini-batches of 10 and a last one of 5
    model = sequential(2, layer.dense(8), layer.activation("gelu"), layer.layer_norm(), layer.dense(3), seed=0)
    history = train(model, X, y, epochs=10, batch_size=10, lr=0.05, optimizer="adam", holdout=_blobs(100, 1))
    assert history[-1]["holdout_accuracy"] >= 0.95


def test_dropout_masks_are_drawn_for_every_mini_batch():
    X, y = _blobs(200, 0)
    seen = []
    model = sequential(2, layer.dense(16), layer.activation("relu"), layer.dropout(0.5), layer.dense(3), seed=0)
    history = train(model, X, y, epochs=8, batch_size=10, lr=0.05, optimizer="adam", holdout=_blobs(100, 1),
                    callback=lambda r: seen.append(r["train_cost"]))
    assert history[-1]["holdout_accuracy"] >= 0.9  # evaluated with the mask all ones
    plain = sequential(2, layer.dense(16), layer.activation("relu"), layer.dense(3), seed=0)
    ref = train(plain, X, y, epochs=8, batch_size=10, lr=0.05, optimizer="adam")
    assert not np.allclose(model.params()["W2"], plain.params()["W2"])  # the masks changed the steps
    assert len(seen) == 8 and ref[-1]["train_accuracy"] >= 0.9
    with pytest.raises(UsageError, match=r"dropout p must be a number in \[0, 1\)"):
        sequential(2, layer.dropout(1.0))


@needs("jax")
def test_the_jax_backend_trains_the_same_model():
    X, y = _blobs(100, 0)
    runs = {}
    for backend in ("numpy", "jax"):
        model = sequential(2, layer.dense(4), layer.activation("tanh"), layer.dense(3), seed=0)
        runs[backend] = (train(model, X, y, epochs=2, batch_size=10, lr=0.5, backend=backend), model.params())
    assert runs["numpy"][0][-1]["train_cost"] == pytest.approx(runs["jax"][0][-1]["train_cost"], rel=1e-9)
    for p, v in runs["numpy"][1].items():
        assert np.allclose(v, runs["jax"][1][p], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda m, X, y: train(m, X, y, batch_size=8), "batch_size must be 16"),
    (lambda m, X, y: train(m, X[:, :3], y, batch_size=B), "input 'x' has 6 rows"),
    (lambda m, X, y: train(m, X[:10], y[:10], batch_size=B), "fewer than one mini-batch"),
    (lambda m, X, y: train(m, X, y + 7, batch_size=B), "the output layer (last of sizes) has 4 neurons"),
    (lambda m, X, y: train(m, X, y, batch_size=B, lr=-1), "lr (η) must be a positive finite number"),
])
def test_bad_training_input_gets_one_line_errors(call, message):
    X, y = majority_tokens(40, tokens=T, vocabulary=V, classes=K, seed=0)
    with pytest.raises(UsageError) as err:
        call(one_block(), X, y)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_model_without_parameter_values_is_refused():
    model = sequential(2, layer.dense(3), seed=None)
    with pytest.raises(UsageError, match="parameter 'W2' has no value"):
        train(model, *_blobs(20, 0))
