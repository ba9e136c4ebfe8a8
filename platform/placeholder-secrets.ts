/**
 * Secrets that are not secret: the values of `.env.example` and the usual placeholders people leave in
 * a configuration (change-me, changeme, placeholder, your-token-here, <token>, xxxx, secret, password).
 * A platform started with one of them outside a demo (SIMULATE off) refuses to start (config.ts): the
 * example file is public, and a default that passes the length check is a default password.
 */

/** The settings that hold a secret of the platform itself. */
export const SECRET_SETTINGS = [
  'ADMIN_TOKEN',
  'SERVICE_PASSWORD',
  'INFLUX_TOKEN',
  'INFLUX_PASSWORD',
  'INGEST_MQTT_PASSWORD',
] as const;

/** Words that mark a placeholder, compared without case, spaces, dashes or underscores. */
const PLACEHOLDER_WORDS = ['changeme', 'replaceme', 'placeholder', 'yourtoken', 'yoursecret', 'yourpassword'];
const PLACEHOLDER_VALUES = new Set([
  'secret',
  'password',
  'passw0rd',
  'admin',
  'token',
  'default',
  'example',
  'changeit',
  'letmein',
  '123456',
  '12345678',
  '1234567890123456',
]);

/** Why `value` is a placeholder rather than a secret, or undefined when it looks like a real one. */
export function placeholderReason(value: string): string | undefined {
  const folded = value.toLowerCase().replace(/[\s_\-.]/g, '');
  if (PLACEHOLDER_WORDS.some((w) => folded.includes(w))) return 'it is a placeholder (as in .env.example)';
  if (PLACEHOLDER_VALUES.has(folded)) return 'it is a well-known default';
  if (/^<.*>$/.test(value.trim())) return 'it is a placeholder in angle brackets';
  if (/^(.)\1*$/.test(folded)) return 'it repeats one character';
  return undefined;
}
