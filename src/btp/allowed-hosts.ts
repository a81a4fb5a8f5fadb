// Which hosts and ports the operator may contact at all (--allowed-hosts). Every URL a BTP request
// goes to comes from a tenant (spec.token.url, the credentials' certurl/url, the access Secret's
// sm_url/tokenurl), so without this list a namespace user could make the operator connect to any
// host and port it can reach: a blind port scanner, and a server of the tenant's choosing. BtpHttp
// asks `allows` before any DNS lookup or connection.
//
// Pattern semantics, comma-separated, case-insensitive:
//   host          a DNS name: its labels (between dots) compared one by one with the host's.
//   *             as a whole label: exactly one label, e.g. *.authentication.*.hana.ondemand.com
//                 matches sub.authentication.eu10.hana.ondemand.com, not a.b.authentication....
//   **            only as the first label: one or more labels, e.g. **.example.com matches
//                 a.example.com and a.b.example.com, not example.com itself.
//   :port         only that port; `:*` any port; no port: 443 only (https's default).
//   IP literals   127.0.0.1, [::1]: an IP address host matches only a pattern naming that address
//                 (no wildcard ever matches an IP address).
// A label is never matched partly (no `foo*`). Hosts are compared in the form the WHATWG URL parser
// gives them (lower case, IDN as punycode, IPv4 in dotted decimal, IPv6 compressed) with one
// trailing dot removed; patterns are normalised the same way, so a Unicode pattern matches its
// punycode host. Userinfo, fragments and paths are never part of the host, which closes
// `https://x.hana.ondemand.com@evil.com` and `https://evil.com#.hana.ondemand.com`.
import { isIP } from 'node:net';

/**
 * The public BTP endpoints (btp.md §2, §4): an XSUAA instance's url `<subdomain>.authentication.
 * <landscape>` and certurl `<subdomain>.authentication.cert.<landscape>` (also the tokenurl of a
 * Service Manager access Secret, and a destination's tokenServiceURL in another subaccount),
 * Service Manager `service-manager.cfapps.<landscape>`, the Destination service
 * `destination-configuration.cfapps.<landscape>` (the `uri` of its binding), and the identity
 * service's tenants; landscapes under hana.ondemand.com, cloud.sap and, in China,
 * platform.sapcloud.cn. Deliberately not `**.hana.ondemand.com`: cfapps.<landscape> also serves
 * any customer's Cloud Foundry application, so a tenant could name a server it runs there.
 */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = Object.freeze([
  '*.authentication.*.hana.ondemand.com',
  '*.authentication.cert.*.hana.ondemand.com',
  'service-manager.cfapps.*.hana.ondemand.com',
  'destination-configuration.cfapps.*.hana.ondemand.com',
  '*.authentication.*.cloud.sap',
  '*.authentication.cert.*.cloud.sap',
  'service-manager.cfapps.*.cloud.sap',
  'destination-configuration.cfapps.*.cloud.sap',
  '*.authentication.*.platform.sapcloud.cn',
  '*.authentication.cert.*.platform.sapcloud.cn',
  'service-manager.cfapps.*.platform.sapcloud.cn',
  'destination-configuration.cfapps.*.platform.sapcloud.cn',
  '*.accounts.ondemand.com',
  '*.accounts.cloud.sap',
]);

/** The port of an https URL that names none. */
const HTTPS_PORT = 443;

type Pattern = {
  readonly text: string;
  /** An IP literal in URL form (`127.0.0.1`, `[::1]`), or undefined for a DNS pattern. */
  readonly ip: string | undefined;
  /** DNS labels, `*` and a leading `**` included. */
  readonly labels: readonly string[];
  /** A port, or `any`. */
  readonly port: number | 'any';
};

export type AllowedHosts = {
  /** The patterns as given, for messages. */
  readonly patterns: readonly string[];
  /** Whether a request to this URL may be sent (its host and port; nothing else of it is read). */
  allows(url: URL): boolean;
};

export class AllowedHostsError extends Error {
  override name = 'AllowedHostsError';
}

