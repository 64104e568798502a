// Lays out hand-written BPMN so that it opens readably in the modeler and the viewer.
//
//   npm run layout                              # every processes/*.bpmn
//   node processes/tools/layout.mjs FILE.bpmn   # one file
//
// 1. bpmn-auto-layout (pinned in package.json) places every flow node on a grid: its column follows the
//    sequence flows, its row separates branches. It ignores lanes and draws sub-processes collapsed.
// 2. Tidying keeps its columns and the order of its rows, then stacks the rows lane by lane (each node in the
//    lane of its flowNodeRef), draws embedded sub-processes expanded with their own grid inside, puts boundary
//    events on the lower edge of their activity, and routes every sequence flow orthogonally.
// The semantic XML is kept byte for byte; only the <bpmndi:BPMNDiagram> part is replaced.
import { readFileSync, writeFileSync } from 'node:fs';
import { layoutProcess } from 'bpmn-auto-layout';
import { BpmnModdle } from 'bpmn-moddle';

const COL_W = 160, ROW_H = 130, LANE_HEADER = 30, POOL_HEADER = 30, LANE_PAD = 20;
const SUB_COL_W = 150, SUB_ROW_H = 120, SUB_PAD_X = 20, SUB_PAD_TOP = 40, SUB_PAD_BOTTOM = 30;
const X0 = 100, Y0 = 40;

const SIZES = { event: [36, 36], gateway: [50, 50], task: [100, 80] };

function kindOf(el) {
  const t = el.$type;
  if (t.endsWith('Event')) return 'event';
  if (t.endsWith('Gateway')) return 'gateway';
  return 'task';
}

function isFlowNode(el) {
  return el.$type !== 'bpmn:SequenceFlow' && !el.$type.startsWith('bpmn:Association')
    && el.$type !== 'bpmn:DataObject' && el.$type !== 'bpmn:TextAnnotation';
}

const stripDi = (xml) => xml.replace(/\s*<bpmndi:BPMNDiagram[\s\S]*?<\/bpmndi:BPMNDiagram>/g, '');

async function gridOf(xml) {
  // Columns and rows of bpmn-auto-layout: 150 px apart horizontally, 140 px vertically, first centre at (75, 70).
  const laidOut = await layoutProcess(xml);
  const moddle = new BpmnModdle();
  const { rootElement } = await moddle.fromXML(laidOut);
  const grid = new Map();
  for (const diagram of rootElement.diagrams) {
    for (const di of diagram.plane.planeElement) {
      if (!di.bounds || !di.bpmnElement) continue;
      const b = di.bounds;
      grid.set(di.bpmnElement.id, {
        col: Math.round((b.x + b.width / 2 - 75) / 150),
        row: Math.round((b.y + b.height / 2 - 70) / 140),
      });
    }
  }
  return grid;
}

function repairGrid(process, grid) {
  // bpmn-auto-layout sometimes drops what follows a second boundary event on the same activity into column 0
  // (or leaves it out): put such a node one column after, one row below, the boundary event's host, and what
  // follows it (reached only from it) in the columns after.
  const elements = process.flowElements || [];
  const flows = elements.filter((e) => e.$type === 'bpmn:SequenceFlow');
  const incoming = new Map();
  for (const f of flows) incoming.set(f.targetRef.id, (incoming.get(f.targetRef.id) || 0) + 1);
  const repaired = new Set();
  for (const f of flows) {
    const b = f.sourceRef;
    if (b.$type !== 'bpmn:BoundaryEvent') continue;
    const host = grid.get(b.attachedToRef.id), t = grid.get(f.targetRef.id);
    if (!host || (t && t.col > host.col)) continue;
    grid.set(f.targetRef.id, { col: host.col + 1, row: host.row + 1 });
    repaired.add(f.targetRef.id);
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const f of flows) {
      if (!repaired.has(f.sourceRef.id) || repaired.has(f.targetRef.id) || incoming.get(f.targetRef.id) !== 1) continue;
      const from = grid.get(f.sourceRef.id), t = grid.get(f.targetRef.id);
      if (t && t.col > from.col) continue;
      grid.set(f.targetRef.id, { col: from.col + 1, row: from.row });
      repaired.add(f.targetRef.id);
      changed = true;
    }
  }
}

