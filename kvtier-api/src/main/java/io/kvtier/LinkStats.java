package io.kvtier;

/**
 * Page copies over one link of the tier chain, from one tier to another, since the cache was built:
 * demotions on eviction, onboarding into the top tier, write-through.
 *
 * @param from the source tier's name
 * @param to the destination tier's name
 * @param pages pages copied
 * @param bytes bytes copied (pages × page bytes)
 * @param nanos nanoseconds spent copying, measured around the copies on the thread that made them
 *     (a transfer engine worker for onboarding and write-through, the evicting caller for
 *     demotion), including a verifying store's header and checksum work
 */
public record LinkStats(String from, String to, long pages, long bytes, long nanos) {

  /**
   * Checks the names.
   *
   * @throws NullPointerException when a name is null
   */
  public LinkStats {
    java.util.Objects.requireNonNull(from, "from");
    java.util.Objects.requireNonNull(to, "to");
  }

  /**
   * The measured bandwidth of the link.
   *
   * @return bytes per second while copying, or 0 when nothing was copied
   */
  public double bytesPerSecond() {
    return nanos <= 0 ? 0.0 : bytes * 1e9 / nanos;
  }
}
