export { hashSecret, SCRYPT_N, SCRYPT_P, SCRYPT_R, verifySecret } from './secrets.ts';
export {
  DEFAULT_REPORT_INTERVAL_S,
  isValidDeviceId,
  SqliteRegistry,
  type SqliteRegistryOptions,
} from './sqlite.ts';
export type * from './types.ts';
