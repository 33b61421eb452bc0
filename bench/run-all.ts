/**
 * Runs every benchmark, one after the other, each in its own process (`npm run bench`):
 *
 *   node --import tsx bench/run-all.ts [--quick] [--skip ingest,epoch-close,devnet]
 *
 * 1. bench/ingest.ts (when it exists): signed reports/s through HTTP ingest against raw P-256
 *    verification on one core;
 * 2. bench/epoch-close.ts: the epoch close at 1,000,000 devices from the verifier's scores to
 *    proofs ready, against @openzeppelin/merkle-tree's StandardMerkleTree.of on the same leaves
 *    (several minutes: the baseline alone takes about two), then the full close (the uptime
 *    verifier, the artifact streamed to disk with its hash; its own time and memory targets) and
 *    `epoch verify`'s work on that artifact (reported);
 * 3. bench/compute-metering.ts: the sandbox's metered run against the unmetered one (≤ 1.3);
 * 4. bench/compute-matcher.ts: task assignments per second, 10,000 providers and 100,000 tasks,
 *    against a linear-scan reference;
 * 5. bench/compute-e2e.ts: frames per minute of the demo scene through a devnet's compute
 *    network against the same frames rendered locally in one process;
 * 6. bench/devnet.ts: a fresh devnet's seconds from start to the first claimed reward;
 * 7. bench/storage-core.ts: Reed-Solomon 4-of-8 MB/s against the npm codecs, the shard
 *    commitment against native SHA-256 (≥ 0.5), proof checks per second;
 * 8. bench/storage-e2e.ts: upload and download MB/s through a devnet's storage network against a
 *    plain copy on the same disk.
 * 9. bench/tokenomics.ts: simulated epochs per second at 100,000 providers against the oracle's
 *    reward step alone, and a 1,000-run Monte Carlo's wall time on every core against one thread.
 * 10. bench/coverage-density.ts: HIP-17 transmit scaling for 1,000,000 hotspots (seconds, peak RSS);
 *     bench/coverage-witness.ts: witness reports verified per second, every check and signature,
 *     against raw P-256 verification of the same reports (≥ 0.5).
 *
 * Each runs with --json: its progress (stderr) is forwarded as it comes, its JSON result is
 * echoed, and at the end one summary of the ratios is printed. --quick runs small sizes (for
 * trying the harness, not for figures: the targets are only checked at full size). Exits 1 if
 * any benchmark failed (exited non-zero, or printed no JSON result) or if any benchmark's JSON
 * says a checked target was missed: epoch-close's speedupMet / memoryMet and its full close's
 * timeMet / memoryMet where targetsChecked, ingest's ratio below its target (ingest.ts itself
 * exits 1 only on lost or refused reports). Missed targets are marked MISSED in the summary and
 * listed at its end. Under --quick no target is checked.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const bench = (file: string) => fileURLToPath(new URL(`./${file}`, import.meta.url));

type Outcome = { name: string; code: number | null; seconds: number; result: Record<string, any> | null };

function runBench(name: string, file: string, args: string[]): Promise<Outcome> {
  console.log(`\n=== ${name}: node --import tsx bench/${file} ${args.join(' ')}`);
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', bench(file), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      process.stdout.write(chunk);
    });
    const done = (code: number | null) => {
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      const line = stdout
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      let result: Record<string, any> | null = null;
      try {
        result = line ? (JSON.parse(line) as Record<string, any>) : null;
      } catch {
        result = null;
      }
      console.log(`=== ${name}: exit ${code}, ${seconds} s`);
      resolve({ name, code, seconds, result });
    };
    child.on('error', (err) => {
      console.error(`${name}: ${err.message}`);
      done(null);
    });
    child.on('close', (code) => done(code));
  });
}

const fixed = (value: unknown, digits: number) => (typeof value === 'number' ? value.toFixed(digits) : 'n/a');

/** A benchmark's summary lines and the targets its JSON says it checked and missed. */
type Summary = { lines: string[]; missed: string[] };

/**
 * One line per benchmark: its ratio against its baseline, and the target where it has one,
 * with the targets its JSON says were checked and missed. Under --quick nothing is checked.
 */
