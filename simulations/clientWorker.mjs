// Worker-thread entry of WorkerClients: registers the TypeScript loader (as
// bin/fedrec.mjs does) and starts the worker's TypeScript body.
import { register } from 'tsx/esm/api';

register();
await import('./clientWorkerMain.ts');
