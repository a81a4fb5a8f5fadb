// What a reconcile observed (gather's output, decide's input) and what it is to do (decide's
// output, act's input). Types only.
import type { Reason } from '../api/conditions.ts';
import type { BTPCertificate, BTPCertificateStatus } from '../api/types.ts';
import type { SourceFailure, X509Credentials } from '../sources/credentials.ts';
import type { AccessHold } from './access-in-use.ts';
import type { RetiredBinding } from './bindings.ts';
import type { Issuance } from './policies/issuance.ts';
import type { DesiredSecret, ExistingSecret } from './secret.ts';
import type { TokenCheckResult, TokenSecretWrite } from './token.ts';

/** How the source can be asked for new credentials when renewal is due. */
export type RenewalMechanism =
  | {
      readonly kind: 'service-binding';
      readonly name: string;
      readonly rotationEnabled: boolean;
      readonly rotationRequested: boolean;
      /**
       * Why the BTP operator does not act on a rotation request now (it skips forceRotate while the
       * ServiceBinding's Succeeded condition is False); undefined when nothing stands in the way.
       */
      readonly rotationBlocked?: string | undefined;
      /** A rotation is running: a request now would be dropped; its end wakes the reconcile. */
      readonly rotationInProgress?: boolean;
    }
  | { readonly kind: 'service-manager' }
  /** The Destination service renews what it generated; its answer is read again at nextReadAt. */
  | { readonly kind: 'destination'; readonly nextReadAt: Date }
  /** The operator renews by a new key and CSR (source.destination.generate); a failed try, if any. */
  | {
      readonly kind: 'destination-generate';
      readonly failure?: { readonly retryAt: Date; readonly reason: Reason; readonly message: string };
    }
  | { readonly kind: 'none' };

export type SourceObservation =
  | {
      readonly ok: true;
      readonly description: string;
      readonly revision: string;
      readonly credentials: X509Credentials;
      readonly renewal: RenewalMechanism;
    }
  | (SourceFailure & {
      readonly description: string;
      /** Look again after this long even if nothing changes (the source failed transiently). */
      readonly recheckAfterMs?: number;
    });

export type PasswordObservation =
  | { readonly ok: true; readonly password: string }
  | { readonly ok: false; readonly message: string };

/** A token check run in this reconcile, on the credentials with this fingerprint. */
export type TokenCheck = { readonly fingerprint: string; readonly result: TokenCheckResult };

export type Observed = {
  readonly certificate: BTPCertificate;
  /** For a serviceManager source: the candidate's credentials when there is one, else the current's. */
  readonly source: SourceObservation;
  /** The target Secret as it is, or undefined when there is none. */
  readonly secret: ExistingSecret | undefined;
  /** Present when a PKCS12 output is requested. */
  readonly keystorePassword: PasswordObservation | undefined;
  readonly now: Date;
  /** serviceManager source: what the issuance step did. */
  readonly issuance?: Issuance;
  /** The token check run in this reconcile, if one was due. */
  readonly tokenCheck?: TokenCheck;
  /** serviceManager source with its own access Secret: what holding it found. */
  readonly access?: AccessHold | undefined;
  /** When this process last swept the certificate's bindings for orphans (ms); undefined: not yet. */
  readonly lastSweptAt?: number | undefined;
};

export type EventSpec = {
  readonly type: 'Normal' | 'Warning';
  readonly reason: Reason;
  readonly message: string;
};

export type ValidCredentials = {
  readonly fingerprint: string;
  /** As written to the Secret: the chain leaf first, and the key. */
  readonly chainPem: string;
  readonly keyPem: string;
  readonly fields: X509Credentials['fields'];
};

export type Plan = {
  /** The Secret to apply, with the keystore bytes when PKCS12 is requested; undefined: it is up to date. */
  readonly write: { readonly secret: DesiredSecret; readonly keystore: Buffer | undefined } | undefined;
  readonly rotate: { readonly serviceBinding: string } | undefined;
  readonly status: BTPCertificateStatus;
  readonly events: readonly EventSpec[];
  /** When to look again even if nothing changes; undefined: only on change (and resync). */
  readonly requeueAt: Date | undefined;
  /** The validated credentials the Secret holds after this plan; undefined when invalid. */
  readonly credentials?: ValidCredentials;
  /** Bindings never handed out, to delete (a candidate that failed); a failure fails the reconcile. */
  readonly deleteBindings: readonly string[];
  /** Retired bindings whose time has come; those deleted leave status.retiredBindings. */
  readonly retiredDue: readonly RetiredBinding[];
  /** The token Secret to write (after a passing check, when spec.token.secretName is set). */
  readonly tokenSecret: TokenSecretWrite | undefined;
  /** Whether to sweep the certificate's bindings for orphans after the status is written. */
  readonly sweepOrphans: boolean;
};
