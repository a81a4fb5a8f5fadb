// The destination source's gather step (certificate/destination-source.ts) with the Destination
// service played by a DestinationPort (a member of its Deps): the keystore of a destination and a
// stored certificate, the password's origin, each failure's reason, and when the service is read.
import { describe, expect, it } from 'vitest';
import type { BTPCertificate } from '../../../src/api/types.ts';
import { BtpError } from '../../../src/btp/errors.ts';
import { Secret } from '../../../src/btp/secret.ts';
import { DestinationSessions, READ_INTERVAL_MS } from '../../../src/certificate/destination-reads.ts';
import { observeDestination, UNUSABLE_ANSWER_READ_MS } from '../../../src/certificate/destination-source.ts';
import { parseCredentialPems, pkcs12 } from '../../../src/pki/index.ts';
import type {
  DestinationAccess,
  DestinationLevel,
  DestinationPort,
  FoundDestination,
  StoredCertificate,
} from '../../../src/sources/destination-port.ts';
import { certificate, h, NOW, PEMS } from './policies/fixtures.ts';

const bundle = parseCredentialPems({ ...PEMS, now: NOW });
if (!bundle.ok) throw new Error(bundle.error.message);
const p12 = (password: string) => {
  const file = pkcs12(bundle.value, password);
  if (!file.ok) throw new Error(file.error.message);
  return new Uint8Array(file.value);
};
const file = (name: string, content: Uint8Array): StoredCertificate => ({
  name,
  type: 'CERTIFICATE',
  content,
});

const BINDING = {
  uri: 'https://destination-configuration.example',
  clientid: 'sb-destination',
  clientsecret: 'not-shown',
  url: 'https://sub.authentication.example',
};

function found(
  certificates: StoredCertificate[],
  overrides: Partial<FoundDestination['configuration']> = {},
): FoundDestination {
  return {
    owner: { level: 'Subaccount', id: undefined },
    configuration: {
      name: 'cloud-alm',
      type: 'HTTP',
      url: 'https://alm.example/api',
      authentication: 'OAuth2ClientCredentials',
      keyStoreLocation: 'alm.p12',
      keyStorePassword: new Secret('from-destination'),
      tokenServiceUrl: 'https://other.authentication.cert.example/oauth/token',
      clientId: 'sb-alm',
      properties: {},
      ...overrides,
    },
    certificates,
    authTokens: [],
  };
}

/** A Destination service: answers from `answer`, counts the reads. */
class FakeDestination implements DestinationPort {
  reads = 0;
  /** The level the last getCertificate asked for. */
  level: DestinationLevel | undefined;
  answer: () => FoundDestination | StoredCertificate | undefined | Error;
  constructor(answer: () => FoundDestination | StoredCertificate | undefined | Error) {
    this.answer = answer;
  }
  async findDestination(): Promise<FoundDestination | undefined> {
    return this.#next() as FoundDestination | undefined;
  }
  async getCertificate(_name: string, level: DestinationLevel): Promise<StoredCertificate | undefined> {
    this.level = level;
    return this.#next() as StoredCertificate | undefined;
  }
  async createCertificate(): Promise<StoredCertificate> {
    throw new Error('not used');
  }
  async deleteCertificate(): Promise<void> {}
  async close(): Promise<void> {}
  #next() {
    this.reads += 1;
    const a = this.answer();
    if (a instanceof Error) throw a;
    return a;
  }
}

function setup(port: FakeDestination, secrets: Record<string, Record<string, string>> = {}) {
  const accesses: DestinationAccess[] = [];
  const deps = {
    kube: {
      getSecret: async () => undefined,
      applySecret: async () => {
        throw new Error('the read modes write no Secret');
      },
    },
    getSecretData: async (_ns: string, name: string) => ({ binding: BINDING, ...secrets })[name],
    sessions: new DestinationSessions(
      (access) => {
        accesses.push(access);
        return port;
      },
      async () => {},
    ),
  };
  return { deps, accesses };
}

const destinationCert = (source: Record<string, unknown> = {}, status?: BTPCertificate['status']) =>
  certificate(
    {
      source: {
        destination: { credentialsSecretRef: { name: 'binding' }, destinationName: 'cloud-alm', ...source },
      },
    },
    status,
  );
