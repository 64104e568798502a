"""Every diagram in processes/ carries its layout (BPMN DI), so that it opens readably in the modeler and the
viewer: each flow node, lane and participant has a shape, each sequence flow an edge, and nothing is drawn twice
or points at an element that does not exist. New diagrams are laid out with `npm run layout`."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.definitions import BPMN_NS, FLOW_NODE_TAGS

ROOT = Path(__file__).resolve().parents[2]
DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DD_DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
DIAGRAMS = sorted((ROOT / "processes").glob("*.bpmn"))


def _ids(root, tags) -> set[str]:
    return {el.get("id") for el in root.iter() if isinstance(el.tag, str)
            and etree.QName(el).namespace == BPMN_NS and etree.QName(el).localname in tags}


@pytest.mark.parametrize("path", DIAGRAMS, ids=[p.name for p in DIAGRAMS])
def test_every_element_has_its_shape_or_edge(path):
    root = etree.parse(str(path)).getroot()
    nodes = _ids(root, FLOW_NODE_TAGS)
    lanes = _ids(root, {"lane", "participant"})
    flows = _ids(root, {"sequenceFlow"})
    shapes = [el for el in root.iter(f"{{{DI_NS}}}BPMNShape")]
    edges = [el for el in root.iter(f"{{{DI_NS}}}BPMNEdge")]
    shaped = [s.get("bpmnElement") for s in shapes]
    edged = [e.get("bpmnElement") for e in edges]

    assert not (nodes - set(shaped)), f"{path.name}: flow nodes without a shape"
    assert not (lanes - set(shaped)), f"{path.name}: lanes or pools without a shape"
    assert not (flows - set(edged)), f"{path.name}: sequence flows without an edge"
    assert len(shaped) == len(set(shaped)) and len(edged) == len(set(edged)), f"{path.name}: drawn twice"
    assert not (set(shaped) - nodes - lanes), f"{path.name}: shapes of elements that do not exist"
    assert not (set(edged) - flows), f"{path.name}: edges of flows that do not exist"
    for shape in shapes:
        bounds = shape.find(f"{{{DC_NS}}}Bounds")
        assert bounds is not None and float(bounds.get("width")) > 0 and float(bounds.get("height")) > 0
    for edge in edges:
        assert len(edge.findall(f"{{{DD_DI_NS}}}waypoint")) >= 2, f"{path.name}: {edge.get('bpmnElement')}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=[p.name for p in DIAGRAMS])
def test_shapes_sit_inside_their_lane(path):
    """A node drawn outside the lane it belongs to would be read as someone else's work."""
    root = etree.parse(str(path)).getroot()
    bounds = {}
    for shape in root.iter(f"{{{DI_NS}}}BPMNShape"):
        b = shape.find(f"{{{DC_NS}}}Bounds")
        bounds[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        lx, ly, lw, lh = bounds[lane.get("id")]
        for ref in lane.iterfind(f"{{{BPMN_NS}}}flowNodeRef"):
            x, y, w, h = bounds[ref.text.strip()]
            cx, cy = x + w / 2, y + h / 2
            assert lx <= cx <= lx + lw and ly <= cy <= ly + lh, f"{path.name}: {ref.text} outside {lane.get('id')}"


@pytest.mark.parametrize("path", sorted((ROOT / "processes").glob("*.bpmn")) + sorted((ROOT / "processes").glob("*.dmn")),
                         ids=lambda p: p.name)
def test_notes_for_designers_are_documentation_not_xml_comments(path):
    """The modeler and the table editor drop XML comments on saving: a note kept in one would vanish at the first
    deployment from the browser. Notes live in <documentation> (BPMN) and <description> (DMN), which they keep."""
    root = etree.parse(str(path)).getroot()
    assert not [c for c in root.iter(etree.Comment)], f"{path.name}: move the comment into documentation"
