// Errors a simulation's user can cause (a bad config, partition or flag): the message says what and how to fix it.

export class SimulationConfigError extends Error {
  override name = 'SimulationConfigError';
}
