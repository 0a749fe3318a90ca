package io.kvtier.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * vLLM's default block hash: SHA-256 over a serialization of (parent hash, token ids, extra keys),
 * here the parent's 32-byte digest followed by the token ids as little-endian 32-bit words (no
 * extra keys). One {@link MessageDigest} is reused; each hash allocates its 32-byte digest and a
 * key object, as the Python original allocates a {@code bytes}. Not thread-safe.
 */
public final class Sha256BlockHash implements VllmStylePrefixCache.BlockHashFunction {

  private static final VarHandle INT_LE =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

  /** A digest as a map key. */
  public record Digest(byte[] bytes) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Digest d && Arrays.equals(bytes, d.bytes);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
      return "Digest" + Arrays.toString(bytes);
    }
  }

  private final MessageDigest sha;
  private final Digest root;
  private byte[] buf = new byte[0];

  public Sha256BlockHash() {
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is not available", e);
    }
    root = new Digest(sha.digest("kvtier-bench/NONE_HASH".getBytes(StandardCharsets.UTF_8)));
  }

  @Override
  public Object root() {
    return root;
  }

  @Override
  public Object hash(Object parent, int[] tokens, int off, int len) {
    byte[] p = ((Digest) parent).bytes;
    int n = p.length + 4 * len;
    if (buf.length < n) {
      buf = new byte[n];
    }
    System.arraycopy(p, 0, buf, 0, p.length);
    for (int i = 0; i < len; i++) {
      INT_LE.set(buf, p.length + 4 * i, tokens[off + i]);
    }
    sha.update(buf, 0, n);
    return new Digest(sha.digest());
  }
}
