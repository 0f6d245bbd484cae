#!/usr/bin/env node
// Removes build output before a build, so a file deleted from src/ never ships from
// a stale dist/ (npm pack runs the build through `prepack`).
import { rmSync } from 'node:fs';

for (const dir of process.argv.slice(2)) rmSync(dir, { recursive: true, force: true });
