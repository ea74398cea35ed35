// The in-memory transport: the RoundEngine's tasks go to a callback instead
// of sockets. Tasks the engine sends in one go (a round's selection) arrive
// as one batch on the next macrotask, so the runner can train the batch's
// virtual clients and hand their updates back in a fixed order.
import type { EngineTransport } from '../coordinator/index.ts';
import type { Task } from '../protocol/index.ts';

export interface TaskFor {
  clientId: string;
  task: Task;
}

export class MemoryTransport implements EngineTransport {
  private batch: TaskFor[] = [];
  private scheduled = false;
  /** Messages other than tasks, by kind (acks, refusals, announcements): counted, not delivered. */
  readonly counts = new Map<string, number>();
  /** Refusals the engine sent, with their reason (a simulation that sees one has a bug). */
  readonly refusals: Array<{ clientId: string; code: string; message: string }> = [];

  constructor(private readonly onTasks: (tasks: TaskFor[]) => void) {}

  send(clientId: string, kind: Parameters<EngineTransport['send']>[1], msg: unknown): boolean {
    if (kind === 'task') {
      this.batch.push({ clientId, task: msg as Task });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          const tasks = this.batch;
          this.batch = [];
          this.scheduled = false;
          this.onTasks(tasks);
        });
      }
      return true;
    }
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    if (kind === 'updateRejected') {
      const m = msg as { code: string; message: string };
      this.refusals.push({ clientId, code: m.code, message: m.message });
    }
    return true;
  }
}
