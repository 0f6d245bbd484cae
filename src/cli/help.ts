import { settings } from '../config.js';

const general = `lockring: fencing-token locks, semaphores and consistent-hash rings over HTTP.

Usage:
  lockring serve [options]                      run the server
  lockring lock NAME [NAME...] [options] -- CMD [ARGS...]
                                               run CMD while holding lock NAME (or all NAMEs)
  lockring status NAME                          who holds NAME, who waits
  lockring release NAME TOKEN                   hand a hold back by its token
  lockring check NAME TOKEN                     does TOKEN still hold NAME? (exit 0 / 3)
  lockring locks list [--prefix P] [--all]      locks, sorted by name
  lockring locks waiters NAME [--all]           the queue of NAME, in grant order
  lockring lease grant|revoke|keepalive|list    leases
  lockring ring lookup RING KEY [--n 3]         which node(s) own KEY
  lockring ring nodes RING                      the members of RING
  lockring watch --lock NAME|--prefix P|--ring R  stream lock and ring events
  lockring health                               is the server up and ready?
  lockring completion bash|zsh|fish             shell completion script
  lockring help [COMMAND]                       this text, or a command's
  lockring --version

Client commands find the server by --url URL, else LOCKRING_URL, else
http://127.0.0.1:7420, and send LOCKRING_AUTH_TOKEN (when set) as a bearer token.
They all take:
  --json              print the server's answer as JSON; errors as {"error": {...}}
  --timeout DURATION  how long a request may go unanswered (default 10s)
  --cacert FILE       PEM CA to trust for an https:// server (env LOCKRING_CACERT)
  --cert FILE, --key FILE
                      client certificate and key for mutual TLS
                      (env LOCKRING_CERT, LOCKRING_KEY)

Examples:
  lockring serve --port 7420 --data-dir /var/lib/lockring
  lockring lock nightly-report --ttl 30s --wait 2m -- ./report.sh --full
  lockring status nightly-report
  lockring ring lookup cache user:42 --n 2
  eval "$(lockring completion bash)"

Exit codes: 0 ok, 1 failure (server unreachable or refused), 2 bad usage or
configuration; lock adds 3 (not acquired) and 4 (lease lost), otherwise it exits
with its command's code; check exits 3 when the token does not hold the lock.
Run 'lockring COMMAND --help' for details.`;

function serveHelp(): string {
  const rows = settings.map((s) => {
    const flag = s.kind === 'bool' ? `--${s.flag}` : `--${s.flag} ${s.valueName}`;
    return `  ${flag}\n      ${s.help}\n      env ${s.env}`;
  });
  return `lockring serve [options]

Runs the lock server. Every option is also an environment variable and a key of
the optional JSON config file; precedence: flags > environment > config file >
defaults. The configuration is validated in full before anything starts (unknown
keys and bad values exit 2), then printed once in the log.

Options:
  --config FILE
      JSON config file (keys as in 'lockring serve --print-config', plus "limits").
      env LOCKRING_CONFIG
${rows.join('\n')}
  --limit NAME=VALUE
      Override one limit (repeatable, or comma-separated). Durations (30s) for
      limits ending in Ms, sizes (64KiB) for limits in bytes.
      env LOCKRING_LIMITS=NAME=VALUE,NAME=VALUE
  --print-config
      Print the resolved configuration as JSON and exit (0, or 2 if invalid).
  -h, --help

Examples:
  lockring serve
  lockring serve --port 8080 --data-dir off --log-level debug
  lockring serve --config /etc/lockring.json --limit waitersMax=50000
  LOCKRING_PORT=8080 LOCKRING_SHUTDOWN_GRACE=30s lockring serve
  lockring serve --host 0.0.0.0 --auth-file /etc/lockring/tokens.json \
    --tls-cert /etc/lockring/cert.pem --tls-key /etc/lockring/key.pem
  lockring serve --host 0.0.0.0 --insecure-no-auth-on-public-address   # no auth: trusted networks only

Signals: SIGTERM or SIGINT stops gracefully (new requests and queued acquires get
503 not_ready, in-flight requests finish, sockets close with 1001) and exits 0,
or 1 if that takes longer than --shutdown-grace. A second signal exits 1 at once.
SIGHUP reloads --auth-file without dropping connections (a file that does not
validate is logged and the previous tokens stay). See SECURITY.md.

Exit codes: 0 stopped cleanly, 1 runtime failure (listen failed, shutdown timed
out), 2 bad configuration.`;
}

