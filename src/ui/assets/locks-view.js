import { ApiError, getJson, seg } from './api.js';
import { follow } from './event-stream.js';

const pageMax = 1000;
// Waiter counts change without a lock event (a waiter joins): the table re-reads now and then.
const rereadMs = 2_000;

/** The live lock table: every event re-reads the lock it names; ages tick locally. */
export function locksView({ tbody, note, onProblem }) {
  let locks = new Map();
  let prefix = '';
  let stop = () => {};
  let pending = new Set();
  let generation = 0;
  let truncated = false;

  const reloadAll = async () => {
    const mine = generation;
    try {
      const page = await getJson(`/v1/locks?prefix=${seg(prefix)}&limit=${pageMax}`);
      if (mine !== generation) return;
      locks = new Map(page.locks.map((lock) => [lock.name, lock]));
      truncated = page.next !== undefined;
      render();
    } catch (error) {
      onProblem(error);
    }
  };

  const refresh = () => {
    const names = [...pending];
    pending = new Set();
    const mine = generation;
    for (const name of names) {
      getJson(`/v1/locks/${seg(name)}`).then(
        (lock) => mine === generation && (locks.set(name, lock), render()),
        (error) => {
          if (mine !== generation) return;
          if (error instanceof ApiError && error.code === 'lock_not_found') {
            locks.delete(name);
            render();
          } else onProblem(error);
        },
      );
    }
  };

  const render = () => {
    const rows = [];
    const names = [...locks.keys()].sort(byUtf8);
    for (const name of names) {
      const lock = locks.get(name);
      const holders = lock.holders.length === 0 ? [null] : lock.holders;
      holders.forEach((holder, index) => rows.push(row(lock, holder, index === 0)));
    }
    tbody.replaceChildren(...rows);
    note.textContent = truncated ? `first ${pageMax} locks shown: narrow the prefix` : `${locks.size} lock(s)`;
  };

  const start = (value) => {
    stop();
    generation += 1;
    prefix = value;
    locks = new Map();
    render();
    stop = follow(`topic=lock&prefix=${seg(prefix)}`, {
      event: (type, data) => {
        if (type === 'watching' || type === 'reset') return reloadAll();
        if (type !== 'lock') return;
        if (pending.size === 0) queueMicrotask(refresh);
        pending.add(data.name);
      },
      refused: (status, error) => onProblem(new ApiError(status, { error })),
      lost: onProblem,
    });
  };

  setInterval(reloadAll, rereadMs);
  setInterval(render, 1_000);
  return { start };
}

function row(lock, holder, first) {
  const tr = document.createElement('tr');
  tr.dataset.lock = lock.name;
  if (holder !== null) tr.dataset.token = String(holder.token);
  const cells = [
    [first ? lock.name : '', 'name'],
    [first ? String(lock.limit) : ''],
    [holder === null ? (lock.retryAfterMs === undefined ? '—' : `lock-delay ${lock.retryAfterMs} ms`) : String(holder.token)],
    [holder?.owner ?? ''],
    [holder?.leaseId ?? '', 'name'],
    [holder === null ? '' : age(holder.acquiredAt)],
    [first ? String(lock.waiters) : ''],
  ];
  for (const [text, className] of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className !== undefined) td.className = className;
    tr.append(td);
  }
  return tr;
}

function age(acquiredAt) {
  const seconds = Math.max(0, Math.round((Date.now() - acquiredAt) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

const encoder = new TextEncoder();
/** The server's order: UTF-8 bytes. */
function byUtf8(a, b) {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
