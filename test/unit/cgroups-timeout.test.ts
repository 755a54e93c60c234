/** The timeout's clock: budgets beyond Node's 24.8-day timer limit still fire, and only once, at the right time. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { killAfter } from '../../services/enforcer/cgroups/index.js';

const DAY = 24 * 3600;

describe('killAfter', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('fires a 30-day budget after 30 days, not when a single 32-bit timer would wrap', async () => {
    let kills = 0;
    const expired = vi.fn();
    const handle = killAfter({ kill: async () => void kills++ }, 30 * DAY, expired);
    await vi.advanceTimersByTimeAsync(25 * DAY * 1000);
    expect(kills).toBe(0);
    expect(handle.expired).toBe(false);
    await vi.advanceTimersByTimeAsync(5 * DAY * 1000 - 1);
    expect(kills).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(kills).toBe(1);
    expect(handle.expired).toBe(true);
    expect(expired).toHaveBeenCalledWith();
    await vi.advanceTimersByTimeAsync(60 * DAY * 1000);
    expect(kills).toBe(1);
  });

  it('hands a failed kill to the callback', async () => {
    const failure = new Error('stuck');
    const expired = vi.fn();
    killAfter({ kill: () => Promise.reject(failure) }, 1, expired);
    await vi.advanceTimersByTimeAsync(1000);
    expect(expired).toHaveBeenCalledWith(failure);
  });
});
