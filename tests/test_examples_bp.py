"""The examples of issue 3 run and their figures hold."""

import importlib.util
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mlp_relu_softmax_example():
    out = _load("mlp_relu_softmax").main(verbose=False)
    assert out["book_form_W1"] is True and out["book_form_W2"] is True
    assert out["numeric_error_W1"] < 1e-6 and out["numeric_error_W2"] < 1e-6
    assert out["numpy_error_W1"] < 1e-12 and out["numpy_error_W2"] < 1e-12
    assert out["relu_zeroed"] > 0  # the ReLU really clips something at the test point
    assert out["latex"]["W2"] == r"\frac{\partial J}{\partial W^{(2)}} = 2 \lambda W^{(2)} + H^{T} \nabla_{U^{(2)}} J"
    assert r"\odot \mathrm{ReLU}'\left(U^{(1)}\right)" in out["latex"]["W1_in_G"]


def test_hessian_example():
    out = _load("hessian").main(verbose=False)
    assert out["entries"] == 49 and out["proved"] == 49
    assert out["second_derivative_nodes"] > 0
    assert out["symmetric"]
    assert out["max_numeric_difference"] < 1e-12
    assert out["order"] == out["parameters"] and out["one_call_difference"] < 1e-12
    assert out["hessian_223_shape"] == (15, 15) and out["hessian_223_asymmetry"] < 1e-12
