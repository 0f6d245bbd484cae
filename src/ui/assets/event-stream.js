import { authHeaders } from './api.js';

// Follows GET /v1/watch with fetch rather than EventSource: EventSource cannot send
// an Authorization header. Reconnects with Last-Event-ID, as EventSource would.
const backoffMaxMs = 15_000;

export function follow(query, handlers) {
  const controller = new AbortController();
  let lastId = null;
  let retryMs = 1_000;
  let failures = 0;

  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const headers = { accept: 'text/event-stream', ...authHeaders() };
        if (lastId !== null) headers['last-event-id'] = lastId;
        const response = await fetch(`/v1/watch?${query}`, { headers, signal: controller.signal });
        if (!response.ok) {
          const body = await response.json().catch(() => undefined);
          handlers.refused?.(response.status, body?.error);
          if (response.status === 401 || response.status === 403 || response.status === 400) return;
        } else {
          failures = 0;
          await read(response.body, (frame) => {
            if (frame.id !== null) lastId = frame.id;
            if (frame.retry !== null) retryMs = frame.retry;
            if (frame.data !== null) handlers.event(frame.event, JSON.parse(frame.data));
          });
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        handlers.lost?.(error);
      }
      failures += 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(backoffMaxMs, retryMs * failures)));
    }
  };
  run();
  return () => controller.abort();
}

async function read(body, onFrame) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      onFrame(parseFrame(buffer.slice(0, end)));
      buffer = buffer.slice(end + 2);
    }
  }
}

function parseFrame(block) {
  const frame = { id: null, event: 'message', data: null, retry: null };
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') frame.id = value;
    else if (field === 'event') frame.event = value;
    else if (field === 'data') frame.data = frame.data === null ? value : `${frame.data}\n${value}`;
    else if (field === 'retry' && /^\d+$/.test(value)) frame.retry = Number(value);
  }
  return frame;
}
