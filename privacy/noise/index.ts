// Exact, integer-only noise samplers for differential privacy
// (Canonne, Kamath & Steinke 2020, "The Discrete Gaussian for Differential Privacy").
export {
  type RandomSource,
  WordRandomSource,
  CryptoRandomSource,
  SeededRandomSource,
  defaultRandomSource,
} from './random.ts';
export { type Rational, sampleBernoulli, sampleBernoulliExp } from './bernoulli.ts';
export { sampleDiscreteLaplace } from './discreteLaplace.ts';
export {
  type Sigma2,
  DEFAULT_MAX_DENOMINATOR,
  DiscreteGaussianSampler,
  discreteGaussianVector,
  isqrt,
  normalizeSigma2,
  rationalFromNumber,
  sampleDiscreteGaussian,
} from './discreteGaussian.ts';
