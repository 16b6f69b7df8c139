"""Derive your own layer: RMSNorm and SwiGLU, their printed backprop formulas, the proof, a training run.

Run it: `python examples/derive_your_own_layer.py`. The lines marked `# →` in
docs/tutorials/derive-your-own-layer.md are what it prints (tests/test_examples_promised.py runs it).
"""

from __future__ import annotations

from symgrad.derivation.verify import verify_graph
from symgrad.layers import layer, sequential
from symgrad.numeric.train import train
from symgrad.printing.readable import readable_equation
from symgrad.store.sequences import majority_tokens


def main(verbose: bool = True) -> dict:
    out: dict = {}
    say = print if verbose else (lambda *a, **k: None)

    # 1. RMSNorm then SwiGLU on a 2 × 1 input, a quadratic cost: small enough to prove every node exactly
    model = sequential(2, layer.rms_norm(), layer.swiglu(2, 2), cost="quadratic", batch=1)
    model.backprop([*model.parameters, "x"])
    g = model.graph
    for name in ("dC/dgamma2", "dC/dms2", "dC/dWg3", "dC/dx"):
        say(readable_equation(g, name))
    out["formulas"] = {n: readable_equation(g, n) for n in ("dC/dgamma2", "dC/dms2", "dC/dWg3", "dC/dx")}

    # 2. every derivative node proved equal to sympy.diff of the written-out cost, and checked numerically
    report = verify_graph(g)
    say(report.to_text())
    out["proved"], out["nodes"], out["ok"] = len(report.proved), len(report.checks), report.ok
    say(f"proved exactly: {out['proved']} of {out['nodes']} derivative nodes")

    # 3. the one-block network on the built-in majority-token task: 16 sequences of 8 tokens per mini-batch
    B, T, V, K = 16, 8, 6, 4
    X, y = majority_tokens(1200, tokens=T, vocabulary=V, classes=K, seed=0)
    Xh, yh = majority_tokens(400, tokens=T, vocabulary=V, classes=K, seed=1)
    net = sequential(V, layer.residual(layer.rms_norm(), layer.attention(4, sequences=B)),
                     layer.swiglu(8, K), layer.mean_pool(B), batch=B * T, seed=0)
    history = train(net, X, y, epochs=4, batch_size=B, lr=0.01, optimizer="adam", holdout=(Xh, yh))
    for r in history:
        say(f"epoch {r['epoch']}: train cost {r['train_cost']:.4f}, held-out accuracy {r['holdout_accuracy']:.3f}")
    out["holdout_accuracy"] = history[-1]["holdout_accuracy"]
    say(f"held-out accuracy after 4 epochs: {'at least 0.95' if out['holdout_accuracy'] >= 0.95 else 'below 0.95'}")
    return out


if __name__ == "__main__":
    main()
