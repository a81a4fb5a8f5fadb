// Where the control-plane binaries are: $BTPCERTS_KUBE_BIN_DIR, else whatever
// hack/build-control-plane.sh prints as its last stdout line (fast when its cache is warm; a cold
// build takes many minutes and shows its progress on stderr).
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;
export type BinaryName = (typeof BINARIES)[number];

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUILD_SCRIPT = join(REPO_ROOT, 'hack', 'build-control-plane.sh');

function runBuildScript(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO_ROOT });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const lastLine = stdout.trimEnd().split('\n').at(-1)?.trim() ?? '';
      if (code === 0 && lastLine !== '') resolve(lastLine);
      else reject(new Error(`${BUILD_SCRIPT} failed (exit code ${code}); see its output above`));
    });
  });
}

async function assertExecutables(binDir: string): Promise<void> {
  const missing: string[] = [];
  for (const name of BINARIES) {
    try {
      await access(join(binDir, name), constants.X_OK);
    } catch {
      missing.push(name);
    }
  }
  if (missing.length > 0) throw new Error(`missing or not executable in ${binDir}: ${missing.join(', ')}`);
}

export async function locateBinDir(): Promise<string> {
  const fromEnv = process.env.BTPCERTS_KUBE_BIN_DIR;
  const binDir = fromEnv !== undefined && fromEnv !== '' ? fromEnv : await runBuildScript();
  await assertExecutables(binDir);
  return binDir;
}

export function binaryPath(binDir: string, name: BinaryName): string {
  return join(binDir, name);
}
