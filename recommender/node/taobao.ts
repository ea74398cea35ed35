// `taobao:FILE` — Taobao UserBehavior CSV, no header:
// user_id,item_id,category_id,behavior_type,unix_ts with behavior pv|cart|fav|buy.
import type { BehaviorEvent, ItemMeta } from '../types.ts';
import { BadRowLog } from './badRows.ts';
import { parseEventType, parseId, parseTimestamp } from './fields.ts';
import { assertFile, readLines } from './lines.ts';
import type { OpenedData } from './openedData.ts';

/**
 * Item -> category, filled while the events stream. Items of one category share
 * one frozen ItemMeta object, so millions of items cost only their map entries.
 */
class CategoryMeta {
  readonly items = new Map<string, ItemMeta>();
  private readonly shared = new Map<string, ItemMeta>();

  record(item: string, category: string): void {
    if (this.items.has(item)) return;
    let meta = this.shared.get(category);
    if (!meta) {
      meta = Object.freeze({ category });
      this.shared.set(category, meta);
    }
    this.items.set(item, meta);
  }
}

function parseRow(text: string, meta: CategoryMeta): BehaviorEvent | string {
  const f = text.split(',');
  if (f.length !== 5) return `expected 5 fields, got ${f.length}`;
  const user = parseId(f[0], 'user');
  if (!user.ok) return user.reason;
  const item = parseId(f[1], 'item');
  if (!item.ok) return item.reason;
  const type = parseEventType(f[3]);
  if (!type.ok) return type.reason;
  const ts = parseTimestamp(f[4]);
  if (!ts.ok) return ts.reason;
  const category = f[2].trim();
  if (category) meta.record(item.value, category);
  return { user: user.value, item: item.value, type: type.value, ts: ts.value };
}

async function* readTaobao(path: string, bad: BadRowLog, meta: CategoryMeta): AsyncGenerator<BehaviorEvent> {
  for await (const { no, text } of readLines(path)) {
    if (text.trim() === '') continue;
    const parsed = parseRow(text, meta);
    if (typeof parsed === 'string') bad.add(no, parsed);
    else yield parsed;
  }
}

export function openTaobao(path: string): OpenedData {
  assertFile(path, 'taobao file');
  const bad = new BadRowLog();
  const meta = new CategoryMeta();
  return { events: readTaobao(path, bad, meta), items: meta.items, bad, describe: `Taobao UserBehavior ${path}` };
}
