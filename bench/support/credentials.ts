// Secret-source credentials for many certificates: one CA chain (as a subaccount's bindings
// share), a distinct leaf certificate for each, so nothing downstream sees the same content twice.
import { btpName, buildCertificate, buildHierarchy, concat, keyPem } from '../../test/unit/pki/fixtures.ts';

const HOUR = 3_600_000;

export function distinctBindingCredentials(count: number): Record<string, string>[] {
  const now = Date.now();
  const h = buildHierarchy({
    root: { notBefore: new Date(now - 24 * HOUR), notAfter: new Date(now + 3650 * 24 * HOUR) },
    intermediate: { notBefore: new Date(now - 24 * HOUR), notAfter: new Date(now + 1000 * 24 * HOUR) },
  });
  const key = keyPem(h.leaf.key, 'pkcs1');
  return Array.from({ length: count }, (_, i) => {
    const leaf = buildCertificate({
      subject: btpName(`bench-leaf-${i}`),
      key: h.leaf.key,
      issuer: { name: h.intermediate.name, key: h.intermediate.key },
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 7 * 24 * HOUR),
      ca: false,
    });
    return {
      certificate: concat(leaf, h.intermediate, h.root),
      key,
      clientid: `sb-bench-${i}!b1|xsuaa!b2`,
      certurl: 'https://sub.authentication.cert.example',
      url: 'https://sub.authentication.example',
      'credential-type': 'x509',
      xsappname: 'app!b1',
    };
  });
}
