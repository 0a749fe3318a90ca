package io.kvtier.replay;

/** A trace file that cannot be read: names the file and the line of the first problem. */
public final class TraceFormatException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** The file. */
  private final String file;

  /** The 1-based line, or 0 when the problem is not on one line. */
  private final int line;

  /**
   * An error at a line of a file.
   *
   * @param file the file name
   * @param line the 1-based line, 0 for the whole file
   * @param message what is wrong
   */
  public TraceFormatException(String file, int line, String message) {
    super(file + (line > 0 ? ":" + line : "") + ": " + message);
    this.file = file;
    this.line = line;
  }

  /**
   * The file name.
   *
   * @return the file
   */
  public String file() {
    return file;
  }

  /**
   * The line.
   *
   * @return the 1-based line, 0 when the problem is not on one line
   */
  public int line() {
    return line;
  }
}
