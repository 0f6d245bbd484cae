import { runReporting } from './cli/cli.js';
import { exitAfterFlush } from './cli/exit-codes.js';
import { serveCommand } from './cli/serve.js';

/**
 * `npm start` / `node dist/src/main.js [serve options]`: the same as `lockring serve`.
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration.
 */
exitAfterFlush(await runReporting(() => serveCommand(process.argv.slice(2), process.env)));
