import { describe, expect, it } from 'vitest';
import { Collection } from '../../tools/stripe-emulator/collection';

interface Item {
  id: string;
  owner: string | null;
  n: number;
}

/** What the lists answered before the indexes: filter everything, newest first, cursor by id. */
function reference(
  items: Item[],
  params: { limit?: number; starting_after?: string; ending_before?: string },
) {
  let ordered = [...items].reverse();
  const limit = params.limit ?? 10;
  if (params.starting_after) {
    const i = ordered.findIndex((x) => x.id === params.starting_after);
    ordered = i === -1 ? [] : ordered.slice(i + 1);
  } else if (params.ending_before) {
    const i = ordered.findIndex((x) => x.id === params.ending_before);
    ordered = i === -1 ? [] : ordered.slice(Math.max(0, i - limit), i);
    return { data: ordered.map((x) => x.id), has_more: i - limit > 0 };
  }
  return { data: ordered.slice(0, limit).map((x) => x.id), has_more: ordered.length > limit };
}

describe('Collection lists (indexed, newest first)', () => {
  it('answer as a filter over every object would, with in-place changes of the indexed field', async () => {
    const c = new Collection<Item>('items', { owner: (x) => x.owner });
    let seed = 7;
    const random = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const owners = ['a', 'b', 'c', null];
    for (let i = 0; i < 300; i++) {
      const id = `it_${i}`;
      c.set(id, { id, owner: owners[random(4)] as string | null, n: i });
      if (i % 3 === 0) {
        // changed in place after a get, as the resources do (a card detached and attached elsewhere)
        const other = c.get(`it_${random(i + 1)}`);
        if (other) other.owner = owners[random(4)] as string | null;
      }
      if (i % 50 === 49) c.delete(`it_${random(i)}`);
      if (i % 10 === 9) await Promise.resolve(); // the indexes catch up between requests
    }
    await Promise.resolve();
    const all = [...c.values()];
    for (const owner of ['a', 'b', 'c']) {
      const mine = all.filter((x) => x.owner === owner);
      const cursors = [undefined, mine[0]?.id, mine[5]?.id, mine.at(-1)?.id, 'it_missing', all[1]?.id];
      for (const limit of [1, 3, 10, 100]) {
        for (const cursor of cursors) {
          for (const key of ['starting_after', 'ending_before'] as const) {
            const params = { limit, ...(cursor ? { [key]: cursor } : {}) };
            const got = c.list(params, '/x', { index: ['owner', owner] });
            expect({ data: got.data.map((x) => x.id), has_more: got.has_more }).toEqual(
              reference(mine, params),
            );
          }
        }
      }
    }
    const withOwner = all.filter((x) => x.owner !== null);
    const got = c.list({ limit: 20, starting_after: withOwner[30]?.id }, '/x', {
      where: (x) => x.owner !== null,
    });
    expect(got.data.map((x) => x.id)).toEqual(
      reference(withOwner, { limit: 20, starting_after: withOwner[30]?.id }).data,
    );
    expect(c.first('owner', 'a')?.id).toBe(all.find((x) => x.owner === 'a')?.id);
  });
});
