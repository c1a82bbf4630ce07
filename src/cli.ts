// The command line's entry point, `node dist/cli.js` (docs/design.md); bin/shiftproxy.js loads it too.
import './cli/main.js';
