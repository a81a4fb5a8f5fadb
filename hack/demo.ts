// `make demo`: the operator's main job, end to end on this machine. A real control plane, the BTP
// simulator, and the operator as its own process: an x509 binding is issued by the simulator's
// Service Manager, its service key stored in a Secret, and a BTPCertificate turns it into a
// kubernetes.io/tls Secret. Stays up for kubectl until Ctrl-C (or exits when --once is given).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { createX509Binding, smClient } from '../test/simulator/helpers.ts';
import { startSimulator } from '../test/support/btp-simulator/simulator.ts';
import { REPO_ROOT } from '../test/support/control-plane/binaries.ts';
import { ControlPlane } from '../test/support/control-plane/control-plane.ts';
import { waitFor } from '../test/support/control-plane/wait.ts';

const once = process.argv.includes('--once');
const say = (line: string) => console.log(`[demo] ${line}`);

const cp = await ControlPlane.start({ log: (l) => console.error(`[control-plane] ${l}`) });
await cp.installCRDs(join(REPO_ROOT, 'crds'));
const sim = await startSimulator();
let operator: ChildProcess | undefined;
let stopping = false;
const stop = async (code: number) => {
  if (stopping) process.exit(code);
  stopping = true;
  operator?.kill('SIGTERM');
  await sim.stop();
  await cp.stop();
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  say(`kube-apiserver ${cp.version} ready; BTP simulator: Service Manager ${sim.smUrl}`);
  const kc = cp.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  // What a BTP admin does today by hand: create an x509 service key and put it into a Secret.
  const sm = await smClient(sim);
  const binding = await createX509Binding(sm, sim.instance('xsuaa-application').id, 'orders-key');
  await sm.close();
  await core.createNamespace({ body: { metadata: { name: 'demo' } } });
  await core.createNamespacedSecret({
    namespace: 'demo',
    body: {
      metadata: { name: 'orders-service-key' },
      stringData: { 'key.json': JSON.stringify(binding.credentials) },
    },
  });
  await custom.createNamespacedCustomObject({
    group: 'btpcerts.io',
    version: 'v1alpha1',
    plural: 'btpcertificates',
    namespace: 'demo',
    body: {
      apiVersion: 'btpcerts.io/v1alpha1',
      kind: 'BTPCertificate',
      metadata: { name: 'orders' },
      spec: {
        secretName: 'orders-tls',
        source: { secret: { name: 'orders-service-key', key: 'key.json' } },
        secretTemplate: { data: { tokenurl: '{{certurl}}/oauth/token' } },
      },
    },
  });
  say('created Secret demo/orders-service-key (an x509 service key) and BTPCertificate demo/orders');

  // The operator trusts the simulator's CA as it would a private landscape's: --btp-ca-file.
  const caFile = join(mkdtempSync(join(tmpdir(), 'btpcerts-demo-')), 'btp-ca.pem');
  writeFileSync(caFile, sim.caBundlePem);
  operator = spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'src/main.ts'),
      '--kubeconfig',
      cp.kubeconfigPath,
      '--health-port',
      '0',
      '--btp-ca-file',
      caFile,
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  say(`operator started (pid ${operator.pid}); its JSON log follows`);

  await waitFor(
    async () => {
      const cert = (await custom.getNamespacedCustomObject({
        group: 'btpcerts.io',
        version: 'v1alpha1',
        plural: 'btpcertificates',
        namespace: 'demo',
        name: 'orders',
      })) as { status?: { conditions?: { type: string; status: string }[] } };
      const ok = (type: string) =>
        cert.status?.conditions?.some((c) => c.type === type && c.status === 'True');
      return ok('Ready') && ok('TokenReady');
    },
    { description: 'BTPCertificate demo/orders Ready, with a token fetched over mTLS', timeoutMs: 60_000 },
  );
  const kubectl = (...args: string[]) =>
    execFileSync(cp.kubectlPath, ['--kubeconfig', cp.kubeconfigPath, ...args], { encoding: 'utf8' });
  console.log(`\n$ kubectl get btpcert -n demo\n${kubectl('get', 'btpcert', '-n', 'demo')}`);
  console.log(
    `$ kubectl get secret orders-tls -n demo\n${kubectl('get', 'secret', 'orders-tls', '-n', 'demo')}`,
  );
  const keys = Object.keys(
    (await core.readNamespacedSecret({ namespace: 'demo', name: 'orders-tls' })).data ?? {},
  );
  console.log(`keys of Secret demo/orders-tls: ${keys.sort().join(', ')}\n`);
  if (once) await stop(0);
  console.log(
    [
      'Try it:',
      `  export KUBECONFIG=${cp.kubeconfigPath}`,
      `  alias kubectl=${cp.kubectlPath}`,
      '  kubectl get btpcert -A -o wide',
      '  kubectl describe btpcert -n demo orders',
      '  kubectl delete secret -n demo orders-tls     # restored at once',
      '  kubectl annotate btpcert -n demo orders btpcerts.io/check-token-requested-at=now --overwrite',
      '',
      'Ctrl-C stops the operator, the simulator and the control plane.',
    ].join('\n'),
  );
} catch (e) {
  console.error(`[demo] failed: ${e instanceof Error ? e.message : String(e)}`);
  await stop(1);
}
