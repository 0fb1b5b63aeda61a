// nnc view: the page's behaviour. Each panel (one .arch file) carries its figures in a
// JSON block: every layer's figures, the layers of each diagram node, the layers each
// source line made. Clicking a table row, a diagram node or a source line shows those
// layers in the panel's details box and marks them in the table, diagram and source.
"use strict";

const MAX_LISTED = 40;  // a details box lists this many layers, then says how many more
const MAX_START = 1.5;  // the diagram is first shown at most this much larger than drawn
const MAX_ZOOM = 40;    // and zoomed at most this much in or out of its fitted view

function number(n) { return n.toLocaleString("en-US"); }

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function setUpPanel(panel) {
  const data = JSON.parse(panel.querySelector("script.nnc-data").textContent);
  const nodeOf = {};
  Object.entries(data.nodes).forEach(([node, layers]) => layers.forEach(i => { nodeOf[i] = node; }));
  const details = panel.querySelector(".nnc-details");
  const key = panel.dataset.panel;

  // A line that made layers shows them; any other line (a comment, a block's header,
  // an error's line on a page that does not check) is only marked.
  function showLine(line) {
    const target = document.getElementById(`${key}-L${line}`);
    if (target) target.scrollIntoView({ block: "center" });
    const made = data.lines[line] || [];
    if (made.length) { pick([...made], `line ${line}`, [line]); return; }
    unpick();
    if (target) target.classList.add("nnc-picked");
  }

  function unpick() {
    document.querySelectorAll(".nnc-picked").forEach(n => n.classList.remove("nnc-picked"));
    document.querySelectorAll(".nnc-details").forEach(box => { box.hidden = true; });
  }

  function layerBlock(layer) {
    const box = el("div", { class: "nnc-layer" });
    box.append(el("h3", {}, layer.name));
    const dl = el("dl");
    const rows = [
      ["layer", `${layer.kind}: ${layer.layer}`], ["output", layer.shape],
      ["params", `${number(layer.trainable + layer.non_trainable)}` +
        (layer.non_trainable ? ` (${number(layer.non_trainable)} non-trainable)` : "")],
      ["MACs", `${number(layer.macs)} (${layer.macs_text})`],
      ["field/stride", layer.field], ["depth from input", String(layer.depth)],
      ["row", layer.row || ""],
    ];
    rows.forEach(([k, v]) => { dl.append(el("dt", {}, k)); dl.append(el("dd", {}, v)); });
    dl.append(el("dt", {}, "source"));
    const where = el("dd");
    const position = `${layer.file}:${layer.line}:${layer.column}`;
    // a layer written in a file this one uses has no line here to go to
    where.append(layer.file === data.file
      ? el("a", { href: `#${key}-L${layer.line}`, "data-line": layer.line }, position)
      : el("span", {}, position));
    layer.chain.forEach(frame => where.append(el("div", { class: "nnc-chain" }, frame)));
    dl.append(where);
    box.append(dl);
    return box;
  }

  function pick(indices, title, lines) {
    unpick();
    indices.forEach(i => {
      let row = panel.querySelector(`tr[data-layer="${i}"]`);
      while (row && row.hidden) row = panel.querySelector(`tr[data-key="${row.dataset.parent}"]`);
      if (row) row.classList.add("nnc-picked");
      const node = nodeOf[i] && findNode(panel, nodeOf[i]);
      if (node) node.classList.add("nnc-picked");
    });
    const shown = lines || [...new Set(indices.filter(i => data.layers[i].file === data.file)
      .map(i => data.layers[i].line))];
    shown.forEach(line => {
      const row = document.getElementById(`${key}-L${line}`);
      if (row) row.classList.add("nnc-picked");
    });
    details.replaceChildren();
    const close = el("button", { class: "nnc-close", "aria-label": "close" }, "×");
    close.addEventListener("click", unpick);
    const layers = indices.map(i => data.layers[i]);
    const params = layers.reduce((s, l) => s + l.trainable + l.non_trainable, 0);
    const macs = layers.reduce((s, l) => s + l.macs, 0);
    details.append(close, el("h3", {}, title),
      el("p", {}, `${layers.length} layer${layers.length === 1 ? "" : "s"} · ` +
        `${number(params)} params · ${number(macs)} MACs`));
    layers.slice(0, MAX_LISTED).forEach(l => details.append(layerBlock(l)));
    if (layers.length > MAX_LISTED) details.append(el("p", {}, `… and ${layers.length - MAX_LISTED} more`));
    details.hidden = false;
  }

  panel.querySelectorAll("table.nnc-layers tbody tr").forEach(row => {
    row.addEventListener("click", event => {
      if (event.target.closest(".nnc-toggle")) { toggle(panel, row); return; }
      const layers = row.dataset.layer !== undefined ? [Number(row.dataset.layer)]
        : descendants(panel, row).map(r => r.dataset.layer).filter(x => x !== undefined).map(Number);
      pick(layers, row.cells[0].textContent.replace(/^▸|^▾/, ""));
    });
  });
  panel.querySelectorAll(".nnc-line").forEach(line => {
    line.addEventListener("click", event => {
      event.preventDefault();
      showLine(Number(line.dataset.line));
    });
  });
  panel.addEventListener("click", event => {
    const link = event.target.closest("a[data-line]");
    if (link && !link.closest(".nnc-line")) { event.preventDefault(); showLine(Number(link.dataset.line)); }
  });
  const box = panel.querySelector(".nnc-diagram");
  if (box) zoomable(box, panel, node => pick(data.nodes[node] || [], diagramTitle(panel, node)));
}

