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
from tenken.align.retrieve import Candidate, ReferenceIndex
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


def _precheck(tgt: _Image, ref: _Image, opts: AlignOptions, warnings: list[str]) -> Alignment | None:
    """The result for a pair that needs no matching (too small, already registered, identical), else None."""
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
    return None


def _add_time(timings: dict[str, float], stage: str, since: float) -> float:
    """Add the milliseconds since ``since`` to ``timings[stage]``; returns now."""
    now = time.perf_counter()
    timings[stage] = timings.get(stage, 0.0) + 1e3 * (now - since)
    return now


def _sift_pair(
    tgt: _Image, ref: _Image, opts: AlignOptions, timings: dict[str, float], warnings: list[str]
) -> tuple[Features, Features] | Alignment:
    """Plain SIFT features of both images, or an ``ok=False`` result when either has too few."""
    t0 = time.perf_counter()
    tfeat, _ = _features(tgt, opts, "sift", None)
    t0 = _add_time(timings, "features_target", t0)
    rfeat, _ = _features(ref, opts, "sift", opts.cache)
    _add_time(timings, "features_reference", t0)
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
    return tfeat, rfeat


def _best_estimate(
    tfeat: Features,
    rfeat: Features,
    tgt: _Image,
    ref: _Image,
    opts: AlignOptions,
    views: bool | str,
    timings: dict[str, float],
) -> _Result:
    """Plain SIFT matching, then affine view synthesis when asked for or when plain SIFT is weak."""
    t0 = time.perf_counter()
    best = _match_and_estimate(rfeat, tfeat, opts, ref.size, tgt.size, "plain")
    t0 = _add_time(timings, "match", t0)
    if views is True or (views == "auto" and (best.reason is not None or best.estimate.inliers < STRONG_INLIERS)):
        afeat, _ = _features(ref, opts, "asift", opts.cache)
        synth = _match_and_estimate(afeat, tfeat, opts, ref.size, tgt.size, f"asift({afeat.views} views)")
        if _better(synth, best):
            best = _guided(synth, ref, tfeat, opts, tgt.size)
    _add_time(timings, "view_synthesis", t0)
    return best


