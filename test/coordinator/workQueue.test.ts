import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../coordinator/server/workQueue.ts';

describe('the adapter work queue', () => {
  it('runs jobs in order, one per macrotask, so I/O callbacks (heartbeats) run between them', async () => {
    const q = new WorkQueue();
    const order: string[] = [];
    q.push(() => {
      order.push('job1');
      // stands in for a heartbeat that became ready while job1 ran
      setImmediate(() => order.push('io'));
    });
    q.push(() => order.push('job2'));
    q.push(() => order.push('job3'));
    await new Promise((r) => setTimeout(r, 20));
    // a synchronous loop would give job1, job2, job3, io
    expect(order).toEqual(['job1', 'io', 'job2', 'job3']);
    expect(q.length).toBe(0);
  });
});
