import { ApiError, getJson, token } from './api.js';
import { figuresView } from './figures.js';
import { leaseView } from './lease-view.js';
import { locksView } from './locks-view.js';
import { lookUp, ringView } from './ring-view.js';

const $ = (id) => document.getElementById(id);
const status = $('status');

function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle('error', isError);
}

/** One place for what goes wrong: a missing or refused token opens the token form. */
function problem(error) {
  if (error instanceof ApiError && error.status === 401) {
    $('token-form').hidden = false;
    say(token.get() === null ? 'This server needs a bearer token to read.' : 'The token was refused.', true);
    return;
  }
  if (error instanceof ApiError && error.status === 403) return say(`Not allowed for this token: ${error.message}`, true);
  say(`Problem: ${error.message}`, true);
}

const locks = locksView({ tbody: $('locks').tBodies[0], note: $('locks-note'), onProblem: problem });
const rings = ringView({
  select: $('ring'),
  drawing: $('ring-drawing'),
  caption: $('ring-caption'),
  summary: $('ring-summary'),
  members: $('ring-members').tBodies[0],
  onProblem: problem,
});
const lease = leaseView($('lease-view'), problem);

let prefixTimer = 0;
$('prefix').addEventListener('input', (event) => {
  clearTimeout(prefixTimer);
  prefixTimer = setTimeout(() => locks.start(event.target.value), 300);
});
$('lock-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  locks.start($('prefix').value);
});

$('lease-form').addEventListener('submit', (event) => {
  event.preventDefault();
  lease.show($('lease-id').value.trim());
});

$('lookup-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const result = $('lookup-result');
  const ring = rings.current();
  if (ring === null) return (result.textContent = 'No ring to look up in.');
  try {
    const answer = await lookUp(ring, $('lookup-key').value, Number($('lookup-n').value) || 1);
    const [owner, ...replicas] = answer.nodes;
    result.dataset.owner = owner;
    result.dataset.nodes = answer.nodes.join(',');
    result.textContent = `${JSON.stringify(answer.key)} belongs to ${owner}` +
      (replicas.length > 0 ? `; replicas ${replicas.join(', ')}` : '') + ` (ring version ${answer.version}).`;
  } catch (error) {
    delete result.dataset.owner;
    result.textContent = error.message;
  }
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token.set($('token').value);
  $('token').value = '';
  start();
});
$('token-forget').addEventListener('click', () => {
  token.clear();
  start();
});

async function start() {
  try {
    // One read decides whether the server asks for a token.
    await getJson('/v1/rings');
    $('token-form').hidden = token.get() === null;
    say(token.get() === null ? 'Live (read-only)' : 'Live (read-only, with your token)');
  } catch (error) {
    return problem(error);
  }
  locks.start($('prefix').value);
  rings.start();
}

figuresView($('figures'), problem);
start();