def _refined(
    best: _Result, tfeat: Features, rfeat: Features, tgt: _Image, ref: _Image, opts: AlignOptions, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The full-resolution refined homography and its inlier mask among the tentative matches (the feature
    fit when refinement fails or drifts away from the matches)."""
    est = best.estimate
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
    m = best.matches
    thr = max(2.0, 2.0 * tfeat.work_scale)
    mask = np.linalg.norm(project(h, m.reference_points) - m.target_points, axis=1) < thr
    if int(mask.sum()) < est.inliers // 2:  # refinement drifted away from the matches: keep the feature fit
        h, mask = est.homography, est.inlier_mask
        warnings.append("full-resolution refinement disagreed with the feature matches and was discarded")
    return h, mask


def _estimate(
    tgt: _Image, ref: _Image, opts: AlignOptions, timings: dict[str, float], views: bool | str | None = None
) -> Alignment:
    """Homography and figures for one pair (no warp); ``views`` overrides ``opts.views``."""
    warnings: list[str] = []
    early = _precheck(tgt, ref, opts, warnings)
    if early is not None:
        return early
    feats = _sift_pair(tgt, ref, opts, timings, warnings)
    if isinstance(feats, Alignment):
        return feats
    tfeat, rfeat = feats
    best = _best_estimate(tfeat, rfeat, tgt, ref, opts, opts.views if views is None else views, timings)
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
    t0 = time.perf_counter()
    h, mask = _refined(best, tfeat, rfeat, tgt, ref, opts, warnings)
    _add_time(timings, "refine", t0)
    m = best.matches
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

    Candidates: with ``telemetry="auto"`` and telemetry readable from the target and the references (paths),
    the ``k`` best by retrieval score within ``radius_m`` metres (position, altitude and viewing direction, see
    :mod:`tenken.align.retrieve`; pass a prebuilt :class:`~tenken.align.retrieve.ReferenceIndex` as ``index`` to
    skip reading the references' telemetry; pass ``target_telemetry`` when the target's position comes from a
    flight log); otherwise every reference. With telemetry but no reference within ``radius_m``, the result is
    ``ok=False``. Each candidate is matched (features cached, see ``cache=``); the one whose inlier
    correspondences have the smallest mean image-plane distance wins and is warped.

    Returns:
        The chosen :class:`~tenken.align.types.Alignment`, ``candidates`` listing every candidate matched and
        ``explain`` saying for each reference looked at why it was chosen or skipped; when none aligns,
        ``ok=False`` with a ``reason`` listing each candidate's failure. A candidate that cannot be read is
        skipped with a warning.

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
    chosen, retrieval = _choose_candidates(
        target, references, k, telemetry, radius_m, index, target_telemetry, warnings
    )
    timings["load"] = 1e3 * (time.perf_counter() - t0)
    if not chosen:
        return Alignment(
            ok=False,
            reason=f"no reference frame within {radius_m} m of the target's GPS position",
            explain=_explain(retrieval, [], None),
            warnings=warnings,
            timings_ms={**timings, "total": 1e3 * (time.perf_counter() - t0)},
        )
    with _threads():
        tried = _match_candidates(tgt, chosen, opts, timings, warnings)
        best = _best_of(tried)
        if best is None and opts.views == "auto":
            best = _view_synthesis_pass(tgt, tried, opts, timings)
        if best is None:
            result = _none_aligned([a for a, _ in tried.values()], warnings)
        else:
            result, ref = tried[best]
            result.warnings = warnings + result.warnings
            result = _finish(result, tgt, ref, opts, timings)
    result.candidates = list(tried)
    result.explain = _explain(retrieval, [a for a, _ in tried.values()], best)
    timings["total"] = 1e3 * (time.perf_counter() - t0)
    result.timings_ms = timings
    return result


def _match_candidates(
    tgt: _Image, chosen: list[ImageInput], opts: AlignOptions, timings: dict[str, float], warnings: list[str]
) -> dict[str, tuple[Alignment, _Image | ImageInput]]:
    """Pass 1: plain SIFT for every candidate (view synthesis is slow; a different place would pay it).

    Returns ``{name: (alignment, image source)}`` in candidate order; only the best aligned candidate so far
    keeps its loaded image (the others keep their source, so a long list does not hold every image).

    Raises:
        ImageLoadError: no candidate could be read.
    """
    first_views = False if opts.views == "auto" else opts.views
    tried: dict[str, tuple[Alignment, _Image | ImageInput]] = {}
    sources: dict[str, ImageInput] = {}
    unreadable: list[ImageLoadError] = []
    for i, source in enumerate(chosen):
        try:
            ref = _load(source, _name(source, i))
        except ImageLoadError as exc:
            # one missing or corrupt candidate must not sink the others (a flight with a lost frame)
            unreadable.append(exc)
            warnings.append(f"reference skipped: {exc}")
            continue
        result = _estimate(tgt, ref, opts, timings, first_views)
        sources[ref.name] = source
        best = _best_of(tried)
        if result.ok and (best is None or result.selection_score < tried[best][0].selection_score):
            if best is not None:
                tried[best] = (tried[best][0], sources[best])
            tried[ref.name] = (result, ref)
        else:
            tried[ref.name] = (result, source)
    if not tried:
        raise unreadable[0]
    return tried


def _best_of(tried: dict[str, tuple[Alignment, Any]]) -> str | None:
    """The name of the aligned candidate with the smallest selection score (None when none aligned)."""
    ok = [(a.selection_score, name) for name, (a, _) in tried.items() if a.ok]
    return min(ok, key=lambda t: t[0])[1] if ok else None


def _view_synthesis_pass(
    tgt: _Image, tried: dict[str, tuple[Alignment, Any]], opts: AlignOptions, timings: dict[str, float]
) -> str | None:
    """Pass 2, when nothing aligned: affine view synthesis for the most promising candidates (most inliers).
    Updates ``tried`` in place; returns the best aligned name, if any."""
    order = sorted(tried, key=lambda n: -tried[n][0].inliers)[:VIEW_SYNTHESIS_CANDIDATES]
    for name in order:
        ref = _load(tried[name][1], name)
        result = _estimate(tgt, ref, opts, timings, True)
        tried[name] = (result, ref if result.ok else tried[name][1])
    return _best_of(tried)


def _none_aligned(failures: list[Alignment], warnings: list[str]) -> Alignment:
    """The ``ok=False`` result when no candidate aligned: the figures of the one with most inliers."""
    top = max(failures, key=lambda a: a.inliers)
    reason = "no candidate reference could be aligned: " + "; ".join(f"{f.reference}: {f.reason}" for f in failures)
    return Alignment(
        ok=False,
        homography=top.homography,
        inliers=top.inliers,
        inlier_ratio=top.inlier_ratio,
        reference=top.reference,
        reason=reason,
        warnings=warnings + top.warnings,
    )


def _explain(retrieval: list[Candidate], matched: list[Alignment], best: str | None) -> list[dict[str, Any]]:
    """Per reference looked at: retrieval and alignment figures and the decision (see ``Alignment.explain``)."""
    by_name = {c.name: c for c in retrieval}
    rows: list[dict[str, Any]] = []
    for a in matched:
        if a.ok:
            decision = "chosen" if a.reference == best else "aligned, not the best"
            why = (
                f"smallest selection score ({a.selection_score:.1f} px)"
                if decision == "chosen"
                else f"selection score {a.selection_score:.1f} px is larger than the chosen one's"
            )
        else:
            decision, why = "not aligned", str(a.reason)
        rows.append(_explain_row(by_name.pop(str(a.reference), None), str(a.reference), decision, why, a))
    rows += [_explain_row(c, c.name, "not retrieved", str(c.reason), None) for c in retrieval if c.name in by_name]
    return rows


def _explain_row(c: Candidate | None, name: str, decision: str, why: str, a: Alignment | None) -> dict[str, Any]:
    def num(v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else round(float(v), 3)

    return {
        "name": name,
        "decision": decision,
        "why": why,
        "distance_m": None if c is None else num(c.distance_m),
        "altitude_diff_m": None if c is None else num(c.altitude_diff_m),
        "angle_deg": None if c is None else num(c.angle_deg),
        "retrieval_score": None if c is None else num(c.score),
        "aligned": None if a is None else a.ok,
        "selection_score": None if a is None else num(a.selection_score),
        "inliers": None if a is None else int(a.inliers),
    }


def _choose_candidates(
    target: ImageInput,
    references: Sequence[ImageInput],
    k: int,
    telemetry: Literal["auto"] | None,
    radius_m: float | None,
    index: ReferenceIndex | None,
    target_telemetry: Telemetry | None,
    warnings: list[str],
) -> tuple[list[ImageInput], list[Candidate]]:
    """The references to match (the k best by telemetry when it is available, else all of them) and what
    retrieval saw (chosen and skipped candidates; empty without telemetry)."""
    if telemetry is None and index is None:
        return list(references), []
    tel = target_telemetry
    if tel is None and isinstance(target, (str, os.PathLike)):
        tel = read_telemetry(target, warnings)
    if tel is None:
        if len(references) > k:
            warnings.append("target has no GPS telemetry: every reference is a candidate")
        return list(references), []
    if index is None:
        paths = [r for r in references if isinstance(r, (str, os.PathLike))]
        if len(paths) != len(references):
            return list(references), []
        index = ReferenceIndex.from_paths(paths, warnings=warnings)
        if len(index) == 0:
            warnings.append("no reference has GPS telemetry: every reference is a candidate")
            return list(references), []
    found = index.query(tel, k=k, radius_m=radius_m, explain=True)
    by_name = {str(r): r for r in references if isinstance(r, (str, os.PathLike))}
    return [by_name.get(h.name, h.name) for h in found.chosen], found.chosen + found.skipped


class _threads:
    """Use every core for OpenCV inside alignment (restored afterwards)."""

    def __enter__(self) -> None:
        self._before = cv2.getNumThreads()
        cv2.setNumThreads(max(1, os.cpu_count() or 1))

    def __exit__(self, *exc: object) -> None:
        cv2.setNumThreads(self._before)
