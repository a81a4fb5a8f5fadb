// The command line of kubectl-btpcert, read the way kubectl (pflag) reads its own: `--flag value`,
// `--flag=value`, `-n value`, `-nvalue`, `-n=value`, booleans as `--wait` or `--wait=false`, and
// `--` ending the flags. Pure: argv in, a command or a usage error out.

import { parseGoDuration } from '../certificate/duration.ts';

export type Output = 'human' | 'json' | 'yaml';

export type Connection = {
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
  /** -n/--namespace; undefined: the context's namespace, else "default". */
  readonly namespace: string | undefined;
  readonly allNamespaces: boolean;
};

/** Which BTPCertificates a request goes to: names, every one, or those a label selector picks. */
export type Selection =
  | { readonly kind: 'names'; readonly names: readonly string[] }
  | { readonly kind: 'all' }
  | { readonly kind: 'selector'; readonly selector: string };

export type RequestKind = 'renew' | 'check-token';

export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'status'; readonly name: string }
  | {
      readonly kind: RequestKind;
      readonly selection: Selection;
      readonly wait: boolean;
      readonly timeoutMs: number;
    }
  | { readonly kind: 'inspect-secret'; readonly name: string };

export type Invocation = {
  readonly command: Command;
  readonly connection: Connection;
  readonly output: Output;
};

export type ParseResult =
  | { readonly ok: true; readonly value: Invocation }
  | { readonly ok: false; readonly message: string };

export const DEFAULT_TIMEOUT = '5m';

type FlagSpec = { readonly name: string; readonly short?: string; readonly boolean: boolean };

const FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', boolean: false },
  { name: 'context', boolean: false },
  { name: 'namespace', short: 'n', boolean: false },
  { name: 'all-namespaces', short: 'A', boolean: true },
  { name: 'output', short: 'o', boolean: false },
  { name: 'selector', short: 'l', boolean: false },
  { name: 'all', boolean: true },
  { name: 'wait', boolean: true },
  { name: 'timeout', boolean: false },
  { name: 'help', short: 'h', boolean: true },
];

/** Flags that only requests (renew, check-token) take. */
const REQUEST_FLAGS = ['selector', 'all', 'wait', 'timeout'] as const;

export const USAGE = `kubectl btpcert: BTPCertificates (btpcerts.io/v1alpha1) from the command line.

Commands:
  status NAME                 conditions, certificate, source, bindings, token check and recent Events
  renew NAME... | --all | -l SELECTOR
                              ask the operator for a new certificate (btpcerts.io/renew-requested-at)
  check-token NAME... | --all | -l SELECTOR
                              ask the operator to check the token now (btpcerts.io/check-token-requested-at)
  inspect secret NAME         decode a TLS Secret: chain order, validity, key match, fingerprints

Flags:
  -n, --namespace NS          the namespace (default: the context's, else "default")
  -A, --all-namespaces        renew, check-token with --all or -l: in every namespace
  -o, --output json|yaml      machine-readable output instead of text
  -l, --selector SELECTOR     renew, check-token: the BTPCertificates with these labels
      --all                   renew, check-token: every BTPCertificate in the namespace
      --wait=true|false       renew, check-token: wait until the operator handled the request (default true)
      --timeout DURATION      how long to wait (default ${DEFAULT_TIMEOUT})
      --kubeconfig PATH       the kubeconfig file (default: KUBECONFIG, then ~/.kube/config)
      --context NAME          the kubeconfig context

Exit codes: 0 done; 1 an error (as kubectl's: not found, forbidden, no connection, bad usage,
timed out); 2 the answer is no: the renewal or token check failed, or the Secret's pair is invalid.
`;

const fail = (message: string): ParseResult => ({ ok: false, message });

function flagByName(name: string): FlagSpec | undefined {
  return FLAGS.find((f) => f.name === name);
}

function flagByShort(short: string): FlagSpec | undefined {
  return FLAGS.find((f) => f.short === short);
}

function parseBoolean(flag: string, text: string): boolean | string {
  if (text === 'true') return true;
  if (text === 'false') return false;
  return `invalid argument "${text}" for "--${flag}" flag: expected true or false`;
}

