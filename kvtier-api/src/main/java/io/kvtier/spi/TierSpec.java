package io.kvtier.spi;

/**
 * A tier as the builder sees it: what it is, how large, and how to open its page store once the
 * page size is known.
 */
public interface TierSpec {

  /**
   * The tier's name in stats, events and error messages; unique within a cache.
   *
   * @return the name
   */
  String name();

  /**
   * What kind of memory it is.
   *
   * @return the kind
   */
  TierKind kind();

  /**
   * Bytes of page memory.
   *
   * @return capacity in bytes
   */
  long capacityBytes();

  /**
   * Opens the store. Called once by the cache's build; the cache closes the store.
   *
   * @param pageBytes bytes per page, from the layout
   * @return the open store, holding {@code capacityBytes / pageBytes} pages
   */
  PageStore open(int pageBytes);
}
