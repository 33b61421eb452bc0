// `npm start` until the devnet of issue #3 exists: starts a local anvil, deploys the whole chain
// layer with devnet parameters (or resumes the one in the data directory), prints the addresses
// and keeps the chain running until Ctrl-C.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createPublicClient, http } from 'viem';
import { startAnvil } from '../anvil.ts';
import { deploySystem, devnetParameters, readDeploymentFile, serializeDeployment } from '../deploy.ts';
import { devnetAccounts } from '../devnet-accounts.ts';

const USAGE = `usage: npm start -- [options]

Starts a local chain (anvil), deploys Groundwork's contracts and prints their addresses.

options:
  --port <n>            RPC port (default 8545; 0 picks a free one)
  --data-dir <path>     where chain state and deployment.json live (default .data/devnet)
  --epoch-seconds <n>   epoch length for a new deployment (default 30)
  --once                exit after deploying instead of serving the chain
  --json                print the deployment as JSON
  -h, --help            this text`;

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function positiveInt(name: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || (!allowZero && n === 0)) {
    fail(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '8545' },
        'data-dir': { type: 'string', default: path.join('.data', 'devnet') },
        'epoch-seconds': { type: 'string', default: '30' },
        once: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = positiveInt('port', values.port, true);
  if (port > 65535) fail(`--port must be at most 65535, got ${port}`);
  const epochSeconds = positiveInt('epoch-seconds', values['epoch-seconds']);
  const dataDir = path.resolve(values['data-dir']);
  mkdirSync(dataDir, { recursive: true });
  const deploymentFile = path.join(dataDir, 'deployment.json');

  const log = (line: string) => (values.json ? process.stderr : process.stdout).write(`${line}\n`);
  const anvil = await startAnvil({ port, stateFile: path.join(dataDir, 'anvil-state.json') });
  const stop = async () => {
    await anvil.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log(`chain: anvil at ${anvil.rpcUrl} (state in ${dataDir})`);

  const client = createPublicClient({ transport: http(anvil.rpcUrl) });
  let deployment;
  if (existsSync(deploymentFile)) {
    const saved = readDeploymentFile(deploymentFile);
    const code = await client.getCode({ address: saved.addresses.token });
    if (code && code !== '0x') {
      log(`resuming the deployment in ${deploymentFile}`);
      deployment = saved;
    } else {
      log(`${deploymentFile} names contracts this chain does not have: deploying afresh`);
    }
  }
  if (!deployment) {
    const deployer = devnetAccounts(0);
    const genesisTime = (await client.getBlock()).timestamp;
    let steps = 0;
    deployment = await deploySystem({
      rpcUrl: anvil.rpcUrl,
      privateKey: deployer.privateKey,
      parameters: devnetParameters({
        deployer: deployer.address,
        oracles: [1, 2, 3].map((i) => devnetAccounts(i).address),
        quorum: 2,
        genesisTime,
        epochDuration: BigInt(epochSeconds),
      }),
      outFile: deploymentFile,
      onStep: (step) => {
        steps++;
        if (!values.json && process.stdout.isTTY) process.stdout.write(`\r  deployed ${steps} steps (${step})\x1b[K`);
      },
    });
    if (!values.json && process.stdout.isTTY) process.stdout.write('\n');
    log(`deployed in ${steps} transactions; deployment file: ${deploymentFile}`);
  }

  if (values.json) {
    process.stdout.write(serializeDeployment(deployment as never));
  } else {
    log(`chain id ${deployment.chainId}, blocks ${deployment.startBlock}-${deployment.endBlock}`);
    for (const [name, at] of Object.entries(deployment.addresses)) log(`  ${name.padEnd(12)} ${at}`);
  }
  if (values.once) {
    await anvil.stop();
    return;
  }
  log('serving the chain; Ctrl-C to stop (state is saved on exit)');
}

main().catch((err) => {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(1);
});
