package io.kvtier.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * Block keys: a 128-bit chained hash of a block's parent key and its token ids, identical across
 * processes, machines and restarts, and a 64-bit in-memory hash of one block's tokens.
 *
 * <p><b>How it works.</b> A key is MurmurHash3 x64_128 (Austin Appleby, public domain; our own
 * implementation) of the block's token ids taken as little-endian 32-bit words, with the two lanes
 * of the hash state seeded from the parent's key ({@code h1 = parentHi}, {@code h2 = parentLo})
 * instead of the reference's one 32-bit seed; the result is {@code (hi, lo) = (h1, h2)}. Over bytes
 * and with {@code h1 = h2 = seed}, {@link #murmur3(byte[], int, int, long, long, long[])} is the
 * reference function bit for bit (tested against its published vectors). The first block's parent
 * is the namespace's {@link #rootKey root key}: the same hash over a fixed little-endian encoding
 * of the model name, the adapter name (UTF-8, length-prefixed), the block size in tokens and the
 * tenant salt, under a fixed seed. So the namespace and the salt enter every key by the chain, and
 * tenants share prefixes only if they share a salt. Nothing depends on {@code String.hashCode}, the
 * JVM or the platform's byte order. Keys are computed once per block, at insert. {@link
 * #tokenHash64} is a cheaper one-lane mix (Murmur3's block step over pairs of tokens, then its
 * 64-bit finalizer) for finding a child in an in-memory hash table; it is deterministic too, but
 * nothing persists it, so it may change between releases.
 *
 * <p><b>Why a collision can never serve wrong KV.</b> Neither hash is trusted to establish
 * identity. The in-memory prefix index confirms every match by comparing the block's exact token
 * ids (the hash only picks a candidate child). Keys name blocks in events and in the lower tiers
 * (NVMe, CXL, remote), and there every page carries a header with its parent key, its token ids and
 * a checksum that is verified on read; a mismatch is a miss, never a hit. MurmurHash3 is not
 * collision resistant against an adversary; an adversary who forges a collision gets a cache miss,
 * and the tenant salt keeps one tenant's prompts out of another's key space.
 *
 * <p><b>Allocation and concurrency.</b> Stateless; {@link #key} and {@link #tokenHash64} allocate
 * nothing (results go to a caller's {@code long[2]}); {@link #rootKey} allocates the encoded
 * namespace once. Thread-safe.
 *
 * <p>References: A. Appleby, SMHasher, {@code MurmurHash3.cpp} ({@code MurmurHash3_x64_128});
 * vLLM's and LMCache's chained prefix block hashes (parent hash, token ids, extra keys).
 */
final class BlockHasher {

  private static final long C1 = 0x87c37b91114253d5L;
  private static final long C2 = 0x4cf5ad432745937fL;

  /**
   * Seed of {@link #rootKey}, encoding version 1: the ASCII bytes of {@code "kvtier/root/v1.."}.
   */
  private static final long ROOT_SEED_HI = 0x6b76746965722f72L;

  private static final long ROOT_SEED_LO = 0x6f6f742f76312e2eL;

  /** Seed of {@link #tokenHash64}: the 64-bit golden ratio. */
  private static final long TOKEN_SEED = 0x9E3779B97F4A7C15L;

  private static final VarHandle LONG_LE =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  private static final VarHandle INT_LE =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

  private BlockHasher() {}

  /**
   * The key of a block.
   *
   * @param parentHi high half of the parent's key (of the root key for a first block)
   * @param parentLo low half of the parent's key
   * @param tokens token ids
   * @param off the block's first token
   * @param len the block's length in tokens
   * @param out receives {@code hi} at index 0 and {@code lo} at index 1
   */
  static void key(long parentHi, long parentLo, int[] tokens, int off, int len, long[] out) {
    Objects.checkFromIndexSize(off, len, tokens.length);
    long h1 = parentHi;
    long h2 = parentLo;
    int end = off + len;
    int i = off;
    for (; i + 4 <= end; i += 4) {
      long k1 = (tokens[i] & 0xFFFFFFFFL) | ((long) tokens[i + 1] << 32);
      long k2 = (tokens[i + 2] & 0xFFFFFFFFL) | ((long) tokens[i + 3] << 32);
      h1 ^= mixK1(k1);
      h1 = Long.rotateLeft(h1, 27) + h2;
      h1 = h1 * 5 + 0x52dce729;
      h2 ^= mixK2(k2);
      h2 = Long.rotateLeft(h2, 31) + h1;
      h2 = h2 * 5 + 0x38495ab5;
    }
    long k1 = 0;
    long k2 = 0;
    switch (end - i) {
      case 3 -> {
        k1 = (tokens[i] & 0xFFFFFFFFL) | ((long) tokens[i + 1] << 32);
        k2 = tokens[i + 2] & 0xFFFFFFFFL;
      }
      case 2 -> k1 = (tokens[i] & 0xFFFFFFFFL) | ((long) tokens[i + 1] << 32);
      case 1 -> k1 = tokens[i] & 0xFFFFFFFFL;
      default -> {}
    }
    // Mixing a zero word is the identity, so an absent tail needs no branch.
    h1 ^= mixK1(k1);
    h2 ^= mixK2(k2);
    finish(h1, h2, 4L * len, out);
  }

  /**
   * The root key of a namespace: the parent key of every first block.
   *
   * @param model the model's name
   * @param adapter the adapter's name ({@code ""} or {@code null} for none)
   * @param tokensPerBlock the block size
   * @param salt the tenant salt ({@code 0} for none)
   * @param out receives {@code hi} at index 0 and {@code lo} at index 1
   */
  static void rootKey(String model, String adapter, int tokensPerBlock, long salt, long[] out) {
    Objects.requireNonNull(model, "model");
    if (tokensPerBlock < 1) {
      throw new IllegalArgumentException("tokensPerBlock must be positive: " + tokensPerBlock);
    }
    byte[] m = model.getBytes(StandardCharsets.UTF_8);
    byte[] a = (adapter == null ? "" : adapter).getBytes(StandardCharsets.UTF_8);
    // [m.length:i32][model][a.length:i32][adapter][tokensPerBlock:i32][salt:i64], little-endian
    byte[] enc = new byte[4 + m.length + 4 + a.length + 4 + 8];
    int p = 0;
    INT_LE.set(enc, p, m.length);
    System.arraycopy(m, 0, enc, p += 4, m.length);
    INT_LE.set(enc, p += m.length, a.length);
    System.arraycopy(a, 0, enc, p += 4, a.length);
    INT_LE.set(enc, p += a.length, tokensPerBlock);
    LONG_LE.set(enc, p + 4, salt);
    murmur3(enc, 0, enc.length, ROOT_SEED_HI, ROOT_SEED_LO, out);
  }

  /**
   * A 64-bit hash of one block's tokens, for finding a child in an in-memory table.
   *
   * @param tokens token ids
   * @param off the block's first token
   * @param len the block's length in tokens
   * @return the hash
   */
  static long tokenHash64(int[] tokens, int off, int len) {
    Objects.checkFromIndexSize(off, len, tokens.length);
    long h = TOKEN_SEED;
    int end = off + len;
    int i = off;
    for (; i + 2 <= end; i += 2) {
      h ^= mixK1((tokens[i] & 0xFFFFFFFFL) | ((long) tokens[i + 1] << 32));
      h = Long.rotateLeft(h, 27) * 5 + 0x52dce729;
    }
    if (i < end) {
      h ^= mixK1(tokens[i] & 0xFFFFFFFFL);
    }
    return fmix64(h ^ len);
  }

  /**
   * MurmurHash3 x64_128 over bytes, with a 128-bit seed; {@code seed1 = seed2 = seed & 0xFFFFFFFFL}
   * is the reference function with its 32-bit {@code seed}.
   *
   * @param out receives {@code h1} at index 0 and {@code h2} at index 1 (the reference's output
   *     bytes are {@code h1} then {@code h2}, each little-endian)
   */
  static void murmur3(byte[] data, int off, int len, long seed1, long seed2, long[] out) {
    Objects.checkFromIndexSize(off, len, data.length);
    long h1 = seed1;
    long h2 = seed2;
    int end = off + len;
    int i = off;
    for (; i + 16 <= end; i += 16) {
      h1 ^= mixK1((long) LONG_LE.get(data, i));
      h1 = Long.rotateLeft(h1, 27) + h2;
      h1 = h1 * 5 + 0x52dce729;
      h2 ^= mixK2((long) LONG_LE.get(data, i + 8));
      h2 = Long.rotateLeft(h2, 31) + h1;
      h2 = h2 * 5 + 0x38495ab5;
    }
    long k1 = 0;
    long k2 = 0;
    int tail = end - i;
    for (int t = tail - 1; t >= 8; t--) {
      k2 = (k2 << 8) | (data[i + t] & 0xFFL);
    }
    for (int t = Math.min(tail, 8) - 1; t >= 0; t--) {
      k1 = (k1 << 8) | (data[i + t] & 0xFFL);
    }
    h1 ^= mixK1(k1);
    h2 ^= mixK2(k2);
    finish(h1, h2, len, out);
  }

  private static long mixK1(long k) {
    return Long.rotateLeft(k * C1, 31) * C2;
  }

  private static long mixK2(long k) {
    return Long.rotateLeft(k * C2, 33) * C1;
  }

  private static void finish(long h1, long h2, long lengthBytes, long[] out) {
    h1 ^= lengthBytes;
    h2 ^= lengthBytes;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    out[0] = h1;
    out[1] = h2;
  }

  private static long fmix64(long k) {
    k ^= k >>> 33;
    k *= 0xff51afd7ed558ccdL;
    k ^= k >>> 33;
    k *= 0xc4ceb9fe1a85ec53L;
    k ^= k >>> 33;
    return k;
  }
}
