"""Turn a model setting into something a loader accepts.

A setting holds a provisioned name (offline default), a local folder, or a hub id (online users);
only names are rewritten, so a hub id or folder passes through untouched.
"""

from __future__ import annotations

from pathlib import Path

from rag.core.settings import PROJECT_ROOT
from rag.models.provision import model_state
from rag.models.registry import MODELS

# Models this project trains and ships in the repository, by name.
TRAINED_MODELS: dict[str, Path] = {
    "heise-reranker-de": PROJECT_ROOT / "finetune" / "artifacts" / "reranker",
}


# A model folder's state as users read it.
_STATUS_DE = {"missing": "nicht bereitgestellt", "stale": "veraltet"}


class ModelNotProvisionedError(RuntimeError):
    """A registered model name was configured but its folder is not ready."""


def resolve_model(value: str, cache_dir: Path) -> str:
    """Return the folder of a provisioned or shipped name, or ``value`` unchanged for folders and hub ids."""
    if value in TRAINED_MODELS:
        return str(TRAINED_MODELS[value])
    spec = MODELS.get(value)
    if spec is None:
        return value
    state = model_state(spec, cache_dir)
    if state.status != "ready":
        raise ModelNotProvisionedError(
            f"Modell {value!r} ist in {cache_dir} {_STATUS_DE.get(state.status, state.status)}; "
            f"bitte `heise-rag models provision --name {value}` ausführen (oder `make test` / "
            "`make run`, die jedes Modell bereitstellen)."
        )
    return str(state.path)
