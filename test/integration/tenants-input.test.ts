// One tenant's hostile input does not hold up another tenant (issue 10, point 2). In namespace A,
// Secrets whose certurl is 300 KB of slashes (it held the operator at 100 % CPU for minutes, in
// /\/+$/), whose certurl is a 60 KB URL, and whose field is over 64 KiB each get a specific reason,
// InputTooLarge, that names the field and the limit and shows none of the input; meanwhile a
// certificate in namespace B becomes Ready. The operator runs in this process: had it frozen, so
// would the test, and the reasons would be other ones.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Certificates } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const nsA = testNamespace(kc, 'tenant-a');
const nsB = testNamespace(kc, 'tenant-b');
let operator: RunningOperator;

const CERTURL = 'https://sub.authentication.cert.example';

async function putSecret(namespace: string, name: string, stringData: Record<string, string>): Promise<void> {
  await core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace }, stringData } });
}

beforeAll(() => {
  operator = startOperator(kc, { namespaces: [nsA, nsB] });
});
afterAll(async () => {
  await operator.stop();
});

describe('hostile input in one namespace', () => {
  it('gets InputTooLarge while a certificate in another namespace becomes Ready', async () => {
    const tenantA = new Certificates(kc, nsA);
    const tenantB = new Certificates(kc, nsB, { token: { check: false } });
    const { fields } = bindingCredentials();

    // Namespace A: the token check is on (the default) for the two URLs.
    const slashes = `${CERTURL}${'/'.repeat(300_000)}x`;
    const longUrl = `${CERTURL}${'/'.repeat(60_000)}x`;
    const bigField = 'x'.repeat(64 * 1024 + 1);
    await putSecret(nsA, 'slashes', { ...fields, certurl: slashes });
    await putSecret(nsA, 'long-url', { ...fields, certurl: longUrl });
    await putSecret(nsA, 'big-field', { ...fields, xsappname: bigField });
    for (const name of ['slashes', 'long-url', 'big-field'])
      await tenantA.create(name, { secretName: `tls-${name}`, source: { secret: { name } } });

    // Namespace B, at the same time: ordinary credentials.
    await putSecret(nsB, 'src', fields);
    await tenantB.create('fine', { secretName: 'tls-fine', source: { secret: { name: 'src' } } });

    const [fine, slashed, long, big] = await Promise.all([
      tenantB.waitForCondition('fine', 'Ready', { status: 'True', reason: 'Issued' }),
      tenantA.waitForCondition('slashes', 'Ready', { status: 'False', reason: 'InputTooLarge' }),
      tenantA.waitForCondition('long-url', 'TokenReady', { status: 'False', reason: 'InputTooLarge' }),
      tenantA.waitForCondition('big-field', 'Ready', { status: 'False', reason: 'InputTooLarge' }),
    ]);
    expect(fine.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(await tenantB.secret('tls-fine')).toBeDefined();

    const message = (cert: typeof fine, type = 'Ready') =>
      cert.status?.conditions?.find((c) => c.type === type)?.message ?? '';
    expect(message(slashed)).toBe(
      `Secret slashes: field certurl is ${slashes.length} bytes; at most 64 KiB are accepted per field`,
    );
    expect(message(big)).toBe(
      `Secret big-field: field xsappname is ${bigField.length} bytes; at most 64 KiB are accepted per field`,
    );
    // The credentials themselves are fine: they are written; the token check refuses the URL.
    expect(message(long, 'TokenReady')).toContain(
      `the credentials' certurl is a URL of ${longUrl.length} characters; at most 2048 are accepted`,
    );
    const longReady = long.status?.conditions?.find((c) => c.type === 'Ready');
    expect(longReady).toMatchObject({ status: 'False', reason: 'InputTooLarge' });
    expect(long.status?.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('True');
    // Nothing of the input is shown.
    for (const cert of [slashed, long, big])
      for (const condition of cert.status?.conditions ?? []) {
        expect(condition.message).not.toContain('//////');
        expect(condition.message).not.toContain('xxxxxx');
        expect(condition.message.length).toBeLessThan(2_000);
      }
  });
});
