/** A change the registry refuses because of other entries (a vehicle that still carries devices). */
export class RegistryConflictError extends Error {
  override name = 'RegistryConflictError';
}
