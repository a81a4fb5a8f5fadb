// Condition types and reasons of a BTPCertificate: a closed, documented catalogue. The README's
// reasons table is checked against it by a unit test.

export const ConditionType = {
  /** The Secret holds valid, current credentials. */
  Ready: 'Ready',
  /** A token was fetched with the credentials (the token check). */
  TokenReady: 'TokenReady',
  /** kstatus: the controller is working towards the desired state. */
  Reconciling: 'Reconciling',
  /** kstatus: progress needs a change of the spec or of the source. */
  Stalled: 'Stalled',
  /** Renewal is due and could, or could not, be requested from the source. */
  Renewal: 'Renewal',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

type ReasonInfo = {
  /** What it means, for the README. */
  readonly meaning: string;
  /** What the user should do, for the README. */
  readonly action: string;
  /** Needs a change of the spec or the source: Stalled=True rather than Reconciling=True. */
  readonly stalls: boolean;
};

export const Reasons = {
  Issued: { meaning: 'The Secret holds the validated credentials.', action: 'Nothing.', stalls: false },
  SourceNotFound: {
    meaning:
      'The source ServiceBinding or Secret (or the Secret of the ServiceBinding) does not exist, the destination or certificate is not in the Destination service, or the current Service Manager binding was deleted in BTP while a failed renewal backs off.',
    action: 'Create it, or fix the name in spec.source.',
    stalls: false,
  },
  SourceNotReady: {
    meaning: 'The ServiceBinding is not Ready yet, or has not written its Secret.',
    action: 'Wait; check the ServiceBinding status if it persists.',
    stalls: false,
  },
  ServiceBindingAPIMissing: {
    meaning: 'The services.cloud.sap.com/v1 ServiceBinding API (Kyma BTP operator) is not installed.',
    action: 'Install the BTP operator, or use a secret source. It is picked up without a restart.',
    stalls: false,
  },
  InvalidCredentials: {
    meaning:
      'The source does not hold credentials in a known shape (JSON does not parse, no certificate or key).',
    action: 'Check the source Secret; with source.secret.key, the key must hold one JSON document.',
    stalls: true,
  },
  InputTooLarge: {
    meaning:
      'An input the operator reads is larger than it accepts, and it was not parsed: a source Secret field over 64 KiB, a certificate chain of more than 10 certificates, a URL (certurl, url, sm_url, tokenurl) over 2 KiB, or a CA bundle (spec.token.caBundleRef) over 256 KiB or 100 certificates.',
    action: 'Fix the input; the message names the field and the limit.',
    stalls: true,
  },
  NotX509Credentials: {
    meaning: 'The binding holds client-secret credentials, not x509.',
    action:
      'Request credential-type x509: for xsuaa, {"credential-type":"x509"} at the top of the parameters; for services that reuse XSUAA (destination, auditlog, ...), nested under "xsuaa".',
    stalls: true,
  },
  InvalidCertificate: {
    meaning: 'A certificate block does not parse, or there is none.',
    action: 'Check the certificate field of the source; recreate the binding.',
    stalls: true,
  },
  InvalidKey: {
    meaning: 'The private key does not parse (or is encrypted).',
    action: 'Check the key field of the source; recreate the binding.',
    stalls: true,
  },
  KeyMismatch: {
    meaning: 'The private key does not belong to the leaf certificate.',
    action: 'The source mixes credentials of two bindings; recreate the binding.',
    stalls: true,
  },
  BrokenChain: {
    meaning: 'The certificates do not form one chain (a link does not verify, or a stray certificate).',
    action: 'Check the certificate field of the source; recreate the binding.',
    stalls: true,
  },
  Expired: {
    meaning: 'The certificate has expired.',
    action: 'Rotate the binding; check why renewal did not happen (Events, Renewal condition).',
    stalls: true,
  },
  NotYetValid: {
    meaning: 'The certificate is not valid yet (notBefore in the future).',
    action: 'Nothing if the clock skew is small: it is picked up when it becomes valid.',
    stalls: false,
  },
  SecretConflict: {
    meaning: 'The target Secret exists and is not owned by this BTPCertificate (another owner, or none).',
    action: 'Choose another spec.secretName, or delete the existing Secret if it is not needed.',
    stalls: true,
  },
  InvalidSecretTemplate: {
    meaning: 'spec.secretTemplate.data names a field the credentials do not have.',
    action: 'Fix the template; the message lists the fields that exist.',
    stalls: true,
  },
  PasswordSecretNotFound: {
    meaning:
      'The PKCS12 password Secret or key (or the keystore password of a destination source) does not exist.',
    action:
      'Create it, or fix additionalOutputFormats[].passwordSecretRef or source.destination.passwordSecretRef.',
    stalls: false,
  },
  OutputFormatFailed: {
    meaning:
      'An additional output format could not be produced for these credentials (e.g. PKCS12 of an EC key).',
    action: 'Use an ASCII password, or remove that output format.',
    stalls: true,
  },
  InvalidSMCredentials: {
    meaning:
      'The Service Manager access Secret is incomplete (sm_url, clientid, a secret or certificate, a token URL).',
    action:
      'Fix the Secret named by source.serviceManager.credentialsSecretRef; the message names what is missing.',
    stalls: true,
  },
  SMCredentialsNotAllowed: {
    meaning:
      'No credentialsSecretRef, and the operator has no default Service Manager credentials configured.',
    action:
      'Set source.serviceManager.credentialsSecretRef, or start the operator with --default-sm-credentials.',
    stalls: true,
  },
  SMAuthenticationFailed: {
    meaning: 'The Service Manager access credentials were refused by XSUAA (revoked, expired, or wrong).',
    action:
      'Renew the Service Manager access credentials (see the README recipe for the BTP operator secret).',
    stalls: true,
  },
  ServiceInstanceNotFound: {
    meaning: 'The service instance named in source.serviceManager does not exist for these credentials.',
    action:
      'Fix serviceInstanceName/serviceInstanceID, or check that the credentials belong to that subaccount.',
    stalls: true,
  },
  InvalidParameters: {
    meaning: 'Service Manager rejected the binding parameters (400).',
    action: 'Fix source.serviceManager.x509 or parameters; the message carries the service error.',
    stalls: true,
  },
  ServiceManagerError: {
    meaning:
      'Service Manager could not be reached or kept failing (5xx, 429, timeouts); retried with backoff.',
    action: 'Nothing if it is transient; status.nextRetryTime says when the next attempt is.',
    stalls: false,
  },
  DefaultCredentialsNotAllowed: {
    meaning:
      "The BTPCertificate names no credentialsSecretRef, and the operator's policy (--default-sm-credentials-policy) does not let its namespace bind that service instance with the default Service Manager credentials. Nothing was asked of BTP.",
    action:
      "Name your own credentialsSecretRef, or ask the operator's administrator to list the namespace and instance in the policy.",
    stalls: true,
  },
  BindingLimitReached: {
    meaning:
      'A new binding is due, but the BTPCertificate has as many live bindings (current, retired, left over) as the operator allows (--max-bindings-per-certificate). The current credentials stay.',
    action:
      'Nothing: the next binding is created once a retired one is deleted (spec.rotatedBindingTTL); ask less often for renewal.',
    stalls: false,
  },
  BindingNotOwned: {
    meaning:
      "Service Manager answered with a binding that is not this BTPCertificate's (it does not carry its uid label, or another ID, name or instance than asked for). Nothing was written and the binding is left alone.",
    action:
      'Check that credentialsSecretRef points at your own Service Manager; a binding must not be relabelled or shared between BTPCertificates.',
    stalls: true,
  },
  AccessSecretTerminating: {
    meaning:
      'The credentials are valid, but the Service Manager access Secret is being deleted. It is kept (finalizer btpcerts.io/in-use) until every BTPCertificate that may have bindings through it has deleted them: deleting it would leave them in BTP.',
    action:
      'Delete the BTPCertificates that use it if that was the intent (the Secret goes after their bindings); to replace its credentials, update it in place (it cannot be created again while it is terminating).',
    stalls: false,
  },
  BindingsDeleted: {
    meaning:
      'The BTPCertificate is being deleted and all its BTP bindings were deleted; it goes once the access Secret is released.',
    action: 'Nothing.',
    stalls: false,
  },
  BindingsNotDeleted: {
    meaning:
      'The BTPCertificate is being deleted, but its BTP bindings cannot be deleted: the Service Manager access Secret is gone or unusable. It keeps its finalizer (and blocks the deletion of its namespace).',
    action:
      'Restore the access Secret (the deletion then completes by itself), or set spec.deletionPolicy: Retain and delete the bindings named in the message in BTP yourself.',
    stalls: true,
  },
  InvalidDestinationCredentials: {
    meaning:
      'The Destination service binding Secret (source.destination.credentialsSecretRef) is incomplete: uri, clientid, and clientsecret with url or certificate+key with certurl.',
    action: 'Fix the Secret; the message names what is missing.',
    stalls: true,
  },
  DestinationAuthenticationFailed: {
    meaning:
      'The Destination service access was refused (401/403 from its token endpoint or the service, or the TLS handshake with its certificate).',
    action:
      'Renew the Destination service binding in credentialsSecretRef; check that it belongs to the subaccount.',
    stalls: true,
  },
  DestinationServiceError: {
    meaning:
      'The Destination service could not be reached or kept failing (5xx, 429, timeouts, an answer it does not document); retried with backoff.',
    action: 'Nothing if it is transient; the message says what failed.',
    stalls: false,
  },
  NoClientCertificate: {
    meaning:
      'The destination does not authenticate with a client certificate: another Authentication type, no KeyStoreLocation, or no certificate of that name in the answer.',
    action:
      'Name a destination with ClientCertificateAuthentication (or OAuth2ClientCredentials with a keystore), or use certificateName.',
    stalls: true,
  },
  UnsupportedKeystoreFormat: {
    meaning:
      'The keystore in the Destination service is a Java keystore (JKS, JCEKS), which the operator does not read.',
    action:
      'Store it as PKCS#12 (.p12/.pfx) or PEM: keytool -importkeystore -deststoretype PKCS12 converts it.',
    stalls: true,
  },
  KeystorePasswordIncorrect: {
    meaning:
      "The password (source.destination.passwordSecretRef, else the destination's KeyStorePassword) does not open the PKCS#12 keystore. The Secret keeps the last credentials.",
    action: 'Fix the password Secret, or store the keystore again with the right password.',
    stalls: true,
  },
  InvalidKeystore: {
    meaning:
      'The keystore in the Destination service is neither PEM nor a PKCS#12 file that parses, holds no or more than one private key, or names an iteration count over 20000.',
    action: 'Store the certificate again as PEM (chain and key) or PKCS#12.',
    stalls: true,
  },
  Expiring: {
    meaning:
      'Renewal is due for a destination source, and the Destination service did not renew the certificate by 10 % of its lifetime before notAfter.',
    action:
      'Renew the certificate in the Destination service (or turn on its automatic renewal); it is picked up at the next read.',
    stalls: false,
  },
  Renewing: {
    meaning:
      'Renewal is due; a new binding is being issued through Service Manager, or (destination source) the Destination service is read again for its renewed certificate.',
    action: 'Nothing.',
    stalls: false,
  },
  RotationRequested: {
    meaning: 'Renewal is due; the source was asked to rotate its credentials.',
    action: 'Nothing; the new credentials are picked up when the source has them.',
    stalls: false,
  },
  RotationNotEnabled: {
    meaning: 'Renewal is due, but the ServiceBinding has credentialsRotationPolicy.enabled unset or false.',
    action: 'Enable credentialsRotationPolicy on the ServiceBinding, or rotate it by hand.',
    stalls: false,
  },
  SourceCannotRenew: {
    meaning: 'Renewal is due, but a plain Secret source cannot be asked to renew.',
    action: 'Put new credentials into the source Secret before notAfter.',
    stalls: false,
  },
  NotDue: { meaning: 'Renewal is not due yet.', action: 'Nothing.', stalls: false },
  TokenIssued: {
    meaning: 'A token was fetched over mTLS with the credentials in the Secret.',
    action: 'Nothing.',
    stalls: false,
  },
  Disabled: {
    meaning:
      'No token check: spec.token.check is false, or the source is a Destination service certificateName (it names no token endpoint and no client); Ready needs valid credentials only.',
    action: 'Nothing, or remove spec.token.check to have the credentials proven.',
    stalls: false,
  },
  TokenCheckPending: {
    meaning: 'No credentials were checked yet, because none could be obtained and validated so far.',
    action: 'See the Ready condition.',
    stalls: false,
  },
  TLSHandshakeFailed: {
    meaning:
      'The token endpoint refused the client certificate in the TLS handshake: not sent, not issued by a CA it trusts, expired or revoked.',
    action:
      'serviceManager: nothing, a new binding is issued. Otherwise check that the credentials belong to this landscape and are current; get new ones (a ServiceBinding rotation, a new source Secret).',
    stalls: true,
  },
  ServerCertificateUntrusted: {
    meaning: "The token endpoint's server certificate is not trusted (unknown CA, wrong host name, expired).",
    action: "For a private landscape, set spec.token.caBundleRef or the operator's --btp-ca-file.",
    stalls: true,
  },
  InvalidClient: {
    meaning:
      'The token endpoint answered 401 invalid_client: the binding behind the credentials was deleted or revoked, or the client id does not match the certificate.',
    action:
      'Get credentials of a live binding: serviceManager issues a new one by itself; rotate the ServiceBinding; update the source Secret.',
    stalls: true,
  },
  WrongEndpoint: {
    meaning:
      'x509 credentials went to an endpoint that does not take them: the plain url answered "Unsupported instance credential", because the credentials have no certurl (or spec.token.url is not the cert endpoint).',
    action: "Set spec.token.url to the XSUAA instance's certurl, or spec.token.check: false.",
    stalls: true,
  },
  NoTokenEndpoint: {
    meaning:
      'The credentials have neither certurl nor url, and spec.token.url is not set: there is nowhere to ask; or the URL is not a plain https URL (a user part, query or fragment is refused, and not shown).',
    action: 'Set spec.token.url, or spec.token.check: false for credentials that are not XSUAA ones.',
    stalls: true,
  },
  CABundleNotFound: {
    meaning:
      'spec.token.caBundleRef names a ConfigMap, Secret or key that does not exist or holds no PEM certificate.',
    action:
      'Create it or fix the reference; it is read again at the next check (or set a new check-token-requested-at).',
    stalls: false,
  },
  RateLimited: {
    meaning: 'The token endpoint answered 429 Too Many Requests; the check is retried with backoff.',
    action: "Nothing if it is transient; lower the operator's --token-check-rate if it persists.",
    stalls: false,
  },
  Unreachable: {
    meaning:
      'No connection to the token endpoint (refused, reset, DNS failure); the check is retried with backoff.',
    action: 'Check the network path to the certurl (egress, proxy) if it persists.',
    stalls: false,
  },
  HostNotAllowed: {
    meaning:
      "A URL names a host or port outside the operator's --allowed-hosts (the token URL: spec.token.url, certurl or url; a Service Manager access Secret's sm_url or tokenurl): it was not contacted, not even looked up in DNS. Then a TokenReady reason, or a Ready reason for a serviceManager source.",
    action:
      'Use the BTP endpoint of the credentials; if it is a real endpoint the list lacks (a private landscape), ask the cluster admin to add it to --allowed-hosts.',
    stalls: true,
  },
  Timeout: {
    meaning:
      "The token endpoint did not answer within the operator's --token-check-timeout; retried with backoff.",
    action: 'Nothing if it is transient; check the network path if it persists.',
    stalls: false,
  },
  UnexpectedResponse: {
    meaning:
      'The token endpoint answered with a status or body that is not a token (5xx, 4xx other than 401/429, no access_token).',
    action: 'The message carries the HTTP status; check the certurl and the XSUAA instance.',
    stalls: false,
  },
  ResponseTooLarge: {
    meaning:
      'The token endpoint answered with a body over 256 KiB, far more than a token; the operator aborted the request without reading further.',
    action: 'Check that spec.token.url (or the certurl) is the XSUAA token endpoint.',
    stalls: false,
  },
  Progressing: { meaning: 'The controller is working on it.', action: 'Nothing.', stalls: false },
  // Event reasons: they name what happened rather than a state; in the catalogue so that every
  // reason the operator writes, in a condition or an Event, has one documented meaning.
  Updated: {
    meaning: 'Event: the Secret was updated with new credentials.',
    action: 'Nothing.',
    stalls: false,
  },
  Restored: {
    meaning: 'Event (Warning): the Secret was changed or deleted by someone else and was put back.',
    action: 'Find out who changes it; write to another Secret if something else needs one.',
    stalls: false,
  },
  Rotated: {
    meaning: 'Event: a new binding is current; the previous one is retired until its rotatedBindingTTL.',
    action: 'Nothing.',
    stalls: false,
  },
  BindingDeletionFailed: {
    meaning:
      'Event (Warning): the BTPCertificate is being deleted and Service Manager did not delete its bindings yet; retried with backoff.',
    action: 'Nothing if it is transient; the Ready message says why.',
    stalls: false,
  },
} as const satisfies Record<string, ReasonInfo>;

export type Reason = keyof typeof Reasons;

export const isReason = (r: string): r is Reason => Object.hasOwn(Reasons, r);
