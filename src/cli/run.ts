// The plugin's commands, from a parsed command line to text on stdout/stderr and an exit code:
// 0 done, 1 an error (kubectl's wording), 2 the answer is no (a failed renewal or token check, an
// invalid pair). The clock is the runtime's; output goes through `io`, so tests can hold it.

import type { BTPCertificate } from '../api/types.ts';
import type { Clock } from '../runtime/clock.ts';
import { type Invocation, type Output, parseArgs, type RequestKind, type Selection, USAGE } from './args.ts';
import { CliError, Client, RESOURCE } from './client.ts';
import { jsonText, printable, printableLines } from './format.ts';
import { formatInspect, inspectView } from './inspect.ts';
import {
  ANNOTATIONS,
  backoffNote,
  labelSelectorOf,
  outcomeOf,
  type RequestResult,
  refusal,
  resultLine,
} from './requests.ts';
import { formatStatus, statusView } from './status.ts';
import { toYaml } from './yaml.ts';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_NO = 2;

/** How often --wait reads the objects again. */
const POLL_MS = 1_000;

export type Io = {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly clock: Clock;
};

const sleep = (clock: Clock, ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));

/** Text for people goes out printable whatever a formatter let through (see format.ts). */
function print(io: Io, output: Output, data: unknown, human: () => string): void {
  if (output === 'json') io.out(`${jsonText(data, 2)}\n`);
  else if (output === 'yaml') io.out(toYaml(data));
  else io.out(printableLines(human()));
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    io.err(`error: ${printable(parsed.message)}\nSee 'kubectl btpcert --help' for usage.\n`);
    return EXIT_ERROR;
  }
  const invocation = parsed.value;
  if (invocation.command.kind === 'help') {
    io.out(USAGE);
    return EXIT_OK;
  }
  let client: Client | undefined;
  try {
    client = new Client(invocation.connection);
    return await dispatch(client, invocation, io);
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    io.err(`${printableLines(e.message)}\n`);
    return e.exitCode;
  } finally {
    await client?.close();
  }
}

async function dispatch(client: Client, invocation: Invocation, io: Io): Promise<number> {
  const { command, output } = invocation;
  const namespace = client.namespace;
  switch (command.kind) {
    case 'help':
      return EXIT_OK;
    case 'status': {
      const cert = await client.getCertificate(namespace, command.name);
      // The object is the point; Events the user may not list are said to be missing.
      const events = await client.events(cert).then(
        (list) => ({ list, error: undefined }),
        (e: unknown) => {
          if (!(e instanceof CliError)) throw e;
          return { list: [], error: e.message };
        },
      );
      const view = statusView(cert, events.list, events.error);
      print(io, output, view, () => formatStatus(view, io.clock.now()));
      return EXIT_OK;
    }
    case 'inspect-secret': {
      const view = inspectView(await client.getSecret(namespace, command.name), io.clock.now());
      print(io, output, view, () => formatInspect(view, io.clock.now()));
      return view.valid ? EXIT_OK : EXIT_NO;
    }
    case 'renew':
    case 'check-token':
      return request(client, invocation, command.kind, command, io);
  }
}

type Pending = { readonly requested: BTPCertificate; readonly value: string };

async function selected(client: Client, invocation: Invocation, selection: Selection, io: Io) {
  const { allNamespaces } = invocation.connection;
  const scope = allNamespaces ? undefined : client.namespace;
  const found: BTPCertificate[] = [];
  let errors = 0;
  if (selection.kind === 'names') {
    for (const name of selection.names) {
      try {
        found.push(await client.getCertificate(client.namespace, name));
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        io.err(`${printableLines(e.message)}\n`);
        errors += 1;
      }
    }
  } else {
    const labelSelector = labelSelectorOf(selection);
    found.push(...(await client.listCertificates(scope, labelSelector ? { labelSelector } : {})));
    if (found.length === 0) {
      io.err(
        allNamespaces ? 'No resources found\n' : `No resources found in ${client.namespace} namespace.\n`,
      );
    }
  }
  return { found, errors };
}

/**
 * The objects waited for, as they are now, by namespace/name: one list per namespace (by name
 * where only one is waited for there), so a wait on many objects costs few requests.
 */