function summarise(o: Outcome, quick: boolean): Summary {
  const r = o.result;
  const status = o.code === 0 && r ? 'ok' : 'FAILED';
  const name = o.name.padEnd(12);
  const indent = ''.padEnd(12);
  if (!r) return { lines: [`${name} ${status}: no JSON result (exit ${o.code})`], missed: [] };
  if (o.name === 'ingest') {
    const rate = (side: unknown) =>
      side && typeof side === 'object' && 'perSecond' in side
        ? Number((side as { perSecond: number }).perSecond).toLocaleString('en-US')
        : 'n/a';
    const target = typeof r.target === 'number' ? r.target : 0.7;
    const miss = typeof r.ratio === 'number' && r.ratio < target;
    const met = typeof r.ratio !== 'number' ? 'n/a' : !miss ? 'ok' : quick ? 'missed, not checked under --quick' : 'MISSED';
    return {
      lines: [
        `${name} ${status}: ingest/raw = ${fixed(r.ratio, 3)} (target >= ${target}: ${met}); ingest ${rate(r.ingest)} reports/s, raw P-256 verify ${rate(r.raw)} reports/s`,
      ],
      missed: miss && !quick ? [`ingest: ingest/raw ${fixed(r.ratio, 3)} < ${target}`] : [],
    };
  }
  if (o.name === 'epoch-close') {
    const lines: string[] = [];
    const missed: string[] = [];
    const n = Number(r.devices).toLocaleString('en-US');
    const t = r.target ?? {};
    const checked = r.targetsChecked === true && !quick;
    const verdict = (met: unknown) => (typeof met !== 'boolean' ? 'n/a' : met ? 'ok' : checked ? 'MISSED' : 'missed, not checked');
    if (r.fast?.error) lines.push(`${name} ${status}: scores → proofs failed at ${n} devices: ${r.fast.error}`);
    else {
      lines.push(
        `${name} ${status}: ${n} devices, scores → rewards → tree → proofs: speedup ${fixed(r.speedup, 2)}x (target >= ${t.speedup}: ${verdict(r.speedupMet)}), ` +
          `memory ${fixed(r.memory, 3)} of the baseline's peak (target <= ${t.memory}: ${verdict(r.memoryMet)}); roots ${r.rootsEqual ? 'equal' : r.rootsEqual === false ? 'DIFFER' : 'n/a'}`,
      );
      if (r.oz)
        lines.push(
          `${indent} computeRewardColumns → RewardTree.fromColumns → proofs ${r.fast.ms} ms, StandardMerkleTree.of → proofs ${r.oz.ms} ms on ${Number(r.oz.leaves).toLocaleString('en-US')} leaves`,
        );
      if (checked && r.speedupMet === false) missed.push(`epoch-close: speedup ${fixed(r.speedup, 2)}x < ${t.speedup}`);
      if (checked && r.memoryMet === false) missed.push(`epoch-close: memory ${fixed(r.memory, 3)} > ${t.memory}`);
    }
    const f = r.fullClose;
    if (f?.full && !f.full.error) {
      const fullChecked = f.targetsChecked === true && !quick;
      const fullVerdict = (met: unknown) =>
        typeof met !== 'boolean' ? 'n/a' : met ? 'ok' : fullChecked ? 'MISSED' : 'missed, not checked';
      lines.push(
        `${indent} full close (verifier + artifact streamed + sha256): ${f.full.ms} ms (target <= ${t.fullMs}: ${fullVerdict(f.timeMet)}), ` +
          `peak ${(f.full.maxRssKiB / 1024).toFixed(0)} MiB (target <= ${(t.fullRssKiB / 1024).toFixed(0)}: ${fullVerdict(f.memoryMet)}), artifact ${Number(f.full.artifact?.bytes ?? 0).toLocaleString('en-US')} bytes`,
      );
      if (f.verify && !f.verify.error)
        lines.push(`${indent} epoch verify on that artifact: ${f.verify.ms} ms, peak ${(f.verify.maxRssKiB / 1024).toFixed(0)} MiB`);
      if (fullChecked && f.timeMet === false) missed.push(`epoch-close: full close ${f.full.ms} ms > ${t.fullMs}`);
      if (fullChecked && f.memoryMet === false)
        missed.push(`epoch-close: full close peak ${(f.full.maxRssKiB / 1024).toFixed(0)} MiB > ${(t.fullRssKiB / 1024).toFixed(0)}`);
    }
    for (const e of f?.errors ?? []) {
      lines.push(`${indent} full close failed: ${e}`);
      if (!quick) missed.push(`epoch-close: full close failed: ${e}`);
    }
    return { lines, missed };
  }
  if (o.name === 'compute-matcher') {
    return {
      lines: [
        `${name} ${status}: fill ${r.fill.perSecond} assignments/s, churn ${r.churn.perSecond}/s; reference/indexed ` +
          `${fixed(r.ratio, 1)}x (${fixed(r.ratioWithoutBuild, 1)}x without the index build); same assignments: ${r.sameAssignments}`,
      ],
      missed: [],
    };
  }
  if (o.name === 'compute-metering') {
    const met = r.targetMet ? 'ok' : quick ? 'missed, not checked under --quick' : 'MISSED';
    return {
      lines: [
        `${name} ${status}: metered/unmetered = ${fixed(r.ratio, 3)} (target <= ${r.target}: ${met}); ` +
          `${Number(r.computeUnits).toLocaleString('en-US')} compute units, outputs ${r.outputsEqual ? 'equal' : 'DIFFER'}`,
      ],
      missed: !r.targetMet && !quick ? [`compute-metering: ratio ${fixed(r.ratio, 3)} > ${r.target}`] : [],
    };
  }
  if (o.name === 'compute-e2e') {
    return {
      lines: [
        `${name} ${status}: ${r.frames} frames of ${r.scene.width}x${r.scene.height}x${r.scene.samples}: network ${r.network.framesPerMinute} frames/min ` +
          `(${r.providers} providers, ${r.spotChecked} spot checks) against local ${r.local.framesPerMinute} frames/min = ${fixed(r.ratio, 3)}; identical: ${r.identical}`,
      ],
      missed: [],
    };
  }
  if (o.name === 'storage-core') {
    const e = r.erasure;
    const c = r.commitment;
    const met = c.met ? 'ok' : quick ? 'missed, not checked under --quick' : 'MISSED';
    const rates = e.implementations.map(
      (i: { name: string; mbPerSecond: number | null }) =>
        `${i.name} ${i.mbPerSecond === null ? 'missing' : `${fixed(i.mbPerSecond, 0)} MB/s`}`,
    );
    return {
      lines: [
        `${name} ${status}: erasure ${e.code}: ${rates.join(', ')} (ours / fastest ${fixed(e.ratio, 2)}); ` +
          `commitment/native SHA-256 ${fixed(c.ratio, 2)} (target >= ${c.target}: ${met}); ${fixed(r.proofs.checksPerSecond, 0)} proof checks/s`,
      ],
      missed: !c.met && !quick ? [`storage-core: commitment ratio ${fixed(c.ratio, 2)} < ${c.target}`] : [],
    };
  }
  if (o.name === 'storage-e2e') {
    return {
      lines: [
        `${name} ${status}: ${r.mib} MiB ${r.code}: upload ${fixed(r.upload.mbPerSecond, 1)} MB/s (${fixed(r.upload.ratio, 3)} of a plain copy at ${fixed(r.copy.mbPerSecond, 0)} MB/s), ` +
          `download ${fixed(r.download.mbPerSecond, 1)} MB/s (${fixed(r.download.ratio, 3)} of a plain read at ${fixed(r.copy.readMbPerSecond, 0)} MB/s); identical: ${r.identical}`,
      ],
      missed: [],
    };
  }
  if (o.name === 'coverage-density') {
    return {
      lines: [
        `${name} ${status}: HIP-17 for ${Number(r.hotspots).toLocaleString('en-US')} hotspots in ${fixed(r.totalSeconds, 2)} s ` +
          `(cellToParent floor / total = ${fixed(r.ratio, 2)}), peak RSS ${fixed(r.peakRssMiB, 0)} MiB, ${Number(r.hexes).toLocaleString('en-US')} hexes`,
      ],
      missed: [],
    };
  }
  if (o.name === 'coverage-witness') {
    const met = r.met ? 'ok' : quick ? 'missed, not checked under --quick' : 'MISSED';
    return {
      lines: [
        `${name} ${status}: ${Number(r.reports).toLocaleString('en-US')} signed reports, full verification ${Number(r.full.perSecond).toLocaleString('en-US')}/s against raw P-256 ` +
          `${Number(r.raw.perSecond).toLocaleString('en-US')}/s = ${fixed(r.ratio, 3)} (target >= ${r.target}: ${met})`,
      ],
      missed: !r.met && !quick ? [`coverage-witness: ratio ${fixed(r.ratio, 3)} < ${r.target}`] : [],
    };
  }
  if (o.name === 'tokenomics') {
    const m = r.monteCarlo ?? {};
    return {
      lines: [
        `${name} ${status}: ${fixed(r.epochsPerSecond, 2)} epochs/s at ${Number(r.providers).toLocaleString('en-US')} providers ` +
          `(reward step / epoch = ${fixed(r.ratio, 2)}); Monte Carlo ${m.runs} runs in ${fixed(m.seconds, 1)} s on ${m.workers} threads (${fixed(m.speedup, 2)}x one thread)`,
      ],
      missed: [],
    };
  }
  if (o.name === 'devnet') {
    return {
      lines: [
        `${name} ${status}: first claimed reward ${r.secondsToFirstClaim ?? 'never'} s after start with ${r.epochSeconds} s epochs = ` +
          `${fixed(r.epochsToFirstClaim, 2)} epochs of waiting (the protocol's floor: ${fixed(r.floorEpochs, 2)}); ${r.devices} devices, wall ${r.wallSeconds} s`,
      ],
      missed: [],
    };
  }
  return { lines: [`${name} ${status}`], missed: [] };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      skip: { type: 'string', default: '' },
    },
  });
  const skip = new Set(values.skip!.split(',').filter(Boolean));
  const quick = values.quick!;
  const plan: { name: string; file: string; args: string[] }[] = [];
  if (existsSync(bench('ingest.ts')))
    plan.push({ name: 'ingest', file: 'ingest.ts', args: ['--json', ...(quick ? ['--reports', '5000'] : [])] });
  else console.log('bench/ingest.ts does not exist: skipped');
  plan.push({ name: 'epoch-close', file: 'epoch-close.ts', args: ['--json', ...(quick ? ['--devices', '100000', '--skip-full'] : [])] });
  plan.push({
    name: 'compute-metering',
    file: 'compute-metering.ts',
    args: ['--json', ...(quick ? ['--size', '512', '--reps', '3'] : [])],
  });
  plan.push({
    name: 'compute-matcher',
    file: 'compute-matcher.ts',
    args: ['--json', ...(quick ? ['--providers', '1000', '--tasks', '10000'] : [])],
  });
  plan.push({ name: 'compute-e2e', file: 'compute-e2e.ts', args: ['--json', ...(quick ? ['--frames', '4'] : [])] });
  plan.push({ name: 'storage-core', file: 'storage-core.ts', args: ['--json', ...(quick ? ['--mib', '8', '--rounds', '1'] : [])] });
  plan.push({ name: 'storage-e2e', file: 'storage-e2e.ts', args: ['--json', ...(quick ? ['--mib', '4'] : [])] });
  plan.push({ name: 'tokenomics', file: 'tokenomics.ts', args: ['--json', ...(quick ? ['--providers', '10000', '--runs', '20'] : [])] });
  plan.push({ name: 'coverage-density', file: 'coverage-density.ts', args: ['--json', ...(quick ? ['--hotspots', '100000'] : [])] });
  plan.push({ name: 'coverage-witness', file: 'coverage-witness.ts', args: ['--json', ...(quick ? ['--hotspots', '60'] : [])] });
  plan.push({ name: 'devnet', file: 'devnet.ts', args: ['--json', ...(quick ? ['--devices', '4', '--epoch-seconds', '10'] : [])] });

  const outcomes: Outcome[] = [];
  for (const b of plan) {
    if (skip.has(b.name)) {
      console.log(`\n=== ${b.name}: skipped (--skip)`);
      continue;
    }
    outcomes.push(await runBench(b.name, b.file, b.args));
  }

  console.log(`\n=== summary${quick ? ' (--quick: small sizes, targets not checked)' : ''}`);
  const missed: string[] = [];
  for (const o of outcomes) {
    const summary = summarise(o, quick);
    for (const line of summary.lines) console.log(line);
    missed.push(...summary.missed);
  }
  const failed = outcomes.filter((o) => o.code !== 0 || !o.result);
  if (failed.length) console.log(`failed: ${failed.map((o) => o.name).join(', ')}`);
  if (missed.length) console.log(`targets MISSED: ${missed.join('; ')}`);
  if (failed.length || missed.length) process.exitCode = 1;
}

await main();
