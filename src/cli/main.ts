#!/usr/bin/env node
import { cli } from './cli.js';
import { exitAfterFlush } from './exit-codes.js';

// `lockring status x | head -1`: a reader that stops early is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

exitAfterFlush(await cli(process.argv.slice(2)));
