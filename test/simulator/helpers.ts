// Test helpers: real undici clients that trust the simulator only through its CA bundle.
import type { Socket } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import { isRecord } from '../support/btp-simulator/input.ts';
import type { Simulator } from '../support/btp-simulator/simulator.ts';

export interface ClientCertificate {
  readonly cert: string;
  readonly key: string;
}

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: unknown;
}

export function agentFor(
  sim: Simulator,
  certificate?: ClientCertificate,
  options: Agent.Options = {},
): Agent {
  return new Agent({ ...options, connect: { ca: sim.caBundlePem, ...certificate } });
}

/**
 * An agent that also records the errors its sockets raised. With TLS 1.3 a client
 * certificate is rejected after the client considers the handshake done; undici then
 * reports `other side closed`, while the socket itself saw the TLS alert.
 */
export function recordingAgent(
  caPem: string,
  certificate?: ClientCertificate,
): { agent: Agent; socketErrors: Error[] } {
  const socketErrors: Error[] = [];
  const connect = buildConnector({ ca: caPem, ...certificate });
  const agent = new Agent({
    connect: (options, callback) =>
      connect(options, (error, socket) => {
        if (error !== null) {
          socketErrors.push(error);
          callback(error, null);
          return;
        }
        (socket as Socket).on('error', (socketError) => socketErrors.push(socketError));
        callback(null, socket);
      }),
  });
  return { agent, socketErrors };
}

async function answer(response: Awaited<ReturnType<typeof request>>): Promise<Answer> {
  const text = await response.body.text();
  let body: unknown = text;
  if (text !== '' && String(response.headers['content-type'] ?? '').includes('json')) body = JSON.parse(text);
  return { status: response.statusCode, headers: response.headers, body };
}

export async function postForm(
  agent: Agent,
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await request(url, {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return answer(response);
}

export async function getJson(
  agent: Agent,
  url: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return answer(await request(url, { dispatcher: agent, headers }));
}

/** A token for the SM access client in the client-secret form. */
export async function smToken(sim: Simulator, agent: Agent): Promise<string> {
  const { clientid, clientsecret, url } = sim.smCredentials.secret;
  const response = await postForm(agent, `${url}/oauth/token`, {
    grant_type: 'client_credentials',
    client_id: clientid,
    client_secret: clientsecret,
  });
  const body = response.body;
  if (response.status !== 200 || !isRecord(body) || typeof body.access_token !== 'string') {
    throw new Error(`token request failed with ${response.status}`);
  }
  return body.access_token;
}

export interface SmClient {
  readonly agent: Agent;
  call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<Answer>;
  close(): Promise<void>;
}

export async function smClient(sim: Simulator): Promise<SmClient> {
  const agent = agentFor(sim);
  const token = await smToken(sim, agent);
  return {
    agent,
    call: async (method, path, body) =>
      answer(
        await request(`${sim.smUrl}${path}`, {
          dispatcher: agent,
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
      ),
    close: () => agent.close(),
  };
}

export function record(value: unknown): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`expected a JSON object, got ${JSON.stringify(value)}`);
  return value;
}

export function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected a string, got ${JSON.stringify(value)}`);
  return value;
}

export const X509_PARAMETERS = {
  'credential-type': 'x509',
  x509: { 'key-length': 2048, validity: 7, 'validity-type': 'DAYS' },
} as const;

export interface CreatedBinding {
  readonly id: string;
  readonly credentials: Record<string, unknown>;
  readonly certificate: ClientCertificate;
}

/** Creates an x509 binding synchronously and returns its certificate and key. */
export async function createX509Binding(
  client: SmClient,
  instanceId: string,
  name: string,
  parameters: unknown = X509_PARAMETERS,
): Promise<CreatedBinding> {
  const response = await client.call('POST', '/v1/service_bindings', {
    name,
    service_instance_id: instanceId,
    parameters,
  });
  if (response.status !== 201)
    throw new Error(`create failed with ${response.status}: ${JSON.stringify(response.body)}`);
  const binding = record(response.body);
  const credentials = record(binding.credentials);
  return {
    id: text(binding.id),
    credentials,
    certificate: { cert: text(credentials.certificate), key: text(credentials.key) },
  };
}

/** Error codes along an error's cause chain. */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  while (isRecord(current) || current instanceof Error) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}
