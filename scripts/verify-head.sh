#!/usr/bin/env bash
# Runs the full test command on a clean checkout of HEAD (a scratch worktree), so a
# commit is known green without disturbing the working tree.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'git -C "$root" worktree remove --force "$dir" >/dev/null 2>&1 || rm -rf "$dir"' EXIT
git -C "$root" worktree add --detach "$dir" HEAD >/dev/null
cd "$dir"
if [ "${VERIFY_FULL_INSTALL:-0}" = 1 ]; then npm ci --no-audit --no-fund; else ln -s "$root/node_modules" node_modules; fi
npm test
