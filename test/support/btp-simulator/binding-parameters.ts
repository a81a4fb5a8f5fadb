// What a binding's `parameters` ask for (btp.md section 1). For an `xsuaa` instance the
// x509 request is top level; for services that reuse XSUAA it sits under `xsuaa`. Anything
// placed elsewhere (or misspelled) is ignored, and the binding silently gets a client secret,
// as the real service does. Values that are present where they count are validated: a bad
// key length, validity or credential type is a 400.
import { InputError, isRecord, requireOneOf } from './input.ts';
import { isKeyLength, KEY_LENGTHS, type KeyLength } from './key-pool.ts';
import { VALIDITY_RANGES, VALIDITY_TYPES, type Validity } from './lifetime.ts';

/** How an offering takes XSUAA credential parameters. */
export type OfferingKind = 'xsuaa' | 'reusesXsuaa' | 'other';

export const OFFERINGS_REUSING_XSUAA: readonly string[] = [
  'destination',
  'auditlog',
  'jobscheduler',
  'connectivity',
];

export function offeringKind(offering: string): OfferingKind {
  // Service Manager's own bindings take the x509 parameters at the top, as xsuaa does.
  if (offering === 'xsuaa' || offering === 'service-manager') return 'xsuaa';
  return OFFERINGS_REUSING_XSUAA.includes(offering) ? 'reusesXsuaa' : 'other';
}

export const CREDENTIAL_TYPES = ['x509', 'binding-secret', 'instance-secret'] as const;

export type CredentialRequest =
  | { readonly kind: 'x509'; readonly keyLength: KeyLength; readonly validity: Validity }
  | { readonly kind: 'secret' };

const DEFAULT_X509 = { keyLength: 2048, validity: { value: 7, type: 'DAYS' } } as const;

function x509Request(options: unknown): CredentialRequest {
  if (options === undefined) return { kind: 'x509', ...DEFAULT_X509 };
  if (!isRecord(options)) throw new InputError('parameters: x509 must be an object');
  const keyLength = options['key-length'] ?? DEFAULT_X509.keyLength;
  if (!isKeyLength(keyLength))
    throw new InputError(`parameters: key-length must be one of ${KEY_LENGTHS.join(', ')}`);
  const type = requireOneOf(
    options['validity-type'] ?? DEFAULT_X509.validity.type,
    VALIDITY_TYPES,
    'parameters: validity-type',
  );
  const value = options.validity ?? DEFAULT_X509.validity.value;
  const [min, max] = VALIDITY_RANGES[type];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`parameters: validity for ${type} must be an integer from ${min} to ${max}`);
  }
  return { kind: 'x509', keyLength, validity: { value, type } };
}

function fromXsuaaSection(section: Record<string, unknown>): CredentialRequest {
  const credentialType = section['credential-type'];
  if (credentialType === undefined) return { kind: 'secret' };
  const type = requireOneOf(credentialType, CREDENTIAL_TYPES, 'parameters: credential-type');
  return type === 'x509' ? x509Request(section.x509) : { kind: 'secret' };
}

export function credentialRequest(kind: OfferingKind, parameters: unknown): CredentialRequest {
  if (parameters === undefined) return { kind: 'secret' };
  if (!isRecord(parameters)) throw new InputError('parameters must be a JSON object');
  switch (kind) {
    case 'xsuaa':
      return fromXsuaaSection(parameters);
    case 'reusesXsuaa':
      return isRecord(parameters.xsuaa) ? fromXsuaaSection(parameters.xsuaa) : { kind: 'secret' };
    case 'other':
      return { kind: 'secret' };
  }
}
