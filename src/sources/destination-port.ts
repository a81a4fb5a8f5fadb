// Source `destination`: what the controller needs from the SAP Destination service (btp.md §6).
// The BTP client (src/btp/destination.ts) implements this port; tests of the controller use the
// same client against the BTP simulator.
//
// Content is the stored file as bytes (PEM text, PKCS#12, JKS): decoding it is the controller's
// job. Passwords arrive as Secrets (src/btp/secret.ts): they are never shown in text.
import type { Secret } from '../btp/secret.ts';
import type { SmAccess } from './service-manager-access.ts';

export type DestinationLevel = 'Subaccount' | 'Instance';

/** Access to the Destination service: the fields of its service binding. */
export type DestinationAccess = {
  /** The binding's `uri`: `https://destination-configuration.cfapps.<landscape>`. */
  readonly serviceUrl: string;
  /** The full token endpoint: `{url}/oauth/token` for a secret, `{certurl}/oauth/token` for x509. */
  readonly tokenUrl: string;
  readonly clientId: string;
  /** A client secret or a certificate and key, as for the Service Manager. */
  readonly auth: SmAccess['auth'];
};

/** A stored certificate file (`{Name, Type, Content}`), Content decoded from base64. */
export type StoredCertificate = {
  readonly name: string;
  /** As the service says it, e.g. `CERTIFICATE`. The format is judged from the name and bytes. */
  readonly type: string;
  readonly content: Uint8Array;
};

/** The parts of `destinationConfiguration` the controller uses, parsed; the rest in `properties`. */
export type DestinationConfiguration = {
  readonly name: string;
  readonly type: string | undefined;
  readonly url: string | undefined;
  /** `ClientCertificateAuthentication`, `OAuth2ClientCredentials`, ... */
  readonly authentication: string | undefined;
  /** `KeyStoreLocation`, else `tokenService.KeyStoreLocation`: the certificate file's Name. */
  readonly keyStoreLocation: string | undefined;
  /** `KeyStorePassword`, else `tokenService.KeyStorePassword`. */
  readonly keyStorePassword: Secret | undefined;
  readonly tokenServiceUrl: string | undefined;
  readonly clientId: string | undefined;
  /** Every other string property, as sent (no password or secret among them). */
  readonly properties: Readonly<Record<string, string>>;
};

/** An answer of find-destination. */
export type FoundDestination = {
  /** Where the destination was found. */
  readonly owner: { readonly level: DestinationLevel; readonly id: string | undefined };
  readonly configuration: DestinationConfiguration;
  /** The keystore files the destination refers to. */
  readonly certificates: readonly StoredCertificate[];
  /** What the service reports about the tokens it fetched itself; the token values are dropped. */
  readonly authTokens: readonly { readonly type: string; readonly error: string | undefined }[];
};

export type CertificateValidity = {
  readonly unit: 'DAYS' | 'MONTHS' | 'YEARS';
  readonly value: number;
};

/** What to ask the service to generate (`Attributes` of the POST). */
export type GenerateCertificateRequest = {
  readonly name: string;
  readonly level: DestinationLevel;
  readonly commonName: string;
  readonly validity: CertificateValidity;
  readonly automaticRenew: boolean;
  /**
   * A PEM certificate signing request: the service signs its public key and returns the chain
   * only; the private key never leaves the cluster. Without it the service generates the key
   * too and returns it in the file.
   */
  readonly csrPem?: string;
};

/**
 * Failures other than "not found" are BtpErrors (src/btp/errors.ts): switch on `code`
 * (BtpUnauthorized, BtpForbidden, BtpRateLimited with retryAfterMs, BtpServerError after the
 * client's own retries, BtpTLSHandshakeFailed, BtpHostNotAllowed, ...).
 */
export interface DestinationPort {
  /**
   * find-destination (`GET /destination-configuration/v1/destinations/{name}`): the instance
   * level first, then the subaccount. With `level`, a destination found at the other level counts
   * as not found. undefined when there is none.
   */
  findDestination(name: string, level?: DestinationLevel): Promise<FoundDestination | undefined>;
  /** A stored certificate of that level; undefined when there is none. */
  getCertificate(name: string, level: DestinationLevel): Promise<StoredCertificate | undefined>;
  /** Generates a certificate (signing the CSR when given) and returns the stored file. */
  createCertificate(request: GenerateCertificateRequest): Promise<StoredCertificate>;
  /** Idempotent: a certificate that is already gone is fine. */
  deleteCertificate(name: string, level: DestinationLevel): Promise<void>;
  /** Closes its connections and forgets its token (the credential was replaced). */
  close(): Promise<void>;
}

/** One client per access credential (cached by the implementation). */
export type DestinationFactory = (access: DestinationAccess) => DestinationPort;
