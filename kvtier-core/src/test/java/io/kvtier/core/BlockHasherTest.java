package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BlockHasherTest {

  private static final String MODEL = "meta-llama/Llama-3.1-8B-Instruct";

  private static long[] murmur(String s, int seed) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    long[] out = new long[2];
    BlockHasher.murmur3(b, 0, b.length, seed & 0xFFFFFFFFL, seed & 0xFFFFFFFFL, out);
    return out;
  }

  private static long[] key(long hi, long lo, int... tokens) {
    long[] out = new long[2];
    BlockHasher.key(hi, lo, tokens, 0, tokens.length, out);
    return out;
  }

  private static long[] root(String model, String adapter, int tokensPerBlock, long salt) {
    long[] out = new long[2];
    BlockHasher.rootKey(model, adapter, tokensPerBlock, salt, out);
    return out;
  }

  private static int[] sampleTokens() {
    int[] t = new int[16];
    for (int i = 0; i < t.length; i++) {
      t[i] = 128000 + i * 7919;
    }
    return t;
  }

  /** Published vectors of MurmurHash3_x64_128 (as used by Guava's and others' test suites). */
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "0|629942693e10f867|92db0b82baeb5347|hell",
        "1|a78ddff5adae8d10|128900ef20900135|hello",
        "2|8a486b23f422e826|f962a2c58947765f|'hello '",
        "3|2ea59f466f6bed8c|c610990acc428a17|hello w",
        "4|79f6305a386c572c|46305aed3483b94e|hello wo",
        "5|c2219d213ec1f1b5|a1d8e2e0a52785bd|hello wor",
        "0|e34bbc7bbc071b6c|7a433ca9c49a9347|The quick brown fox jumps over the lazy dog",
        "0|658ca970ff85269a|43fee3eaa68e5c3e|The quick brown fox jumps over the lazy cog",
        "0|0000000000000000|0000000000000000|''",
        "0|cbd8a7b341bd9b02|5b1e906a48ae1d19|hello",
        "0|887001aea2afcfd6|1ec326364f0801b3|123456789012345",
        "0|4fbe5dc5c0e32cf8|c0c8e96b60c322c1|1234567890123456",
        "0|748617968026b77e|291e6386473f7103|12345678901234567",
      })
  void murmur3_matchesReferenceVectors(int seed, String h1, String h2, String input) {
    long[] out = murmur(input, seed);
    assertThat(out[0]).as("h1").isEqualTo(Long.parseUnsignedLong(h1, 16));
    assertThat(out[1]).as("h2").isEqualTo(Long.parseUnsignedLong(h2, 16));
  }

  @Test
  void key_isMurmur3OfLittleEndianTokensSeededByTheParent() {
    SplittableRandom rnd = new SplittableRandom(42);
    long[] viaInts = new long[2];
    long[] viaBytes = new long[2];
    for (int len = 0; len <= 40; len++) {
      int[] t = rnd.ints(len + 3).toArray();
      long hi = rnd.nextLong();
      long lo = rnd.nextLong();
      ByteBuffer bytes = ByteBuffer.allocate(4 * len).order(ByteOrder.LITTLE_ENDIAN);
      bytes.asIntBuffer().put(t, 2, len);
      BlockHasher.key(hi, lo, t, 2, len, viaInts);
      BlockHasher.murmur3(bytes.array(), 0, 4 * len, hi, lo, viaBytes);
      assertThat(viaInts).as("len %d", len).containsExactly(viaBytes);
    }
  }

  /** Pinned so that an accidental change, which would orphan every stored page, fails a test. */
  @Test
  void keys_matchPinnedGoldenValues() {
    long[] r = root(MODEL, "", 16, 0);
    assertThat(r).containsExactly(0xaa909413b2e0294cL, 0xbb4cc24f0c509517L);
    assertThat(root(MODEL, "sql-lora", 16, 0x5eed_7e4a_47L))
        .containsExactly(0x07fb532ab3e6c12dL, 0xe79eea5ee089618dL);
    long[] k = key(r[0], r[1], sampleTokens());
    assertThat(k).containsExactly(0xee43be02a812fd26L, 0xb3d43d9b046e3611L);
    assertThat(key(k[0], k[1], 1, 2, 3, 4, 5, -1, Integer.MAX_VALUE))
        .containsExactly(0x02b702a6d832cedfL, 0x9e0f878629bb4c8aL);
    assertThat(BlockHasher.tokenHash64(sampleTokens(), 0, 16)).isEqualTo(0xf503b719b5708603L);
    assertThat(BlockHasher.tokenHash64(new int[] {1, 2, 3}, 0, 3)).isEqualTo(0xfb792f8532556dd9L);
  }

  @Test
  void key_changesWithEveryTokenAndTheParent() {
    long[] r = root(MODEL, "", 16, 0);
    int[] t = sampleTokens();
    long[] base = key(r[0], r[1], t);
    Set<String> seen = new HashSet<>();
    seen.add(Arrays.toString(base));
    for (int i = 0; i < t.length; i++) {
      for (int delta : new int[] {1, -1, 1 << 31}) {
        int[] u = t.clone();
        u[i] += delta;
        assertThat(seen.add(Arrays.toString(key(r[0], r[1], u))))
            .as("token %d changed by %d", i, delta)
            .isTrue();
      }
    }
    assertThat(key(r[0] ^ 1, r[1], t)).isNotEqualTo(base);
    assertThat(key(r[0], r[1] ^ (1L << 63), t)).isNotEqualTo(base);
    assertThat(key(r[1], r[0], t)).as("halves swapped").isNotEqualTo(base);
    // Length enters too: a trailing zero token is not the same block.
    assertThat(key(r[0], r[1], Arrays.copyOf(t, 17))).isNotEqualTo(base);
    assertThat(key(r[0], r[1], Arrays.copyOf(t, 15))).isNotEqualTo(base);
  }

  @Test
  void key_readsOnlyItsRange() {
    int[] t = sampleTokens();
    int[] padded = new int[t.length + 10];
    Arrays.fill(padded, -7);
    System.arraycopy(t, 0, padded, 4, t.length);
    long[] a = key(3, 4, t);
    long[] b = new long[2];
    BlockHasher.key(3, 4, padded, 4, t.length, b);
    assertThat(b).containsExactly(a);
    assertThatThrownBy(() -> BlockHasher.key(3, 4, t, 10, 7, b))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void rootKey_changesWithModelAdapterBlockSizeAndSalt() {
    long[] base = root(MODEL, "", 16, 0);
    assertThat(root(MODEL, "", 16, 0)).containsExactly(base);
    assertThat(root(MODEL, null, 16, 0)).as("null adapter is no adapter").containsExactly(base);
    assertThat(root(MODEL + " ", "", 16, 0)).isNotEqualTo(base);
    assertThat(root("meta-llama/Llama-3.1-70B-Instruct", "", 16, 0)).isNotEqualTo(base);
    assertThat(root(MODEL, "a", 16, 0)).isNotEqualTo(base);
    assertThat(root(MODEL, "", 32, 0)).isNotEqualTo(base);
    assertThat(root(MODEL, "", 16, 1)).isNotEqualTo(base);
    assertThat(root(MODEL, "", 16, 1L << 63)).isNotEqualTo(base);
    assertThat(root(MODEL, "", 16, 1)).isNotEqualTo(root(MODEL, "", 16, 2));
    // Length-prefixed fields: moving a boundary between model and adapter changes the key.
    assertThat(root("ab", "c", 16, 0)).isNotEqualTo(root("a", "bc", 16, 0));
    // UTF-8, not a platform charset: a non-ASCII name is hashed by its UTF-8 bytes.
    assertThat(root("modèle", "", 16, 0)).isNotEqualTo(root("mod?le", "", 16, 0));
    assertThatThrownBy(() -> root(MODEL, "", 0, 0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void firstBlockKey_dependsOnTheNamespaceAndSalt() {
    int[] t = sampleTokens();
    long[] a = root(MODEL, "", 16, 0);
    long[] b = root(MODEL, "", 16, 99);
    long[] c = root(MODEL, "lora", 16, 0);
    assertThat(key(a[0], a[1], t)).isNotEqualTo(key(b[0], b[1], t));
    assertThat(key(a[0], a[1], t)).isNotEqualTo(key(c[0], c[1], t));
  }

  @Test
  void tokenHash64_isSensitiveToEveryTokenAndTheLength() {
    int[] t = sampleTokens();
    long base = BlockHasher.tokenHash64(t, 0, t.length);
    Set<Long> seen = new HashSet<>();
    seen.add(base);
    for (int i = 0; i < t.length; i++) {
      int[] u = t.clone();
      u[i] ^= 1;
      assertThat(seen.add(BlockHasher.tokenHash64(u, 0, u.length))).as("token %d", i).isTrue();
    }
    int[] longer = Arrays.copyOf(t, 17);
    assertThat(BlockHasher.tokenHash64(longer, 0, 17)).isNotEqualTo(base);
    assertThat(BlockHasher.tokenHash64(longer, 0, 16)).isEqualTo(base);
    assertThat(BlockHasher.tokenHash64(new int[] {0}, 0, 1))
        .isNotEqualTo(BlockHasher.tokenHash64(new int[0], 0, 0));
  }

  @Test
  void tokenHash64_spreadsSimilarBlocksOverTheLowBits() {
    int buckets = 256;
    int n = 64 * 1024;
    int[] counts = new int[buckets];
    int[] t = new int[16];
    for (int i = 0; i < n; i++) {
      Arrays.fill(t, 0);
      t[15] = i; // blocks that differ only in their last token
      counts[(int) (BlockHasher.tokenHash64(t, 0, 16) & (buckets - 1))]++;
    }
    int expected = n / buckets;
    for (int c : counts) {
      assertThat(c).isBetween(expected / 2, expected * 3 / 2);
    }
  }
}
