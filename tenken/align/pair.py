"""``align_pair`` and ``align_best``: the public alignment entry points.

Pipeline for one pair: RootSIFT on downscaled copies (the reference's features cached by content) -> ratio
test + mutual check -> ``USAC_MAGSAC`` homography lifted to full resolution -> sanity checks -> when plain
SIFT is weak, affine view synthesis (ASIFT-like) of the reference -> full-resolution patch refinement ->
warp of the reference into the target's pixel frame with its valid-pixel mask.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import cv2
import numpy as np

from tenken.align.homography import (
    MIN_INLIER_RATIO,
    MIN_INLIERS,
    MIN_OVERLAP,
    HomographyEstimate,
    estimate_homography,
    overlap_fraction,
    project,
    quality,
    sanity_check,
)
from tenken.align.match import (
    DEFAULT_MAX_SIDE,
    DEFAULT_NFEATURES,
    DEFAULT_RATIO,
    FeatureCache,
    Features,
    Matches,
    content_key,
    extract_features,
    extract_features_asift,
    match_descriptors,
    to_gray,
)
from tenken.align.refine import refine_homography
from tenken.align.retrieve import ReferenceIndex
from tenken.align.telemetry import Telemetry, read_telemetry
from tenken.align.types import Alignment
from tenken.align.warp import warp_reference
from tenken.core.errors import ImageLoadError
from tenken.core.images import ImageInput, describe, load_image

MIN_SIDE = 32
"""Smallest image side, pixels, that alignment accepts."""

STRONG_INLIERS = 60
"""With fewer inliers than this from plain SIFT, affine view synthesis is tried as well (``views="auto"``)."""


VIEW_SYNTHESIS_CANDIDATES = 2
"""In :func:`align_best`, when no candidate aligns with plain SIFT, view synthesis is tried on this many
candidates (those with the most inliers)."""


class Matcher(Protocol):
    """A replacement for descriptor matching (e.g. :class:`tenken.align.lightglue.LightGlueMatcher`)."""

    name: str

    def match(self, reference: Features, target: Features) -> Matches:
        """Tentative correspondences between two feature sets (full-resolution pixels)."""
        ...


@dataclass
class AlignOptions:
    """Settings of :func:`align_pair` / :func:`align_best` (every field is also a keyword argument).

    Attributes:
        max_side: longest side, pixels, of the copies SIFT runs on.
        nfeatures: keypoints kept per image.
        ratio: Lowe's ratio test threshold.
        views: affine view synthesis: ``"auto"`` (when plain SIFT is weak), ``True`` (always), ``False``.
        refine: refine the homography at full resolution by patch matching.
        warp: produce ``warped_reference`` and ``valid_mask`` (False saves time when only figures are needed).
        min_inliers, min_inlier_ratio, min_overlap: sanity-check limits (see :mod:`tenken.align.homography`).
        allow_identical: accept a reference whose pixels are identical to the target's.
        registered: the pair is already registered (a fixed camera, orthophoto tiles): no matching, the
            homography only rescales the reference to the target's size; ``ok=True`` with a warning.
        matcher: a :class:`Matcher` used instead of nearest-neighbour matching (e.g. LightGlue).
        cache: reference feature cache shared between calls (see :class:`FeatureCache`).
    """

    max_side: int = DEFAULT_MAX_SIDE
    nfeatures: int = DEFAULT_NFEATURES
    ratio: float = DEFAULT_RATIO
    views: bool | Literal["auto"] = "auto"
    refine: bool = True
    warp: bool = True
    min_inliers: int = MIN_INLIERS
    min_inlier_ratio: float = MIN_INLIER_RATIO
    min_overlap: float = MIN_OVERLAP
    allow_identical: bool = False
    registered: bool = False
    matcher: Matcher | None = None
    cache: FeatureCache | None = None


def _options(options: dict[str, Any]) -> AlignOptions:
    known = AlignOptions.__dataclass_fields__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"unknown alignment option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return AlignOptions(**options)


@dataclass
class _Image:
    """A loaded image with its gray copy and lazily computed features."""

    name: str
    rgb: np.ndarray
    gray: np.ndarray
    features: dict[str, Features] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


def _load(source: ImageInput | _Image, name: str | None = None) -> _Image:
    if isinstance(source, _Image):
        return source
    rgb = load_image(source)
    return _Image(name or describe(source), rgb, to_gray(rgb))


def _name(source: ImageInput, i: int) -> str:
    """A reference's name: its path, or ``references[i]`` for in-memory images."""
    return str(source) if isinstance(source, (str, os.PathLike)) else f"references[{i}]"


