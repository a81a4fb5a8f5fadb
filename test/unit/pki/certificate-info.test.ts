import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateInfo } from '../../../src/pki/index.ts';
import { buildCertificate, buildHierarchy, concat, days, keyPem, testKey } from './fixtures.ts';

const h = buildHierarchy();

function mustDescribe(pem: string) {
  const result = certificateInfo(pem);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value;
}

describe('certificateInfo', () => {
  it('describes the leaf as OpenSSL would print it', () => {
    const info = mustDescribe(h.leaf.pem);
    const x509 = new X509Certificate(h.leaf.der);
    const fingerprint = createHash('sha256').update(h.leaf.der).digest('hex').toUpperCase();

    expect(info).toEqual({
      notBefore: h.leaf.notBefore,
      notAfter: h.leaf.notAfter,
      serialNumber: x509.serialNumber,
      subject: 'CN=leaf-client, OU=SAP Cloud Platform Clients, O=SAP SE, C=DE',
      issuer: 'CN=Test Client CA, O=SAP SE, L=EU10, C=DE',
      sha256Fingerprint: fingerprint.match(/../g)?.join(':'),
      selfSigned: false,
    });
    expect(info.serialNumber).toMatch(/^[0-9A-F]+$/);
  });

  it('marks a self-signed root', () => {
    expect(mustDescribe(h.root.pem)).toMatchObject({
      selfSigned: true,
      subject: h.root.subject,
      issuer: h.root.subject,
    });
  });

  it('describes the first certificate of a chain (a tls.crt)', () => {
    expect(mustDescribe(concat(h.leaf, h.intermediate)).subject).toBe(h.leaf.subject);
  });

  it('escapes a comma inside a value, RFC 4514 style', () => {
    const cert = buildCertificate({
      subject: [
        { shortName: 'O', value: 'SAP SE, Walldorf' },
        { shortName: 'CN', value: 'client' },
      ],
      key: testKey('leaf'),
      notBefore: days(-1),
      notAfter: days(1),
      ca: false,
    });
    expect(mustDescribe(cert.pem).subject).toBe('CN=client, O=SAP SE\\, Walldorf');
  });

  it.each([
    ['empty text', '', /no PEM block/],
    [
      'a key instead of a certificate',
      keyPem(testKey('leaf'), 'pkcs1'),
      /is a PKCS#1 RSA private key, not a certificate/,
    ],
    ['a truncated certificate', h.leaf.pem.slice(0, 200), /has no END line/],
  ])('refuses %s with InvalidCertificate', (_, pem, message) => {
    const result = certificateInfo(pem);
    expect(result).toMatchObject({ ok: false, error: { code: 'InvalidCertificate' } });
    if (!result.ok) expect(result.error.message).toMatch(message);
  });
});
