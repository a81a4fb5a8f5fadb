// The PKI module: the only place that parses certificates and keys or touches node-forge. It takes
// the certificate and key text of a credential and gives back a validated TLS bundle, or a PkiError
// with a stable code; it also writes the bundle in other formats. Everything here is pure apart
// from the randomness inside pkcs12; time is always an argument.

export { certificateInfo } from './certificates.ts';
export { certificateSigningRequest, GENERATED_KEY_BITS, generatePrivateKey } from './csr.ts';
export {
  isPkiErrorCode,
  type OutputError,
  OutputErrorCode,
  type OutputResult,
  type PkiError,
  PkiErrorCode,
  type PkiResult,
  pkiErrorRetryable,
  type Result,
} from './errors.ts';
export { combinedPem } from './formats.ts';
export type { CertificateInfo } from './info.ts';
export {
  type CertificateValidity,
  type InspectedCertificate,
  inspectPair,
  type PairInspection,
} from './inspect.ts';
export { KEY_TYPES, type KeyFormat, type KeyType } from './key.ts';
export {
  type DecodedKeystore,
  decodeKeystore,
  type KeystoreError,
  KeystoreErrorCode,
  MAX_KEYSTORE_BYTES,
  MAX_KEYSTORE_ITERATIONS,
} from './keystore.ts';
export {
  caBundleCertificates,
  MAX_CA_BUNDLE_BYTES,
  MAX_CA_BUNDLE_CERTIFICATES,
  MAX_CERTIFICATES,
  MAX_PEM_TEXT_BYTES,
} from './limits.ts';
export { DEFAULT_PKCS12_FRIENDLY_NAME, type Pkcs12Options, pkcs12 } from './pkcs12.ts';
export { type CredentialPems, parseCredentialPems, type ValidatedBundle } from './validate.ts';
