// coordinator/config: the privacy section's defaults and the refusals that
// name the field and the fix.
import { describe, expect, it } from 'vitest';
import { ConfigError, operatorPort, parseCoordinatorConfig } from '../../coordinator/config.ts';

const central = (privacy: Record<string, unknown>, extra: Record<string, unknown> = {}) => parseCoordinatorConfig({ privacy: { mode: 'central', ...privacy }, ...extra });
const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('privacy config', () => {
  it('defaults to no DP, and to a budgeted, auto-calibrated, user-level setting once central', () => {
    expect(parseCoordinatorConfig({}).privacy).toMatchObject({ mode: 'none' });
    const p = central({ sampleRate: 0.1, population: 1000 }).privacy;
    expect(p).toEqual({ mode: 'central', unit: 'user', targetEpsilon: 8, delta: 1e-6, noiseMultiplier: 'auto', sampleRate: 0.1, population: 1000, clip: { norm: 0.1 } });
    const a = central({ sampleRate: 0.1, population: 1000, clip: { adaptive: {} } }).privacy.clip;
    expect(a).toEqual({ adaptive: { initialNorm: 0.1, targetQuantile: 0.5, learningRate: 0.2 } });
  });

  it('user level needs the per-user sampling rate and the population, and leaves client sampling alone', () => {
    const m = refusal(() => central({}));
    expect(m).toMatch(/privacy\.sampleRate: is required with unit 'user'/);
    expect(m).toMatch(/privacy\.population: is required with unit 'user'/);
    expect(refusal(() => central({ sampleRate: 0.1, population: 10 }, { rounds: { sampleRate: 0.5 } }))).toMatch(/rounds\.sampleRate: must be unset with privacy unit 'user'/);
  });

  it('refuses settings that would break the sensitivity or the sampling the accountant assumes', () => {
    const user = { sampleRate: 0.1, population: 100 };
    expect(refusal(() => central(user, { codec: 'int8' }))).toMatch(/codec: must be 'f32' with privacy unit 'user'/);
    expect(refusal(() => central(user, { codec: 'f16' }))).toMatch(/codec: must be 'f32'/);
    expect(central({ unit: 'client', population: 5 }, { codec: 'int8' }).codec).toBe('int8'); // the coordinator clips each decoded client update
    expect(refusal(() => central(user, { rounds: { overSelect: 0.2 } }))).toMatch(/rounds\.overSelect: must be 0 in central DP mode/);
    expect(refusal(() => central({ unit: 'client' }))).toMatch(/privacy\.population: is required with unit 'client' when clients\.allow is empty/);
    expect(refusal(() => central({ unit: 'client', population: 5, maxUsersPerClient: 3 }))).toMatch(/privacy\.maxUsersPerClient: applies to unit 'user' only/);
    expect(central({ ...user, maxUsersPerClient: 40 }).privacy.maxUsersPerClient).toBe(40);
  });

  it('client level takes q from rounds.sampleRate, not privacy.sampleRate', () => {
    expect(refusal(() => central({ unit: 'client', sampleRate: 0.1, population: 5 }))).toMatch(/privacy\.sampleRate: applies to unit 'user' only/);
    expect(central({ unit: 'client', population: 5 }, { rounds: { sampleRate: 0.3 } }).rounds.sampleRate).toBe(0.3);
  });

  it("refuses weighting by examples under DP (the sum is divided by the expected count), and bad values by field", () => {
    expect(refusal(() => central({ sampleRate: 0.1, population: 10 }, { strategy: { weighting: 'examples' } }))).toMatch(/strategy\.weighting: must be 'uniform'/);
    expect(central({ sampleRate: 0.1, population: 10 }, { strategy: { weighting: 'uniform' } }).strategy.weighting).toBe('uniform');
    expect(refusal(() => central({ sampleRate: 0.1, population: 10, noiseMultiplier: 0 }))).toMatch(/privacy\.noiseMultiplier/);
    expect(refusal(() => central({ sampleRate: 0.1, population: 10, delta: 1 }))).toMatch(/privacy\.delta/);
    expect(refusal(() => central({ sampleRate: 1.5, population: 10 }))).toMatch(/privacy\.sampleRate/);
    expect(refusal(() => central({ sampleRate: 0.1, population: 10, clip: { norm: 1, adaptive: {} } }))).toMatch(/privacy\.clip/);
    expect(refusal(() => central({ sampleRate: 0.1, population: 10, clip: { adaptive: { targetQuantile: 1 } } }))).toMatch(/privacy\.clip/);
    expect(refusal(() => central({ sampleRate: 0.1, population: 10, epsilon: 3 }))).toMatch(/privacy/);
    expect(refusal(() => parseCoordinatorConfig({ privacy: { mode: 'local' } }))).toMatch(/privacy\.mode/);
  });
});

describe('operator listener config', () => {
  it('binds loopback, on the public port + 1 (a free port when the public one is), unless told otherwise', () => {
    const d = parseCoordinatorConfig({});
    expect(d.operator).toEqual({ host: '127.0.0.1' });
    expect(operatorPort(d)).toBe(8081);
    expect(operatorPort(parseCoordinatorConfig({ port: 0 }))).toBe(0);
    expect(operatorPort(parseCoordinatorConfig({ port: 9000, operator: { port: 9100 } }))).toBe(9100);
    expect(operatorPort(parseCoordinatorConfig({ port: 0, operator: { port: 0 } }))).toBe(0);
  });

  it('refuses a port it cannot derive or that clashes, a short token and unknown keys', () => {
    expect(refusal(() => parseCoordinatorConfig({ port: 65535 }))).toMatch(/operator\.port: is required when port is 65535/);
    expect(refusal(() => parseCoordinatorConfig({ port: 9000, operator: { port: 9000 } }))).toMatch(/operator\.port: must differ from port/);
    expect(refusal(() => parseCoordinatorConfig({ operator: { token: 'short' } }))).toMatch(/operator\.token: must be at least 16 characters/);
    expect(refusal(() => parseCoordinatorConfig({ operator: { metrics: true } }))).toMatch(/operator/);
  });
});

describe('limits config', () => {
  it('defaults suit merchants and browsers behind a NAT, and a small socket.io frame for everyone', () => {
    expect(parseCoordinatorConfig({}).limits).toEqual({
      maxMessageBytes: 16384,
      uploadBufferBytes: 256 * 1024 * 1024,
      handshakeTimeoutSeconds: 10,
      maxConnections: 10_000,
      maxConnectionsPerAddress: 256,
      messagesPerSecond: 5,
    });
  });

  it('refuses out-of-range and unknown limits by field', () => {
    expect(refusal(() => parseCoordinatorConfig({ limits: { maxMessageBytes: 1024 } }))).toMatch(/limits\.maxMessageBytes: must be at least 4096/);
    expect(refusal(() => parseCoordinatorConfig({ limits: { handshakeTimeoutSeconds: 0 } }))).toMatch(/limits\.handshakeTimeoutSeconds/);
    expect(refusal(() => parseCoordinatorConfig({ limits: { maxConnectionsPerAddress: 0 } }))).toMatch(/limits\.maxConnectionsPerAddress/);
    expect(refusal(() => parseCoordinatorConfig({ limits: { maxSockets: 5 } }))).toMatch(/limits/);
  });
});
