// The socket coordinator: express + socket.io around the engine (coordinator.ts
// starts it from fedrec.json). Separate from coordinator/index.ts so that code
// using only the engine (simulations) never loads the server stack.
export { startCoordinator, resolveCatalog, type RunningCoordinator, type CatalogItem } from '../coordinator.ts';
