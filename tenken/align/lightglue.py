"""LightGlue matching of SIFT features through kornia, when the user provides a weights file.

tenken never downloads weights. Get ``sift_lightglue.pth`` from the LightGlue releases
(https://github.com/cvg/LightGlue/releases) on a machine with network access and pass its path::

    matcher = LightGlueMatcher("models/sift_lightglue.pth")
    tenken.align_pair("target.jpg", "reference.jpg", matcher=matcher)

or ``tenken align TARGET REF --lightglue models/sift_lightglue.pth``. Needs ``pip install tenken[lightglue]``
(kornia and torch). The matcher replaces the ratio test and mutual check only; detection (RootSIFT, the same
descriptors LightGlue's SIFT model was trained on), the robust homography, the sanity checks and the
refinement are unchanged.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from tenken.align.match import Features, Matches
from tenken.core.errors import ModelLoadError


def _renamed(state: dict[str, Any]) -> dict[str, Any]:
    """Key names of the original LightGlue checkpoints -> kornia's module names (as kornia does)."""
    out = {}
    for key, value in state.items():
        k = key[len("matcher.") :] if key.startswith("matcher.") else key
        k = re.sub(r"^(self_attn|cross_attn)\.(\d+)\.", r"transformers.\2.\1.", k)
        out[k] = value
    return out


class LightGlueMatcher:
    """LightGlue (kornia) over tenken's RootSIFT features, loaded from a local weights file.

    Args:
        weights: path of a LightGlue-for-SIFT state dict (``sift_lightglue.pth``, original or kornia keys).
        device: torch device string (``"cpu"``, ``"cuda"``).
        filter_threshold: match confidence threshold in ``[0, 1]`` (LightGlue's default 0.1).
        max_keypoints: strongest keypoints per image passed to the network (bounds CPU time).

    Raises:
        ModelLoadError: kornia/torch missing, the file missing or unreadable, or its tensors do not fit a
            LightGlue-for-SIFT network.
    """

    name = "lightglue"

    def __init__(
        self,
        weights: str | os.PathLike,
        device: str = "cpu",
        filter_threshold: float = 0.1,
        max_keypoints: int = 2048,
    ) -> None:
        try:
            import torch
            from kornia.feature import LightGlue
        except ImportError as exc:
            raise ModelLoadError(f"LightGlue needs kornia and torch: pip install 'tenken[lightglue]' ({exc})") from None
        path = Path(weights)
        if not path.is_file():
            raise ModelLoadError(f"{path}: LightGlue weights file not found")
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad file; all mean "not loadable"
            raise ModelLoadError(
                f"{path}: cannot load LightGlue weights ({type(exc).__name__}: {exc}); expected a PyTorch state "
                "dict such as sift_lightglue.pth from https://github.com/cvg/LightGlue/releases"
            ) from None
        if not isinstance(state, dict):
            raise ModelLoadError(f"{path}: expected a state dict, got {type(state).__name__}")
        state = _renamed(state)
        layers = {int(m.group(1)) for k in state if (m := re.match(r"transformers\.(\d+)\.", k))}
        qkv = state.get("transformers.0.self_attn.Wqkv.weight")
        if not layers or qkv is None:
            raise ModelLoadError(f"{path}: not a LightGlue state dict (no transformer layers)")
        dim = int(qkv.shape[1])
        proj = state.get("input_proj.weight")
        input_dim = int(proj.shape[1]) if proj is not None else dim
        if input_dim != 128:
            raise ModelLoadError(
                f"{path}: these LightGlue weights take {input_dim}-d descriptors; tenken "
                "matches SIFT (128-d): use sift_lightglue.pth"
            )
        wr = state.get("posenc.Wr.weight")
        n_heads = 4 if wr is None else max(1, dim // (2 * int(wr.shape[0])))
        model = LightGlue(
            features=None,
            input_dim=128,
            descriptor_dim=dim,
            n_layers=max(layers) + 1,
            num_heads=n_heads,
            add_scale_ori=True,
            filter_threshold=filter_threshold,
            flash=False,
        )
        try:
            result = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise ModelLoadError(f"{path}: LightGlue weights do not fit the network ({exc})") from None
        params = dict(model.named_parameters())
        missing = [k for k in result.missing_keys if k in params]
        if missing or result.unexpected_keys:
            raise ModelLoadError(
                f"{path}: LightGlue weights incomplete or foreign (missing {missing[:3]}, "
                f"unexpected {list(result.unexpected_keys)[:3]})"
            )
        self.model = model.eval().to(device)
        self.device = device
        self.max_keypoints = max_keypoints
        self._torch = torch

    def _inputs(self, f: Features) -> tuple[dict[str, Any], np.ndarray]:
        torch = self._torch
        keep = np.arange(len(f))
        if len(keep) > self.max_keypoints:
            keep = np.argsort(-f.scales)[: self.max_keypoints]  # the largest blobs are the most repeatable
        s = f.work_scale
        kp = (f.keypoints[keep] + 0.5) / s - 0.5  # back to the pixels the detector ran on
        w, h = f.image_size
        data = {
            "keypoints": torch.from_numpy(kp.astype(np.float32))[None].to(self.device),
            "descriptors": torch.from_numpy(f.descriptors[keep].astype(np.float32))[None].to(self.device),
            "scales": torch.from_numpy((f.scales[keep] / s).astype(np.float32))[None].to(self.device),
            "oris": torch.from_numpy(np.deg2rad(f.angles[keep]).astype(np.float32))[None].to(self.device),
            "image_size": torch.tensor([[w / s, h / s]], dtype=torch.float32, device=self.device),
        }
        return data, keep

    def match(self, reference: Features, target: Features) -> Matches:
        """LightGlue correspondences (full-resolution pixels of each image)."""
        if len(reference) < 2 or len(target) < 2:
            return Matches(np.zeros((0, 2)), np.zeros((0, 2)))
        d0, k0 = self._inputs(reference)
        d1, k1 = self._inputs(target)
        with self._torch.inference_mode():
            out = self.model({"image0": d0, "image1": d1})
        m0 = out["matches0"][0].cpu().numpy()
        scores = out["matching_scores0"][0].float().cpu().numpy()
        ok = m0 >= 0
        i0 = k0[np.nonzero(ok)[0]]
        i1 = k1[m0[ok]]
        return Matches(
            reference.keypoints[i0].astype(np.float64),
            target.keypoints[i1].astype(np.float64),
            (1.0 - scores[ok]).astype(np.float32),
        )
