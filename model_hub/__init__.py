"""model_hub: the algorithm-component registry (算法+模型中心) on MLflow.

Cards describe components of three kinds (knowledge 知识, process 工艺, mechanism 机理); the
registry stores them as MLflow registered models with versions, aliases and safety checks; the
catalogue searches them.

Owns: the card and its code tables (`card`, `taxonomy`, with the one OIP datatype → numpy table),
format intake and conversion (`intake`, `convert`, `torch_module`, `safety`, `code`), MLflow
persistence (`store`), the lifecycle of versions (`lifecycle`), verified artifact folders
(`artifacts`), the registry key that signs every manifest hash (`signing`), the catalogue
(`catalog`), a component's serving policy (`serving_policy`) and the hub's errors (`errors`).
`Registry` (`registry`) is the façade over them.

Must not import `deploy`, `scheduler` or `components`: they build on the hub, not the reverse
(components are named by import path only, in `HubSettings.formula_packages`).
"""

from model_hub.artifacts import Loaded
from model_hub.card import Card, Metric, Names, TensorSpec
from model_hub.catalog import Catalog, Entry, Page, Query, Viewer
from model_hub.errors import (
    ArtifactTampered,
    CardInvalid,
    ComponentExists,
    ComponentNotFound,
    ConversionFailed,
    FormulaRejected,
    HubError,
    LegacySignature,
    ManifestUnsigned,
    ModelTooLarge,
    NotOwner,
    OnnxRejected,
    PickleRefused,
    SafetyError,
    SignatureMismatch,
)
from model_hub.intake import resolve_formula
from model_hub.registry import Registry
from model_hub.serving_policy import ServingPolicy
from model_hub.settings import HubSettings
from model_hub.taxonomy import INDUSTRIES, Industry, Kind, Visibility
from model_hub.versions import ComponentInfo, Lineage, Version

__all__ = [
    "INDUSTRIES",
    "ArtifactTampered",
    "Card",
    "CardInvalid",
    "Catalog",
    "ComponentExists",
    "ComponentInfo",
    "ComponentNotFound",
    "ConversionFailed",
    "Entry",
    "FormulaRejected",
    "HubError",
    "HubSettings",
    "Industry",
    "Kind",
    "LegacySignature",
    "Lineage",
    "Loaded",
    "ManifestUnsigned",
    "Metric",
    "ModelTooLarge",
    "Names",
    "NotOwner",
    "OnnxRejected",
    "Page",
    "PickleRefused",
    "Query",
    "Registry",
    "SafetyError",
    "ServingPolicy",
    "SignatureMismatch",
    "TensorSpec",
    "Version",
    "Viewer",
    "Visibility",
    "resolve_formula",
]
