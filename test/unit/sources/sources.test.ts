import { describe, expect, it } from 'vitest';
import { flattenFields, selectX509 } from '../../../src/sources/credentials.ts';
import { fieldsFromSecret } from '../../../src/sources/secret-source.ts';
import { fieldsFromBindingSecret, viewServiceBinding } from '../../../src/sources/service-binding.ts';

const creds = {
  clientid: 'sb-abc!b1|xsuaa!b2',
  certificate: 'CERT-PEM',
  key: 'KEY-PEM',
  certurl: 'https://sub.authentication.cert.example',
  url: 'https://sub.authentication.example',
  'credential-type': 'x509',
  xsappname: 'app!b1',
};

const binding = (spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}) =>
  viewServiceBinding({
    metadata: { name: 'sb', annotations: {} },
    spec: { serviceInstanceName: 'i', ...spec },
    status,
  });

describe('ServiceBinding Secret layouts', () => {
  it('default layout: one key per field; object values are JSON text; .metadata is dropped', () => {
    const sb = binding();
    if (sb === undefined) throw new Error('no view');
    const r = fieldsFromBindingSecret(sb, { ...creds, '.metadata': '{}', instance_name: 'i', type: 'xsuaa' });
    expect(r).toEqual({ ok: true, fields: { ...creds, instance_name: 'i', type: 'xsuaa' } });
  });

  it('secretKey layout: credentials as JSON under the key, metadata keys beside it', () => {
    const sb = binding({ secretKey: 'creds.json' });
    if (sb === undefined) throw new Error('no view');
    const r = fieldsFromBindingSecret(sb, {
      'creds.json': JSON.stringify(creds),
      plan: 'application',
      type: 'xsuaa',
    });
    expect(r).toEqual({ ok: true, fields: { ...creds, plan: 'application', type: 'xsuaa' } });
  });

  it('secretRootKey layout: everything as one JSON value; nested objects become JSON text', () => {
    const sb = binding({ secretRootKey: 'all' });
    if (sb === undefined) throw new Error('no view');
    const doc = { ...creds, instance_name: 'i', tags: ['a', 'b'], uaa: { x: 1 } };
    const r = fieldsFromBindingSecret(sb, { all: JSON.stringify(doc) });
    expect(r).toEqual({
      ok: true,
      fields: { ...creds, instance_name: 'i', tags: '["a","b"]', uaa: '{"x":1}' },
    });
  });

  it('a missing secretKey is SourceNotReady; bad JSON is InvalidCredentials without echoing the text', () => {
    const sb = binding({ secretKey: 'creds.json' });
    if (sb === undefined) throw new Error('no view');
    expect(fieldsFromBindingSecret(sb, {})).toMatchObject({ ok: false, reason: 'SourceNotReady' });
    const bad = fieldsFromBindingSecret(sb, { 'creds.json': '{"key":"-----BEGIN' });
    expect(bad).toMatchObject({ ok: false, reason: 'InvalidCredentials' });
    expect(JSON.stringify(bad)).not.toContain('BEGIN');
  });

  it('reads readiness, rotation policy, the secret name default and forceRotate', () => {
    const view = viewServiceBinding({
      metadata: { name: 'sb', annotations: { 'services.cloud.sap.com/forceRotate': 'true' } },
      spec: { credentialsRotationPolicy: { enabled: true } },
      status: { ready: 'True', bindingID: 'b-1' },
    });
    expect(view).toMatchObject({
      secretName: 'sb',
      ready: true,
      rotationEnabled: true,
      rotationRequested: true,
      bindingID: 'b-1',
    });
    expect(
      binding({}, { conditions: [{ type: 'Ready', status: 'False', message: 'creating' }] }),
    ).toMatchObject({
      ready: false,
      readyMessage: 'creating',
      rotationEnabled: false,
    });
    expect(viewServiceBinding({ spec: {} })).toBeUndefined();
    // The BTP operator rotates on the annotation's presence, whatever the value.
    expect(
      viewServiceBinding({
        metadata: { name: 'sb', annotations: { 'services.cloud.sap.com/forceRotate': 'false' } },
      })?.rotationRequested,
    ).toBe(true);
  });

  it('reads a Succeeded=False left with Ready=True (a 429 during rotation) as blocking forceRotate', () => {
    const view = binding(
      { credentialsRotationPolicy: { enabled: true } },
      {
        ready: 'True',
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Provisioned' },
          { type: 'Succeeded', status: 'False', reason: 'InProgress', message: 'Operation in progress' },
        ],
      },
    );
    expect(view).toMatchObject({
      ready: true,
      rotationBlocked: 'its Succeeded condition is False (InProgress: Operation in progress)',
    });
    const failed = binding(
      {},
      {
        ready: 'False',
        conditions: [
          { type: 'Ready', status: 'False', reason: 'NotProvisioned' },
          { type: 'Succeeded', status: 'False', reason: 'CreateFailed', message: 'name must not be empty' },
        ],
      },
    );
    expect(failed).toMatchObject({ ready: false, readyMessage: 'name must not be empty' });
    expect(binding({}, { conditions: [{ type: 'Succeeded', status: 'True' }] })?.rotationBlocked).toBe(
      undefined,
    );
  });

  it('reads a running rotation from CredRotationInProgress', () => {
    const running = (status: string) =>
      binding({}, { conditions: [{ type: 'CredRotationInProgress', status, reason: 'Rotating' }] });
    expect(running('True')?.rotationInProgress).toBe(true);
    expect(running('False')?.rotationInProgress).toBe(false);
    expect(binding({}, {})?.rotationInProgress).toBe(false);
  });

  it('a stale backup ServiceBinding left by a rotation is never a source', () => {
    const stale = viewServiceBinding({
      metadata: {
        name: 'sb-a1b2c3',
        labels: { 'services.cloud.sap.com/stale': 'old-id', 'services.cloud.sap.com/rotationOf': 'sb' },
      },
      spec: { serviceInstanceName: 'i', secretName: 'sb-a1b2c3' },
      status: { ready: 'True', bindingID: 'old-id' },
    });
    if (stale === undefined) throw new Error('no view');
    expect(stale).toMatchObject({ stale: true, rotationOf: 'sb' });
    const r = fieldsFromBindingSecret(stale, creds);
    expect(r).toMatchObject({ ok: false, reason: 'SourceNotReady' });
    expect(JSON.stringify(r)).toContain('name sb as the source');
  });
});

