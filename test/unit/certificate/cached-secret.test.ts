import type { V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  CERTIFICATE_LABEL,
  cachedManagedSecret,
  DATA_HASH_ANNOTATION,
  KEYSTORE_HASH_ANNOTATION,
  MANAGED_LABEL,
} from '../../../src/certificate/secret.ts';

const controller: V1OwnerReference = {
  apiVersion: 'btpcerts.io/v1alpha1',
  kind: 'BTPCertificate',
  name: 'web',
  uid: 'u-1',
  controller: true,
  blockOwnerDeletion: true,
};

const secret = (ownerReferences: V1OwnerReference[] | undefined): V1Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'kubernetes.io/tls',
  metadata: {
    name: 'web-tls',
    namespace: 'team-a',
    uid: 's-1',
    resourceVersion: '42',
    labels: { [MANAGED_LABEL]: 'true', [CERTIFICATE_LABEL]: 'u-1', team: 'a' },
    annotations: {
      [DATA_HASH_ANNOTATION]: 'h1',
      [KEYSTORE_HASH_ANNOTATION]: 'h2',
      'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(100_000),
    },
    managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    ...(ownerReferences === undefined ? {} : { ownerReferences }),
  },
  data: { 'tls.key': 'a2V5' },
  stringData: { extra: 'y'.repeat(100_000) },
});

describe('cachedManagedSecret: what the cache keeps of a labelled Secret', () => {
  it.each([
    ['no owner', undefined],
    ['an owner that is not the controller', [{ ...controller, controller: false }]],
    ['a controller of another kind', [{ ...controller, kind: 'ConfigMap', apiVersion: 'v1' }]],
    ['a BTPCertificate kind of another group', [{ ...controller, apiVersion: 'evil.example/v1' }]],
  ])('nothing with %s', (_name, owners) => {
    expect(cachedManagedSecret(secret(owners))).toBeUndefined();
  });

  it('of a Secret a BTPCertificate controls: identity, controller, our labels and hashes, type; no data', () => {
    const other = { apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'c-1' };
    expect(cachedManagedSecret(secret([other, controller]))).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: 'web-tls',
        namespace: 'team-a',
        uid: 's-1',
        resourceVersion: '42',
        ownerReferences: [controller],
        labels: { [MANAGED_LABEL]: 'true', [CERTIFICATE_LABEL]: 'u-1' },
        annotations: { [DATA_HASH_ANNOTATION]: 'h1', [KEYSTORE_HASH_ANNOTATION]: 'h2' },
      },
    });
  });
});