def _features(img: _Image, opts: AlignOptions, kind: str, cache: FeatureCache | None) -> tuple[Features, bool]:
    """Features of ``img`` (``kind``: "sift" or "asift"), from ``cache`` when present; (features, hit)."""
    if kind in img.features:
        return img.features[kind], True
    key = None
    if cache is not None:
        key = content_key(img.gray, kind=kind, max_side=opts.max_side, nfeatures=opts.nfeatures)
        hit = cache.get(key)
        if hit is not None:
            img.features[kind] = hit
            return hit, True
    if kind == "asift":
        feats = extract_features_asift(img.gray, opts.max_side, opts.nfeatures)
    else:
        feats = extract_features(img.gray, opts.max_side, opts.nfeatures)
    img.features[kind] = feats
    if cache is not None and key is not None:
        cache.put(key, feats)
    return feats, False


@dataclass
class _Result:
    estimate: HomographyEstimate
    matches: Matches
    reason: str | None
    views: str


def _match_and_estimate(
    ref: Features,
    tgt: Features,
    opts: AlignOptions,
    ref_size: tuple[int, int],
    tgt_size: tuple[int, int],
    views: str,
) -> _Result:
    matches = opts.matcher.match(ref, tgt) if opts.matcher is not None else match_descriptors(ref, tgt, opts.ratio)
    return _match_from(matches, opts, ref_size, tgt_size, tgt.work_scale, views)


def _match_from(
    matches: Matches,
    opts: AlignOptions,
    ref_size: tuple[int, int],
    tgt_size: tuple[int, int],
    scale: float,
    views: str,
) -> _Result:
    """Robust homography and sanity check over correspondences (``scale``: target full px per work px)."""
    thr = max(2.0, 2.0 * scale)
    est = estimate_homography(matches.reference_points, matches.target_points, tgt_size, ref_size, thr)
    reason = sanity_check(
        est, len(matches), ref_size, tgt_size, opts.min_inliers, opts.min_inlier_ratio, opts.min_overlap
    )
    return _Result(est, matches, reason, views)


def _guided(first: _Result, ref: _Image, tfeat: Features, opts: AlignOptions, tgt_size: tuple[int, int]) -> _Result:
    """Re-match after warping the reference with ``first``'s homography into the target frame.

    Under a strong viewpoint change the first estimate rests on few synthetic-view matches; once the
    reference is warped into the target's frame the remaining difference is small and plain SIFT matches it
    densely. Correspondences are mapped back to reference pixels, so the result is again reference -> target.
    """
    h = first.estimate.homography
    if first.reason is not None or h is None:
        return first
    warped = cv2.warpPerspective(ref.gray, h, tgt_size, flags=cv2.INTER_LINEAR)
    wfeat = extract_features(warped, opts.max_side, opts.nfeatures)
    m = match_descriptors(wfeat, tfeat, opts.ratio)
    if len(m) < 4:
        return first
    back = Matches(project(np.linalg.inv(h), m.reference_points), m.target_points, m.distances)
    second = _match_from(back, opts, ref.size, tgt_size, tfeat.work_scale, first.views + "+guided")
    return second if _better(second, first) else first


def _better(a: _Result, b: _Result) -> bool:
    """Is ``a`` a better estimate than ``b``?"""
    if (a.reason is None) != (b.reason is None):
        return a.reason is None
    return a.estimate.inliers > b.estimate.inliers


