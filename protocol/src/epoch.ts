// The epoch clock: the same arithmetic as Emissions.currentEpoch on chain, in whole seconds.

export type EpochSchedule = { genesisTime: bigint | number; epochDuration: bigint | number };

export class EpochClock {
  readonly genesisTime: number;
  readonly duration: number;

  constructor(schedule: EpochSchedule) {
    this.genesisTime = Number(schedule.genesisTime);
    this.duration = Number(schedule.epochDuration);
    if (!Number.isSafeInteger(this.genesisTime) || this.genesisTime < 0) throw new RangeError('genesisTime must be a non-negative integer');
    if (!Number.isSafeInteger(this.duration) || this.duration <= 0) throw new RangeError('epochDuration must be a positive integer');
  }

  /** The epoch that contains unix time `seconds` (epoch 0 for times before genesis, as on chain). */
  epochAt(seconds: number): number {
    if (seconds < this.genesisTime) return 0;
    return Math.floor((seconds - this.genesisTime) / this.duration);
  }

  /** First second of `epoch`. */
  start(epoch: number): number {
    return this.genesisTime + epoch * this.duration;
  }

  /** First second after `epoch` (the chain considers it ended once block.timestamp >= end). */
  end(epoch: number): number {
    return this.start(epoch + 1);
  }

  /** The epoch at wall-clock time `ms` (milliseconds). */
  epochAtMs(ms: number): number {
    return this.epochAt(Math.floor(ms / 1000));
  }
}
