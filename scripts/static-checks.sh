#!/usr/bin/env bash
# The static checks of `npm test` side by side (type check, lint, import cycles): together they take
# about as long as the type check alone. Each prints its own output; any failure fails the lot.
set -u
pids=()
npm run --silent typecheck & pids+=($!)
npm run --silent lint & pids+=($!)
npm run --silent cycles & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit "$status"
