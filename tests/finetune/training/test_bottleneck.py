"""Bottleneck adapters: identity at start, only they train, a version saves only them and loads
back on its base (through the dialogue loader), and a version can be continued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infinstruct.core.errors import ModelLoadError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.training import bottleneck
from infinstruct.finetune.training.config import ScratchModel
from infinstruct.finetune.training.methods import base_view, parameter_counts, save_artefact
from infinstruct.finetune.training.scratch import build_model, train_tokenizer
from tests.finetune.training.conftest import FAST

TEXTS = ["my parcel is late, can you help?", "Sorry to hear that! Please DM us your order number."] * 30
SPEC = {"placement": "houlsby", "reduction_factor": 4, "non_linearity": "relu"}


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return train_tokenizer(TEXTS, ScratchModel(vocab_size=300), tmp_path_factory.mktemp("tok"))


def _model(tokenizer: Any, arch: str = "llama") -> Any:
    spec = ScratchModel(arch=arch, vocab_size=300, n_embd=32, n_head=2, n_layer=2, n_positions=64)  # type: ignore[arg-type]
    return build_model(spec, tokenizer, seed=0).eval()


def _ids(tokenizer: Any) -> Any:
    return tokenizer(TEXTS[:2], return_tensors="pt", padding=True)["input_ids"]


@pytest.mark.parametrize(("arch", "placement"), [("llama", "houlsby"), ("gpt2", "pfeiffer")])
def test_untrained_adapter_leaves_logits_unchanged(tokenizer: Any, arch: str, placement: str) -> None:
    import torch

    model = _model(tokenizer, arch)
    ids = _ids(tokenizer)
    with torch.inference_mode():
        before = model(input_ids=ids).logits.clone()
    bottleneck.attach(model, {**SPEC, "placement": placement})
    with torch.inference_mode():
        after = model(input_ids=ids).logits
    assert torch.equal(before, after)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith(f"{bottleneck.ATTR}.") for n in trainable)
    per_block = 2 if placement == "houlsby" else 1
    width = 32 // SPEC["reduction_factor"]  # type: ignore[operator]
    assert parameter_counts(model)["trainable"] == 2 * per_block * (2 * 32 * width + width + 32)


def _nudge(model: Any) -> None:
    """Stand-in for training: non-zero up-projections, so the adapters change the logits."""
    import torch

    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in getattr(model, bottleneck.ATTR).named_parameters():
            if ".up." in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)


def test_version_saves_only_adapters_and_loads_on_its_base(
    tokenizer: Any, tmp_path: Path, settings: Settings
) -> None:
    import torch

    from infinstruct.dialogue import load_version

    base_dir = tmp_path / "base"
    base = _model(tokenizer)
    base.save_pretrained(str(base_dir))
    tokenizer.save_pretrained(str(base_dir))
    bottleneck.attach(base, SPEC)
    _nudge(base)
    final = tmp_path / "final"
    save_artefact(base, final, base=str(base_dir))
    tokenizer.save_pretrained(str(final))
    assert sorted(p.name for p in final.glob("*.safetensors")) == [bottleneck.WEIGHTS]
    assert not (final / "config.json").exists()  # nothing of the base itself
    ids = _ids(tokenizer)
    with torch.inference_mode():
        trained = base(input_ids=ids).logits
        with base_view(base):  # type: ignore[union-attr]
            plain = base(input_ids=ids).logits
    assert not torch.allclose(trained, plain)

    version = ModelVersion(
        name="v",
        kind="dialogue",
        base=str(base_dir),
        method="bottleneck",
        recipe="x",
        artefact_path=str(final),
    )
    loaded, _ = load_version(settings, version, device="cpu", formats=bottleneck.artefact_formats())
    with torch.inference_mode():
        assert torch.allclose(loaded(input_ids=ids).logits, trained, atol=1e-6)
    assert parameter_counts(loaded)["trainable"] == 0  # served frozen

    other = tmp_path / "other"  # a base of another shape refuses the adapters by name
    _model(tokenizer, "gpt2").save_pretrained(str(other))
    tokenizer.save_pretrained(str(other))
    with pytest.raises(ModelLoadError, match="trained on base"):
        load_version(
            settings,
            version.model_copy(update={"base": str(other)}),
            device="cpu",
            formats=bottleneck.artefact_formats(),
        )


def _adapter_weights(folder: str) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / bottleneck.WEIGHTS))


def test_bottleneck_version_continues(tiny_store: Settings, tiny_trained: dict[str, Any]) -> None:
    from infinstruct.core.registry import get_version
    from infinstruct.finetune.training.run import run_recipe

    quick = {**FAST, "optim.max_steps": 4, "eval.generate": 0, "method.name": "bottleneck"}
    first = run_recipe(
        tiny_store,
        "tiny-scratch",
        continue_from=tiny_trained["version"],
        overrides=quick,
        show_progress=False,
    )
    v1 = get_version(tiny_store, first["version"])
    assert v1.method == "bottleneck" and bottleneck.is_bottleneck_folder(v1.artefact_path)
    assert first["train"]["parameters"]["trainable"] < 0.2 * first["train"]["parameters"]["total"]
    second = run_recipe(
        tiny_store, "tiny-scratch", continue_from=v1.name, overrides=quick, show_progress=False
    )
    v2 = get_version(tiny_store, second["version"])
    full = get_version(tiny_store, tiny_trained["version"])
    assert v2.parent_id == v1.id and v2.base == v1.base == full.artefact_path
    w1, w2 = _adapter_weights(v1.artefact_path), _adapter_weights(v2.artefact_path)
    assert w1.keys() == w2.keys()
    up = [k for k in w1 if ".up.weight" in k]
    moved = sum(float((w2[k] - w1[k]).norm()) for k in up)
    size = sum(float(w1[k].norm()) for k in up)
    # Continued from v1's adapters: a fresh start (zero up-projections) would be ~size away.
    assert 0 < moved < size
