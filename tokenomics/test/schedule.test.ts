// The simulator's emission schedule is the Emissions contract's, integer for integer: each
// schedule below is deployed on anvil and its `scheduledEmission` read at epochs around and far
// past its decay steps, where the contract's fixed-point rounding shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPublicClient, createWalletClient, http, type Address } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { devnetAccounts, EmissionsAbi, EmissionsBytecode, startAnvil, type Anvil } from '@groundwork/contracts';
import { releasedEmission, scheduledEmission, type EmissionSchedule } from '../src/index.ts';

const T = 10n ** 18n;
const SCHEDULES: EmissionSchedule[] = [
  // A halving every two years of daily epochs (Helium's HNT schedule; FIELD.md).
  { initialEpochEmission: 136_986n * T, decayNumerator: 1n, decayDenominator: 2n, decayPeriodEpochs: 730n },
  // Curve's yearly fall by 2^(1/4) (FIELD.md: a fixed coefficient each year), as a fraction.
  { initialEpochEmission: 1_000n * T + 7n, decayNumerator: 8_409n, decayDenominator: 10_000n, decayPeriodEpochs: 365n },
  // An awkward one: rounding at every squaring.
  { initialEpochEmission: 999_999_999_999_999_999n, decayNumerator: 7n, decayDenominator: 9n, decayPeriodEpochs: 3n },
  // Constant, and nothing after the first period.
  { initialEpochEmission: 25_000n * T, decayNumerator: 1n, decayDenominator: 1n, decayPeriodEpochs: 10n },
  { initialEpochEmission: 5n * T, decayNumerator: 0n, decayDenominator: 1n, decayPeriodEpochs: 4n },
];

describe('the emission schedule, against the Emissions contract', () => {
  let anvil: Anvil;
  before(async () => {
    anvil = await startAnvil();
  });
  after(async () => {
    await anvil?.stop();
  });

  test('scheduledEmission is the contract’s at every epoch checked', async () => {
    const account = privateKeyToAccount(devnetAccounts(0).privateKey);
    const wallet = createWalletClient({ account, transport: http(anvil.rpcUrl) });
    const client = createPublicClient({ transport: http(anvil.rpcUrl) });
    for (const s of SCHEDULES) {
      const hash = await wallet.deployContract({
        abi: EmissionsAbi,
        bytecode: EmissionsBytecode,
        chain: null,
        // No genesis allocation, so the token is never called.
        args: ['0x000000000000000000000000000000000000dEaD', account.address, { genesisTime: 0n, epochDuration: 86_400n, ...s }, [], []],
      });
      const address = (await client.waitForTransactionReceipt({ hash })).contractAddress as Address;
      const p = s.decayPeriodEpochs;
      for (const epoch of [0n, 1n, p - 1n, p, p + 1n, 2n * p, 3n * p + 2n, 10n * p, 37n * p + 5n, 200n * p, 1000n * p]) {
        const onChain = (await client.readContract({
          address,
          abi: EmissionsAbi,
          functionName: 'scheduledEmission',
          args: [epoch],
        })) as bigint;
        assert.equal(scheduledEmission(s, epoch), onChain, `${s.decayNumerator}/${s.decayDenominator} every ${p}: epoch ${epoch}`);
      }
    }
  });

  test('release is cut to the cap’s room', () => {
    const s = SCHEDULES[0]!;
    assert.equal(releasedEmission(s, 0, 1_000n * T, 999n * T), 1n * T);
    assert.equal(releasedEmission(s, 0, 1_000n * T, 1_000n * T), 0n);
    assert.equal(releasedEmission(s, 730, 10n ** 30n, 0n), 68_493n * T, 'halved after one period');
  });
});
