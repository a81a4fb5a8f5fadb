// The plugin's one door to the API server (client-node), with kubectl's rules for where to connect
// (--kubeconfig, KUBECONFIG, ~/.kube/config; --context) and which namespace (-n, the context's,
// "default"), and kubectl's wording for what goes wrong.

import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { parseBTPCertificate } from '../api/parse.ts';
import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { BTPCertificate } from '../api/types.ts';
import { keptAlive, refuseUnverifiedTls } from '../kube/config.ts';
import { isRecord } from '../runtime/is-record.ts';
import type { Connection } from './args.ts';

/** An error to print as it is, and the exit code that goes with it. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

export const RESOURCE = `${PLURAL}.${GROUP}`;
const G = { group: GROUP, version: VERSION, plural: PLURAL } as const;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** An Event about a BTPCertificate, as `status` shows it. */
export type EventView = {
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  readonly firstTimestamp: string | undefined;
  readonly lastTimestamp: string | undefined;
};

/** A Secret's data, decoded; nothing of it is ever printed as it is. */
export type SecretView = {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  readonly data: Readonly<Record<string, Buffer>>;
};

/** kubectl's wording: `Error from server (NotFound): btpcertificates.btpcerts.io "x" not found`. */
export function describeApiError(e: unknown): CliError {
  if (e instanceof ApiException) {
    const body: unknown = typeof e.body === 'string' ? safeJson(e.body) : e.body;
    const reason = isRecord(body) && typeof body.reason === 'string' ? body.reason : `HTTP ${e.code}`;
    const message = isRecord(body) && typeof body.message === 'string' ? body.message : `HTTP ${e.code}`;
    return new CliError(`Error from server (${reason}): ${message}`);
  }
  if (e instanceof CliError) return e;
  return new CliError(`Unable to connect to the server: ${causes(e)}`);
}

/** "fetch failed: connect ECONNREFUSED 127.0.0.1:1": an error and its causes, messages only. */
function causes(e: unknown): string {
  const messages: string[] = [];
  for (let at: unknown = e; at !== undefined && messages.length < 4; ) {
    if (!(at instanceof Error)) {
      messages.push(String(at));
      break;
    }
    if (at.message !== '' && !messages.includes(at.message)) messages.push(at.message);
    at = at.cause;
  }
  return messages.join(': ');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function loadConfig(connection: Connection): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (connection.kubeconfig !== undefined) kc.loadFromFile(connection.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new CliError(`error: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (connection.context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === connection.context)) {
      throw new CliError(`error: context was not found for specified context: ${connection.context}`);
    }
    kc.setCurrentContext(connection.context);
  }
  if (kc.getCurrentCluster() === null) {
    throw new CliError(
      'error: no cluster in the kubeconfig: set KUBECONFIG, --kubeconfig or --context (the same as kubectl)',
    );
  }
  try {
    refuseUnverifiedTls(kc);
  } catch (e) {
    throw new CliError(`error: ${e instanceof Error ? e.message : String(e)}`);
  }
  return kc;
}

export class Client {
  readonly namespace: string;
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #close: () => Promise<void>;

  constructor(connection: Connection) {
    const kc = keptAlive(loadConfig(connection));
    const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
    this.namespace = connection.namespace ?? (contextNamespace || 'default');
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#close = () => kc.close();
  }

  close(): Promise<void> {
    return this.#close();
  }

  async getCertificate(namespace: string, name: string): Promise<BTPCertificate> {
    const obj = await this.#call(() => this.#custom.getNamespacedCustomObject({ ...G, namespace, name }));
    return certificateOf(obj);
  }

  /** BTPCertificates of a namespace, or of every namespace (undefined), optionally selected. */
  async listCertificates(
    namespace: string | undefined,
    selectors: { readonly labelSelector?: string; readonly fieldSelector?: string } = {},
  ): Promise<BTPCertificate[]> {
    const list = await this.#call(() =>
      namespace === undefined
        ? this.#custom.listClusterCustomObject({ ...G, ...selectors })
        : this.#custom.listNamespacedCustomObject({ ...G, namespace, ...selectors }),
    );
    const items = isRecord(list) && Array.isArray(list.items) ? list.items : [];
    return items.map(certificateOf);
  }

  /** Sets one annotation (a merge patch) and returns the object as the API server stored it. */
  async annotate(namespace: string, name: string, key: string, value: string): Promise<BTPCertificate> {
    const obj = await this.#call(() =>
      this.#custom.patchNamespacedCustomObject(
        { ...G, namespace, name, body: { metadata: { annotations: { [key]: value } } } },
        mergePatch,
      ),
    );
    return certificateOf(obj);
  }

  /** The Events about this object (this uid: not a deleted namesake's), oldest first. */
  async events(cert: BTPCertificate): Promise<EventView[]> {
    const { namespace, name, uid } = cert.metadata;
    const list = await this.#call(() =>
      this.#core.listNamespacedEvent({
        namespace,
        fieldSelector: `involvedObject.name=${name},involvedObject.kind=BTPCertificate`,
      }),
    );
    const time = (t: Date | undefined | null): string | undefined =>
      t instanceof Date && !Number.isNaN(t.getTime()) ? t.toISOString() : undefined;
    return list.items
      .filter((e) => e.involvedObject.uid === undefined || e.involvedObject.uid === uid)
      .map((e) => ({
        type: e.type ?? '',
        reason: e.reason ?? '',
        message: e.message ?? '',
        count: e.count ?? 1,
        firstTimestamp: time(e.firstTimestamp ?? e.eventTime),
        lastTimestamp: time(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp),
      }))
      .sort((a, b) => (a.lastTimestamp ?? '').localeCompare(b.lastTimestamp ?? ''));
  }

  async getSecret(namespace: string, name: string): Promise<SecretView> {
    const secret = await this.#call(() => this.#core.readNamespacedSecret({ namespace, name }));
    const data: Record<string, Buffer> = {};
    for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64');
    return { namespace, name, type: secret.type ?? 'Opaque', data };
  }

  async #call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (e) {
      throw describeApiError(e);
    }
  }
}

function certificateOf(obj: unknown): BTPCertificate {
  const cert = parseBTPCertificate(obj);
  if (cert === undefined)
    throw new CliError(`error: the API server returned a ${RESOURCE} this plugin cannot read`);
  return cert;
}
