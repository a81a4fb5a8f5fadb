// The kubectl plugin (`kubectl btpcert`) as a user runs it: a child process of the project's Node
// against the real control plane, with the operator running in this process (so renew and
// check-token have someone to answer them) and BTP played by the simulator. Each command, each
// exit code: 0 done, 1 an error in kubectl's words, 2 the answer is no.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates, decoded, smSource } from '../support/btpcert.ts';
import { REPO_ROOT } from '../support/control-plane/binaries.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { terminalControls } from '../support/terminal.ts';
import { buildHierarchy, concat, days, keyPem, testKey } from '../unit/pki/fixtures.ts';

const kubeconfig = inject('kubeconfig');
const kc = kubeConfigFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'btpcert-plugin');
/** A namespace the operator does not watch: requests there are never handled. */
const unwatched = testNamespace(kc, 'btpcert-plugin-idle');
const ENTRY = join(REPO_ROOT, 'src/cli/kubectl-btpcert.ts');

let sim: Simulator;
let operator: RunningOperator;
let certs: Certificates;

type Run = { readonly code: number; readonly stdout: string; readonly stderr: string };

/** Runs the plugin's entry with the project's Node, as `kubectl btpcert ARGS` would. */
function run(
  args: readonly string[],
  options: { file?: string; env?: NodeJS.ProcessEnv; withKubeconfig?: boolean } = {},
): Promise<Run> {
  const argv = options.withKubeconfig === false ? [...args] : [...args, '--kubeconfig', kubeconfig];
  const [file, fileArgs] =
    options.file === undefined ? [process.execPath, [ENTRY, ...argv]] : [options.file, argv];
  return new Promise((resolve) => {
    execFile(
      file,
      fileArgs,
      { env: options.env ?? { PATH: process.env.PATH ?? '' }, timeout: 110_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const plugin = (...args: string[]) => run([...args, '-n', ns]);

/** Exit 0 and nothing on stderr. */
function expectDone(result: Pick<Run, 'code' | 'stderr'>): void {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A "Label:   value" line of human output, indented or not. */
const line = (label: string, value: string | undefined, whole = true) =>
  new RegExp(`^ *${escapeRegExp(label)}: +${escapeRegExp(value ?? '<undefined>')}${whole ? '$' : ''}`, 'm');

/** Everything of a key that could leak: its PEM and each base64 line of it. */
function keyLines(pem: string): string[] {
  return pem.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
}

function expectNoKeyMaterial(output: string, keyPemText: string): void {
  expect(output).not.toContain('PRIVATE KEY');
  // A key that was not read (no tls.key) would make the loop below check nothing.
  const lines = keyLines(keyPemText);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(output).not.toContain(line);
}

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 8 } });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
  });
  // Enough bindings that a renewal is never held back by the retired ones of earlier tests.
  operator = startOperator(kc, {
    namespaces: [ns],
    btpCaPem: sim.caBundlePem,
    maxBindingsPerCertificate: 20,
  });
  certs = new Certificates(kc, ns);
  // A serviceManager source (renewable, its token check passes) and a Secret source whose
  // certurl is outside the allowed hosts (its token check fails HostNotAllowed).
  const { fields } = bindingCredentials();
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'plain-src' }, stringData: fields },
  });
  await certs.create('sm', { secretName: 'sm-tls', source: smSource() }, { team: 'a' });
  await certs.create(
    'plain',
    { secretName: 'plain-tls', source: { secret: { name: 'plain-src' } } },
    { team: 'a' },
  );
  await certs.waitForCondition('sm', 'Ready', { status: 'True', reason: 'Issued' }, 90_000);
  await certs.waitForCondition('plain', 'Ready', { status: 'False', reason: 'HostNotAllowed' }, 90_000);
});
afterAll(async () => {
  await operator?.stop();
  await sim?.stop();
});

