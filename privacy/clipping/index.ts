// Clipping: bounding each contribution's L2 norm, fixed or adaptive.
export { clipInPlace, l2Norm } from './clip.ts';
export {
  type AdaptiveClipConfig,
  ADAPTIVE_CLIP_DEFAULTS,
  updateNoiseMultiplier,
  fractionUnderClip,
  nextClipNorm,
} from './adaptive.ts';
