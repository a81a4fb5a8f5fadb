import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('has defaults', () => {
    expect(loadConfig([], {})).toMatchObject({
      namespaces: [],
      logLevel: 'info',
      concurrency: 4,
      resyncMs: 600_000,
      healthPort: 8081,
      defaultSmCredentials: undefined,
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
  ])('rejects %j with a clear message', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });
});
