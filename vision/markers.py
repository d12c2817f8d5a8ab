"""Location by ArUco markers on a printed "repair mat" whose layout is known.

One fixed dictionary, never a scan of all of them: a wrong dictionary invents markers
(``DICT_4X4_*`` finds a bogus one in OpenCV's single-markers photo, ``DICT_APRILTAG_16h5`` one in
its ChArUco photo). ``DICT_6X6_250`` is the default because it is the dictionary our real test
photos were printed with and every marker in them is decoded with none invented
(tests/vision/test_markers.py). Only ids that belong to the layout count, and the homography from
their corners must still pass the same plausibility checks as the feature locator's.

The mat is the reference image: annotations for an ``anchor: aruco`` procedure are in mat pixels.
:func:`render_mat` draws it and :func:`write_mat_pdf` makes a printable A4 PDF at true size.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vision.features import to_gray
from vision.geometry import LocationChecks, checked_location
from vision.types import FloatArray, ImageArray, Location, not_found

DEFAULT_DICTIONARY = "DICT_6X6_250"


def aruco_dictionary(name: str) -> cv2.aruco.Dictionary:
    """The predefined dictionary called ``name`` (e.g. "DICT_6X6_250"); ValueError if unknown."""
    if not name.startswith("DICT_") or not hasattr(cv2.aruco, name):
        raise ValueError(
            f"unknown ArUco dictionary {name!r}; use a cv2.aruco name such as {DEFAULT_DICTIONARY!r}"
        )
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name))


@dataclass(frozen=True)
class Marker:
    """One decoded marker: its id and its TL, TR, BR, BL corners in frame pixels."""

    marker_id: int
    corners_frame_px: FloatArray


def marker_detector(dictionary: str) -> cv2.aruco.ArucoDetector:
    """A detector for one dictionary with sub-pixel corners (the homography needs them)."""
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    return cv2.aruco.ArucoDetector(aruco_dictionary(dictionary), params)


def detect_markers(image: ImageArray, detector: cv2.aruco.ArucoDetector) -> list[Marker]:
    """All markers of the detector's dictionary in ``image``, sorted by id."""
    corners, ids, _ = detector.detectMarkers(to_gray(image))
    if ids is None:
        return []
    found = [
        Marker(int(i), np.asarray(c, dtype=np.float64).reshape(4, 2))
        for c, i in zip(corners, ids.ravel(), strict=True)
    ]
    return sorted(found, key=lambda m: m.marker_id)


@dataclass(frozen=True)
class MatLayout:
    """Where each marker of a mat is, in mat pixels (the reference pixels of an aruco procedure).

    ``markers`` maps id -> TL, TR, BR, BL corners. ``px_per_mm`` fixes the printed size.
    """

    size_px: tuple[int, int]
    markers: Mapping[int, tuple[tuple[float, float], ...]]
    dictionary: str = DEFAULT_DICTIONARY
    px_per_mm: float = 4.0

    def __post_init__(self) -> None:
        aruco_dictionary(self.dictionary)
        if not self.markers:
            raise ValueError("a mat layout needs at least one marker")
        for marker_id, corners in self.markers.items():
            if len(corners) != 4 or any(len(c) != 2 for c in corners):
                raise ValueError(f"marker {marker_id}: corners must be four [x, y] points")

    def corners_of(self, marker_id: int) -> FloatArray:
        return np.array(self.markers[marker_id], dtype=np.float64)


def repair_mat_layout(
    *,
    width_mm: float = 297.0,
    height_mm: float = 210.0,
    marker_mm: float = 36.0,
    margin_mm: float = 10.0,
    px_per_mm: float = 4.0,
    dictionary: str = DEFAULT_DICTIONARY,
) -> MatLayout:
    """The standard mat: A4 landscape, ten markers around the border, the middle free for the device.

    Markers on every side keep the mat locatable when the device or a hand covers some of them.
    """
    size = (round(width_mm * px_per_mm), round(height_mm * px_per_mm))
    side = round(marker_mm * px_per_mm)
    margin = round(margin_mm * px_per_mm)
    xs = np.linspace(margin, size[0] - margin - side, 4).round()
    origins = [(x, margin) for x in xs] + [(x, size[1] - margin - side) for x in xs]
    middle = (size[1] - side) // 2
    origins += [(margin, middle), (size[0] - margin - side, middle)]
    # A marker's corners are the outer corners of its black border: pixel edges, so half a
    # pixel outside the centres of its corner pixels (the convention ArUco detection reports).
    markers = {
        i: (
            (x - 0.5, y - 0.5),
            (x + side - 0.5, y - 0.5),
            (x + side - 0.5, y + side - 0.5),
            (x - 0.5, y + side - 0.5),
        )
        for i, (x, y) in enumerate((float(x), float(y)) for x, y in origins)
    }
    return MatLayout(size_px=size, markers=markers, dictionary=dictionary, px_per_mm=px_per_mm)


