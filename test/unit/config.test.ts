import { describe, expect, it } from 'vitest';
import { DEFAULT_ALLOWED_HOSTS } from '../../src/btp/allowed-hosts.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('has defaults', () => {
    expect(loadConfig([], {})).toMatchObject({
      namespaces: [],
      logLevel: 'info',
      concurrency: 16,
      resyncMs: 600_000,
      healthPort: 8081,
      metricsPort: undefined,
      defaultSmCredentials: undefined,
      tokenCheckRate: 10,
      tokenCheckTimeoutMs: 30_000,
      defaultSmCredentialsPolicy: undefined,
      maxBindingsPerCertificate: 3,
    });
  });
  it('reads --metrics-port or METRICS_PORT, and rejects a port out of range', () => {
    expect(loadConfig(['--metrics-port', '8080'], {}).metricsPort).toBe(8080);
    expect(loadConfig([], { METRICS_PORT: '9090' }).metricsPort).toBe(9090);
    expect(loadConfig(['--metrics-port', '0'], {}).metricsPort).toBe(0);
    expect(() => loadConfig(['--metrics-port', '70000'], {})).toThrow(
      '--metrics-port must be a whole number from 0 to 65535',
    );
  });
  it('reads the default credentials policy from its file, and the binding limit', () => {
    const files: Record<string, string> = {
      '/etc/policy.json': '{"namespaces": {"team-a": {"instanceNames": ["xsuaa-a"]}}}',
    };
    const c = loadConfig(
      ['--default-sm-credentials', 'ops/sm', '--default-sm-credentials-policy', '/etc/policy.json'],
      { MAX_BINDINGS_PER_CERTIFICATE: '5' },
      (path) => files[path] ?? '',
    );
    expect(c.defaultSmCredentialsPolicy?.namespaces.get('team-a')?.instanceNames.has('xsuaa-a')).toBe(true);
    expect(c.maxBindingsPerCertificate).toBe(5);
  });
  it.each([
    [[], 'needs --default-sm-credentials', '{}'],
    [
      ['--default-sm-credentials', 'ops/sm'],
      '--default-sm-credentials-policy /p is not JSON',
      'namespaces: {}',
    ],
    [
      ['--default-sm-credentials', 'ops/sm'],
      '--default-sm-credentials-policy /p namespaces.team-a allows no instance',
      '{"namespaces": {"team-a": {}}}',
    ],
  ])('rejects the policy with %j: %s', (argv, message, text) => {
    const load = () => loadConfig([...argv, '--default-sm-credentials-policy', '/p'], {}, () => text);
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });
  it('says which policy file cannot be read, without its content', () => {
    const load = () =>
      loadConfig(
        ['--default-sm-credentials', 'ops/sm', '--default-sm-credentials-policy', '/nowhere'],
        {},
        () => {
          throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
        },
      );
    expect(load).toThrow('--default-sm-credentials-policy /nowhere cannot be read (ENOENT)');
  });
  it('leader election: off by default; on with a namespace from the flag or $POD_NAMESPACE', () => {
    expect(loadConfig([], {}).leaderElection).toBeUndefined();
    expect(loadConfig(['--leader-elect'], { POD_NAMESPACE: 'btp-cert-operator' }).leaderElection).toEqual({
      namespace: 'btp-cert-operator',
      name: 'btp-cert-operator',
    });
    expect(
      loadConfig([], { LEADER_ELECT: 'true', POD_NAMESPACE: 'ops', LEADER_ELECTION_ID: 'certs' })
        .leaderElection,
    ).toEqual({ namespace: 'ops', name: 'certs' });
  });
  it('workload restarts: off by default; on with the flag or WORKLOAD_RESTARTS=true', () => {
    expect(loadConfig([], {}).workloadRestarts).toBe(false);
    expect(loadConfig([], { WORKLOAD_RESTARTS: 'yes' }).workloadRestarts).toBe(false);
    expect(loadConfig(['--workload-restarts'], {}).workloadRestarts).toBe(true);
    expect(loadConfig([], { WORKLOAD_RESTARTS: 'true' }).workloadRestarts).toBe(true);
  });
  it('--allowed-hosts: the public BTP endpoints by default; the flag, else ALLOWED_HOSTS; bad patterns refused', () => {
    const allows = (config: ReturnType<typeof loadConfig>, url: string) =>
      config.allowedHosts.allows(new URL(url));
    const byDefault = loadConfig([], {});
    expect(byDefault.allowedHosts.patterns).toEqual(DEFAULT_ALLOWED_HOSTS);
    expect(allows(byDefault, 'https://sub.authentication.cert.eu10.hana.ondemand.com')).toBe(true);
    expect(allows(byDefault, 'https://127.0.0.1')).toBe(false);
    const fromEnv = loadConfig([], { ALLOWED_HOSTS: '127.0.0.1:*' });
    expect(allows(fromEnv, 'https://127.0.0.1:8443')).toBe(true);
    expect(allows(fromEnv, 'https://sub.authentication.cert.eu10.hana.ondemand.com')).toBe(false);
    const fromFlag = loadConfig(['--allowed-hosts', '*.example.com'], { ALLOWED_HOSTS: '127.0.0.1:*' });
    expect(allows(fromFlag, 'https://a.example.com')).toBe(true);
    expect(allows(fromFlag, 'https://127.0.0.1:8443')).toBe(false);
    expect(loadConfig(['--allowed-hosts', ''], {}).allowedHosts.patterns).toEqual([]);
    expect(() => loadConfig(['--allowed-hosts', 'foo*.example.com'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--allowed-hosts', 'foo*.example.com'], {})).toThrow(
      /--allowed-hosts: "foo\*\.example\.com" has \* inside a label/,
    );
  });
  it('reads the token check limits', () => {
    expect(loadConfig(['--token-check-rate', '20'], { TOKEN_CHECK_TIMEOUT_SECONDS: '5' })).toMatchObject({
      tokenCheckRate: 20,
      tokenCheckTimeoutMs: 5_000,
    });
  });
  it('reads flags before the environment', () => {
    const c = loadConfig(['--namespaces', 'a, b', '--concurrency=8'], {
      CONCURRENCY: '2',
      LOG_LEVEL: 'debug',
    });
    expect(c).toMatchObject({ namespaces: ['a', 'b'], concurrency: 8, logLevel: 'debug' });
  });
  it('parses the default SM credentials as namespace/name', () => {
    expect(
      loadConfig(['--default-sm-credentials', 'kyma-system/sap-btp-manager'], {}).defaultSmCredentials,
    ).toEqual({
      namespace: 'kyma-system',
      name: 'sap-btp-manager',
    });
  });
  it.each([
    [['--concurrency', '0'], '--concurrency must be a whole number from 1 to 64'],
    [['--log-level', 'loud'], '--log-level must be one of'],
    [['--default-sm-credentials', 'just-a-name'], 'must be namespace/name'],
    [['--unknown'], "Unknown option '--unknown'"],
    // XSUAA allows 60/s per subaccount: the operator's own limit stays below.
    [['--token-check-rate', '31'], '--token-check-rate must be a whole number from 1 to 30'],
    [['--leader-elect'], '--leader-elect needs --leader-election-namespace or $POD_NAMESPACE'],
    [['--token-check-timeout', '0'], '--token-check-timeout must be a whole number from 1 to 300'],
    [
      ['--max-bindings-per-certificate', '1'],
      '--max-bindings-per-certificate must be a whole number from 2 to 20',
    ],
  ])('rejects %j with a clear message', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });
});