function box(x, y, w, h) {
  return { x, y, w, h, cx: x + w / 2, cy: y + h / 2, right: x + w, bottom: y + h };
}

function layoutContainer(container, grid, boxes, boundaryOf) {
  // Lays out the children of a sub-process on its own grid; returns the footprint size.
  const nodes = (container.flowElements || []).filter((e) => isFlowNode(e) && e.$type !== 'bpmn:BoundaryEvent');
  const cols = nodes.map((n) => grid.get(n.id)?.col ?? 0);
  const rows = nodes.map((n) => grid.get(n.id)?.row ?? 0);
  const minCol = Math.min(...cols), minRow = Math.min(...rows);
  const w = (Math.max(...cols) - minCol + 1) * SUB_COL_W + 2 * SUB_PAD_X;
  const h = (Math.max(...rows) - minRow + 1) * SUB_ROW_H + SUB_PAD_TOP + SUB_PAD_BOTTOM;
  return {
    w, h,
    place(x, y) {
      nodes.forEach((n, i) => {
        const [nw, nh] = SIZES[kindOf(n)];
        const cx = x + SUB_PAD_X + (cols[i] - minCol) * SUB_COL_W + SUB_COL_W / 2;
        const cy = y + SUB_PAD_TOP + (rows[i] - minRow) * SUB_ROW_H + SUB_ROW_H / 2 - 10;
        boxes.set(n.id, box(cx - nw / 2, cy - nh / 2, nw, nh));
      });
      placeBoundaries(container, boxes, boundaryOf);
    },
  };
}

function placeBoundaries(container, boxes) {
  const byHost = new Map();
  for (const e of container.flowElements || []) {
    if (e.$type !== 'bpmn:BoundaryEvent') continue;
    const host = e.attachedToRef.id;
    byHost.set(host, [...(byHost.get(host) || []), e]);
  }
  for (const [host, events] of byHost) {
    const h = boxes.get(host);
    events.forEach((e, i) => {
      const x = h.right - 28 - 18 - i * 46;
      boxes.set(e.id, box(x, h.bottom - 18, 36, 36));
    });
  }
}

function crossing(s, t, obstacles) {
  const y = s.cy, x1 = s.right, x2 = t.x;
  const inside = (o, b) => o.x <= b.x && o.right >= b.right && o.y <= b.y && o.bottom >= b.bottom;
  return obstacles.filter((o) => o !== s && o !== t && !inside(o, s) && !inside(o, t)
    && o.x < x2 && o.right > x1 && o.y < y && o.bottom > y);
}

function blocksVertical(x, y1, y2, obstacles, except) {
  const [lo, hi] = y1 < y2 ? [y1, y2] : [y2, y1];
  const inside = (o, b) => o.x <= b.x && o.right >= b.right && o.y <= b.y && o.bottom >= b.bottom;
  return obstacles.some((o) => !except.includes(o) && !except.some((b) => inside(o, b))
    && o.x - 4 < x && o.right + 4 > x && o.y < hi && o.bottom > lo);
}

