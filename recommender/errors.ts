// The recommender's one error type a user can cause: a data spec, file or
// directory that is missing or malformed. The message says which and how to
// fix it. Browser-safe.

export class DataError extends Error {
  override name = 'DataError';
}
