// `npm run control-plane`: a control plane to poke at by hand (kubectl, a locally running
// operator). Installs crds/, prints how to reach it and stays up until Ctrl-C.
import { join } from 'node:path';
import { REPO_ROOT } from './binaries.ts';
import { ControlPlane } from './control-plane.ts';

const log = (line: string): void => console.error(`[control-plane] ${line}`);

const controlPlane = await ControlPlane.start({ log });
let stopping = false;
const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
  if (stopping) {
    // A second Ctrl-C: do not wait; the exit hook SIGKILLs the children and removes the work dir.
    log(`${signal} again: killing`);
    process.exit(130);
  }
  stopping = true;
  log(`${signal}: stopping (Ctrl-C again to kill at once)`);
  try {
    await controlPlane.stop();
    log('stopped, work dir removed');
    process.exit(0);
  } catch (error) {
    log(`stop failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
};
process.on('SIGINT', (signal) => void shutdown(signal));
process.on('SIGTERM', (signal) => void shutdown(signal));

try {
  const crds = await controlPlane.installCRDs(join(REPO_ROOT, 'crds'));
  log(`CRDs established: ${crds.join(', ')}`);
} catch (error) {
  log(`installing CRDs failed: ${error instanceof Error ? error.message : String(error)}`);
  await controlPlane.stop();
  process.exit(1);
}

console.log(
  [
    '',
    `kube-apiserver ${controlPlane.version} at ${controlPlane.server}, ready in ${(controlPlane.startupMs / 1000).toFixed(1)}s`,
    `kubeconfig: ${controlPlane.kubeconfigPath}`,
    `kubectl:    ${controlPlane.kubectlPath}`,
    `logs:       ${controlPlane.workDir}/*.log`,
    '',
    `export KUBECONFIG=${controlPlane.kubeconfigPath}`,
    `alias kubectl=${controlPlane.kubectlPath}`,
    '',
    'Press Ctrl-C to stop and remove everything.',
  ].join('\n'),
);
