export {
  checkNewId,
  EntityIdSchema,
  ID_GRAMMAR,
  ID_MAX_LENGTH,
  IdReferenceSchema,
  InvalidIdError,
  isValidId,
} from './ids.ts';
export { hashSecret, SCRYPT_N, SCRYPT_P, SCRYPT_R, verifySecret } from './secrets.ts';
export {
  DEFAULT_REPORT_INTERVAL_S,
  SqliteRegistry,
  type SqliteRegistryOptions,
} from './sqlite.ts';
export type * from './types.ts';
