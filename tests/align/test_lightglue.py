"""LightGlue loading and matching through kornia, with random weights built here (no real weights exist
offline). What this cannot verify: match quality with the real ``sift_lightglue.pth``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
kf = pytest.importorskip("kornia.feature")

from tenken.align.lightglue import LightGlueMatcher  # noqa: E402
from tenken.align.match import extract_features  # noqa: E402
from tenken.align.pair import align_pair  # noqa: E402
from tenken.core.errors import ModelLoadError  # noqa: E402


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LightGlue for SIFT (2 layers, random weights) saved with the original release's key names."""
    torch.manual_seed(0)
    model = kf.LightGlue(features=None, input_dim=128, add_scale_ori=True, n_layers=2)
    state = {}
    for k, v in model.state_dict().items():  # kornia names -> the original release's names
        for kind in ("self_attn", "cross_attn"):
            for i in range(2):
                k = k.replace(f"transformers.{i}.{kind}.", f"{kind}.{i}.")
        state[k] = v
    path = tmp_path_factory.mktemp("lg") / "sift_lightglue.pth"
    torch.save(state, path)
    return path


def test_loads_original_key_names_and_matches(weights: Path, photo: np.ndarray) -> None:
    matcher = LightGlueMatcher(weights, filter_threshold=0.0, max_keypoints=300)
    assert not matcher.model.training
    assert len(matcher.model.transformers) == 2
    f = extract_features(photo, nfeatures=400)
    m = matcher.match(f, f)
    # random weights give arbitrary matches; the contract is shape, dtype and coordinates from the inputs
    assert m.reference_points.shape == m.target_points.shape and m.reference_points.shape[1] == 2
    if len(m):
        assert np.isin(m.reference_points[:, 0], f.keypoints[:, 0]).all()


def test_plugs_into_align_pair(weights: Path, photo: np.ndarray) -> None:
    a = align_pair(photo, photo[::-1].copy(), matcher=LightGlueMatcher(weights), views=False)
    assert not a.ok and a.reason  # random weights cannot align; the failure is a reason, not a crash


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        LightGlueMatcher(tmp_path / "none.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ModelLoadError, match=r"cannot load LightGlue weights \(\w+: .*sift_lightglue\.pth"):
        LightGlueMatcher(tmp_path / "junk.pth")  # the cause's type and what file was expected, not a bare number
    sp = kf.LightGlue(features=None, n_layers=1)  # SuperPoint layout: 256-d descriptors
    torch.save(sp.state_dict(), tmp_path / "sp.pth")
    with pytest.raises(ModelLoadError, match="SIFT"):
        LightGlueMatcher(tmp_path / "sp.pth")
    torch.save({"foo": torch.zeros(1)}, tmp_path / "foreign.pth")
    with pytest.raises(ModelLoadError, match="not a LightGlue"):
        LightGlueMatcher(tmp_path / "foreign.pth")
