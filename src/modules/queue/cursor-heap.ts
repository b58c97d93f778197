/**
 * A binary min-heap of open cursors, ordered by the creation order (`seq`)
 * of the row each stands on: the queue action's k-way merge of per-source
 * index cursors.
 */

/** An open cursor and the row it stands on. */
export interface Cursor<Row extends { seq: number }> {
  rows: IterableIterator<Row>
  head: Row
}

export class CursorHeap<Row extends { seq: number }> {
  private readonly items: Cursor<Row>[] = []

  peek(): Cursor<Row> | undefined {
    return this.items[0]
  }

  push(cursor: Cursor<Row>): void {
    const items = this.items
    items.push(cursor)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent]!.head.seq <= cursor.head.seq) break
      items[i] = items[parent]!
      i = parent
    }
    items[i] = cursor
  }

  pop(): void {
    const last = this.items.pop()
    if (last && this.items.length > 0) {
      this.items[0] = last
      this.headChanged()
    }
  }

  /** Restores the order after the top cursor moved to a later row. */
  headChanged(): void {
    const items = this.items
    const top = items[0]
    if (!top) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= items.length) break
      const right = left + 1
      const child = right < items.length && items[right]!.head.seq < items[left]!.head.seq ? right : left
      if (items[child]!.head.seq >= top.head.seq) break
      items[i] = items[child]!
      i = child
    }
    items[i] = top
  }
}