describe('kubectl btpcert status', () => {
  it('shows conditions, the certificate, bindings, the token check and Events; exit 0', async () => {
    const cert = await certs.get('sm');
    const { code, stdout, stderr } = await plugin('status', 'sm');
    expectDone({ code, stderr });
    expect(stdout).toMatch(/^Name: +sm$/m);
    expect(stdout).toMatch(/^ {2}Ready +True +Issued /m);
    expect(stdout).toMatch(/^ {2}TokenReady +True +TokenIssued /m);
    expect(stdout).toMatch(line('Subject', cert.status?.subject));
    expect(stdout).toMatch(line('SHA-256', cert.status?.sha256Fingerprint));
    expect(stdout).toMatch(line('Not after', `${cert.status?.notAfter} (in `, false));
    expect(stdout).toMatch(new RegExp(`^ {2}current +${cert.status?.binding?.name} +1 `, 'm'));
    expect(stdout).toMatch(line('Endpoint', cert.status?.token?.endpoint));
    expect(stdout).toMatch(/^Events:\n {2}TYPE +REASON/m);
    expect(stdout).toMatch(/^ {2}Normal +Issued /m);
    expectNoKeyMaterial(stdout, decoded(await certs.secret('sm-tls'), 'tls.key') ?? '');
  });

  it('prints what a namespace user wrote without terminal control characters', async () => {
    // Annotations are the user's to write; renew-requested-at is shown by status.
    await certs.annotate('plain', { 'btpcerts.io/renew-requested-at': '\u001b]0;owned\u0007\r\u001b[2Kx' });
    const { code, stdout } = await plugin('status', 'plain');
    expect(code).toBe(0);
    expect(stdout).toContain('Requested:  \\u001b]0;owned\\u0007\\r\\u001b[2Kx (not handled yet)');
    expect(terminalControls(stdout)).toEqual([]);
  });

  it('prints the same view as JSON and as YAML', async () => {
    const json = await plugin('status', 'sm', '-o', 'json');
    const yaml = await plugin('status', 'sm', '-oyaml');
    expect([json.code, yaml.code]).toEqual([0, 0]);
    const view = JSON.parse(json.stdout);
    expect(view).toMatchObject({
      namespace: ns,
      name: 'sm',
      secretName: 'sm-tls',
      certificate: { sha256Fingerprint: (await certs.get('sm')).status?.sha256Fingerprint },
      bindings: { current: { revision: 1 } },
      token: { check: true },
    });
    expect(view.conditions.map((c: { type: string }) => c.type).slice(0, 2)).toEqual(['Ready', 'TokenReady']);
    const fromYaml = load(yaml.stdout) as { events: unknown[] };
    // Events may be counted up between the two runs; everything else is the same.
    expect({ ...fromYaml, events: [] }).toEqual({ ...view, events: [] });
  });

  it('says NotFound the way kubectl does; exit 1', async () => {
    const { code, stdout, stderr } = await plugin('status', 'nope');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('Error from server (NotFound): btpcertificates.btpcerts.io "nope" not found\n');
  });

  it('refuses bad usage; exit 1', async () => {
    const unknown = await plugin('status', 'sm', '--bogus');
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toBe("error: unknown flag: --bogus\nSee 'kubectl btpcert --help' for usage.\n");
    const format = await plugin('status', 'sm', '-o', 'wide');
    expect(format.code).toBe(1);
    expect(format.stderr).toContain('allowed formats are: json,yaml');
    expect((await plugin('status', 'sm', '-A')).stderr).toContain(
      'a resource cannot be retrieved by name across all namespaces',
    );
  });

  it('honours --context and the context namespace, and says so when it cannot connect', async () => {
    // Two contexts: the current one points at a port nothing listens on; "real" is the test
    // control plane with this file's namespace as its default.
    const real = kubeConfigFromFile(kubeconfig);
    const context = real.getContextObject(real.getCurrentContext());
    const cluster = real.getCurrentCluster();
    const user = real.getCurrentUser();
    if (!context || !cluster || !user) throw new Error('the test kubeconfig has no current context');
    const file = join(mkdtempSync(join(tmpdir(), 'btpcert-plugin-')), 'kubeconfig');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'real',
            cluster: {
              server: cluster.server,
              'certificate-authority-data': b64(cluster.caData, cluster.caFile),
            },
          },
          { name: 'nowhere', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': false } },
        ],
        users: [
          {
            name: 'admin',
            user: {
              'client-certificate-data': b64(user.certData, user.certFile),
              'client-key-data': b64(user.keyData, user.keyFile),
              ...(user.token ? { token: user.token } : {}),
            },
          },
        ],
        contexts: [
          { name: 'real', context: { cluster: 'real', user: 'admin', namespace: ns } },
          { name: 'nowhere', context: { cluster: 'nowhere', user: 'admin' } },
        ],
        'current-context': 'nowhere',
      }),
    );
    const viaContext = await run(['status', 'sm', '--kubeconfig', file, '--context', 'real'], {
      withKubeconfig: false,
    });
    expectDone(viaContext);
    expect(viaContext.stdout).toMatch(new RegExp(`^Namespace: +${ns}$`, 'm'));
    const unreachable = await run(['status', 'sm', '--kubeconfig', file], { withKubeconfig: false });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^Unable to connect to the server: /);
    const noSuchContext = await run(['status', 'sm', '--kubeconfig', file, '--context', 'other'], {
      withKubeconfig: false,
    });
    expect(noSuchContext).toMatchObject({ code: 1 });
    expect(noSuchContext.stderr).toBe('error: context was not found for specified context: other\n');
  });

  it('runs as `kubectl btpcert` from PATH, with KUBECONFIG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btpcert-path-'));
    symlinkSync(join(REPO_ROOT, 'bin/kubectl-btpcert'), join(dir, 'kubectl-btpcert'));
    const env = {
      PATH: [dir, dirname(process.execPath), inject('kubeBinDir'), process.env.PATH ?? ''].join(':'),
      KUBECONFIG: kubeconfig,
      HOME: dir,
    };
    const kubectl = join(inject('kubeBinDir'), 'kubectl');
    const listed = await run(['plugin', 'list'], { file: kubectl, env, withKubeconfig: false });
    expect(listed.stdout).toContain(join(dir, 'kubectl-btpcert'));
    const status = await run(['btpcert', 'status', 'sm', '-n', ns], {
      file: kubectl,
      env,
      withKubeconfig: false,
    });
    expectDone(status);
    expect(status.stdout).toMatch(/^ {2}Ready +True +Issued /m);
    const missing = await run(['btpcert', 'status', 'nope', '-n', ns], {
      file: kubectl,
      env,
      withKubeconfig: false,
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'Error from server (NotFound): btpcertificates.btpcerts.io "nope" not found\n',
    );
  });
});

