import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SelfSignedCert {
  dir: string;
  certFile: string;
  keyFile: string;
  /** PEM of the certificate: give it to clients as `ca` to trust the server */
  cert: Buffer;
  key: Buffer;
}

/**
 * A throwaway self-signed certificate for tests (CN=localhost, SAN DNS:localhost and IP:127.0.0.1,
 * valid one day), made with the system `openssl` in a fresh temp dir (or `dir` when given).
 */
export async function selfSignedCert(dir?: string): Promise<SelfSignedCert> {
  const where = dir ?? (await mkdtemp(join(tmpdir(), 'citywatch-tls-')));
  const certFile = join(where, 'cert.pem');
  const keyFile = join(where, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-days',
    '1',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  return { dir: where, certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
}