const lock = `lockring lock NAME [NAME...] [options] -- CMD [ARGS...]

Acquires lock NAME, runs CMD while holding it, releases it when CMD exits, and
exits with CMD's exit code (128 + N if CMD was killed by signal N). Several
NAMEs are one multi-lock: all granted at once or none, on one lease, with a
fencing token each (--limit and --mode apply to every name). CMD finds in its
environment:
  LOCKRING_FENCING_TOKEN  the grant's fencing token: pass it to whatever the
                          lock protects, which rejects writes with older tokens
  LOCKRING_FENCING_TOKENS every name's token as JSON: {"NAME": TOKEN, ...}
  LOCKRING_LEASE_ID       the lease holding the lock(s)
  LOCKRING_LOCK           the lock's name (the first NAME)
  LOCKRING_LOCK_MODE      read or write
  LOCKRING_URL            the server's URL

The lease is kept alive every TTL/3. If it is lost (the server says it ended, or
no keepalive is confirmed before the TTL runs out, e.g. the server is
unreachable), lockring sends CMD SIGTERM, then SIGKILL after --grace, and exits 4.
Unlike etcdctl lock, lockring does kill the command: by then another holder may
already run. SIGINT, SIGTERM and SIGHUP sent to lockring are passed on to CMD.

Options:
  --ttl DURATION      lease TTL (default 10s); longer rides out server hiccups,
                      shorter hands the lock on sooner if this machine dies
  --wait DURATION     how long to wait for the lock (default 0: try once)
  --limit N           semaphore: up to N holders at once (default: the name's
                      current limit, 1 for a new name)
  --grace DURATION    time between SIGTERM and SIGKILL on a lost lease (default 5s)
  --owner TEXT        label shown in status and listings (default HOST:PID)
  --lock-delay DURATION
                      if this hold expires, keep NAME closed this long (max 1m)
  --mode read|write   read: share NAME with other readers (a lock, limit 1);
                      write (default): exclusive. The queue is FIFO across both,
                      so a reader never overtakes a waiting writer
  --max-hold DURATION the server ends the hold this long after the grant, even
                      while kept alive; CMD is then stopped as on a lost lease
  --priority N        queue order, 0 to 1000 (default 0): higher waits ahead of
                      lower, FIFO within one. Lower ones may wait forever under
                      a steady stream of higher ones (only --wait bounds that)
  --yield-grace-ms MS with --priority and --wait: ask lower-priority holders in
                      the way to yield; the server ends their holds after MS.
                      A CMD asked to yield gets SIGTERM at once; if it exits
                      before the grace ends, the lock is released as usual
  --url URL           server (default LOCKRING_URL or http://127.0.0.1:7420)
  --timeout, --cacert, --cert, --key, --json
                      as for every client command ('lockring --help')
  -h, --help

The acquire goes over the WebSocket (HTTP if the socket cannot open): the whole
--wait is ONE place in the server's FIFO queue, and a lost lease is pushed to
lockring the moment it happens. While it waits, lockring says its place in the
queue on stderr ("waiting for lock NAME: position 2 of 3") each time it changes.
The server keeps a waiter at most its waitMsMax
limit (5m by default): a longer --wait is refused with exit 2 rather than asking
again at the back of the line.

Examples:
  lockring lock nightly-report -- ./report.sh --full
  lockring lock deploy/api --wait 5m --ttl 30s -- make deploy
  lockring lock gpu --limit 4 --wait 5m -- python train.py
  lockring lock catalog --mode read --wait 1m -- ./export.sh
  lockring lock db-migrate -- sh -c 'migrate --fencing-token "$LOCKRING_FENCING_TOKEN"'
  lockring lock accounts/alice accounts/bob --wait 30s -- ./transfer.sh

Exit codes: CMD's code; 1 server unreachable or refused; 2 bad usage; 3 lock held
for the whole --wait; 4 lease lost while CMD ran; 126/127 CMD cannot run / not
found; 128+N interrupted by signal N while waiting.`;

const status = `lockring status NAME [--json] [--url URL]

Shows who holds lock NAME (token, owner, lease, since when, until when) and how
many wait. A name that nobody holds or waits for is "free". --json prints the
server's answer ({name, limit, holders, waiters}; a free name has no limit).

Examples:
  lockring status nightly-report
  lockring status 'jobs/nightly' --json | jq '.holders[0].token'

Exit codes: 0 shown (held or free), 1 server unreachable or error, 2 bad usage.`;

const ring = `lockring ring lookup RING KEY [--n N] [--json] [--url URL]
lockring ring nodes RING [--json] [--url URL]

lookup prints the node(s) owning KEY on RING, owner first, one per line.
nodes prints the ring's version, vnodes, fingerprint and members.

Examples:
  lockring ring lookup cache user:42
  lockring ring lookup cache user:42 --n 3 --json
  lockring ring nodes cache

Exit codes: 0 ok, 1 server unreachable or error (ring_not_found, ring_empty), 2 bad usage.`;

const ringLookup = `lockring ring lookup RING KEY [--n N] [--json] [--url URL]

Prints the node(s) that own KEY on RING, owner first, one per line (the same
answer every client computes from the ring snapshot).

Options:
  --n N       how many distinct nodes, owner first (default 1, server max 16)
  --json      print {ring, version, key, nodes}
  --url URL   server (default LOCKRING_URL or http://127.0.0.1:7420)

Examples:
  lockring ring lookup cache user:42
  lockring ring lookup cache user:42 --n 3 --json`;

