// Errors a coordinator's operator can cause (a bad fedrec.json, settings that
// cannot work): the message says what is wrong and what to do. The store has
// its own (StoreError), the wire its own (ProtocolError).

export class ConfigError extends Error {
  override name = 'ConfigError';
}
