#!/usr/bin/env node
// kubectl-btpcert: the kubectl plugin for BTPCertificates (`kubectl btpcert ...`). See run.ts for
// the commands and the README section "kubectl plugin" for installing it.
import { systemClock } from '../runtime/clock.ts';
import { run } from './run.ts';

process.exitCode = await run(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  clock: systemClock,
});
