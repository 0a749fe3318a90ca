package io.kvtier.core;

/**
 * A FIFO of 64-bit fingerprints with O(1) membership, removal of any member, and removal of the
 * oldest: the ghost lists of {@link ArcEvictor}.
 *
 * <p><b>Layout.</b> A growable ring of {@code (fingerprint, sequence)} pairs in arrival order, and
 * an open-addressing map (linear probing, backward-shift deletion) from each live fingerprint to
 * the sequence number of its newest ring entry ({@code 0} marks an empty slot; sequences start at
 * 1). Removing a member deletes only its map entry; its ring entry goes stale and is skipped when
 * it reaches the front. The ring is compacted when stale entries outnumber live ones, so memory
 * stays proportional to the live count.
 *
 * <p><b>Concurrency.</b> Not thread-safe: its evictor's single writer.
 */
final class FingerprintFifo {

  private long[] ringFp = new long[16];
  private long[] ringSeq = new long[16];
  private int ringHead;
  private int ringCount;
  private long nextSeq = 1;

  private long[] keys = new long[32];
  private long[] seqs = new long[32];
  private int shift = 64 - 5;
  private int live;

  /** Live members. */
  int size() {
    return live;
  }

  boolean contains(long fp) {
    return find(fp) >= 0;
  }

  /** Appends {@code fp} as the newest member (moving it there if already a member). */
  void add(long fp) {
    if (ringCount == ringFp.length) {
      if (ringCount > 2 * live + 16) {
        compact();
      } else {
        growRing();
      }
    }
    long seq = nextSeq++;
    int at = ringHead + ringCount;
    if (at >= ringFp.length) {
      at -= ringFp.length;
    }
    ringFp[at] = fp;
    ringSeq[at] = seq;
    ringCount++;
    put(fp, seq);
  }

  /** Removes {@code fp} if it is a member; returns whether it was. */
  boolean remove(long fp) {
    int i = find(fp);
    if (i < 0) {
      return false;
    }
    deleteAt(i);
    return true;
  }

  /** Removes the oldest member; returns whether there was one. */
  boolean removeOldest() {
    while (ringCount > 0) {
      long fp = ringFp[ringHead];
      long seq = ringSeq[ringHead];
      ringHead = ringHead + 1 == ringFp.length ? 0 : ringHead + 1;
      ringCount--;
      int i = find(fp);
      if (i >= 0 && seqs[i] == seq) {
        deleteAt(i);
        return true;
      }
    }
    return false;
  }

  private int find(long fp) {
    int mask = keys.length - 1;
    for (int i = index(fp); seqs[i] != 0; i = (i + 1) & mask) {
      if (keys[i] == fp) {
        return i;
      }
    }
    return -1;
  }

  private void put(long fp, long seq) {
    if (2 * (live + 1) > keys.length) {
      growTable();
    }
    int mask = keys.length - 1;
    int i = index(fp);
    while (seqs[i] != 0) {
      if (keys[i] == fp) {
        seqs[i] = seq;
        return;
      }
      i = (i + 1) & mask;
    }
    keys[i] = fp;
    seqs[i] = seq;
    live++;
  }

  /** Knuth's Algorithm R: shift later entries of the probe run back over the hole. */
  private void deleteAt(int hole) {
    int mask = keys.length - 1;
    int j = hole;
    while (true) {
      j = (j + 1) & mask;
      if (seqs[j] == 0) {
        break;
      }
      int home = index(keys[j]);
      boolean stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!stays) {
        keys[hole] = keys[j];
        seqs[hole] = seqs[j];
        hole = j;
      }
    }
    keys[hole] = 0;
    seqs[hole] = 0;
    live--;
  }

  private int index(long fp) {
    return (int) ((fp * 0x9E3779B97F4A7C15L) >>> shift);
  }

  private void growTable() {
    long[] oldKeys = keys;
    long[] oldSeqs = seqs;
    keys = new long[oldKeys.length * 2];
    seqs = new long[oldKeys.length * 2];
    shift--;
    int mask = keys.length - 1;
    for (int k = 0; k < oldKeys.length; k++) {
      if (oldSeqs[k] != 0) {
        int i = index(oldKeys[k]);
        while (seqs[i] != 0) {
          i = (i + 1) & mask;
        }
        keys[i] = oldKeys[k];
        seqs[i] = oldSeqs[k];
      }
    }
  }

  private void growRing() {
    copyRing(ringFp.length * 2, false);
  }

  /** Drops stale ring entries, keeping the live ones in order. */
  private void compact() {
    copyRing(ringFp.length, true);
  }

  private void copyRing(int n, boolean liveOnly) {
    long[] fps = new long[n];
    long[] sq = new long[n];
    int k = 0;
    for (int j = 0; j < ringCount; j++) {
      int from = (ringHead + j) % ringFp.length;
      if (liveOnly) {
        int i = find(ringFp[from]);
        if (i < 0 || seqs[i] != ringSeq[from]) {
          continue;
        }
      }
      fps[k] = ringFp[from];
      sq[k] = ringSeq[from];
      k++;
    }
    ringFp = fps;
    ringSeq = sq;
    ringHead = 0;
    ringCount = k;
  }
}
