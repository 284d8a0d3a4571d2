// A second real process that opens a state directory (the built store, dist/) and holds it until
// killed: for the lock tests. Prints "held <pid>" once the directory is its, or the error and exit 1.
import { MemoryStore } from '../../dist/state/memory-store.js';

const store = new MemoryStore({ stateDir: process.argv[2], instanceId: 'holder-under-test' });
try {
  await store.start();
} catch (err) {
  console.log(`refused ${err.message}`);
  process.exit(1);
}
if (process.argv[3]) await store.write([{ ns: 'drain', key: 'eu-west', value: { region: 'eu-west', reason: process.argv[3], hostnames: null, by: 'child', at: 1 } }], { actor: 'child', action: 'drain', target: 'eu-west', reason: process.argv[3], before: null, after: null });
console.log(`held ${process.pid}`);
setInterval(() => {}, 1 << 30);