/** A kubeconfig's inline data (already base64) or the file it names, as inline data. */
const b64 = (data: string | undefined, file: string | undefined) =>
  data ?? (file === undefined ? '' : readFileSync(file).toString('base64'));

describe('kubectl btpcert renew', () => {
  it('renews a serviceManager source and waits for the new binding; exit 0', async () => {
    const before = await certs.get('sm');
    const { code, stdout, stderr } = await plugin('renew', 'sm');
    expectDone({ code, stderr });
    const after = await certs.get('sm');
    const value = after.metadata.annotations?.['btpcerts.io/renew-requested-at'];
    expect(after.status?.lastRenewRequest).toBe(value);
    expect(after.status?.binding?.revision).toBe((before.status?.binding?.revision ?? 0) + 1);
    expect(stdout).toBe(
      `btpcertificate.btpcerts.io/sm renewal requested (btpcerts.io/renew-requested-at=${value})\n` +
        `btpcertificate.btpcerts.io/sm renewed: binding ${after.status?.binding?.name} (revision ${after.status?.binding?.revision}) is current; ` +
        `certificate ${after.status?.sha256Fingerprint}, not after ${after.status?.notAfter}\n`,
    );
    expect(after.status?.sha256Fingerprint).not.toBe(before.status?.sha256Fingerprint);
  });

  it('refuses a source that cannot renew on request, and sets nothing; exit 1', async () => {
    const before = await certs.get('plain');
    const { code, stdout, stderr } = await plugin('renew', 'plain');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      'btpcertificates.btpcerts.io "plain": btpcerts.io/renew-requested-at is acted on for serviceManager sources only',
    );
    expect((await certs.get('plain')).metadata.annotations).toEqual(before.metadata.annotations);
  });

  it('renews what a selector picks, skips what cannot renew, and prints JSON', async () => {
    const { code, stdout, stderr } = await plugin('renew', '-l', 'team=a', '-o', 'json');
    expectDone({ code, stderr });
    const { items } = JSON.parse(stdout) as { items: { name: string; outcome: string; reason?: string }[] };
    expect(items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'plain', outcome: 'Skipped' }),
        expect.objectContaining({ name: 'sm', outcome: 'Succeeded', reason: 'Renewed' }),
      ]),
    );
    expect(items).toHaveLength(2);
  });

  it('reports a renewal that failed; exit 2', async () => {
    const fault = sim.injectFault({ kind: 'status', route: 'sm.createBinding', status: 400, times: 1 });
    try {
      const before = await certs.get('sm');
      const { code, stdout } = await plugin('renew', 'sm');
      expect(code).toBe(2);
      expect(stdout).toMatch(/^btpcertificate\.btpcerts\.io\/sm renewal failed \(InvalidParameters\): /m);
      expect(stdout).toContain('the operator tries again at ');
      expect((await certs.get('sm')).status?.binding?.id).toBe(before.status?.binding?.id);
      // The failure backs off (8 s at least): a request now waits for it, and says so.
      const held = await plugin('renew', 'sm', '--timeout', '1s');
      expect(held.code).toBe(1);
      expect(held.stderr).toMatch(
        /^btpcertificates\.btpcerts\.io "sm": a failed attempt holds the next one until \S+ \(status\.nextRetryTime\); waiting for it\nerror: .* timed out waiting/,
      );
    } finally {
      sim.removeFault(fault);
    }
  });

  it('with --wait=false only asks; exit 0', async () => {
    const { code, stdout } = await plugin('renew', 'sm', '--wait=false', '-o', 'yaml');
    expect(code).toBe(0);
    const { items } = load(stdout) as { items: { outcome: string; value: string }[] };
    expect(items).toEqual([expect.objectContaining({ outcome: 'Requested' })]);
    expect((await certs.get('sm')).metadata.annotations?.['btpcerts.io/renew-requested-at']).toBe(
      items[0]?.value,
    );
    // The operator acts on it all the same (after the backoff of the failure before): no renewal
    // is left to change the Secret under the tests that follow.
    await waitFor(async () => (await certs.get('sm')).status?.lastRenewRequest === items[0]?.value, {
      description: 'the request made without --wait handled',
      timeoutMs: 90_000,
    });
  });

  it('gives up after --timeout when nobody handles the request; exit 1', async () => {
    const idle = new Certificates(kc, unwatched);
    await idle.create('lonely', { secretName: 'lonely-tls', source: smSource() });
    const { code, stderr } = await run(['renew', 'lonely', '-n', unwatched, '--timeout', '3s']);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^error: btpcertificate\.btpcerts\.io\/lonely timed out waiting for the operator to handle btpcerts\.io\/renew-requested-at=\S+\n$/,
    );
  });

  it('says NotFound for a missing name; exit 1', async () => {
    const { code, stderr } = await plugin('renew', 'nope');
    expect(code).toBe(1);
    expect(stderr).toBe('Error from server (NotFound): btpcertificates.btpcerts.io "nope" not found\n');
  });
});