def _estimate(
    tgt: _Image, ref: _Image, opts: AlignOptions, timings: dict[str, float], views: bool | str | None = None
) -> Alignment:
    """Homography and figures for one pair (no warp); ``views`` overrides ``opts.views``."""
    views = opts.views if views is None else views
    warnings: list[str] = []
    for img, role in ((tgt, "target"), (ref, "reference")):
        w, h = img.size
        if min(w, h) < MIN_SIDE:
            return Alignment(
                ok=False,
                reference=ref.name,
                reason=f"{role} {img.name} is too small ({w}x{h} px; "
                f"alignment needs at least {MIN_SIDE} px on each side)",
                warnings=warnings,
            )
    if tgt.size != ref.size:
        warnings.append(f"reference is {ref.size[0]}x{ref.size[1]} px, target {tgt.size[0]}x{tgt.size[1]} px")
    if opts.registered:
        sx, sy = tgt.size[0] / ref.size[0], tgt.size[1] / ref.size[1]
        h = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])
        warnings.append("assumed already registered (registered=True): no matching was done")
        return Alignment(ok=True, homography=h, selection_score=0.0, reference=ref.name, warnings=warnings)
    if not opts.allow_identical and tgt.rgb.shape == ref.rgb.shape and np.array_equal(tgt.rgb, ref.rgb):
        return Alignment(
            ok=False,
            reference=ref.name,
            homography=np.eye(3),
            reason=(
                "target and reference are identical images (same pixels): nothing can have changed; "
                "check the file lists (allow_identical=True accepts this)"
            ),
            warnings=warnings,
        )
    t0 = time.perf_counter()
    tfeat, _ = _features(tgt, opts, "sift", None)
    t1 = time.perf_counter()
    rfeat, _ = _features(ref, opts, "sift", opts.cache)
    t2 = time.perf_counter()
    timings["features_target"] = timings.get("features_target", 0.0) + 1e3 * (t1 - t0)
    timings["features_reference"] = timings.get("features_reference", 0.0) + 1e3 * (t2 - t1)
    for feats, img, role in ((tfeat, tgt, "target"), (rfeat, ref, "reference")):
        if len(feats) < opts.min_inliers:
            return Alignment(
                ok=False,
                reference=ref.name,
                reason=(
                    f"{role} {img.name} has too few features ({len(feats)} keypoints): textureless, blank or "
                    "too blurred to align"
                ),
                warnings=warnings,
            )
    best = _match_and_estimate(rfeat, tfeat, opts, ref.size, tgt.size, "plain")
    t3 = time.perf_counter()
    if views is True or (views == "auto" and (best.reason is not None or best.estimate.inliers < STRONG_INLIERS)):
        afeat, _ = _features(ref, opts, "asift", opts.cache)
        synth = _match_and_estimate(afeat, tfeat, opts, ref.size, tgt.size, f"asift({afeat.views} views)")
        if _better(synth, best):
            best = _guided(synth, ref, tfeat, opts, tgt.size)
    t4 = time.perf_counter()
    timings["match"] = timings.get("match", 0.0) + 1e3 * (t3 - t2)
    timings["view_synthesis"] = timings.get("view_synthesis", 0.0) + 1e3 * (t4 - t3)
    est = best.estimate
    if best.reason is not None:
        return Alignment(
            ok=False,
            homography=est.homography,
            inliers=est.inliers,
            inlier_ratio=est.inlier_ratio,
            mean_reprojection_px=est.mean_reprojection_px,
            reference=ref.name,
            reason=best.reason,
            warnings=warnings,
        )
    h = est.homography
    if opts.refine:
        search = max(8, math.ceil(3 * max(tfeat.work_scale, rfeat.work_scale)))
        ref_result = refine_homography(ref.gray, tgt.gray, h, search_px=search)
        if ref_result.agreeing:
            h = ref_result.homography
        else:
            warnings.append(
                f"full-resolution refinement found too few agreeing patches "
                f"(of {ref_result.patches}); the homography is from the feature matches only"
            )
    timings["refine"] = timings.get("refine", 0.0) + 1e3 * (time.perf_counter() - t4)
    # final figures: inliers of the final homography among the tentative matches
    m = best.matches
    thr = max(2.0, 2.0 * tfeat.work_scale)
    resid = np.linalg.norm(project(h, m.reference_points) - m.target_points, axis=1)
    mask = resid < thr
    if int(mask.sum()) < est.inliers // 2:  # refinement drifted away from the matches: keep the feature fit
        h, mask = est.homography, est.inlier_mask
        warnings.append("full-resolution refinement disagreed with the feature matches and was discarded")
    final = quality(h, m.reference_points, m.target_points, mask, tgt.size, ref.size)
    reason = sanity_check(final, len(m), ref.size, tgt.size, opts.min_inliers, opts.min_inlier_ratio, opts.min_overlap)
    if best.views != "plain":
        warnings.append(f"strong viewpoint change: aligned with affine view synthesis ({best.views})")
    return Alignment(
        ok=reason is None,
        homography=h,
        inliers=final.inliers,
        inlier_ratio=final.inlier_ratio,
        mean_reprojection_px=final.mean_reprojection_px,
        selection_score=final.selection_score,
        reference=ref.name,
        reason=reason,
        warnings=warnings,
    )


