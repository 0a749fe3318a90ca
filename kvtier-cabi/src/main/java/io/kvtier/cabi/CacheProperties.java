package io.kvtier.cabi;

import io.kvtier.DType;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvCacheBuilder;
import io.kvtier.KvLayout;
import io.kvtier.spi.AdmissionPolicy;
import io.kvtier.spi.BranchPolicy;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.PrefetchPolicy;
import io.kvtier.spi.RetentionPolicy;
import java.io.IOException;
import java.io.StringReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * A cache configuration written as a properties string, the form a C or C++ runtime passes to
 * {@code kvtier_cache_create}. Lines are {@code key=value} ({@link Properties} syntax: {@code #}
 * comments, blank lines ignored).
 *
 * <table>
 *   <caption>Keys</caption>
 *   <tr><th>key</th><th>value</th><th>default</th></tr>
 *   <tr><td>{@code layout.layers}, {@code layout.kv_heads}, {@code layout.head_dim}</td>
 *       <td>positive integers</td><td>required unless {@code layout.page_bytes}</td></tr>
 *   <tr><td>{@code layout.dtype}</td><td>{@code fp32 fp16 bf16 fp8_e4m3 fp8_e5m2 int8}</td>
 *       <td>{@code bf16}</td></tr>
 *   <tr><td>{@code layout.tokens_per_block}</td><td>1 to 65536</td><td>16</td></tr>
 *   <tr><td>{@code layout.arrangement}</td><td>{@code contiguous layer_split}</td>
 *       <td>{@code contiguous}</td></tr>
 *   <tr><td>{@code layout.page_bytes}</td><td>bytes per page, instead of the model shape</td>
 *       <td>unset</td></tr>
 *   <tr><td>{@code tiers}</td><td>tier names, fastest first, comma-separated</td>
 *       <td>{@code dram}</td></tr>
 *   <tr><td>{@code tier.NAME.kind}</td><td>{@code dram}</td><td>{@code dram}</td></tr>
 *   <tr><td>{@code tier.NAME.capacity}</td><td>bytes, with an optional {@code k m g t} suffix
 *       (binary)</td><td>required</td></tr>
 *   <tr><td>{@code eviction}</td><td>{@code lru s3fifo priority-lru}</td><td>{@code lru}</td></tr>
 *   <tr><td>{@code admission}</td><td>{@code always}, {@code after-hits:K},
 *       {@code min-priority:P}</td><td>{@code always}</td></tr>
 *   <tr><td>{@code retention}</td><td>{@code tool-call-ttl}, {@code tool-call-ttl:MAX_MS},
 *       {@code none}</td><td>{@code tool-call-ttl}</td></tr>
 *   <tr><td>{@code branches}</td><td>{@code free-now}, {@code keep-all},
 *       {@code cap-per-session:PAGES}</td><td>{@code cap-per-session:64} (the builder's
 *       default)</td></tr>
 *   <tr><td>{@code prefetch}</td><td>{@code none on-resume}</td><td>{@code none}</td></tr>
 *   <tr><td>{@code event_buffer}</td><td>a power of two, at least 16</td><td>65536</td></tr>
 * </table>
 *
 * <p>Every key is checked: an unknown key, a malformed value or an invalid combination fails with
 * an {@link IllegalArgumentException} (or the builder's {@link IllegalStateException}) that names
 * the key and what to write instead.
 *
 * @param layout the parsed layout
 * @param tierNames the tier names in builder order
 * @param builder the configured builder
 */
record CacheProperties(KvLayout layout, List<String> tierNames, KvCacheBuilder builder) {

  private static final Set<String> KEYS =
      Set.of(
          "layout.layers",
          "layout.kv_heads",
          "layout.head_dim",
          "layout.dtype",
          "layout.tokens_per_block",
          "layout.arrangement",
          "layout.page_bytes",
          "tiers",
          "eviction",
          "admission",
          "retention",
          "branches",
          "prefetch",
          "event_buffer");

  /**
   * Parses and validates a configuration.
   *
   * @param text the properties
   * @return the parsed configuration
   * @throws IllegalArgumentException naming the key to fix
   */
  static CacheProperties parse(String text) {
    Properties p = new Properties();
    try {
      p.load(new StringReader(text));
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalArgumentException("configuration is not in properties syntax: " + e, e);
    }
    String tiersValue = p.getProperty("tiers", "dram").trim();
    List<String> tiers = new ArrayList<>();
    for (String t : tiersValue.split(",")) {
      String name = t.trim();
      if (name.isEmpty() || !name.matches("[A-Za-z0-9_-]+")) {
        throw new IllegalArgumentException(
            "tiers must be a comma-separated list of names of letters, digits, '_' and '-', was '"
                + tiersValue
                + "'");
      }
      tiers.add(name);
    }
    Set<String> known = new TreeSet<>(KEYS);
    for (String t : tiers) {
      known.add("tier." + t + ".kind");
      known.add("tier." + t + ".capacity");
    }
    for (String key : p.stringPropertyNames()) {
      if (!known.contains(key)) {
        throw new IllegalArgumentException(
            "unknown configuration key '" + key + "'; known keys: " + String.join(", ", known));
      }
    }

    KvLayout layout = layout(p);
    KvCacheBuilder b = KvCache.builder().layout(layout);
    for (String t : tiers) {
      String kind = p.getProperty("tier." + t + ".kind", "dram").trim().toLowerCase(Locale.ROOT);
      String cap = p.getProperty("tier." + t + ".capacity");
      if (cap == null) {
        throw new IllegalArgumentException(
            "tier." + t + ".capacity is missing: give the tier's size in bytes, e.g. 8g");
      }
      long bytes = bytes("tier." + t + ".capacity", cap);
      if (!kind.equals("dram")) {
        throw new IllegalArgumentException(
            "tier." + t + ".kind '" + kind + "' is not available through the C ABI yet; use dram");
      }
      b.tier(DramTier.offHeap(t, bytes));
    }
    b.eviction(EvictionPolicy.named(p.getProperty("eviction", "lru").trim()));
    b.admission(admission(p.getProperty("admission", "always").trim()));
    b.retention(retention(p.getProperty("retention", "tool-call-ttl").trim()));
    b.branches(
        branches(
            p.getProperty("branches", "cap-per-session:" + BranchPolicy.DEFAULT_CAP_PAGES).trim()));
    b.prefetch(prefetch(p.getProperty("prefetch", "none").trim()));
    b.eventBuffer(
        integer(
            "event_buffer",
            p.getProperty("event_buffer", String.valueOf(KvCacheBuilder.DEFAULT_EVENT_BUFFER))));
    b.config();
    return new CacheProperties(layout, List.copyOf(tiers), b);
  }

  private static KvLayout layout(Properties p) {
    int tpb = integer("layout.tokens_per_block", p.getProperty("layout.tokens_per_block", "16"));
    String pageBytes = p.getProperty("layout.page_bytes");
    KvLayout base;
    if (pageBytes != null) {
      for (String k :
          List.of("layout.layers", "layout.kv_heads", "layout.head_dim", "layout.dtype")) {
        if (p.getProperty(k) != null) {
          throw new IllegalArgumentException(
              "layout.page_bytes and " + k + " are exclusive: give the page size or the shape");
        }
      }
      base = KvLayout.ofPageBytes(tpb, integer("layout.page_bytes", pageBytes));
    } else {
      base =
          KvLayout.of(
              integer("layout.layers", required(p, "layout.layers")),
              integer("layout.kv_heads", required(p, "layout.kv_heads")),
              integer("layout.head_dim", required(p, "layout.head_dim")),
              dtype(p.getProperty("layout.dtype", "bf16")),
              tpb);
    }
    String arr = p.getProperty("layout.arrangement", "contiguous").trim();
    return switch (arr.toLowerCase(Locale.ROOT)) {
      case "contiguous" -> base;
      case "layer_split" -> base.with(KvLayout.Arrangement.LAYER_SPLIT);
      default ->
          throw new IllegalArgumentException(
              "layout.arrangement must be contiguous or layer_split, was '" + arr + "'");
    };
  }

  private static String required(Properties p, String key) {
    String v = p.getProperty(key);
    if (v == null) {
      throw new IllegalArgumentException(
          key
              + " is missing: give layout.layers, layout.kv_heads and layout.head_dim,"
              + " or layout.page_bytes");
    }
    return v;
  }

  private static DType dtype(String v) {
    String s = v.trim().toUpperCase(Locale.ROOT);
    for (DType d : DType.values()) {
      if (d.name().equals(s)) {
        return d;
      }
    }
    throw new IllegalArgumentException(
        "layout.dtype must be one of fp32, fp16, bf16, fp8_e4m3, fp8_e5m2, int8; was '" + v + "'");
  }

  private static AdmissionPolicy admission(String v) {
    if (v.equals("always")) {
      return AdmissionPolicy.always();
    }
    if (v.startsWith("after-hits:")) {
      return AdmissionPolicy.afterHits(integer("admission", v.substring("after-hits:".length())));
    }
    if (v.startsWith("min-priority:")) {
      return AdmissionPolicy.minPriority(
          integer("admission", v.substring("min-priority:".length())));
    }
    throw new IllegalArgumentException(
        "admission must be always, after-hits:K or min-priority:P; was '" + v + "'");
  }

  private static RetentionPolicy retention(String v) {
    if (v.equals("tool-call-ttl")) {
      return RetentionPolicy.toolCallTtl();
    }
    if (v.startsWith("tool-call-ttl:")) {
      long ms = integer("retention", v.substring("tool-call-ttl:".length()));
      return RetentionPolicy.toolCallTtl(Duration.ofMillis(ms));
    }
    if (v.equals("none")) {
      return RetentionPolicy.none();
    }
    throw new IllegalArgumentException(
        "retention must be tool-call-ttl, tool-call-ttl:MAX_MS or none; was '" + v + "'");
  }

  private static BranchPolicy branches(String v) {
    if (v.equals("free-now")) {
      return BranchPolicy.freeNow();
    }
    if (v.equals("keep-all")) {
      return BranchPolicy.keepAll();
    }
    if (v.startsWith("cap-per-session:")) {
      return BranchPolicy.capPerSession(
          integer("branches", v.substring("cap-per-session:".length())));
    }
    throw new IllegalArgumentException(
        "branches must be free-now, keep-all or cap-per-session:PAGES; was '" + v + "'");
  }

  private static PrefetchPolicy prefetch(String v) {
    return switch (v) {
      case "none" -> PrefetchPolicy.none();
      case "on-resume" -> PrefetchPolicy.onResume();
      default ->
          throw new IllegalArgumentException("prefetch must be none or on-resume; was '" + v + "'");
    };
  }

  private static int integer(String key, String v) {
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be an integer, was '" + v + "'", e);
    }
  }

  /** Bytes with an optional binary suffix: {@code 512m}, {@code 8g}, {@code 1t}, {@code 4096}. */
  static long bytes(String key, String v) {
    String s = v.trim().toLowerCase(Locale.ROOT);
    int shift = 0;
    if (!s.isEmpty()) {
      switch (s.charAt(s.length() - 1)) {
        case 'k' -> shift = 10;
        case 'm' -> shift = 20;
        case 'g' -> shift = 30;
        case 't' -> shift = 40;
        default -> {}
      }
    }
    String digits = shift == 0 ? s : s.substring(0, s.length() - 1);
    long n;
    try {
      n = Long.parseLong(digits);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          key + " must be a byte count such as 4096, 512m or 8g; was '" + v + "'", e);
    }
    if (n <= 0 || n > (Long.MAX_VALUE >>> shift)) {
      throw new IllegalArgumentException(key + " must be positive and below 2^63, was '" + v + "'");
    }
    return n << shift;
  }
}