describe('kubectl btpcert check-token', () => {
  it('has the token checked now and prints the outcome; exit 0', async () => {
    const before = await certs.get('sm');
    const { code, stdout, stderr } = await plugin('check-token', 'sm');
    expectDone({ code, stderr });
    const after = await certs.get('sm');
    expect(after.status?.token?.lastCheckRequest).toBe(
      after.metadata.annotations?.['btpcerts.io/check-token-requested-at'],
    );
    expect(after.status?.token?.lastCheckTime).not.toBe(before.status?.token?.lastCheckTime);
    expect(stdout).toMatch(
      /^btpcertificate\.btpcerts\.io\/sm token check passed \(TokenIssued\): a token was fetched/m,
    );
  });

  it('reports a failing check with its reason; exit 2', async () => {
    const { code, stdout } = await plugin('check-token', '--all');
    expect(code).toBe(2);
    expect(stdout).toMatch(/^btpcertificate\.btpcerts\.io\/plain token check failed \(HostNotAllowed\): /m);
    expect(stdout).toMatch(/^btpcertificate\.btpcerts\.io\/sm token check passed \(TokenIssued\)/m);
  });

  it('refuses when the token check is off; exit 1', async () => {
    await certs.create('nocheck', {
      secretName: 'nocheck-tls',
      source: { secret: { name: 'plain-src' } },
      token: { check: false },
    });
    const { code, stderr } = await plugin('check-token', 'nocheck');
    expect(code).toBe(1);
    expect(stderr).toBe(
      'error: btpcertificates.btpcerts.io "nocheck": the token check is off (spec.token.check: false)\n',
    );
  });
});

