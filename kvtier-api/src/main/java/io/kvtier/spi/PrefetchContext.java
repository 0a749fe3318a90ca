package io.kvtier.spi;

/** What a prefetch policy may ask the cache to do. */
public interface PrefetchContext {

  /**
   * Schedules copying the session's current prefix into the top tier, behind onboarding for waiting
   * requests. Does nothing when it is already there.
   *
   * @param sessionId the session
   */
  void promoteSession(String sessionId);
}