function route(src, dst, srcKind, fromBoundary, obstacles = []) {
  const s = src, t = dst;
  if (!fromBoundary && t.x >= s.right - 1 && Math.abs(s.cy - t.cy) < 1) {
    const hit = crossing(s, t, obstacles);
    if (hit.length) {
      const yb = Math.max(...hit.map((o) => o.bottom)) + 22;
      return [[s.cx, s.bottom], [s.cx, yb], [t.cx, yb], [t.cx, t.bottom]];
    }
  }
  const pts = [];
  if (fromBoundary) {
    // down out of the activity's edge, then along the gap before the target's column, so that a flow never
    // runs through what is drawn below the activity
    pts.push([s.cx, s.bottom]);
    if (t.x >= s.right) {
      const mx = t.x - 22, ya = s.bottom + 12;
      if (Math.abs(t.cy - s.bottom) < 14) return [[s.cx, s.bottom], [s.cx, t.cy], [t.x, t.cy]];
      pts.push([s.cx, ya], [mx, ya], [mx, t.cy], [t.x, t.cy]);
    } else if (t.x >= s.cx) pts.push([s.cx, t.cy], [t.x, t.cy]);
    else pts.push([s.cx, t.cy], [t.right, t.cy]);
    return pts;
  }
  if (t.x >= s.right - 1) {
    if (Math.abs(s.cy - t.cy) < 1) return [[s.right, s.cy], [t.x, t.cy]];
    if (srcKind === 'gateway') {
      const y0 = t.cy > s.cy ? s.bottom : s.y;
      if (!blocksVertical(s.cx, y0, t.cy, obstacles, [s, t])) return [[s.cx, y0], [s.cx, t.cy], [t.x, t.cy]];
      // something is drawn below the gateway: leave by its right corner and turn down where the way is clear
      for (const mx of [s.right + 14, t.x - 22]) {
        if (!blocksVertical(mx, s.cy, t.cy, obstacles, [s, t])) {
          return [[s.right, s.cy], [mx, s.cy], [mx, t.cy], [t.x, t.cy]];
        }
      }
      return [[s.cx, y0], [s.cx, t.cy], [t.x, t.cy]];
    }
    const mx = Math.max(s.right + 15, t.x - 25);
    return [[s.right, s.cy], [mx, s.cy], [mx, t.cy], [t.x, t.cy]];
  }
  // back to an earlier activity: arrive on its right side above the middle, clear of its own outgoing flow
  const ty = t.cy - Math.min(20, t.h / 4);
  if (t.y > s.bottom) return [[s.cx, s.bottom], [s.cx, ty], [t.right, ty]];
  if (t.bottom < s.y) return [[s.cx, s.y], [s.cx, ty], [t.right, ty]];
  const y = Math.min(s.y, t.y) - 25;
  return [[s.cx, s.y], [s.cx, y], [t.cx, y], [t.cx, t.y]];
}