def _finish(result: Alignment, tgt: _Image, ref: _Image, opts: AlignOptions, timings: dict[str, float]) -> Alignment:
    t0 = time.perf_counter()
    if result.ok and opts.warp and result.homography is not None:
        warped, mask = warp_reference(ref.rgb, result.homography, tgt.size)
        result.warped_reference, result.valid_mask = warped, mask
        result.valid_fraction = float(mask.mean())
    elif result.ok and result.homography is not None:
        result.valid_fraction = overlap_fraction(result.homography, ref.size, tgt.size)
    timings["warp"] = 1e3 * (time.perf_counter() - t0)
    return result


def align_pair(target: ImageInput, reference: ImageInput, **options: Any) -> Alignment:
    """Align ``reference`` to ``target``: homography (reference -> target pixels), warp, mask, figures.

    Args:
        target, reference: paths, encoded bytes or arrays (RGB or gray), read by :func:`tenken.load_image`.
        **options: fields of :class:`AlignOptions` (``cache=FeatureCache()`` to reuse reference features,
            ``views=True`` to force affine view synthesis, ``matcher=LightGlueMatcher(...)``, ...).

    Returns:
        An :class:`~tenken.align.types.Alignment`; ``ok=False`` with ``reason`` when the pair cannot be
        aligned with confidence (too few features or inliers, degenerate transform, too little overlap, ...).

    Raises:
        ImageLoadError: an image cannot be read (the message names it).
        TypeError: an unknown option.
    """
    opts = _options(options)
    t0 = time.perf_counter()
    tgt, ref = _load(target), _load(reference)
    timings: dict[str, float] = {"load": 1e3 * (time.perf_counter() - t0)}
    with _threads():
        result = _estimate(tgt, ref, opts, timings)
        result = _finish(result, tgt, ref, opts, timings)
    result.candidates = [ref.name]
    timings["total"] = 1e3 * (time.perf_counter() - t0)
    result.timings_ms = timings
    return result


