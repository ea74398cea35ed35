// Item vocabulary: item id (string) <-> dense index 0..size-1, with optional
// per-item metadata and a dense category code. Browser-safe.
import type { ItemMeta } from './types.ts';

/** Serialised form of a Catalog, saved next to model checkpoints. */
export interface CatalogJSON {
  version: 1;
  ids: string[];
  /** Category names; `categories[i]` indexes into this list (-1 = unknown). */
  categoryNames: string[];
  categories: number[];
  /** Present only when some item has a title / price (null = none). */
  titles?: (string | null)[];
  prices?: (number | null)[];
}

const EMPTY_META: ItemMeta = Object.freeze({});

export class Catalog {
  private readonly index = new Map<string, number>();
  private readonly categoryNames: string[] = [];
  private readonly categoryCodes: Int32Array;

  private constructor(
    private readonly itemIds: readonly string[],
    private readonly metas: readonly (ItemMeta | undefined)[],
  ) {
    this.categoryCodes = new Int32Array(itemIds.length);
    const catIndex = new Map<string, number>();
    itemIds.forEach((id, i) => {
      if (this.index.has(id)) throw new Error(`Catalog: duplicate item id "${id}"`);
      this.index.set(id, i);
      this.categoryCodes[i] = this.internCategory(catIndex, metas[i]?.category);
    });
  }

  private internCategory(catIndex: Map<string, number>, name: string | undefined): number {
    if (name === undefined || name === '') return -1;
    let code = catIndex.get(name);
    if (code === undefined) {
      code = this.categoryNames.length;
      catIndex.set(name, code);
      this.categoryNames.push(name);
    }
    return code;
  }

  /** Items in the given order; `meta` is looked up per id (missing ids get no metadata). */
  static fromIds(ids: Iterable<string>, meta?: Map<string, ItemMeta>): Catalog {
    const list = Array.from(ids);
    return new Catalog(list, list.map((id) => meta?.get(id)));
  }

  static fromJSON(json: CatalogJSON): Catalog {
    if (json?.version !== 1 || !Array.isArray(json.ids) || !Array.isArray(json.categories)) {
      throw new Error('Catalog.fromJSON: not a version-1 catalog');
    }
    const n = json.ids.length;
    for (const [name, arr] of [['categories', json.categories], ['titles', json.titles], ['prices', json.prices]] as const) {
      if (arr !== undefined && arr.length !== n) {
        throw new Error(`Catalog.fromJSON: ${name} has ${arr.length} entries for ${n} ids`);
      }
    }
    const metas = json.ids.map((_, i) => metaFromJSON(json, i));
    return new Catalog(json.ids.slice(), metas);
  }

  get size(): number {
    return this.itemIds.length;
  }

  get numCategories(): number {
    return this.categoryNames.length;
  }

  /** Item ids in index order. */
  get ids(): readonly string[] {
    return this.itemIds;
  }

  /** Index of an item id, or -1 when unknown. */
  indexOf(id: string): number {
    return this.index.get(id) ?? -1;
  }

  idOf(i: number): string {
    this.check(i);
    return this.itemIds[i];
  }

  /** Dense category code 0..numCategories-1, or -1 when the item has no category. */
  categoryIndex(i: number): number {
    this.check(i);
    return this.categoryCodes[i];
  }

  /** Name of a category code (undefined for -1 / out of range). */
  categoryName(code: number): string | undefined {
    return this.categoryNames[code];
  }

  meta(i: number): ItemMeta {
    this.check(i);
    return this.metas[i] ?? EMPTY_META;
  }

  toJSON(): CatalogJSON {
    const json: CatalogJSON = {
      version: 1,
      ids: this.itemIds.slice(),
      categoryNames: this.categoryNames.slice(),
      categories: Array.from(this.categoryCodes),
    };
    if (this.metas.some((m) => m?.title !== undefined)) json.titles = this.metas.map((m) => m?.title ?? null);
    if (this.metas.some((m) => m?.price !== undefined)) json.prices = this.metas.map((m) => m?.price ?? null);
    return json;
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.itemIds.length) {
      throw new RangeError(`Catalog: item index ${i} out of range 0..${this.itemIds.length - 1}`);
    }
  }
}

function metaFromJSON(json: CatalogJSON, i: number): ItemMeta | undefined {
  const meta: ItemMeta = {};
  const code = json.categories[i];
  if (code >= 0) {
    const name = json.categoryNames[code];
    if (name === undefined) throw new Error(`Catalog.fromJSON: category code ${code} out of range`);
    meta.category = name;
  }
  const title = json.titles?.[i];
  if (title !== undefined && title !== null) meta.title = title;
  const price = json.prices?.[i];
  if (price !== undefined && price !== null) meta.price = price;
  return Object.keys(meta).length > 0 ? meta : undefined;
}