function findNode(panel, id) {
  return [...panel.querySelectorAll(".nnc-diagram g.node")].find(
    g => g.querySelector("title").textContent === id);
}

function diagramTitle(panel, id) {
  const node = findNode(panel, id);
  const text = node ? [...node.querySelectorAll("text")].map(t => t.textContent).join(" · ") : id;
  return text;
}

function descendants(panel, row) {
  const found = [];
  panel.querySelectorAll(`tr[data-parent="${row.dataset.key}"]`).forEach(child => {
    found.push(child);
    if (child.dataset.key) found.push(...descendants(panel, child));
  });
  return found;
}

function toggle(panel, row) {
  const open = row.querySelector(".nnc-toggle").textContent === "▸";
  row.querySelector(".nnc-toggle").textContent = open ? "▾" : "▸";
  panel.querySelectorAll(`tr[data-parent="${row.dataset.key}"]`).forEach(child => {
    child.hidden = !open;
    if (!open && child.dataset.key && child.querySelector(".nnc-toggle").textContent === "▾") {
      toggle(panel, child);
    }
  });
}

// Zoom with the wheel or the buttons, move by dragging: the svg's viewBox is the window.
function zoomable(box, panel, onNode) {
  const svg = box.querySelector("svg");
  const base = svg.viewBox.baseVal;
  // Fitted, a small network is not blown up past MAX_START times its drawn size.
  const grow = Math.min(box.clientWidth / base.width, box.clientHeight / base.height) / MAX_START;
  const margin = Math.max(grow, 1);
  const fit = { x: base.x - base.width * (margin - 1) / 2, y: base.y,
    w: base.width * margin, h: base.height * margin };
  let view = { ...fit };
  const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  const scale = () => Math.max(view.w / box.clientWidth, view.h / box.clientHeight);
  function zoom(factor, cx, cy) {
    const width = Math.min(Math.max(view.w * factor, fit.w / MAX_ZOOM), fit.w * MAX_ZOOM);
    factor = width / view.w;
    view = { x: cx - (cx - view.x) * factor, y: cy - (cy - view.y) * factor,
      w: view.w * factor, h: view.h * factor };
    apply();
  }
  if (margin > 1) apply();
  function toSvg(event) {
    const point = svg.createSVGPoint();
    point.x = event.clientX; point.y = event.clientY;
    return point.matrixTransform(svg.getScreenCTM().inverse());
  }
  // Ctrl with the wheel (a touchpad's pinch too) zooms; the wheel alone scrolls the page,
  // which a diagram filling most of the window would otherwise stop.
  box.addEventListener("wheel", event => {
    if (!event.ctrlKey && !event.metaKey) return;
    event.preventDefault();
    const at = toSvg(event);
    zoom(event.deltaY > 0 ? 1.2 : 1 / 1.2, at.x, at.y);
  }, { passive: false });
  let drag = null;
  box.addEventListener("pointerdown", event => { drag = { x: event.clientX, y: event.clientY, moved: 0 }; });
  box.addEventListener("pointermove", event => {
    if (!drag || !event.buttons) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    drag.moved += Math.abs(dx) + Math.abs(dy);
    view.x -= dx * scale(); view.y -= dy * scale();
    drag.x = event.clientX; drag.y = event.clientY;
    apply();
  });
  box.addEventListener("click", event => {
    const moved = drag && drag.moved > 4;
    drag = null;
    const node = event.target.closest("g.node");
    if (node && !moved) onNode(node.querySelector("title").textContent);
  });
  panel.querySelectorAll(".nnc-zoom button").forEach(button => {
    button.addEventListener("click", () => {
      const kind = button.dataset.zoom;
      if (kind === "fit") { view = { ...fit }; apply(); return; }
      zoom(kind === "in" ? 1 / 1.4 : 1.4, view.x + view.w / 2, view.y + view.h / 2);
    });
  });
}

// `nnc view --serve`: ask the server whether the file changed; reload, keeping the place.
function followServer(version) {
  const saved = sessionStorage.getItem("nnc-scroll");
  if (saved !== null) { window.scrollTo(0, Number(saved)); sessionStorage.removeItem("nnc-scroll"); }
  async function poll() {
    try {
      const answer = await fetch("/version", { cache: "no-store" });
      if ((await answer.text()) !== version) {
        sessionStorage.setItem("nnc-scroll", String(window.scrollY));
        window.location.reload();
        return;
      }
    } catch (error) {
      document.title = "(server stopped) " + document.title.replace(/^\(server stopped\) /, "");
    }
    setTimeout(poll, 500);
  }
  setTimeout(poll, 500);
}

document.querySelectorAll(".nnc-panel").forEach(setUpPanel);
if (document.body.dataset.version) followServer(document.body.dataset.version);
document.body.dataset.ready = "1";
