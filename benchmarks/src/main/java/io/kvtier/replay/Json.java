package io.kvtier.replay;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, strict JSON parser for trace files, so that the replay needs no JSON dependency.
 *
 * <p>Objects become {@link LinkedHashMap}s, strings {@link String}s, {@code true}/{@code false}
 * {@link Boolean}s, {@code null} {@code null}, integers {@link Long}s and other numbers {@link
 * Double}s. An array whose elements are all integers becomes a {@code long[]} (trace files are
 * mostly long arrays of block hash ids, and boxing them would cost ten times the memory); any other
 * array becomes a {@link List}. Errors throw {@link TraceFormatException} with the line and column.
 *
 * <p>Not thread-safe; one instance parses one text.
 */
final class Json {

  private final CharSequence s;
  private final int end;
  private int pos;
  private int line = 1;
  private int lineStart;
  private final int firstLine;
  private final String source;

  private Json(CharSequence text, String source, int firstLine) {
    this.s = text;
    this.end = text.length();
    this.source = source;
    this.firstLine = firstLine;
  }

  /**
   * Parses one JSON value that makes up all of {@code text}.
   *
   * @param text the text
   * @param source the file name, for errors
   * @param firstLine the line number of the text's first line in that file, for errors
   * @return the value
   * @throws TraceFormatException naming the file, line and column of the first error
   */
  static Object parse(CharSequence text, String source, int firstLine) {
    Json p = new Json(text, source, firstLine);
    p.skipWs();
    Object v = p.value();
    p.skipWs();
    if (p.pos != p.end) {
      throw p.error("unexpected '" + p.s.charAt(p.pos) + "' after the value");
    }
    return v;
  }

  private TraceFormatException error(String what) {
    int col = pos - lineStart + 1;
    return new TraceFormatException(source, firstLine + line - 1, what + " (column " + col + ")");
  }

  private void skipWs() {
    while (pos < end) {
      char c = s.charAt(pos);
      if (c == '\n') {
        line++;
        lineStart = pos + 1;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        return;
      }
      pos++;
    }
  }

  private Object value() {
    if (pos >= end) {
      throw error("unexpected end of input (truncated?)");
    }
    char c = s.charAt(pos);
    return switch (c) {
      case '{' -> object();
      case '[' -> array();
      case '"' -> string();
      case 't' -> literal("true", Boolean.TRUE);
      case 'f' -> literal("false", Boolean.FALSE);
      case 'n' -> literal("null", null);
      default -> {
        if (c == '-' || (c >= '0' && c <= '9')) {
          yield number();
        }
        throw error("unexpected '" + c + "'");
      }
    };
  }

  private Object literal(String word, Object v) {
    if (pos + word.length() > end || !word.contentEquals(s.subSequence(pos, pos + word.length()))) {
      throw error("expected " + word);
    }
    pos += word.length();
    return v;
  }

  private Map<String, Object> object() {
    pos++;
    Map<String, Object> m = new LinkedHashMap<>();
    skipWs();
    if (pos < end && s.charAt(pos) == '}') {
      pos++;
      return m;
    }
    while (true) {
      skipWs();
      if (pos >= end || s.charAt(pos) != '"') {
        throw error(pos >= end ? "unexpected end of input in an object" : "expected a key");
      }
      String k = string();
      skipWs();
      expect(':');
      skipWs();
      m.put(k, value());
      skipWs();
      if (pos >= end) {
        throw error("unexpected end of input in an object (truncated?)");
      }
      char c = s.charAt(pos++);
      if (c == '}') {
        return m;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or '}'");
      }
    }
  }

  private Object array() {
    pos++;
    skipWs();
    if (pos < end && s.charAt(pos) == ']') {
      pos++;
      return new long[0];
    }
    long[] ints = new long[16];
    int n = 0;
    List<Object> list = null;
    while (true) {
      skipWs();
      Object v = value();
      if (list == null && v instanceof Long l) {
        if (n == ints.length) {
          ints = Arrays.copyOf(ints, n * 2);
        }
        ints[n++] = l;
      } else {
        if (list == null) {
          list = new ArrayList<>(n + 4);
          for (int i = 0; i < n; i++) {
            list.add(ints[i]);
          }
        }
        list.add(v);
      }
      skipWs();
      if (pos >= end) {
        throw error("unexpected end of input in an array (truncated?)");
      }
      char c = s.charAt(pos++);
      if (c == ']') {
        return list != null ? list : Arrays.copyOf(ints, n);
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or ']'");
      }
    }
  }

  private void expect(char c) {
    if (pos >= end || s.charAt(pos) != c) {
      throw error("expected '" + c + "'");
    }
    pos++;
  }

  private String string() {
    pos++;
    StringBuilder b = null;
    int start = pos;
    while (true) {
      if (pos >= end) {
        throw error("unterminated string (truncated?)");
      }
      char c = s.charAt(pos);
      if (c == '"') {
        String r =
            b == null ? s.subSequence(start, pos).toString() : b.append(s, start, pos).toString();
        pos++;
        return r;
      }
      if (c == '\n') {
        throw error("newline inside a string");
      }
      if (c == '\\') {
        if (b == null) {
          b = new StringBuilder();
        }
        b.append(s, start, pos);
        pos++;
        if (pos >= end) {
          throw error("unterminated escape");
        }
        char e = s.charAt(pos++);
        switch (e) {
          case '"', '\\', '/' -> b.append(e);
          case 'b' -> b.append('\b');
          case 'f' -> b.append('\f');
          case 'n' -> b.append('\n');
          case 'r' -> b.append('\r');
          case 't' -> b.append('\t');
          case 'u' -> {
            if (pos + 4 > end) {
              throw error("truncated \\u escape");
            }
            try {
              b.append((char) Integer.parseInt(s.subSequence(pos, pos + 4).toString(), 16));
            } catch (NumberFormatException ex) {
              throw error("bad \\u escape");
            }
            pos += 4;
          }
          default -> {
            pos--;
            throw error("bad escape '\\" + e + "'");
          }
        }
        start = pos;
      } else {
        pos++;
      }
    }
  }

  private Object number() {
    int start = pos;
    boolean neg = s.charAt(pos) == '-';
    if (neg) {
      pos++;
    }
    long v = 0;
    int digits = 0;
    boolean overflow = false;
    while (pos < end) {
      char c = s.charAt(pos);
      if (c < '0' || c > '9') {
        break;
      }
      if (v > (Long.MAX_VALUE - (c - '0')) / 10) {
        overflow = true;
      }
      v = v * 10 + (c - '0');
      digits++;
      pos++;
    }
    if (digits == 0) {
      throw error("expected a digit");
    }
    boolean fraction = false;
    if (pos < end && s.charAt(pos) == '.') {
      fraction = true;
      pos++;
      int fd = 0;
      while (pos < end && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
        pos++;
        fd++;
      }
      if (fd == 0) {
        throw error("expected a digit after '.'");
      }
    }
    if (pos < end && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
      fraction = true;
      pos++;
      if (pos < end && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) {
        pos++;
      }
      int ed = 0;
      while (pos < end && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
        pos++;
        ed++;
      }
      if (ed == 0) {
        throw error("expected a digit in the exponent");
      }
    }
    if (fraction || overflow) {
      return Double.parseDouble(s.subSequence(start, pos).toString());
    }
    return neg ? -v : v;
  }
}
