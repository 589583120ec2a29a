from __future__ import annotations

import numpy as np
import pytest
import torch

from model_hub import ConversionFailed, convert
from tests import onnx_models
from tests.cards import make_card


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def test_torch_export_matches_torch_and_keeps_the_batch_dynamic() -> None:
    card = make_card()
    module = mlp()
    model = convert.torch_to_onnx(module, card, convert.sample_inputs(card.inputs, batch=3))
    x = np.random.default_rng(1).standard_normal((7, 4)).astype(np.float32)
    (y,) = convert.run_onnx(model, {"x": x})
    expected = module(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_torch_export_is_checked_in_eval_mode() -> None:
    card = make_card()
    module = torch.nn.Sequential(torch.nn.Linear(4, 1), torch.nn.Dropout(0.9))
    module.train()  # dropout in training mode would make outputs random; export uses eval()
    convert.torch_to_onnx(module, card, convert.sample_inputs(card.inputs))


def test_sample_inputs_must_match_the_card() -> None:
    with pytest.raises(ConversionFailed, match="card's inputs are"):
        convert.torch_to_onnx(mlp(), make_card(), {"features": np.zeros((2, 4), np.float32)})


def test_numeric_disagreement_is_refused() -> None:
    with pytest.raises(ConversionFailed, match="differs from the original by up to 0.5"):
        convert.compare_outputs(
            [np.zeros((2, 1), np.float32)], [np.full((2, 1), 0.5, np.float32)], 1e-4, 1e-3
        )
    with pytest.raises(ConversionFailed, match="2 outputs"):
        convert.compare_outputs([np.zeros(1), np.zeros(1)], [np.zeros(1)], 1e-4, 1e-3)


def test_sklearn_regressor_and_classifier_convert_with_card_names() -> None:
    from sklearn.linear_model import LogisticRegression, Ridge

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    reg_card = make_card()
    model = convert.sklearn_to_onnx(Ridge().fit(x, x @ [1.0, 2, 3, 4]), reg_card, {"x": x})
    assert [o.name for o in model.graph.output] == ["y"]

    cls_card = make_card(
        task="classification",
        outputs=[
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "proba", "datatype": "FP32", "shape": [-1, 2]},
        ],
    )
    clf = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    model = convert.sklearn_to_onnx(clf, cls_card, {"x": x})
    label, proba = convert.run_onnx(model, {"x": x})
    np.testing.assert_array_equal(label, clf.predict(x))
    np.testing.assert_allclose(proba, clf.predict_proba(x), atol=1e-5)


def test_sklearn_shape_mismatch_says_to_fix_the_card() -> None:
    from sklearn.linear_model import Ridge

    x = np.ones((8, 3), np.float32)
    with pytest.raises(ConversionFailed, match="make the card's input shape match"):
        convert.sklearn_to_onnx(Ridge().fit(x, x[:, 0]), make_card(), {"x": np.ones((8, 4), np.float32)})


def test_onnx_interface_must_match_the_card() -> None:
    convert.check_interface(onnx_models.linear(), make_card())
    with pytest.raises(ConversionFailed, match="make the card match the model"):
        convert.check_interface(onnx_models.linear(in_name="features"), make_card())
