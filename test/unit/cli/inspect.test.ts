// `kubectl btpcert inspect secret`: what a TLS Secret holds, with the operator's own validation,
// and never a byte of the key.
import { describe, expect, it } from 'vitest';
import type { SecretView } from '../../../src/cli/client.ts';
import { formatInspect, inspectView } from '../../../src/cli/inspect.ts';
import { terminalControls } from '../../support/terminal.ts';
import { buildHierarchy, concat, days, keyPem, NOW, testKey } from '../pki/fixtures.ts';

const h = buildHierarchy();
const leafKey = keyPem(h.leaf.key, 'pkcs1');

function secret(data: Record<string, string>): SecretView {
  const buffers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(data)) buffers[k] = Buffer.from(v);
  return { namespace: 'ns', name: 's', type: 'kubernetes.io/tls', data: buffers };
}

function expectNoKey(text: string, key: string): void {
  expect(text).not.toContain('PRIVATE KEY');
  for (const line of key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) {
    expect(text).not.toContain(line);
  }
}

describe('inspect secret', () => {
  it('shows a valid pair in chain order with its keystores', () => {
    const view = inspectView(
      secret({
        'tls.crt': concat(h.leaf, h.intermediate),
        'tls.key': leafKey,
        'ca.crt': concat(h.intermediate, h.root),
        'keystore.p12': 'xxxx',
      }),
      NOW,
    );
    expect(view).toMatchObject({
      valid: true,
      problem: undefined,
      chainOrder: 'leaf first',
      key: { type: 'rsa', format: 'pkcs1' },
      keyMatchesLeaf: true,
      caCertificates: 2,
      keystores: { 'keystore.p12': 4 },
    });
    expect(view.certificates.map((c) => [c.block, c.subject, c.validity])).toEqual([
      [1, h.leaf.subject, 'valid'],
      [2, h.intermediate.subject, 'valid'],
    ]);
    const text = formatInspect(view, NOW);
    expect(text).toMatch(/^Valid: +yes: the operator would write this pair$/m);
    expect(text).toContain('Certificates (tls.crt, 2): leaf first\n');
    expect(text).toContain(`      Not after:   ${h.leaf.notAfter.toISOString().replace('.000Z', 'Z')} (in `);
    expect(text).toContain('Key matches leaf:  yes\n');
    expect(text).toContain('keystore.p12:      present (4 bytes)\n');
    expect(text).toContain('tls-combined.pem:  absent\n');
    expectNoKey(text, leafKey);
    expectNoKey(JSON.stringify(view), leafKey);
  });

  it('reports the order a chain should have, and a key of another certificate', () => {
    const other = keyPem(testKey('other'), 'pkcs8');
    const view = inspectView(
      secret({ 'tls.crt': concat(h.root, h.leaf, h.intermediate), 'tls.key': other }),
      NOW,
    );
    expect(view).toMatchObject({
      valid: false,
      problem: { reason: 'KeyMismatch' },
      chainOrder: [2, 3, 1],
      keyMatchesLeaf: false,
    });
    const text = formatInspect(view, NOW);
    expect(text).toContain('Certificates (tls.crt, 3): out of order, the chain is blocks 2, 3, 1\n');
    expect(text).toContain('  [1] CN=Test Root CA, O=SAP SE, C=DE (self-signed)\n');
    expect(text).toContain('Key matches leaf:  NO\n');
    expectNoKey(text, other);
  });

  it('marks an expired certificate and gives the operator reason', () => {
    const old = buildHierarchy({ leaf: { notBefore: days(-10), notAfter: days(-1) } });
    const view = inspectView(
      secret({ 'tls.crt': old.leaf.pem, 'tls.key': keyPem(old.leaf.key, 'pkcs1') }),
      NOW,
    );
    expect(view.problem?.reason).toBe('Expired');
    expect(view.certificates[0]?.validity).toBe('expired');
    expect(formatInspect(view, NOW)).toContain('      Validity:    EXPIRED\n');
  });

  it('says which keys are missing, and what does not parse', () => {
    expect(inspectView(secret({ 'tls.crt': h.leaf.pem }), NOW).problem).toEqual({
      reason: 'MissingKeys',
      message: 'the Secret has no tls.key',
    });
    expect(inspectView(secret({}), NOW)).toMatchObject({
      valid: false,
      problem: { message: 'the Secret has no tls.crt and tls.key' },
      certificates: [],
      key: undefined,
      keyMatchesLeaf: undefined,
    });
    const garbled = inspectView(secret({ 'tls.crt': 'not a certificate', 'tls.key': leafKey }), NOW);
    expect(garbled).toMatchObject({
      problem: { reason: 'InvalidCertificate' },
      certificates: [],
      chainOrder: 'not one chain',
    });
    expect(formatInspect(garbled, NOW)).toContain('Key matches leaf:  unknown (see the problem above)\n');
  });
});

describe('inspect of a certificate a namespace user made', () => {
  it('prints its names without terminal control characters', () => {
    const view = inspectView(secret({ 'tls.crt': h.leaf.pem, 'tls.key': leafKey }), NOW);
    const hostile = {
      ...view,
      problem: { reason: 'BrokenChain', message: 'x\u001b[2J\r' },
      certificates: view.certificates.map((c) => ({
        ...c,
        subject: 'CN=\u001b]0;owned\u0007',
        issuer: '\u009bx',
      })),
    };
    const text = formatInspect(hostile, NOW);
    expect(terminalControls(text)).toEqual([]);
    expect(text).toContain('  [1] CN=\\u001b]0;owned\\u0007\n');
  });
});
