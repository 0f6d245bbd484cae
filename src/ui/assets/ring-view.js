import { ApiError, getJson, seg } from './api.js';
import { follow } from './event-stream.js';

const svgNs = 'http://www.w3.org/2000/svg';
// Distinct on white and for common colour-vision deficiencies (Okabe-Ito, plus darks).
const palette = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000', '#7f3c8d', '#11a579'];
const radius = 100;
const inner = 62;

/** One ring at a time: drawn from its members' shares, redrawn on every ring event. */
export function ringView({ select, drawing, caption, summary, members, onProblem }) {
  let stop = () => {};
  let current = null;

  const redraw = async (name) => {
    try {
      const shares = await getJson(`/v1/rings/${seg(name)}/shares`);
      if (current !== name) return;
      draw(drawing, shares);
      caption.textContent = `Ring ${name}: ${shares.nodes.length} member(s)`;
      summary.textContent = `Ring ${name}, version ${shares.version}, ${shares.vnodes} vnodes per unit of weight`;
      drawing.dataset.version = String(shares.version);
      members.replaceChildren(...shares.nodes.map(memberRow));
    } catch (error) {
      if (error instanceof ApiError && error.code === 'ring_not_found') return gone(name);
      onProblem(error);
    }
  };

  const gone = (name) => {
    summary.textContent = `Ring ${name} was deleted`;
    members.replaceChildren();
    drawing.replaceChildren(caption);
    loadList();
  };

  const show = (name) => {
    stop();
    current = name;
    if (name === null) return;
    stop = follow(`topic=ring&ring=${seg(name)}`, {
      event: (type, data) => {
        if (type === 'ring' && data.type === 'deleted') return gone(name);
        if (type === 'watching' || type === 'reset' || type === 'ring') redraw(name);
      },
      refused: (status, error) => onProblem(new ApiError(status, { error })),
      lost: onProblem,
    });
  };

  const loadList = async () => {
    try {
      const { rings } = await getJson('/v1/rings');
      const names = rings.map((ring) => ring.name);
      const known = [...select.options].map((option) => option.value);
      if (names.join('\n') !== known.join('\n')) {
        select.replaceChildren(...names.map((name) => new Option(name, name, false, name === current)));
      }
      if (current === null || !names.includes(current)) show(names[0] ?? null);
      if (current !== null) select.value = current;
    } catch (error) {
      onProblem(error);
    }
  };

  select.addEventListener('change', () => show(select.value));
  setInterval(loadList, 5_000);
  return { start: loadList, current: () => current };
}

/** The lookup box: the server's answer, owner first. */
export async function lookUp(ring, key, n) {
  return getJson(`/v1/rings/${seg(ring)}/lookup?key=${seg(key)}&n=${n}`);
}

function draw(svg, shares) {
  const title = svg.querySelector('title');
  const parts = [title];
  let angle = 0;
  shares.nodes.forEach((node, index) => {
    if (node.share <= 0) return;
    const path = document.createElementNS(svgNs, 'path');
    path.setAttribute('d', arc(angle, angle + node.share * 2 * Math.PI));
    path.setAttribute('fill', colour(index));
    path.setAttribute('stroke', '#ffffff');
    path.dataset.node = node.id;
    path.dataset.share = String(node.share);
    const label = document.createElementNS(svgNs, 'title');
    label.textContent = `${node.id}: weight ${node.weight}, ${percent(node.share)}`;
    path.append(label);
    parts.push(path);
    angle += node.share * 2 * Math.PI;
  });
  svg.replaceChildren(...parts);
}

function arc(from, to) {
  // A lone member: a full circle, which one arc command cannot draw.
  if (to - from >= 2 * Math.PI - 1e-9) to = from + 2 * Math.PI - 1e-6;
  const large = to - from > Math.PI ? 1 : 0;
  const point = (r, a) => `${(r * Math.sin(a)).toFixed(3)} ${(-r * Math.cos(a)).toFixed(3)}`;
  return `M ${point(radius, from)} A ${radius} ${radius} 0 ${large} 1 ${point(radius, to)} L ${point(inner, to)} A ${inner} ${inner} 0 ${large} 0 ${point(inner, from)} Z`;
}

function memberRow(node, index) {
  const tr = document.createElement('tr');
  tr.dataset.node = node.id;
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.style.background = colour(index);
  const cells = [swatch, node.id, String(node.weight), percent(node.share)];
  for (const content of cells) {
    const td = document.createElement('td');
    td.append(content);
    tr.append(td);
  }
  tr.children[1].className = 'name';
  return tr;
}

const colour = (index) => (index < palette.length ? palette[index] : `hsl(${(index * 137.5) % 360} 65% 38%)`);
const percent = (share) => `${(share * 100).toFixed(2)} %`;
