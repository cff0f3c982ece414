"""Using a trained classifier: load best.pt / last.pt safely, predict, evaluate."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.engine.checkpoint import FORMAT, check_meta, load_checkpoint, rebuild_from_checkpoint
from app.core.errors import CheckpointError
from app.models.layers import class_probabilities, output_kind


def resolve_checkpoint(path: str | Path) -> Path:
    """A run folder means its best.pt (else last.pt); a file is used as it is."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path} holds no best.pt or last.pt: is it a VisionDesk run folder?")
    if not path.exists():
        raise CheckpointError(f"{path} does not exist.")
    return path


def read_model_checkpoint(path: str | Path) -> tuple[dict, dict]:
    """(state_dict, meta) of a best.pt, a last.pt or a shipped weights file."""
    path = resolve_checkpoint(path)
    ckpt = load_checkpoint(path)
    if ckpt.get("kind") == "last" and "task" in ckpt:
        state = ckpt["task"].get("model")
        meta = ckpt.get("meta") or _meta_from_config(ckpt.get("config", {}), ckpt["task"])
    else:
        state, meta = ckpt.get("model"), ckpt.get("meta")
    if not isinstance(state, dict) or not isinstance(meta, dict):
        raise CheckpointError(f"{path.name} is not a VisionDesk model file (no weights or no description of the model).")
    return state, check_meta(meta, path.name)


def _meta_from_config(cfg: dict, task_state: dict) -> dict:
    return task_state.get("meta") or {}


@dataclass
class Classifier:
    model: torch.nn.Module
    meta: dict
    device: torch.device

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.meta["input_shape"]
        return int(c), int(h), int(w)

    def normalise(self, images_uint8: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.meta["mean"], device=self.device).view(1, -1, 1, 1)
        std = torch.tensor(self.meta["std"], device=self.device).view(1, -1, 1, 1)
        return (images_uint8.to(self.device).float() / 255 - mean) / std

    @torch.no_grad()
    def probabilities(self, images_uint8: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Class probabilities for uint8 images (N, C, H, W) of the model's input shape."""
        out = []
        for i in range(0, len(images_uint8), batch_size):
            out.append(class_probabilities(self.model(self.normalise(images_uint8[i:i + batch_size])),
                                           output_kind(self.model)).cpu())
        return torch.cat(out) if out else torch.empty(0, len(self.classes))

    @torch.no_grad()
    def features(self, images_uint8: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        out = []
        for i in range(0, len(images_uint8), batch_size):
            out.append(self.model.features(self.normalise(images_uint8[i:i + batch_size])).float().cpu())
        return torch.cat(out)

    def prepare(self, image: np.ndarray) -> torch.Tensor:
        """Any picture (H, W), (H, W, 3) or (H, W, 4) uint8 -> (1, C, H, W) uint8 of the input shape."""
        from app.data.images import to_model_input

        return to_model_input(image, self.input_shape)

    def top_k(self, image: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        p = self.probabilities(self.prepare(image))[0]
        vals, idx = p.topk(min(k, len(p)))
        return [(self.classes[i], float(v)) for v, i in zip(vals.tolist(), idx.tolist())]


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> Classifier:
    state, meta = read_model_checkpoint(path)
    for key in ("model", "input_shape", "classes", "mean", "std"):
        if key not in meta:
            raise CheckpointError(f"{Path(path).name} does not describe its model fully (missing '{key}').")
    try:
        c, h, w = meta["input_shape"]
        if not isinstance(meta["classes"], (list, tuple)):
            raise TypeError("classes must be a list")
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{Path(path).name} describes its model in a way VisionDesk cannot use "
                              f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}).") from exc
    model = rebuild_from_checkpoint(state, meta, channels=c, size=(h, w), outputs=len(meta["classes"]),
                                    file_name=Path(path).name, device=device)
    return Classifier(model, meta, next(model.parameters(), torch.empty(0)).device)


def labels_for_model(model_classes: list[str], data_classes: list[str], labels: torch.Tensor,
                     data_name: str = "the data") -> tuple[torch.Tensor, str]:
    """The data's labels as the model's class numbers, matched by name: the same list as it is, a data
    set with some of the model's classes (in any order) mapped by name. Classes the model does not know
    are refused in plain words (accuracy under the wrong names would be silently wrong). Returns
    (labels, a note: '' when the lists are the same)."""
    from app.core.errors import UserError

    model_classes, data_classes = [str(c) for c in model_classes], [str(c) for c in data_classes]
    if model_classes == data_classes:
        return labels, ""
    index = {c: i for i, c in enumerate(model_classes)}
    unknown = [c for c in data_classes if c not in index]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        known = ", ".join(model_classes[:5]) + (", ..." if len(model_classes) > 5 else "")
        raise UserError(f"The model was trained on other classes ({len(model_classes)}: {known}) than {data_name} "
                        f"has ({len(data_classes)}); it does not know {shown}, so it cannot be evaluated on it.")
    mapping = torch.tensor([index[c] for c in data_classes], dtype=torch.long)
    note = (f"{data_name} has {len(data_classes)} of the model's {len(model_classes)} classes; they were matched "
            f"by name.")
    return mapping[labels.long()], note


def evaluate_classifier(clf: Classifier, images: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    from app.engine.classification import evaluation_details

    det = evaluation_details(clf.probabilities(images), labels, clf.classes, worst_k=0)
    return {"accuracy": det["accuracy"], "per_class_acc": det["per_class_acc"], "confusion": det["confusion"],
            "classes": clf.classes, "n": int(len(labels))}


__all__ = ["Classifier", "load_classifier", "evaluate_classifier", "read_model_checkpoint", "resolve_checkpoint", "FORMAT"]