describe('kubectl btpcert inspect secret', () => {
  it('decodes the Secret the operator wrote: chain, fingerprints, key match; exit 0', async () => {
    const cert = await certs.get('sm');
    const { code, stdout, stderr } = await plugin('inspect', 'secret', 'sm-tls');
    expectDone({ code, stderr });
    expect(stdout).toMatch(/^Valid: +yes/m);
    expect(stdout).toMatch(/^Certificates \(tls\.crt, \d\): leaf first$/m);
    expect(stdout).toContain(`  [1] ${cert.status?.subject}`);
    expect(stdout).toMatch(line('SHA-256', cert.status?.sha256Fingerprint));
    expect(stdout).toMatch(/^Key matches leaf: +yes$/m);
    expect(stdout).toMatch(/^keystore\.p12: +absent$/m);
    expectNoKeyMaterial(stdout, decoded(await certs.secret('sm-tls'), 'tls.key') ?? '');
    const json = JSON.parse((await plugin('inspect', 'secret', 'sm-tls', '-o', 'json')).stdout);
    expect(json).toMatchObject({ valid: true, chainOrder: 'leaf first', keyMatchesLeaf: true });
  });

  it('exits 2 when the pair is invalid, and shows why', async () => {
    const h = buildHierarchy({ leaf: { notBefore: days(-1, new Date()), notAfter: days(10, new Date()) } });
    const other = keyPem(testKey('other'), 'pkcs8');
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'mixed-tls' },
        type: 'kubernetes.io/tls',
        // Out of order (intermediate first) and with someone else's key.
        stringData: { 'tls.crt': concat(h.intermediate, h.leaf), 'tls.key': other },
      },
    });
    const { code, stdout } = await plugin('inspect', 'secret', 'mixed-tls');
    expect(code).toBe(2);
    expect(stdout).toMatch(/^Valid: +NO$/m);
    expect(stdout).toMatch(/^Problem: +KeyMismatch: the private key does not match the leaf certificate/m);
    expect(stdout).toMatch(/^Certificates \(tls\.crt, 2\): out of order, the chain is blocks 2, 1$/m);
    expect(stdout).toMatch(/^Key matches leaf: +NO$/m);
    expectNoKeyMaterial(stdout, other);
  });

  it('says NotFound for a missing Secret; exit 1', async () => {
    const { code, stderr } = await plugin('inspect', 'secret', 'nope');
    expect(code).toBe(1);
    expect(stderr).toBe('Error from server (NotFound): secrets "nope" not found\n');
  });
});
