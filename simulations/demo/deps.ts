// What the demo uses from the other folders, in one place.
export { evaluateModel, loadModel, trainCentralized, initBackend, type CentralizedConfig, type ModelName } from '../../recommender/index.ts';
export { loadLocalData, type LocalData } from '../../client/node/index.ts';
export { generateIdentity, identityToJSON, toBase64 } from '../../protocol/index.ts';
