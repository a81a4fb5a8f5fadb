// Runs the BTP simulator standalone (`npm run simulator`) until SIGINT/SIGTERM.
//   --config <file.json>           a SimulatorConfig as JSON (config.ts)
//   --state-file <path>            where to write urls, CA bundle path and SM credentials (mode 0600)
//   --ca-file <path>               where to write the CA bundle (default: next to the state file)
//   --sm-port, --xsuaa-port, --xsuaa-cert-port, --admin-port <n>   fixed ports (default: ephemeral)
//   --async                        answer binding creates and deletes with 202 + Location
//   --lifetime-override-seconds <n>  every issued binding certificate lives n seconds
//   --log-level <level>            pino level (default info)
// The state file is removed again on a clean stop.
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parseSimulatorConfig, type SimulatorConfig } from './config.ts';
import { InputError, parseJson } from './input.ts';
import { startSimulator } from './simulator.ts';
import { kymaSecretData } from './sm-credentials.ts';

const USAGE = `usage: node test/support/btp-simulator/cli.ts [--config file.json] [--state-file path] [--ca-file path]
  [--sm-port n] [--xsuaa-port n] [--xsuaa-cert-port n] [--admin-port n] [--async]
  [--lifetime-override-seconds n] [--log-level level]`;

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535)
    throw new InputError(`${flag} must be a port number`);
  return parsed;
}

async function writePrivateFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      'state-file': { type: 'string' },
      'ca-file': { type: 'string' },
      'sm-port': { type: 'string' },
      'xsuaa-port': { type: 'string' },
      'xsuaa-cert-port': { type: 'string' },
      'admin-port': { type: 'string' },
      async: { type: 'boolean' },
      'lifetime-override-seconds': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  const logger = pino({
    level: values['log-level'],
    redact: {
      paths: ['*.key', '*.clientsecret', '*.certificate', '*.smCredentials', '*.destinationCredentials'],
      censor: '[redacted]',
    },
  });

  const fileConfig: SimulatorConfig =
    values.config === undefined
      ? {}
      : parseSimulatorConfig(
          parseJson(await readFile(values.config, 'utf8'), `config file ${values.config}`),
        );
  const ports = {
    ...fileConfig.ports,
    ...Object.fromEntries(
      (
        [
          ['sm', port(values['sm-port'], '--sm-port')],
          ['xsuaa', port(values['xsuaa-port'], '--xsuaa-port')],
          ['xsuaaCert', port(values['xsuaa-cert-port'], '--xsuaa-cert-port')],
          ['admin', port(values['admin-port'], '--admin-port')],
        ] as const
      ).filter(([, value]) => value !== undefined),
    ),
  };
  const override = values['lifetime-override-seconds'];
  const lifetimeOverrideSeconds =
    override === undefined ? fileConfig.lifetimeOverrideSeconds : Number(override);
  if (lifetimeOverrideSeconds !== undefined && lifetimeOverrideSeconds !== null) {
    if (!Number.isInteger(lifetimeOverrideSeconds) || lifetimeOverrideSeconds < 1) {
      throw new InputError('--lifetime-override-seconds must be a positive integer');
    }
  }
  const simulator = await startSimulator({
    ...fileConfig,
    ports,
    logger,
    ...(values.async === true ? { async: { ...fileConfig.async, create: true, delete: true } } : {}),
    ...(lifetimeOverrideSeconds === undefined ? {} : { lifetimeOverrideSeconds }),
  });

  const statePath = values['state-file'] === undefined ? undefined : resolve(values['state-file']);
  const caPath =
    values['ca-file'] === undefined
      ? statePath === undefined
        ? undefined
        : join(dirname(statePath), 'btp-simulator-ca.pem')
      : resolve(values['ca-file']);
  if (caPath !== undefined) await writePrivateFile(caPath, simulator.caBundlePem);
  if (statePath !== undefined) {
    const state = {
      pid: process.pid,
      smUrl: simulator.smUrl,
      xsuaaUrl: simulator.xsuaaUrl,
      xsuaaCertUrl: simulator.xsuaaCertUrl,
      adminUrl: simulator.adminUrl,
      caBundlePath: caPath,
      subaccountId: simulator.subaccountId,
      smCredentials: simulator.smCredentials,
      kymaSecretData: {
        secret: kymaSecretData(simulator.smCredentials.secret),
        x509: kymaSecretData(simulator.smCredentials.x509),
      },
      instances: simulator.instances.map(({ id, name, offering, plan }) => ({ id, name, offering, plan })),
    };
    await writePrivateFile(statePath, `${JSON.stringify(state, null, 2)}\n`);
    logger.info({ statePath, caPath }, 'state file written');
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    simulator
      .stop()
      .then(() => (statePath === undefined ? undefined : rm(statePath, { force: true })))
      .then(
        () => {
          logger.info('stopped');
          process.exitCode = 0;
        },
        (error: unknown) => {
          logger.error({ err: error }, 'stop failed');
          process.exitCode = 1;
        },
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (
    error instanceof InputError ||
    (error instanceof Error && 'code' in error && error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
  ) {
    console.error(`${error.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  console.error(error);
  process.exitCode = 1;
});
