import { getJson, seg } from './api.js';

/** One lease on demand: its TTL and what hangs on it. */
export function leaseView(container, onProblem) {
  const show = async (id) => {
    if (id === '') return;
    try {
      const lease = await getJson(`/v1/leases/${seg(id)}`);
      const lines = [
        `Lease ${lease.id}: ttl ${lease.ttlMs} ms, ` + (lease.expiresAt === null ? 'kept alive by a live session' : `expires ${new Date(lease.expiresAt).toLocaleTimeString()}`),
        `Holds: ${lease.locks.length === 0 ? 'none' : lease.locks.map((hold) => `${hold.name} (token ${hold.token})`).join(', ')}`,
        `Ring members: ${lease.members.length === 0 ? 'none' : lease.members.map((m) => `${m.node} in ${m.ring}`).join(', ')}`,
      ];
      container.replaceChildren(...lines.map((text) => Object.assign(document.createElement('p'), { textContent: text })));
    } catch (error) {
      if (error.code === 'lease_not_found') return container.replaceChildren(Object.assign(document.createElement('p'), { textContent: `No lease ${id}.` }));
      onProblem(error);
    }
  };
  return { show };
}
