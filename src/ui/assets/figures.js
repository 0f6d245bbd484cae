// Small live charts from the Prometheus text of /metrics (open even with auth:
// its labels carry no lock names, keys or lease ids).
const samplesMax = 60;
const pollMs = 2_000;
const svgNs = 'http://www.w3.org/2000/svg';

const figures = [
  { id: 'holds', label: 'Holds', unit: '', read: (m) => m.value('lockring_locks_held') },
  { id: 'waiters', label: 'Waiters', unit: '', read: (m) => m.value('lockring_lock_waiters') },
  { id: 'acquires', label: 'Grants per second', unit: '/s', rate: (m) => m.value('lockring_lock_acquire_total', 'result="granted"') },
  { id: 'lateness', label: 'Expiry lateness (mean)', unit: ' ms', mean: 'lockring_expiry_lateness_seconds' },
  { id: 'fsync', label: 'Log fsync (mean)', unit: ' ms', mean: 'lockring_wal_fsync_seconds' },
];

export function figuresView(container, onProblem) {
  const series = new Map(figures.map((figure) => [figure.id, { figure, values: [], node: figureNode(figure) }]));
  container.replaceChildren(...[...series.values()].map((entry) => entry.node.root));
  let previous = null;

  const poll = async () => {
    try {
      const response = await fetch('/metrics');
      if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
      const sample = { at: performance.now(), metrics: parse(await response.text()) };
      for (const entry of series.values()) {
        const value = measure(entry.figure, sample, previous);
        if (value === null) continue;
        entry.values.push(value);
        if (entry.values.length > samplesMax) entry.values.shift();
        show(entry);
      }
      previous = sample;
    } catch (error) {
      onProblem(error);
    }
  };
  poll();
  setInterval(poll, pollMs);
}

function measure(figure, sample, previous) {
  if (figure.read !== undefined) return figure.read(sample.metrics);
  if (previous === null) return null;
  if (figure.rate !== undefined) {
    const seconds = (sample.at - previous.at) / 1000;
    return seconds > 0 ? Math.max(0, (figure.rate(sample.metrics) - figure.rate(previous.metrics)) / seconds) : null;
  }
  const count = sample.metrics.value(`${figure.mean}_count`) - previous.metrics.value(`${figure.mean}_count`);
  const sum = sample.metrics.value(`${figure.mean}_sum`) - previous.metrics.value(`${figure.mean}_sum`);
  return count > 0 ? (sum / count) * 1000 : 0;
}

function figureNode(figure) {
  const root = document.createElement('figure');
  root.dataset.figure = figure.id;
  const caption = document.createElement('figcaption');
  caption.textContent = figure.label;
  const value = document.createElement('div');
  value.className = 'value';
  value.textContent = '…';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', `0 0 ${samplesMax - 1} 100`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  const line = document.createElementNS(svgNs, 'polyline');
  svg.append(line);
  root.append(caption, value, svg);
  return { root, value, line };
}

function show({ figure, values, node }) {
  const latest = values.at(-1);
  node.value.textContent = `${latest < 10 && !Number.isInteger(latest) ? latest.toFixed(2) : Math.round(latest)}${figure.unit}`;
  const top = Math.max(...values, 1e-9);
  const offset = samplesMax - values.length;
  node.line.setAttribute('points', values.map((v, i) => `${offset + i},${(100 - (v / top) * 95).toFixed(2)}`).join(' '));
}

/** Prometheus text to `value(name, labels?)`: sums the matching series. */
function parse(text) {
  const lines = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  return {
    value(name, labels) {
      let total = 0;
      for (const line of lines) {
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
        if (match === null || match[1] !== name) continue;
        if (labels !== undefined && !(match[2] ?? '').includes(labels)) continue;
        total += Number(match[3]);
      }
      return total;
    },
  };
}
