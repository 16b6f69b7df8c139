"""The README's Python blocks run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["cost"] > 0
    assert namespace["grads"]["W2"].shape == (30, 784)
    assert namespace["history"][-1]["holdout_accuracy"] > 0.8


def test_the_module_paths_of_earlier_releases_still_import():
    """symgrad.compile, .train, .data, .explicit and .verify moved into layers; their aliases give the same objects."""
    from symgrad.compile import compile as old_compile
    from symgrad.data import dataset as old_dataset
    from symgrad.data import split as old_split
    from symgrad.derivation import explicit, verify_bp
    from symgrad.explicit import explicit as old_explicit
    from symgrad.numeric import compile, train
    from symgrad.store.data import dataset, split
    from symgrad.train import train as old_train
    from symgrad.verify import verify_bp as old_verify_bp

    assert (old_compile, old_train, old_dataset, old_split) == (compile, train, dataset, split)
    assert (old_explicit, old_verify_bp) == (explicit, verify_bp)
    import symgrad
    import symgrad.printing

    for name in symgrad.__all__:
        assert getattr(symgrad, name) is not None, name
    assert symgrad.printing.latex is symgrad.latex
