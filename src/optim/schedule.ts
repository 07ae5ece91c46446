// Learning-rate schedules with torch.optim.lr_scheduler's closed forms. Call step() once per epoch
// (or per iteration, if the schedule's lengths are counted in iterations).
import { checkInt, checkNumber } from '../core/check.js';
import type { Optimizer } from './optimizer.js';

export abstract class LRScheduler {
  /** Number of step() calls so far (torch's last_epoch). */
  epoch = 0;
  /** Subclasses call init() at the end of their constructor (their fields exist only then). */
  constructor(protected readonly optimizer: Optimizer) {}
  protected init(): void {
    this.apply();
  }
  /** Factor applied to each group's initial lr at the current epoch (or an absolute lr via lrAt). */
  protected abstract lrAt(initialLr: number, epoch: number): number;
  step(): void {
    this.epoch++;
    this.apply();
  }
  private apply(): void {
    this.optimizer.setLr((_, initial) => this.lrAt(initial, this.epoch));
  }
  /** Current learning rate of each group. */
  getLastLr(): number[] {
    return this.optimizer.groups.map((g) => g.lr);
  }
  stateDict(): { epoch: number } {
    return { epoch: this.epoch };
  }
  loadStateDict(s: { epoch: number }): void {
    this.epoch = checkInt(s.epoch, 'epoch', 0);
    this.apply();
  }
}

/** CosineAnnealingLR: etaMin + (lr0 - etaMin) * (1 + cos(pi * t / tMax)) / 2. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(
    optimizer: Optimizer,
    readonly tMax: number,
    readonly etaMin = 0,
  ) {
    checkInt(tMax, 'tMax', 1);
    super(optimizer);
    this.init();
  }
  protected lrAt(lr0: number, t: number): number {
    return this.etaMin + ((lr0 - this.etaMin) * (1 + Math.cos((Math.PI * t) / this.tMax))) / 2;
  }
}

/** StepLR: lr0 * gamma ^ floor(t / stepSize). */
export class StepLR extends LRScheduler {
  constructor(
    optimizer: Optimizer,
    readonly stepSize: number,
    readonly gamma = 0.1,
  ) {
    checkInt(stepSize, 'stepSize', 1);
    checkNumber(gamma, 'gamma');
    super(optimizer);
    this.init();
  }
  protected lrAt(lr0: number, t: number): number {
    return lr0 * Math.pow(this.gamma, Math.floor(t / this.stepSize));
  }
}

/**
 * Linear warm-up from startFactor * lr0 to lr0 over warmupSteps, then cosine annealing to etaMin
 * over the remaining totalSteps - warmupSteps (constant after totalSteps).
 */
export class WarmupCosineLR extends LRScheduler {
  constructor(
    optimizer: Optimizer,
    readonly warmupSteps: number,
    readonly totalSteps: number,
    readonly etaMin = 0,
    readonly startFactor = 0.01,
  ) {
    checkInt(warmupSteps, 'warmupSteps', 0);
    checkInt(totalSteps, 'totalSteps', 1);
    super(optimizer);
    this.init();
  }
  protected lrAt(lr0: number, t: number): number {
    if (t < this.warmupSteps)
      return lr0 * (this.startFactor + ((1 - this.startFactor) * t) / this.warmupSteps);
    const span = Math.max(1, this.totalSteps - this.warmupSteps);
    const p = Math.min(1, (t - this.warmupSteps) / span);
    return this.etaMin + ((lr0 - this.etaMin) * (1 + Math.cos(Math.PI * p))) / 2;
  }
}
