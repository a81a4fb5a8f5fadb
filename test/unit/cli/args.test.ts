// The plugin's command line, read as kubectl reads its own flags.
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../../src/cli/args.ts';

const parsed = (...argv: string[]) => {
  const result = parseArgs(argv);
  if (!result.ok) throw new Error(result.message);
  return result.value;
};
const refused = (...argv: string[]) => {
  const result = parseArgs(argv);
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.value)}`);
  return result.message;
};

describe('parseArgs', () => {
  it('reads every form of a flag with a value', () => {
    for (const argv of [
      ['status', 'x', '-n', 'ns'],
      ['status', 'x', '-nns'],
      ['status', 'x', '-n=ns'],
      ['status', 'x', '--namespace', 'ns'],
      ['-n', 'ns', 'status', 'x'],
      ['status', '--namespace=ns', 'x'],
    ]) {
      expect(parsed(...argv)).toMatchObject({
        command: { kind: 'status', name: 'x' },
        connection: { namespace: 'ns' },
      });
    }
  });

  it('takes the kubeconfig, context and output, the last value of a flag winning', () => {
    expect(parsed('status', 'x', '--kubeconfig', '/k', '--context=c', '-ojson', '-o', 'yaml')).toEqual({
      command: { kind: 'status', name: 'x' },
      connection: { kubeconfig: '/k', context: 'c', namespace: undefined, allNamespaces: false },
      output: 'yaml',
    });
    expect(parsed('status', 'x').output).toBe('human');
  });

  it('reads renew and check-token selections, --wait and --timeout', () => {
    expect(parsed('renew', 'a', 'b').command).toEqual({
      kind: 'renew',
      selection: { kind: 'names', names: ['a', 'b'] },
      wait: true,
      timeoutMs: 300_000,
    });
    expect(parsed('check-token', '--all', '-A', '--wait=false', '--timeout', '90s').command).toEqual({
      kind: 'check-token',
      selection: { kind: 'all' },
      wait: false,
      timeoutMs: 90_000,
    });
    expect(parsed('renew', '-l', 'team=a,tier!=x', '--wait').command).toMatchObject({
      selection: { kind: 'selector', selector: 'team=a,tier!=x' },
      wait: true,
    });
    expect(parsed('renew', '--', '-odd-name').command).toMatchObject({
      selection: { kind: 'names', names: ['-odd-name'] },
    });
  });

  it('reads inspect secret NAME, and help', () => {
    expect(parsed('inspect', 'secret', 's').command).toEqual({ kind: 'inspect-secret', name: 's' });
    expect(parsed('--help').command).toEqual({ kind: 'help' });
    expect(parsed('help').command).toEqual({ kind: 'help' });
    expect(parsed('renew', '-h').command).toEqual({ kind: 'help' });
  });

  it.each([
    [['status', 'x', '--bogus'], 'unknown flag: --bogus'],
    [['status', 'x', '-z'], "unknown shorthand flag: 'z' in -z"],
    [['status', 'x', '-Ax'], "unknown shorthand flag: 'x' in -Ax"],
    [['status', 'x', '-n'], 'flag needs an argument: -n'],
    [
      ['status', 'x', '-o', 'wide'],
      'unable to match a printer suitable for the output format "wide", allowed formats are: json,yaml',
    ],
    [['status', 'x', '--wait=maybe'], 'invalid argument "maybe" for "--wait" flag: expected true or false'],
    [['status'], 'status takes exactly one NAME'],
    [['status', 'x', 'y'], 'status takes exactly one NAME'],
    [['status', 'x', '-A'], 'a resource cannot be retrieved by name across all namespaces'],
    [['status', 'x', '--all'], 'unknown flag for status: --all'],
    [['inspect', 'x'], 'inspect takes: secret NAME'],
    [['inspect', 'secret'], 'inspect secret takes exactly one NAME'],
    [['renew'], 'resource(s) were provided, but no name was specified: give NAME..., --all or -l SELECTOR'],
    [['renew', 'a', '--all'], 'give either NAME..., --all or -l SELECTOR, not several'],
    [['renew', 'a', '-A'], 'a resource cannot be retrieved by name across all namespaces'],
    [
      ['renew', 'a', '--timeout', '5'],
      'invalid argument "5" for "--timeout" flag: a duration such as 90s, 5m or 1h',
    ],
    [
      ['renew', 'a', '--timeout', '0s'],
      'invalid argument "0s" for "--timeout" flag: a duration such as 90s, 5m or 1h',
    ],
    [['frobnicate'], 'unknown command "frobnicate" for "kubectl btpcert"'],
    [[], 'no command given'],
    [['status', 'x', '-n', ''], 'a namespace must be non-empty (-n)'],
  ])('refuses %j: %s', (argv, message) => {
    expect(refused(...argv)).toBe(message);
  });
});
