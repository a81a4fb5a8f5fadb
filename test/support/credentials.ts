// x509 credentials in the BTP binding shape, valid around the real clock, for integration tests
// that need a Secret source without the simulator: root -> intermediate -> leaf from the PKI test
// fixtures.
import { buildHierarchy, concat, type Hierarchy, keyPem } from '../unit/pki/fixtures.ts';

const HOUR = 3_600_000;

export function bindingCredentials(validForMs = 7 * 24 * HOUR): {
  readonly h: Hierarchy;
  readonly fields: Record<string, string> & { certificate: string; key: string; certurl: string };
} {
  const now = Date.now();
  const h = buildHierarchy({
    root: { notBefore: new Date(now - 24 * HOUR), notAfter: new Date(now + 3650 * 24 * HOUR) },
    intermediate: { notBefore: new Date(now - 24 * HOUR), notAfter: new Date(now + 1000 * 24 * HOUR) },
    leaf: { notBefore: new Date(now - HOUR), notAfter: new Date(now - HOUR + validForMs) },
  });
  return {
    h,
    fields: {
      certificate: concat(h.leaf, h.intermediate, h.root),
      key: keyPem(h.leaf.key, 'pkcs1'),
      clientid: 'sb-clientid!b1|xsuaa!b2',
      certurl: 'https://sub.authentication.cert.example',
      url: 'https://sub.authentication.example',
      'credential-type': 'x509',
      xsappname: 'app!b1',
    },
  };
}
