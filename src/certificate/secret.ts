// The Secret a BTPCertificate should have: data, labels, annotations. Pure; the keystore bytes
// (random salt) are produced by the caller from `keystore` and hashed separately.
import { createHash } from 'node:crypto';
import type { V1ManagedFieldsEntry, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND } from '../api/schema.ts';
import { BINDING_FIELD_KEYS } from '../api/secret-template.ts';
import type { CredentialFields } from '../sources/credentials.ts';

export const MANAGED_LABEL = 'btpcerts.io/managed';
export const CERTIFICATE_LABEL = 'btpcerts.io/certificate-uid';
export const DATA_HASH_ANNOTATION = 'btpcerts.io/data-hash';
export const KEYSTORE_HASH_ANNOTATION = 'btpcerts.io/keystore-hash';
export const CERTIFICATE_NAME_ANNOTATION = 'btpcerts.io/certificate-name';
export const KEYSTORE_KEY = 'keystore.p12';
export const COMBINED_PEM_KEY = 'tls-combined.pem';

export { BINDING_FIELD_KEYS };

/** Labels GitOps tools use to track their own objects; never copied onto the Secret. */
const GITOPS_LABEL_PREFIXES = [
  'argocd.argoproj.io/',
  'kustomize.toolkit.fluxcd.io/',
  'helm.toolkit.fluxcd.io/',
];
const GITOPS_LABELS = new Set(['app.kubernetes.io/instance', 'app.kubernetes.io/managed-by']);

export const isGitOpsLabel = (key: string) =>
  GITOPS_LABELS.has(key) || GITOPS_LABEL_PREFIXES.some((p) => key.startsWith(p));

export type MaterialInput = {
  readonly chainPem: string;
  readonly caPem: string;
  readonly keyPem: string;
  readonly combinedPem?: string;
  readonly fields: CredentialFields;
  readonly templateData: Readonly<Record<string, string>>;
};

export type DesiredSecret = {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Every key but the keystore, as text. */
  readonly data: Readonly<Record<string, string>>;
  /** The keystore to build, when PKCS12 is requested. */
  readonly keystore: { readonly password: string } | undefined;
  /** Hash of data and keystore inputs: equal hashes mean equal content. */
  readonly dataHash: string;
};

export function secretData(input: MaterialInput): Record<string, string> {
  const data: Record<string, string> = { 'tls.crt': input.chainPem, 'tls.key': input.keyPem };
  if (input.caPem !== '') data['ca.crt'] = input.caPem;
  for (const key of BINDING_FIELD_KEYS) {
    const value = input.fields[key];
    if (value !== undefined) data[key] = value;
  }
  // servicebinding.io: `type` and `provider` let generic consumers find the binding.
  data.type = input.fields.type ?? input.fields.label ?? 'xsuaa';
  data.provider = input.fields.provider ?? 'sap';
  if (input.combinedPem !== undefined) data[COMBINED_PEM_KEY] = input.combinedPem;
  return { ...data, ...input.templateData };
}

