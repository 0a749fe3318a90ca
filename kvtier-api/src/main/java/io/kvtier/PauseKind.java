package io.kvtier;

/** Why an agent session stopped sending requests. */
public enum PauseKind {
  /** Waiting for a tool call: seconds, with a long tail. */
  TOOL,
  /** Waiting for a person: minutes to hours. */
  HUMAN,
  /** No idea. */
  UNKNOWN
}
