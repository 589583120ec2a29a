"""Components kept in torch: safetensors weights, code from allowed packages, verified at registration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model_hub import ArtifactTampered, ConversionFailed, Registry
from model_hub.errors import TorchRejected
from tests.cards import make_card
from tests.torch_modules import Refiner, TwoHeads


def _x(rows: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, 4)).astype(np.float32)


def test_a_torch_component_is_stored_without_pickle_and_rebuilt_exactly(registry: Registry) -> None:
    torch.manual_seed(0)
    module = Refiner()
    version = registry.register_torch_module(make_card(), module, {"features": 4})
    assert version.format == "torch"
    loaded = registry.load("reactor-quality")
    files = sorted(p.name for p in loaded.path.iterdir())
    assert files == ["card.json", "manifest.json", "torch.json", "weights.safetensors"]
    assert json.loads((loaded.path / "torch.json").read_text()) == {
        "entrypoint": "tests.torch_modules:Refiner",
        "config": {"features": 4},
    }
    rebuilt = loaded.torch_module(registry.settings.formula_packages)
    x = _x(7, seed=3)  # other rows than the ones checked at registration
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
        got = rebuilt(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(got, expected)


def test_factories_dict_outputs_and_tied_weights(registry: Registry) -> None:
    card = make_card(
        name="two-heads",
        outputs=[
            {"name": "a", "datatype": "FP32", "shape": [-1, 1]},
            {"name": "b", "datatype": "FP32", "shape": [-1, 1]},
        ],
    )
    module = TwoHeads()
    registry.register_torch_module(card, module)
    rebuilt = registry.load("two-heads").torch_module(["tests"])
    assert rebuilt.second.weight is rebuilt.first.weight  # the tie survives the round trip
    registry.register_torch_module(
        make_card(), Refiner(features=4), {"features": 4}, entrypoint="tests.torch_modules:refiner"
    )
    assert json.loads((registry.load("reactor-quality").path / "torch.json").read_text())["entrypoint"] == (
        "tests.torch_modules:refiner"
    )


def test_code_outside_the_allowed_packages_is_refused(registry: Registry) -> None:
    class Local(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum(dim=1, keepdim=True)

    with pytest.raises(TorchRejected, match="inside a function"):
        registry.register_torch_module(make_card(), Local())
    with pytest.raises(TorchRejected, match="outside the allowed packages"):
        registry.register_torch_module(make_card(), Refiner(), entrypoint="torch.nn:Linear")
    with pytest.raises(TorchRejected, match="plain JSON"):
        registry.register_torch_module(make_card(), Refiner(), {"features": object()})
    assert registry.count_registered() == 0


def test_weights_that_do_not_fit_the_config_are_refused(registry: Registry) -> None:
    # Built with 6 features but described as 4: the stored weights cannot be loaded strictly.
    card = make_card(inputs=[{"name": "x", "datatype": "FP32", "shape": [-1, 6]}])
    with pytest.raises(TorchRejected, match="do not fit"):
        registry.register_torch_module(card, Refiner(features=6), {"features": 4})
    assert registry.count_registered() == 0


def test_state_outside_the_state_dict_is_caught_by_the_check(registry: Registry) -> None:
    module = Refiner()
    module.linear.weight.data *= 3  # still in the state_dict: fine
    registry.register_torch_module(make_card(name="scaled"), module)
    drifting = Refiner(tolerance=0.5)  # a constructor argument the config does not repeat
    with pytest.raises(ConversionFailed, match="differs from the original"):
        registry.register_torch_module(make_card(name="drifting"), drifting, {"features": 4})
    assert registry.count_registered() == 1


def test_tampered_weights_are_refused_at_load(registry: Registry, tmp_path: Path) -> None:
    registry.register_torch_module(make_card(), Refiner())
    loaded = registry.load("reactor-quality")
    source = Path(loaded.version.source.removeprefix("file://")) / "weights.safetensors"
    source.write_bytes(source.read_bytes()[:-4] + b"\0\0\0\0")
    import shutil

    shutil.rmtree(loaded.path)  # force a fetch from the store
    with pytest.raises(ArtifactTampered, match="weights.safetensors"):
        registry.load("reactor-quality")
