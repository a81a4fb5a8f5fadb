// The admin kubeconfig of a test control plane: client-certificate auth (O=system:masters)
// against the harness CA, credentials embedded so the file works on its own (kubectl, client-node).

export interface KubeconfigInput {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly caCertPem: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
  /** Cluster, user and context name. */
  readonly name?: string;
}

function base64(pem: string): string {
  return Buffer.from(pem, 'utf8').toString('base64');
}

/** YAML text of a kubeconfig with one cluster, one user and one (current) context. */
export function renderKubeconfig(input: KubeconfigInput): string {
  const name = input.name ?? 'btpcerts-test';
  return [
    'apiVersion: v1',
    'kind: Config',
    'preferences: {}',
    'clusters:',
    `  - name: ${name}`,
    '    cluster:',
    `      server: ${input.server}`,
    `      certificate-authority-data: ${base64(input.caCertPem)}`,
    'users:',
    `  - name: ${name}-admin`,
    '    user:',
    `      client-certificate-data: ${base64(input.clientCertPem)}`,
    `      client-key-data: ${base64(input.clientKeyPem)}`,
    'contexts:',
    `  - name: ${name}`,
    '    context:',
    `      cluster: ${name}`,
    `      user: ${name}-admin`,
    `current-context: ${name}`,
    '',
  ].join('\n');
}
