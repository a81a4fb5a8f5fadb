// The CRD rejects each invalid spec itself (OpenAPI schema + CEL), with a message a person
// understands; the printer columns are served.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { apiError, kubeConfigFromFile, testNamespace } from '../support/kube.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const custom = kc.makeApiClient(CustomObjectsApi);
const ns = testNamespace(kc, 'crd-validation');
const G = { group: 'btpcerts.io', version: 'v1alpha1', plural: 'btpcertificates' } as const;

const create = (spec: unknown, generateName = 'v-') =>
  custom.createNamespacedCustomObject({
    ...G,
    namespace: ns,
    body: { apiVersion: 'btpcerts.io/v1alpha1', kind: 'BTPCertificate', metadata: { generateName }, spec },
  });

async function rejection(spec: unknown): Promise<string> {
  try {
    await create(spec);
  } catch (e) {
    const err = apiError(e);
    expect(err?.code).toBe(422);
    return err?.message ?? '';
  }
  throw new Error(`accepted: ${JSON.stringify(spec)}`);
}

const ok = { secretName: 'tls', source: { secret: { name: 'src' } } };
const dest = { credentialsSecretRef: { name: 'destination-binding' } };

describe('BTPCertificate CRD validation', () => {
  it.each([
    ['no secretName', { source: ok.source }, 'spec.secretName: Required value'],
    ['an invalid secretName', { ...ok, secretName: 'Not_Valid' }, 'spec.secretName'],
    ['no source', { secretName: 'tls' }, 'spec.source: Required value'],
    ['an empty source', { ...ok, source: {} }, 'exactly one source must be set'],
    [
      'two sources',
      { ...ok, source: { secret: { name: 'a' }, serviceBinding: { name: 'b' } } },
      'exactly one source must be set',
    ],
    ['a source without a name', { ...ok, source: { secret: {} } }, 'spec.source.secret.name: Required value'],
    [
      'a token URL with a user part (it is shown in status)',
      { ...ok, token: { url: 'https://user:pw@cert.example' } },
      'spec.token.url',
    ],
    [
      'a serviceManager source naming no instance',
      { ...ok, source: { serviceManager: { credentialsSecretRef: { name: 'sm' } } } },
      'set exactly one of serviceInstanceName or serviceInstanceID',
    ],
    [
      'a serviceManager source naming two instances',
      { ...ok, source: { serviceManager: { serviceInstanceName: 'a', serviceInstanceID: 'b' } } },
      'set exactly one of serviceInstanceName or serviceInstanceID',
    ],
    [
      'an unsupported key length',
      { ...ok, source: { serviceManager: { serviceInstanceName: 'a', x509: { keyLength: 1024 } } } },
      'spec.source.serviceManager.x509.keyLength',
    ],
    [
      'a destination source and a secret source',
      { ...ok, source: { ...ok.source, destination: { ...dest, destinationName: 'd' } } },
      'exactly one source must be set',
    ],
    [
      'a destination source naming neither a destination nor a certificate',
      { ...ok, source: { destination: dest } },
      'set exactly one of destinationName or certificateName',
    ],
    [
      'a destination source naming a destination and a certificate',
      { ...ok, source: { destination: { ...dest, destinationName: 'd', certificateName: 'c.p12' } } },
      'set exactly one of destinationName or certificateName',
    ],
    [
      'a destination source without credentialsSecretRef',
      { ...ok, source: { destination: { destinationName: 'd' } } },
      'spec.source.destination.credentialsSecretRef: Required value',
    ],
    [
      'a level for a destination',
      { ...ok, source: { destination: { ...dest, destinationName: 'd', level: 'Instance' } } },
      'level applies to certificateName only',
    ],
    [
      'an unknown level',
      { ...ok, source: { destination: { ...dest, certificateName: 'c.p12', level: 'Global' } } },
      'Unsupported value: "Global"',
    ],
    [
      'a certificate name with a slash (it goes into a request path)',
      { ...ok, source: { destination: { ...dest, certificateName: '../c.p12' } } },
      'spec.source.destination.certificateName',
    ],
    [
      'generate with a destination',
      { ...ok, source: { destination: { ...dest, destinationName: 'd', generate: { commonName: 'a' } } } },
      'generate needs certificateName',
    ],
    [
      'generate with a keystore password',
      {
        ...ok,
        source: {
          destination: {
            ...dest,
            certificateName: 'c.pem',
            generate: { commonName: 'a' },
            passwordSecretRef: { name: 'p', key: 'k' },
          },
        },
      },
      'passwordSecretRef is not used with generate',
    ],
    [
      'generate without a commonName',
      { ...ok, source: { destination: { ...dest, certificateName: 'c.pem', generate: {} } } },
      'spec.source.destination.generate.commonName: Required value',
    ],
    [
      'a generated validity in weeks',
      {
        ...ok,
        source: {
          destination: {
            ...dest,
            certificateName: 'c.pem',
            generate: { commonName: 'a', validity: { value: 2, timeUnit: 'WEEKS' } },
          },
        },
      },
      'Unsupported value: "WEEKS"',
    ],
    ['an unknown deletionPolicy', { ...ok, deletionPolicy: 'Orphan' }, 'Unsupported value: "Orphan"'],
    [
      'an invalid source key',
      { ...ok, source: { secret: { name: 'a', key: 'a b' } } },
      'spec.source.secret.key',
    ],
    [
      'renewBefore and renewBeforePercentage',
      { ...ok, renewBefore: '24h', renewBeforePercentage: 30 },
      'renewBefore and renewBeforePercentage are mutually exclusive',
    ],
    ['a malformed duration', { ...ok, renewBefore: '3 days' }, 'spec.renewBefore'],
    ['a duration under 1s', { ...ok, renewBefore: '10ms' }, 'must be a duration of at least 1s'],
    [
      'a token check interval under 1m',
      { ...ok, token: { checkInterval: '30s' } },
      'must be a duration of at least 1m',
    ],
    ['a percentage of 100', { ...ok, renewBeforePercentage: 100 }, 'spec.renewBeforePercentage'],
    ['a renewBefore over 10 years', { ...ok, renewBefore: '87601h' }, 'must be a duration of at most 87600h'],
    [
      'a rotatedBindingTTL over 30 days',
      { ...ok, rotatedBindingTTL: '721h' },
      'must be a duration of at most 720h',
    ],
    [
      'a token check interval over 30 days',
      { ...ok, token: { checkInterval: '43201m' } },
      'must be a duration of at most 720h',
    ],
    // 285 years: within CEL's duration range, so the old rule (at least 1s) took it, and now plus
    // this is past the last date JavaScript can represent.
    [
      'a rotatedBindingTTL of 2500000h',
      { ...ok, rotatedBindingTTL: '2500000h' },
      'must be a duration of at most 720h',
    ],
    [
      'a check interval of 2500000h',
      { ...ok, token: { checkInterval: '2500000h' } },
      'must be a duration of at most 720h',
    ],
    // Beyond what CEL's duration() holds (about 292 years): rejected all the same.
    [
      'a rotatedBindingTTL of 99999999999999h',
      { ...ok, rotatedBindingTTL: '99999999999999h' },
      'spec.rotatedBindingTTL',
    ],
    ['a renewBefore of 63 nines', { ...ok, renewBefore: `${'9'.repeat(63)}h` }, 'spec.renewBefore'],
    [
      'a check interval of 99999999999999h',
      { ...ok, token: { checkInterval: '99999999999999h' } },
      'spec.token.checkInterval',
    ],
    ...(['certurl', 'url', 'clientid', 'type', 'tls-combined.pem', 'keystore.p12'] as const).map(
      (key): [string, unknown, string] => [
        `a template overriding the operator's key ${key}`,
        { ...ok, secretTemplate: { data: { [key]: 'x' } } },
        'must not be a key the operator writes',
      ],
    ),
    ...(
      [
        ['labels', 'btpcerts.io/certificate-uid'],
        ['annotations', 'btpcerts.io/data-hash'],
        ['annotations', 'reflector.v1.k8s.emberstack.com/reflection-auto-enabled'],
        ['annotations', 'replicator.v1.mittwald.de/replicate-to'],
        ['annotations', 'kubed.appscode.com/sync'],
        ['labels', 'kubed.appscode.com/sync'],
      ] as const
    ).map(([part, key]): [string, unknown, string] => [
      `a template ${part} key ${key}`,
      { ...ok, secretTemplate: { [part]: { [key]: 'x' } } },
      `must not set ${key}`,
    ]),
    [
      'a template overriding tls.key',
      { ...ok, secretTemplate: { data: { 'tls.key': 'x' } } },
      'must not be a key the operator writes',
    ],
    [
      'a template with an expression',
      { ...ok, secretTemplate: { data: { a: '{{ certurl | upper }}' } } },
      'spec.secretTemplate.data.a',
    ],
    [
      'an unknown output format',
      { ...ok, additionalOutputFormats: [{ type: 'DER' }] },
      'Unsupported value: "DER"',
    ],
    [
      'PKCS12 without a password',
      { ...ok, additionalOutputFormats: [{ type: 'PKCS12' }] },
      'passwordSecretRef is required for PKCS12',
    ],
    [
      'a password for CombinedPEM',
      {
        ...ok,
        additionalOutputFormats: [{ type: 'CombinedPEM', passwordSecretRef: { name: 'p', key: 'k' } }],
      },
      'not allowed for other formats',
    ],
    [
      'the same format twice',
      { ...ok, additionalOutputFormats: [{ type: 'CombinedPEM' }, { type: 'CombinedPEM' }] },
      'Duplicate value',
    ],
  ])('rejects %s', async (_name, spec, message) => {
    expect(await rejection(spec)).toContain(message);
  });

  it('accepts a complete valid spec', async () => {
    await custom.createNamespacedCustomObject({
      ...G,
      namespace: ns,
      body: {
        apiVersion: 'btpcerts.io/v1alpha1',
        kind: 'BTPCertificate',
        metadata: { name: 'full' },
        spec: {
          ...ok,
          renewBefore: '1h30m',
          secretTemplate: {
            labels: { a: 'b' },
            annotations: { c: 'd' },
            data: { tokenurl: '{{certurl}}/oauth/token' },
          },
          additionalOutputFormats: [
            { type: 'CombinedPEM' },
            { type: 'PKCS12', passwordSecretRef: { name: 'p', key: 'k' } },
          ],
        },
      },
    });
  });

  it.each([
    ['a destination', { ...dest, destinationName: 'cloud-alm' }],
    [
      'a stored certificate with a password',
      {
        ...dest,
        certificateName: 'client.p12',
        level: 'Instance',
        passwordSecretRef: { name: 'p', key: 'k' },
      },
    ],
    [
      'a generated certificate',
      {
        ...dest,
        certificateName: 'client.pem',
        generate: { commonName: 'my-app', validity: { value: 1, timeUnit: 'YEARS' }, automaticRenew: true },
      },
    ],
  ])('accepts a destination source with %s', async (_name, destination) => {
    await create({ ...ok, source: { destination } }, 'd-');
  });

  // The API server fills in the defaults, so `kubectl get -o yaml` shows the effective spec; the
  // values are the ones the code falls back to (DEFAULTS in src/api/schema.ts).
  it('fills in the defaults of a minimal spec', async () => {
    const created = (await custom.createNamespacedCustomObject({
      ...G,
      namespace: ns,
      body: {
        apiVersion: 'btpcerts.io/v1alpha1',
        kind: 'BTPCertificate',
        metadata: { name: 'defaults' },
        spec: {
          secretName: 'tls',
          source: { serviceManager: { serviceInstanceName: 'xsuaa' } },
          token: { caBundleRef: { name: 'ca' } },
        },
      },
    })) as { spec: unknown };
    expect(created.spec).toEqual({
      secretName: 'tls',
      source: {
        serviceManager: {
          serviceInstanceName: 'xsuaa',
          x509: { keyLength: 2048, validity: 7, validityType: 'DAYS' },
          parametersLocation: 'Top',
        },
      },
      rotatedBindingTTL: '1h',
      deletionPolicy: 'Delete',
      token: {
        check: true,
        checkInterval: '1h',
        caBundleRef: { kind: 'ConfigMap', name: 'ca', key: 'ca.crt' },
      },
    });
    const minimal = (await custom.createNamespacedCustomObject({
      ...G,
      namespace: ns,
      body: {
        apiVersion: 'btpcerts.io/v1alpha1',
        kind: 'BTPCertificate',
        metadata: { name: 'defaults-secret' },
        spec: { ...ok, token: { check: false } },
      },
    })) as { spec: unknown };
    expect(minimal.spec).toEqual({
      ...ok,
      rotatedBindingTTL: '1h',
      deletionPolicy: 'Delete',
      token: { check: false, checkInterval: '1h' },
    });
  });
});
