"""RepairSight vision: pure frame processing (frame + timestamp_ms in, frozen result out).

See docs/vision.md. Importing this package never imports mediapipe; that happens when a
:class:`HandTracker` (or a pipeline with hands) is built.
"""

from vision.annotations import Annotation, Arrow, Circle, Label, Polyline, Rect, annotation_from_dict
from vision.device import DeviceFollower, FollowOptions
from vision.drawing import draw_overlay
from vision.features import FeatureLocator, FeatureOptions
from vision.geometry import LocationChecks, OutlineLimits, project_points, reference_corners
from vision.hands import (
    Hand,
    HandLandmark,
    HandModelMissingError,
    HandsOptions,
    HandTracker,
    resolve_model_path,
)
from vision.labels import LabelRequest, PlacedLabel, clearance_box, place_labels
from vision.markers import (
    MarkerLocator,
    MarkerOptions,
    MatLayout,
    detect_markers,
    layout_from_image,
    marker_detector,
    render_mat,
    repair_mat_layout,
    write_mat_pdf,
)
from vision.pipeline import ARPipeline, ARState, PipelineOptions
from vision.projection import ProjectedAnnotation, project_annotation, project_annotations
from vision.steps import (
    StepEvent,
    StepProgress,
    StepRule,
    TouchRule,
    VisibleRule,
    check_step,
    step_rule_from_dict,
)
from vision.types import Location

__all__ = [
    "ARPipeline",
    "ARState",
    "Annotation",
    "Arrow",
    "Circle",
    "DeviceFollower",
    "FeatureLocator",
    "FeatureOptions",
    "FollowOptions",
    "Hand",
    "HandLandmark",
    "HandModelMissingError",
    "HandTracker",
    "HandsOptions",
    "Label",
    "LabelRequest",
    "Location",
    "LocationChecks",
    "MarkerLocator",
    "MarkerOptions",
    "MatLayout",
    "OutlineLimits",
    "PipelineOptions",
    "PlacedLabel",
    "Polyline",
    "ProjectedAnnotation",
    "Rect",
    "StepEvent",
    "StepProgress",
    "StepRule",
    "TouchRule",
    "VisibleRule",
    "annotation_from_dict",
    "check_step",
    "clearance_box",
    "detect_markers",
    "draw_overlay",
    "layout_from_image",
    "marker_detector",
    "place_labels",
    "project_annotation",
    "project_annotations",
    "project_points",
    "reference_corners",
    "render_mat",
    "repair_mat_layout",
    "resolve_model_path",
    "step_rule_from_dict",
    "write_mat_pdf",
]