describe('Secret source', () => {
  it('keys as fields', () => {
    expect(fieldsFromSecret(creds, 's', undefined)).toEqual({ ok: true, fields: creds });
  });
  it.each([
    ['flat service key', creds],
    ['{"credentials": ...}', { credentials: creds }],
    ['VCAP_SERVICES with one binding', { xsuaa: [{ name: 'x', label: 'xsuaa', credentials: creds }] }],
  ])('JSON under key: %s', (_name, doc) => {
    expect(fieldsFromSecret({ 'k.json': JSON.stringify(doc) }, 's', 'k.json')).toEqual({
      ok: true,
      fields: creds,
    });
  });
  it('VCAP_SERVICES with two bindings is ambiguous', () => {
    const vcap = { xsuaa: [{ credentials: creds }, { credentials: creds }] };
    expect(fieldsFromSecret({ v: JSON.stringify(vcap) }, 's', 'v')).toMatchObject({
      ok: false,
      reason: 'InvalidCredentials',
    });
  });
  it('a missing key is SourceNotFound and lists the keys there are', () => {
    const r = fieldsFromSecret({ a: '1', b: '2' }, 's', 'k');
    expect(r).toMatchObject({ ok: false, reason: 'SourceNotFound' });
    expect(JSON.stringify(r)).toContain('keys: a, b');
  });
});

describe('selectX509', () => {
  it('top level', () => {
    expect(selectX509(creds, 'o')).toMatchObject({ ok: true, certificate: 'CERT-PEM', key: 'KEY-PEM' });
  });
  it('tls.crt / tls.key as in the Kyma SM access Secret', () => {
    expect(selectX509({ 'tls.crt': 'C', 'tls.key': 'K', clientid: 'x' }, 'o')).toMatchObject({
      ok: true,
      certificate: 'C',
      key: 'K',
    });
  });
  it('nested in uaa (services that embed an XSUAA binding)', () => {
    const outer = flattenFields({ uri: 'https://service', uaa: creds });
    const r = selectX509(outer, 'o');
    expect(r).toMatchObject({ ok: true, certificate: 'CERT-PEM' });
    if (r.ok) expect(r.fields.certurl).toBe(creds.certurl);
  });
  it.each([
    ['binding-secret', { clientid: 'a', clientsecret: 'S3CR3T', 'credential-type': 'binding-secret' }],
    ['instance-secret', { clientid: 'a', clientsecret: 'S3CR3T', 'credential-type': 'instance-secret' }],
    ['a clientsecret and no type', { clientid: 'a', clientsecret: 'S3CR3T' }],
    ['nested uaa with a secret', { uaa: JSON.stringify({ clientid: 'a', clientsecret: 'S3CR3T' }) }],
  ])('client-secret credentials (%s) are NotX509Credentials, with a hint and no secret', (_n, fields) => {
    const r = selectX509(fields, 'o');
    expect(r).toMatchObject({ ok: false, reason: 'NotX509Credentials' });
    expect(JSON.stringify(r)).toContain('nested under \\"xsuaa\\"');
    expect(JSON.stringify(r)).not.toContain('S3CR3T');
  });
  it('no certificate at all is InvalidCredentials naming the fields present, not their values', () => {
    const r = selectX509({ clientid: 'cid-value', url: 'u' }, 'o');
    expect(r).toMatchObject({ ok: false, reason: 'InvalidCredentials' });
    expect(JSON.stringify(r)).toContain('clientid, url');
    expect(JSON.stringify(r)).not.toContain('cid-value');
  });
});
