// The body of a simulation worker thread: rebuilds the run's data, split,
// partition and a model from the config (all deterministic in the seed), then
// runs the tasks it is sent with InProcessClients and posts the updates back.
import { parentPort, workerData } from 'node:worker_threads';
import { createModel, initBackend } from '../recommender/index.ts';
import { InProcessClients, type SamplingSource, type TaskWithModel } from './clients.ts';
import type { SimulationConfig } from './config.ts';
import { loadWorld } from './world.ts';

const { cfg, coordinatorKey, sampling } = workerData as { cfg: SimulationConfig; coordinatorKey: Uint8Array; sampling: SamplingSource };
const ready = (async () => {
  await initBackend('wasm');
  const w = await loadWorld(cfg);
  const model = createModel(cfg.model, { ...cfg.modelConfig, numItems: w.numItems }, cfg.seed);
  return new InProcessClients({ seed: cfg.seed, train: w.split.train, partition: w.partition, model, coordinatorKey, sampling });
})();

const models = new Map<number, Uint8Array>();
parentPort!.on('message', (m: { id: number; tasks: TaskWithModel[]; models: Record<number, Uint8Array> }) => {
  for (const [v, bytes] of Object.entries(m.models)) models.set(Number(v), bytes);
  ready
    .then((clients) =>
      clients.run(m.tasks, async (v) => {
        const bytes = models.get(v);
        if (!bytes) throw new Error(`model version ${v} was not sent to this worker`);
        return bytes;
      }),
    )
    .then((updates) => {
      // versions only grow: keep just the ones this batch used
      const used = new Set(m.tasks.map((t) => t.task.modelVersion));
      for (const v of models.keys()) if (!used.has(v)) models.delete(v);
      parentPort!.postMessage({ id: m.id, updates });
    })
    .catch((err: Error) => parentPort!.postMessage({ id: m.id, error: err.message }));
});
