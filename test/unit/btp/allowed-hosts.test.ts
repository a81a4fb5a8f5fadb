// --allowed-hosts (issue 10, point 6): the pattern semantics, the default list against every host
// shape btp.md documents, and the bypasses an attacker would try with a URL field it controls.
import { describe, expect, it } from 'vitest';
import {
  AllowedHostsError,
  allowedHosts,
  DEFAULT_ALLOWED_HOSTS,
  endpointOf,
  parseAllowedHosts,
} from '../../../src/btp/allowed-hosts.ts';

const defaults = allowedHosts(DEFAULT_ALLOWED_HOSTS);
const allows = (patterns: string, url: string) => parseAllowedHosts(patterns).allows(new URL(url));

describe('the default list', () => {
  it.each([
    // certurl and url of an XSUAA instance (btp.md §2), also a Kyma SM access Secret's tokenurl
    'https://sub.authentication.cert.eu10.hana.ondemand.com/oauth/token',
    'https://sub.authentication.eu10.hana.ondemand.com/oauth/token',
    'https://my-sub-1.authentication.cert.us10-001.hana.ondemand.com',
    'https://sub.authentication.sap.hana.ondemand.com',
    'https://sub.authentication.cert.eu10.cloud.sap',
    'https://sub.authentication.cn40.platform.sapcloud.cn',
    // Service Manager (btp.md §4)
    'https://service-manager.cfapps.eu10.hana.ondemand.com/v1/service_bindings',
    'https://service-manager.cfapps.eu10-004.hana.ondemand.com',
    'https://service-manager.cfapps.cn40.platform.sapcloud.cn',
    // Destination service (the uri of its binding; issue 12)
    'https://destination-configuration.cfapps.eu10.hana.ondemand.com/destination-configuration/v1/destinations/x',
    'https://destination-configuration.cfapps.us10-001.hana.ondemand.com',
    'https://destination-configuration.cfapps.eu10.cloud.sap',
    'https://destination-configuration.cfapps.cn40.platform.sapcloud.cn',
    // identity service tenants
    'https://tenant.accounts.ondemand.com',
    // the explicit default port
    'https://sub.authentication.cert.eu10.hana.ondemand.com:443/oauth/token',
  ])('allows %s', (url) => {
    expect(defaults.allows(new URL(url))).toBe(true);
  });

  it.each([
    // anyone's Cloud Foundry application on the same landscape
    'https://evil-app.cfapps.eu10.hana.ondemand.com',
    'https://destination-configuration-evil.cfapps.eu10.hana.ondemand.com',
    'https://hana.ondemand.com',
    'https://authentication.eu10.hana.ondemand.com',
    'https://a.b.authentication.eu10.hana.ondemand.com',
    // another port on a real BTP host: no port scanning of SAP either
    'https://sub.authentication.cert.eu10.hana.ondemand.com:22',
    'https://sub.authentication.cert.eu10.hana.ondemand.com:8443',
    // not https: no default port to allow
    'http://sub.authentication.eu10.hana.ondemand.com',
    'https://127.0.0.1',
    'https://localhost',
    'https://[::1]',
    'https://10.0.0.1',
    'https://kubernetes.default.svc',
  ])('refuses %s', (url) => {
    expect(defaults.allows(new URL(url))).toBe(false);
  });
});