/** Splits argv into flag values (last one wins, as in kubectl) and positional arguments. */
function scan(
  argv: readonly string[],
): { readonly flags: Map<string, string | boolean>; readonly positional: string[] } | string {
  const flags = new Map<string, string | boolean>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    let shown: string;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      spec = flagByName(name);
      shown = `--${name}`;
    } else if (arg.startsWith('-') && arg.length > 1) {
      spec = flagByShort(arg.charAt(1));
      const rest = arg.slice(2);
      inline = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
      shown = `-${arg.charAt(1)}`;
      if (spec?.boolean && rest !== '' && !rest.startsWith('='))
        return `unknown shorthand flag: '${rest.charAt(0)}' in ${arg}`;
    } else {
      positional.push(arg);
      continue;
    }
    if (spec === undefined) {
      return shown.startsWith('--')
        ? `unknown flag: ${shown}`
        : `unknown shorthand flag: '${shown.slice(1)}' in ${arg}`;
    }
    if (spec.boolean) {
      const value = inline === undefined ? true : parseBoolean(spec.name, inline);
      if (typeof value === 'string') return value;
      flags.set(spec.name, value);
      continue;
    }
    if (inline === undefined) {
      const next = argv[i + 1];
      if (next === undefined) return `flag needs an argument: ${shown}`;
      inline = next;
      i += 1;
    }
    flags.set(spec.name, inline);
  }
  return { flags, positional };
}

function selection(names: readonly string[], all: boolean, selector: string | undefined): Selection | string {
  const ways = [names.length > 0, all, selector !== undefined].filter(Boolean).length;
  if (ways === 0)
    return 'resource(s) were provided, but no name was specified: give NAME..., --all or -l SELECTOR';
  if (ways > 1) return 'give either NAME..., --all or -l SELECTOR, not several';
  if (all) return { kind: 'all' };
  if (selector !== undefined) return { kind: 'selector', selector };
  return { kind: 'names', names };
}

export function parseArgs(argv: readonly string[]): ParseResult {
  const scanned = scan(argv);
  if (typeof scanned === 'string') return fail(scanned);
  const { flags, positional } = scanned;
  const text = (name: string): string | undefined => {
    const v = flags.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = flags.get(name);
    return typeof v === 'boolean' ? v : fallback;
  };

  const outputText = text('output');
  if (outputText !== undefined && outputText !== 'json' && outputText !== 'yaml') {
    return fail(
      `unable to match a printer suitable for the output format "${outputText}", allowed formats are: json,yaml`,
    );
  }
  const namespace = text('namespace');
  if (namespace === '') return fail('a namespace must be non-empty (-n)');
  const connection: Connection = {
    kubeconfig: text('kubeconfig'),
    context: text('context'),
    namespace,
    allNamespaces: bool('all-namespaces', false),
  };
  const output: Output = outputText ?? 'human';
  const ok = (command: Command): ParseResult => ({ ok: true, value: { command, connection, output } });

  const [verb, ...rest] = positional;
  if (bool('help', false) || verb === 'help') return ok({ kind: 'help' });
  if (verb === undefined) return fail('no command given');

  const isRequest = verb === 'renew' || verb === 'check-token';
  if (!isRequest) {
    const misplaced = REQUEST_FLAGS.find((f) => flags.has(f));
    if (misplaced !== undefined) return fail(`unknown flag for ${verb}: --${misplaced}`);
  }

  switch (verb) {
    case 'status': {
      if (rest.length !== 1) return fail('status takes exactly one NAME');
      if (connection.allNamespaces)
        return fail('a resource cannot be retrieved by name across all namespaces');
      return ok({ kind: 'status', name: rest[0] ?? '' });
    }
    case 'inspect': {
      const [what, name, ...extra] = rest;
      if (what !== 'secret' && what !== 'secrets') return fail('inspect takes: secret NAME');
      if (name === undefined || extra.length > 0) return fail('inspect secret takes exactly one NAME');
      if (connection.allNamespaces)
        return fail('a resource cannot be retrieved by name across all namespaces');
      return ok({ kind: 'inspect-secret', name });
    }
    case 'renew':
    case 'check-token': {
      const chosen = selection(rest, bool('all', false), text('selector'));
      if (typeof chosen === 'string') return fail(chosen);
      if (connection.allNamespaces && chosen.kind === 'names') {
        return fail('a resource cannot be retrieved by name across all namespaces');
      }
      const timeoutText = text('timeout') ?? DEFAULT_TIMEOUT;
      const timeoutMs = parseGoDuration(timeoutText);
      if (timeoutMs === undefined || timeoutMs <= 0) {
        return fail(
          `invalid argument "${timeoutText}" for "--timeout" flag: a duration such as 90s, 5m or 1h`,
        );
      }
      return ok({ kind: verb, selection: chosen, wait: bool('wait', true), timeoutMs });
    }
    default:
      return fail(`unknown command "${verb}" for "kubectl btpcert"`);
  }
}