/** Compiles patterns; throws AllowedHostsError naming the first one that is not a pattern. */
export function allowedHosts(patterns: readonly string[]): AllowedHosts {
  const compiled = patterns.map(compile);
  return Object.freeze({
    patterns: Object.freeze([...patterns]),
    allows: (url: URL) => {
      const host = hostOf(url);
      const port = portOf(url);
      if (host === undefined || port === undefined) return false;
      return compiled.some((p) => matches(p, host, port));
    },
  });
}

/** `a,b,c` as given to --allowed-hosts: entries trimmed, empty ones dropped. */
export function parseAllowedHosts(text: string): AllowedHosts {
  return allowedHosts(
    text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

/** `host:port` of a URL for messages: never its userinfo, path, query or fragment. */
export function endpointOf(url: URL): string {
  return `${url.hostname}:${portOf(url) ?? url.port}`;
}

function portOf(url: URL): number | undefined {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? HTTPS_PORT : undefined;
}

/** The host in URL form without one trailing dot; undefined when it has empty labels. */
function hostOf(url: URL): string | undefined {
  const host = url.hostname.endsWith('.') ? url.hostname.slice(0, -1) : url.hostname;
  if (host === '' || host.startsWith('.') || host.includes('..')) return undefined;
  return host;
}

const isIpHost = (host: string): boolean =>
  host.startsWith('[') ? isIP(host.slice(1, -1)) === 6 : isIP(host) === 4;

function matches(p: Pattern, host: string, port: number): boolean {
  if (p.port !== 'any' && p.port !== port) return false;
  if (isIpHost(host)) return p.ip === host;
  if (p.ip !== undefined) return false;
  const labels = host.split('.');
  const anyPrefix = p.labels[0] === '**';
  const fixed = anyPrefix ? p.labels.slice(1) : p.labels;
  // `**` stands for one label or more; otherwise the counts are equal.
  if (anyPrefix ? labels.length <= fixed.length : labels.length !== fixed.length) return false;
  const offset = labels.length - fixed.length;
  return fixed.every((label, i) => label === '*' || label === labels[offset + i]);
}

function compile(text: string): Pattern {
  const fail = (why: string): never => {
    throw new AllowedHostsError(`--allowed-hosts: ${JSON.stringify(text)} ${why}`);
  };
  const lower = text.trim().toLowerCase();
  // [v6]:port, [v6], host:port, host
  const bracketed = /^(\[[^\]]*\])(?::([^:]*))?$/.exec(lower);
  const plain = bracketed === null ? /^([^:[\]]+)(?::([^:]*))?$/.exec(lower) : null;
  const m = bracketed ?? plain;
  if (m === null || m[1] === undefined) return fail('is not host, host:port or [IPv6]:port');
  const port = portPattern(m[2], fail);
  const hostText = m[1].endsWith('.') ? m[1].slice(0, -1) : m[1];
  if (!/^(\[[0-9a-f:.]+\]|[\p{L}\p{N}*_.-]+)$/u.test(hostText))
    return fail('has a character no host name has');
  let host: string;
  try {
    host = new URL(`https://${hostText}/`).hostname;
  } catch {
    return fail('is not a host name or IP address');
  }
  if (isIpHost(host)) {
    if (hostText.includes('*')) return fail('mixes a wildcard with an IP address');
    return { text, ip: host, labels: [], port };
  }
  const labels = host.split('.');
  if (labels.some((l) => l === '')) return fail('has an empty label');
  for (const [i, label] of labels.entries()) {
    if (label === '**' && i !== 0) fail('has ** other than as its first label');
    if (label.includes('*') && label !== '*' && label !== '**')
      fail('has * inside a label; a wildcard must be a whole label');
  }
  return { text, ip: undefined, labels, port };
}

function portPattern(text: string | undefined, fail: (why: string) => never): number | 'any' {
  if (text === undefined) return HTTPS_PORT;
  if (text === '*') return 'any';
  const n = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || n < 1 || n > 65_535) return fail('has a port that is not 1-65535 or *');
  return n;
}