describe('bypasses an attacker would try', () => {
  const bypasses: [string, string][] = [
    ['a fragment that ends like an allowed host', 'https://evil.com#.authentication.eu10.hana.ondemand.com'],
    [
      'userinfo that looks like an allowed host',
      'https://sub.authentication.eu10.hana.ondemand.com@evil.com/',
    ],
    ['userinfo with a port', 'https://sub.authentication.eu10.hana.ondemand.com:443@evil.com:443/'],
    ['a backslash (a slash in https URLs)', 'https://evil.com\\@sub.authentication.eu10.hana.ondemand.com/'],
    ['a query that ends like an allowed host', 'https://evil.com?.authentication.eu10.hana.ondemand.com'],
    ['a path that ends like an allowed host', 'https://evil.com/sub.authentication.eu10.hana.ondemand.com'],
    ['the allowed suffix as a prefix', 'https://sub.authentication.eu10.hana.ondemand.com.evil.com'],
    [
      'the allowed suffix, trailing dot, then more',
      'https://sub.authentication.eu10.hana.ondemand.com..evil.com',
    ],
    ['a suffix without its dot', 'https://subauthentication.eu10.hana.ondemand.com'],
    ['a percent-encoded dot', 'https://evil%2Ecom'],
    ['an IDN look-alike (punycode)', 'https://sub.authentication.eu10.hana.ondemand.cοm'],
    ['an IPv4-mapped IPv6 loopback', 'https://[::ffff:127.0.0.1]/'],
    ['an empty label', 'https://sub..authentication.eu10.hana.ondemand.com'],
  ];
  it.each(bypasses)('%s is refused', (_name, url) => {
    expect(defaults.allows(new URL(url))).toBe(false);
  });

  it('case and one trailing dot do not matter: they name the same host', () => {
    expect(defaults.allows(new URL('https://SUB.Authentication.EU10.HANA.ondemand.COM/'))).toBe(true);
    expect(defaults.allows(new URL('https://sub.authentication.eu10.hana.ondemand.com./'))).toBe(true);
    expect(defaults.allows(new URL('https://evil.com./'))).toBe(false);
  });

  it('full-width dots are the same host as ASCII dots (the URL parser maps them)', () => {
    expect(defaults.allows(new URL('https://sub．authentication．eu10．hana．ondemand．com/'))).toBe(true);
  });

  it('an IP address is matched only by a pattern naming it, in any of its spellings', () => {
    const loopback = '127.0.0.1:*,[::1]:*';
    for (const url of [
      'https://127.0.0.1:8443',
      'https://2130706433:8443',
      'https://0x7f.1:8443',
      'https://[::1]:8443',
    ])
      expect(allows(loopback, url), url).toBe(true);
    expect(allows('[0:0:0:0:0:0:0:1]', 'https://[::1]/')).toBe(true);
    for (const url of ['https://127.0.0.2:8443', 'https://[::2]:8443', 'https://localhost:8443'])
      expect(allows(loopback, url), url).toBe(false);
    // No wildcard matches an IP address, however many labels it has.
    for (const pattern of ['*.*.*.*:*', '**:*'])
      expect(allows(pattern, 'https://127.0.0.1:8443'), pattern).toBe(false);
  });
});

describe('pattern semantics', () => {
  it('* is exactly one whole label', () => {
    expect(allows('*.example.com', 'https://a.example.com')).toBe(true);
    expect(allows('*.example.com', 'https://a.b.example.com')).toBe(false);
    expect(allows('*.example.com', 'https://example.com')).toBe(false);
    expect(allows('a.*.example.com', 'https://a.x.example.com')).toBe(true);
    expect(allows('a.*.example.com', 'https://b.x.example.com')).toBe(false);
  });

  it('** as the first label is one label or more', () => {
    expect(allows('**.example.com', 'https://a.example.com')).toBe(true);
    expect(allows('**.example.com', 'https://a.b.c.example.com')).toBe(true);
    expect(allows('**.example.com', 'https://example.com')).toBe(false);
    expect(allows('**.example.com', 'https://a.example.org')).toBe(false);
    expect(allows('**', 'https://anything.example')).toBe(true);
  });

  it('no port means 443; :port that port; :* any', () => {
    expect(allows('a.example', 'https://a.example')).toBe(true);
    expect(allows('a.example', 'https://a.example:444')).toBe(false);
    expect(allows('a.example:8443', 'https://a.example:8443')).toBe(true);
    expect(allows('a.example:8443', 'https://a.example')).toBe(false);
    expect(allows('a.example:*', 'https://a.example:1')).toBe(true);
  });

  it('patterns are case-insensitive and normalised like hosts (IDN to punycode)', () => {
    expect(allows('*.EXAMPLE.com', 'https://a.example.COM')).toBe(true);
    expect(allows('*.bücher.example', 'https://a.xn--bcher-kva.example')).toBe(true);
    expect(allows('*.bücher.example', 'https://a.bücher.example')).toBe(true);
    expect(allows('example.com.', 'https://example.com')).toBe(true);
  });

  it('an empty list allows nothing', () => {
    expect(allows('', 'https://a.example')).toBe(false);
    expect(allows(' , ', 'https://a.example')).toBe(false);
  });

  it.each([
    ['foo*.example.com', /wildcard must be a whole label/],
    ['a.**.example.com', /\*\* other than as its first label/],
    ['a.example:0', /port/],
    ['a.example:65536', /port/],
    ['a.example:http', /port/],
    ['::1', /host, host:port/],
    ['*.0.0.1', /not a host name/],
    ['[::1]*', /host, host:port/],
    ['https://a.example', /port/],
    ['a.example/path', /character/],
    ['user@a.example', /character/],
    ['a..example', /empty label/],
    ['*.127.0.0.1', /not a host name|wildcard/],
  ])('refuses the pattern %s', (pattern, why) => {
    expect(() => parseAllowedHosts(pattern)).toThrow(AllowedHostsError);
    expect(() => parseAllowedHosts(pattern)).toThrow(why);
  });
});

describe('endpointOf', () => {
  it('names host and port only: no userinfo, path, query or fragment', () => {
    const url = new URL('https://user:secret@evil.example:8443/p/secret?token=secret#secret');
    expect(endpointOf(url)).toBe('evil.example:8443');
    expect(endpointOf(new URL('https://evil.example/x'))).toBe('evil.example:443');
    expect(endpointOf(new URL('https://[::1]:9/x'))).toBe('[::1]:9');
  });
});