const ringNodes = `lockring ring nodes RING [--json] [--url URL]

Prints RING's version, vnodes and fingerprint, and one line per member: id,
weight, the lease it is bound to, its meta.

Options:
  --json      print the server's answer {name, vnodes, version, fingerprint, nodes}
  --url URL   server (default LOCKRING_URL or http://127.0.0.1:7420)

Example:
  lockring ring nodes cache`;

const clientFlags = `Options (every client command):
  --url URL, --timeout DURATION, --cacert FILE, --cert FILE, --key FILE, --json`;

const release = `lockring release NAME TOKEN [options]

Hands the hold with fencing token TOKEN on lock NAME back. A token that does not
hold NAME is refused: not_holder with its reason (expired, released, revoked,
unknown), exit 1.

${clientFlags}

Example:
  lockring release deploy/api 42`;

const check = `lockring check NAME TOKEN [--mode read|write] [options]

Asks whether TOKEN still holds lock NAME (what a protected resource asks before a
write). With --mode, only a hold in that mode counts: a store that takes writes
checks --mode write. Exit 0 when it does, 3 when it does not, 1 on errors.

${clientFlags}

Example:
  lockring check deploy/api "$LOCKRING_FENCING_TOKEN" && echo still mine`;

const locks = `lockring locks list [--prefix P] [--limit N] [--after NAME] [--all] [options]
lockring locks waiters NAME [--limit N] [--after POSITION] [--all] [options]

list: locks sorted by name (UTF-8 byte order): name, limit, holders, waiters and
the holders' tokens. One page (--limit, default 100, at most 1000) unless --all;
--after continues after a name (the "next" of the previous page).

waiters: the queue of lock NAME in grant order: position (1 is granted next),
owner, mode, how long it has waited, when its --wait runs out. One page unless
--all, which follows the pages; --after continues after a position (the "next" of
the previous page). Positions are those of each page's read: the queue moves
between pages. --json prints {name, total, waiters, next}.

${clientFlags}

Examples:
  lockring locks list --prefix jobs/
  lockring locks list --all --json | jq '.locks[].name'
  lockring locks waiters deploy/api
  lockring locks waiters gpu --all --json | jq '.waiters[].owner'`;

const lease = `lockring lease grant [--ttl DURATION]          prints the new lease's id
lockring lease revoke LEASE                    ends it: its locks and members go
lockring lease keepalive LEASE [--ttl D] [--once]
                                               renews every TTL/3 until Ctrl-C
lockring lease list [--limit N]                leases that hold locks or members

keepalive exits 0 on SIGINT/SIGTERM and 4 when the lease is gone. The server has
no route that lists leases: list shows the leases bound to a lock or a ring member
(found through the lock and ring listings), with their TTLs; a lease with nothing
bound to it is not shown.

${clientFlags}

Examples:
  LEASE=$(lockring lease grant --ttl 30s)
  lockring lease keepalive "$LEASE" &
  lockring lease revoke "$LEASE"`;

const watch = `lockring watch [--lock NAME]... [--prefix PREFIX]... [--ring RING]... [options]

Streams lock events (acquired, released, expired, revoked) and ring events
(changed, deleted) over the WebSocket, one line each, or one JSON object per line
with --json, until SIGINT/SIGTERM (exit 0). There is no initial snapshot (read one
with status or ring nodes); events during a reconnect are missed, which is said on
stderr. At most 64 watches at once.

${clientFlags}

Examples:
  lockring watch --prefix jobs/ --json | jq -c 'select(.type == "expired")'
  lockring watch --ring cache`;

const health = `lockring health [options]

Asks /healthz (the process is up) and /readyz (it serves: not while recovering,
not on a standby). Exit 0 when ready, 1 otherwise.

${clientFlags}`;

const completion = `lockring completion bash|zsh|fish

Prints a completion script for commands, subcommands and flags.

  bash:  eval "$(lockring completion bash)"        (in ~/.bashrc)
  zsh:   eval "$(lockring completion zsh)"         (in ~/.zshrc, after compinit)
  fish:  lockring completion fish > ~/.config/fish/completions/lockring.fish`;

const topics: Readonly<Record<string, string>> = {
  release, check, locks, 'locks list': locks, 'locks waiters': locks, lease, 'lease grant': lease, 'lease revoke': lease, 'lease keepalive': lease, 'lease list': lease,
  watch, health, completion,
};

export type HelpTopic =
  | 'general' | 'serve' | 'lock' | 'status' | 'ring' | 'ring lookup' | 'ring nodes' | 'release' | 'check' | 'locks' | 'locks list' | 'locks waiters'
  | 'lease' | 'lease grant' | 'lease revoke' | 'lease keepalive' | 'lease list' | 'watch' | 'health' | 'completion';

export function helpFor(topic: HelpTopic | string): string {
  switch (topic) {
    case 'serve':
      return serveHelp();
    case 'lock':
      return lock;
    case 'status':
      return status;
    case 'ring':
      return ring;
    case 'ring lookup':
      return ringLookup;
    case 'ring nodes':
      return ringNodes;
    default:
      return topics[topic] ?? general;
  }
}