def align_best(
    target: ImageInput,
    references: Sequence[ImageInput],
    *,
    k: int = 5,
    telemetry: Literal["auto"] | None = "auto",
    radius_m: float | None = None,
    index: ReferenceIndex | None = None,
    target_telemetry: Telemetry | None = None,
    **options: Any,
) -> Alignment:
    """Align ``target`` with the best of ``references``: the aligned candidate of smallest selection score.

    Candidates: with ``telemetry="auto"`` and GPS telemetry readable from the target and the references
    (paths), the ``k`` spatially nearest references within ``radius_m`` metres (a
    :class:`~tenken.align.retrieve.ReferenceIndex`; pass a prebuilt one as ``index`` to skip reading the
    references' telemetry; pass ``target_telemetry`` when the target's position comes from a flight log);
    otherwise every reference. With telemetry but no reference within ``radius_m``, the result is
    ``ok=False``. Each candidate is matched (features cached, see ``cache=``); the one whose inlier
    correspondences have the smallest mean image-plane distance wins and is warped.

    Returns:
        The chosen :class:`~tenken.align.types.Alignment`, ``candidates`` listing every candidate
        considered; when none aligns, ``ok=False`` with a ``reason`` listing each candidate's failure.
        A candidate that cannot be read is skipped with a warning.

    Raises:
        ImageLoadError: the target, or every candidate reference, cannot be read.
    """
    if len(references) == 0:
        from tenken.core.errors import InputError

        raise InputError("align_best needs at least one reference image")
    opts = _options(options)
    t0 = time.perf_counter()
    tgt = _load(target)
    timings: dict[str, float] = {}
    warnings: list[str] = []
    chosen = _choose_candidates(target, references, k, telemetry, radius_m, index, target_telemetry, warnings)
    timings["load"] = 1e3 * (time.perf_counter() - t0)
    if not chosen:
        return Alignment(
            ok=False,
            reason=f"no reference frame within {radius_m} m of the target's GPS position",
            warnings=warnings,
            timings_ms={**timings, "total": 1e3 * (time.perf_counter() - t0)},
        )
    best: tuple[Alignment, _Image] | None = None
    failures: list[Alignment] = []
    names: list[str] = []
    failed_sources: list[ImageInput] = []
    with _threads():
        # pass 1: plain SIFT for every candidate (view synthesis is slow; a different place would pay it)
        first_views = False if opts.views == "auto" else opts.views
        unreadable: list[ImageLoadError] = []
        for i, source in enumerate(chosen):
            try:
                ref = _load(source, _name(source, i))
            except ImageLoadError as exc:
                # one missing or corrupt candidate must not sink the others (a flight with a lost frame)
                unreadable.append(exc)
                warnings.append(f"reference skipped: {exc}")
                continue
            names.append(ref.name)
            result = _estimate(tgt, ref, opts, timings, first_views)
            if not result.ok:
                failures.append(result)
                failed_sources.append(source)
            elif best is None or result.selection_score < best[0].selection_score:
                best = (result, ref)
        if not names:
            raise unreadable[0]
        # pass 2: nothing aligned -> affine view synthesis for the most promising candidates
        if best is None and opts.views == "auto":
            order = sorted(range(len(failures)), key=lambda i: -failures[i].inliers)[:VIEW_SYNTHESIS_CANDIDATES]
            for i in order:
                ref = _load(failed_sources[i], failures[i].reference)
                result = _estimate(tgt, ref, opts, timings, True)
                if result.ok and (best is None or result.selection_score < best[0].selection_score):
                    best = (result, ref)
                elif not result.ok:
                    failures[i] = result
        if best is None:
            top = max(failures, key=lambda a: a.inliers)
            reason = "no candidate reference could be aligned: " + "; ".join(
                f"{f.reference}: {f.reason}" for f in failures
            )
            result = Alignment(
                ok=False,
                homography=top.homography,
                inliers=top.inliers,
                inlier_ratio=top.inlier_ratio,
                reference=top.reference,
                reason=reason,
                warnings=warnings + top.warnings,
            )
        else:
            result, ref = best
            result.warnings = warnings + result.warnings
            result = _finish(result, tgt, ref, opts, timings)
    result.candidates = names
    timings["total"] = 1e3 * (time.perf_counter() - t0)
    result.timings_ms = timings
    return result


def _choose_candidates(
    target: ImageInput,
    references: Sequence[ImageInput],
    k: int,
    telemetry: Literal["auto"] | None,
    radius_m: float | None,
    index: ReferenceIndex | None,
    target_telemetry: Telemetry | None,
    warnings: list[str],
) -> list[ImageInput]:
    """The references to match: the k nearest by telemetry when it is available, else all of them."""
    if telemetry is None and index is None:
        return list(references)
    if index is None and radius_m is None and len(references) <= k:
        return list(references)  # retrieval could not narrow the list: skip reading telemetry
    tel = target_telemetry
    if tel is None and isinstance(target, (str, os.PathLike)):
        tel = read_telemetry(target, warnings)
    if tel is None:
        if len(references) > k:
            warnings.append("target has no GPS telemetry: every reference is a candidate")
        return list(references)
    if index is None:
        paths = [r for r in references if isinstance(r, (str, os.PathLike))]
        if len(paths) != len(references):
            return list(references)
        index = ReferenceIndex.from_paths(paths, warnings=warnings)
        if len(index) == 0:
            warnings.append("no reference has GPS telemetry: every reference is a candidate")
            return list(references)
    hits = index.candidates(tel, k=k, radius_m=radius_m)
    by_name = {str(r): r for r in references if isinstance(r, (str, os.PathLike))}
    return [by_name.get(h.name, h.name) for h in hits]


class _threads:
    """Use every core for OpenCV inside alignment (restored afterwards)."""

    def __enter__(self) -> None:
        self._before = cv2.getNumThreads()
        cv2.setNumThreads(max(1, os.cpu_count() or 1))

    def __exit__(self, *exc: object) -> None:
        cv2.setNumThreads(self._before)
