// The shipped RBAC: the namespaced variant grants in one namespace exactly what the cluster-wide
// ClusterRole grants everywhere, and the base grants nothing on workloads (that is the optional
// component's).
import { readFileSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

type Rbac = { kind: string; metadata: { name: string }; rules?: { apiGroups: string[] }[] };
const read = (path: string) =>
  loadAllYaml(readFileSync(new URL(`../../deploy/${path}`, import.meta.url), 'utf8')) as Rbac[];
const named = (docs: Rbac[], kind: string, name: string) =>
  docs.find((d) => d.kind === kind && d.metadata.name === name);

describe('deploy/ RBAC', () => {
  const base = read('rbac.yaml');

  it('the namespaced Role holds the rules of the ClusterRole', () => {
    const role = named(read('components/namespaced/role.yaml'), 'Role', 'btp-cert-operator');
    const clusterRole = named(base, 'ClusterRole', 'btp-cert-operator');
    expect(clusterRole?.rules).toBeDefined();
    expect(role?.rules).toEqual(clusterRole?.rules);
  });

  it('grants nothing on workloads without the workload-restarts component', () => {
    const groups = base.flatMap((d) => d.rules ?? []).flatMap((r) => r.apiGroups);
    expect(groups).not.toContain('apps');
    const component = named(
      read('components/workload-restarts/rbac.yaml'),
      'ClusterRole',
      'btp-cert-operator-workload-restarts',
    );
    expect(component?.rules?.flatMap((r) => r.apiGroups)).toEqual(['apps']);
  });
});
