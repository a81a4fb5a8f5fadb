// The image's entry point (Dockerfile ENTRYPOINT, node dist/start.js): stack traces through the
// operator's own code point at src/*.ts, as with `node --enable-source-maps`, but the source maps
// of node_modules are not loaded. With the flag, Node parses the map of every module it loads,
// and @kubernetes/client-node brings about a thousand: 10 MB of JS heap and 20 MB of resident
// memory before the first certificate (docs/development/scale.md). The setting covers only the
// modules loaded after it, hence main.ts is imported here, not above.
import { setSourceMapsSupport } from 'node:module';

setSourceMapsSupport(true, { nodeModules: false });
await import('./main.ts');