async function layoutFile(path) {
  const original = readFileSync(path, 'utf8');
  const semantic = stripDi(original);
  const grid = await gridOf(semantic);
  const moddle = new BpmnModdle();
  const { rootElement: defs } = await moddle.fromXML(semantic);
  const process = defs.rootElements.find((e) => e.$type === 'bpmn:Process');
  const collaboration = defs.rootElements.find((e) => e.$type === 'bpmn:Collaboration');
  const participant = collaboration?.participants?.find((p) => p.processRef?.id === process.id);

  const lanes = (process.laneSets?.[0]?.lanes || []).slice();
  const laneOf = new Map();
  for (const lane of lanes) for (const ref of lane.flowNodeRef || []) laneOf.set(ref.id, lane.id);
  if (lanes.length === 0) lanes.push({ id: null, name: '' });

  const top = (process.flowElements || []).filter((e) => isFlowNode(e) && e.$type !== 'bpmn:BoundaryEvent');
  repairGrid(process, grid);
  const boxes = new Map();
  const subs = new Map();
  const footprint = new Map();
  for (const n of top) {
    if (n.$type === 'bpmn:SubProcess') {
      const sub = layoutContainer(n, grid, boxes);
      subs.set(n.id, sub);
      footprint.set(n.id, [sub.w, sub.h]);
    } else {
      footprint.set(n.id, SIZES[kindOf(n)]);
    }
  }

  // columns: widths from the widest footprint in each
  const colOf = (n) => grid.get(n.id)?.col ?? 0;
  const maxCol = Math.max(...top.map(colOf));
  const colW = Array(maxCol + 1).fill(COL_W);
  for (const n of top) colW[colOf(n)] = Math.max(colW[colOf(n)], footprint.get(n.id)[0] + 60);
  const colX = [];
  let acc = X0 + POOL_HEADER + LANE_HEADER + 20;
  for (let c = 0; c <= maxCol; c++) { colX.push(acc); acc += colW[c]; }
  const width = acc - (X0 + POOL_HEADER) + 20;

  // rows: per lane, each grid row's stretch of columns is a band; bands that do not overlap share a line, so
  // that a branch stays on one straight line and short branches far apart do not each cost a line.
  let y = Y0;
  const laneBoxes = [];
  for (const lane of lanes) {
    const members = top.filter((n) => (laneOf.get(n.id) ?? lanes[0].id) === lane.id);
    const rowOf = (n) => grid.get(n.id)?.row ?? 0;
    // A band is a connected stretch of one grid row (its nodes joined by flows). It reaches back to where its
    // branch leaves and forward to where it joins, so that the vertical parts of its flows stay clear.
    const hostOf = (n) => (n.$type === 'bpmn:BoundaryEvent' ? n.attachedToRef : n);
    const neighbours = (n) => [...(n.incoming || []).map((f) => hostOf(f.sourceRef)),
      ...(n.outgoing || []).map((f) => f.targetRef)];
    const boundaryFlows = (n) => (process.flowElements || []).filter((e) => e.$type === 'bpmn:BoundaryEvent'
      && e.attachedToRef === n).flatMap((e) => (e.outgoing || []).map((f) => f.targetRef));
    const bands = [];
    const bandOf = new Map();
    for (const r of [...new Set(members.map(rowOf))].sort((a, b) => a - b)) {
      const inRow = members.filter((n) => rowOf(n) === r);
      for (const start of inRow) {
        if (bandOf.has(start.id)) continue;
        const band = { row: r, nodes: [] };
        const stack = [start];
        while (stack.length) {
          const n = stack.pop();
          if (bandOf.has(n.id)) continue;
          bandOf.set(n.id, band);
          band.nodes.push(n);
          for (const m of [...neighbours(n), ...boundaryFlows(n)]) {
            if (inRow.includes(m) && !bandOf.has(m.id)) stack.push(m);
          }
        }
        const cols = band.nodes.map(colOf);
        for (const n of band.nodes) {
          for (const m of [...neighbours(n), ...boundaryFlows(n)]) if (grid.has(m.id) && top.includes(m)) cols.push(colOf(m));
        }
        band.from = Math.min(...cols);
        band.to = Math.max(...cols);
        // branches that start at a boundary event (reminders, supervision) give way to the main branches
        band.late = band.nodes.some((n) => (n.incoming || []).some((f) => f.sourceRef.$type === 'bpmn:BoundaryEvent'));
        bands.push(band);
      }
    }
    bands.sort((a, b) => (a.late - b.late) || (a.row - b.row));
    const lines = [];  // each: list of bands
    const lineOfBand = new Map();
    for (const band of bands) {
      let i = lines.findIndex((line) => line.every((b) => band.from > b.to || band.to < b.from));
      if (i < 0) { lines.push([]); i = lines.length - 1; }
      lines[i].push(band);
      lineOfBand.set(band, i);
    }
    const lineH = lines.map((line) => Math.max(ROW_H, ...line.flatMap((b) => b.nodes)
      .map((n) => footprint.get(n.id)[1] + 50)));
    const lineY = [];
    let ry = y + LANE_PAD;
    for (const h of lineH) { lineY.push(ry); ry += h; }
    const laneH = Math.max(ROW_H, ry - y + LANE_PAD - 10);
    for (const n of members) {
      const i = lineOfBand.get(bandOf.get(n.id));
      const [w, h] = footprint.get(n.id);
      const cx = colX[colOf(n)] + colW[colOf(n)] / 2;
      const cy = lineY[i] + lineH[i] / 2 - 10;
      boxes.set(n.id, box(cx - w / 2, cy - h / 2, w, h));
      if (subs.has(n.id)) subs.get(n.id).place(cx - w / 2, cy - h / 2);
    }
    laneBoxes.push({ lane, b: box(X0 + POOL_HEADER, y, width, laneH) });
    y += laneH;
  }
  placeBoundaries(process, boxes);

  // shapes and edges
  const out = [];
  const fmt = (v) => Math.round(v);
  const shape = (id, b, extra = '') => out.push(
    `      <bpmndi:BPMNShape id="${id}_di" bpmnElement="${id}"${extra}>\n` +
    `        <dc:Bounds x="${fmt(b.x)}" y="${fmt(b.y)}" width="${fmt(b.w)}" height="${fmt(b.h)}" />\n` +
    '      </bpmndi:BPMNShape>');
  const planeOf = participant ? collaboration.id : process.id;
  if (participant) shape(participant.id, box(X0, Y0, width + POOL_HEADER, y - Y0), ' isHorizontal="true"');
  for (const { lane, b } of laneBoxes) if (lane.id) shape(lane.id, b, ' isHorizontal="true"');
  const all = [];
  const collect = (container) => {
    for (const e of container.flowElements || []) {
      all.push(e);
      if (e.$type === 'bpmn:SubProcess') collect(e);
    }
  };
  collect(process);
  for (const e of all) {
    if (!isFlowNode(e) || !boxes.has(e.id)) continue;
    let extra = '';
    if (e.$type === 'bpmn:ExclusiveGateway') extra = ' isMarkerVisible="true"';
    if (e.$type === 'bpmn:SubProcess') extra = ' isExpanded="true"';
    shape(e.id, boxes.get(e.id), extra);
  }
  const obstacles = all.filter((e) => isFlowNode(e) && boxes.has(e.id)).map((e) => boxes.get(e.id));
  for (const e of all) {
    if (e.$type !== 'bpmn:SequenceFlow') continue;
    const src = e.sourceRef, dst = e.targetRef;
    const pts = route(boxes.get(src.id), boxes.get(dst.id), kindOf(src), src.$type === 'bpmn:BoundaryEvent',
      obstacles);
    // a flow's name sits on its last horizontal stretch, next to where it arrives
    let label = '';
    if (e.name) {
      const [ax, ay] = pts[pts.length - 2], [bx, by] = pts[pts.length - 1];
      const w = Math.min(120, 13 * [...e.name].length), lx = Math.abs(ay - by) < 1 ? Math.min(ax, bx) + 6 : bx + 6;
      label = `\n        <bpmndi:BPMNLabel>\n          <dc:Bounds x="${fmt(lx)}" y="${fmt(Math.min(ay, by) - 20)}" ` +
        `width="${w}" height="14" />\n        </bpmndi:BPMNLabel>`;
    }
    out.push(`      <bpmndi:BPMNEdge id="${e.id}_di" bpmnElement="${e.id}">\n` +
      pts.map(([px, py]) => `        <di:waypoint x="${fmt(px)}" y="${fmt(py)}" />`).join('\n') + label +
      '\n      </bpmndi:BPMNEdge>');
  }
  const diagram = `  <bpmndi:BPMNDiagram id="Diagram_${process.id}">\n` +
    `    <bpmndi:BPMNPlane id="Plane_${process.id}" bpmnElement="${planeOf}">\n${out.join('\n')}\n` +
    '    </bpmndi:BPMNPlane>\n  </bpmndi:BPMNDiagram>\n';
  const result = semantic.replace(/\s*<\/bpmn:definitions>\s*$/, `\n${diagram}</bpmn:definitions>\n`);
  writeFileSync(path, result);
  console.log(`${path}: ${boxes.size} shapes laid out in ${laneBoxes.length} lanes`);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node processes/tools/layout.mjs FILE.bpmn...');
  process.exit(2);
}
for (const f of files) await layoutFile(f);