export function desiredSecret(args: {
  readonly name: string;
  readonly owner: {
    readonly name: string;
    readonly uid: string;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly template: {
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly data: Readonly<Record<string, string>>;
  readonly keystorePassword: string | undefined;
}): DesiredSecret {
  const copied = Object.fromEntries(Object.entries(args.owner.labels).filter(([k]) => !isGitOpsLabel(k)));
  const dataHash = hashOf(args.data, args.keystorePassword);
  return {
    name: args.name,
    labels: {
      ...copied,
      ...args.template.labels,
      [MANAGED_LABEL]: 'true',
      [CERTIFICATE_LABEL]: args.owner.uid,
    },
    annotations: {
      ...args.template.annotations,
      [CERTIFICATE_NAME_ANNOTATION]: args.owner.name,
      [DATA_HASH_ANNOTATION]: dataHash,
    },
    data: args.data,
    keystore: args.keystorePassword === undefined ? undefined : { password: args.keystorePassword },
    dataHash,
  };
}

export type ExistingSecret = {
  readonly type: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Decoded values; the keystore is kept as base64 text. */
  readonly data: Readonly<Record<string, string>>;
  readonly controllerUid: string | undefined;
  readonly resourceVersion: string;
  /** As read: the write converts a create's Update entry of ours first (kube/api.ts). */
  readonly managedFields?: readonly V1ManagedFieldsEntry[] | undefined;
};

/** True when the Secret already holds exactly what is desired: then it is not written. */
export function isUpToDate(existing: ExistingSecret, desired: DesiredSecret, ownerUid: string): boolean {
  if (existing.type !== 'kubernetes.io/tls' || existing.controllerUid !== ownerUid) return false;
  for (const [k, v] of Object.entries(desired.labels)) if (existing.labels[k] !== v) return false;
  for (const [k, v] of Object.entries(desired.annotations)) if (existing.annotations[k] !== v) return false;
  for (const [k, v] of Object.entries(desired.data)) if (existing.data[k] !== v) return false;
  if (desired.keystore !== undefined) {
    const p12 = existing.data[KEYSTORE_KEY];
    if (p12 === undefined || existing.annotations[KEYSTORE_HASH_ANNOTATION] !== sha256(p12)) return false;
  }
  return true;
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function hashOf(data: Readonly<Record<string, string>>, keystorePassword: string | undefined): string {
  const h = createHash('sha256');
  for (const key of Object.keys(data).sort()) h.update(`${key}\0${data[key]}\0`);
  if (keystorePassword !== undefined) h.update(`${KEYSTORE_KEY}\0${keystorePassword}\0`);
  return h.digest('hex');
}

/** The controller reference every Secret the BTPCertificate writes carries (garbage collection). */
export function controllerReference(cert: {
  readonly metadata: { readonly name: string; readonly uid: string };
}): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: cert.metadata.name,
    uid: cert.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The BTPCertificate controlling a Secret (its controller reference); undefined: none does. */
export function controllingCertificate(secret: V1Secret): V1OwnerReference | undefined {
  return secret.metadata?.ownerReferences?.find(
    (r) => r.controller === true && r.kind === KIND && r.apiVersion.startsWith(`${GROUP}/`),
  );
}

const pick = (from: Readonly<Record<string, string>> | undefined, keys: readonly string[]) => {
  const kept: Record<string, string> = {};
  for (const k of keys) if (from?.[k] !== undefined) kept[k] = from[k];
  return kept;
};

/**
 * What the operator caches of a labelled Secret (any namespace user can label a Secret): nothing
 * unless a BTPCertificate controls it; else its identity, its controller reference, our labels
 * and hash annotations, and its type. Never its data: the reconciler reads a Secret's data from
 * the API when it needs it, so a namespace cannot fill the operator's memory.
 */
export function cachedManagedSecret(secret: V1Secret): V1Secret | undefined {
  const owner = controllingCertificate(secret);
  if (owner === undefined) return undefined;
  const m = secret.metadata ?? {};
  return {
    ...(secret.apiVersion === undefined ? {} : { apiVersion: secret.apiVersion }),
    ...(secret.kind === undefined ? {} : { kind: secret.kind }),
    ...(secret.type === undefined ? {} : { type: secret.type }),
    metadata: {
      ...(m.name === undefined ? {} : { name: m.name }),
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      ...(m.uid === undefined ? {} : { uid: m.uid }),
      ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
      ...(m.deletionTimestamp === undefined ? {} : { deletionTimestamp: m.deletionTimestamp }),
      ownerReferences: [owner],
      labels: pick(m.labels, [MANAGED_LABEL, CERTIFICATE_LABEL]),
      annotations: pick(m.annotations, [DATA_HASH_ANNOTATION, KEYSTORE_HASH_ANNOTATION]),
    },
  };
}

/** Secret `data` from text values. */
export function base64Data(values: Readonly<Record<string, string>>): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) data[k] = Buffer.from(v, 'utf8').toString('base64');
  return data;
}