async function readAgain(client: Client, waited: readonly BTPCertificate[]) {
  const byNamespace = Map.groupBy(waited, (c) => c.metadata.namespace);
  const current = new Map<string, BTPCertificate>();
  for (const [namespace, those] of byNamespace) {
    const [only, ...others] = those;
    const selectors =
      only !== undefined && others.length === 0
        ? { fieldSelector: `metadata.name=${only.metadata.name}` }
        : {};
    for (const c of await client.listCertificates(namespace, selectors)) {
      current.set(`${c.metadata.namespace}/${c.metadata.name}`, c);
    }
  }
  return current;
}

async function request(
  client: Client,
  invocation: Invocation,
  kind: RequestKind,
  command: { readonly selection: Selection; readonly wait: boolean; readonly timeoutMs: number },
  io: Io,
): Promise<number> {
  const { output } = invocation;
  const withNamespace = invocation.connection.allNamespaces;
  const annotation = ANNOTATIONS[kind];
  const human = output === 'human';
  const results: RequestResult[] = [];
  const say = (r: RequestResult) => {
    if (human) io.out(`${resultLine(kind, r, withNamespace)}\n`);
  };
  const { found, errors } = await selected(client, invocation, command.selection, io);
  let failures = errors;
  const pending = new Map<string, Pending>();
  const deadline = io.clock.nowMs() + command.timeoutMs;

  for (const cert of found) {
    const { namespace, name } = cert.metadata;
    const refused = refusal(kind, cert);
    if (refused !== undefined) {
      const skipped: RequestResult = { namespace, name, annotation, outcome: 'Skipped', message: refused };
      results.push(skipped);
      if (command.selection.kind === 'names') {
        io.err(`error: ${RESOURCE} "${name}": ${printable(refused)}\n`);
        failures += 1;
      } else say(skipped);
      continue;
    }
    // A new value each time, to the millisecond: the operator acts on a value it has not seen.
    const value = io.clock.now().toISOString();
    try {
      const requested = await client.annotate(namespace, name, annotation, value);
      pending.set(`${namespace}/${name}`, { requested, value });
      const made: RequestResult = { namespace, name, annotation, value, outcome: 'Requested', message: '' };
      say(made);
      const note = command.wait ? backoffNote(kind, requested, io.clock.now()) : undefined;
      if (human && note !== undefined) io.err(`${printable(`${RESOURCE} "${name}": ${note}`)}\n`);
      if (!command.wait) results.push(made);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      io.err(`${printableLines(e.message)}\n`);
      failures += 1;
    }
  }

  let refused = 0;
  while (command.wait && pending.size > 0) {
    const current = await readAgain(
      client,
      [...pending.values()].map((p) => p.requested),
    );
    for (const [key, { requested, value }] of pending) {
      const { namespace, name } = requested.metadata;
      const base = { namespace, name, annotation, value };
      const now = current.get(key);
      if (now === undefined || now.metadata.uid !== requested.metadata.uid) {
        const gone: RequestResult = {
          ...base,
          outcome: 'Gone',
          message: 'deleted before the request was handled',
        };
        results.push(gone);
        io.err(`error: ${resultLine(kind, gone, withNamespace)}\n`);
        failures += 1;
        pending.delete(key);
        continue;
      }
      const outcome = outcomeOf(kind, requested, now, value);
      if (outcome.state === 'pending') continue;
      const done: RequestResult = {
        ...base,
        outcome: outcome.state === 'succeeded' ? 'Succeeded' : 'Failed',
        reason: outcome.reason,
        message: outcome.message,
      };
      results.push(done);
      say(done);
      if (outcome.state === 'failed') refused += 1;
      pending.delete(key);
    }
    if (pending.size === 0) break;
    const left = deadline - io.clock.nowMs();
    if (left <= 0) {
      for (const { requested, value } of pending.values()) {
        const { namespace, name } = requested.metadata;
        const timedOut: RequestResult = {
          namespace,
          name,
          annotation,
          value,
          outcome: 'TimedOut',
          message: `timed out waiting for the operator to handle ${annotation}=${value}`,
        };
        results.push(timedOut);
        io.err(`error: ${resultLine(kind, timedOut, withNamespace)}\n`);
        failures += 1;
      }
      break;
    }
    await sleep(io.clock, Math.min(POLL_MS, left));
  }

  if (!human) print(io, output, { items: results }, () => '');
  if (failures > 0) return EXIT_ERROR;
  return refused > 0 ? EXIT_NO : EXIT_OK;
}
