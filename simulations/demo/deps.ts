// What the demo uses from the other folders, in one place.
export { evaluateModel, loadModel, trainCentralized, initBackend, type CentralizedConfig, type ModelName } from '../../recommender/index.ts';
export type { LocalData } from '../../client/core.ts';
export { loadLocalData } from '../../client/node/data.ts';
export { generateIdentity, identityToJSON, toBase64 } from '../../protocol/index.ts';