const storedCert = (source: Record<string, unknown> = {}) =>
  certificate({
    source: {
      destination: { credentialsSecretRef: { name: 'binding' }, certificateName: 'partner.pem', ...source },
    },
  });

const observe = (cert: BTPCertificate, deps: ReturnType<typeof setup>['deps'], now = NOW) =>
  observeDestination(cert, deps, now, []);

describe('observeDestination', () => {
  it("a destination's PKCS#12 keystore, opened with the destination's KeyStorePassword; its fields for the Secret", async () => {
    const port = new FakeDestination(() => found([file('alm.p12', p12('from-destination'))]));
    const { deps, accesses } = setup(port);
    const o = await observe(destinationCert(), deps);
    expect(o).toMatchObject({
      ok: true,
      description: 'Destination/cloud-alm',
      credentials: {
        key: expect.stringContaining('PRIVATE KEY'),
        fields: {
          Name: 'cloud-alm',
          URL: 'https://alm.example/api',
          tokenServiceURL: 'https://other.authentication.cert.example/oauth/token',
          clientId: 'sb-alm',
          type: 'destination',
        },
      },
      renewal: { kind: 'destination' },
    });
    expect(accesses[0]).toMatchObject({
      serviceUrl: BINDING.uri,
      tokenUrl: `${BINDING.url}/oauth/token`,
      clientId: BINDING.clientid,
      auth: { kind: 'secret' },
    });
  });

  it('passwordSecretRef wins over the destination password; a wrong one is KeystorePasswordIncorrect', async () => {
    const port = new FakeDestination(() => found([file('alm.p12', p12('from-secret'))]));
    const right = setup(port, { pw: { password: 'from-secret' } });
    expect(
      await observe(destinationCert({ passwordSecretRef: { name: 'pw', key: 'password' } }), right.deps),
    ).toMatchObject({ ok: true });
    const wrong = setup(new FakeDestination(() => found([file('alm.p12', p12('from-secret'))])));
    const o = await observe(destinationCert(), wrong.deps);
    expect(o).toMatchObject({ ok: false, reason: 'KeystorePasswordIncorrect' });
    expect(JSON.stringify(o)).not.toContain('from-destination');
    const missing = setup(port);
    expect(
      await observe(destinationCert({ passwordSecretRef: { name: 'pw', key: 'password' } }), missing.deps),
    ).toMatchObject({
      ok: false,
      reason: 'PasswordSecretNotFound',
    });
  });

  it('a stored PEM certificate with its key, at the level asked for', async () => {
    const port = new FakeDestination(() =>
      file('partner.pem', new TextEncoder().encode(PEMS.key + PEMS.certificate)),
    );
    const { deps } = setup(port);
    expect(await observe(storedCert({ level: 'Instance' }), deps)).toMatchObject({
      ok: true,
      description: 'DestinationCertificate/partner.pem',
      credentials: { fields: { Name: 'partner.pem' } },
    });
    expect(port.level).toBe('Instance');
    expect(await observe(storedCert(), setup(port).deps)).toMatchObject({ ok: true });
    expect(port.level).toBe('Subaccount');
  });

  it.each<[string, () => FoundDestination | StoredCertificate | undefined | Error, string]>([
    [
      'a JKS keystore',
      () => found([file('alm.p12', Uint8Array.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]))]),
      'UnsupportedKeystoreFormat',
    ],
    [
      'a corrupt keystore',
      () => found([file('alm.p12', Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x03]))]),
      'InvalidKeystore',
    ],
    [
      'a destination with basic authentication',
      () => found([], { authentication: 'BasicAuthentication' }),
      'NoClientCertificate',
    ],
    ['a keystore the answer does not carry', () => found([]), 'NoClientCertificate'],
    ['no destination of that name', () => undefined, 'SourceNotFound'],
    [
      '401 from the service',
      () => new BtpError('BtpUnauthorized', 'GET host/path: 401'),
      'DestinationAuthenticationFailed',
    ],
    [
      '5xx from the service',
      () => new BtpError('BtpServerError', 'GET host/path: 503'),
      'DestinationServiceError',
    ],
    [
      'a host outside --allowed-hosts',
      () => new BtpError('BtpHostNotAllowed', 'not allowed'),
      'HostNotAllowed',
    ],
  ])('%s: %s', async (_what, answer, reason) => {
    expect(await observe(destinationCert(), setup(new FakeDestination(answer)).deps)).toMatchObject({
      ok: false,
      reason,
    });
  });

  it('an incomplete binding Secret is InvalidDestinationCredentials and nothing is asked', async () => {
    const port = new FakeDestination(() => undefined);
    const { deps } = setup(port, { binding: { uri: BINDING.uri, clientid: 'x' } });
    expect(await observe(destinationCert(), deps)).toMatchObject({
      ok: false,
      reason: 'InvalidDestinationCredentials',
    });
    expect(port.reads).toBe(0);
  });

  it('is read once, then again after the read interval or at the renewal time', async () => {
    const port = new FakeDestination(() => found([file('alm.p12', p12('from-destination'))]));
    const { deps } = setup(port);
    const at = (ms: number) => new Date(NOW.getTime() + ms);
    await observe(destinationCert(), deps);
    await observe(destinationCert(), deps, at(READ_INTERVAL_MS - 1));
    expect(port.reads).toBe(1);
    await observe(destinationCert(), deps, at(READ_INTERVAL_MS));
    expect(port.reads).toBe(2);
    const renewing = destinationCert(
      {},
      {
        notBefore: h.leaf.notBefore.toISOString(),
        notAfter: h.leaf.notAfter.toISOString(),
        renewalTime: at(READ_INTERVAL_MS + 60_000).toISOString(),
      },
    );
    await observe(renewing, deps, at(READ_INTERVAL_MS + 59_000));
    expect(port.reads).toBe(2);
    await observe(renewing, deps, at(READ_INTERVAL_MS + 60_000));
    expect(port.reads).toBe(3);
    // Another spec (another name) is read at once.
    await observe(destinationCert({ destinationName: 'other' }), deps, at(READ_INTERVAL_MS + 61_000));
    expect(port.reads).toBe(4);
  });

  it("a BTPCertificate created again under a deleted one's name does not get its kept answer", async () => {
    const port = new FakeDestination(() =>
      file('partner.pem', new TextEncoder().encode(PEMS.key + PEMS.certificate)),
    );
    const { deps } = setup(port);
    const first = storedCert();
    await observe(first, deps);
    await observe({ ...first, metadata: { ...first.metadata, uid: 'uid-2' } }, deps);
    expect(port.reads).toBe(2);
  });

  it('an outage keeps the last answer of this process; without one it is DestinationServiceError, looked at again', async () => {
    let down = false;
    const port = new FakeDestination(() =>
      down
        ? new BtpError('BtpServerError', 'GET host/path: 503')
        : found([file('alm.p12', p12('from-destination'))]),
    );
    const { deps } = setup(port);
    await observe(destinationCert(), deps);
    down = true;
    const later = new Date(NOW.getTime() + READ_INTERVAL_MS);
    expect(await observe(destinationCert(), deps, later)).toMatchObject({ ok: true });
    expect(port.reads).toBe(2);
    const fresh = await observe(destinationCert(), setup(port).deps);
    expect(fresh).toMatchObject({ ok: false, reason: 'DestinationServiceError', recheckAfterMs: 30_000 });
  });

  it('an answer without usable credentials is read again after 5 minutes, not an hour', async () => {
    let content = Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x03]);
    const port = new FakeDestination(() => found([file('alm.p12', content)]));
    const { deps } = setup(port);
    const at = (ms: number) => new Date(NOW.getTime() + ms);
    expect(await observe(destinationCert(), deps)).toMatchObject({
      ok: false,
      reason: 'InvalidKeystore',
      recheckAfterMs: UNUSABLE_ANSWER_READ_MS,
    });
    await observe(destinationCert(), deps, at(UNUSABLE_ANSWER_READ_MS - 1000));
    expect(port.reads).toBe(1);
    content = p12('from-destination');
    expect(await observe(destinationCert(), deps, at(UNUSABLE_ANSWER_READ_MS))).toMatchObject({ ok: true });
    expect(port.reads).toBe(2);
  });
});
