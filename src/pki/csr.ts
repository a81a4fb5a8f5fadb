// A key pair made here and a PKCS#10 certificate signing request for it (RFC 2986): for the
// Destination service to sign (source.destination.generate), so that the private key never leaves
// the cluster. The key is RSA 2048 from node:crypto; node-forge builds and signs the request (it
// signs with RSA keys only, which is why the key is RSA).
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateRsa = promisify(generateKeyPair);

export const GENERATED_KEY_BITS = 2048;

/** A new private key, PKCS#8 PEM. Generated off the main thread by node:crypto. */
export async function generatePrivateKey(): Promise<string> {
  const { privateKey } = await generateRsa('rsa', {
    modulusLength: GENERATED_KEY_BITS,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return privateKey;
}

/** The PEM CSR for `keyPem` (an RSA key) with subject CN=commonName, signed with SHA-256. */
export function certificateSigningRequest(keyPem: string, commonName: string): string {
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  csr.setSubject([{ name: 'commonName', value: commonName }]);
  csr.sign(key, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}
