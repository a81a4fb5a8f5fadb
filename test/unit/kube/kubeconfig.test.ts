// A kubeconfig that switches off TLS verification of the API server (insecure-skip-tls-verify) is
// refused, by the operator at start and by the kubectl plugin: the operator holds every
// namespace's keys, and a token sent to an unverified server is a token given away.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError, Client } from '../../../src/cli/client.ts';
import { keptAlive, loadKubeConfig } from '../../../src/kube/config.ts';

function kubeconfig(cluster: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
  const path = join(dir, 'config');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: c',
      '  cluster:',
      '    server: https://127.0.0.1:6443',
      ...cluster.split('\n').map((l) => `    ${l}`),
      'users:',
      '- name: u',
      '  user:',
      '    token: not-a-real-token',
      'contexts:',
      '- name: ctx',
      '  context: {cluster: c, user: u}',
      'current-context: ctx',
      '',
    ].join('\n'),
  );
  return path;
}

describe('a kubeconfig with insecure-skip-tls-verify', () => {
  const insecure = kubeconfig('insecure-skip-tls-verify: true');

  it('is refused by the operator at start, with what to do instead', () => {
    expect(() => loadKubeConfig({ kubeconfigPath: insecure })).toThrow(
      /cluster c .*insecure-skip-tls-verify.*certificate-authority/,
    );
  });

  it('is refused by the kubectl plugin', () => {
    const connect = () =>
      new Client({ kubeconfig: insecure, context: undefined, namespace: 'default', allNamespaces: false });
    expect(connect).toThrow(CliError);
    expect(connect).toThrow(/insecure-skip-tls-verify/);
  });

  it('cannot reach a kept-alive pool that skips verification either', () => {
    // Built from options, as tests and embedders do, not from a file.
    const kc = loadKubeConfig({ kubeconfigPath: kubeconfig('certificate-authority-data: ""') });
    kc.clusters[0] = { ...kc.clusters[0], name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: true };
    expect(() => keptAlive(kc)).toThrow(/insecure-skip-tls-verify/);
  });

  it('a verifying kubeconfig loads', () => {
    expect(
      loadKubeConfig({ kubeconfigPath: kubeconfig('certificate-authority-data: ""') }).getCurrentCluster()
        ?.server,
    ).toBe('https://127.0.0.1:6443');
  });
});
