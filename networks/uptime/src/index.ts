// `uptime`: availability rewards, as Render and Storj pay them. At random times in each epoch the
// oracle challenges every registered device with a fresh nonce; the device must send back a report
// naming that nonce, signed with its device key, before the deadline. The score is the share of
// the epoch's challenges answered in time.
import { z } from 'zod';
import {
  SCORE_SCALE,
  challengeSchema,
  hex32,
  signReport,
  type AcceptedReport,
  type Challenge,
  type NetworkPlugin,
  type Rejection,
  type VerifierInput,
  type VerifierOutput,
} from '@groundwork/protocol';

export const KIND = 'uptime';
export const ANSWER_TYPE = 'uptime.answer';

export const parametersSchema = z
  .object({
    /** Challenges each device gets per epoch. */
    challengesPerEpoch: z.number().int().min(1).max(1000),
    /** Milliseconds a device has to answer a challenge. */
    deadlineMs: z.number().int().min(100).max(600_000),
    /** Basis points of the budget paid by usage (the rest by availability). */
    usageShareBps: z.number().int().min(0).max(10_000),
  })
  .strict();
export type UptimeParameters = z.infer<typeof parametersSchema>;

export const DEFAULT_PARAMETERS: UptimeParameters = {
  challengesPerEpoch: 3,
  deadlineMs: 4_000,
  usageShareBps: 5_000,
};

export const answerBodySchema = z.object({ nonce: hex32 }).strict();

/** A challenge as the oracle recorded it; these are the network's oracle inputs in the artifact. */
export const issuedChallengeSchema = challengeSchema;

/**
 * Scores every device by the share of its challenges answered in time. Each answer that does not
 * count is listed with its reason, and so is each challenge that got no valid answer.
 */
export function verifyUptime(input: VerifierInput<UptimeParameters>): VerifierOutput {
  const challenges = new Map<string, Challenge>();
  const issued = new Map<string, number>();
  for (const raw of input.oracleInputs) {
    const c = issuedChallengeSchema.parse(raw);
    const key = `${c.device}:${c.nonce}`;
    if (challenges.has(key)) continue; // a challenge listed twice is still one challenge
    challenges.set(key, c);
    issued.set(c.device, (issued.get(c.device) ?? 0) + 1);
  }

  const rejections: Rejection[] = [];
  const answered = new Map<string, number>();
  const answeredKeys = new Set<string>();
  // Earliest first, so a duplicate is the later copy whatever order the reports came in.
  const reports = [...input.reports].sort((a, b) => a.receivedAt - b.receivedAt || (a.digest < b.digest ? -1 : 1));
  for (const r of reports) {
    const reason = judgeAnswer(r, challenges, answeredKeys, input.epoch);
    if (reason) {
      rejections.push({ device: r.report.device, digest: r.digest, ...reason });
      continue;
    }
    answered.set(r.report.device, (answered.get(r.report.device) ?? 0) + 1);
  }
  for (const [key, c] of challenges) {
    if (!answeredKeys.has(key)) {
      rejections.push({
        device: c.device,
        digest: null,
        reason: 'unanswered',
        detail: `challenge ${c.nonce} issued at ${c.issuedAt} got no valid answer by its deadline ${c.deadline}`,
      });
    }
  }

  const scores = input.devices.map((d) => {
    const n = issued.get(d.device) ?? 0;
    const a = answered.get(d.device) ?? 0;
    const score = n === 0 ? 0n : (BigInt(a) * SCORE_SCALE) / BigInt(n);
    return { device: d.device, score, detail: { challenges: n, answered: a } };
  });
  return { scores, rejections };
}

function judgeAnswer(
  r: AcceptedReport,
  challenges: Map<string, Challenge>,
  answeredKeys: Set<string>,
  epoch: number,
): { reason: string; detail: string } | null {
  if (r.report.type !== ANSWER_TYPE)
    return { reason: 'unknown-type', detail: `uptime takes only ${ANSWER_TYPE} reports, got ${r.report.type}` };
  const body = answerBodySchema.safeParse(r.report.body);
  if (!body.success) return { reason: 'malformed-body', detail: body.error.issues[0]?.message ?? 'bad body' };
  const key = `${r.report.device}:${body.data.nonce}`;
  const c = challenges.get(key);
  if (!c) {
    return {
      reason: 'unknown-challenge',
      detail: `nonce ${body.data.nonce} was not issued to this device in epoch ${epoch} (a replayed or invented answer)`,
    };
  }
  if (answeredKeys.has(key)) return { reason: 'duplicate-answer', detail: `challenge ${c.nonce} was already answered` };
  if (r.receivedAt > c.deadline) {
    return { reason: 'late', detail: `received ${r.receivedAt - c.deadline} ms after the deadline (${c.deadline})` };
  }
  answeredKeys.add(key);
  return null;
}

/** Random issue times spread over the epoch, each leaving the deadline inside the epoch. */
export function planChallenges(args: { startMs: number; endMs: number; parameters: UptimeParameters; random: () => number }): number[] {
  const { startMs, endMs, parameters } = args;
  const latest = endMs - parameters.deadlineMs - 500;
  if (latest <= startMs) return [startMs];
  const slot = (latest - startMs) / parameters.challengesPerEpoch;
  // One challenge at a random moment in each slot: unpredictable, yet spread over the whole epoch.
  return Array.from({ length: parameters.challengesPerEpoch }, (_, i) => Math.floor(startMs + slot * i + args.random() * slot));
}

export const uptimeNetwork: NetworkPlugin<UptimeParameters> = {
  kind: KIND,
  description: 'availability: answer random signed challenges in time (Render and Storj availability rewards)',
  parameters: {
    schema: parametersSchema,
    defaults: DEFAULT_PARAMETERS,
    references: {
      challengesPerEpoch: 'Storj checks node availability by contacting nodes at random; 3 per 30 s devnet epoch',
      deadlineMs: 'Helium PoC: a witness counts only if reported within 4,000 ms of the beacon',
      usageShareBps: 'Helium: data transfer takes up to 50% of rewards, the unused part flows back to proof',
    },
  },
  reportTypes: { [ANSWER_TYPE]: answerBodySchema },
  verify: verifyUptime,
  usageShareBps: (p) => p.usageShareBps,
  challenger: {
    plan: planChallenges,
    deadlineMs: (p) => p.deadlineMs,
  },
  worker: {
    onChallenge(challenge, ctx) {
      return signReport(
        {
          v: 1,
          ...ctx.domain,
          network: KIND,
          type: ANSWER_TYPE,
          device: ctx.device,
          epoch: challenge.epoch,
          body: { nonce: challenge.nonce },
        },
        ctx.key,
      );
    },
  },
};

export default uptimeNetwork;