def layout_from_image(
    image: ImageArray, dictionary: str = DEFAULT_DICTIONARY, px_per_mm: float = 4.0
) -> MatLayout:
    """A layout read from a photo or scan of a marker sheet, so that photo can be the reference."""
    found = detect_markers(image, marker_detector(dictionary))
    if not found:
        raise ValueError(f"no {dictionary} markers in the image; is it the right dictionary?")
    markers = {m.marker_id: tuple((float(x), float(y)) for x, y in m.corners_frame_px) for m in found}
    return MatLayout((image.shape[1], image.shape[0]), markers, dictionary, px_per_mm)


def render_mat(layout: MatLayout) -> ImageArray:
    """The mat as a grey image in mat pixels: white paper, black markers, a frame for the device."""
    width, height = layout.size_px
    mat = np.full((height, width), 255, np.uint8)
    dictionary = aruco_dictionary(layout.dictionary)
    for marker_id, corners in layout.markers.items():
        pts = np.array(corners, dtype=np.float64)
        side = round(pts[1, 0] - pts[0, 0])
        x, y = round(pts[0, 0] + 0.5), round(pts[0, 1] + 0.5)
        mat[y : y + side, x : x + side] = cv2.aruco.generateImageMarker(dictionary, marker_id, side)
    inset = round(60 * layout.px_per_mm)
    cv2.rectangle(
        mat, (inset, inset), (width - 1 - inset, height - 1 - inset), 160, max(1, round(layout.px_per_mm / 2))
    )
    cv2.putText(
        mat,
        "RepairSight mat: place the device here",
        (inset + 20, inset + 60),
        cv2.FONT_HERSHEY_SIMPLEX,
        layout.px_per_mm / 4,
        120,
        max(1, round(layout.px_per_mm / 2)),
        cv2.LINE_AA,
    )
    return mat


def write_mat_pdf(layout: MatLayout, path: Path) -> None:
    """Write the mat as a one-page PDF at true size (print at 100%, no "fit to page").

    A minimal PDF 1.4 with one Flate-compressed greyscale image; no PDF library needed.
    """
    image = render_mat(layout)
    height, width = image.shape
    page_w = width / layout.px_per_mm * 72 / 25.4
    page_h = height / layout.px_per_mm * 72 / 25.4
    data = zlib.compress(image.tobytes(), 9)
    content = f"q {page_w:.3f} 0 0 {page_h:.3f} 0 0 cm /Mat Do Q".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {page_w:.3f} {page_h:.3f}] "
        f"/Resources << /XObject << /Mat 4 0 R >> >> /Contents 5 0 R >>".encode("ascii"),
        f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray "
        f"/BitsPerComponent 8 /Filter /FlateDecode /Length {len(data)} >>\nstream\n".encode("ascii")
        + data
        + b"\nendstream",
        f"<< /Length {len(content)} >>\nstream\n".encode("ascii") + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    out += b"".join(f"{offset:010d} 00000 n \n".encode("ascii") for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode("ascii")
    Path(path).write_bytes(bytes(out))


@dataclass(frozen=True)
class MarkerOptions:
    """``min_markers``: how many layout markers must agree (one marker fixes a homography, but
    extrapolates it poorly to the far side of the mat)."""

    min_markers: int = 2
    ransac_threshold_px: float = 3.0
    checks: LocationChecks = field(
        default_factory=lambda: LocationChecks(
            min_inliers=8, min_inlier_ratio=0.5, min_hull_frac=0.0, min_cells=1
        )
    )


class MarkerLocator:
    """Finds a mat (or any marker sheet with a known layout) in frames; no per-frame state."""

    def __init__(
        self, layout: MatLayout, reference: ImageArray | None = None, options: MarkerOptions | None = None
    ) -> None:
        self.layout = layout
        self.options = options or MarkerOptions()
        self.reference_gray = render_mat(layout) if reference is None else to_gray(reference)
        height, width = self.reference_gray.shape
        if (width, height) != layout.size_px:
            raise ValueError(
                f"reference is {width}x{height} px but the layout is {layout.size_px[0]}x{layout.size_px[1]}"
            )
        self.reference_size = layout.size_px
        self._detector = marker_detector(layout.dictionary)

    def markers(self, frame_gray: ImageArray) -> list[Marker]:
        """The layout's markers visible in the frame (ids outside the layout are ignored)."""
        return [m for m in detect_markers(frame_gray, self._detector) if m.marker_id in self.layout.markers]

    def locate(self, frame_gray: ImageArray) -> Location:
        found = self.markers(frame_gray)
        if len(found) < self.options.min_markers:
            return not_found("aruco", f"{len(found)} mat markers visible (< {self.options.min_markers})")
        src = np.vstack([self.layout.corners_of(m.marker_id) for m in found])
        dst = np.vstack([m.corners_frame_px for m in found])
        homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, self.options.ransac_threshold_px)
        if homography is None or mask is None:
            return not_found("aruco", "no homography fits the marker corners", matches=len(src))
        inlier = mask.ravel().astype(bool)
        return checked_location(
            "aruco",
            np.asarray(homography, dtype=np.float64),
            src[inlier],
            dst[inlier],
            ref_size=self.reference_size,
            frame_size=(frame_gray.shape[1], frame_gray.shape[0]),
            checks=self.options.checks,
            matches=len(src),
            inlier_ratio=float(inlier.mean()),
        )
