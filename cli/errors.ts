// Errors a user causes (bad flags, bad files): printed as one line, exit code 2.
export class UsageError extends Error {
  override name = 'UsageError';
}
