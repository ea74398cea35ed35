// `sequences:FILE` — one line per user, whitespace-separated item ids in time order.
// User id = line number (as a string), ts = position in the line, type = view.
import type { BehaviorEvent } from '../types.ts';
import { BadRowLog } from './badRows.ts';
import { assertFile, readLines } from './lines.ts';
import type { OpenedData } from './openedData.ts';

async function* readSequences(path: string): AsyncGenerator<BehaviorEvent> {
  for await (const { no, text } of readLines(path)) {
    const items = text.trim();
    if (items === '') continue;
    const user = String(no);
    let ts = 0;
    for (const item of items.split(/\s+/)) yield { user, item, type: 'view', ts: ts++ };
  }
}

export function openSequencesFile(path: string): OpenedData {
  assertFile(path, 'sequences file');
  return { events: readSequences(path), items: new Map(), bad: new BadRowLog(), describe: `sequences file ${path}` };
}
