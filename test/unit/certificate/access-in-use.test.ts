// Which BTPCertificates hold their Service Manager access Secret for cleanup, and when it may be
// released. Pure.
import { describe, expect, it } from 'vitest';
import type { BTPCertificate } from '../../../src/api/types.ts';
import {
  CLEANED_UP_REASON,
  heldAccessSecret,
  mayRelease,
  needsAccess,
  stillNeeded,
} from '../../../src/certificate/access-in-use.ts';
import { BINDINGS_FINALIZER } from '../../../src/certificate/bindings.ts';

const NOW = new Date('2026-01-01T00:00:00Z');
const SECRET = { namespace: 'n', name: 'sm-access' };

type Options = {
  uid?: string;
  secret?: string | undefined;
  finalizer?: boolean;
  deleting?: boolean;
  retain?: boolean;
  status?: BTPCertificate['status'];
};
const cert = (o: Options = {}): BTPCertificate => {
  const secret = 'secret' in o ? o.secret : 'sm-access';
  return {
    apiVersion: 'btpcerts.io/v1alpha1',
    kind: 'BTPCertificate',
    metadata: {
      name: o.uid ?? 'c',
      namespace: 'n',
      uid: o.uid ?? 'u',
      generation: 1,
      resourceVersion: '1',
      ...(o.finalizer === false ? {} : { finalizers: [BINDINGS_FINALIZER] }),
      ...(o.deleting ? { deletionTimestamp: NOW.toISOString() } : {}),
    },
    spec: {
      secretName: 's',
      source: {
        serviceManager: {
          serviceInstanceName: 'i',
          ...(secret === undefined ? {} : { credentialsSecretRef: { name: secret } }),
        },
      },
      ...(o.retain ? { deletionPolicy: 'Retain' as const } : {}),
    },
    status: o.status ?? { binding: { id: 'b1', name: 'n1', revision: 1 } },
  };
};
const ready = (status: 'True' | 'False', reason: string) => ({
  type: 'Ready',
  status,
  reason,
  message: '',
  lastTransitionTime: NOW.toISOString(),
});
const cleaned = { conditions: [ready('False', CLEANED_UP_REASON)] };

describe('heldAccessSecret', () => {
  it('is the Secret credentialsSecretRef names, in the certificate namespace', () => {
    expect(heldAccessSecret(cert(), undefined)).toEqual(SECRET);
  });
  it('is never the operator-wide default, used by default or named explicitly', () => {
    expect(heldAccessSecret(cert({ secret: undefined }), SECRET)).toBeUndefined();
    expect(heldAccessSecret(cert(), SECRET)).toBeUndefined();
    expect(heldAccessSecret(cert(), { namespace: 'operator', name: 'sm-access' })).toEqual(SECRET);
  });
});

describe('needsAccess', () => {
  it.each<[string, Options, boolean]>([
    ['a live certificate with the bindings finalizer', {}, true],
    ['a live certificate without it (nothing was issued yet)', { finalizer: false }, false],
    ['a certificate being deleted that has not cleaned up', { deleting: true }, true],
    [
      'a certificate being deleted with nothing recorded but not marked (a binding may be unrecorded)',
      { deleting: true, status: {} },
      true,
    ],
    ['a certificate being deleted that has cleaned up', { deleting: true, status: cleaned }, false],
    ['a certificate being deleted with Retain', { deleting: true, retain: true }, false],
    ['a live certificate with Retain (it renews through it)', { retain: true }, true],
  ])('%s: %s', (_, o, expected) => {
    expect(needsAccess(cert(o))).toBe(expected);
  });
  it('a cleaned-up mark with bindings still recorded does not count as cleaned up', () => {
    const status = { ...cleaned, binding: { id: 'b1', name: 'n1', revision: 1 } };
    expect(needsAccess(cert({ deleting: true, status }))).toBe(true);
  });
});

describe('mayRelease', () => {
  const self = cert({ uid: 'self', deleting: true, status: cleaned });
  it('yes when only the certificate itself held it', () => {
    expect(mayRelease(self, SECRET, [self], undefined)).toBe(true);
  });
  it('no while another certificate naming it still needs it', () => {
    expect(mayRelease(self, SECRET, [self, cert({ uid: 'other' })], undefined)).toBe(false);
    expect(mayRelease(self, SECRET, [cert({ uid: 'other', deleting: true })], undefined)).toBe(false);
  });
  it('yes when the others name another Secret, are done, keep their bindings or never issued', () => {
    const others = [
      cert({ uid: 'a', secret: 'other-access' }),
      cert({ uid: 'b', deleting: true, status: cleaned }),
      cert({ uid: 'c', deleting: true, retain: true }),
      cert({ uid: 'd', finalizer: false }),
      cert({ uid: 'e', secret: undefined }),
    ];
    expect(mayRelease(self, SECRET, [self, ...others], undefined)).toBe(true);
  });
});

describe('stillNeeded', () => {
  it('no once every certificate that used it names another Secret', () => {
    expect(stillNeeded(SECRET, [cert({ secret: 'sm-access-2' })], undefined)).toBe(false);
    expect(stillNeeded(SECRET, [cert({ secret: 'sm-access-2' }), cert({ uid: 'b' })], undefined)).toBe(true);
  });
});
