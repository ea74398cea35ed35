export {
  DEFAULT_RDP_ORDERS,
  TF_PRIVACY_DP_SGD_ORDERS,
  computeRdp,
  rdpOneStep,
  computeLogA,
  computeLogAInt,
  computeLogAFrac,
  sumSignedLogSeries,
  type SignedSeriesTerm,
  logAdd,
  logSub,
  logSubSign,
  logAddSigned,
  combSign,
  logComb,
  logGamma,
  logErfc,
} from './rdp.ts';
export { epsilonFromRdp, type EpsilonResult } from './conversion.ts';
export { RdpAccountant, type GaussianEvent, type PrivacyBudget, type AccountantLedger } from './accountant.ts';
export { calibrateNoiseMultiplier, epsilonFor, type CalibrateOptions } from './calibrate.ts';
